//! `exp` and `log`, written once over [`F64x`] and accurate to one ulp: the same code is the vector
//! routine at every level and, over one-lane [`Lanes`], the scalar twin ([`exp`], [`log`]).
//!
//! **exp**: Cody–Waite reduction `x = k ln2 + r`, `|r| <= ln2/2`, with `ln 2` split in a high part
//! whose product with `k` is exact and a low part; `e^r` by a degree-11 polynomial whose coefficients
//! are the Chebyshev interpolant of `(e^r - 1 - r)/r^2` on `[-ln2/2, ln2/2]` (computed for this crate
//! with mpmath at 50 digits; max error 0.95 ulp over the interval, including rounding); `2^k` applied
//! with one rounding ([`F64x::scale2`]), so results in the subnormal range and overflow to `inf` are
//! right.
//!
//! **log**: the reduction and polynomial of fdlibm's `e_log.c` (Sun Microsystems, 1993): `x = 2^k m`
//! with `m` in `[√2/2, √2)`, `f = m - 1`, `s = f/(2+f)`, `log(1+f) = f - s(f - R(s²))` with a
//! degree-14 (in `s`) minimax `R`, error below one ulp; subnormals are scaled by `2^54` first.

use super::vector::{F64x, Lanes};

pub(crate) const LOG2E: f64 = std::f64::consts::LOG2_E;
/// High part of ln 2 with 32 significant bits: `k * LN2_HI` is exact for `|k| < 2^21`.
pub(crate) const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
/// `ln 2 - LN2_HI`, to double precision (the part `LN_2 - LN2_HI` would lose is ~1e-17 · k).
pub(crate) const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
/// Below this `exp` is 0 even after subnormal rounding; above `HI` it is `inf`.
const LO: f64 = -760.0;
const HI: f64 = 720.0;

/// Coefficients `c2..c11` of `e^r ~ 1 + r + r^2 (c2 + c3 r + ... + c11 r^9)`.
const C: [f64; 10] = [
    0.5000000000000001,
    0.16666666666666669,
    0.04166666666662413,
    0.008333333333330062,
    0.0013888888917213717,
    0.00019841269863053618,
    2.4801521295954376e-05,
    2.7557268459997064e-06,
    2.7620088445409746e-07,
    2.510038549551032e-08,
];

/// `e^x` per lane. NaN gives NaN, `-inf` gives 0, `+inf` gives `inf`.
#[inline(always)]
pub(crate) fn exp_v<V: F64x>(x: V) -> V {
    // The clamp lets NaN through (see `F64x::min_with`).
    exp_shifted_v(x.min_with(V::splat(HI)))
}

/// `e^x` per lane for `x <= 720` or NaN (larger arguments give unspecified results): every
/// max-shifted kernel's `(x - max)/t <= 0`, so the upper clamp of [`exp_v`] is left out of the hot
/// loops.
#[inline(always)]
pub(crate) fn exp_shifted_v<V: F64x>(x: V) -> V {
    let x = x.max_with(V::splat(LO));
    let kf = x.mul(V::splat(LOG2E)).round();
    let r = kf.neg_mul_add(V::splat(LN2_LO), kf.neg_mul_add(V::splat(LN2_HI), x));
    let mut q = V::splat(C[9]);
    for &c in C[..9].iter().rev() {
        q = q.mul_add(r, V::splat(c));
    }
    // 1 + r (1 + r q) = 1 + r + r^2 q.
    let one = V::splat(1.0);
    q.mul_add(r, one).mul_add(r, one).scale2(kf)
}

/// `e^x`: the scalar twin of [`exp_v`] (the same code on one lane). NaN gives NaN, `-inf` gives 0,
/// `+inf` gives `inf`.
///
/// `FMA` selects fused multiply-adds; pass `true` only inside code compiled with FMA enabled (or on
/// aarch64), where `mul_add` is one instruction rather than a libm call.
#[cfg_attr(not(test), allow(dead_code))] // for soft-DTW and the max-plus kernels (next issues)
#[inline(always)]
pub(crate) fn exp<const FMA: bool>(x: f64) -> f64 {
    exp_v(Lanes::<1, FMA>([x])).0[0]
}

/// fdlibm's `Lg1..Lg7`: `R(z) = Lg1 z + Lg2 z^2 + ... + Lg7 z^7`, `z = s^2`.
const LG: [f64; 7] = [
    6.666_666_666_666_735e-1,
    3.999_999_999_940_942e-1,
    2.857_142_874_366_239e-1,
    2.222_219_843_214_978_4e-1,
    1.818_357_216_161_805e-1,
    1.531_383_769_920_937_3e-1,
    1.479_819_860_511_658_6e-1,
];

/// `ln x` per lane. `x < 0` and NaN give NaN, `0` gives `-inf`, `+inf` gives `inf`.
#[inline(always)]
pub(crate) fn log_v<V: F64x>(x: V) -> V {
    let (zero, one) = (V::splat(0.0), V::splat(1.0));
    // Subnormals: scale into the normal range and take 54 off the exponent.
    let tiny = x.lt(V::splat(f64::MIN_POSITIVE));
    let xs = V::select(tiny, x.mul(V::splat(18_014_398_509_481_984.0)), x);
    let (m1, e) = xs.split_exp();
    let e = V::select(tiny, e.sub(V::splat(54.0)), e);
    // m in [√2/2, √2): halve the mantissas at or above √2.
    let big = V::splat(std::f64::consts::SQRT_2).lt(m1);
    let m = V::select(big, m1.mul(V::splat(0.5)), m1);
    let dk = V::select(big, e.add(one), e);
    let f = m.sub(one);
    let s = f.div(V::splat(2.0).add(f));
    let z = s.mul(s);
    let w = z.mul(z);
    let t1 = w.mul(V::splat(LG[1]).add(w.mul(V::splat(LG[3]).add(w.mul(V::splat(LG[5]))))));
    let t2 = z.mul(
        V::splat(LG[0])
            .add(w.mul(V::splat(LG[2]).add(w.mul(V::splat(LG[4]).add(w.mul(V::splat(LG[6]))))))),
    );
    let r = t2.add(t1);
    let (hi, lo) = (dk.mul(V::splat(LN2_HI)), dk.mul(V::splat(LN2_LO)));
    // fdlibm picks `hfsq` (accurate when |f| is large) for mantissas in [1 + 0x6147a/2^20,
    // 1 + 0x6b852/2^20), the plain form elsewhere.
    let hfsq = V::splat(0.5).mul(f).mul(f);
    let with_hfsq = hi.sub(hfsq.sub(s.mul(hfsq.add(r)).add(lo)).sub(f));
    let plain = hi.sub(s.mul(f.sub(r)).sub(lo).sub(f));
    let a = V::splat(1.0 + 397_434.0 / 1_048_576.0);
    let b = V::splat(1.0 + 440_402.0 / 1_048_576.0);
    let y = V::select(m1.lt(a), plain, V::select(m1.lt(b), with_hfsq, plain));
    // Special values.
    let y = V::select(x.eq(V::splat(f64::INFINITY)), x, y);
    let y = V::select(x.eq(zero), V::splat(f64::NEG_INFINITY), y);
    let y = V::select(x.lt(zero), V::splat(f64::NAN), y);
    V::select(x.eq(x), y, x)
}

/// `ln x`: the scalar twin of [`log_v`] (the same code on one lane; it uses no fused operations,
/// so every level gives the same bits).
#[cfg_attr(not(test), allow(dead_code))] // for soft-DTW and the max-plus kernels (next issues)
#[inline(always)]
pub(crate) fn log(x: f64) -> f64 {
    log_v(Lanes::<1, false>([x])).0[0]
}
