//! The loop of conjugate gradients, on `A` or on a symmetrically scaled system.
//!
//! **Scaled.** With a positive diagonal `S`, CG on `Â x̂ = S b` (`Â = S A S`, `x = S x̂`)
//! preconditioned by `M̂ = S M S` has the iterates of CG on `A` preconditioned by `M` in exact
//! arithmetic (`r̂ = S r`, `ẑ = S⁻¹ z`, so `r̂ᵀẑ = rᵀz` and `p̂ᵀÂp̂ = pᵀAp`). Jacobi with
//! `S = diag(A)^{-1/2}` makes `M̂ = I` (three passes over five vectors an iteration, no `z` or
//! diagonal stream); IC(0) and SSOR make `M̂` a product of unit triangular factors
//! (`linalg/tri/unit.rs`). The residual reported and tested against the tolerance is that of the
//! unscaled system, `‖S⁻¹ r̂‖`, and `x` is unscaled on every exit.

use super::{positive, CgReport, CgStatus, MatDot, Pre, Run, F};
use crate::error::Result;
use crate::interrupt;
use crate::linalg::packed::{Packed, Unscale};
use crate::linalg::vec::{cg_update, cg_update_scaled, dot, weighted_sq, xpby, Step};
use crate::par::{scratch, Par};

/// The scaled system's `S` and `S⁻¹`.
#[derive(Clone, Copy)]
pub(super) struct Scaling<'a> {
    s: &'a [f64],
    unscale: &'a Unscale,
}

/// CG on the packed `Â = S A S` preconditioned by `m` (`None` or `Op(M̂⁻¹)`); `rep` comes with
/// `tol` set.
pub(super) fn scaled(a: &Packed, m: Pre<'_>, run: Run<'_, '_>, rep: &mut CgReport) -> Result<()> {
    let s = a.scale();
    let Run {
        b,
        x,
        opts,
        callback,
        par,
    } = run;
    if opts.x0 {
        for (xi, si) in x.iter_mut().zip(s) {
            *xi /= si;
        }
    }
    let sc = Scaling {
        s,
        unscale: a.unscale(),
    };
    let run = Run {
        b,
        x: &mut *x,
        opts,
        callback,
        par,
    };
    let out = iterate(a, m, Some(sc), run, rep);
    for (xi, si) in x.iter_mut().zip(s) {
        *xi *= si;
    }
    out
}

/// `‖S⁻¹ r̂‖²` from `r̂ᵀr̂` or by a pass.
fn unscaled_sq(u: &Unscale, r: &[f64], rr: f64, par: Par) -> Result<f64> {
    match u {
        Unscale::Const(c) => Ok(c * c * rr),
        Unscale::Each(u) => par.fold_pieces(
            F,
            r.len(),
            |g| weighted_sq(&r[g.clone()], &u[g]),
            |a, b| a + b,
            0.0,
        ),
    }
}

/// Why a quantity that must be positive (a curvature, `rᵀz`) is not: `bad`, or `NonFinite` when
/// it is not even finite.
fn not_positive(v: f64, bad: CgStatus) -> CgStatus {
    if v.is_finite() {
        bad
    } else {
        CgStatus::NonFinite
    }
}

/// The loop (see the module docs): on `A` (`sc = None`) or on the scaled system, where `x` holds
/// `x̂`. `m` is `None`, `Diag` (unscaled only) or `Op`.
pub(super) fn iterate(
    a: &dyn MatDot,
    m: Pre<'_>,
    sc: Option<Scaling<'_>>,
    run: Run<'_, '_>,
    rep: &mut CgReport,
) -> Result<()> {
    let Run {
        b,
        x,
        opts,
        mut callback,
        par,
    } = run;
    let (n, tol) = (a.dim(), rep.tol);
    let mut r = scratch(F, n, 0.0)?;
    let mut q = scratch(F, n, 0.0)?;
    if !opts.x0 {
        x.fill(0.0);
    }
    match sc {
        Some(sc) => r
            .iter_mut()
            .zip(b)
            .zip(sc.s)
            .for_each(|((ri, bi), si)| *ri = si * bi),
        None => r.copy_from_slice(b),
    }
    if opts.x0 {
        a.apply_dot(x, &mut q, x, par)?;
        rep.matvecs += 1;
        r.iter_mut().zip(&q).for_each(|(ri, qi)| *ri -= qi);
    }
    // `rh = r̂ᵀr̂`, `rr = ‖r‖²` of the unscaled system (the same without scaling).
    let rh = dot(F, &r, &r, par)?;
    let rr = match sc {
        Some(sc) => unscaled_sq(sc.unscale, &r, rh, par)?,
        None => rh,
    };
    rep.residuals.push(rr.sqrt());
    if !rr.is_finite() || !rh.is_finite() {
        rep.status = CgStatus::NonFinite;
        return Ok(());
    }
    if rr.sqrt() <= tol {
        return Ok(());
    }
    // Jacobi on the scaled system is `M̂ = I`: still counted as an application.
    let counted = sc.is_some() || !matches!(m, Pre::None);
    let mut z = match m {
        Pre::None => Vec::new(),
        _ => scratch(F, n, 0.0)?,
    };
    let mut rz = match m {
        Pre::Diag(d) => {
            for ((zi, ri), di) in z.iter_mut().zip(&r).zip(d) {
                *zi = ri * di;
            }
            dot(F, &r, &z, par)?
        }
        Pre::Op(o) => o.apply_and_dot(F, &r, &mut z, par)?,
        _ => rh,
    };
    rep.psolves += usize::from(counted);
    if !positive(rz) {
        rep.status = not_positive(rz, CgStatus::PreconditionerNotPositive);
        return Ok(());
    }
    let mut p = match m {
        Pre::None => r.clone(),
        _ => z.clone(),
    };
    // The callback sees the unscaled iterate.
    let mut shown = match (&callback, sc) {
        (Some(_), Some(_)) => scratch(F, n, 0.0)?,
        _ => Vec::new(),
    };
    rep.status = CgStatus::MaxIter;
    for it in 1..=opts.maxiter {
        interrupt::check(F)?;
        let pq = a.apply_dot(&p, &mut q, &p, par)?;
        rep.matvecs += 1;
        if !positive(pq) {
            rep.status = not_positive(pq, CgStatus::NotPositiveDefinite);
            break;
        }
        let alpha = rz / pq;
        let step = Step {
            alpha,
            p: &p,
            q: &q,
            x: &mut *x,
            r: &mut r,
        };
        let (rh, rr, rz_diag) = match sc {
            Some(sc) => {
                let (rh, rr) = cg_update_scaled(F, step, sc.unscale, par)?;
                (rh, rr, rh)
            }
            None => {
                let diag = match m {
                    Pre::Diag(d) => Some((d, z.as_mut_slice())),
                    _ => None,
                };
                let (rr, rz) = cg_update(F, step, diag, par)?;
                (rr, rr, rz)
            }
        };
        rep.iterations = it;
        rep.residuals.push(rr.sqrt());
        if let Some(cb) = callback.as_mut() {
            let xs: &[f64] = match sc {
                Some(sc) => {
                    for ((o, xi), si) in shown.iter_mut().zip(x.iter()).zip(sc.s) {
                        *o = xi * si;
                    }
                    &shown
                }
                None => x,
            };
            if !cb(it, xs)? {
                rep.status = CgStatus::Stopped;
                break;
            }
        }
        if !rr.is_finite() || !rh.is_finite() {
            rep.status = CgStatus::NonFinite;
            break;
        }
        if rr.sqrt() <= tol {
            rep.status = CgStatus::Converged;
            break;
        }
        let rz_new = match m {
            Pre::Diag(_) => rz_diag,
            Pre::Op(o) => o.apply_and_dot(F, &r, &mut z, par)?,
            _ => rh,
        };
        rep.psolves += usize::from(counted);
        if !positive(rz_new) {
            rep.status = not_positive(rz_new, CgStatus::PreconditionerNotPositive);
            break;
        }
        let beta = rz_new / rz;
        rz = rz_new;
        match m {
            Pre::None => xpby(F, &r, beta, &mut p, par)?,
            _ => xpby(F, &z, beta, &mut p, par)?,
        }
    }
    Ok(())
}
