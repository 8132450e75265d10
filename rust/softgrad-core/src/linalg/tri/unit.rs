//! Unit triangular sweeps over runs of identical rows: the factors of a preconditioner in the
//! scaled system of conjugate gradients.
//!
//! With `S` a positive diagonal, CG on `Â = S A S` preconditioned by `M̂ = S M S` is CG on `A`
//! preconditioned by `M` in exact arithmetic (`x = S x̂`; see `linalg/cg.rs`). Chosen well, `S`
//! makes `M̂` a product of two *unit* triangular factors:
//!
//! - IC(0), `M = L Lᵀ`: with `S = diag(L)⁻¹`, `M̂ = L̂ L̂ᵀ`, `L̂ = S L` (`l̂_ij = l_ij / l_ii`);
//! - SSOR, `M = (D + ωL) D⁻¹ (D + ωU) / (ω(2 − ω))`: with `S = D^{-1/2}`,
//!   `M̂ = (I + ωL̂)(I + ωÛ) / (ω(2 − ω))`, `L̂`, `Û` the strict parts of `Â`; the constant is
//!   dropped (CG's iterates do not change when `M` is multiplied by a constant).
//!
//! A unit sweep needs neither the diagonal nor the right side's factor, and on a regular grid the
//! rows of `L̂` repeat (on the 500 × 500 Poisson matrix 94 % of IC(0)'s diagonal is one value):
//! rows that share the column offsets and values of their strict triangle form *runs* sharing a
//! template, as in [`Packed`](crate::linalg::packed::Packed), so a sweep streams the vectors
//! only. Each row is `y_i = x_i − Σ_far l̂_ij y_j − l̂_{i,i∓1} y_{i∓1}`, the previous row's term
//! last and from a register (the chain from row to row is one multiply and one subtraction);
//! rows run in order on the calling thread, so the result does not depend on the thread count.
//! When runs would average fewer than [`MIN_RUN`] rows there is no unit form (the
//! preconditioner's own sweeps run).

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::linalg::op::LinOp;
use crate::linalg::tri::Pattern;
use crate::linalg::vec::dot_range;
use crate::par::{scratch, Par, REDUCE_PIECE};

/// The fewest rows a run averages for the unit form to be taken. A run costs about 56 bytes
/// (its record and a template), the row form of a sweep about 32 bytes a row on a grid matrix, so
/// runs pay from two rows; four leaves room for the loop's cost per run. (Near a grid's edge
/// IC(0)'s values settle within ~15 rows: the 150² Poisson factor averages 9 rows a run, 500²
/// about 30.)
pub const MIN_RUN: usize = 4;

/// Consecutive rows `start..end` sharing template `t`.
#[derive(Debug, Clone, Copy)]
struct Run {
    start: usize,
    end: usize,
    t: usize,
}

/// A template: the far entries `offs[a..b]`, `vals[a..b]` and the previous row's coefficient.
#[derive(Debug, Clone, Copy)]
struct Template {
    a: u32,
    b: u32,
    near: f64,
}

/// One unit triangle as runs.
#[derive(Debug, Clone)]
struct Runs {
    runs: Vec<Run>,
    tpl: Vec<Template>,
    offs: Vec<isize>,
    vals: Vec<f64>,
}

impl Runs {
    /// The strict lower (`lower`) or upper triangle of `vals` on `pat` as runs, or `None` if runs
    /// average fewer than `MIN_RUN` rows.
    fn build(pat: &Pattern, vals: &[f64], lower: bool) -> Option<Runs> {
        let n = pat.n();
        let (max_runs, max_entries) = (n / MIN_RUN + 8, pat.indices.len() / MIN_RUN + 64);
        let mut out = Runs {
            runs: Vec::new(),
            tpl: Vec::new(),
            offs: Vec::new(),
            vals: Vec::new(),
        };
        let mut index: HashMap<u64, Vec<usize>> = HashMap::new();
        let (mut ro, mut rv): (Vec<isize>, Vec<f64>) = (Vec::new(), Vec::new());
        let prev = |i: usize| if lower { i.wrapping_sub(1) } else { i + 1 };
        for i in 0..n {
            ro.clear();
            rv.clear();
            let mut near = 0.0;
            let tri = if lower {
                pat.indptr[i]..pat.diag[i]
            } else {
                pat.diag[i] + 1..pat.indptr[i + 1]
            };
            for k in tri {
                let j = pat.indices[k] as usize;
                if j == prev(i) {
                    near = vals[k];
                } else {
                    // Rows and columns are below u32::MAX, so the difference fits.
                    ro.push(j as isize - i as isize);
                    rv.push(vals[k]);
                }
            }
            let same = |t: &Template, offs: &[isize], vv: &[f64]| {
                let r = t.a as usize..t.b as usize;
                t.near.to_bits() == near.to_bits()
                    && offs[r.clone()] == *ro
                    && vv[r]
                        .iter()
                        .zip(&rv)
                        .all(|(a, b)| a.to_bits() == b.to_bits())
            };
            if let Some(last) = out.runs.last_mut() {
                if same(&out.tpl[last.t], &out.offs, &out.vals) {
                    last.end = i + 1;
                    continue;
                }
            }
            let h = hash(&ro, &rv, near);
            let ids = index.entry(h).or_default();
            let t = match ids
                .iter()
                .find(|&&t| same(&out.tpl[t], &out.offs, &out.vals))
            {
                Some(&t) => t,
                None => {
                    if out.offs.len() + ro.len() > max_entries {
                        return None;
                    }
                    out.tpl.push(Template {
                        a: out.offs.len() as u32,
                        b: (out.offs.len() + ro.len()) as u32,
                        near,
                    });
                    out.offs.extend_from_slice(&ro);
                    out.vals.extend_from_slice(&rv);
                    ids.push(out.tpl.len() - 1);
                    out.tpl.len() - 1
                }
            };
            if out.runs.len() == max_runs {
                return None;
            }
            out.runs.push(Run {
                start: i,
                end: i + 1,
                t,
            });
        }
        if out.runs.len() * MIN_RUN > n.max(MIN_RUN) {
            return None;
        }
        Some(out)
    }

    /// The rows `lo..hi` of one run in sweep order (`down`: increasing), `x(y, i)` the right
    /// side of row `i` (read before `y_i` is written, so it may be `y_i` itself: the in-place
    /// upper sweep); `prev` carries the previous row's value.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn sweep_run(
        &self,
        run: &Run,
        lo: usize,
        hi: usize,
        down: bool,
        x: impl Fn(&[f64], usize) -> f64,
        y: &mut [f64],
        prev: &mut f64,
    ) {
        let t = self.tpl[run.t];
        let (o, v) = (
            &self.offs[t.a as usize..t.b as usize],
            &self.vals[t.a as usize..t.b as usize],
        );
        let (a, b) = (run.start.max(lo), run.end.min(hi));
        let vn = t.near;
        let mut p = *prev;
        // Every row of the run has these offsets in range.
        let at = |i: usize, k: usize| i.wrapping_add_signed(o[k]);
        macro_rules! rows {
            ($iter:expr, |$i:ident| $far:expr) => {
                for $i in $iter {
                    p = $far - vn * p;
                    y[$i] = p;
                }
            };
        }
        match (o.len(), down) {
            (0, true) => rows!(a..b, |i| x(y, i)),
            (0, false) => rows!((a..b).rev(), |i| x(y, i)),
            (1, true) => rows!(a..b, |i| x(y, i) - v[0] * y[at(i, 0)]),
            (1, false) => rows!((a..b).rev(), |i| x(y, i) - v[0] * y[at(i, 0)]),
            (_, true) => rows!(a..b, |i| far(x(y, i), o, v, i, y)),
            (_, false) => rows!((a..b).rev(), |i| far(x(y, i), o, v, i, y)),
        }
        *prev = p;
    }
}

/// `x_i − Σ_k v_k y_{i + o_k}`, left to right.
#[inline(always)]
fn far(xi: f64, o: &[isize], v: &[f64], i: usize, y: &[f64]) -> f64 {
    let mut acc = xi;
    for (ok, vk) in o.iter().zip(v) {
        acc -= vk * y[i.wrapping_add_signed(*ok)];
    }
    acc
}

/// A row's far offsets and value bits and the near coefficient, mixed (FxHash's multiply-rotate).
fn hash(o: &[isize], v: &[f64], near: f64) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h = (o.len() as u64 ^ near.to_bits()).wrapping_mul(K);
    for (a, b) in o.iter().zip(v) {
        h = (h.rotate_left(5) ^ (*a as u64)).wrapping_mul(K);
        h = (h.rotate_left(5) ^ b.to_bits()).wrapping_mul(K);
    }
    h
}

/// `z = Û⁻¹ L̂⁻¹ x` for unit triangular `L̂` (below the diagonal of a pattern) and `Û` (above it),
/// both as runs (see the module docs).
#[derive(Debug, Clone)]
pub struct UnitPair {
    n: usize,
    lo: Runs,
    up: Runs,
}

impl UnitPair {
    /// The pair whose strict lower values are `vals` below the diagonal of `pat` and strict upper
    /// values `vals` above it (the diagonal's values are not read), or `None` when either
    /// triangle's runs would be too short to pay.
    pub fn new(pat: &Pattern, vals: &[f64]) -> Option<UnitPair> {
        if vals.len() != pat.indices.len() {
            return None;
        }
        Some(UnitPair {
            n: pat.n(),
            lo: Runs::build(pat, vals, true)?,
            up: Runs::build(pat, vals, false)?,
        })
    }

    /// `z = Û⁻¹ L̂⁻¹ x`, with `parts[k] = Σ x_i z_i` over the `k`-th piece of [`REDUCE_PIECE`]
    /// rows when given (summed while the piece is in cache).
    fn run(&self, x: &[f64], z: &mut [f64], mut parts: Option<&mut [f64]>) {
        let n = self.n;
        let mut prev = 0.0;
        for run in &self.lo.runs {
            self.lo
                .sweep_run(run, 0, n, true, |_, i| x[i], z, &mut prev);
        }
        // The upper sweep in place on `z`, piece by piece from the last, so each piece's dot
        // product is taken as soon as its rows are final.
        let mut prev = 0.0;
        let mut ri = self.up.runs.len();
        for k in (0..n.div_ceil(REDUCE_PIECE)).rev() {
            let (lo, hi) = (k * REDUCE_PIECE, ((k + 1) * REDUCE_PIECE).min(n));
            while ri > 0 && self.up.runs[ri - 1].end > lo {
                let run = self.up.runs[ri - 1];
                self.up
                    .sweep_run(&run, lo, hi, false, |y, i| y[i], z, &mut prev);
                if run.start >= lo {
                    ri -= 1;
                } else {
                    break;
                }
            }
            if let Some(p) = parts.as_deref_mut() {
                p[k] = dot_range(&x[lo..hi], &z[lo..hi]);
            }
        }
    }
}

impl LinOp for UnitPair {
    fn dim(&self) -> usize {
        self.n
    }

    fn apply(&self, x: &[f64], y: &mut [f64], _par: Par) -> Result<()> {
        const F: &str = "Preconditioner.solve";
        Error::check_len(F, "x", x.len(), self.n)?;
        Error::check_len(F, "out", y.len(), self.n)?;
        self.run(x, y, None);
        Ok(())
    }

    fn apply_and_dot(
        &self,
        func: &'static str,
        x: &[f64],
        y: &mut [f64],
        _par: Par,
    ) -> Result<f64> {
        Error::check_len(func, "x", x.len(), self.n)?;
        Error::check_len(func, "out", y.len(), self.n)?;
        let mut parts = scratch(func, self.n.div_ceil(REDUCE_PIECE), 0.0)?;
        self.run(x, y, Some(&mut parts));
        Ok(parts.iter().fold(0.0, |a, b| a + b))
    }
}

#[cfg(test)]
mod tests;
