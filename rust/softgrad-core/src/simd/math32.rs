//! `exp` and `log` in `f32` lanes, written once over [`F32x`]: the vector routines at every level
//! and, on a splatted vector, their scalar twins ([`exp32`], [`log32`]). Every operation rounds once to `f32` (fused
//! multiply-adds included, emulated exactly where the level has none; see [`F32x`]), so every
//! level gives the same bits.
//!
//! Cody–Waite reduction `x = k ln2 + r`, `|r| <= ln2/2`, with `ln 2` split in a high part of 15
//! significant bits (so `k * LN2_HI` is exact for `|k| < 2^9`) and a low part; `e^r` by the degree-6
//! polynomial `1 + r + r^2 (c2 + c3 r + ... + c6 r^4)` whose `c2..c6` are the Chebyshev interpolant
//! of `(e^r - 1 - r)/r^2` at 5 nodes on `[-ln2/2, ln2/2]`, computed for this crate with mpmath at 50
//! digits and rounded to `f32` (relative error of the polynomial 9.7e-9, 0.08 ulp); `2^k` applied
//! with one rounding ([`F32x::scale2`]), so subnormal results and overflow to `inf` are right.
//! Measured error: at most one ulp against the correctly rounded `e^x`
//! (`math32_tests::exp32_is_within_one_ulp_at_every_level`).
//!
//! **log** (no division): `x = 2^k m`, `m` in `[√2/2, √2)` (subnormals scaled by `2^24` first),
//! `f = m - 1`, `ln(1 + f) = f - f^2/2 + f^3 P(f)` with `P` of degree 8, the Chebyshev interpolant
//! of `(ln(1+f) - f + f^2/2)/f^3` at 9 nodes on `[√2/2 - 1, √2 - 1]` (mpmath, 50 digits; relative
//! error 3.4e-9 with the coefficients rounded to `f32`), plus `k ln 2` in two parts.

use super::vector::{F32x, Lanes32};

const LOG2E: f32 = std::f32::consts::LOG2_E;
/// High part of ln 2 with 15 significant bits (`0x3f317200`).
const LN2_HI: f32 = f32::from_bits(0x3f31_7200);
/// `ln 2 - LN2_HI` rounded to `f32`.
const LN2_LO: f32 = 1.428_606_8e-6;
/// Below this `e^x` rounds to 0 (`e^-104 < 2^-150`); above `HI` it is `inf` (`e^89 > f32::MAX`).
const LO: f32 = -104.0;
const HI: f32 = 89.0;

/// `c2..c6` of `e^r ~ 1 + r + r^2 (c2 + c3 r + ... + c6 r^4)`.
const C: [f32; 5] = [
    0.5,
    0.166_665_78,
    0.041_666_556,
    0.008_363_173,
    0.001_392_617_6,
];

/// `e^x` per lane. NaN gives NaN, `-inf` gives 0, `+inf` gives `inf`.
#[inline(always)]
pub(crate) fn exp32_v<V: F32x>(x: V) -> V {
    // The clamps let NaN through (see `F32x::max_with`).
    let x = x.max_with(V::splat(LO)).min_with(V::splat(HI));
    let kf = x.mul(V::splat(LOG2E)).round();
    let r = kf.neg_mul_add(V::splat(LN2_LO), kf.neg_mul_add(V::splat(LN2_HI), x));
    poly_scale(r, kf)
}

/// `e^{(x - m) inv_t}` per lane with the exponent carried in two parts, so that its rounding does
/// not cost `|x - m| inv_t` ulps of the result as the plain `exp32_v((x - m) * inv_t)` does: `x - m`
/// exactly as `a + a_lo` (Knuth's TwoSum), times `inv_t = t + t_lo` as `d + d_lo` (the product's
/// error by a fused multiply-add), `d - k ln2` formed exactly and the low parts added once.
/// `UNIT` skips the multiplication (`inv_t = 1`). For `x <= m` (or NaN; larger `x` give
/// unspecified finite results or `inf`).
#[inline(always)]
pub(crate) fn exp32_shifted_v<V: F32x, const UNIT: bool>(x: V, m: V, t: V, t_lo: V) -> V {
    let a = x.sub(m);
    let bb = a.sub(x);
    let a_lo = x.sub(a.sub(bb)).sub(m.add(bb));
    let (d, d_lo) = if UNIT {
        (a, a_lo)
    } else {
        let d = a.mul(t);
        // `d - a t` exactly, then the low-order products.
        let err = a.neg_mul_add(t, d);
        (d, a_lo.mul_add(t, a.mul(t_lo)).sub(err))
    };
    // An infinite `x - m` has a NaN low part: 0 instead (the clamp below decides those lanes).
    let d_lo = V::select(d_lo.eq(d_lo), d_lo, V::splat(0.0));
    // Lets NaN through.
    let d = d.max_with(V::splat(LO)).min_with(V::splat(HI));
    let kf = d.mul(V::splat(LOG2E)).round();
    let r = kf
        .neg_mul_add(V::splat(LN2_HI), d)
        .add(kf.neg_mul_add(V::splat(LN2_LO), d_lo));
    poly_scale(r, kf)
}

/// `e^r 2^k` for the reduced argument `r`.
#[inline(always)]
fn poly_scale<V: F32x>(r: V, kf: V) -> V {
    let mut q = V::splat(C[4]);
    for &c in C[..4].iter().rev() {
        q = q.mul_add(r, V::splat(c));
    }
    // 1 + r (1 + r q) = 1 + r + r^2 q.
    let one = V::splat(1.0);
    q.mul_add(r, one).mul_add(r, one).scale2(kf)
}

/// The scalar twin of [`exp32_shifted_v`], always through the multiplication: at `inv_t = 1` it
/// is exact (`d = a`, `d_lo = a_lo`), so the twin also checks that `UNIT` gives the same bits.
#[cfg_attr(not(test), allow(dead_code))] // the reference of the kernels' tests
pub(crate) fn exp32_shifted(x: f32, m: f32, t: f32, t_lo: f32) -> f32 {
    let s = Lanes32::splat;
    exp32_shifted_v::<_, false>(s(x), s(m), s(t), s(t_lo)).0[0]
}

/// `e^x`: the scalar twin of [`exp32_v`] (the same code on a splatted vector; every level gives
/// these bits).
#[cfg_attr(not(test), allow(dead_code))] // the reference of the kernels' tests
pub(crate) fn exp32(x: f32) -> f32 {
    exp32_v(Lanes32::splat(x)).0[0]
}

/// `P(f)` of the log: `p0 + p1 f + ... + p8 f^8`.
const P: [f32; 9] = [
    0.333_333_3,
    -0.249_999_97,
    0.200_007_16,
    -0.166_678_03,
    0.142_490_58,
    -0.124_256_87,
    0.116_854_2,
    -0.114_797_34,
    0.069_716_12,
];

/// `ln x` per lane. `x < 0` and NaN give NaN, `0` gives `-inf`, `+inf` gives `inf`.
#[inline(always)]
pub(crate) fn log32_v<V: F32x>(x: V) -> V {
    let (zero, one) = (V::splat(0.0), V::splat(1.0));
    // Subnormals: scale into the normal range and take 24 off the exponent.
    let tiny = x.lt(V::splat(f32::MIN_POSITIVE));
    let xs = V::select(tiny, x.mul(V::splat(16_777_216.0)), x);
    let (m1, e) = xs.split_exp();
    let e = V::select(tiny, e.sub(V::splat(24.0)), e);
    // m in [√2/2, √2): halve the mantissas at or above √2.
    let big = V::splat(std::f32::consts::SQRT_2).lt(m1);
    let m = V::select(big, m1.mul(V::splat(0.5)), m1);
    let k = V::select(big, e.add(one), e);
    let f = m.sub(one);
    let mut p = V::splat(P[8]);
    for &c in P[..8].iter().rev() {
        p = p.mul_add(f, V::splat(c));
    }
    let f2 = f.mul(f);
    // f - f^2/2 + f^3 P, the small terms first.
    let t = p.mul(f).neg_mul_add(f2, V::splat(0.5).mul(f2));
    let y = f.sub(t);
    let y = k.mul_add(V::splat(LN2_HI), k.mul_add(V::splat(LN2_LO), y));
    // Special values.
    let y = V::select(x.eq(V::splat(f32::INFINITY)), x, y);
    let y = V::select(x.eq(zero), V::splat(f32::NEG_INFINITY), y);
    let y = V::select(x.lt(zero), V::splat(f32::NAN), y);
    V::select(x.eq(x), y, x)
}

/// `ln x`: the scalar twin of [`log32_v`].
#[cfg_attr(not(test), allow(dead_code))] // the reference of the kernels' tests
pub(crate) fn log32(x: f32) -> f32 {
    log32_v(Lanes32::splat(x)).0[0]
}
