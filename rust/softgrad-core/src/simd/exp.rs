//! A branch-free, vectorisable `exp` for `f64`, accurate to about one ulp.
//!
//! Cody–Waite reduction `x = k ln2 + r`, `|r| <= ln2/2`, with `ln 2` split in a high part whose
//! product with `k` is exact and a low part; `e^r` by a degree-11 polynomial whose coefficients are
//! the Chebyshev interpolant of `(e^r - 1 - r)/r^2` on `[-ln2/2, ln2/2]` (computed for this crate with
//! mpmath at 50 digits; max error 0.95 ulp over the interval, including rounding); `2^k` applied as two
//! exact power-of-two factors so results in the subnormal range and overflow to `inf` are right.
//! Integer work is done with the `1.5 * 2^52` rounding shifter and 64-bit lane shifts, which AVX2
//! has, instead of float-to-int conversions, which it lacks for 64-bit lanes.

pub(crate) const LOG2E: f64 = std::f64::consts::LOG2_E;
/// High part of ln 2 with 32 significant bits: `k * LN2_HI` is exact for `|k| < 2^21`.
pub(crate) const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
/// `ln 2 - LN2_HI`, to double precision (the part `LN_2 - LN2_HI` would lose is ~1e-17 · k).
pub(crate) const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
/// `1.5 * 2^52`: adding it rounds to an integer held in the low mantissa bits.
const SHIFT: f64 = 6_755_399_441_055_744.0;
/// Below this `exp` is 0 even after subnormal rounding; above `HI` it is `inf`.
const LO: f64 = -760.0;
const HI: f64 = 720.0;

/// Coefficients `c2..c11` of `e^r ~ 1 + r + r^2 (c2 + c3 r + ... + c11 r^9)`.
pub(crate) const C: [f64; 10] = [
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

#[inline(always)]
fn madd<const FMA: bool>(a: f64, b: f64, c: f64) -> f64 {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// `2^k` for an integer-valued `kf` in `[-1022, 1023]`.
#[inline(always)]
fn pow2(kf: f64) -> f64 {
    let bits = (kf + SHIFT)
        .to_bits()
        .wrapping_sub(SHIFT.to_bits())
        .wrapping_add(1023);
    f64::from_bits(bits << 52)
}

/// `e^x`. NaN gives NaN, `-inf` gives 0, `+inf` gives `inf`.
///
/// `FMA` selects fused multiply-adds; pass `true` only inside code compiled with FMA enabled (or on
/// aarch64), where `mul_add` is one instruction rather than a libm call.
#[inline(always)]
pub fn exp<const FMA: bool>(x: f64) -> f64 {
    // `clamp` (unlike `min`/`max`) lets NaN through.
    let x = x.clamp(LO, HI);
    let kf = (x * LOG2E + SHIFT) - SHIFT;
    let r = madd::<FMA>(-kf, LN2_LO, madd::<FMA>(-kf, LN2_HI, x));
    let mut q = C[9];
    for &c in C[..9].iter().rev() {
        q = madd::<FMA>(q, r, c);
    }
    let p = madd::<FMA>(madd::<FMA>(q, r, 1.0), r, 1.0);
    // Split 2^k into two factors so that each stays a normal number for |k| <= 1100.
    let k1 = (kf * 0.5 + SHIFT) - SHIFT;
    let k2 = kf - k1;
    p * pow2(k1) * pow2(k2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulps(a: f64, b: f64) -> f64 {
        if a == b {
            return 0.0;
        }
        let spacing = f64::EPSILON * b.abs().max(f64::MIN_POSITIVE);
        ((a - b) / spacing).abs()
    }

    fn check<const FMA: bool>() {
        let mut worst = 0.0f64;
        let mut x = -745.0;
        while x < 709.7 {
            let got = exp::<FMA>(x);
            let want = x.exp();
            if want >= f64::MIN_POSITIVE {
                worst = worst.max(ulps(got, want));
            } else {
                assert!(
                    (got - want).abs() <= 2.0 * f64::from_bits(1),
                    "exp({x}) = {got}, want {want}"
                );
            }
            x += 0.0137;
        }
        assert!(worst <= 2.0, "worst error {worst} ulp");
    }

    #[test]
    fn exp_is_within_two_ulp_of_libm() {
        check::<false>();
        check::<true>();
    }

    #[test]
    fn exp_special_values() {
        assert_eq!(exp::<false>(0.0), 1.0);
        assert_eq!(exp::<false>(f64::NEG_INFINITY), 0.0);
        assert_eq!(exp::<false>(f64::INFINITY), f64::INFINITY);
        assert_eq!(exp::<false>(710.0), f64::INFINITY);
        assert!(exp::<false>(709.7).is_finite());
        assert!(exp::<false>(f64::NAN).is_nan());
        assert_eq!(exp::<false>(-800.0), 0.0);
        assert!(exp::<false>(-740.0) > 0.0);
    }
}
