//! Log-sum-exp for reverse mode, with the pullback's work done in the forward: the value and, per
//! lane, the weights `p = e^{(a - L)/t}` (the input cotangent of a unit cotangent) and the
//! temperature cotangent `h = (L - Σ_i p_i a_i)/t` of a unit cotangent, so the pullback of a
//! cotangent `c` is `ā = c p`, `t̄ = Σ_lanes c h`: it never reads the input again, and the forward
//! computes `p` while the rows it just reduced are still in cache (a task of narrow rows, or one
//! wide row). Unweighted, over contiguous rows (`layout.inner == 1`).
//!
//! Narrow rows (blocks of rows in SIMD lanes, `simd::rows`) take `p = e / S` and
//! `h = ℓ - Σ e d / S` from the forward's own exponentials `e = e^d`, `d = (x - m)/t`, with
//! `ℓ = (L - m)/t` and `S = Σ e`: one exponential per entry, and `h` a sum of two non-negative terms
//! (no cancellation). Wide rows take the same formulas, `e` stored by the softmax's exponential
//! pass right after the row is reduced (while it is in cache), then scaled in place. The value
//! has the bits of [`logsumexp`](super::logsumexp()). Rows of
//! the uncommon kinds take the formulas of [`logsumexp_vjp`] (an empty row has `p = 0`, `h = 0`, so
//! every derivative `c · 0`). `p` is stored in the data's type: for f32 one more rounding of `ā`.

use std::iter::Empty;

use super::{narrow, reduce_row, Partial};
use crate::error::{Error, Result};
use crate::par::{Layout, Par, Rows, REDUCE_PIECE};
use crate::real::Real;
use crate::relax::check_temperature;
use crate::simd::rows::{self, MAX_N};
use crate::simd::vector::W;
use crate::simd::{self, contiguous};

#[cfg(doc)]
use super::logsumexp_vjp;

use super::grad::Lane;

/// Checks the lengths shared by [`logsumexp_weights`] and [`logsumexp_vjp_weights`]; returns `n`.
fn check_rows(func: &'static str, layout: Layout) -> Result<usize> {
    if layout.inner != 1 {
        return Err(Error::param(
            func,
            "layout",
            "must be contiguous rows (inner == 1)",
        ));
    }
    layout.len(func)?;
    Ok(layout.n)
}

/// Log-sum-exp of each contiguous row of `x` (unweighted) into `out` (and `sign` if given, as
/// [`logsumexp`](super::logsumexp()) writes them), with the pullback's per-row weights `p` (the
/// length of `x`) and temperature terms `h` (one per row); see the module docs.
///
/// # Errors
/// [`Error::InvalidParameter`] for a bad temperature or a layout with `inner != 1`,
/// [`Error::Shape`] for inconsistent lengths, [`Error::Alloc`] and [`Error::Interrupted`].
#[allow(clippy::too_many_arguments)]
pub fn logsumexp_weights<T: Real>(
    x: &[T],
    layout: Layout,
    t: f64,
    out: &mut [T],
    sign: Option<&mut [T]>,
    p: &mut [T],
    h: &mut [f64],
    par: Par,
) -> Result<()> {
    const F: &str = "logsumexp";
    check_temperature(F, t)?;
    let n = check_rows(F, layout)?;
    let len = layout.len(F)?;
    Error::check_len(F, "a", x.len(), len)?;
    Error::check_len(F, "p", p.len(), len)?;
    Error::check_len(F, "out", out.len(), layout.outputs())?;
    Error::check_len(F, "h", h.len(), layout.outputs())?;
    if let Some(s) = sign.as_deref() {
        Error::check_len(F, "sign", s.len(), layout.outputs())?;
    }
    let (level, inv_t, want_sign) = (simd::level(), 1.0 / t, sign.is_some());
    let data = (
        (Rows::of(x, n), Rows::of_mut(p, n)),
        (
            Rows::of_mut(out, 1),
            sign.map(|s| Rows::of_mut(s, 1)),
            Rows::of_mut(h, 1),
        ),
    );
    if narrow::applies(layout) {
        par.map_row_tasks(
            F,
            layout.outer,
            n,
            W,
            data,
            |_, ((x, p), (out, sign, h))| {
                let slow = |j: usize, max: f64, s: f64, w: f64, pr: &mut [T]| {
                    let xr = &x[j * n..(j + 1) * n];
                    let part = if max.is_finite() {
                        Partial { max, w, s }
                    } else {
                        Partial {
                            max,
                            ..Partial::EMPTY
                        }
                    };
                    let naive = || super::naive_sum(xr.iter().copied(), None::<Empty<T>>, inv_t);
                    let (v, sg) = part.finish(t, want_sign, naive);
                    (v, sg, special_row(xr, v, t, pr))
                };
                rows::logsumexp_weights(level, x, n, t, out, sign, p, h, slow);
                Ok(())
            },
        )?;
        return Ok(());
    }
    debug_assert!(n > MAX_N);
    par.map_rows(
        F,
        layout.outer,
        n,
        data,
        0,
        (),
        |(), _, ((xr, pr), (out, mut sign, h)), _, inner| {
            if let Some(hr) = row32(level, xr, pr, t, want_sign, (out, sign.as_deref_mut())) {
                h[0] = hr;
                return Ok(());
            }
            let r = reduce_row(level, xr, None, inv_t, inner)?;
            let naive = || super::naive_sum(xr.iter().copied(), None::<Empty<T>>, inv_t);
            let (v, sg) = r.finish(t, want_sign, naive);
            out[0] = T::from_f64(v);
            if let Some(s) = sign {
                s[0] = T::from_f64(sg);
            }
            if !(r.max.is_finite() && r.w > 0.0 && r.s >= 0.0 && (r.s / r.w).is_finite()) {
                h[0] = special_row(xr, v, t, pr);
                return Ok(());
            }
            // p = e / S from e = e^{(x - m)/t} (exp_store's f32 lanes for f32 data: m is an f32
            // value), ℓ = (L - m)/t as `Partial::finish` takes it.
            let (total, ell) = (r.w + r.s, (r.s / r.w).ln_1p() + r.w.ln());
            let (m, c) = (r.max, 1.0 / total);
            let sd = inner.fold_chunks(
                F,
                n,
                (Rows::of(xr, 1), Rows::of_mut(pr, 1)),
                |_, (xc, pc)| {
                    contiguous::exp_store(level, xc, m, inv_t, pc);
                    simd::dispatch(
                        level,
                        #[inline(always)]
                        || scale_moment(xc, pc, m, inv_t, c),
                    )
                },
                |x, y| x + y,
                0.0,
            )?;
            h[0] = ell - sd / total;
            Ok(())
        },
    )?;
    Ok(())
}

/// A wide `f32` row of at most [`REDUCE_PIECE`] entries (one piece of [`reduce_row`], so the same
/// value bits) with a finite maximum: the value, `p` and `h` from one exponential per entry
/// ([`contiguous::sum_exp_weights`]), `p` then scaled in place; returns `h`. `None` (nothing
/// written) for other rows.
fn row32<T: Real>(
    level: simd::Level,
    x: &[T],
    p: &mut [T],
    t: f64,
    want_sign: bool,
    (out, sign): (&mut [T], Option<&mut [T]>),
) -> Option<f64> {
    let inv_t = 1.0 / t;
    let (x32, p32) = (T::as_f32(x)?, T::as_f32_mut(p)?);
    contiguous::inv_t32(inv_t)?;
    if x.len() > REDUCE_PIECE {
        return None;
    }
    let max = contiguous::max(level, x32, None);
    if !max.is_finite() {
        return None;
    }
    let (s, w, sd) = contiguous::sum_exp_weights(level, x32, max as f32, inv_t, p32);
    let r = Partial { max, w, s };
    // The sum is finite and positive here (a finite maximum); `naive` is never called.
    let (v, sg) = r.finish(t, want_sign, || f64::NAN);
    out[0] = T::from_f64(v);
    if let Some(s) = sign {
        s[0] = T::from_f64(sg);
    }
    if !(r.w > 0.0 && r.s >= 0.0 && (r.s / r.w).is_finite()) {
        return Some(special_row(x, v, t, p));
    }
    let (total, ell) = (r.w + r.s, (r.s / r.w).ln_1p() + r.w.ln());
    contiguous::scale(level, p32, 1.0 / total);
    Some(ell - sd / total)
}

/// Accumulators of [`scale_moment`].
const ACC: usize = 8;

/// `p ← p c` where `p` holds `e = e^d`, `d = (x - m) inv_t`; returns `Σ e d` (terms with `e = 0`
/// left out: their `d` may be `-inf`) in [`ACC`] fixed lanes added pairwise, then the tail.
#[inline(always)]
fn scale_moment<T: Real>(x: &[T], p: &mut [T], m: f64, inv_t: f64, c: f64) -> f64 {
    let one = |x: T, p: &mut T| {
        let e = p.to_f64();
        *p = T::from_f64(e * c);
        if e == 0.0 {
            0.0
        } else {
            e * ((x.to_f64() - m) * inv_t)
        }
    };
    let mut acc = [0.0; ACC];
    let (xc, mut pc) = (x.chunks_exact(ACC), p.chunks_exact_mut(ACC));
    let xr = xc.remainder();
    for (xb, pb) in xc.zip(&mut pc) {
        for j in 0..ACC {
            acc[j] += one(xb[j], &mut pb[j]);
        }
    }
    let mut sum = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (xv, pv) in xr.iter().zip(pc.into_remainder()) {
        sum += one(*xv, pv);
    }
    sum
}

/// `p` and `h` of a row whose log-sum-exp `l` is not of the common kind (NaN, `±inf`), by the
/// formulas of `logsumexp_vjp` for a unit cotangent: `p = 0`, `h = 0` where the sum is empty.
fn special_row<T: Real>(x: &[T], l: f64, t: f64, p: &mut [T]) -> f64 {
    let lane = Lane {
        l,
        sigma: 1.0,
        ct: 1.0,
    };
    if lane.empty() {
        p.iter_mut().for_each(|v| *v = T::from_f64(0.0));
        return lane.dt(0.0, t);
    }
    let mut wa = 0.0;
    for (pv, xv) in p.iter_mut().zip(x) {
        let a = xv.to_f64();
        // Clamped as the pullback clamps (NaN stays NaN, which `f64::min` would drop).
        let d = (a - l) / t;
        let e = if d > 720.0 { 720f64 } else { d }.exp();
        *pv = T::from_f64(e);
        wa += if e == 0.0 { 0.0 } else { e * a };
    }
    lane.dt(wa, t)
}

/// `ā_i = c p_i` over each row, and `t̄ = Σ_rows c h` (fixed tasks added in order, as
/// [`logsumexp_vjp`] adds them): the pullback of a cotangent `c` per row from the residuals `p`, `h`
/// of [`logsumexp_weights`] (same `layout`; `t`, the forward's temperature, is only checked);
/// writes `da` and returns `t̄`.
///
/// # Errors
/// [`Error::InvalidParameter`] for a bad temperature or a layout with `inner != 1`,
/// [`Error::Shape`] for inconsistent lengths, [`Error::Alloc`] and [`Error::Interrupted`].
pub fn logsumexp_vjp_weights<T: Real>(
    p: &[T],
    h: &[f64],
    ct: &[f64],
    layout: Layout,
    t: f64,
    da: &mut [T],
    par: Par,
) -> Result<f64> {
    const F: &str = "logsumexp_vjp";
    check_temperature(F, t)?;
    let n = check_rows(F, layout)?;
    let len = layout.len(F)?;
    Error::check_len(F, "p", p.len(), len)?;
    Error::check_len(F, "da", da.len(), len)?;
    Error::check_len(F, "h", h.len(), layout.outputs())?;
    Error::check_len(F, "cotangent", ct.len(), layout.outputs())?;
    let level = simd::level();
    let data = (
        (Rows::of(p, n), Rows::of_mut(da, n)),
        (Rows::of(h, 1), Rows::of(ct, 1)),
    );
    let parts = if narrow::applies(layout) {
        par.map_row_tasks(F, layout.outer, n, W, data, |_, ((p, da), (h, ct))| {
            Ok(simd::dispatch(
                level,
                #[inline(always)]
                || scale_rows(p, h, ct, n, da),
            ))
        })?
    } else {
        par.map_rows(
            F,
            layout.outer,
            n,
            data,
            0,
            0.0,
            |acc, _, ((p, da), (h, ct)), _, _| {
                simd::dispatch(
                    level,
                    #[inline(always)]
                    || scale_rows(p, h, ct, n, da),
                );
                Ok(acc + ct[0] * h[0])
            },
        )?
    };
    Ok(parts.into_iter().fold(0.0, |a, b| a + b))
}

/// `da = c p` row by row; returns `Σ c h` in row order from 0.
#[inline(always)]
fn scale_rows<T: Real>(p: &[T], h: &[f64], ct: &[f64], n: usize, da: &mut [T]) -> f64 {
    let mut dt = 0.0;
    for (((pr, dr), &c), &hr) in p.chunks_exact(n).zip(da.chunks_exact_mut(n)).zip(ct).zip(h) {
        for (d, &v) in dr.iter_mut().zip(pr) {
            *d = T::from_f64(c * v.to_f64());
        }
        dt += c * hr;
    }
    dt
}
#[cfg(test)]
#[path = "fused_tests.rs"]
mod tests;
