use super::super::{bits32, fill_z_at, step, Dist};
use super::plain;
use crate::rng::Stream;
use crate::simd::{self, Level};

/// Values of every kind: weights of several scales, zeros of both signs, values past the lanes'
/// window (tiny, subnormal, huge, infinite, NaN).
pub(in super::super) fn mixed(n: usize, seed: u64) -> Vec<f32> {
    let mut u = vec![0.0f64; n];
    Stream::new(seed, 9).fill_uniform(0, &mut u);
    u.iter()
        .enumerate()
        .map(|(i, &v)| {
            let w = (v - 0.5) as f32;
            match i % 23 {
                0 => 0.0,
                1 => -0.0,
                2 => w * 1e-30,
                3 => f32::from_bits(1 + (i as u32 % 1000)),
                4 => w * 1e30,
                5 => f32::INFINITY,
                6 => f32::NAN,
                7 => w * 1e-6,
                8 => w * 1e4,
                _ => w * 0.04,
            }
        })
        .collect()
}

/// The reference: the normals into an `f64` buffer, then `gauss_group` (the path before the
/// fused loop), checked against the scalar step.
fn reference(level: Level, seed: u64, start: usize, x: &[f32], c: f64) -> Vec<f32> {
    let mut z = vec![0.0f64; x.len()];
    fill_z_at(level, seed, Dist::Gaussian, start, &mut z);
    let mut y = x.to_vec();
    bits32::gauss_group(level, &mut y, &z, c);
    for ((a, &b), &zi) in y.iter().zip(x).zip(&z) {
        let want = step(b, c * zi);
        assert!(a.to_bits() == want.to_bits() || (a.is_nan() && want.is_nan()));
    }
    y
}

#[test]
fn fused_step_equals_the_buffered_step_at_every_level() {
    let levels = [Level::Scalar, Level::Avx2, Level::Avx512];
    // Sub-piece starts, one past the 2^32-block boundary of the counter's low word.
    let starts = [0usize, 2048, 64 * 1000, (1 << 34) - 2048, 1 << 34];
    for (t, &start) in starts.iter().enumerate() {
        for len in [2048usize, 64 * 5 + 37, 63, 1] {
            let x0 = mixed(len, t as u64 + len as u64);
            for c in [1e-3, -2.5, 3e-29, 7e28, 0.0, f64::NAN, f64::INFINITY] {
                let seed = 0x5EED + t as u64;
                let want = reference(Level::Scalar, seed, start, &x0, c);
                for level in levels.into_iter().filter(|&l| l <= simd::level()) {
                    let mut x = x0.clone();
                    plain(level, &Stream::new(seed, 0), start as u64, &mut x, c);
                    for (i, (a, b)) in x.iter().zip(&want).enumerate() {
                        assert!(
                            a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                            "{level:?} start {start} len {len} c {c} i {i}: {a} vs {b} (x {})",
                            x0[i]
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn weights_take_the_lanes_and_move_by_about_c_z() {
    // Weights in [0.01, 0.05]: each moves by c z within two ulps of it.
    let n = 2048;
    let mut u = vec![0.0f32; n];
    Stream::new(3, 1).fill_uniform(0, &mut u);
    let x0: Vec<f32> = u.iter().map(|v| 0.03 + 0.04 * (v - 0.5)).collect();
    let mut z = vec![0.0f64; n];
    Stream::new(11, 0).fill_normal(4096, &mut z);
    let mut x = x0.clone();
    plain(simd::level(), &Stream::new(11, 0), 4096, &mut x, 1e-3);
    for ((&a, &b), &zi) in x.iter().zip(&x0).zip(&z) {
        let ulp = f64::from(f32::from_bits(b.to_bits() + 1) - b);
        let err = (f64::from(a) - f64::from(b) - 1e-3 * zi).abs();
        // Half an ulp of x for the snap, an ulp of the coarser binade where the sum enters it.
        assert!(err <= 2.0 * ulp, "{a} {b} {zi}: {err} vs {ulp}");
    }
}
