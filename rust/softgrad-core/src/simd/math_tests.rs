//! `exp` and `log` at every supported level against libm (within one ulp), and the `SOFTGRAD_SIMD` pin.
use super::vector::{F64x, Isa, Kernel, W};
use super::*;

/// Distance from `got` to `want` in units of the spacing of doubles at `want` (the subnormal
/// spacing below the normal range); 0 when both are the same value or both NaN.
pub(super) fn ulps(got: f64, want: f64) -> f64 {
    if got == want || (got.is_nan() && want.is_nan()) {
        return 0.0;
    }
    if !got.is_finite() || !want.is_finite() {
        return f64::INFINITY;
    }
    let a = want.abs();
    let spacing = if a < f64::MIN_POSITIVE {
        f64::from_bits(1)
    } else {
        // 2^(exponent of want - 52)
        f64::from_bits(a.to_bits() & (0x7ff << 52)) * f64::EPSILON
    };
    (got - want).abs() / spacing
}

/// `ulps` for `f32` results.
pub(super) fn ulps32(got: f32, want: f32) -> f64 {
    if got == want || (got.is_nan() && want.is_nan()) {
        return 0.0;
    }
    (got.to_bits() as i64 - want.to_bits() as i64).unsigned_abs() as f64
}

/// The pin is honoured: with `SOFTGRAD_SIMD` set, [`level`] is the pinned level (this CPU has
/// AVX-512 or AVX2 whenever the test command pins them; if not, the best it has).
#[test]
fn softgrad_simd_pins_the_level() {
    let best = detect();
    match std::env::var("SOFTGRAD_SIMD").as_deref() {
        Ok("scalar") => assert_eq!(level(), Level::Scalar),
        Ok("avx2") => assert_eq!(level(), Level::Avx2.min(best)),
        Ok("avx512") => assert_eq!(level(), Level::Avx512.min(best)),
        _ => assert_eq!(level(), best),
    }
    assert_eq!(*available().last().unwrap(), level());
    assert_eq!(available()[0], Level::Scalar);
}

#[test]
fn softgrad_simd_values() {
    use Level::*;
    assert_eq!(pinned(None, Avx512), Avx512);
    assert_eq!(pinned(Some(""), Avx2), Avx2);
    assert_eq!(pinned(Some("scalar"), Avx512), Scalar);
    assert_eq!(pinned(Some("avx2"), Avx512), Avx2);
    assert_eq!(pinned(Some(" avx2 "), Avx512), Avx2);
    assert_eq!(pinned(Some("avx512"), Avx512), Avx512);
    assert_eq!(pinned(Some("avx512"), Avx2), Avx2);
    assert_eq!(pinned(Some("avx2"), Scalar), Scalar);
    assert_eq!(pinned(Some("sse9"), Avx2), Avx2);
}

/// `f` over `x` through the vector code at `level` (full vectors, then a partial one).
struct Map1<'a> {
    x: &'a [f64],
    out: &'a mut [f64],
    f: F,
}

#[derive(Clone, Copy, PartialEq)]
enum F {
    Exp,
    ExpShifted,
    Log,
}

impl Kernel for Map1<'_> {
    type Output = ();
    #[inline(always)]
    fn run<S: Isa>(self) {
        for (x, o) in self.x.chunks(W).zip(self.out.chunks_mut(W)) {
            let v = S::F64::load_partial(x, 1.0);
            let y = match self.f {
                F::Exp => math::exp_v(v),
                F::ExpShifted => math::exp_shifted_v(v),
                F::Log => math::log_v(v),
            };
            y.store_partial(o);
        }
    }
}

fn map_at(level: Level, x: &[f64], f: F) -> Vec<f64> {
    let mut out = vec![0.0; x.len()];
    vectorize(
        level,
        Map1 {
            x,
            out: &mut out,
            f,
        },
    );
    out
}

/// A dense grid over `[lo, hi]` plus the given points.
fn grid(lo: f64, hi: f64, n: usize, extra: &[f64]) -> Vec<f64> {
    let mut x: Vec<f64> = (0..n)
        .map(|i| lo + (hi - lo) * (i as f64 + 0.37) / n as f64)
        .collect();
    x.extend_from_slice(extra);
    x
}

/// The worst error of `got` against `want` over `x`, with the argument where it occurs.
fn worst(x: &[f64], got: &[f64], want: impl Fn(f64) -> f64) -> (f64, f64) {
    x.iter()
        .zip(got)
        .map(|(&x, &g)| (ulps(g, want(x)), x))
        .fold((0.0, 0.0), |a, b| if b.0 > a.0 { b } else { a })
}

/// The README's claim: `exp` within one ulp of libm everywhere, subnormal results and overflow to
/// `inf` included, at every level and in the scalar twins (with and without FMA).
#[test]
fn exp_is_within_one_ulp_at_every_level() {
    let specials = [
        0.0,
        -0.0,
        1.0,
        -1.0,
        709.78,
        709.79,
        710.0,
        720.0,
        1e300,
        -708.4,
        -708.5,
        -744.4,
        -745.1,
        -746.0,
        -760.0,
        -1e300,
        5e-324,
        -5e-324,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
    ];
    let x = grid(-760.0, 720.0, 600_001, &specials);
    let mut small = grid(-1e-6, 1e-6, 1001, &[]);
    small.extend(grid(-1.0, 1.0, 10_001, &[]));
    for x in [&x, &small] {
        for level in available() {
            let got = map_at(level, x, F::Exp);
            let (e, at) = worst(x, &got, f64::exp);
            assert!(e <= 1.0, "{level:?}: exp({at}) off by {e} ulp");
            // The kernels' variant without the upper clamp, on its domain (x <= 720, NaN).
            let xs: Vec<f64> = x
                .iter()
                .copied()
                .filter(|v| v.is_nan() || *v <= 720.0)
                .collect();
            let got = map_at(level, &xs, F::ExpShifted);
            let (e, at) = worst(&xs, &got, f64::exp);
            assert!(e <= 1.0, "{level:?}: exp_shifted({at}) off by {e} ulp");
        }
        for (name, f) in [
            ("scalar", math::exp::<false> as fn(f64) -> f64),
            ("scalar+fma", math::exp::<true>),
        ] {
            let got: Vec<f64> = x.iter().map(|&v| f(v)).collect();
            let (e, at) = worst(x, &got, f64::exp);
            assert!(e <= 1.0, "{name}: exp({at}) off by {e} ulp");
        }
    }
    let got = map_at(
        level(),
        &[f64::NAN, f64::NEG_INFINITY, f64::INFINITY, 710.0],
        F::Exp,
    );
    assert!(got[0].is_nan());
    assert_eq!(got[1..], [0.0, f64::INFINITY, f64::INFINITY]);
}

/// `log` within one ulp of libm over normal and subnormal arguments, with the special values.
#[test]
fn log_is_within_one_ulp_at_every_level() {
    let mut x = grid(0.5, 2.0, 300_001, &[]);
    x.extend(grid(1e-3, 1e3, 100_001, &[]));
    // Every binade, normal and subnormal, at several mantissas.
    for e in -1074..=1023 {
        for m in [
            1.0,
            1.1,
            1.3797,
            std::f64::consts::SQRT_2,
            1.42,
            1.7,
            1.999_999,
        ] {
            x.push(m * 2f64.powi(e));
        }
    }
    x.extend([f64::MIN_POSITIVE, f64::MAX, 5e-324, 1.0, 2.0, 0.999_999_999]);
    for level in available() {
        let got = map_at(level, &x, F::Log);
        let (e, at) = worst(&x, &got, f64::ln);
        assert!(e <= 1.0, "{level:?}: log({at}) off by {e} ulp");
        let scalar: Vec<f64> = x.iter().map(|&v| math::log(v)).collect();
        assert_eq!(got, scalar, "{level:?}: vector and scalar log differ");
    }
    let special = [0.0, -0.0, -1.0, f64::INFINITY, f64::NEG_INFINITY, f64::NAN];
    for level in available() {
        let got = map_at(level, &special, F::Log);
        assert_eq!(got[..2], [f64::NEG_INFINITY; 2], "{level:?}");
        assert!(
            got[2].is_nan() && got[4].is_nan() && got[5].is_nan(),
            "{level:?}"
        );
        assert_eq!(got[3], f64::INFINITY, "{level:?}");
    }
}
