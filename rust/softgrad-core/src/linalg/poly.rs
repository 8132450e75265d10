//! Polynomial preconditioners: `p(A) r ≈ A⁻¹ r` made of products with `A` only.
//!
//! For a symmetric positive definite `A` with spectrum in `[a, b]`:
//! - **Chebyshev** (Saad 2003, Algorithm 12.1): `degree` steps of the Chebyshev iteration on
//!   `A x = r` from `x = 0`. With `θ = (a+b)/2`, `δ = (b−a)/2`, `σ = θ/δ`, the residual polynomial
//!   is `1 − λ p(λ) = T_{d+1}((θ − λ)/δ) / T_{d+1}(σ)`, the smallest on `[a, b]` of all polynomials
//!   of degree `d + 1` that are 1 at 0: `max_{λ∈[a,b]} |1 − λ p(λ)| = 1 / T_{d+1}(σ)
//!   ≤ 2 ((√κ − 1)/(√κ + 1))^{d+1}` with `κ = b/a`.
//! - **Neumann**: the truncated series `p(B) = ω Σ_{k=0}^{d} (I − ωB)^k` with `ω = 2/(a+b)`, the
//!   residual polynomial `(1 − ωλ)^{d+1}`.
//!
//! Either may work on the Jacobi-scaled `B = D⁻¹A` (`D` the diagonal of `A`): `p(A) r = q(B) D⁻¹ r`,
//! with `[a, b]` bounds of the spectrum of `B` (that of the symmetric `D^{-1/2} A D^{-1/2}`).
//! A polynomial positive on the spectrum gives a symmetric positive definite preconditioner, usable
//! in CG: both are, as long as the spectrum lies below `b`.
//!
//! **Bounds** not given are estimated by a few Lanczos steps ([`estimate_bounds`]): Ritz values lie
//! inside the spectrum, so `b` is the largest plus its residual bound, widened by
//! [`SAFETY`]; `a` the smallest Ritz value (an over-estimate of `λ_min`, which only weakens the
//! damping of the smallest eigenvalues, whereas under-estimating `λ_max` could make `p` negative).

use crate::linalg::lanczos::{blas, lanczos, Options as LanczosOptions, Which};
use crate::linalg::LinOp;
use crate::par::scratch;
use crate::{Error, Par, Result};

/// The name errors carry.
const F: &str = "polynomial";

/// Relative widening of the estimated upper bound.
pub const SAFETY: f64 = 0.05;

/// Lanczos steps used to estimate the bounds.
pub const ESTIMATE_STEPS: usize = 20;

/// The polynomial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Chebyshev's minimax polynomial on `[a, b]`.
    Chebyshev,
    /// The truncated Neumann series with `ω = 2/(a+b)`.
    Neumann,
}

/// `y = s ∘ A (s ∘ x)`: the symmetrically scaled operator `S A S`.
struct Scaled<'a> {
    op: &'a dyn LinOp,
    s: &'a [f64],
}

impl LinOp for Scaled<'_> {
    fn dim(&self) -> usize {
        self.op.dim()
    }
    fn apply(&self, x: &[f64], y: &mut [f64], par: Par) -> Result<()> {
        let sx: Vec<f64> = x.iter().zip(self.s).map(|(a, b)| a * b).collect();
        self.op.apply(&sx, y, par)?;
        y.iter_mut().zip(self.s).for_each(|(v, s)| *v *= s);
        Ok(())
    }
}

/// Bounds `[a, b]` of the spectrum of the SPD `op` (scaled by `D⁻¹` when `inv_diag` is given) from
/// [`ESTIMATE_STEPS`] Lanczos steps: see the module docs for the margins.
pub fn estimate_bounds(
    op: &dyn LinOp,
    inv_diag: Option<&[f64]>,
    seed: u64,
    par: Par,
) -> Result<(f64, f64)> {
    let n = op.dim();
    let s: Vec<f64>;
    let scaled;
    let target: &dyn LinOp = match inv_diag {
        Some(inv) => {
            s = inv.iter().map(|v| v.sqrt()).collect();
            scaled = Scaled { op, s: &s };
            &scaled
        }
        None => op,
    };
    let o = LanczosOptions {
        k: 2.min(n),
        which: Which::Both,
        maxiter: Some(ESTIMATE_STEPS.min(n)),
        tol: 1e-3,
        seed,
    };
    let e = lanczos(target, &o, par)?;
    let (lo, hi) = (e.values[0], e.values[e.values.len() - 1]);
    let res = e.residuals.iter().fold(0.0f64, |a, r| a.max(*r));
    if lo.is_nan() || lo <= 0.0 {
        return Err(Error::param(
            F,
            "A",
            format!("must be positive definite: a Ritz value is {lo}"),
        ));
    }
    Ok((lo, (hi + res) * (1.0 + SAFETY)))
}

/// `p(A)` as an operator (`apply` writes `p(A) r`).
pub struct Poly<'a> {
    op: &'a dyn LinOp,
    kind: Kind,
    degree: usize,
    lo: f64,
    hi: f64,
    inv_diag: Option<Vec<f64>>,
}

impl std::fmt::Debug for Poly<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Poly")
            .field("kind", &self.kind)
            .field("degree", &self.degree)
            .field("bounds", &(self.lo, self.hi))
            .finish()
    }
}

impl<'a> Poly<'a> {
    /// The polynomial preconditioner of `op`; `bounds` of the spectrum of `A` (or of `D⁻¹A` when
    /// `inv_diag`, the inverse diagonal, is given) or `None` to estimate them.
    pub fn new(
        op: &'a dyn LinOp,
        kind: Kind,
        degree: usize,
        bounds: Option<(f64, f64)>,
        inv_diag: Option<Vec<f64>>,
        seed: u64,
        par: Par,
    ) -> Result<Self> {
        let n = op.dim();
        if let Some(d) = &inv_diag {
            Error::check_len(F, "diagonal", d.len(), n)?;
            if d.iter().any(|v| !(*v > 0.0 && v.is_finite())) {
                return Err(Error::param(
                    F,
                    "diagonal",
                    "must be finite and > 0 (Jacobi scaling)",
                ));
            }
        }
        let (lo, hi) = match bounds {
            Some(b) => b,
            None => estimate_bounds(op, inv_diag.as_deref(), seed, par)?,
        };
        let ok = lo.is_finite()
            && hi.is_finite()
            && lo > 0.0
            && (lo < hi || kind == Kind::Neumann && lo <= hi);
        if !ok {
            return Err(Error::param(
                F,
                "bounds",
                format!("must satisfy 0 < lo < hi, got ({lo}, {hi})"),
            ));
        }
        Ok(Poly {
            op,
            kind,
            degree,
            lo,
            hi,
            inv_diag,
        })
    }

    /// The bounds used `(a, b)`.
    pub fn bounds(&self) -> (f64, f64) {
        (self.lo, self.hi)
    }

    /// `y = B x` with `B = A` or `D⁻¹A`.
    fn b(&self, x: &[f64], y: &mut [f64], par: Par) -> Result<()> {
        blas::apply(F, "matvec", self.op, x, y, par)?;
        if let Some(d) = &self.inv_diag {
            y.iter_mut().zip(d).for_each(|(v, s)| *v *= s);
        }
        Ok(())
    }
}

impl LinOp for Poly<'_> {
    fn dim(&self) -> usize {
        self.op.dim()
    }

    fn apply(&self, r: &[f64], y: &mut [f64], par: Par) -> Result<()> {
        let n = self.op.dim();
        Error::check_len(F, "r", r.len(), n)?;
        Error::check_len(F, "out", y.len(), n)?;
        let c: Vec<f64> = match &self.inv_diag {
            Some(d) => r.iter().zip(d).map(|(a, b)| a * b).collect(),
            None => r.to_vec(),
        };
        let mut bx = scratch(F, n, 0.0)?;
        match self.kind {
            Kind::Neumann => {
                // Horner: x₀ = ω c, x_{j+1} = x_j + ω (c − B x_j).
                let w = 2.0 / (self.lo + self.hi);
                y.iter_mut().zip(&c).for_each(|(v, ci)| *v = w * ci);
                for _ in 0..self.degree {
                    self.b(y, &mut bx, par)?;
                    bx.iter_mut().zip(&c).for_each(|(v, ci)| *v = ci - *v);
                    blas::axpby(F, w, &bx, 1.0, y, par)?;
                }
            }
            Kind::Chebyshev => {
                let theta = 0.5 * (self.hi + self.lo);
                let delta = 0.5 * (self.hi - self.lo);
                let sigma = theta / delta;
                let mut rho = 1.0 / sigma;
                let mut d: Vec<f64> = c.iter().map(|v| v / theta).collect();
                let mut res = c;
                y.copy_from_slice(&d);
                for _ in 0..self.degree {
                    self.b(&d, &mut bx, par)?;
                    blas::axpby(F, -1.0, &bx, 1.0, &mut res, par)?;
                    let next = 1.0 / (2.0 * sigma - rho);
                    blas::axpby(F, 2.0 * next / delta, &res, next * rho, &mut d, par)?;
                    blas::axpby(F, 1.0, &d, 1.0, y, par)?;
                    rho = next;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "poly/tests.rs"]
mod tests;
