//! `exp32` at every supported level: the same bits as its scalar twin, within one ulp of the
//! correctly rounded `e^x`, special values and subnormal results included.
use super::math32::{exp32, exp32_v, log32, log32_v};
use super::vector::{F32x, Isa, Kernel, W32};
use super::*;

/// Distance from `got` to the exact `want` (an `f64`, accurate far beyond `f32`) in units of the
/// spacing of `f32` at `want` (the subnormal spacing below the normal range).
pub(super) fn ulps32_of(got: f32, want: f64) -> f64 {
    if (got as f64) == want || (got.is_nan() && want.is_nan()) {
        return 0.0;
    }
    let w = want as f32;
    if !got.is_finite() || !w.is_finite() {
        // Overflow: right when both are inf (or `want` rounds to inf).
        return if got == w { 0.0 } else { f64::INFINITY };
    }
    let a = want.abs();
    let spacing = if a < f32::MIN_POSITIVE as f64 {
        f32::from_bits(1) as f64
    } else {
        2f64.powi(a.log2().floor() as i32 - 23)
    };
    (got as f64 - want).abs() / spacing
}

struct Map<'a> {
    x: &'a [f32],
    out: &'a mut [f32],
    log: bool,
}

impl Kernel for Map<'_> {
    type Output = ();
    #[inline(always)]
    fn run<S: Isa>(self) {
        for (x, o) in self.x.chunks(W32).zip(self.out.chunks_mut(W32)) {
            let v = S::F32::load_partial(x, 1.0);
            if self.log { log32_v(v) } else { exp32_v(v) }.store_partial(o);
        }
    }
}

pub(super) fn exp32_at(level: Level, x: &[f32]) -> Vec<f32> {
    let mut out = vec![0.0; x.len()];
    vectorize(
        level,
        Map {
            x,
            out: &mut out,
            log: false,
        },
    );
    out
}

fn log32_at(level: Level, x: &[f32]) -> Vec<f32> {
    let mut out = vec![0.0; x.len()];
    vectorize(
        level,
        Map {
            x,
            out: &mut out,
            log: true,
        },
    );
    out
}

/// `log32` within one ulp of `ln x` over a dense grid around 1, every binade (normal and
/// subnormal) at several mantissas, and the special values; the same bits at every level.
#[test]
fn log32_is_within_one_ulp_at_every_level() {
    let mut x = grid(0.5, 2.0, 300_001);
    x.extend(grid(1e-3, 1e3, 100_001));
    x.extend(grid(0.999, 1.001, 20_001));
    for e in -149..=127 {
        for m in [
            1.0,
            1.1,
            1.3797,
            std::f64::consts::SQRT_2,
            1.42,
            1.7,
            1.999_999,
        ] {
            let v = (m * 2f64.powi(e)) as f32;
            if v.is_finite() && v > 0.0 {
                x.push(v);
            }
        }
    }
    x.extend([
        f32::MIN_POSITIVE,
        f32::MAX,
        f32::from_bits(1),
        1.0,
        2.0,
        0.999_999_9,
    ]);
    for level in available() {
        let got = log32_at(level, &x);
        let mut worst = (0.0, 0.0f32);
        for (&v, &g) in x.iter().zip(&got) {
            assert_eq!(
                g.to_bits(),
                log32(v).to_bits(),
                "{level:?}: log32({v:e}) vs its twin"
            );
            let e = ulps32_of(g, (v as f64).ln());
            if e > worst.0 {
                worst = (e, v);
            }
        }
        assert!(
            worst.0 <= 1.0,
            "{level:?}: log32({:e}) off by {} ulp",
            worst.1,
            worst.0
        );
        if std::env::var_os("SOFTGRAD_PRINT_ULPS").is_some() {
            println!("log32 at {level:?}: worst {} ulp at {:e}", worst.0, worst.1);
        }
    }
    let special = [0.0, -0.0, -1.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN];
    for level in available() {
        let got = log32_at(level, &special);
        assert_eq!(got[..2], [f32::NEG_INFINITY; 2], "{level:?}");
        assert!(
            got[2].is_nan() && got[4].is_nan() && got[5].is_nan(),
            "{level:?}"
        );
        assert_eq!(got[3], f32::INFINITY, "{level:?}");
    }
}

/// A dense grid over `[lo, hi]` in `f32`.
fn grid(lo: f64, hi: f64, n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (lo + (hi - lo) * (i as f64 + 0.37) / n as f64) as f32)
        .collect()
}

fn check(level: Level, x: &[f32]) {
    let got = exp32_at(level, x);
    let mut worst = (0.0, 0.0f32);
    for (&v, &g) in x.iter().zip(&got) {
        assert_eq!(
            g.to_bits(),
            exp32(v).to_bits(),
            "{level:?}: exp32({v:e}) differs from the scalar twin"
        );
        let e = ulps32_of(g, (v as f64).exp());
        if e > worst.0 {
            worst = (e, v);
        }
    }
    assert!(
        worst.0 <= 1.0,
        "{level:?}: exp32({:e}) off by {} ulp",
        worst.1,
        worst.0
    );
    if std::env::var_os("SOFTGRAD_PRINT_ULPS").is_some() {
        println!("exp32 at {level:?}: worst {} ulp at {:e}", worst.0, worst.1);
    }
}

/// The README's claim for `f32` data: `exp32` within one ulp of `e^x` over a dense grid of its
/// domain, every argument with a subnormal result near the bottom, and the special values, the same
/// bits at every level.
#[test]
fn exp32_is_within_one_ulp_at_every_level() {
    let mut x = grid(-104.0, 89.0, 400_001);
    x.extend(grid(-1.0, 1.0, 20_001));
    x.extend(grid(-1e-6, 1e-6, 1001));
    // Every f32 from -104 to -87 in steps of 37 ulps: subnormal results and the smallest normals.
    let (a, b) = ((-87.0f32).to_bits(), (-104.0f32).to_bits());
    x.extend((a..=b).step_by(37).map(f32::from_bits));
    x.extend([
        0.0,
        -0.0,
        1.0,
        -1.0,
        88.72,
        88.7228,
        88.7229,
        89.0,
        1e30,
        -87.33,
        -87.34,
        -103.27,
        -103.28,
        -103.97,
        -103.98,
        -104.0,
        -1e30,
        f32::from_bits(1),
        -f32::from_bits(1),
        f32::MIN_POSITIVE,
        f32::MAX,
        f32::MIN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
    ]);
    for level in available() {
        check(level, &x);
    }
    let got = exp32_at(
        level(),
        &[f32::NAN, f32::NEG_INFINITY, f32::INFINITY, 89.0, -104.0],
    );
    assert!(got[0].is_nan());
    assert_eq!(got[1..], [0.0, f32::INFINITY, f32::INFINITY, 0.0]);
    // The smallest subnormal and its neighbours: e^x rounds to 2^-149 from ln(2^-149) = -103.28.
    assert_eq!(exp32(-103.28), f32::from_bits(1));
}

/// Every `f32` argument of `exp32` with a finite non-zero result, at this machine's level: the
/// worst error in ulp (about 2^31 arguments; run with `--ignored --nocapture` in release).
#[test]
#[ignore = "exhaustive: about a minute in release"]
fn exp32_exhaustive() {
    let mut worst = (0.0, 0.0f32);
    for (lo, hi) in [
        (0u32, 89.0f32.to_bits()),
        (1u32 << 31, (-104.0f32).to_bits()),
    ] {
        let mut start = lo;
        while start <= hi {
            let end = (start as u64 + (1 << 20)).min(hi as u64 + 1) as u32;
            let x: Vec<f32> = (start..end).map(f32::from_bits).collect();
            let got = exp32_at(level(), &x);
            for (&v, &g) in x.iter().zip(&got) {
                let e = ulps32_of(g, (v as f64).exp());
                if e > worst.0 {
                    worst = (e, v);
                }
            }
            start = end;
        }
    }
    println!(
        "exp32 exhaustive at {:?}: worst {} ulp at {:e}",
        level(),
        worst.0,
        worst.1
    );
    assert!(worst.0 <= 1.0);
}
