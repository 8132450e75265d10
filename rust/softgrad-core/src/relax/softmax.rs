//! Softmax and log-softmax with temperature.
//!
//! `softmax(x/t)_i = e^{(x_i - M)/t} / Σ_j e^{(x_j - M)/t}` and
//! `log_softmax(x/t)_i = (x_i - M)/t - ln Σ_j e^{(x_j - M)/t}`, with `M = max_j x_j`, so no finite
//! input overflows. Special cases follow `scipy.special`: a slice whose maximum is not finite (NaN,
//! `+inf`, or all `-inf`) gives NaN for softmax, and the unshifted formula for log-softmax.
//!
//! The sum over a row is taken in [`CHUNK`]-sized pieces added left to right, so the bits do not
//! depend on the thread count.

use super::{check_temperature, Layout, CHUNK};
use crate::error::{Error, Result};
use crate::par::{Par, SyncPtr, PAR_MIN_ELEMS};
use crate::real::Real;
use crate::simd::{self, contiguous, strided, Level};

/// Which of the two functions to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `softmax(x/t)`.
    Softmax,
    /// `log_softmax(x/t)`.
    LogSoftmax,
}

/// Softmax or log-softmax over the middle axis of `x` seen as `layout`, written into `out` (same
/// length as `x`).
///
/// # Errors
/// [`Error::InvalidParameter`] for a temperature that is not finite and positive,
/// [`Error::Shape`] for slices whose lengths disagree with `layout`.
pub fn softmax<T: Real>(
    x: &[T],
    layout: Layout,
    t: f64,
    kind: Kind,
    out: &mut [T],
    par: Par,
) -> Result<()> {
    let func = match kind {
        Kind::Softmax => "softmax",
        Kind::LogSoftmax => "log_softmax",
    };
    check_temperature(func, t)?;
    let len = layout.len(func)?;
    Error::check_len(func, "x", x.len(), len)?;
    Error::check_len(func, "out", out.len(), len)?;
    if len == 0 {
        return Ok(());
    }
    if layout.inner == 1 {
        rows(x, layout.n, t, kind, out, par)
    } else {
        strided(x, layout, t, kind, out, par)
    }
}

/// Fills a row whose maximum is not finite, as the unshifted formulas do.
fn nonfinite_row<T: Real>(x: &[T], inv_t: f64, kind: Kind, out: &mut [T]) {
    match kind {
        Kind::Softmax => out.iter_mut().for_each(|o| *o = T::from_f64(f64::NAN)),
        Kind::LogSoftmax => {
            let lse = x
                .iter()
                .map(|v| (v.to_f64() * inv_t).exp())
                .sum::<f64>()
                .ln();
            out.iter_mut()
                .zip(x)
                .for_each(|(o, v)| *o = T::from_f64(v.to_f64() * inv_t - lse));
        }
    }
}

/// One row, sequential or split into pieces across `par`'s threads; same bits either way.
fn row<T: Real>(
    level: Level,
    x: &[T],
    inv_t: f64,
    kind: Kind,
    out: &mut [T],
    par: Par,
    stream: bool,
) -> Result<()> {
    let par = par.for_work(x.len());
    let m = match par {
        Par::Seq => contiguous::max(level, x, None),
        p => {
            let maxes = p.map_collect(x.len().div_ceil(CHUNK), |k| {
                contiguous::max(level, &x[k * CHUNK..((k + 1) * CHUNK).min(x.len())], None)
            })?;
            maxes.into_iter().fold(f64::NEG_INFINITY, contiguous::pmax)
        }
    };
    if !m.is_finite() {
        nonfinite_row(x, inv_t, kind, out);
        return Ok(());
    }
    let sums: Vec<f64> = match (kind, par) {
        (Kind::Softmax, Par::Seq) if x.len() <= CHUNK => {
            vec![contiguous::exp_store(level, x, m, inv_t, out)]
        }
        (Kind::Softmax, Par::Seq) => x
            .chunks(CHUNK)
            .zip(out.chunks_mut(CHUNK))
            .map(|(xc, oc)| contiguous::exp_store(level, xc, m, inv_t, oc))
            .collect(),
        (Kind::Softmax, p) => {
            let ptr = SyncPtr(out.as_mut_ptr());
            let n = x.len();
            p.map_collect(n.div_ceil(CHUNK), |k| {
                let r = k * CHUNK..((k + 1) * CHUNK).min(n);
                // SAFETY: piece `k` writes only `out[r]`, and pieces do not overlap.
                let oc = unsafe { ptr.slice(r.start, r.len()) };
                contiguous::exp_store(level, &x[r], m, inv_t, oc)
            })?
        }
        (Kind::LogSoftmax, p) => p.map_collect(x.len().div_ceil(CHUNK), |k| {
            let (s, w) = contiguous::sum_exp_excl(
                level,
                &x[k * CHUNK..((k + 1) * CHUNK).min(x.len())],
                None,
                m,
                inv_t,
            );
            s + w
        })?,
    };
    let total: f64 = sums.into_iter().sum();
    match kind {
        Kind::Softmax => {
            let c = 1.0 / total;
            par.for_each_chunk_mut(out, CHUNK, |_, oc| contiguous::scale(level, oc, c))?;
        }
        Kind::LogSoftmax => {
            let c = total.ln();
            let ptr = SyncPtr(out.as_mut_ptr());
            let n = x.len();
            par.map_collect(n.div_ceil(CHUNK), |k| {
                let r = k * CHUNK..((k + 1) * CHUNK).min(n);
                // SAFETY: piece `k` writes only `out[r]`, and pieces do not overlap.
                let oc = unsafe { ptr.slice(r.start, r.len()) };
                contiguous::shift_sub(level, &x[r], m, inv_t, c, oc, stream);
            })?;
        }
    }
    Ok(())
}

/// Outputs at least this large are written with streaming stores: they cannot stay in cache anyway,
/// and streaming skips reading every destination line before writing it.
const STREAM_MIN_BYTES: usize = 8 << 20;

/// Softmax of one short row through an f64 scratch row, written to `out` with streaming stores.
/// Same pieces and order of summation as [`row`], so the same sum.
fn softmax_row_streamed<T: Real>(
    level: Level,
    x: &[T],
    inv_t: f64,
    out: &mut [T],
    scratch: &mut [f64],
) {
    let m = contiguous::max(level, x, None);
    if !m.is_finite() {
        nonfinite_row(x, inv_t, Kind::Softmax, out);
        return;
    }
    let total: f64 = x
        .chunks(CHUNK)
        .zip(scratch.chunks_mut(CHUNK))
        .map(|(xc, sc)| contiguous::exp_store(level, xc, m, inv_t, sc))
        .sum();
    contiguous::scale_from(level, scratch, 1.0 / total, out, true);
}

fn rows<T: Real>(x: &[T], n: usize, t: f64, kind: Kind, out: &mut [T], par: Par) -> Result<()> {
    let (inv_t, level) = (1.0 / t, simd::level());
    if n >= PAR_MIN_ELEMS || x.len() == n {
        for (xr, or) in x.chunks(n).zip(out.chunks_mut(n)) {
            row(level, xr, inv_t, kind, or, par, false)?;
        }
        return Ok(());
    }
    let rows_per_task = (PAR_MIN_ELEMS / 4 / n).max(1);
    let stream = std::mem::size_of_val(out) >= STREAM_MIN_BYTES;
    let ptr = SyncPtr(out.as_mut_ptr());
    par.for_work(x.len())
        .map_collect(x.len().div_ceil(n * rows_per_task), |k| {
            let r = k * n * rows_per_task..((k + 1) * n * rows_per_task).min(x.len());
            // SAFETY: task `k` writes only `out[r]`, and tasks do not overlap.
            let oc = unsafe { ptr.slice(r.start, r.len()) };
            let scratch_len = if stream && kind == Kind::Softmax {
                n
            } else {
                0
            };
            let mut scratch = vec![0.0; scratch_len];
            for (xr, or) in x[r].chunks(n).zip(oc.chunks_mut(n)) {
                // A row shorter than PAR_MIN_ELEMS is sequential inside.
                if scratch_len > 0 {
                    softmax_row_streamed(level, xr, inv_t, or, &mut scratch);
                } else {
                    row(level, xr, inv_t, kind, or, Par::Seq, stream)
                        .expect("sequential rows cannot fail");
                }
            }
            if stream {
                contiguous::store_fence();
            }
        })?;
    Ok(())
}

/// Softmax over a strided axis. Each task owns a block of inner lanes and walks the reduced axis in
/// pieces of rows small enough to stay in cache: per piece the maximum `m_p` and `e^{(x - m_p)/t}`
/// (stored) with its sum `s_p`; then `M = max_p m_p`, `S = Σ_p s_p e^{(m_p - M)/t}` in piece order,
/// and a last pass rescales each piece by `e^{(m_p - M)/t} / S`. `x` is read from memory once.
/// Log-softmax takes the same per-piece sums without storing, then writes `(x - M)/t - ln S`.
fn strided<T: Real>(x: &[T], l: Layout, t: f64, kind: Kind, out: &mut [T], par: Par) -> Result<()> {
    let (n, inner, inv_t, level) = (l.n, l.inner, 1.0 / t, simd::level());
    let w = inner.min(512);
    let blocks = inner.div_ceil(w);
    let rows_per_piece = (16 * CHUNK / w).max(1);
    let ptr = SyncPtr(out.as_mut_ptr());
    let task = |k: usize| {
        let (o, j0) = (k / blocks, (k % blocks) * w);
        let wj = w.min(inner - j0);
        let base = o * n * inner + j0;
        let at = |i: usize| base + i * inner;
        let xrow = |i: usize| &x[at(i)..at(i) + wj];
        // SAFETY: task (o, block) writes only out[o, i, j0..j0+wj] for i < n; tasks are disjoint,
        // and each slice made here is dropped before the next one is made.
        let out_row = |i: usize| unsafe { ptr.slice(at(i), wj) };
        let pieces: Vec<std::ops::Range<usize>> = (0..n)
            .step_by(rows_per_piece)
            .map(|i0| i0..(i0 + rows_per_piece).min(n))
            .collect();
        // Per piece: lane maxima and sums relative to them.
        let mut piece_m = vec![f64::NEG_INFINITY; wj * pieces.len()];
        let mut piece_s = vec![0.0; wj * pieces.len()];
        let (mut sw, mut shift) = (vec![0.0; wj], vec![0.0; wj]);
        for (p, rows) in pieces.iter().enumerate() {
            let m = &mut piece_m[p * wj..(p + 1) * wj];
            for i in rows.clone() {
                strided::max_into(level, xrow(i), None, m);
            }
            // A lane that is all -inf in this piece shifts by 0 instead, so its terms are 0, not NaN.
            shift
                .iter_mut()
                .zip(m.iter())
                .for_each(|(h, &v)| *h = if v == f64::NEG_INFINITY { 0.0 } else { v });
            let s = &mut piece_s[p * wj..(p + 1) * wj];
            match kind {
                Kind::Softmax => {
                    for i in rows.clone() {
                        strided::exp_store_into(level, xrow(i), &shift, inv_t, out_row(i), s);
                    }
                }
                Kind::LogSoftmax => {
                    sw.fill(0.0);
                    for i in rows.clone() {
                        strided::sum_exp_excl_into(level, xrow(i), None, &shift, inv_t, s, &mut sw);
                    }
                    s.iter_mut().zip(&sw).for_each(|(s, w)| *s += w);
                }
            }
        }
        // Combine the pieces lane by lane, in piece order.
        let mut big_m = vec![f64::NEG_INFINITY; wj];
        for m in piece_m.chunks(wj) {
            big_m
                .iter_mut()
                .zip(m)
                .for_each(|(a, &v)| *a = contiguous::pmax(*a, v));
        }
        let mut big_s = vec![0.0; wj];
        for (m, s) in piece_m.chunks(wj).zip(piece_s.chunks(wj)) {
            for j in 0..wj {
                if m[j] > f64::NEG_INFINITY {
                    big_s[j] += s[j] * ((m[j] - big_m[j]) * inv_t).exp();
                }
            }
        }
        match kind {
            Kind::Softmax => {
                let mut c = vec![0.0; wj];
                for (p, rows) in pieces.iter().enumerate() {
                    let m = &piece_m[p * wj..(p + 1) * wj];
                    for j in 0..wj {
                        c[j] = ((m[j] - big_m[j]) * inv_t).exp() / big_s[j];
                    }
                    for i in rows.clone() {
                        strided::scale_by(level, out_row(i), &c);
                    }
                }
            }
            Kind::LogSoftmax => {
                let c: Vec<f64> = big_s.iter().map(|s| s.ln()).collect();
                for i in 0..n {
                    strided::shift_sub_by(level, xrow(i), &big_m, inv_t, &c, out_row(i));
                }
            }
        }
        for j in (0..wj).filter(|&j| !big_m[j].is_finite()) {
            let lane: Vec<T> = (0..n).map(|i| x[at(i) + j]).collect();
            let mut res = lane.clone();
            nonfinite_row(&lane, inv_t, kind, &mut res);
            for (i, v) in res.into_iter().enumerate() {
                out_row(i)[j] = v;
            }
        }
    };
    par.for_work(l.outer * n * inner)
        .map_collect(l.outer * blocks, task)?;
    Ok(())
}

#[cfg(test)]
mod tests;
