//! The vector kernels of the Krylov loops: dot products and fused updates, in fixed pieces of
//! [`REDUCE_PIECE`](crate::par::REDUCE_PIECE) values so results do not depend on the thread count.

use crate::error::{Error, Result};
use crate::linalg::packed::Unscale;
use crate::par::{Par, Rows};
use crate::simd;

/// `Σ a_i b_i` with four accumulators combined in a fixed order (auto-vectorises; inlined whole so
/// that a dispatched caller vectorises it at its level).
#[inline(always)]
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

/// The operands of one conjugate-gradient step, `x += α p` and `r -= α q`.
#[derive(Debug)]
pub struct Step<'a> {
    /// The step length `α`.
    pub alpha: f64,
    /// The search direction.
    pub p: &'a [f64],
    /// `A p`.
    pub q: &'a [f64],
    /// The iterate, updated.
    pub x: &'a mut [f64],
    /// The residual, updated.
    pub r: &'a mut [f64],
}

/// The conjugate-gradient update of `step` and, with `d` (a diagonal preconditioner),
/// `z = d ⊙ r`; returns `(rᵀr, rᵀz)` (`rᵀz = rᵀr` without `d`). One pass.
pub fn cg_update(
    func: &'static str,
    step: Step<'_>,
    d: Option<(&[f64], &mut [f64])>,
    par: Par,
) -> Result<(f64, f64)> {
    update(func, step, d, None, par)
}

/// The update of `step` in conjugate gradients on the scaled system `Â x̂ = b̂` of
/// [`Packed`](crate::linalg::packed::Packed); returns `(rᵀr, ‖S⁻¹ r‖²)`, the second (the residual
/// of the unscaled system) summed here only for `Unscale::Each` (else `c² rᵀr`). One pass.
pub fn cg_update_scaled(
    func: &'static str,
    step: Step<'_>,
    unscale: &Unscale,
    par: Par,
) -> Result<(f64, f64)> {
    let u = match unscale {
        Unscale::Const(_) => None,
        Unscale::Each(u) => Some(u.as_slice()),
    };
    let (rr, ru) = update(func, step, None, u, par)?;
    Ok(match unscale {
        Unscale::Const(c) => (rr, c * c * rr),
        Unscale::Each(_) => (rr, ru),
    })
}

/// `x += α p`, `r -= α q`, then per piece `rᵀr` and one of: `z = d ⊙ r` with `rᵀz`, `Σ (u r)²`,
/// or `rᵀr` again.
fn update(
    func: &'static str,
    step: Step<'_>,
    d: Option<(&[f64], &mut [f64])>,
    u: Option<&[f64]>,
    par: Par,
) -> Result<(f64, f64)> {
    let Step { alpha, p, q, x, r } = step;
    let n = x.len();
    let level = simd::level();
    let (dd, z) = match d {
        Some((dd, z)) => (Some(dd), Some(Rows::of_mut(z, 1))),
        None => (None, None),
    };
    par.fold_chunks(
        func,
        n,
        (Rows::of_mut(x, 1), Rows::of_mut(r, 1), z),
        |rg, (x, r, z)| {
            simd::dispatch(level, || {
                let (p, q) = (&p[rg.clone()], &q[rg.clone()]);
                for ((xi, pi), (ri, qi)) in x.iter_mut().zip(p).zip(r.iter_mut().zip(q)) {
                    *xi += alpha * pi;
                    *ri -= alpha * qi;
                }
                let rr = dot_range(r, r);
                match (dd, z, u) {
                    (Some(dd), Some(z), _) => {
                        for ((zi, ri), di) in z.iter_mut().zip(r.iter()).zip(&dd[rg]) {
                            *zi = di * ri;
                        }
                        (rr, dot_range(r, z))
                    }
                    (_, _, Some(u)) => (rr, weighted_sq(r, &u[rg])),
                    _ => (rr, rr),
                }
            })
        },
        |a, b| (a.0 + b.0, a.1 + b.1),
        (0.0, 0.0),
    )
}

/// `Σ (u_i r_i)²` with four accumulators combined in a fixed order.
#[inline(always)]
pub fn weighted_sq(r: &[f64], u: &[f64]) -> f64 {
    let mut s = [0.0; 4];
    let (rc, uc) = (r.chunks_exact(4), u.chunks_exact(4));
    let (rt, ut) = (rc.remainder(), uc.remainder());
    for (x, y) in rc.zip(uc) {
        for k in 0..4 {
            let t = x[k] * y[k];
            s[k] += t * t;
        }
    }
    let mut t = (s[0] + s[2]) + (s[1] + s[3]);
    for (x, y) in rt.iter().zip(ut) {
        let v = x * y;
        t += v * v;
    }
    t
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
