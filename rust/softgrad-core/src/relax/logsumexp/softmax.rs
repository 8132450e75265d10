//! Softmax and log-softmax with temperature.
//!
//! `softmax(x/t)_i = e^{(x_i - M)/t} / Σ_j e^{(x_j - M)/t}` and
//! `log_softmax(x/t)_i = (x_i - M)/t - ln Σ_j e^{(x_j - M)/t}`, with `M = max_j x_j`, so no finite
//! input overflows. Special cases follow `scipy.special`: a slice whose maximum is not finite (NaN,
//! `+inf`, or all `-inf`) gives NaN for softmax, and the unshifted formula for log-softmax.
//! The residual `lse` is `L = M + t ln Σ_j e^{(x_j - M)/t}` (the unshifted `t ln Σ_j e^{x_j/t}` where
//! `M` is not finite).
//!
//! The sum over a row is taken in [`REDUCE_PIECE`]-sized pieces added left to right, so the bits do
//! not depend on the thread count.

use crate::error::{Error, Result};
use crate::par::{
    scratch, with_piece_scratch, Layout, Par, Rows, Strided, PAR_MIN_ELEMS, REDUCE_PIECE,
};
use crate::real::Real;
use crate::relax::check_temperature;
use crate::simd::{self, contiguous, strided, Level};

/// Which of the two functions to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `softmax(x/t)`.
    Softmax,
    /// `log_softmax(x/t)`.
    LogSoftmax,
}

impl Kind {
    /// The public name of the function.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Softmax => "softmax",
            Kind::LogSoftmax => "log_softmax",
        }
    }
}

/// Softmax or log-softmax over the middle axis of `x` seen as `layout`, written into `out` (same
/// length as `x`). `lse`, if given (`layout.outputs()` long), receives each lane's
/// `t ln Σ_i e^{x_i/t}` in f64: the residual of [`softmax_vjp`](super::softmax_vjp).
///
/// # Errors
/// [`Error::InvalidParameter`] for a temperature that is not finite and positive,
/// [`Error::Shape`] for slices whose lengths disagree with `layout`, [`Error::Alloc`] and
/// [`Error::Interrupted`].
pub fn softmax<T: Real>(
    x: &[T],
    layout: Layout,
    t: f64,
    kind: Kind,
    out: &mut [T],
    lse: Option<&mut [f64]>,
    par: Par,
) -> Result<()> {
    let func = kind.name();
    check_temperature(func, t)?;
    let len = layout.len(func)?;
    Error::check_len(func, "x", x.len(), len)?;
    Error::check_len(func, "out", out.len(), len)?;
    if let Some(l) = lse.as_deref() {
        Error::check_len(func, "lse", l.len(), layout.outputs())?;
    }
    if !(1.0 / t).is_finite() {
        tiny_temperature(x, layout, t, kind, out, lse);
        Ok(())
    } else if super::narrow::applies(layout) {
        super::narrow::softmax(x, layout, t, kind, out, lse, par)
    } else if layout.inner == 1 {
        rows(x, layout, t, kind, out, lse, par)
    } else {
        strided(x, layout, t, kind, out, lse, par)
    }
}

/// `t ln Σ e^{x/t}` without shifting: the residual of a lane whose maximum is not finite.
fn naive_lse(x: impl Iterator<Item = f64>, t: f64) -> f64 {
    t * x.map(|v| (v / t).exp()).sum::<f64>().ln()
}

/// Any layout at a subnormal temperature, where `1/t` overflows and the kernels' `(x - M) * (1/t)`
/// would give `0 * inf = NaN` at the maximum: lane by lane with the division `(x - M) / t`
/// (rare, so plain scalar code).
fn tiny_temperature<T: Real>(
    x: &[T],
    l: Layout,
    t: f64,
    kind: Kind,
    out: &mut [T],
    mut lse: Option<&mut [f64]>,
) {
    for o in 0..l.outer {
        for j in 0..l.inner {
            let at = |i: usize| (o * l.n + i) * l.inner + j;
            let v = |i: usize| x[at(i)].to_f64();
            let m = (0..l.n).fold(f64::NEG_INFINITY, |a, i| contiguous::pmax(a, v(i)));
            let lj = if m.is_finite() {
                let s: f64 = (0..l.n).map(|i| ((v(i) - m) / t).exp()).sum();
                for i in 0..l.n {
                    let d = (v(i) - m) / t;
                    out[at(i)] = T::from_f64(match kind {
                        Kind::Softmax => d.exp() / s,
                        Kind::LogSoftmax => d - s.ln(),
                    });
                }
                m + t * s.ln()
            } else {
                let lj = naive_lse((0..l.n).map(v), t);
                for i in 0..l.n {
                    out[at(i)] = T::from_f64(match kind {
                        Kind::Softmax => f64::NAN,
                        Kind::LogSoftmax => (v(i) - lj) / t,
                    });
                }
                lj
            };
            if let Some(lse) = lse.as_deref_mut() {
                lse[o * l.inner + j] = lj;
            }
        }
    }
}

/// Fills a row whose maximum is not finite, as the unshifted formulas do; returns its residual.
pub(super) fn nonfinite_row<T: Real>(x: &[T], t: f64, kind: Kind, out: &mut [T]) -> f64 {
    let l = naive_lse(x.iter().map(|v| v.to_f64()), t);
    match kind {
        Kind::Softmax => out.iter_mut().for_each(|o| *o = T::from_f64(f64::NAN)),
        Kind::LogSoftmax => out
            .iter_mut()
            .zip(x)
            .for_each(|(o, v)| *o = T::from_f64((v.to_f64() - l) / t)),
    }
    l
}

/// One row, sequential or split into pieces across `par`'s threads; same bits either way.
/// Returns the row's residual.
fn row<T: Real>(
    level: Level,
    x: &[T],
    t: f64,
    kind: Kind,
    out: &mut [T],
    par: Par,
    stream: bool,
) -> Result<f64> {
    let (func, n, inv_t) = (kind.name(), x.len(), 1.0 / t);
    let m = par.fold_pieces(
        func,
        n,
        |r| contiguous::max(level, &x[r], None),
        contiguous::pmax,
        f64::NEG_INFINITY,
    )?;
    if !m.is_finite() {
        return Ok(nonfinite_row(x, t, kind, out));
    }
    let total = match kind {
        Kind::Softmax => par.fold_chunks(
            func,
            n,
            (Rows::of(x, 1), Rows::of_mut(out, 1)),
            |_, (xc, oc)| contiguous::exp_store(level, xc, m, inv_t, oc),
            |a, b| a + b,
            0.0,
        )?,
        Kind::LogSoftmax => par.fold_pieces(
            func,
            n,
            |r| {
                if T::as_f32(x).is_some() {
                    // f32 data: the exponentials of `exp_store`, whose exponent is carried in two
                    // parts; the sums' one-part `f32` exponent costs up to `|x - m|/t` ulps a
                    // term, which reached 2.55 ulps of log-softmax at t = 0.7.
                    with_piece_scratch(r.len(), |s| {
                        contiguous::exp_store(level, &x[r], m, inv_t, s)
                    })
                } else {
                    let (s, w) = contiguous::sum_exp_excl(level, &x[r], None, m, inv_t);
                    s + w
                }
            },
            |a, b| a + b,
            0.0,
        )?,
    };
    match kind {
        Kind::Softmax => {
            let c = 1.0 / total;
            par.map_chunks_mut(func, out, REDUCE_PIECE, |_, oc| {
                contiguous::scale(level, oc, c)
            })?;
        }
        Kind::LogSoftmax => {
            let c = total.ln();
            let data = (Rows::of(x, 1), Rows::of_mut(out, 1));
            par.map_chunks(func, n, REDUCE_PIECE, data, |_, (xc, oc)| {
                contiguous::shift_sub(level, xc, m, inv_t, c, oc, stream)
            })?;
        }
    }
    Ok(m + t * total.ln())
}

/// Outputs at least this large are written with streaming stores: they cannot stay in cache anyway,
/// and streaming skips reading every destination line before writing it.
const STREAM_MIN_BYTES: usize = 8 << 20;

/// Softmax of one short row through an f64 scratch row, written to `out` with streaming stores.
/// Same pieces and order of summation as [`row`], so the same sum; returns the residual.
fn softmax_row_streamed<T: Real>(
    level: Level,
    x: &[T],
    t: f64,
    out: &mut [T],
    scratch: &mut [f64],
) -> f64 {
    let m = contiguous::max(level, x, None);
    if !m.is_finite() {
        return nonfinite_row(x, t, Kind::Softmax, out);
    }
    let total: f64 = x
        .chunks(REDUCE_PIECE)
        .zip(scratch.chunks_mut(REDUCE_PIECE))
        .map(|(xc, sc)| contiguous::exp_store(level, xc, m, 1.0 / t, sc))
        .fold(0.0, |a, b| a + b);
    contiguous::scale_from(level, scratch, 1.0 / total, out, true);
    m + t * total.ln()
}

fn rows<T: Real>(
    x: &[T],
    l: Layout,
    t: f64,
    kind: Kind,
    out: &mut [T],
    lse: Option<&mut [f64]>,
    par: Par,
) -> Result<()> {
    let (n, level, func) = (l.n, simd::level(), kind.name());
    let stream = std::mem::size_of_val(out) >= STREAM_MIN_BYTES && n < PAR_MIN_ELEMS;
    let keep = if stream && kind == Kind::Softmax {
        n
    } else {
        0
    };
    let data = (
        Rows::of(x, n),
        Rows::of_mut(out, n),
        lse.map(|l| Rows::of_mut(l, 1)),
    );
    par.map_rows(
        func,
        l.outer,
        n,
        data,
        keep,
        (),
        |(), _, (xr, or, lr), e, p| {
            let l = if keep > 0 {
                softmax_row_streamed(level, xr, t, or, e)
            } else {
                row(level, xr, t, kind, or, p, stream)?
            };
            if stream {
                // Streaming stores are weakly ordered: make this row's visible before the task ends.
                contiguous::store_fence();
            }
            if let Some(lr) = lr {
                lr[0] = l;
            }
            Ok(())
        },
    )?;
    Ok(())
}

/// Softmax over a strided axis. Each block of lanes walks the reduced axis in pieces of rows small
/// enough to stay in cache: per piece the maximum `m_p` and `e^{(x - m_p)/t}` (stored) with its sum
/// `s_p`; then `M = max_p m_p`, `S = Σ_p s_p e^{(m_p - M)/t}` in piece order, and a last pass
/// rescales each piece by `e^{(m_p - M)/t} / S`. `x` is read from memory once. Log-softmax takes the
/// same per-piece sums without storing, then writes `(x - M)/t - ln S`.
fn strided<T: Real>(
    x: &[T],
    l: Layout,
    t: f64,
    kind: Kind,
    out: &mut [T],
    lse: Option<&mut [f64]>,
    par: Par,
) -> Result<()> {
    let (inv_t, level, func) = (1.0 / t, simd::level(), kind.name());
    let lanes = lse.map(|l| Rows::of_mut(l, 1));
    par.for_each_lane_block(
        func,
        l,
        lanes,
        Strided::new(out),
        (),
        |(), blk, mut lse, mut out| {
            let (wj, pieces) = (blk.width, blk.piece_count());
            // Per piece: lane maxima and sums relative to them; then per lane: the total maximum and sum,
            // and a shift and scale.
            let mut piece_m = scratch(func, wj * pieces, f64::NEG_INFINITY)?;
            let mut piece_s = scratch(func, wj * pieces, 0.0)?;
            let mut lanes = scratch(func, 4 * wj, 0.0)?;
            let (sw, rest) = lanes.split_at_mut(wj);
            let (shift, rest) = rest.split_at_mut(wj);
            let (big_m, big_s) = rest.split_at_mut(wj);
            for ((rows, m), s) in blk
                .pieces()
                .zip(piece_m.chunks_mut(wj))
                .zip(piece_s.chunks_mut(wj))
            {
                for i in rows.clone() {
                    strided::max_into(level, blk.row(x, i), None, m);
                }
                // A lane that is all -inf in this piece shifts by 0 instead, so its terms are 0, not NaN.
                shift
                    .iter_mut()
                    .zip(m.iter())
                    .for_each(|(h, &v)| *h = if v == f64::NEG_INFINITY { 0.0 } else { v });
                match kind {
                    Kind::Softmax => {
                        for i in rows {
                            strided::exp_store_into(
                                level,
                                blk.row(x, i),
                                shift,
                                inv_t,
                                out.row(i),
                                s,
                            );
                        }
                    }
                    Kind::LogSoftmax => {
                        sw.fill(0.0);
                        for i in rows {
                            strided::sum_exp_excl_into(
                                level,
                                blk.row(x, i),
                                None,
                                shift,
                                inv_t,
                                s,
                                sw,
                            );
                        }
                        s.iter_mut().zip(sw.iter()).for_each(|(s, w)| *s += w);
                    }
                }
            }
            // Combine the pieces lane by lane, in piece order.
            big_m.fill(f64::NEG_INFINITY);
            for m in piece_m.chunks(wj) {
                big_m
                    .iter_mut()
                    .zip(m)
                    .for_each(|(a, &v)| *a = contiguous::pmax(*a, v));
            }
            big_s.fill(0.0);
            for (m, s) in piece_m.chunks(wj).zip(piece_s.chunks(wj)) {
                for j in 0..wj {
                    if m[j] > f64::NEG_INFINITY {
                        big_s[j] += s[j] * ((m[j] - big_m[j]) * inv_t).exp();
                    }
                }
            }
            match kind {
                Kind::Softmax => {
                    let c = shift;
                    for (rows, m) in blk.pieces().zip(piece_m.chunks(wj)) {
                        for j in 0..wj {
                            c[j] = ((m[j] - big_m[j]) * inv_t).exp() / big_s[j];
                        }
                        for i in rows {
                            strided::scale_by(level, out.row(i), c);
                        }
                    }
                }
                Kind::LogSoftmax => {
                    let c = shift;
                    c.iter_mut()
                        .zip(big_s.iter())
                        .for_each(|(c, s)| *c = s.ln());
                    for i in 0..blk.n {
                        strided::shift_sub_by(level, blk.row(x, i), big_m, inv_t, c, out.row(i));
                    }
                }
            }
            for j in 0..wj {
                let lj = if big_m[j].is_finite() {
                    big_m[j] + t * big_s[j].ln()
                } else {
                    // The unshifted formulas, lane by lane (rare: NaN, +inf or all -inf).
                    let lj = naive_lse(blk.lane(x, j).map(|v| v.to_f64()), t);
                    for (i, v) in blk.lane(x, j).enumerate() {
                        out.row(i)[j] = match kind {
                            Kind::Softmax => T::from_f64(f64::NAN),
                            Kind::LogSoftmax => T::from_f64((v.to_f64() - lj) / t),
                        };
                    }
                    lj
                };
                if let Some(l) = lse.as_deref_mut() {
                    l[j] = lj;
                }
            }
            Ok(())
        },
    )?;
    Ok(())
}
