//! The pullbacks over contiguous rows, one piece of [`REDUCE_PIECE`] at a time: from the forward's
//! output, `ln y` (softmax) by [`contiguous::log_store`] or `y = e^z` (log-softmax) by
//! [`contiguous::exp_store`] into scratch, then plain loops with [`W`] fixed accumulators under
//! [`simd::dispatch`] (each sum in its own loop, so each vectorises). Log-sum-exp works from
//! `e^{(a - L)/t}`.

use super::{dx_of, Lane, Sums, W};
use crate::error::Result;
use crate::par::{with_piece_scratch, Par, Rows, REDUCE_PIECE};
use crate::real::Real;
use crate::relax::logsumexp::softmax::Kind;
use crate::simd::{self, contiguous, Level};

/// `Σ f(y, v, g)` over zipped slices, in [`W`] fixed lanes added pairwise at the end (one simple
/// accumulator per call, so each call vectorises).
#[inline(always)]
fn sum3<A: Real, B: Real, T: Real>(
    y: &[A],
    v: &[B],
    g: &[T],
    f: impl Fn(f64, f64, f64) -> f64,
) -> f64 {
    let mut acc = [0.0; W];
    let (yc, vc, gc) = (y.chunks_exact(W), v.chunks_exact(W), g.chunks_exact(W));
    let (yr, vr, gr) = (yc.remainder(), vc.remainder(), gc.remainder());
    for ((yb, vb), gb) in yc.zip(vc).zip(gc) {
        for j in 0..W {
            acc[j] += f(yb[j].to_f64(), vb[j].to_f64(), gb[j].to_f64());
        }
    }
    let mut out = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for ((yv, vv), gv) in yr.iter().zip(vr).zip(gr) {
        out += f(yv.to_f64(), vv.to_f64(), gv.to_f64());
    }
    out
}

/// [`Sums`] of one contiguous piece (the terms of [`Sums::terms`]), one [`sum3`] per sum: measured
/// faster than one fused pass. `y` and `v` as in [`Sums::terms`].
#[inline(always)]
fn piece_sums<A: Real, B: Real, T: Real>(kind: Kind, y: &[A], v: &[B], g: &[T]) -> Sums {
    let vt = |y: f64, v: f64| if y == 0.0 { 0.0 } else { v };
    let finite = |v: f64| v > f64::NEG_INFINITY;
    match kind {
        // `<y, g>` is taken by the caller.
        Kind::Softmax => Sums([
            sum3(y, v, g, |y, v, _| y * vt(y, v)),
            0.0,
            sum3(y, v, g, |y, v, g| y * g * vt(y, v)),
            0.0,
        ]),
        Kind::LogSoftmax => Sums([
            sum3(y, v, g, |y, v, _| y * vt(y, v)),
            sum3(y, v, g, |_, _, g| g),
            sum3(y, v, g, |_, v, g| if finite(v) { g * v } else { 0.0 }),
            sum3(y, v, g, |_, v, g| if finite(v) { g } else { 0.0 }),
        ]),
    }
}

/// One contiguous piece of the output: `ln y` (softmax) or `y = e^z` (log-softmax) into `s`, then
/// its [`Sums`].
fn piece_pass1<T: Real>(level: Level, kind: Kind, out: &[T], g: &[T], s: &mut [f64]) -> Sums {
    match kind {
        Kind::Softmax => {
            // `<y, g>` first: it brings the piece into cache, and `log_store` (slow to stream from
            // memory: its divisions hold back the loads) then reads it from there.
            let yg = simd::dispatch(
                level,
                #[inline(always)]
                || sum3(out, out, g, |y, _, g| y * g),
            );
            contiguous::log_store(level, out, s);
            let mut sums = simd::dispatch(
                level,
                #[inline(always)]
                || piece_sums(Kind::Softmax, out, s, g),
            );
            sums.0[1] = yg;
            sums
        }
        Kind::LogSoftmax => {
            // z <= 0 (up to rounding), so the unclamped exp is right; NaN stays NaN.
            contiguous::exp_store(level, out, 0.0, 1.0, s);
            simd::dispatch(
                level,
                #[inline(always)]
                || piece_sums(Kind::LogSoftmax, s, out, g),
            )
        }
    }
}

#[inline(always)]
fn dx_body<A: Real, T: Real>(kind: Kind, y: &[A], g: &[T], coef: f64, inv_t: f64, dx: &mut [T]) {
    for ((d, yv), gv) in dx.iter_mut().zip(y).zip(g) {
        *d = T::from_f64(dx_of(kind, yv.to_f64(), gv.to_f64(), coef, inv_t));
    }
}

/// One contiguous piece of `x̄` from its `y` (the output for softmax, `e^z` for log-softmax).
fn piece_pass2<A: Real, T: Real>(
    level: Level,
    kind: Kind,
    y: &[A],
    g: &[T],
    coef: f64,
    inv_t: f64,
    dx: &mut [T],
) {
    match kind {
        Kind::Softmax => simd::dispatch(
            level,
            #[inline(always)]
            || dx_body(Kind::Softmax, y, g, coef, inv_t, dx),
        ),
        Kind::LogSoftmax => simd::dispatch(
            level,
            #[inline(always)]
            || dx_body(Kind::LogSoftmax, y, g, coef, inv_t, dx),
        ),
    }
}

/// One row of the softmax pullback from the row `out` of the forward's output; returns its
/// temperature cotangent. With `keep` at least as long as the row, the scratch is computed once
/// and kept there; otherwise the row is cut into pieces on `par` (log-softmax computes `e^z` again
/// for the second pass). The pieces, so the bits, are the same either way.
#[allow(clippy::too_many_arguments)]
pub(super) fn softmax_row<T: Real>(
    level: Level,
    kind: Kind,
    out: &[T],
    g: &[T],
    inv_t: f64,
    dx: &mut [T],
    keep: &mut [f64],
    par: Par,
) -> Result<f64> {
    let (func, n) = (kind.name(), out.len());
    let sums = if keep.len() >= n {
        let s = &mut keep[..n];
        let sums = out
            .chunks(REDUCE_PIECE)
            .zip(g.chunks(REDUCE_PIECE))
            .zip(s.chunks_mut(REDUCE_PIECE))
            .fold(Sums::ZERO, |acc, ((o, g), s)| {
                acc.add(piece_pass1(level, kind, o, g, s))
            });
        let coef = sums.coef(kind);
        match kind {
            Kind::Softmax => piece_pass2(level, kind, out, g, coef, inv_t, dx),
            Kind::LogSoftmax => piece_pass2(level, kind, s, g, coef, inv_t, dx),
        }
        sums
    } else {
        let sums = par.fold_chunks(
            func,
            n,
            (Rows::of(out, 1), Rows::of(g, 1)),
            |_, (o, g)| with_piece_scratch(o.len(), |s| piece_pass1(level, kind, o, g, s)),
            Sums::add,
            Sums::ZERO,
        )?;
        let coef = sums.coef(kind);
        let data = (Rows::of(out, 1), Rows::of(g, 1), Rows::of_mut(dx, 1));
        par.map_chunks(func, n, REDUCE_PIECE, data, |_, (o, g, dx)| match kind {
            Kind::Softmax => piece_pass2(level, kind, o, g, coef, inv_t, dx),
            Kind::LogSoftmax => with_piece_scratch(o.len(), |y| {
                contiguous::exp_store(level, o, 0.0, 1.0, y);
                piece_pass2(level, kind, y, g, coef, inv_t, dx);
            }),
        })?;
        sums
    };
    Ok(sums.dt(kind, inv_t))
}

/// One contiguous piece of a log-sum-exp lane, from `e = e^{(a - L)/t}`: writes `ā` (and `b̄`),
/// returns `Σ w a` in [`W`] fixed lanes added pairwise, then the tail.
#[inline(always)]
fn lse_piece_body<T: Real>(
    lane: Lane,
    e: &[f64],
    a: &[T],
    b: Option<&[T]>,
    t: f64,
    da: &mut [T],
    db: Option<&mut [T]>,
) -> f64 {
    let n = e.len();
    let (a, da) = (&a[..n], &mut da[..n]);
    let full = n / W * W;
    let (mut acc, mut tail) = ([0.0; W], 0.0);
    let wa = |w: f64, a: f64| if w == 0.0 { 0.0 } else { w * a };
    match (b, db) {
        (Some(b), Some(db)) => {
            let (b, db) = (&b[..n], &mut db[..n]);
            let one = |i: usize, da: &mut [T], db: &mut [T]| {
                let w = lane.weight(e[i], b[i].to_f64());
                da[i] = T::from_f64(lane.ct * w);
                db[i] = T::from_f64(lane.ct * (lane.sigma * t * e[i]));
                wa(w, a[i].to_f64())
            };
            for i0 in (0..full).step_by(W) {
                for (j, s) in acc.iter_mut().enumerate() {
                    *s += one(i0 + j, da, db);
                }
            }
            for i in full..n {
                tail += one(i, da, db);
            }
        }
        _ => {
            let one = |i: usize, da: &mut [T]| {
                da[i] = T::from_f64(lane.ct * e[i]);
                wa(e[i], a[i].to_f64())
            };
            for i0 in (0..full).step_by(W) {
                for (j, s) in acc.iter_mut().enumerate() {
                    *s += one(i0 + j, da);
                }
            }
            for i in full..n {
                tail += one(i, da);
            }
        }
    }
    let sum = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    sum + tail
}

/// One contiguous piece (at most [`REDUCE_PIECE`] long) of a log-sum-exp lane.
#[allow(clippy::too_many_arguments)]
pub(super) fn lse_piece<T: Real>(
    level: Level,
    lane: Lane,
    a: &[T],
    b: Option<&[T]>,
    t: f64,
    inv_t: f64,
    da: &mut [T],
    db: Option<&mut [T]>,
) -> f64 {
    with_piece_scratch(a.len(), |e| {
        contiguous::exp_store(level, a, lane.l, inv_t, e);
        if b.is_some() {
            // An entry of zero weight may lie above `L` (it is not part of the sum), where
            // `exp_store`'s exponent bound does not hold: such entries take the clamped `exp`.
            for (ej, aj) in e.iter_mut().zip(a) {
                if aj.to_f64() > lane.l {
                    *ej = simd::exp::exp::<false>((aj.to_f64() - lane.l) * inv_t);
                }
            }
        }
        simd::dispatch(
            level,
            #[inline(always)]
            || lse_piece_body(lane, e, a, b, t, da, db),
        )
    })
}
