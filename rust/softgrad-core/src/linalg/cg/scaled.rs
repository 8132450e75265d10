//! Jacobi-PCG as CG on the symmetrically scaled system `Â x̂ = S b` (`Â = S A S`,
//! `S = diag(A)^{-1/2}`, `x = S x̂`; see [`Packed`]): the same iterates in exact arithmetic, with
//! three passes over five vectors per iteration (the product fused with `pᵀÂp`, the update of
//! `x̂` and `r̂` fused with `r̂ᵀr̂`, and `p = r̂ + βp`) and no `z` or diagonal stream.
//!
//! `r̂ᵀr̂ = rᵀM⁻¹r` gives `β` as in Jacobi-PCG; the residual reported and tested against the
//! tolerance is that of the unscaled system, `‖S⁻¹ r̂‖`, and `x` is unscaled on every exit.

use super::{positive, Callback, CgOptions, CgReport, CgStatus, F};
use crate::error::Result;
use crate::interrupt;
use crate::linalg::packed::{Packed, Unscale};
use crate::linalg::vec::{cg_update_scaled, dot, weighted_sq, xpby};
use crate::par::{scratch, Par};

/// Runs the loop on `a` (`x` holds the starting point if `opts.x0`); `rep` comes with `tol` set.
pub(super) fn cg(
    a: &Packed,
    b: &[f64],
    x: &mut [f64],
    opts: CgOptions,
    callback: Option<Callback<'_>>,
    par: Par,
    mut rep: CgReport,
) -> Result<CgReport> {
    let s = a.scale();
    if opts.x0 {
        for (xi, si) in x.iter_mut().zip(s) {
            *xi /= si;
        }
    } else {
        x.fill(0.0);
    }
    let out = iterate(a, b, x, opts, callback, par, &mut rep);
    for (xi, si) in x.iter_mut().zip(s) {
        *xi *= si;
    }
    out.map(|()| rep)
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

#[allow(clippy::too_many_arguments)]
fn iterate(
    a: &Packed,
    b: &[f64],
    x: &mut [f64],
    opts: CgOptions,
    mut callback: Option<Callback<'_>>,
    par: Par,
    rep: &mut CgReport,
) -> Result<()> {
    let (n, s, tol) = (a.n(), a.scale(), rep.tol);
    let mut r = scratch(F, n, 0.0)?;
    let mut q = scratch(F, n, 0.0)?;
    if opts.x0 {
        a.apply_dot(x, &mut q, x, par)?;
        rep.matvecs += 1;
        for (((ri, bi), qi), si) in r.iter_mut().zip(b).zip(&q).zip(s) {
            *ri = si * bi - qi;
        }
    } else {
        for ((ri, bi), si) in r.iter_mut().zip(b).zip(s) {
            *ri = si * bi;
        }
    }
    let mut rz = dot(F, &r, &r, par)?;
    let rr = unscaled_sq(a.unscale(), &r, rz, par)?;
    rep.residuals.push(rr.sqrt());
    if !rr.is_finite() || !rz.is_finite() {
        rep.status = CgStatus::NonFinite;
        return Ok(());
    }
    if rr.sqrt() <= tol {
        return Ok(());
    }
    rep.psolves += 1;
    if !positive(rz) {
        rep.status = CgStatus::PreconditionerNotPositive;
        return Ok(());
    }
    let mut p = r.clone();
    // The callback sees the unscaled iterate.
    let mut shown = match callback {
        Some(_) => scratch(F, n, 0.0)?,
        None => Vec::new(),
    };
    rep.status = CgStatus::MaxIter;
    for it in 1..=opts.maxiter {
        interrupt::check(F)?;
        let pq = a.apply_dot(&p, &mut q, &p, par)?;
        rep.matvecs += 1;
        if !positive(pq) {
            rep.status = if pq.is_finite() {
                CgStatus::NotPositiveDefinite
            } else {
                CgStatus::NonFinite
            };
            break;
        }
        let alpha = rz / pq;
        let (rz_new, rr) = cg_update_scaled(F, alpha, &p, &q, x, &mut r, a.unscale(), par)?;
        rep.iterations = it;
        rep.residuals.push(rr.sqrt());
        if let Some(cb) = callback.as_mut() {
            for ((o, xi), si) in shown.iter_mut().zip(x.iter()).zip(s) {
                *o = xi * si;
            }
            if !cb(it, &shown)? {
                rep.status = CgStatus::Stopped;
                break;
            }
        }
        if !rr.is_finite() || !rz_new.is_finite() {
            rep.status = CgStatus::NonFinite;
            break;
        }
        if rr.sqrt() <= tol {
            rep.status = CgStatus::Converged;
            break;
        }
        rep.psolves += 1;
        if !positive(rz_new) {
            rep.status = CgStatus::PreconditionerNotPositive;
            break;
        }
        let beta = rz_new / rz;
        rz = rz_new;
        xpby(F, &r, beta, &mut p, par)?;
    }
    Ok(())
}
