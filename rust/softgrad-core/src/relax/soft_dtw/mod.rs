//! Soft-DTW: a differentiable dynamic time warping discrepancy between time series.
//!
//! Cuturi & Blondel, "Soft-DTW: a Differentiable Loss Function for Time-Series", ICML 2017. For
//! `x` of shape `(n, d)`, `y` of shape `(m, d)` and `γ > 0`, with the cost
//! `C_ij = ‖x_i − y_j‖²`, the table `R` (`R_00 = 0`, `R_i0 = R_0j = +∞`) follows
//! `R_ij = C_ij + softmin_γ(R_{i−1,j−1}, R_{i−1,j}, R_{i,j−1})` with
//! `softmin_γ(a) = −γ ln Σ e^{−a/γ}`, and the value is `R_nm`. As `γ → 0` it is DTW.
//! The soft-min is shifted by the smallest argument, so no finite input overflows.
//!
//! **Gradient.** `∂R_nm/∂C = E`, the expected alignment, is computed backward from the forward
//! table (the paper's Algorithm 2, `O(nm)` time, `O(m)` scratch beyond the table):
//! `E_ij = E_{i+1,j} a + E_{i,j+1} b + E_{i+1,j+1} c` with `a = e^{(R_{i+1,j} − R_ij − C_{i+1,j})/γ}`
//! and likewise `b`, `c` (the soft-min weights of the cell that read `R_ij`). Then
//! `∂/∂x_i = Σ_j E_ij 2(x_i − y_j)` and `∂/∂y_j = Σ_i E_ij 2(y_j − x_i)`.
//!
//! **Batches.** Pairs are independent; a batch of equal shapes runs in blocks of
//! 32 pairs in SIMD lanes (see `kernel`), anything else a pair at a time with the
//! same arithmetic, so a pair's value and gradient do not depend on the batch, the block or the
//! thread count. A pair with a NaN in `x` or `y` gets a NaN value and NaN gradients.

mod grad;
mod kernel;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_values;

pub use grad::vjp;
use kernel::{Forward, Geom, WIDE};

use crate::error::{Error, Result};
use crate::par::{scratch, Par, Rows};
use crate::real::Real;
use crate::simd::{level, vectorize, Level};

const FUNC: &str = "soft_dtw";

/// Batches of at least this many pairs of equal shapes run in SIMD lanes.
const MIN_WIDE: usize = 8;

/// The series lengths of a batch of pairs.
#[derive(Debug, Clone, Copy)]
pub enum Lens<'a> {
    /// `pairs` pairs; every `x` has `n` steps and every `y` has `m`.
    Uniform {
        /// Number of pairs.
        pairs: usize,
        /// Steps of each `x`.
        n: usize,
        /// Steps of each `y`.
        m: usize,
    },
    /// Pair `p` has `n[p]` steps in `x` and `m[p]` in `y` (`n` and `m` of equal length).
    Ragged {
        /// Steps of each `x`.
        n: &'a [usize],
        /// Steps of each `y`.
        m: &'a [usize],
    },
}

/// A batch of pairs of series of `d` features: `x` holds the `x` series one after the other, each
/// row-major `(steps, d)`; `y` likewise.
#[derive(Debug, Clone, Copy)]
pub struct Batch<'a> {
    /// The lengths.
    pub lens: Lens<'a>,
    /// Features per step.
    pub d: usize,
}

impl Batch<'_> {
    /// Number of pairs.
    pub fn pairs(&self) -> usize {
        match self.lens {
            Lens::Uniform { pairs, .. } => pairs,
            Lens::Ragged { n, .. } => n.len(),
        }
    }

    fn lens(&self, p: usize) -> (usize, usize) {
        match self.lens {
            Lens::Uniform { n, m, .. } => (n, m),
            Lens::Ragged { n, m } => (n[p], m[p]),
        }
    }
}

/// A block of pairs run together: pairs `p0..p0 + count` in `lanes` lanes, and where each of its
/// arrays starts.
#[derive(Debug, Clone, Copy)]
struct Block {
    p0: usize,
    count: usize,
    n: usize,
    m: usize,
    lanes: usize,
    x0: usize,
    y0: usize,
    r0: usize,
}

impl Block {
    fn table_len(&self) -> usize {
        (self.n + 1) * (self.m + 1) * self.lanes
    }
}

fn too_large() -> Error {
    Error::param(
        FUNC,
        "x",
        "is too large: the DP tables would not fit in memory",
    )
}

/// The blocks of a batch, and the lengths of `x`, `y`, the residual table and the alignments.
fn plan(batch: &Batch<'_>) -> Result<(Vec<Block>, [usize; 4])> {
    let d = batch.d;
    let pairs = batch.pairs();
    if let Lens::Ragged { n, m } = batch.lens {
        Error::check_len(FUNC, "m", m.len(), n.len())?;
    }
    let wide = matches!(batch.lens, Lens::Uniform { pairs, .. } if pairs >= MIN_WIDE);
    let per = if wide { WIDE } else { 1 };
    let mut blocks = scratch(
        FUNC,
        pairs.div_ceil(per),
        Block {
            p0: 0,
            count: 0,
            n: 0,
            m: 0,
            lanes: 0,
            x0: 0,
            y0: 0,
            r0: 0,
        },
    )?;
    let mut at = [0usize; 4];
    let add = |a: usize, b: usize| a.checked_add(b).ok_or_else(too_large);
    let mul = |a: usize, b: usize| a.checked_mul(b).ok_or_else(too_large);
    for (k, blk) in blocks.iter_mut().enumerate() {
        let p0 = k * per;
        let count = per.min(pairs - p0);
        let (n, m) = batch.lens(p0);
        *blk = Block {
            p0,
            count,
            n,
            m,
            lanes: per,
            x0: at[0],
            y0: at[1],
            r0: at[2],
        };
        at[0] = add(at[0], mul(mul(n, d)?, count)?)?;
        at[1] = add(at[1], mul(mul(m, d)?, count)?)?;
        at[2] = add(at[2], mul(mul(n + 1, m + 1)?, per)?)?;
        at[3] = add(at[3], mul(mul(n, m)?, count)?)?;
    }
    Ok((blocks, at))
}

/// Fails unless `γ` is finite and positive.
fn check_gamma(gamma: f64) -> Result<()> {
    if gamma.is_finite() && gamma > 0.0 {
        Ok(())
    } else {
        Err(Error::param(
            FUNC,
            "gamma",
            format!("must be finite and > 0, got {gamma}"),
        ))
    }
}

/// The length of the residual [`forward`] writes for [`vjp`] (the forward tables).
///
/// # Errors
/// [`Error::Shape`] for ragged lengths of different counts; [`Error::InvalidParameter`] if the
/// tables do not fit in `usize`.
pub fn residual_len(batch: &Batch<'_>) -> Result<usize> {
    Ok(plan(batch)?.1[2])
}

/// The length of the alignments [`vjp`] writes: `Σ n_p m_p`.
///
/// # Errors
/// As [`residual_len`].
pub fn alignment_len(batch: &Batch<'_>) -> Result<usize> {
    Ok(plan(batch)?.1[3])
}

/// The inputs of `count` pairs (each `len` long) lane-interleaved into `dst` (`len × lanes`);
/// lanes past `count` are zero.
fn gather<T: Real>(src: &[T], len: usize, count: usize, lanes: usize, dst: &mut [f64]) {
    if lanes == 1 {
        dst.iter_mut()
            .zip(&src[..len])
            .for_each(|(d, v)| *d = v.to_f64());
        return;
    }
    dst.fill(0.0);
    for p in 0..count {
        for (e, v) in src[p * len..(p + 1) * len].iter().enumerate() {
            dst[e * lanes + p] = v.to_f64();
        }
    }
}

/// The inverse of [`gather`] for the first `count` lanes, times `scale[p]`.
fn scatter<T: Real>(src: &[f64], len: usize, lanes: usize, scale: &[f64], dst: &mut [T]) {
    for (p, s) in scale.iter().enumerate() {
        for (e, o) in dst[p * len..(p + 1) * len].iter_mut().enumerate() {
            *o = T::from_f64(src[e * lanes + p] * s);
        }
    }
}

fn has_nan<T: Real>(s: &[T]) -> bool {
    s.iter().any(|v| v.to_f64().is_nan())
}

/// What one block writes.
struct BlockOut<'a, T> {
    blk: Block,
    out: &'a mut [T],
    table: Option<&'a mut [f64]>,
}

/// Soft-DTW values of the pairs of `batch`, written to `out` (one per pair). `res`, if given
/// ([`residual_len`] long), receives the forward tables that [`vjp`] takes.
///
/// # Errors
/// [`Error::InvalidParameter`] for a `γ` that is not finite and positive; [`Error::Shape`] for
/// arrays whose lengths disagree with `batch`; [`Error::Alloc`], [`Error::Interrupted`].
pub fn forward<T: Real>(
    x: &[T],
    y: &[T],
    batch: &Batch<'_>,
    gamma: f64,
    out: &mut [T],
    res: Option<&mut [f64]>,
    par: Par,
) -> Result<()> {
    forward_at(level(), x, y, batch, gamma, out, res, par)
}

#[allow(clippy::too_many_arguments)]
fn forward_at<T: Real>(
    lvl: Level,
    x: &[T],
    y: &[T],
    batch: &Batch<'_>,
    gamma: f64,
    out: &mut [T],
    res: Option<&mut [f64]>,
    par: Par,
) -> Result<()> {
    check_gamma(gamma)?;
    let (blocks, lens) = plan(batch)?;
    Error::check_len(FUNC, "x", x.len(), lens[0])?;
    Error::check_len(FUNC, "y", y.len(), lens[1])?;
    Error::check_len(FUNC, "out", out.len(), batch.pairs())?;
    if let Some(r) = &res {
        Error::check_len(FUNC, "res", r.len(), lens[2])?;
    }
    let d = batch.d;
    let mut ios = Vec::new();
    ios.try_reserve_exact(blocks.len())
        .map_err(|_| Error::Alloc {
            func: FUNC,
            bytes: blocks.len() * 64,
        })?;
    let (mut out_rest, mut res_rest) = (out, res);
    for blk in &blocks {
        let (o, tail) = std::mem::take(&mut out_rest).split_at_mut(blk.count);
        out_rest = tail;
        let table = match res_rest.take() {
            Some(r) => {
                let (t, tail) = r.split_at_mut(blk.table_len());
                res_rest = Some(tail);
                Some(t)
            }
            None => None,
        };
        ios.push(BlockOut {
            blk: *blk,
            out: o,
            table,
        });
    }
    let work = blocks
        .first()
        .map_or(1, |b| (b.n + 1) * (b.m + 1) * b.lanes);
    par.map_row_tasks(
        FUNC,
        ios.len(),
        work,
        1,
        Rows::of_mut(&mut ios[..], 1),
        |_, ios| {
            for io in ios.iter_mut() {
                forward_block(lvl, x, y, d, gamma, io)?;
            }
            Ok(())
        },
    )?;
    Ok(())
}

fn forward_block<T: Real>(
    lvl: Level,
    x: &[T],
    y: &[T],
    d: usize,
    gamma: f64,
    io: &mut BlockOut<'_, T>,
) -> Result<()> {
    let b = io.blk;
    let (l, nd, md) = (b.lanes, b.n * d, b.m * d);
    let xs = &x[b.x0..b.x0 + nd * b.count];
    let ys = &y[b.y0..b.y0 + md * b.count];
    let mut xb = scratch(FUNC, nd * l, 0.0)?;
    let mut yb = scratch(FUNC, md * l, 0.0)?;
    gather(xs, nd, b.count, l, &mut xb);
    gather(ys, md, b.count, l, &mut yb);
    let stride = (b.m + 1) * l;
    let mut own;
    let (table, full) = match io.table.as_deref_mut() {
        Some(t) => (t, true),
        None => {
            own = scratch(FUNC, 2 * stride, 0.0)?;
            (&mut own[..], false)
        }
    };
    let geom = Geom {
        n: b.n,
        m: b.m,
        d,
        lanes: l,
        gamma,
        fma: lvl.fma(),
    };
    vectorize(
        lvl,
        Forward {
            geom,
            xb: &xb,
            yb: &yb,
            table,
            full,
        },
    );
    let last = if full { b.n } else { b.n & 1 };
    let rnm = &table[last * stride + b.m * l..][..l];
    for p in 0..b.count {
        let nan = has_nan(&xs[p * nd..(p + 1) * nd]) || has_nan(&ys[p * md..(p + 1) * md]);
        io.out[p] = T::from_f64(if nan { f64::NAN } else { rnm[p] });
    }
    Ok(())
}
