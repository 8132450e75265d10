//! Preconditioned conjugate gradients (Hestenes & Stiefel, 1952; Saad, *Iterative Methods for
//! Sparse Linear Systems*, 2nd ed., Algorithm 9.1).
//!
//! Stops when `‖r_k‖ ≤ max(rtol · ‖b‖, atol)` (scipy's criterion, on the recursively updated
//! residual), or after `maxiter` iterations, or when a curvature `pᵀAp` or a preconditioned inner
//! product `rᵀM⁻¹r` is not positive (the matrix or the preconditioner is not positive definite),
//! or when a value is not finite: each with its [`CgStatus`], never silently. Per iteration, the
//! product `A p` is fused with `pᵀAp`, and the updates of `x` and `r` with `‖r‖²` (and, for a
//! diagonal preconditioner, with `z = M⁻¹ r` and `rᵀz`): three passes over the vectors besides
//! the product. Every reduction runs in fixed pieces, so the iterates do not depend on the
//! thread count.
//!
//! A diagonal preconditioner on a CSR matrix runs as CG on the scaled system `S A S` instead
//! (`cg/scaled.rs`, [`Packed`]): the same iterates in exact arithmetic, reported in the unscaled
//! system's terms, with neither `z` nor the diagonal streamed per iteration and the matrix
//! packed (the 2-D Poisson matrix, 500², two threads on a loaded machine: 2.8 → 0.8 ms an
//! iteration; `packed::tests::timing`).

use crate::error::{Error, Result};
use crate::interrupt;
use crate::linalg::csr::{Csr, Index};
use crate::linalg::op::LinOp;
use crate::linalg::packed::Packed;
use crate::linalg::positive;
use crate::linalg::vec::{cg_update, dot, xpby};
use crate::par::{scratch, Par};
use crate::real::Real;

mod scaled;

const F: &str = "cg";

/// A matrix for conjugate gradients: `y = A x` fused with `pᵀ y`.
pub trait MatDot {
    /// The number of rows and columns.
    fn dim(&self) -> usize;
    /// Writes `y = A x` and returns `pᵀ y`.
    fn apply_dot(&self, x: &[f64], y: &mut [f64], p: &[f64], par: Par) -> Result<f64>;
    /// `S A S` with `S = diag(d)^{1/2}`, packed, if this matrix can give it (`None`: Jacobi-PCG
    /// runs unscaled, with `z = d ⊙ r` fused into the update).
    fn scaled(&self, _func: &'static str, _d: &[f64]) -> Result<Option<Packed>> {
        Ok(None)
    }
}

impl<I: Index, T: Real> MatDot for Csr<'_, I, T> {
    fn dim(&self) -> usize {
        self.n()
    }
    fn apply_dot(&self, x: &[f64], y: &mut [f64], p: &[f64], par: Par) -> Result<f64> {
        Csr::apply_dot(self, x, y, p, par)
    }
    fn scaled(&self, func: &'static str, d: &[f64]) -> Result<Option<Packed>> {
        Packed::scaled(func, self, d)
    }
}

/// Any [`LinOp`] as a [`MatDot`] (the product, then the dot product).
#[derive(Debug, Clone, Copy)]
pub struct Plain<'a, A: ?Sized>(pub &'a A);

impl<A: LinOp + ?Sized> MatDot for Plain<'_, A> {
    fn dim(&self) -> usize {
        self.0.dim()
    }
    fn apply_dot(&self, x: &[f64], y: &mut [f64], p: &[f64], par: Par) -> Result<f64> {
        self.0.apply(x, y, par)?;
        dot(F, p, y, par)
    }
}

/// The preconditioner of a solve.
#[derive(Clone, Copy)]
pub enum Pre<'a> {
    /// None: `M = I`.
    None,
    /// A diagonal `M⁻¹` (Jacobi), fused into the vector update.
    Diag(&'a [f64]),
    /// Any operator applying `M⁻¹`.
    Op(&'a (dyn LinOp + Sync)),
}

impl std::fmt::Debug for Pre<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pre::None => f.write_str("None"),
            Pre::Diag(d) => write!(f, "Diag({})", d.len()),
            Pre::Op(o) => write!(f, "Op({})", o.dim()),
        }
    }
}

/// Stopping rule of [`cg`].
#[derive(Debug, Clone, Copy)]
pub struct CgOptions {
    /// Relative tolerance on `‖r‖ / ‖b‖`.
    pub rtol: f64,
    /// Absolute tolerance on `‖r‖`.
    pub atol: f64,
    /// The most iterations.
    pub maxiter: usize,
    /// Whether `x` holds a starting point (else the solve starts from 0 and `x` is overwritten).
    pub x0: bool,
}

/// Why [`cg`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgStatus {
    /// `‖r‖ ≤ max(rtol · ‖b‖, atol)`.
    Converged,
    /// `maxiter` iterations without converging.
    MaxIter,
    /// `pᵀAp ≤ 0`: `A` is not positive definite.
    NotPositiveDefinite,
    /// `rᵀM⁻¹r ≤ 0`: the preconditioner is not positive definite.
    PreconditionerNotPositive,
    /// A non-finite value appeared (in `A`'s products or the preconditioner's).
    NonFinite,
    /// The callback asked to stop.
    Stopped,
}

/// The outcome of [`cg`] (the solution is in `x`).
#[derive(Debug, Clone)]
pub struct CgReport {
    /// Why it stopped.
    pub status: CgStatus,
    /// Iterations done.
    pub iterations: usize,
    /// `‖r_k‖` for `k = 0..=iterations`.
    pub residuals: Vec<f64>,
    /// Products with `A`.
    pub matvecs: usize,
    /// Applications of the preconditioner.
    pub psolves: usize,
    /// The tolerance `max(rtol · ‖b‖, atol)`.
    pub tol: f64,
}

/// A per-iteration callback: gets the iteration number and the iterate; `Ok(false)` stops.
pub type Callback<'a> = &'a mut dyn FnMut(usize, &[f64]) -> Result<bool>;

/// Solves `A x = b` for symmetric positive definite `A` by conjugate gradients preconditioned by
/// `m` (see the module docs). `x` holds the starting point if `opts.x0`, and the solution on
/// return.
pub fn cg(
    a: &dyn MatDot,
    b: &[f64],
    x: &mut [f64],
    m: Pre<'_>,
    opts: CgOptions,
    mut callback: Option<Callback<'_>>,
    par: Par,
) -> Result<CgReport> {
    let n = a.dim();
    Error::check_len(F, "b", b.len(), n)?;
    Error::check_len(F, "x0", x.len(), n)?;
    if opts.rtol.is_nan() || opts.atol.is_nan() || opts.rtol < 0.0 || opts.atol < 0.0 {
        return Err(Error::param(
            F,
            "rtol",
            format!("and atol must be >= 0, got {} and {}", opts.rtol, opts.atol),
        ));
    }
    match m {
        Pre::Diag(d) => Error::check_len(F, "M", d.len(), n)?,
        Pre::Op(o) => Error::check_len(F, "M", o.dim(), n)?,
        Pre::None => {}
    }
    let mut rep = CgReport {
        status: CgStatus::Converged,
        iterations: 0,
        residuals: Vec::new(),
        matvecs: 0,
        psolves: 0,
        tol: 0.0,
    };
    let bnorm = dot(F, b, b, par)?.sqrt();
    if bnorm == 0.0 {
        // scipy's convention: the solution of A x = 0 is 0, whatever x0.
        x.fill(0.0);
        rep.residuals.push(0.0);
        return Ok(rep);
    }
    let tol = (opts.rtol * bnorm).max(opts.atol);
    rep.tol = tol;
    if let Pre::Diag(d) = m {
        if let Some(pk) = a.scaled(F, d)? {
            return scaled::cg(&pk, b, x, opts, callback, par, rep);
        }
    }
    let mut r = scratch(F, n, 0.0)?;
    let mut q = scratch(F, n, 0.0)?;
    if opts.x0 {
        a.apply_dot(x, &mut q, x, par)?;
        rep.matvecs += 1;
        for ((ri, bi), qi) in r.iter_mut().zip(b).zip(&q) {
            *ri = bi - qi;
        }
    } else {
        x.fill(0.0);
        r.copy_from_slice(b);
    }
    let mut rr = dot(F, &r, &r, par)?;
    rep.residuals.push(rr.sqrt());
    if !rr.is_finite() {
        rep.status = CgStatus::NonFinite;
        return Ok(rep);
    }
    if rr.sqrt() <= tol {
        return Ok(rep);
    }
    let mut z = match m {
        Pre::None => Vec::new(),
        _ => scratch(F, n, 0.0)?,
    };
    let mut rz = match m {
        Pre::None => rr,
        Pre::Diag(d) => {
            for ((zi, ri), di) in z.iter_mut().zip(&r).zip(d) {
                *zi = ri * di;
            }
            rep.psolves += 1;
            dot(F, &r, &z, par)?
        }
        Pre::Op(o) => {
            rep.psolves += 1;
            o.apply_and_dot(F, &r, &mut z, par)?
        }
    };
    if !positive(rz) {
        rep.status = if rz.is_finite() {
            CgStatus::PreconditionerNotPositive
        } else {
            CgStatus::NonFinite
        };
        return Ok(rep);
    }
    let mut p = match m {
        Pre::None => r.clone(),
        _ => z.clone(),
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
        let diag = match m {
            Pre::Diag(d) => Some((d, z.as_mut_slice())),
            _ => None,
        };
        let (rr_new, rz_diag) = cg_update(F, alpha, &p, &q, x, &mut r, diag, par)?;
        rr = rr_new;
        rep.iterations = it;
        rep.residuals.push(rr.sqrt());
        if let Some(cb) = callback.as_mut() {
            if !cb(it, x)? {
                rep.status = CgStatus::Stopped;
                break;
            }
        }
        if !rr.is_finite() {
            rep.status = CgStatus::NonFinite;
            break;
        }
        if rr.sqrt() <= tol {
            rep.status = CgStatus::Converged;
            break;
        }
        let rz_new = match m {
            Pre::None => rr,
            Pre::Diag(_) => {
                rep.psolves += 1;
                rz_diag
            }
            Pre::Op(o) => {
                rep.psolves += 1;
                o.apply_and_dot(F, &r, &mut z, par)?
            }
        };
        if !positive(rz_new) {
            rep.status = if rz_new.is_finite() {
                CgStatus::PreconditionerNotPositive
            } else {
                CgStatus::NonFinite
            };
            break;
        }
        let beta = rz_new / rz;
        rz = rz_new;
        match m {
            Pre::None => xpby(F, &r, beta, &mut p, par)?,
            _ => xpby(F, &z, beta, &mut p, par)?,
        }
    }
    Ok(rep)
}
