//! Zero-fill incomplete factorisations: ILU(0) and IC(0) (incomplete Cholesky).
//!
//! **ILU(0)** (Saad, *Iterative Methods for Sparse Linear Systems*, 2nd ed., Algorithm 10.4, the
//! IKJ variant): `A ≈ L U` with `L` unit lower and `U` upper triangular, both restricted to the
//! pattern of `A`, such that `(L U)_ij = a_ij` on that pattern. Every diagonal entry must be stored.
//!
//! **IC(0)** for symmetric positive definite `A`: `A ≈ L Lᵀ` on the pattern of `A`, computed
//! directly, row by row from the lower triangle only (Saad, §10.3.4):
//! `l_ij = (a_ij − Σ_{k<j} l_ik l_jk) / l_jj` over the columns `k` stored in both rows,
//! `l_ii = (a_ii − Σ_{k<i} l_ik²)^{1/2}`: half the work of ILU(0) and no pass over the upper
//! triangle (the same factor in exact arithmetic as ILU(0) with `L = L̂ D^{1/2}`). The upper
//! solve uses `Lᵀ` itself, so `M = L Lᵀ` is exactly symmetric.
//! A pivot `a_ii − Σ l_ik² ≤ 0` is a breakdown (`A` is not an H-matrix, e.g.): the factorisation either
//! fails naming the row, or is retried on `A + α diag(A)` with `α` doubling from the given shift
//! (Manteuffel, "An incomplete factorization technique for positive definite linear systems",
//! Math. Comp. 34, 1980).

use crate::error::{Error, Result};
use crate::linalg::csr::{Csr, Index};
use crate::linalg::op::LinOp;
use crate::linalg::positive;
use crate::linalg::tri::unit::UnitPair;
use crate::linalg::tri::{Pattern, TriPair};
use crate::par::{scratch, Par};
use crate::real::Real;

/// How IC(0) handles a breakdown (a non-positive pivot).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnBreakdown {
    /// Fail with [`Error::Breakdown`] naming the row.
    Raise,
    /// Retry with a doubling relative diagonal shift.
    Shift,
}

/// The in-place ILU(0) of `vals` on `pat` (values of `A`, diagonal scaled by `1 + shift`).
/// A zero pivot is a breakdown.
fn factor(func: &'static str, pat: &Pattern, vals: &mut [f64]) -> Result<()> {
    let n = pat.n();
    let mut pos = scratch(func, n, usize::MAX)?;
    for i in 0..n {
        if i % 4096 == 0 {
            crate::interrupt::check(func)?;
        }
        let (s, d, e) = (pat.indptr[i], pat.diag[i], pat.indptr[i + 1]);
        for k in s..e {
            pos[pat.indices[k] as usize] = k;
        }
        for k in s..d {
            let j = pat.indices[k] as usize;
            let lij = vals[k] / vals[pat.diag[j]];
            vals[k] = lij;
            for kk in pat.diag[j] + 1..pat.indptr[j + 1] {
                let c = pat.indices[kk] as usize;
                let at = pos[c];
                if at != usize::MAX {
                    vals[at] -= lij * vals[kk];
                }
            }
        }
        for k in s..e {
            pos[pat.indices[k] as usize] = usize::MAX;
        }
        let u = vals[d];
        if u == 0.0 || !u.is_finite() {
            return Err(Error::Breakdown {
                func,
                row: i,
                pivot: u,
            });
        }
    }
    Ok(())
}

/// IC(0) in place on the lower triangle and the diagonal of `vals` (see the module docs); the
/// strict upper part is neither read nor written.
fn cholesky(func: &'static str, pat: &Pattern, vals: &mut [f64]) -> Result<()> {
    let n = pat.n();
    let mut pos = scratch(func, n, usize::MAX)?;
    for i in 0..n {
        if i % 4096 == 0 {
            crate::interrupt::check(func)?;
        }
        let (s, d) = (pat.indptr[i], pat.diag[i]);
        for k in s..d {
            pos[pat.indices[k] as usize] = k;
        }
        let mut piv = vals[d];
        for k in s..d {
            let j = pat.indices[k] as usize;
            let mut acc = vals[k];
            // Row j's columns are all < j: those stored in row i too are done already.
            for kk in pat.indptr[j]..pat.diag[j] {
                let at = pos[pat.indices[kk] as usize];
                if at != usize::MAX {
                    acc -= vals[at] * vals[kk];
                }
            }
            let l = acc / vals[pat.diag[j]];
            vals[k] = l;
            piv -= l * l;
        }
        for k in s..d {
            pos[pat.indices[k] as usize] = usize::MAX;
        }
        if !positive(piv) || !piv.is_finite() {
            return Err(Error::Breakdown {
                func,
                row: i,
                pivot: piv,
            });
        }
        vals[d] = piv.sqrt();
    }
    Ok(())
}

/// The values of `a` on its own pattern, the diagonal multiplied by `1 + shift`.
fn values<I: Index, T: Real>(
    func: &'static str,
    a: &Csr<'_, I, T>,
    pat: &Pattern,
    shift: f64,
) -> Result<Vec<f64>> {
    let mut v = scratch(func, a.nnz(), 0.0)?;
    for (o, x) in v.iter_mut().zip(a.data()) {
        *o = x.to_f64();
    }
    if shift != 0.0 {
        for &d in &pat.diag {
            v[d] *= 1.0 + shift;
        }
    }
    Ok(v)
}

/// An incomplete factorisation applying `M⁻¹ = U⁻¹ L⁻¹`.
#[derive(Debug, Clone)]
pub struct Incomplete {
    tri: TriPair,
    shift: f64,
    /// IC(0)'s scaled form: `S = diag(L)⁻¹` and `L̂ = S L`, `L̂ᵀ` (`linalg/tri/unit.rs`).
    unit: Option<(Vec<f64>, UnitPair)>,
}

impl Incomplete {
    /// ILU(0) of `a` (every diagonal entry stored; a zero pivot is an [`Error::Breakdown`]).
    pub fn ilu0<I: Index, T: Real>(a: &Csr<'_, I, T>) -> Result<Incomplete> {
        const F: &str = "ilu0";
        let pat = Pattern::of(F, a)?;
        let mut v = values(F, a, &pat, 0.0)?;
        factor(F, &pat, &mut v)?;
        Ok(Incomplete {
            tri: TriPair::new(F, pat, v, true, None, 1.0)?,
            shift: 0.0,
            unit: None,
        })
    }

    /// IC(0) of `a` (assumed symmetric: only the values below the diagonal are used; the caller
    /// checks symmetry). The diagonal must be positive. With `shift > 0` the factorisation is of
    /// `A + shift · diag(A)`; on a breakdown, `on_breakdown` either fails or retries with the
    /// shift doubled (from `1e-3` if it was 0), up to 60 times.
    pub fn ic0<I: Index, T: Real>(
        a: &Csr<'_, I, T>,
        shift: f64,
        on_breakdown: OnBreakdown,
    ) -> Result<Incomplete> {
        const F: &str = "ic0";
        if !(shift >= 0.0 && shift.is_finite()) {
            return Err(Error::param(
                F,
                "shift",
                format!("must be >= 0 and finite, got {shift}"),
            ));
        }
        let pat = Pattern::of(F, a)?;
        let data = a.data();
        if let Some(i) = (0..pat.n()).find(|&i| !positive(data[pat.diag[i]].to_f64())) {
            return Err(Error::param(
                F,
                "A",
                format!(
                    "must have a positive diagonal, got A[{i}, {i}] = {:?}",
                    data[pat.diag[i]]
                ),
            ));
        }
        let mut shift = shift;
        let mut tries = 0;
        let mut v = loop {
            let mut v = values(F, a, &pat, shift)?;
            match cholesky(F, &pat, &mut v) {
                Ok(()) => break v,
                Err(Error::Breakdown { .. })
                    if on_breakdown == OnBreakdown::Shift && tries < 60 =>
                {
                    tries += 1;
                    shift = if shift == 0.0 { 1e-3 } else { 2.0 * shift };
                }
                Err(e) => return Err(e),
            }
        };
        mirror_lower(&pat, &mut v, |x| x);
        let unit = unit_ic0(F, &pat, &v)?;
        let tri = TriPair::new(F, pat, v, false, None, 1.0)?;
        // The unit sweeps run in row order: where the level schedule would use threads, keep it.
        let unit = unit.filter(|_| !tri.has_wide_level());
        Ok(Incomplete { tri, shift, unit })
    }

    /// The scaled form for conjugate gradients, `(S, L̂ L̂ᵀ)`, when the factor's rows repeat
    /// enough (`linalg/tri/unit.rs`).
    pub fn unit(&self) -> Option<(&[f64], &UnitPair)> {
        self.unit.as_ref().map(|(s, u)| (s.as_slice(), u))
    }

    /// The relative diagonal shift used (IC(0); 0 when none was needed).
    pub fn shift(&self) -> f64 {
        self.shift
    }

    /// The triangular solver (its values are the factors on `A`'s pattern: ILU(0)'s unit `L`
    /// below the diagonal and `U` on and above it; IC(0)'s `L` on and below, `Lᵀ` above).
    pub fn tri(&self) -> &TriPair {
        &self.tri
    }

    /// The same, mutable (to tune the level schedule).
    pub fn tri_mut(&mut self) -> &mut TriPair {
        &mut self.tri
    }
}

/// IC(0)'s unit form from the mirrored factor `v` (`L` on and below the diagonal, `Lᵀ` above):
/// `S = diag(L)⁻¹`, `l̂_ij = l_ij s_i` below, `l̂_ji = l_ji s_j` above.
fn unit_ic0(func: &'static str, pat: &Pattern, v: &[f64]) -> Result<Option<(Vec<f64>, UnitPair)>> {
    let n = pat.n();
    let mut s = scratch(func, n, 0.0)?;
    for (si, &d) in s.iter_mut().zip(&pat.diag) {
        *si = 1.0 / v[d];
    }
    let mut u = scratch(func, v.len(), 0.0)?;
    for i in 0..n {
        let r = pat.indptr[i]..pat.indptr[i + 1];
        for ((o, &j), x) in u[r.clone()]
            .iter_mut()
            .zip(&pat.indices[r.clone()])
            .zip(&v[r])
        {
            *o = x * s[i.max(j as usize)];
        }
    }
    Ok(UnitPair::new(pat, &u).map(|pair| (s, pair)))
}

/// Sets each strict-upper value `v[(i, c)]` to `f(v[(c, i)])`, or 0 where `(c, i)` is not stored.
fn mirror_lower(pat: &Pattern, v: &mut [f64], f: impl Fn(f64) -> f64) {
    for i in 0..pat.n() {
        for k in pat.diag[i] + 1..pat.indptr[i + 1] {
            let c = pat.indices[k] as usize;
            let row = &pat.indices[pat.indptr[c]..pat.diag[c]];
            v[k] = match row.binary_search(&(i as u32)) {
                Ok(p) => f(v[pat.indptr[c] + p]),
                Err(_) => 0.0,
            };
        }
    }
}

impl LinOp for Incomplete {
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
