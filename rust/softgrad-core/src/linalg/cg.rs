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
//! (`cg/iterate.rs`, [`Packed`]): the same iterates in exact arithmetic, reported in the unscaled
//! system's terms, with neither `z` nor the diagonal streamed per iteration and the matrix
//! packed (the 2-D Poisson matrix, 500², two threads on a loaded machine: 2.8 → 0.8 ms an
//! iteration; `packed::tests::timing`).

use crate::error::{Error, Result};
use crate::linalg::csr::{Csr, Index};
use crate::linalg::op::LinOp;
use crate::linalg::packed::Packed;
use crate::linalg::positive;
use crate::linalg::vec::dot;
use crate::par::{scratch, Par};
use crate::real::Real;

mod iterate;
#[cfg(test)]
mod tests;

const F: &str = "cg";

/// A matrix for conjugate gradients: `y = A x` fused with `pᵀ y`.
pub trait MatDot {
    /// The number of rows and columns.
    fn dim(&self) -> usize;
    /// Writes `y = A x` and returns `pᵀ y`.
    fn apply_dot(&self, x: &[f64], y: &mut [f64], p: &[f64], par: Par) -> Result<f64>;
    /// `S A S` with `S = diag(s)`, packed, if this matrix can give it (`None`: CG runs on `A`;
    /// Jacobi-PCG with `z = d ⊙ r` fused into the update).
    fn scaled(&self, _func: &'static str, _s: Vec<f64>) -> Result<Option<Packed>> {
        Ok(None)
    }
    /// `A` packed for the product ([`Packed::plain`]), if this matrix can give it (`None`: its
    /// own product).
    fn plain(&self, _func: &'static str) -> Result<Option<Packed>> {
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
    fn scaled(&self, func: &'static str, s: Vec<f64>) -> Result<Option<Packed>> {
        Packed::scaled(func, self, s)
    }
    fn plain(&self, _func: &'static str) -> Result<Option<Packed>> {
        Ok(Packed::plain(self))
    }
}

impl MatDot for Packed {
    fn dim(&self) -> usize {
        self.n()
    }
    fn apply_dot(&self, x: &[f64], y: &mut [f64], p: &[f64], par: Par) -> Result<f64> {
        Packed::apply_dot(self, x, y, p, par)
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
    /// A preconditioner with a scaled form (`linalg/tri/unit.rs`): CG runs on `Â = S A S`
    /// preconditioned by `unit` (`M̂⁻¹`, `M̂ = S M S` up to a constant) when the matrix gives `Â`
    /// packed, else on `A` preconditioned by `plain` (`M⁻¹`).
    Scaled {
        /// `S` (its diagonal, positive).
        s: &'a [f64],
        /// `M̂⁻¹`.
        unit: &'a (dyn LinOp + Sync),
        /// `M⁻¹`.
        plain: &'a (dyn LinOp + Sync),
    },
}

impl std::fmt::Debug for Pre<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pre::None => f.write_str("None"),
            Pre::Diag(d) => write!(f, "Diag({})", d.len()),
            Pre::Op(o) => write!(f, "Op({})", o.dim()),
            Pre::Scaled { s, .. } => write!(f, "Scaled({})", s.len()),
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
/// return. The same as [`prepare`] then [`Prepared::solve`].
pub fn cg(
    a: &dyn MatDot,
    b: &[f64],
    x: &mut [f64],
    m: Pre<'_>,
    opts: CgOptions,
    callback: Option<Callback<'_>>,
    par: Par,
) -> Result<CgReport> {
    check_run(a.dim(), b, x, opts)?;
    prepare(a, m)?.solve(Run {
        b,
        x,
        opts,
        callback,
        par,
    })
}

/// One solve's right-hand side `b`, iterate `x` (the starting point if `opts.x0`, the solution
/// on return), stopping rule, callback and threads.
pub struct Run<'r, 'c> {
    /// The right-hand side.
    pub b: &'r [f64],
    /// The iterate.
    pub x: &'r mut [f64],
    /// The stopping rule.
    pub opts: CgOptions,
    /// Called after each iteration.
    pub callback: Option<Callback<'c>>,
    /// Threads.
    pub par: Par,
}

/// A matrix and its preconditioner set up for conjugate gradients (the packed `S A S` of a
/// scaled form, or the packed copy of `A`), so that solves ([`Prepared::solve`]) run only the
/// iterations.
pub struct Prepared<'a> {
    n: usize,
    form: Form<'a>,
}

impl std::fmt::Debug for Run<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Run(n = {}, {:?}, {:?})",
            self.b.len(),
            self.opts,
            self.par
        )
    }
}

impl std::fmt::Debug for Prepared<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (form, m) = match &self.form {
            Form::Scaled(_, m) => ("scaled", m),
            Form::Plain(_, Some(_), m) => ("packed", m),
            Form::Plain(_, None, m) => ("plain", m),
        };
        write!(f, "Prepared(n = {}, {form}, {m:?})", self.n)
    }
}

/// What [`Prepared::solve`] iterates on.
enum Form<'a> {
    /// CG on the packed `S A S`, preconditioned by `Pre::None` (Jacobi) or `Pre::Op(M̂⁻¹)`.
    Scaled(Packed, Pre<'a>),
    /// CG on `A`, or on its packed copy when it gives one.
    Plain(&'a dyn MatDot, Option<Packed>, Pre<'a>),
}

/// Sets up `a` and `m` for [`Prepared::solve`]: with a diagonal or scaled preconditioner, CG runs
/// on the packed `S A S` when the matrix gives it; with any other, the product runs over the
/// packed matrix when it has one.
pub fn prepare<'a>(a: &'a dyn MatDot, m: Pre<'a>) -> Result<Prepared<'a>> {
    let n = a.dim();
    match m {
        Pre::Diag(d) => Error::check_len(F, "M", d.len(), n)?,
        Pre::Op(o) => Error::check_len(F, "M", o.dim(), n)?,
        Pre::Scaled { s, unit, plain } => {
            Error::check_len(F, "M", s.len(), n)?;
            Error::check_len(F, "M", unit.dim(), n)?;
            Error::check_len(F, "M", plain.dim(), n)?;
        }
        Pre::None => {}
    }
    let scaled = match m {
        Pre::Diag(d) => jacobi_scale(d)?
            .map(|s| a.scaled(F, s))
            .transpose()?
            .flatten()
            .map(|pk| (pk, Pre::None)),
        Pre::Scaled { s, unit, .. } => a.scaled(F, s.to_vec())?.map(|pk| (pk, Pre::Op(unit))),
        _ => None,
    };
    let form = match scaled {
        Some((pk, inner)) => Form::Scaled(pk, inner),
        None => {
            let m = match m {
                Pre::Scaled { plain, .. } => Pre::Op(plain),
                other => other,
            };
            let packed = match m {
                Pre::Diag(_) => None,
                _ => a.plain(F)?,
            };
            Form::Plain(a, packed, m)
        }
    };
    Ok(Prepared { n, form })
}

impl Prepared<'_> {
    /// The number of rows (and columns).
    pub fn dim(&self) -> usize {
        self.n
    }

    /// Whether CG runs on the packed `S A S` (else on `A`).
    pub fn is_scaled(&self) -> bool {
        matches!(self.form, Form::Scaled(..))
    }

    /// Solves `A x = b` (see [`cg`]).
    pub fn solve(&self, run: Run<'_, '_>) -> Result<CgReport> {
        check_run(self.n, run.b, run.x, run.opts)?;
        let mut rep = CgReport {
            status: CgStatus::Converged,
            iterations: 0,
            residuals: Vec::new(),
            matvecs: 0,
            psolves: 0,
            tol: 0.0,
        };
        let bnorm = dot(F, run.b, run.b, run.par)?.sqrt();
        if bnorm == 0.0 {
            // scipy's convention: the solution of A x = 0 is 0, whatever x0.
            run.x.fill(0.0);
            rep.residuals.push(0.0);
            return Ok(rep);
        }
        rep.tol = (run.opts.rtol * bnorm).max(run.opts.atol);
        match &self.form {
            Form::Scaled(pk, m) => iterate::scaled(pk, *m, run, &mut rep)?,
            Form::Plain(a, packed, m) => {
                let a: &dyn MatDot = match packed {
                    Some(pk) => pk,
                    None => *a,
                };
                iterate::iterate(a, *m, None, run, &mut rep)?;
            }
        }
        Ok(rep)
    }
}

/// The lengths of `b` and `x` against `n`, and the tolerances.
fn check_run(n: usize, b: &[f64], x: &[f64], opts: CgOptions) -> Result<()> {
    Error::check_len(F, "b", b.len(), n)?;
    Error::check_len(F, "x0", x.len(), n)?;
    if opts.rtol.is_nan() || opts.atol.is_nan() || opts.rtol < 0.0 || opts.atol < 0.0 {
        return Err(Error::param(
            F,
            "rtol",
            format!("and atol must be >= 0, got {} and {}", opts.rtol, opts.atol),
        ));
    }
    Ok(())
}

/// Jacobi's `S = diag(d)^{1/2}`, or `None` if an entry of `d` is not positive and finite.
fn jacobi_scale(d: &[f64]) -> Result<Option<Vec<f64>>> {
    if d.iter().any(|&v| !(v > 0.0 && v.is_finite())) {
        return Ok(None);
    }
    let mut s = scratch(F, d.len(), 0.0)?;
    for (si, di) in s.iter_mut().zip(d) {
        *si = di.sqrt();
    }
    Ok(Some(s))
}
