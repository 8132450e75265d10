//! The vector kernels of the Krylov loops: dot products and fused updates, in fixed pieces of
//! [`REDUCE_PIECE`](crate::par::REDUCE_PIECE) values so results do not depend on the thread count.

use crate::error::{Error, Result};
use crate::par::{Par, Rows};

/// `Σ a_i b_i` with four accumulators combined in a fixed order (auto-vectorises).
#[inline]
pub fn dot_range(a: &[f64], b: &[f64]) -> f64 {
    let mut s = [0.0; 4];
    let (ac, bc) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ar, br) = (ac.remainder(), bc.remainder());
    for (x, y) in ac.zip(bc) {
        for k in 0..4 {
            s[k] += x[k] * y[k];
        }
    }
    let mut t = (s[0] + s[2]) + (s[1] + s[3]);
    for (x, y) in ar.iter().zip(br) {
        t += x * y;
    }
    t
}

/// `aᵀ b`, deterministic for any thread count.
pub fn dot(func: &'static str, a: &[f64], b: &[f64], par: Par) -> Result<f64> {
    Error::check_len(func, "b", b.len(), a.len())?;
    par.fold_pieces(
        func,
        a.len(),
        |r| dot_range(&a[r.clone()], &b[r]),
        |x, y| x + y,
        0.0,
    )
}

/// The conjugate-gradient update `x += α p`, `r -= α q`, and, with `d` (a diagonal
/// preconditioner), `z = d ⊙ r`; returns `(rᵀr, rᵀz)` (`rᵀz = rᵀr` without `d`). One pass.
#[allow(clippy::too_many_arguments)]
pub fn cg_update(
    func: &'static str,
    alpha: f64,
    p: &[f64],
    q: &[f64],
    x: &mut [f64],
    r: &mut [f64],
    d: Option<(&[f64], &mut [f64])>,
    par: Par,
) -> Result<(f64, f64)> {
    let n = x.len();
    let (dd, z) = match d {
        Some((dd, z)) => (Some(dd), Some(Rows::of_mut(z, 1))),
        None => (None, None),
    };
    par.fold_chunks(
        func,
        n,
        (Rows::of_mut(x, 1), Rows::of_mut(r, 1), z),
        |rg, (x, r, z)| {
            let (p, q) = (&p[rg.clone()], &q[rg.clone()]);
            for ((xi, pi), (ri, qi)) in x.iter_mut().zip(p).zip(r.iter_mut().zip(q)) {
                *xi += alpha * pi;
                *ri -= alpha * qi;
            }
            let rr = dot_range(r, r);
            match (dd, z) {
                (Some(dd), Some(z)) => {
                    for ((zi, ri), di) in z.iter_mut().zip(r.iter()).zip(&dd[rg]) {
                        *zi = di * ri;
                    }
                    (rr, dot_range(r, z))
                }
                _ => (rr, rr),
            }
        },
        |a, b| (a.0 + b.0, a.1 + b.1),
        (0.0, 0.0),
    )
}

/// `p = z + β p`.
pub fn xpby(func: &'static str, z: &[f64], beta: f64, p: &mut [f64], par: Par) -> Result<()> {
    par.map_chunks(
        func,
        p.len(),
        crate::par::REDUCE_PIECE,
        Rows::of_mut(p, 1),
        |rg, p| {
            for (pi, zi) in p.iter_mut().zip(&z[rg]) {
                *pi = zi + beta * *pi;
            }
        },
    )
    .map(|_| ())
}
