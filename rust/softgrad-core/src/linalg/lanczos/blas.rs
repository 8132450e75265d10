//! The vector kernels of the Krylov methods: dot products, updates and block Gram–Schmidt.
//!
//! Reductions run in the fixed [`REDUCE_PIECE`] pieces of [`Par::fold_pieces`], each summed with
//! four accumulators and combined left to right, so 1, 2 or 3 threads give the same bits;
//! element-wise updates are identical by construction.

use crate::linalg::LinOp;
use crate::par::{Rows, REDUCE_PIECE};
use crate::{Error, Par, Result};

/// `Σ x_i y_i` of one piece, with four accumulators (so it vectorises).
fn dot_piece(x: &[f64], y: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let (xc, yc) = (x.chunks_exact(4), y.chunks_exact(4));
    let (xr, yr) = (xc.remainder(), yc.remainder());
    for (a, b) in xc.zip(yc) {
        for l in 0..4 {
            acc[l] += a[l] * b[l];
        }
    }
    let tail: f64 = xr.iter().zip(yr).map(|(a, b)| a * b).sum();
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// `xᵀy` (same length), deterministic whatever the thread count.
pub fn dot(func: &'static str, x: &[f64], y: &[f64], par: Par) -> Result<f64> {
    par.fold_pieces(
        func,
        x.len(),
        |r| dot_piece(&x[r.clone()], &y[r]),
        |a, b| a + b,
        0.0,
    )
}

/// `‖x‖₂`.
pub fn norm(func: &'static str, x: &[f64], par: Par) -> Result<f64> {
    Ok(dot(func, x, x, par)?.sqrt())
}

/// `y ← a x + b y` (element-wise, so the thread count cannot change the bits).
pub fn axpby(func: &'static str, a: f64, x: &[f64], b: f64, y: &mut [f64], par: Par) -> Result<()> {
    let n = y.len();
    par.map_chunks(
        func,
        n,
        REDUCE_PIECE,
        (Rows::of(x, 1), Rows::of_mut(y, 1)),
        |_, (x, y)| {
            for (yi, xi) in y.iter_mut().zip(x) {
                *yi = a * xi + b * *yi;
            }
        },
    )?;
    Ok(())
}

/// `y = A x`, checking that the operator kept to its dimension and returned finite values.
pub fn apply(
    func: &'static str,
    name: &'static str,
    op: &dyn LinOp,
    x: &[f64],
    y: &mut [f64],
    par: Par,
) -> Result<()> {
    op.apply(x, y, par)?;
    if y.iter().any(|v| !v.is_finite()) {
        return Err(Error::NonFinite { func, name });
    }
    Ok(())
}

/// `h = Bᵀ w` for the `rows` vectors of `b` (row-major, `rows × n`): one pass over `w`, the
/// pieces' partial sums combined left to right.
pub fn project(
    func: &'static str,
    b: &[f64],
    rows: usize,
    w: &[f64],
    par: Par,
) -> Result<Vec<f64>> {
    let n = w.len();
    if rows == 0 {
        return Ok(Vec::new());
    }
    par.for_work(n.saturating_mul(rows)).fold_pieces(
        func,
        n,
        |r| {
            (0..rows)
                .map(|j| dot_piece(&b[j * n + r.start..j * n + r.end], &w[r.clone()]))
                .collect::<Vec<f64>>()
        },
        |mut a: Vec<f64>, p| {
            if a.is_empty() {
                return p;
            }
            a.iter_mut().zip(p).for_each(|(x, y)| *x += y);
            a
        },
        Vec::new(),
    )
}

/// `w ← w − B h` for the `h.len()` vectors of `b` (row-major).
pub fn subtract(func: &'static str, b: &[f64], h: &[f64], w: &mut [f64], par: Par) -> Result<()> {
    let n = w.len();
    par.for_work(n.saturating_mul(h.len())).map_chunks(
        func,
        n,
        REDUCE_PIECE,
        Rows::of_mut(w, 1),
        |r, w| {
            for (j, hj) in h.iter().enumerate() {
                let v = &b[j * n + r.start..j * n + r.end];
                for (wi, vi) in w.iter_mut().zip(v) {
                    *wi -= hj * vi;
                }
            }
        },
    )?;
    Ok(())
}

/// Orthogonalises `w` against the orthonormal rows of `b` by classical Gram–Schmidt applied
/// twice ("twice is enough", Giraud et al. 2005): returns the total coefficients `Bᵀw`.
/// Classical rather than modified Gram–Schmidt: each pass is one sweep of `B` with independent
/// dot products, which the pieces spread over the threads.
pub fn orthogonalise(
    func: &'static str,
    b: &[f64],
    rows: usize,
    w: &mut [f64],
    par: Par,
) -> Result<Vec<f64>> {
    let mut h = project(func, b, rows, w, par)?;
    subtract(func, b, &h, w, par)?;
    let h2 = project(func, b, rows, w, par)?;
    subtract(func, b, &h2, w, par)?;
    h.iter_mut().zip(&h2).for_each(|(a, c)| *a += c);
    Ok(h)
}
