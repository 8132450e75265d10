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
//! On the 5-point Poisson matrix in natural order the levels are the anti-diagonals of the grid
//! (`2m − 1` levels of at most `m` rows): for `m = 500`, no level has enough work to pay for the
//! synchronisation, and the sweep runs sequentially (measured: see `benches/linalg_precond.rs`).

use crate::error::{Error, Result};
use crate::linalg::csr::{Csr, Index};
use crate::par::{scratch, Par, Rows, PAR_MIN_ELEMS};
use crate::real::Real;

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

/// `z = s · U⁻¹ (m ⊙ L⁻¹ x)` on one pattern (see the module docs).
#[derive(Debug, Clone)]
pub struct TriPair {
    pat: Pattern,
    /// Values on the pattern: `L` below the diagonal, `U` above, the diagonal shared.
    vals: Vec<f64>,
    /// `L` has a unit diagonal (ILU) rather than the stored one (IC, SSOR).
    unit_lower: bool,
    /// The middle scaling `m` (SSOR's `D`), if any.
    mid: Option<Vec<f64>>,
    /// The final scale `s`.
    scale: f64,
    /// `1 / diag`: a multiply on the solves' dependency chain instead of a division (measured:
    /// the sweeps are latency-bound, each row waiting for the previous one).
    inv_diag: Vec<f64>,
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
    /// A solver for `pat` with values `vals`; builds both level schedules.
    pub fn new(
        func: &'static str,
        pat: Pattern,
        vals: Vec<f64>,
        unit_lower: bool,
        mid: Option<Vec<f64>>,
        scale: f64,
    ) -> Result<TriPair> {
        Error::check_len(func, "values", vals.len(), pat.indices.len())?;
        let lower = Schedule::build(func, &pat, true)?;
        let upper = Schedule::build(func, &pat, false)?;
        let mut inv_diag = scratch(func, pat.n(), 0.0)?;
        for (o, &d) in inv_diag.iter_mut().zip(&pat.diag) {
            *o = 1.0 / vals[d];
        }
        Ok(TriPair {
            inv_diag,
            pat,
            vals,
            unit_lower,
            mid,
            scale,
            lower,
            upper,
            min_level_work: MIN_LEVEL_WORK,
        })
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

    #[inline(always)]
    fn lower_row(&self, i: usize, y: &[f64]) -> f64 {
        let p = &self.pat;
        let (s, d) = (p.indptr[i], p.diag[i]);
        let mut acc = y[i];
        for (&c, &v) in p.indices[s..d].iter().zip(&self.vals[s..d]) {
            acc -= v * y[c as usize];
        }
        if self.unit_lower {
            acc
        } else {
            acc * self.inv_diag[i]
        }
    }

    #[inline(always)]
    fn upper_row(&self, i: usize, y: &[f64]) -> f64 {
        let p = &self.pat;
        let (d, e) = (p.diag[i], p.indptr[i + 1]);
        let mut acc = y[i];
        for (&c, &v) in p.indices[d + 1..e].iter().zip(&self.vals[d + 1..e]) {
            acc -= v * y[c as usize];
        }
        acc * self.inv_diag[i]
    }

    /// Whether `sched` has a level worth running in parallel under `par`.
    fn leveled(&self, sched: &Schedule, par: Par) -> bool {
        par.threads() > 1 && sched.work.iter().any(|&w| w >= self.min_level_work.max(1))
    }

    /// One triangular sweep in place on `y`, by levels (parallel where wide) or in row order.
    fn sweep(
        &self,
        func: &'static str,
        y: &mut [f64],
        tmp: &mut [f64],
        lower: bool,
        par: Par,
    ) -> Result<()> {
        let n = self.pat.n();
        let sched = if lower { &self.lower } else { &self.upper };
        let row = |i: usize, y: &[f64]| {
            if lower {
                self.lower_row(i, y)
            } else {
                self.upper_row(i, y)
            }
        };
        if !self.leveled(sched, par) {
            if lower {
                for i in 0..n {
                    y[i] = row(i, y);
                }
            } else {
                for i in (0..n).rev() {
                    y[i] = row(i, y);
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
                        *o = row(i as usize, yr);
                    }
                })?;
                for (&i, &v) in rows.iter().zip(&tmp[a..b]) {
                    y[i as usize] = v;
                }
            } else {
                for &i in rows {
                    y[i as usize] = row(i as usize, y);
                }
            }
        }
        Ok(())
    }

    /// `z = s · U⁻¹ (m ⊙ L⁻¹ x)`.
    pub fn solve(&self, func: &'static str, x: &[f64], z: &mut [f64], par: Par) -> Result<()> {
        let n = self.pat.n();
        Error::check_len(func, "x", x.len(), n)?;
        Error::check_len(func, "out", z.len(), n)?;
        z.copy_from_slice(x);
        let mut tmp = if self.leveled(&self.lower, par) || self.leveled(&self.upper, par) {
            scratch(func, n, 0.0)?
        } else {
            Vec::new()
        };
        self.sweep(func, z, &mut tmp, true, par)?;
        if let Some(m) = &self.mid {
            for (zi, mi) in z.iter_mut().zip(m) {
                *zi *= mi;
            }
        }
        self.sweep(func, z, &mut tmp, false, par)?;
        if self.scale != 1.0 {
            for zi in z.iter_mut() {
                *zi *= self.scale;
            }
        }
        Ok(())
    }
}
