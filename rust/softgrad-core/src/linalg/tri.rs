//! Sparse triangular solves on an owned copy of a matrix's pattern, with level scheduling.
//!
//! [`TriPair`] applies `z = s · U⁻¹ (m ⊙ L⁻¹ x)` where `L` and `U` share one CSR pattern (the
//! strict lower part, the diagonal, the strict upper part): the shape of SSOR, IC(0) and ILU(0).
//!
//! **Level scheduling.** Row `i` of the lower solve needs the rows `j < i` it references: its
//! level is one more than theirs (zero for a row with none), computed once at set-up; the rows of
//! one level are independent. A level with enough work ([`TriPair::set_min_level_work`]) is split
//! into fixed pieces run in parallel (each piece writes a scratch slice, then the values are
//! scattered); the other levels run on the calling thread. Each row is the same sum, in the same
//! column order, whichever schedule runs it, so the result is bit-identical for any thread count
//! and equal to the plain sequential sweep, which runs when no level is wide (or on one thread).
//!
//! **The sweeps.** Each triangle is stored on its own, row-wise in the order its sweep visits the
//! columns (4-byte positions and columns, the values divided by the row's diagonal, the right
//! side's factor `s / d_i` or `m_i / d_i` precomputed), so a row is
//! `y_i = c_i x_i − Σ_j l̃_ij y_j` with no division, no permutation and no pass over the other
//! triangle. The sequential sweep is latency-bound (each row waits for the one before it): the
//! entry of the previous row of the sweep is kept last and read from a register instead of
//! memory, so the chain per row is one multiply and one subtraction. The fused
//! [`TriPair::solve_dot`] also returns `xᵀz`, summed in the fixed pieces of
//! [`dot`](crate::linalg::vec::dot) while `z` is in cache, so it equals the separate dot product
//! bit for bit.
//!
//! On the 5-point Poisson matrix in natural order the levels are the anti-diagonals of the grid
//! (`2m − 1` levels of at most `m` rows): for `m = 500`, no level has enough work to pay for the
//! synchronisation, and the sweep runs sequentially (measured: see `benches/linalg_precond.rs`).

use std::sync::OnceLock;

use crate::error::{Error, Result};
use crate::linalg::csr::{Csr, Index};
use crate::linalg::vec::dot_range;
use crate::par::{scratch, Par, Rows, PAR_MIN_ELEMS, REDUCE_PIECE};
use crate::real::Real;

#[cfg(test)]
mod tests;
pub mod unit;

/// An owned copy of a square matrix's pattern with the position of each diagonal entry.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// Row starts (`n + 1`).
    pub indptr: Vec<usize>,
    /// Column indices (sorted within each row).
    pub indices: Vec<u32>,
    /// The position of `(i, i)` in `indices`.
    pub diag: Vec<usize>,
}

impl Pattern {
    /// The pattern of `a`; every diagonal entry must be stored (else a `ValueError` naming the
    /// row: a zero diagonal).
    pub fn of<I: Index, T: Real>(func: &'static str, a: &Csr<'_, I, T>) -> Result<Pattern> {
        let n = a.n();
        if n > u32::MAX as usize {
            return Err(Error::param(
                func,
                "A",
                format!("has {n} rows, more than 2^32 - 1"),
            ));
        }
        let mut indptr = scratch(func, n + 1, 0usize)?;
        let mut indices = scratch(func, a.nnz(), 0u32)?;
        let mut diag = scratch(func, n, 0usize)?;
        for (o, c) in indices.iter_mut().zip(a.indices()) {
            *o = c.ix() as u32;
        }
        for i in 0..n {
            let r = a.row(i);
            indptr[i + 1] = r.end;
            diag[i] = a.find(i, i).ok_or_else(|| {
                Error::param(
                    func,
                    "A",
                    format!("has a zero diagonal entry at row {i} (not stored)"),
                )
            })?;
        }
        Ok(Pattern {
            indptr,
            indices,
            diag,
        })
    }

    /// The number of rows.
    pub fn n(&self) -> usize {
        self.diag.len()
    }
}

/// The rows grouped by level, each level in increasing row order.
#[derive(Debug, Clone)]
struct Schedule {
    order: Vec<u32>,
    level_ptr: Vec<usize>,
    /// Stored entries in the rows of each level (the work of a level).
    work: Vec<usize>,
}

impl Schedule {
    fn build(func: &'static str, p: &Pattern, lower: bool) -> Result<Schedule> {
        let n = p.n();
        let mut level = scratch(func, n, 0u32)?;
        let rows: Box<dyn Iterator<Item = usize>> = if lower {
            Box::new(0..n)
        } else {
            Box::new((0..n).rev())
        };
        let mut depth = 0;
        for i in rows {
            let r = if lower {
                p.indptr[i]..p.diag[i]
            } else {
                p.diag[i] + 1..p.indptr[i + 1]
            };
            let l = p.indices[r]
                .iter()
                .map(|&j| level[j as usize] + 1)
                .max()
                .unwrap_or(0);
            level[i] = l;
            depth = depth.max(l as usize + 1);
        }
        let mut level_ptr = scratch(func, depth + 1, 0usize)?;
        let mut work = scratch(func, depth, 0usize)?;
        for (i, &l) in level.iter().enumerate() {
            level_ptr[l as usize + 1] += 1;
            work[l as usize] += p.indptr[i + 1] - p.indptr[i];
        }
        for l in 0..depth {
            level_ptr[l + 1] += level_ptr[l];
        }
        let mut next = level_ptr.clone();
        let mut order = scratch(func, n, 0u32)?;
        for (i, &l) in level.iter().enumerate() {
            order[next[l as usize]] = i as u32;
            next[l as usize] += 1;
        }
        Ok(Schedule {
            order,
            level_ptr,
            work,
        })
    }

    fn levels(&self) -> usize {
        self.work.len()
    }
}

/// One triangle in the order of its sweep: row `i`'s entries divided by the diagonal, the entry
/// of the previous row of the sweep (`i − 1` going down, `i + 1` going up) apart in `near`.
#[derive(Debug, Clone)]
struct Sweep {
    ptr: Vec<u32>,
    cols: Vec<u32>,
    vals: Vec<f64>,
    /// The coefficient of the previous row of the sweep (0 where not stored).
    near: Vec<f64>,
    /// The factor of the right side: `s / d_i` (lower), `m_i / d_i` (upper), `s` (unit lower).
    rhs: Vec<f64>,
}

impl Sweep {
    /// The strict lower (`lower`) or upper triangle of `vals` on `pat`, scaled as in the module
    /// docs, columns in increasing order.
    fn build(
        func: &'static str,
        pat: &Pattern,
        vals: &[f64],
        lower: bool,
        inv: Option<&[f64]>,
        rhs: Vec<f64>,
    ) -> Result<Sweep> {
        let n = pat.n();
        let tri = |i: usize| {
            if lower {
                pat.indptr[i]..pat.diag[i]
            } else {
                pat.diag[i] + 1..pat.indptr[i + 1]
            }
        };
        let prev = |i: usize| if lower { i.wrapping_sub(1) } else { i + 1 };
        let far = |i: usize| tri(i).filter(move |&k| pat.indices[k] as usize != prev(i));
        let nnz: usize = (0..n).map(|i| far(i).count()).sum();
        if nnz > u32::MAX as usize {
            return Err(Error::param(
                func,
                "A",
                format!("has {nnz} entries in a triangle, more than 2^32 - 1"),
            ));
        }
        let mut ptr = scratch(func, n + 1, 0u32)?;
        let mut cols = scratch(func, nnz, 0u32)?;
        let mut vv = scratch(func, nnz, 0.0)?;
        let mut near = scratch(func, n, 0.0)?;
        let mut at = 0;
        for i in 0..n {
            let f = inv.map_or(1.0, |d| d[i]);
            for k in tri(i) {
                if pat.indices[k] as usize == prev(i) {
                    near[i] = vals[k] * f;
                } else {
                    cols[at] = pat.indices[k];
                    vv[at] = vals[k] * f;
                    at += 1;
                }
            }
            ptr[i + 1] = at as u32;
        }
        Ok(Sweep {
            ptr,
            cols,
            vals: vv,
            near,
            rhs,
        })
    }

    /// `c_i y_i − Σ_far l̃_ij y_j` (everything but the previous row's term).
    #[inline(always)]
    fn far(&self, i: usize, y: &[f64]) -> f64 {
        let (s, e) = (self.ptr[i] as usize, self.ptr[i + 1] as usize);
        let mut acc = y[i] * self.rhs[i];
        for (&c, &v) in self.cols[s..e].iter().zip(&self.vals[s..e]) {
            acc -= v * y[c as usize];
        }
        acc
    }

    /// Row `i` when the previous row of the sweep may not be done (the level schedule): that
    /// row's value is read only where it is coupled (else any finite value would do, as
    /// `0 · y = 0`).
    #[inline(always)]
    fn row_any(&self, i: usize, prev: usize, y: &[f64]) -> f64 {
        let nv = self.near[i];
        let yp = if nv != 0.0 { y[prev] } else { 0.0 };
        self.far(i, y) - nv * yp
    }
}

/// `z = s · U⁻¹ (m ⊙ L⁻¹ x)` on one pattern (see the module docs).
#[derive(Debug, Clone)]
pub struct TriPair {
    pat: Pattern,
    /// Values on the pattern: `L` below the diagonal, `U` above, the diagonal shared.
    vals: Vec<f64>,
    /// How the sweeps are made: `L`'s diagonal is 1, the middle factor `m`, the scale `s`.
    unit_lower: bool,
    mid: Option<Vec<f64>>,
    scale: f64,
    /// The lower and upper sweeps, built at the first solve (conjugate gradients through the
    /// scaled form never needs them: `linalg/tri/unit.rs`).
    sweeps: OnceLock<(Sweep, Sweep)>,
    lower: Schedule,
    upper: Schedule,
    min_level_work: usize,
}

/// Levels with fewer stored entries run on the calling thread. Measured on two cores: forcing the
/// level schedule on the 500 x 500 Poisson matrix (999 levels of at most 500 rows) makes the IC(0)
/// solve 2.5x slower than the row sweep (30.6 ms against 12.4 ms, `benches/linalg_precond.rs`), and
/// on the logistic-regression Hessian of `bench_precond.py` (156 levels of ~15 000 entries) two
/// threads cost more CPU than one for no gain: a level must hold a lot of work to pay for its
/// synchronisation, so only very wide levels are split.
pub const MIN_LEVEL_WORK: usize = 4 * PAR_MIN_ELEMS;

/// Pieces of a wide level run as tasks of this many rows.
const LEVEL_PIECE: usize = 512;

impl TriPair {
    /// A solver for `pat` with values `vals` (`L` below the diagonal, `U` on and above it; the
    /// diagonal of `L` is the stored one, or 1 with `unit_lower`); builds both level schedules
    /// (the sweeps at the first solve).
    pub fn new(
        func: &'static str,
        pat: Pattern,
        vals: Vec<f64>,
        unit_lower: bool,
        mid: Option<Vec<f64>>,
        scale: f64,
    ) -> Result<TriPair> {
        let n = pat.n();
        Error::check_len(func, "values", vals.len(), pat.indices.len())?;
        if let Some(m) = &mid {
            Error::check_len(func, "mid", m.len(), n)?;
        }
        let lower = Schedule::build(func, &pat, true)?;
        let upper = Schedule::build(func, &pat, false)?;
        Ok(TriPair {
            pat,
            vals,
            unit_lower,
            mid,
            scale,
            sweeps: OnceLock::new(),
            lower,
            upper,
            min_level_work: MIN_LEVEL_WORK,
        })
    }

    /// The lower and upper sweeps (built once).
    fn sweeps(&self, func: &'static str) -> Result<&(Sweep, Sweep)> {
        if let Some(s) = self.sweeps.get() {
            return Ok(s);
        }
        let (pat, vals, n) = (&self.pat, &self.vals, self.pat.n());
        let mut inv = scratch(func, n, 0.0)?;
        for (o, &d) in inv.iter_mut().zip(&pat.diag) {
            *o = 1.0 / vals[d];
        }
        let mut rl = scratch(func, n, self.scale)?;
        if !self.unit_lower {
            for (o, d) in rl.iter_mut().zip(&inv) {
                *o *= d;
            }
        }
        let mut ru = inv.clone();
        if let Some(m) = &self.mid {
            for (o, mi) in ru.iter_mut().zip(m) {
                *o *= mi;
            }
        }
        let lo = Sweep::build(
            func,
            pat,
            vals,
            true,
            (!self.unit_lower).then_some(&inv[..]),
            rl,
        )?;
        let up = Sweep::build(func, pat, vals, false, Some(&inv), ru)?;
        // Two threads building at once both succeed; one keeps its copy.
        Ok(self.sweeps.get_or_init(|| (lo, up)))
    }

    /// The pattern.
    pub fn pattern(&self) -> &Pattern {
        &self.pat
    }

    /// The values on the pattern.
    pub fn values(&self) -> &[f64] {
        &self.vals
    }

    /// The number of levels of the lower and of the upper solve.
    pub fn levels(&self) -> (usize, usize) {
        (self.lower.levels(), self.upper.levels())
    }

    /// Levels with at least this many stored entries run in parallel (default
    /// [`MIN_LEVEL_WORK`]); `0` forces the level schedule whenever threads are available (for
    /// benchmarks and tests). The result does not change.
    pub fn set_min_level_work(&mut self, work: usize) {
        self.min_level_work = work;
    }

    /// Whether a level of either solve is wide enough to run in parallel (given threads).
    pub fn has_wide_level(&self) -> bool {
        let w = self.min_level_work.max(1);
        self.lower
            .work
            .iter()
            .chain(&self.upper.work)
            .any(|&l| l >= w)
    }

    /// Whether `sched` has a level worth running in parallel under `par`.
    fn leveled(&self, sched: &Schedule, par: Par) -> bool {
        par.threads() > 1 && sched.work.iter().any(|&w| w >= self.min_level_work.max(1))
    }

    /// One triangular sweep in place on `y`, by levels (parallel where wide) or in row order;
    /// with `dot = Some((x, parts))` (upper sweep in row order only), `parts[k]` receives
    /// `Σ x_i y_i` over the `k`-th piece of [`REDUCE_PIECE`] rows as soon as it is done.
    fn sweep(
        &self,
        func: &'static str,
        y: &mut [f64],
        tmp: &mut [f64],
        lower: bool,
        dot: Option<(&[f64], &mut [f64])>,
        par: Par,
    ) -> Result<()> {
        let n = self.pat.n();
        let (lo, up) = self.sweeps(func)?;
        let (sched, sw) = if lower {
            (&self.lower, lo)
        } else {
            (&self.upper, up)
        };
        if !self.leveled(sched, par) {
            // The previous row's value stays in a register: the chain from row to row is one
            // multiply and one subtraction.
            let mut prev = 0.0;
            if lower {
                for i in 0..n {
                    prev = sw.far(i, y) - sw.near[i] * prev;
                    y[i] = prev;
                }
            } else {
                let mut dot = dot;
                for i in (0..n).rev() {
                    prev = sw.far(i, y) - sw.near[i] * prev;
                    y[i] = prev;
                    if i % REDUCE_PIECE == 0 {
                        if let Some((x, parts)) = dot.as_mut() {
                            let r = i..(i + REDUCE_PIECE).min(n);
                            parts[i / REDUCE_PIECE] = dot_range(&x[r.clone()], &y[r]);
                        }
                    }
                }
            }
            return Ok(());
        }
        for l in 0..sched.levels() {
            let (a, b) = (sched.level_ptr[l], sched.level_ptr[l + 1]);
            let rows = &sched.order[a..b];
            if sched.work[l] >= self.min_level_work.max(1) {
                let t = &mut tmp[a..b];
                let yr: &[f64] = y;
                par.map_chunks(func, b - a, LEVEL_PIECE, Rows::of_mut(t, 1), |rg, t| {
                    for (o, &i) in t.iter_mut().zip(&rows[rg]) {
                        let i = i as usize;
                        *o = sw.row_any(i, if lower { i.wrapping_sub(1) } else { i + 1 }, yr);
                    }
                })?;
                for (&i, &v) in rows.iter().zip(&tmp[a..b]) {
                    y[i as usize] = v;
                }
            } else {
                for &i in rows {
                    let i = i as usize;
                    y[i] = sw.row_any(i, if lower { i.wrapping_sub(1) } else { i + 1 }, y);
                }
            }
        }
        if let Some((x, parts)) = dot {
            for (k, o) in parts.iter_mut().enumerate() {
                let r = k * REDUCE_PIECE..((k + 1) * REDUCE_PIECE).min(n);
                *o = dot_range(&x[r.clone()], &y[r]);
            }
        }
        Ok(())
    }

    fn run(
        &self,
        func: &'static str,
        x: &[f64],
        z: &mut [f64],
        dot: Option<&mut [f64]>,
        par: Par,
    ) -> Result<()> {
        let n = self.pat.n();
        Error::check_len(func, "x", x.len(), n)?;
        Error::check_len(func, "out", z.len(), n)?;
        z.copy_from_slice(x);
        let mut tmp = if self.leveled(&self.lower, par) || self.leveled(&self.upper, par) {
            scratch(func, n, 0.0)?
        } else {
            Vec::new()
        };
        self.sweep(func, z, &mut tmp, true, None, par)?;
        self.sweep(func, z, &mut tmp, false, dot.map(|p| (x, p)), par)
    }

    /// `z = s · U⁻¹ (m ⊙ L⁻¹ x)`.
    pub fn solve(&self, func: &'static str, x: &[f64], z: &mut [f64], par: Par) -> Result<()> {
        self.run(func, x, z, None, par)
    }

    /// [`solve`](Self::solve), returning `xᵀz` (bit-identical to
    /// [`dot`](crate::linalg::vec::dot) of `x` and `z`, for any thread count).
    pub fn solve_dot(&self, func: &'static str, x: &[f64], z: &mut [f64], par: Par) -> Result<f64> {
        let mut parts = scratch(func, x.len().div_ceil(REDUCE_PIECE), 0.0)?;
        self.run(func, x, z, Some(&mut parts), par)?;
        Ok(parts.iter().fold(0.0, |a, b| a + b))
    }
}
