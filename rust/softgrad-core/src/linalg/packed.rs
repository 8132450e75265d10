//! A compact owned copy of `Â = S A S`, the symmetric diagonal scaling of a checked CSR matrix,
//! for Jacobi-preconditioned conjugate gradients, or of `A` itself ([`Packed::plain`]) for the
//! other preconditioners' products.
//!
//! With `S = diag(d)^{1/2}` and `d = diag(A)⁻¹` (or another positive `S`: `linalg/tri/unit.rs`), CG on `Â x̂ = S b` (then `x = S x̂`) is Jacobi-PCG
//! in exact arithmetic (Saad, *Iterative Methods for Sparse Linear Systems*, 2nd ed., §9.2), but
//! per iteration it streams neither `z = M⁻¹ r` nor the diagonal. The copy takes one of two forms:
//!
//! - **runs**: rows whose entries have the same column offsets from the row and the same values
//!   share a *template*, and consecutive rows with one template form a *run*. The product over a
//!   run is a few contiguous scaled adds (`y[a..b] += v · x[a+o..b+o]`), and the matrix itself
//!   moves next to no memory: the 5-point Laplacian on a 500 × 500 grid is 9 templates and
//!   ~1 500 runs (36 KB) instead of 15 MB of CSR arrays. Taken when runs average at least
//!   [`MIN_RUN`] rows;
//! - **rows**: otherwise, CSR with `u32` column indices and the scaled `f64` values, if rows
//!   average at most [`MAX_ROWS_FORM_DENSITY`] entries (else there is no packed copy).
//!
//! Each row's product is the same sum in the same order (the row's entries left to right)
//! whichever piece of rows computes it, so the result does not depend on the thread count.

use std::collections::HashMap;
use std::ops::Range;

use crate::error::Result;
use crate::linalg::csr::{Csr, Index};
use crate::linalg::vec::dot_range;
use crate::par::{scratch, Par, Rows};
use crate::real::Real;
use crate::simd;

/// The most entries a row averages for the rows form to be taken (else no packed copy: the
/// unscaled loop).
pub const MAX_ROWS_FORM_DENSITY: usize = 16;

/// The fewest rows a run averages for the runs form to be taken (else the rows form).
pub const MIN_RUN: usize = 16;

/// Consecutive rows `start..end` sharing the template `t` (a range of `offs` and `vals`).
#[derive(Debug, Clone, Copy)]
struct Run {
    start: usize,
    end: usize,
    t: (u32, u32),
}

#[derive(Debug, Clone)]
enum Form {
    Runs {
        runs: Vec<Run>,
        offs: Vec<isize>,
        vals: Vec<f64>,
    },
    Rows {
        indptr: Vec<usize>,
        cols: Vec<u32>,
        vals: Vec<f64>,
    },
}

/// How `r = S⁻¹ r̂` is recovered for the residual norm: one factor for every row, or one each.
#[derive(Debug, Clone)]
pub enum Unscale {
    /// `S⁻¹ = c I`.
    Const(f64),
    /// `S⁻¹ = diag(u)`.
    Each(Vec<f64>),
}

/// `Â = S A S` (see the module docs), with `S`.
#[derive(Debug, Clone)]
pub struct Packed {
    n: usize,
    /// `S` (empty for [`Packed::plain`]: `S = I`).
    s: Vec<f64>,
    unscale: Unscale,
    form: Form,
}

impl Packed {
    /// `S A S` with `S = diag(s)`, or `None` when `s` has an entry that is not positive and
    /// finite or `A` has more than `u32::MAX` rows (the caller then runs the unscaled loop).
    pub fn scaled<I: Index, T: Real>(
        func: &'static str,
        a: &Csr<'_, I, T>,
        s: Vec<f64>,
    ) -> Result<Option<Packed>> {
        let n = a.n();
        if s.len() != n
            || u32::try_from(n).is_err()
            || s.iter().any(|&v| !(v > 0.0 && v.is_finite()))
        {
            return Ok(None);
        }
        let unscale = match s.first() {
            Some(&s0) if s.iter().all(|&v| v.to_bits() == s0.to_bits()) => Unscale::Const(1.0 / s0),
            _ => {
                let mut u = scratch(func, n, 0.0)?;
                for (ui, si) in u.iter_mut().zip(&s) {
                    *ui = 1.0 / si;
                }
                Unscale::Each(u)
            }
        };
        Ok(form(func, a, &s)?.map(|form| Packed {
            n,
            s,
            unscale,
            form,
        }))
    }

    /// `A` itself (`S = I`) in the runs form: the product of CG with IC(0), SSOR or another
    /// preconditioner. `None` when `A` has more than `u32::MAX` rows or runs would be short: the
    /// rows form is not taken (with `i32` columns it is no smaller than the caller's arrays, and
    /// with `i64` it would make the result depend on the index dtype: the caller's product sums
    /// a row in two accumulators).
    pub fn plain<I: Index, T: Real>(a: &Csr<'_, I, T>) -> Option<Packed> {
        if u32::try_from(a.n()).is_err() {
            return None;
        }
        runs(a, &[]).map(|form| Packed {
            n: a.n(),
            s: Vec::new(),
            unscale: Unscale::Const(1.0),
            form,
        })
    }

    /// The number of rows (and columns).
    pub fn n(&self) -> usize {
        self.n
    }

    /// The scaling `S` (its diagonal; empty for [`Packed::plain`]).
    pub fn scale(&self) -> &[f64] {
        &self.s
    }

    /// `S⁻¹`.
    pub fn unscale(&self) -> &Unscale {
        &self.unscale
    }

    /// Whether the runs form was taken.
    pub fn is_runs(&self) -> bool {
        matches!(self.form, Form::Runs { .. })
    }

    /// `y = Â x`, returning `pᵀ y`, in the fixed pieces of [`Csr::apply_dot`].
    pub fn apply_dot(&self, x: &[f64], y: &mut [f64], p: &[f64], par: Par) -> Result<f64> {
        const F: &str = "csr_matvec";
        crate::Error::check_len(F, "x", x.len(), self.n)?;
        crate::Error::check_len(F, "y", y.len(), self.n)?;
        crate::Error::check_len(F, "p", p.len(), self.n)?;
        let level = simd::level();
        par.for_work(self.n * 4).fold_chunks(
            F,
            self.n,
            Rows::of_mut(y, 1),
            |r, y| {
                simd::dispatch(level, || {
                    match &self.form {
                        Form::Runs { runs, offs, vals } => {
                            run_rows(runs, offs, vals, r.clone(), x, y)
                        }
                        Form::Rows { indptr, cols, vals } => {
                            csr_rows(indptr, cols, vals, r.clone(), x, y)
                        }
                    }
                    dot_range(&p[r], y)
                })
            },
            |a, b| a + b,
            0.0,
        )
    }
}

/// `y = Â x` on the rows `r` (`y` holds them) from the runs.
#[inline(always)]
fn run_rows(runs: &[Run], offs: &[isize], vals: &[f64], r: Range<usize>, x: &[f64], y: &mut [f64]) {
    let first = runs.partition_point(|run| run.end <= r.start);
    for run in &runs[first..] {
        if run.start >= r.end {
            break;
        }
        let (a, b) = (run.start.max(r.start), run.end.min(r.end));
        let ys = &mut y[a - r.start..b - r.start];
        let (o, v) = (
            &offs[run.t.0 as usize..run.t.1 as usize],
            &vals[run.t.0 as usize..run.t.1 as usize],
        );
        // Every row of the run has these offsets in range, so `a + o .. b + o` is inside `x`.
        let at = |k: usize| &x[a.wrapping_add_signed(o[k])..b.wrapping_add_signed(o[k])];
        match o.len() {
            0 => ys.fill(0.0),
            1 => {
                for (yi, x0) in ys.iter_mut().zip(at(0)) {
                    *yi = v[0] * x0;
                }
            }
            _ => {
                // The row's sum left to right, two entries a pass (same bits as one a pass).
                for ((yi, x0), x1) in ys.iter_mut().zip(at(0)).zip(at(1)) {
                    *yi = v[0] * x0 + v[1] * x1;
                }
                let mut k = 2;
                while k + 1 < o.len() {
                    for ((yi, x0), x1) in ys.iter_mut().zip(at(k)).zip(at(k + 1)) {
                        *yi = *yi + v[k] * x0 + v[k + 1] * x1;
                    }
                    k += 2;
                }
                if k < o.len() {
                    for (yi, x0) in ys.iter_mut().zip(at(k)) {
                        *yi += v[k] * x0;
                    }
                }
            }
        }
    }
}

/// `y = Â x` on the rows `r` (`y` holds them) from the rows form.
#[inline(always)]
fn csr_rows(
    indptr: &[usize],
    cols: &[u32],
    vals: &[f64],
    r: Range<usize>,
    x: &[f64],
    y: &mut [f64],
) {
    for (o, i) in y.iter_mut().zip(r) {
        let k = indptr[i]..indptr[i + 1];
        let mut acc = 0.0;
        for (c, v) in cols[k.clone()].iter().zip(&vals[k]) {
            acc += v * x[*c as usize];
        }
        *o = acc;
    }
}

/// The runs form, else the rows form if rows are sparse enough, else `None` (`s` empty: `S = I`).
fn form<I: Index, T: Real>(
    func: &'static str,
    a: &Csr<'_, I, T>,
    s: &[f64],
) -> Result<Option<Form>> {
    Ok(match runs(a, s) {
        Some(f) => Some(f),
        // With many entries a row the matrix's own stream dominates: the copy would cost memory
        // and a pass for little (the logistic-regression Hessian, 60 a row).
        None if a.nnz() > MAX_ROWS_FORM_DENSITY * a.n() => None,
        None => Some(rows(func, a, s)?),
    })
}

/// `a_ij s_i s_j` (`a_ij` when `s` is empty).
#[inline(always)]
fn entry(v: f64, s: &[f64], i: usize, j: usize) -> f64 {
    if s.is_empty() {
        v
    } else {
        v * (s[i] * s[j])
    }
}

/// The runs form, or `None` if runs would average fewer than [`MIN_RUN`] rows (decided as soon as
/// the count passes its bound, so an unstructured matrix costs a sixteenth of a pass).
fn runs<I: Index, T: Real>(a: &Csr<'_, I, T>, s: &[f64]) -> Option<Form> {
    let (n, nnz) = (a.n(), a.nnz());
    let (max_runs, max_entries) = (n / MIN_RUN + 8, nnz / MIN_RUN + 64);
    let (mut offs, mut vals): (Vec<isize>, Vec<f64>) = (Vec::new(), Vec::new());
    let mut runs: Vec<Run> = Vec::new();
    let mut index: HashMap<u64, Vec<(u32, u32)>> = HashMap::new();
    let (mut ro, mut rv): (Vec<isize>, Vec<f64>) = (Vec::new(), Vec::new());
    let same = |t: (u32, u32), ro: &[isize], rv: &[f64], offs: &[isize], vals: &[f64]| {
        let t = t.0 as usize..t.1 as usize;
        offs[t.clone()] == *ro
            && vals[t]
                .iter()
                .zip(rv)
                .all(|(a, b)| a.to_bits() == b.to_bits())
    };
    for i in 0..n {
        ro.clear();
        rv.clear();
        for k in a.row(i) {
            let j = a.indices()[k].ix();
            // Rows and columns are below u32::MAX, so the difference fits.
            ro.push(j as isize - i as isize);
            rv.push(entry(a.data()[k].to_f64(), s, i, j));
        }
        if let Some(last) = runs.last_mut() {
            if same(last.t, &ro, &rv, &offs, &vals) {
                last.end = i + 1;
                continue;
            }
        }
        let h = hash(&ro, &rv);
        let ids = index.entry(h).or_default();
        let t = match ids.iter().find(|&&t| same(t, &ro, &rv, &offs, &vals)) {
            Some(&t) => t,
            None => {
                if offs.len() + ro.len() > max_entries {
                    return None;
                }
                let t = (offs.len() as u32, (offs.len() + ro.len()) as u32);
                offs.extend_from_slice(&ro);
                vals.extend_from_slice(&rv);
                ids.push(t);
                t
            }
        };
        if runs.len() == max_runs {
            return None;
        }
        runs.push(Run {
            start: i,
            end: i + 1,
            t,
        });
    }
    if runs.len() * MIN_RUN > n.max(MIN_RUN) {
        return None;
    }
    Some(Form::Runs { runs, offs, vals })
}

/// A row's offsets and value bits, mixed (FxHash's multiply-rotate).
fn hash(o: &[isize], v: &[f64]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h = o.len() as u64;
    for (a, b) in o.iter().zip(v) {
        h = (h.rotate_left(5) ^ (*a as u64)).wrapping_mul(K);
        h = (h.rotate_left(5) ^ b.to_bits()).wrapping_mul(K);
    }
    h
}

/// The rows form: CSR with `u32` columns and the scaled values.
fn rows<I: Index, T: Real>(func: &'static str, a: &Csr<'_, I, T>, s: &[f64]) -> Result<Form> {
    let (n, nnz) = (a.n(), a.nnz());
    let mut indptr = scratch(func, n + 1, 0usize)?;
    let mut cols = scratch(func, nnz, 0u32)?;
    let mut vals = scratch(func, nnz, 0.0)?;
    for i in 0..n {
        let r = a.row(i);
        indptr[i + 1] = r.end;
        for k in r {
            let j = a.indices()[k].ix();
            // `n <= u32::MAX` was checked by the caller.
            cols[k] = j as u32;
            vals[k] = entry(a.data()[k].to_f64(), s, i, j);
        }
    }
    Ok(Form::Rows { indptr, cols, vals })
}

#[cfg(test)]
mod tests;
