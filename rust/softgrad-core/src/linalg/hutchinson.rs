//! Randomized estimates of the diagonal and the trace of an operator seen only through `A x`.
//!
//! Hutchinson (1989): for probes `z` with independent entries of mean 0 and variance 1,
//! `E[zᵀ A z] = tr A` and `E[z ∘ A z] = diag A`. With `N` probes the estimates are the sample means
//! and their standard errors the sample standard deviations over `√N`. For Rademacher probes
//! (`±1`) and symmetric `A`, `Var(zᵀAz) = 2 Σ_{i≠j} A_ij²` (Gaussian: `2 Σ_ij A_ij²`) and
//! `Var(z_i (Az)_i) = Σ_{j≠i} A_ij²`.
//!
//! Hutch++ (Meyer, Musco, Musco & Woodruff 2021) spends a third of the products on a sketch
//! `Q = orth(A S)`, a third on `tr(QᵀAQ)` and the rest on Hutchinson for the deflated remainder
//! `(I − QQᵀ) A (I − QQᵀ)`: for matrices with decaying spectra its error falls as `1/N` instead of
//! `1/√N`. Its standard error is that of the remainder term.
//!
//! **Determinism.** Probe `s` of seed `seed` is a function of `(seed, s)` only ([`probe`], a
//! counter-based generator), samples are accumulated in index order (Welford), and reductions run
//! in fixed pieces: the result is identical whatever the batch size and the thread count.

use crate::linalg::lanczos::blas;
use crate::linalg::LinOp;
use crate::par::{scratch, Rows, REDUCE_PIECE};
use crate::{rng, Error, Par, Result};

/// The name errors carry.
const F: &str = "hutchinson";

/// The distribution of the probe entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distribution {
    /// `±1` with equal probability: the smallest variance for the trace (Hutchinson 1989).
    Rademacher,
    /// Standard normal (Box–Muller).
    Gaussian,
}

/// What to estimate, and how.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Products with `A` to spend (`>= 1`; Hutch++ needs `>= 3`).
    pub n_samples: usize,
    /// Seed of the probes.
    pub seed: u64,
    /// Entries of the probes.
    pub distribution: Distribution,
    /// Probes per call of the operator (`>= 1`): memory `2 · batch · n`; no effect on the result.
    pub batch: usize,
    /// Estimate the trace.
    pub trace: bool,
    /// Estimate the diagonal.
    pub diagonal: bool,
    /// Estimate the trace by Hutch++ (then `diagonal` must be false).
    pub hutchpp: bool,
}

/// Estimates and their standard errors (empty when not asked for).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Estimate {
    /// The trace estimate.
    pub trace: f64,
    /// Its standard error (`NaN` with one sample).
    pub trace_se: f64,
    /// The diagonal estimate.
    pub diagonal: Vec<f64>,
    /// Its standard errors, element-wise.
    pub diagonal_se: Vec<f64>,
    /// Products with `A` made.
    pub matvecs: usize,
}

/// An operator applied to several vectors per call: `y_j = A x_j` for the `count` rows of `x`
/// (row-major `count × n`). A Python operator makes one call per batch; [`Each`] loops.
pub trait BlockOp: LinOp {
    /// Writes `y = A x` row by row.
    fn apply_block(&self, x: &[f64], y: &mut [f64], count: usize, par: Par) -> Result<()>;
}

/// Any [`LinOp`] as a [`BlockOp`], one vector at a time.
#[derive(Debug)]
pub struct Each<'a, O: LinOp + ?Sized>(pub &'a O);

impl<O: LinOp + ?Sized> LinOp for Each<'_, O> {
    fn dim(&self) -> usize {
        self.0.dim()
    }
    fn apply(&self, x: &[f64], y: &mut [f64], par: Par) -> Result<()> {
        self.0.apply(x, y, par)
    }
}

impl<O: LinOp + ?Sized> BlockOp for Each<'_, O> {
    fn apply_block(&self, x: &[f64], y: &mut [f64], count: usize, par: Par) -> Result<()> {
        let n = self.0.dim();
        for j in 0..count {
            self.0
                .apply(&x[j * n..(j + 1) * n], &mut y[j * n..(j + 1) * n], par)?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// the probes: the library's counter-based generator

/// Writes entries `start..start + out.len()` of probe `sample` of `(seed, stream)`: a function of
/// these numbers only (entry `i` of stream `sample` of [`rng::derive_seed`]`(seed, stream)` in
/// [`rng`]), so any piece of any probe can be generated anywhere, in any order.
pub fn probe(
    seed: u64,
    stream: u64,
    sample: u64,
    dist: Distribution,
    start: usize,
    out: &mut [f64],
) {
    let s = rng::Stream::new(rng::derive_seed(seed, stream), sample);
    match dist {
        Distribution::Rademacher => s.fill_rademacher(start as u64, out),
        Distribution::Gaussian => s.fill_normal(start as u64, out),
    }
}

/// Fills the `count` rows (length `n`) of `out` with probes `first..first + count`, in parallel
/// pieces (each entry depends on its indices only).
pub fn probes(
    seed: u64,
    stream: u64,
    first: u64,
    dist: Distribution,
    n: usize,
    out: &mut [f64],
    par: Par,
) -> Result<()> {
    let count = out.len() / n.max(1);
    for j in 0..count {
        let row = &mut out[j * n..(j + 1) * n];
        par.map_chunks_mut(F, row, REDUCE_PIECE, |p, piece| {
            probe(
                seed,
                stream,
                first + j as u64,
                dist,
                p * REDUCE_PIECE,
                piece,
            )
        })?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// the estimators

/// Welford's running mean and sum of squared deviations (in sample order: deterministic).
#[derive(Debug, Clone, Copy, Default)]
struct Running {
    mean: f64,
    m2: f64,
}

impl Running {
    #[inline]
    fn push(&mut self, x: f64, count: usize) {
        let d = x - self.mean;
        self.mean += d / count as f64;
        self.m2 += d * (x - self.mean);
    }

    /// The standard error of the mean of `count` samples.
    fn se(&self, count: usize) -> f64 {
        if count < 2 {
            f64::NAN
        } else {
            (self.m2 / (count - 1) as f64 / count as f64).sqrt()
        }
    }
}

fn check(n: usize, o: &Options) -> Result<()> {
    if o.n_samples < 1 || (o.hutchpp && o.n_samples < 3) {
        let least = if o.hutchpp { 3 } else { 1 };
        return Err(Error::param(
            F,
            "n_samples",
            format!("must be >= {least}, got {}", o.n_samples),
        ));
    }
    if o.batch < 1 {
        return Err(Error::param(F, "batch", "must be >= 1, got 0"));
    }
    if o.hutchpp && o.diagonal {
        return Err(Error::param(
            F,
            "estimate",
            "must be 'trace' with method 'hutch++'",
        ));
    }
    if n == 0 {
        return Err(Error::param(F, "n", "must be >= 1, got 0"));
    }
    Ok(())
}

/// Hutchinson's (or Hutch++'s) estimates of the trace and/or the diagonal of `op`.
pub fn hutchinson(op: &dyn BlockOp, o: &Options, par: Par) -> Result<Estimate> {
    let n = op.dim();
    check(n, o)?;
    if o.hutchpp {
        return hutchpp(op, o, par);
    }
    let batch = o.batch.min(o.n_samples);
    let mut z = scratch(F, batch * n, 0.0)?;
    let mut y = scratch(F, batch * n, 0.0)?;
    let mut diag = if o.diagonal {
        scratch(F, n, Running::default())?
    } else {
        Vec::new()
    };
    let mut trace = Running::default();
    let mut done = 0;
    while done < o.n_samples {
        let b = batch.min(o.n_samples - done);
        let (z, y) = (&mut z[..b * n], &mut y[..b * n]);
        probes(o.seed, 0, done as u64, o.distribution, n, z, par)?;
        op.apply_block(z, y, b, par)?;
        if y.iter().any(|v| !v.is_finite()) {
            return Err(Error::NonFinite {
                func: F,
                name: "matvec",
            });
        }
        if o.trace {
            for j in 0..b {
                let t = blas::dot(F, &z[j * n..(j + 1) * n], &y[j * n..(j + 1) * n], par)?;
                trace.push(t, done + j + 1);
            }
        }
        if o.diagonal {
            let (zs, ys): (&[f64], &[f64]) = (z, y);
            par.map_chunks(F, n, REDUCE_PIECE, Rows::of_mut(&mut diag, 1), |r, d| {
                for j in 0..b {
                    let (zr, yr) = (&zs[j * n + r.start..], &ys[j * n + r.start..]);
                    for (i, di) in d.iter_mut().enumerate() {
                        di.push(zr[i] * yr[i], done + j + 1);
                    }
                }
            })?;
        }
        done += b;
    }
    let count = o.n_samples;
    let mut est = Estimate {
        matvecs: count,
        ..Estimate::default()
    };
    if o.trace {
        est.trace = trace.mean;
        est.trace_se = trace.se(count);
    }
    if o.diagonal {
        est.diagonal = diag.iter().map(|d| d.mean).collect();
        est.diagonal_se = diag.iter().map(|d| d.se(count)).collect();
    }
    Ok(est)
}

/// Hutch++: `m = n_samples` products, `⌊m/3⌋` for the sketch, as many for `tr(QᵀAQ)`, the rest for
/// the remainder (Meyer et al. 2021, Algorithm 1).
fn hutchpp(op: &dyn BlockOp, o: &Options, par: Par) -> Result<Estimate> {
    let n = op.dim();
    let s = (o.n_samples / 3).min(n);
    let g = o.n_samples - 2 * s;
    // Q = orth(A S): the sketch's images, orthonormalised one by one (rank-deficient ones dropped).
    let mut sk = scratch(F, s * n, 0.0)?;
    let mut img = scratch(F, s * n, 0.0)?;
    probes(o.seed, 1, 0, o.distribution, n, &mut sk, par)?;
    op.apply_block(&sk, &mut img, s, par)?;
    let mut q: Vec<f64> = scratch(F, s * n, 0.0)?;
    let mut rank = 0;
    for j in 0..s {
        let mut w = img[j * n..(j + 1) * n].to_vec();
        let before = blas::norm(F, &w, par)?;
        if !before.is_finite() {
            return Err(Error::NonFinite {
                func: F,
                name: "matvec",
            });
        }
        blas::orthogonalise(F, &q[..rank * n], rank, &mut w, par)?;
        let after = blas::norm(F, &w, par)?;
        if after > 1e-12 * before && after > 0.0 {
            w.iter_mut().for_each(|v| *v /= after);
            q[rank * n..(rank + 1) * n].copy_from_slice(&w);
            rank += 1;
        }
    }
    // tr(QᵀAQ), then Hutchinson on (I − QQᵀ) A (I − QQᵀ).
    let mut aq = scratch(F, rank * n, 0.0)?;
    op.apply_block(&q[..rank * n], &mut aq, rank, par)?;
    let mut head = 0.0;
    for j in 0..rank {
        head += blas::dot(F, &q[j * n..(j + 1) * n], &aq[j * n..(j + 1) * n], par)?;
    }
    let mut rest = Running::default();
    let mut z = scratch(F, n, 0.0)?;
    let mut y = scratch(F, n, 0.0)?;
    for j in 0..g {
        probes(o.seed, 2, j as u64, o.distribution, n, &mut z, par)?;
        blas::orthogonalise(F, &q[..rank * n], rank, &mut z, par)?;
        op.apply_block(&z, &mut y, 1, par)?;
        let t = blas::dot(F, &z, &y, par)?;
        if !t.is_finite() {
            return Err(Error::NonFinite {
                func: F,
                name: "matvec",
            });
        }
        rest.push(t, j + 1);
    }
    if !head.is_finite() {
        return Err(Error::NonFinite {
            func: F,
            name: "matvec",
        });
    }
    Ok(Estimate {
        trace: head + if g > 0 { rest.mean } else { 0.0 },
        trace_se: rest.se(g),
        matvecs: s + rank + g,
        ..Estimate::default()
    })
}

#[cfg(test)]
#[path = "hutchinson/tests.rs"]
mod tests;
#[cfg(test)]
#[path = "hutchinson/tests_pp.rs"]
mod tests_pp;
