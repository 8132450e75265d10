//! The trust-region subproblem by truncated conjugate gradients (Steihaug 1983, Toint 1981).
//!
//! Approximately solves `min_p m(p) = gᵀp + ½ pᵀAp` subject to `‖p‖ ≤ Δ` for a symmetric,
//! possibly indefinite `A`: CG from `p = 0` on `A p = −g`, stopped
//! - when the residual `‖g + Ap‖ ≤ rtol ‖g‖` (`Converged`, inside the region);
//! - at the first direction of non-positive curvature `dᵀAd ≤ 0`, by moving along it to the
//!   boundary (`NegativeCurvature`);
//! - when a step would leave the region, by stopping on the boundary (`Boundary`);
//! - after `maxiter` iterations (`MaxIter`).
//!
//! The iterates' norms increase monotonically (Steihaug 1983, Thm 2.1), so the first exit is the
//! right one, and since the first step is along the steepest descent, `m(p)` is at most the model
//! at the Cauchy point: the global convergence of trust-region methods follows (Nocedal & Wright,
//! Algorithm 7.2).
//!
//! With a preconditioner `M` (given as `M⁻¹`), the region is `‖p‖_M = √(pᵀMp) ≤ Δ`, the norm in
//! which preconditioned CG's iterates increase; `‖p‖_M` and `pᵀMd`, `dᵀMd` follow from recurrences
//! (Gould, Lucidi, Roma & Toint 1999, §2), so `M` itself is never needed.

use crate::linalg::lanczos::blas;
use crate::linalg::LinOp;
use crate::par::scratch;
use crate::{Error, Par, Result};

/// The name errors carry.
const F: &str = "cg_steihaug";

/// Why the iteration stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The residual met the tolerance inside the region.
    Converged,
    /// A direction of non-positive curvature was followed to the boundary.
    NegativeCurvature,
    /// A step would have left the region: stopped on its boundary.
    Boundary,
    /// `maxiter` iterations.
    MaxIter,
}

/// The stopping rule.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// The trust-region radius `Δ > 0`.
    pub radius: f64,
    /// Relative residual: stop when `‖g + Ap‖ ≤ rtol ‖g‖`.
    pub rtol: f64,
    /// Iterations allowed (products with `A`).
    pub maxiter: usize,
}

/// The step and how it was found.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The step `p`.
    pub p: Vec<f64>,
    /// Why it stopped.
    pub reason: Reason,
    /// Iterations (products with `A`).
    pub iterations: usize,
    /// `−m(p) = −(gᵀp + ½ pᵀAp) ≥ 0`.
    pub decrease: f64,
    /// `‖p‖` (the `M`-norm with a preconditioner).
    pub norm: f64,
    /// The direction of non-positive curvature found (`NegativeCurvature` only).
    pub direction: Option<Vec<f64>>,
}

fn check(n: usize, g: &[f64], o: &Options) -> Result<()> {
    Error::check_len(F, "g", g.len(), n)?;
    if !(o.radius > 0.0 && o.radius.is_finite()) {
        return Err(Error::param(
            F,
            "radius",
            format!("must be finite and > 0, got {}", o.radius),
        ));
    }
    if !(o.rtol >= 0.0 && o.rtol.is_finite()) {
        return Err(Error::param(
            F,
            "rtol",
            format!("must be finite and >= 0, got {}", o.rtol),
        ));
    }
    if g.iter().any(|v| !v.is_finite()) {
        return Err(Error::param(F, "g", "must be finite"));
    }
    Ok(())
}

/// The `τ ≥ 0` with `‖p + τ d‖_M = Δ`, from `pp = ‖p‖²`, `pd = pᵀd`, `dd = ‖d‖²` (in the `M`
/// inner product), in the cancellation-free form.
fn to_boundary(pp: f64, pd: f64, dd: f64, radius: f64) -> f64 {
    let c = pp - radius * radius; // <= 0: p is inside
    let disc = (pd * pd - dd * c).max(0.0).sqrt();
    if pd >= 0.0 {
        -c / (pd + disc)
    } else {
        (disc - pd) / dd
    }
}

/// Steihaug–Toint CG on `A` with gradient `g`, optionally preconditioned by `m_inv` (`M⁻¹`).
pub fn steihaug(
    a: &dyn LinOp,
    g: &[f64],
    m_inv: Option<&dyn LinOp>,
    o: &Options,
    par: Par,
) -> Result<Step> {
    let n = a.dim();
    check(n, g, o)?;
    if let Some(m) = m_inv {
        Error::check_len(F, "M", m.dim(), n)?;
    }
    let mut p = scratch(F, n, 0.0)?;
    let mut r = g.to_vec(); // r = g + A p
    let mut z = scratch(F, n, 0.0)?;
    let precondition = |r: &[f64], z: &mut [f64]| -> Result<()> {
        match m_inv {
            Some(m) => blas::apply(F, "M", m, r, z, par),
            None => {
                z.copy_from_slice(r);
                Ok(())
            }
        }
    };
    precondition(&r, &mut z)?;
    let mut rz = blas::dot(F, &r, &z, par)?;
    let r0 = blas::norm(F, &r, par)?;
    let mut d: Vec<f64> = z.iter().map(|v| -v).collect();
    let mut ad = scratch(F, n, 0.0)?;
    // ‖p‖², pᵀd, ‖d‖² in the M inner product (Gould et al. 1999, (2.14)–(2.16)).
    let (mut pp, mut pd, mut dd) = (0.0f64, 0.0f64, rz);
    let mut model = 0.0f64; // m(p)
    let done = |p: Vec<f64>, reason, it, model: f64, pp: f64, dir| Step {
        p,
        reason,
        iterations: it,
        decrease: -model,
        norm: pp.max(0.0).sqrt(),
        direction: dir,
    };
    if r0 == 0.0 {
        return Ok(done(p, Reason::Converged, 0, 0.0, 0.0, None));
    }
    if rz <= 0.0 {
        return Err(Error::param(
            F,
            "M",
            format!("must be positive definite: rᵀM⁻¹r = {rz} at the first residual"),
        ));
    }
    for it in 1..=o.maxiter {
        blas::apply(F, "matvec", a, &d, &mut ad, par)?;
        let curv = blas::dot(F, &d, &ad, par)?;
        let dr = blas::dot(F, &d, &r, par)?;
        let step_model = |tau: f64| tau * dr + 0.5 * tau * tau * curv;
        if curv <= 0.0 {
            let tau = to_boundary(pp, pd, dd, o.radius);
            model += step_model(tau);
            blas::axpby(F, tau, &d, 1.0, &mut p, par)?;
            let pp_new = o.radius * o.radius;
            let dir = Some(d);
            return Ok(done(p, Reason::NegativeCurvature, it, model, pp_new, dir));
        }
        let alpha = rz / curv;
        let pp_next = pp + 2.0 * alpha * pd + alpha * alpha * dd;
        if pp_next >= o.radius * o.radius {
            let tau = to_boundary(pp, pd, dd, o.radius);
            model += step_model(tau);
            blas::axpby(F, tau, &d, 1.0, &mut p, par)?;
            return Ok(done(
                p,
                Reason::Boundary,
                it,
                model,
                o.radius * o.radius,
                None,
            ));
        }
        model += step_model(alpha);
        blas::axpby(F, alpha, &d, 1.0, &mut p, par)?;
        blas::axpby(F, alpha, &ad, 1.0, &mut r, par)?;
        pp = pp_next;
        let rn = blas::norm(F, &r, par)?;
        if rn <= o.rtol * r0 {
            return Ok(done(p, Reason::Converged, it, model, pp, None));
        }
        if it == o.maxiter {
            return Ok(done(p, Reason::MaxIter, it, model, pp, None));
        }
        precondition(&r, &mut z)?;
        let rz_next = blas::dot(F, &r, &z, par)?;
        let beta = rz_next / rz;
        rz = rz_next;
        blas::axpby(F, -1.0, &z, beta, &mut d, par)?;
        pd = beta * (pd + alpha * dd);
        dd = rz + beta * beta * dd;
    }
    // maxiter == 0: the zero step.
    Ok(done(p, Reason::MaxIter, 0, 0.0, 0.0, None))
}

#[cfg(test)]
#[path = "steihaug/tests.rs"]
mod tests;
