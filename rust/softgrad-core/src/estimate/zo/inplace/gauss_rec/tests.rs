use super::super::{fill_z_at, lanes, solve, Dist};
use super::{pass, Pass};
use crate::rng::Stream;
use crate::simd::{self, Level};

/// `gauss`'s test values (weights, zeros of both signs, tiny, subnormal, huge, infinite, NaN)
/// with the largest finite value, the least normal, and weights near MeZO's `eps`.
fn mixed(n: usize, seed: u64) -> Vec<f32> {
    let mut x = super::super::gauss::tests::mixed(n, seed);
    for (i, v) in x.iter_mut().enumerate() {
        match i % 29 {
            9 => *v = f32::MAX,
            10 => *v = -f32::MIN_POSITIVE,
            11 => *v *= 0.05,
            _ => {}
        }
    }
    x
}

/// The buffered path (before the fused loop): the normals into an `f64` buffer, the lanes, then
/// the solve of the flagged ones.
fn reference(level: Level, seed: u64, start: usize, x: &mut [f32], p: Pass, bits: &mut [u8]) {
    let mut z = vec![0.0f64; x.len()];
    fill_z_at(level, seed, Dist::Gaussian, start, &mut z);
    let mut slow = vec![1u8; x.len()];
    match p {
        Pass::Step { before, after } => {
            lanes::apply_recorded(level, x, &z, before, after, bits, &mut slow);
            solve::apply(level, x, &mut z, before, after, bits, &slow);
        }
        Pass::Undo { d, .. } => {
            lanes::restore(level, x, &z, d, bits, &mut slow);
            solve::restore(level, x, &mut z, d, bits, &slow);
        }
    }
}

fn same(a: &[f32], b: &[f32]) -> bool {
    a.iter().zip(b).all(|(p, q)| p.to_bits() == q.to_bits()) && a.len() == b.len()
}

/// Three recorded passes of a sample (`+eps`, `-2 eps`, the undoing with bits) and a fourth
/// without bits, each compared bit for bit (values and bits) with the buffered path at every
/// level, on sub-pieces at several starts (one past the counter's low word) and lengths (whole
/// batches, a tail, shorter than a batch).
#[test]
fn fused_passes_equal_the_buffered_passes_at_every_level() {
    let levels = [Level::Scalar, Level::Avx2, Level::Avx512];
    let starts = [0usize, 2048, 64 * 1000, (1 << 34) - 2048, 1 << 34];
    for (t, &start) in starts.iter().enumerate() {
        for len in [2048usize, 128 * 5 + 64 + 37, 129, 127, 64, 1] {
            for eps in [1e-3, 0.05, 3e-29, 7e28, 2.5e-7] {
                let seed = 0x6A55 + t as u64;
                let x0 = mixed(len, seed ^ len as u64);
                let mut b0 = vec![0u8; len.div_ceil(8)];
                for (i, b) in b0.iter_mut().enumerate() {
                    *b = (i as u8).wrapping_mul(37); // stale bits: only written ones are read
                }
                let passes = [
                    (
                        Pass::Step {
                            before: None,
                            after: eps,
                        },
                        true,
                    ),
                    (
                        Pass::Step {
                            before: Some(eps),
                            after: -eps,
                        },
                        true,
                    ),
                    (
                        Pass::Undo {
                            d: -eps,
                            has_bit: true,
                        },
                        true,
                    ),
                    (
                        Pass::Undo {
                            d: eps,
                            has_bit: false,
                        },
                        false,
                    ),
                ];
                let (mut wx, mut wb) = (x0.clone(), b0.clone());
                let mut want = Vec::new();
                for &(p, with_bits) in &passes {
                    let b: &mut [u8] = if with_bits { &mut wb } else { &mut [] };
                    reference(Level::Scalar, seed, start, &mut wx, p, b);
                    want.push((wx.clone(), wb.clone()));
                }
                for level in levels.into_iter().filter(|&l| l <= simd::level()) {
                    let stream = Stream::new(seed, 0);
                    let (mut x, mut bits) = (x0.clone(), b0.clone());
                    for (k, &(p, with_bits)) in passes.iter().enumerate() {
                        let b: &mut [u8] = if with_bits { &mut bits } else { &mut [] };
                        pass(level, &stream, start as u64, &mut x, p, b);
                        assert!(
                            same(&x, &want[k].0) && bits == want[k].1,
                            "{level:?} start {start} len {len} eps {eps} pass {k}"
                        );
                    }
                }
            }
        }
    }
}
