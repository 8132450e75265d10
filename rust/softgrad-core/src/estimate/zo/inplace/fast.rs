//! The vectorized half of the in-place passes. A coordinate whose steps keep it inside one binade,
//! at least 8 ulp from its edges (the common case), is a chain of exact shifts by the snapped
//! increments: nothing can merge there, the original is `round(y − Σ d)` and no bit is recorded.
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

/// `c₀ = round(y − Σ d)` and whether the path of the steps `d` from `c₀` stays in `c₀`'s window
/// and ends at `y`: then `c₀` is the only preimage of `y` near it and
/// [`undo_one`](super::undo_one) returns it. (Inside the window every step is `v + snap(d_k, q)`,
/// exact; a sum outside it fails the test whatever its rounding, since the bounds are floats.)
#[inline(always)]
fn undo_fast<T: Float>(y: T, d: &[f64]) -> (T, Window, bool) {
    let c0 = T::from_f64(y.to_f64() - super::total(d));
    let w = Window::of(c0);
    let mut v = c0.to_f64();
    let mut ok = w.holds(v);
    for &dk in d {
        v += snap(dk, w.q, w.inv);
        ok &= w.holds(v);
    }
    (c0, w, ok & (v == y.to_f64()))
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

/// The recorded step `coeff` after the steps `prior`, where it is a chain of shifts: `x_i` stepped
/// and `slow[i] = 0`; elsewhere `x_i` is left and `slow[i] = 1`. Returns `false` (nothing done)
/// for more than 3 prior steps.
pub(super) fn apply_recorded<T: Float>(
    level: Level,
    x: &mut [T],
    z: &[f64],
    prior: &[f64],
    coeff: f64,
    slow: &mut [u8],
) -> bool {
    macro_rules! with_k {
        ($k:literal) => {{
            let mut p = [0.0; $k];
            p.copy_from_slice(prior);
            simd::dispatch(
                level,
                #[inline(always)]
                || apply_k::<T, $k>(x, z, &p, coeff, slow),
            )
        }};
    }
    match prior.len() {
        0 => with_k!(0),
        1 => with_k!(1),
        2 => with_k!(2),
        3 => with_k!(3),
        _ => return false,
    }
    true
}

#[inline(always)]
#[allow(clippy::needless_range_loop)] // two arrays, one index
fn apply_k<T: Float, const K: usize>(
    x: &mut [T],
    z: &[f64],
    prior: &[f64; K],
    coeff: f64,
    slow: &mut [u8],
) {
    for ((v, &zi), s) in x.iter_mut().zip(z).zip(slow.iter_mut()) {
        let mut d = [0.0; K];
        for k in 0..K {
            d[k] = prior[k] * zi; // plain loops: closures may stay out of line here
        }
        let y = *v;
        let (_, w, ok) = undo_fast(y, &d);
        let next = y.to_f64() + snap(coeff * zi, w.q, w.inv);
        let ok = ok & w.holds(next);
        *v = if ok { T::from_f64(next) } else { y };
        *s = u8::from(!ok);
    }
}

/// Undoes the steps `coeffs` where they are a chain of shifts: `x_i ← c₀` and `slow[i] = 0`;
/// elsewhere `x_i` is left and `slow[i] = 1`. Returns `false` (nothing done) for more than 4 steps.
pub(super) fn restore<T: Float>(
    level: Level,
    x: &mut [T],
    z: &[f64],
    coeffs: &[f64],
    slow: &mut [u8],
) -> bool {
    macro_rules! with_m {
        ($m:literal) => {{
            let mut c = [0.0; $m];
            c.copy_from_slice(coeffs);
            simd::dispatch(
                level,
                #[inline(always)]
                || restore_m::<T, $m>(x, z, &c, slow),
            )
        }};
    }
    match coeffs.len() {
        1 => with_m!(1),
        2 => with_m!(2),
        3 => with_m!(3),
        4 => with_m!(4),
        _ => return false,
    }
    true
}

#[inline(always)]
#[allow(clippy::needless_range_loop)] // two arrays, one index
fn restore_m<T: Float, const M: usize>(x: &mut [T], z: &[f64], coeffs: &[f64; M], slow: &mut [u8]) {
    for ((v, &zi), s) in x.iter_mut().zip(z).zip(slow.iter_mut()) {
        let mut d = [0.0; M];
        for k in 0..M {
            d[k] = coeffs[k] * zi;
        }
        let (c0, _, ok) = undo_fast(*v, &d);
        *v = if ok { c0 } else { *v };
        *s = u8::from(!ok);
    }
}
