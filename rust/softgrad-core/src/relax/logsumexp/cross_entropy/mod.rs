//! Softmax cross-entropy: the loss and, in the same pass, its gradient.
//!
//! For each sample (a lane of the `(outer, n, inner)` [`Layout`], the `n` classes on the middle
//! axis), with `z = x/t`, `p = softmax(z)`, `L = t ln Σ_j e^{x_j/t}` and targets `y`,
//!
//! ```text
//! loss = -Σ_j y_j ln p_j = Σ_j y_j (L - x_j)/t,        d loss / d x_j = ((Σ_i y_i) p_j - y_j)/t
//! ```
//!
//! The targets are a class index `c` (`y = (1-ε) e_c + ε/n`) or a distribution `q` over the classes
//! (`y = (1-ε) q + ε/n`; `q` need not sum to one, the formulas above are general), with label
//! smoothing `ε` in `[0, 1]`. Terms with `y_j = 0` are skipped, so a `-inf` logit with no target mass
//! costs nothing and gets a zero gradient. A sample whose log-sum-exp `L` is not finite (a NaN or
//! `+inf` logit, or all `-inf`) has a NaN loss, gradient and dot.
//!
//! The gradient written is `s w ((Σy) p - y)/t` with `w` the sample's weight and `s`
//! [`Options::grad_scale`] (the reduction's factor, e.g. `1/Σw` for a weighted mean). A sample of
//! weight 0 contributes nothing to the total and gets a zero gradient and dot, even where its loss is
//! NaN or infinite (so a zero weight masks a sample). The per-sample `dot = Σ_j ((Σy) p_j - y_j)
//! (x_j - L)` gives the temperature derivative: `d loss / d t = -dot / t²`.
//!
//! Contiguous rows (`inner == 1`) are cut into fixed pieces of whole rows; each piece runs the
//! family's softmax kernel ([`softmax()`](super::softmax) with the piece's layout: its narrow- and
//! wide-row paths) into the gradient buffer, then turns the probabilities into the gradient while
//! they are in cache. Narrow `f32` rows run in `f32` lanes instead, 16 rows a block
//! (`simd::rows::softmax_lse32`: `f32` exponentials summed in `f64`, so a loss is within about an
//! `f32` ulp of `L - x`); without a gradient they skip the softmax but keep the log-sum-exp's bits.
//! A strided class axis is walked in lane blocks. The total `Σ w loss` is summed in piece (or
//! block) order: the same bits for any thread count.

use std::any::Any;
use std::cell::RefCell;

use self::finish::{finish_piece, Piece};
use super::softmax::nonfinite_row;
use super::{narrow, softmax, Kind};
use crate::error::{Error, Result};
use crate::par::{scratch, Layout, Par, Rows};
use crate::real::Real;
use crate::relax::check_temperature;
use crate::simd;
use crate::simd::rows::{self as rows_kernels, f32_lanes};

const F: &str = "softmax_cross_entropy";

/// Elements per piece of contiguous rows (whole rows; a row wider than this is a piece alone):
/// logits and probabilities of a piece stay in L2 between the softmax and the gradient pass.
pub const PIECE_ELEMS: usize = 4096;

/// The targets of the samples.
#[derive(Debug, Clone, Copy)]
pub enum Targets<'a, T> {
    /// One class index per sample (`layout.outputs()` of them), each in `0..n`.
    Classes(&'a [i64]),
    /// A distribution over the classes per sample, in the layout of the logits.
    Probs(&'a [T]),
}

/// Scalar parameters of a call.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Temperature `t > 0`, finite: the logits are divided by it.
    pub temperature: f64,
    /// Label smoothing `ε` in `[0, 1]`.
    pub label_smoothing: f64,
    /// Factor of every gradient entry (the reduction's: 1 for a sum, `1/Σw` for a mean).
    pub grad_scale: f64,
}

/// What to write besides the total: each `None` is not computed.
#[derive(Debug)]
pub struct Outputs<'a, T> {
    /// Per-sample loss, unweighted (`layout.outputs()` values).
    pub losses: Option<&'a mut [f64]>,
    /// Per-sample `Σ_j ((Σy) p_j - y_j)(x_j - L)`, for the temperature derivative (0 where the
    /// weight is 0).
    pub dots: Option<&'a mut [f64]>,
    /// The gradient with respect to the logits, `grad_scale · w ((Σy) p - y)/t` (layout of the logits).
    pub grad: Option<&'a mut [T]>,
}

impl<T> Outputs<'_, T> {
    /// Nothing but the total.
    pub fn none() -> Self {
        Outputs {
            losses: None,
            dots: None,
            grad: None,
        }
    }
}

/// Softmax cross-entropy of `logits` seen as `layout` (classes on the middle axis) against
/// `targets`, with optional per-sample `weights` (`layout.outputs()` values). Returns `Σ w loss` (the
/// plain sum without weights) and writes what `out` asks for; see the module docs for the maths.
///
/// # Errors
/// [`Error::InvalidParameter`] for a temperature that is not finite and positive, a label smoothing
/// outside `[0, 1]`, a class index outside `0..n` (named `labels`) or an empty class axis;
/// [`Error::Shape`] for slices whose lengths disagree with `layout`; [`Error::Alloc`] and
/// [`Error::Interrupted`].
pub fn softmax_cross_entropy<T: Real>(
    logits: &[T],
    targets: Targets<'_, T>,
    weights: Option<&[T]>,
    layout: Layout,
    opts: Options,
    out: Outputs<'_, T>,
    par: Par,
) -> Result<f64> {
    check_temperature(F, opts.temperature)?;
    let eps = opts.label_smoothing;
    if !(0.0..=1.0).contains(&eps) {
        return Err(Error::param(
            F,
            "label_smoothing",
            format!("must be in [0, 1], got {eps}"),
        ));
    }
    let len = layout.len(F)?;
    let samples = layout.outputs();
    Error::check_len(F, "logits", logits.len(), len)?;
    match targets {
        Targets::Classes(c) => Error::check_len(F, "labels", c.len(), samples)?,
        Targets::Probs(q) => Error::check_len(F, "labels", q.len(), len)?,
    }
    if let Some(w) = weights {
        Error::check_len(F, "sample_weight", w.len(), samples)?;
    }
    if let Some(l) = out.losses.as_deref() {
        Error::check_len(F, "losses", l.len(), samples)?;
    }
    if let Some(d) = out.dots.as_deref() {
        Error::check_len(F, "dots", d.len(), samples)?;
    }
    if let Some(g) = out.grad.as_deref() {
        Error::check_len(F, "grad", g.len(), len)?;
    }
    if layout.n == 0 && samples > 0 {
        return Err(Error::param(
            F,
            "logits",
            "has no classes (empty class axis)",
        ));
    }
    if samples == 0 {
        return Ok(0.0);
    }
    let ctx = Ctx {
        t: opts.temperature,
        inv_t: 1.0 / opts.temperature,
        hard: 1.0 - eps,
        u: eps / layout.n as f64,
        scale: opts.grad_scale,
        k: layout.n,
    };
    if layout.inner == 1 {
        rows(logits, targets, weights, ctx, out, par)
    } else {
        strided::strided(logits, targets, weights, layout, ctx, out, par)
    }
}

/// The per-call constants.
#[derive(Debug, Clone, Copy)]
struct Ctx {
    t: f64,
    inv_t: f64,
    /// `1 - ε`: the weight of the given targets.
    hard: f64,
    /// `ε / n`: the uniform part of every target.
    u: f64,
    scale: f64,
    k: usize,
}

impl Ctx {
    fn class(&self, c: i64) -> Result<usize> {
        match usize::try_from(c) {
            Ok(v) if v < self.k => Ok(v),
            _ => Err(Error::param(
                F,
                "labels",
                format!("must be class indices in [0, {}), got {c}", self.k),
            )),
        }
    }
}

/// One sample's targets.
#[derive(Clone, Copy)]
enum Target<'a, T> {
    Class(usize),
    Probs(&'a [T]),
}

/// Loss and dot of one contiguous row whose softmax `p` is given; with `g = Some(w s)` the row of
/// `p` is overwritten by the gradient (`None`: `p` is scratch and is left as it is).
#[inline(always)]
fn row_terms<T: Real>(
    c: &Ctx,
    x: &[T],
    p: &mut [T],
    lse: f64,
    y: Target<'_, T>,
    g: Option<f64>,
) -> (f64, f64) {
    if !lse.is_finite() {
        if g.is_some() {
            p.fill(T::from_f64(f64::NAN));
        }
        return (f64::NAN, f64::NAN);
    }
    let (hard, u) = (c.hard, c.u);
    let mut dot = 0.0;
    match y {
        Target::Class(k) => {
            let xc = x[k].to_f64();
            let mut loss = if hard != 0.0 { hard * (lse - xc) } else { 0.0 };
            if u != 0.0 {
                loss += u * x.iter().map(|v| lse - v.to_f64()).sum::<f64>();
            }
            if let Some(s) = g {
                let f = s * c.inv_t;
                let pk = p[k].to_f64();
                dot = grad_pass(p, x, lse, f, |_, pj| pj - u);
                if hard != 0.0 {
                    dot -= hard * (xc - lse);
                    p[k] = T::from_f64((pk - u - hard) * f);
                }
            }
            (loss * c.inv_t, dot)
        }
        Target::Probs(q) => {
            let (mut loss, mut sy) = (0.0, 0.0);
            for (qj, xj) in q.iter().zip(x) {
                let y = hard * qj.to_f64() + u;
                sy += y;
                if y != 0.0 {
                    loss += y * (lse - xj.to_f64());
                }
            }
            if let Some(s) = g {
                let f = s * c.inv_t;
                dot = grad_pass(p, x, lse, f, |j, pj| sy * pj - (hard * q[j].to_f64() + u));
            }
            (loss * c.inv_t, dot)
        }
    }
}

/// Overwrites each `p_j` of a row by `d_j f`, with `d_j = d(j, p_j)`, and returns
/// `Σ_{d_j ≠ 0} d_j (x_j - lse)`, summed in [`LANES`] interleaved accumulators (so the loop
/// vectorises) combined in a fixed order.
#[inline(always)]
fn grad_pass<T: Real>(
    p: &mut [T],
    x: &[T],
    lse: f64,
    f: f64,
    d: impl Fn(usize, f64) -> f64,
) -> f64 {
    let mut acc = [0.0f64; LANES];
    let body = p.len() / LANES * LANES;
    let (pb, pt) = p.split_at_mut(body);
    let (xb, xt) = x.split_at(body);
    for (b, (pc, xc)) in pb
        .chunks_exact_mut(LANES)
        .zip(xb.chunks_exact(LANES))
        .enumerate()
    {
        for l in 0..LANES {
            let dj = d(b * LANES + l, pc[l].to_f64());
            let term = dj * (xc[l].to_f64() - lse);
            acc[l] += if dj != 0.0 { term } else { 0.0 };
            pc[l] = T::from_f64(dj * f);
        }
    }
    let mut tail = 0.0;
    for (j, (pj, xj)) in pt.iter_mut().zip(xt).enumerate() {
        let dj = d(body + j, pj.to_f64());
        if dj != 0.0 {
            tail += dj * (xj.to_f64() - lse);
        }
        *pj = T::from_f64(dj * f);
    }
    ((acc[0] + acc[1]) + (acc[2] + acc[3])) + tail
}

/// Accumulators of [`grad_pass`].
const LANES: usize = 4;

/// The weight of sample `r` (1 without weights).
#[inline(always)]
fn weight<T: Real>(w: Option<&[T]>, r: usize) -> f64 {
    w.map_or(1.0, |w| w[r].to_f64())
}

thread_local! {
    /// This thread's probability scratch for calls without a gradient buffer: a `Vec<T>` of the
    /// last call's element type, [`PIECE_ELEMS`] long (zeroing a fresh one per piece cost about a
    /// sixth of the instructions of the value pass).
    static PROBS: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
}

/// Runs `f` on `len` values of scratch: this thread's [`PROBS`] if it is there (taken out for the
/// call, so a nested call, from a task stolen inside `f`, makes its own), else a fresh buffer, kept
/// afterwards unless longer than a piece.
fn with_probs_scratch<T: Real, R>(len: usize, f: impl FnOnce(&mut [T]) -> Result<R>) -> Result<R> {
    let cached = PROBS
        .with(|cell| cell.borrow_mut().take())
        .and_then(|b| b.downcast::<Vec<T>>().ok())
        .filter(|v| v.len() >= len);
    let mut buf = match cached {
        Some(v) => *v,
        None => scratch(F, len.max(PIECE_ELEMS), T::from_f64(0.0))?,
    };
    let r = f(&mut buf[..len]);
    if buf.len() <= PIECE_ELEMS {
        PROBS.with(|cell| *cell.borrow_mut() = Some(Box::new(buf)));
    }
    r
}

/// Contiguous rows, in fixed pieces of whole rows.
fn rows<T: Real>(
    x: &[T],
    targets: Targets<'_, T>,
    w: Option<&[T]>,
    c: Ctx,
    out: Outputs<'_, T>,
    par: Par,
) -> Result<f64> {
    let (k, level) = (c.k, simd::level());
    let per = (PIECE_ELEMS / k).max(1);
    let pieces = (x.len() / k).div_ceil(per);
    let want_grad = out.grad.is_some();
    let (cls, probs) = match targets {
        Targets::Classes(v) => (Some(Rows::of(v, per)), None),
        Targets::Probs(q) => (None, Some(Rows::of(q, per * k))),
    };
    let data = (
        Rows::of(x, per * k),
        (cls, probs, w.map(|w| Rows::of(w, per))),
        (
            out.losses.map(|l| Rows::of_mut(l, per)),
            out.dots.map(|d| Rows::of_mut(d, per)),
            out.grad.map(|g| Rows::of_mut(g, per * k)),
        ),
    );
    let parts = par.map_rows(
        F,
        pieces,
        per * k,
        data,
        per,
        0.0,
        |mut total, _, (xs, (cs, qs, ws), (mut ls, mut ds, gs)), lse, p| {
            let m = xs.len() / k;
            let lse = &mut lse[..m];
            let mut run = |probs: &mut [T]| -> Result<f64> {
                let pl = Layout::new(m, k, 1);
                let x32 = T::as_f32(xs).filter(|_| narrow::applies(pl) && f32_lanes(c.t));
                if let Some(x32) = x32 {
                    // f32 rows in f32 lanes, the value with or without the softmax in the same
                    // bits (so the loss is that of a call with a gradient).
                    let p = if want_grad {
                        T::as_f32_mut(probs)
                    } else {
                        None
                    };
                    let slow = |r: usize, pr: Option<&mut [f32]>| {
                        let xr = &x32[r * k..(r + 1) * k];
                        nonfinite_row(xr, c.t, Kind::Softmax, pr.unwrap_or(&mut []))
                    };
                    rows_kernels::softmax_lse32(level, x32, k, c.t, p, lse, slow);
                } else if !want_grad && narrow::applies(pl) && (1.0 / c.t).is_finite() {
                    // The loss needs only the log-sum-exp: the softmax's, without the softmax
                    // (same bits, so the value is that of a call with a gradient).
                    let slow = |xr: &[T]| nonfinite_row(xr, c.t, Kind::Softmax, &mut []);
                    rows_kernels::softmax_lse(level, xs, k, c.t, lse, slow);
                } else {
                    softmax(xs, pl, c.t, Kind::Softmax, probs, Some(lse), p)?;
                }
                let piece = Piece {
                    x: xs,
                    p: probs,
                    lse,
                    classes: cs,
                    probs: qs,
                    w: ws,
                    losses: ls.as_deref_mut(),
                    dots: ds.as_deref_mut(),
                };
                // The whole piece compiled for the CPU's vector level.
                simd::dispatch(
                    level,
                    #[inline(always)]
                    || finish_piece(&c, piece, want_grad),
                )
            };
            total += match gs {
                Some(g) => run(g)?,
                None => with_probs_scratch(xs.len(), run)?,
            };
            Ok(total)
        },
    )?;
    Ok(parts.into_iter().fold(0.0, |a, b| a + b))
}

mod finish;
mod strided;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_f32;
