//! The vectorized half of the in-place passes. A coordinate whose recorded step keeps it inside one
//! binade, at least 8 ulp from its edges (the common case), is an exact shift by the snapped
//! increment: nothing can merge there, the original is `round(y − d)` and no bit is recorded.
//! These loops decide that and do the work for every coordinate without a branch, so LLVM
//! vectorizes them for the level `simd::dispatch` compiles them at; they flag the others (a
//! path that leaves its binade), which `inplace` finishes with the scalar solve. Both halves use the
//! same arithmetic as [`step`](super::step) (plain IEEE operations, no fused ones), so the result
//! does not depend on the level.

use super::{snap, Float};
use crate::simd::{self, Level};

/// The binade of a value: its quantum `q` (and `1/q` as [`Float::inv_quantum`]) and the bounds
/// that keep a value at least `m = 8q` inside it.
#[derive(Clone, Copy)]
pub(super) struct Window {
    q: f64,
    inv: (f64, f64),
    lo: f64,
    hi: f64,
    m: f64,
}

impl Window {
    /// The window of `r`'s binade (as an `f64`: for `f32` data, the `f64` exponent of the value).
    #[inline(always)]
    fn of<T: Float>(r: T) -> Self {
        let e = r.to_f64().abs().to_bits() & (0x7ff << 52);
        let q = r.quantum();
        Window {
            q,
            inv: r.inv_quantum(),
            // At least the least subnormal, so that a zero is never inside; past the top binade
            // `hi` is negative (the sign bit), so infinities and NaNs are never inside either.
            lo: f64::from_bits(e).max(f64::from_bits(1)),
            hi: f64::from_bits(e.wrapping_add(1 << 52)),
            m: 8.0 * q,
        }
    }

    /// Whether `v` lies in the binade, at least `m` from its edges (`interior` of `inplace`).
    #[inline(always)]
    fn holds(&self, v: f64) -> bool {
        let a = v.abs();
        (a - self.m >= self.lo) & (a + self.m < self.hi)
    }
}

/// `c₀ = round(y − d)` and whether `c₀` and `y` lie in `c₀`'s window with `y = c₀ + snap(d)`:
/// then `c₀` is the only preimage of `y` under the recorded step `d` and
/// [`undo_one`](super::undo_one) returns it. (A float `x` of another binade `B'` that mapped to
/// `y` would lie within `|D_B − D_B'|` plus a rounding, under two ulp of the coarser binade, of
/// `c₀`: inside `c₀`'s binade, since `c₀` is 8 ulp from its edges.)
#[inline(always)]
fn undo_fast<T: Float>(y: T, d: f64) -> (T, Window, bool) {
    let c0 = T::from_f64(y.to_f64() - d);
    let w = Window::of(c0);
    let v = c0.to_f64() + snap(d, w.q, w.inv);
    (c0, w, w.holds(c0.to_f64()) & w.holds(v) & (v == y.to_f64()))
}

/// `x_i ← step(x_i, coeff z_i)` for every `i` (no record).
pub(super) fn apply_plain<T: Float>(level: Level, x: &mut [T], z: &[f64], coeff: f64) {
    simd::dispatch(
        level,
        #[inline(always)]
        || {
            for (v, zi) in x.iter_mut().zip(z) {
                *v = super::step(*v, coeff * zi);
            }
        },
    )
}

/// The recorded step of total `after` from the original, the current value being the step
/// `before` from it (`None`: the current value is the original), where both are one shift inside
/// one window (so the original and the new value are each the only preimage: no bit is needed):
/// `x_i` stepped and `slow[i] = 0`; elsewhere `x_i` is left and `slow[i] = 1`.
pub(super) fn apply_recorded<T: Float>(
    level: Level,
    x: &mut [T],
    z: &[f64],
    before: Option<f64>,
    after: f64,
    slow: &mut [u8],
) {
    match before {
        Some(b) => simd::dispatch(
            level,
            #[inline(always)]
            || {
                for ((v, &zi), s) in x.iter_mut().zip(z).zip(slow.iter_mut()) {
                    let (x0, w, ok) = undo_fast(*v, b * zi);
                    let next = x0.to_f64() + snap(after * zi, w.q, w.inv);
                    let ok = ok & w.holds(next);
                    *v = if ok { T::from_f64(next) } else { *v };
                    *s = u8::from(!ok);
                }
            },
        ),
        None => simd::dispatch(
            level,
            #[inline(always)]
            || {
                for ((v, &zi), s) in x.iter_mut().zip(z).zip(slow.iter_mut()) {
                    let w = Window::of(*v);
                    let next = v.to_f64() + snap(after * zi, w.q, w.inv);
                    let ok = w.holds(v.to_f64()) & w.holds(next);
                    *v = if ok { T::from_f64(next) } else { *v };
                    *s = u8::from(!ok);
                }
            },
        ),
    }
}

/// Undoes the recorded step of total `coeff` where it is one shift inside one window:
/// `x_i ← c₀` and `slow[i] = 0`; elsewhere `x_i` is left and `slow[i] = 1`.
pub(super) fn restore<T: Float>(level: Level, x: &mut [T], z: &[f64], coeff: f64, slow: &mut [u8]) {
    simd::dispatch(
        level,
        #[inline(always)]
        || {
            for ((v, &zi), s) in x.iter_mut().zip(z).zip(slow.iter_mut()) {
                let (c0, _, ok) = undo_fast(*v, coeff * zi);
                *v = if ok { c0 } else { *v };
                *s = u8::from(!ok);
            }
        },
    )
}
