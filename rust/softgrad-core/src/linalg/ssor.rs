//! The symmetric successive over-relaxation preconditioner.
//!
//! With `A = L + D + U` (strict lower, diagonal, strict upper) and `0 < ω < 2`,
//! `M = (D + ωL) D⁻¹ (D + ωU) / (ω(2 − ω))` (Saad, *Iterative Methods for Sparse Linear Systems*,
//! 2nd ed., §10.2), symmetric positive definite when `A` is. `M⁻¹` is two triangular solves on the
//! pattern of `A` with a diagonal scaling between them.

use crate::error::{Error, Result};
use crate::linalg::csr::{Csr, Index};
use crate::linalg::op::LinOp;
use crate::linalg::positive;
use crate::linalg::tri::unit::UnitPair;
use crate::linalg::tri::{Pattern, TriPair};
use crate::par::{scratch, Par};
use crate::real::Real;

/// `M⁻¹ x = ω(2 − ω) (D + ωU)⁻¹ D (D + ωL)⁻¹ x`.
#[derive(Debug, Clone)]
pub struct Ssor {
    tri: TriPair,
    /// The scaled form: `S = D^{-1/2}` and `I + ωL̂`, `I + ωÛ` (`linalg/tri/unit.rs`).
    unit: Option<(Vec<f64>, UnitPair)>,
}

impl Ssor {
    /// SSOR of `a` (the diagonal must be positive) with relaxation `omega` in `(0, 2)`.
    pub fn new<I: Index, T: Real>(a: &Csr<'_, I, T>, omega: f64) -> Result<Ssor> {
        const F: &str = "ssor";
        if !(omega > 0.0 && omega < 2.0) {
            return Err(Error::param(
                F,
                "omega",
                format!("must be in (0, 2), got {omega}"),
            ));
        }
        let pat = Pattern::of(F, a)?;
        let mut v = scratch(F, a.nnz(), 0.0)?;
        for (o, x) in v.iter_mut().zip(a.data()) {
            *o = omega * x.to_f64();
        }
        let mut d = scratch(F, pat.n(), 0.0)?;
        for (i, di) in d.iter_mut().enumerate() {
            let a_ii = a.data()[pat.diag[i]].to_f64();
            if !positive(a_ii) {
                return Err(Error::param(
                    F,
                    "A",
                    format!("must have a positive diagonal, got A[{i}, {i}] = {a_ii}"),
                ));
            }
            v[pat.diag[i]] = a_ii;
            *di = a_ii;
        }
        // The scaled form: `ω s_i a_ij s_j` off the diagonal, `S = D^{-1/2}`.
        let mut s = scratch(F, pat.n(), 0.0)?;
        for (si, di) in s.iter_mut().zip(&d) {
            *si = 1.0 / di.sqrt();
        }
        let mut u = scratch(F, a.nnz(), 0.0)?;
        for i in 0..pat.n() {
            let r = pat.indptr[i]..pat.indptr[i + 1];
            let (cols, vals) = (&pat.indices[r.clone()], &a.data()[r.clone()]);
            for ((o, &j), x) in u[r].iter_mut().zip(cols).zip(vals) {
                *o = omega * (s[i] * x.to_f64() * s[j as usize]);
            }
        }
        let unit = UnitPair::new(&pat, &u).map(|p| (s, p));
        let tri = TriPair::new(F, pat, v, false, Some(d), omega * (2.0 - omega))?;
        // The unit sweeps run in row order: where the level schedule would use threads, keep it.
        let unit = unit.filter(|_| !tri.has_wide_level());
        Ok(Ssor { tri, unit })
    }

    /// The scaled form for conjugate gradients, `(S, (I + ωÛ)⁻¹ (I + ωL̂)⁻¹)` (the constant
    /// `ω(2 − ω)` dropped), when `A`'s rows repeat enough (`linalg/tri/unit.rs`).
    pub fn unit(&self) -> Option<(&[f64], &UnitPair)> {
        self.unit.as_ref().map(|(s, u)| (s.as_slice(), u))
    }

    /// The triangular solver (its values: `ω A` off the diagonal, `A` on it).
    pub fn tri(&self) -> &TriPair {
        &self.tri
    }

    /// The triangular solver (to tune the level schedule).
    pub fn tri_mut(&mut self) -> &mut TriPair {
        &mut self.tri
    }
}

impl LinOp for Ssor {
    fn dim(&self) -> usize {
        self.tri.pattern().n()
    }

    fn apply(&self, x: &[f64], y: &mut [f64], par: Par) -> Result<()> {
        self.tri.solve("Preconditioner.solve", x, y, par)
    }

    fn apply_and_dot(&self, func: &'static str, x: &[f64], y: &mut [f64], par: Par) -> Result<f64> {
        self.tri.solve_dot(func, x, y, par)
    }
}
