//! The sums of [`SumExpExcl`] with the pullback's weights of a row in the same pass: one `f32`
//! exponential per entry for the value and the weights (`relax::logsumexp::fused`).
//!
//! The value's sums take `e = e^d` of the exponent `d = (x - m) inv_t` rounded to `f32`
//! ([`exp32_v`](super::exp32_v)); a weight needs `e^D` of the exact exponent `D = d + δ`, within
//! about an ulp whatever `|D|` (as [`exp32_shifted_v`](super::exp32_shifted_v) gives it). Here
//! `δ` is formed as that routine forms its low part (TwoSum of `x - m`, the product's error by a
//! fused multiply-add) and `e^D = e e^δ` is taken as `e + e δ`, rounded once: `|δ|` is below
//! `2^-17`, so `e^δ - 1 - δ` is far below an ulp. So the value keeps the bits of `logsumexp` and
//! each weight `ê = e^D` costs an `f32` fused multiply-add instead of a second exponential.

use super::{hsum2, split, Hook, SumExpExcl};
use crate::simd::vector::{F32x, F64x, Isa, Kernel, W32};
use crate::simd::{vectorize, Level};

/// Stores `ê = e^{(x - m) inv_t}` and accumulates `Σ e d` (see [`sum_exp_weights`]).
struct Weights<'a, V: F32x, const UNIT: bool> {
    out: &'a mut [f32],
    m: V,
    t: V,
    t_lo: V,
    sd: [V::F64; 2],
}

/// Below this `d`, `e^d` is 0 in `f32`: `e d` is taken at `max(d, LO)`, so that a `-inf` entry
/// (`e = 0`, `d = -inf`) adds 0.
const LO: f32 = -104.0;

impl<V: F32x, const UNIT: bool> Hook<V> for Weights<'_, V, UNIT> {
    #[inline(always)]
    fn on(&mut self, i: usize, v: V, e: V) {
        let (m, t, t_lo) = (self.m, self.t, self.t_lo);
        // x - m = a + a_lo exactly (TwoSum), times t + t_lo as d + δ.
        let a = v.sub(m);
        let bb = a.sub(v);
        let a_lo = v.sub(a.sub(bb)).sub(m.add(bb));
        let (d, lo) = if UNIT {
            (a, a_lo)
        } else {
            let d = a.mul(t);
            let err = a.neg_mul_add(t, d);
            (d, a_lo.mul_add(t, a.mul(t_lo)).sub(err))
        };
        // An infinite x - m has a NaN low part (and e = 0 or a NaN row): 0 instead.
        let lo = V::select(lo.eq(lo), lo, V::splat(0.0));
        let p = e.mul_add(lo, e);
        let out = &mut self.out[i..];
        if out.len() >= W32 {
            p.store(out);
        } else {
            p.store_partial(out);
        }
        let (s0, s1) = e.mul(d.max_with(V::splat(LO))).widen();
        self.sd = [self.sd[0].add(s0), self.sd[1].add(s1)];
    }
}

struct SumExpWeights<'a> {
    x: &'a [f32],
    m: f32,
    inv_t: f64,
    out: &'a mut [f32],
}

impl Kernel for SumExpWeights<'_> {
    type Output = (f64, f64, f64);
    #[inline(always)]
    fn run<S: Isa>(self) -> (f64, f64, f64) {
        let (t, t_lo) = split(self.inv_t);
        let sums = SumExpExcl {
            x: self.x,
            m: self.m,
            inv_t: t,
        };
        let z = <S::F64 as F64x>::splat(0.0);
        let (m, tv, t_lo_v) = (S::F32::splat(self.m), S::F32::splat(t), S::F32::splat(t_lo));
        let out = self.out;
        // The sums' loop as `sum_exp_excl` runs it (`UNIT` where `t` is 1), the weights exact
        // (`UNIT` only where `inv_t` is 1).
        if t == 1.0 && t_lo == 0.0 {
            let mut w = Weights::<_, true> {
                out,
                m,
                t: tv,
                t_lo: t_lo_v,
                sd: [z; 2],
            };
            let (s, sw) = sums.body::<S::F32, true, _>(&mut w);
            (s, sw, hsum2(w.sd))
        } else {
            let mut w = Weights::<_, false> {
                out,
                m,
                t: tv,
                t_lo: t_lo_v,
                sd: [z; 2],
            };
            let (s, sw) = if t == 1.0 {
                sums.body::<S::F32, true, _>(&mut w)
            } else {
                sums.body::<S::F32, false, _>(&mut w)
            };
            (s, sw, hsum2(w.sd))
        }
    }
}

/// `(s, sw)` of [`sum_exp_excl`](super::sum_exp_excl) (the same bits), with `out[i] = e^{(x_i - m)
/// inv_t}` (the exponent taken exactly, see the module docs) and `Σ e d` (`d = (x - m) inv_t`,
/// terms of `e = 0` adding 0) in `f64`. `m` is the maximum of `x` (finite), `inv_t` as for
/// [`inv_t32`](super::inv_t32).
pub(crate) fn sum_exp_weights(
    level: Level,
    x: &[f32],
    m: f32,
    inv_t: f64,
    out: &mut [f32],
) -> (f64, f64, f64) {
    assert_eq!(x.len(), out.len(), "sum_exp_weights: length mismatch");
    vectorize(level, SumExpWeights { x, m, inv_t, out })
}
