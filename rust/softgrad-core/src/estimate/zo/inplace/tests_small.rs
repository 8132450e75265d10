//! The small region of the undoing (`undo_one`): `0` where the step of `0` is `y`, else `y − d`
//! in the data's own arithmetic, within 3 ulp of `|d|` of the original; every path (the scalar
//! rule, the branch-free solve, the `f32` lanes) returns the same bits there, value by value.

use super::tests::data32;
use super::*;
use crate::rng::uniform_vec;

/// `T`'s spacing at `|d|` (the quantum of `d` rounded to `T`).
fn ulp_at<T: Float>(d: f64) -> f64 {
    T::from_f64(d.abs()).quantum()
}

/// The bit [`apply`] records for `x0` (the solve's): whether it is the outer one of two floats
/// whose step `d` ends together.
fn bit_of<T: Float>(x0: T, d: f64) -> bool {
    let y = step_r(x0, d);
    let (up, down) = (step_r(x0.up(), d) == y, step_r(x0.down(), d) == y);
    if y.to_f64() < 0.0 {
        up & !down
    } else {
        down & !up
    }
}

/// Originals around and below `|d|`: a fine sweep of `[−2|d|, 2|d|]`, the floats next to the
/// powers of two below `|d|`, zeros and a few tiny ones.
fn originals<T: Float>(d: f64) -> Vec<T> {
    let a = d.abs();
    let mut v: Vec<T> = uniform_vec(6000, 5, -2.0 * a, 2.0 * a)
        .into_iter()
        .map(T::from_f64)
        .collect();
    for k in 0..12 {
        let p = T::from_f64(a * 0.5f64.powi(k));
        let p2 = T::from_f64(2f64.powi(a.log2().floor() as i32 - k));
        for w in [p, p2] {
            v.extend([w, w.up(), w.down(), w.up().up(), w.down().down()]);
            v.extend([w, w.up(), w.down()].map(|u| T::from_f64(-u.to_f64())));
        }
    }
    v.extend([0.0, -0.0, 1e-40, -3e-39, 1e-30].map(T::from_f64));
    v
}

const STEPS: [f64; 8] = [
    1e-3,
    -1e-3,
    1.5e-3,
    -2f64 / 1024.0,
    0.37,
    -3.1e-7,
    2.5e-20,
    6.0,
];

fn check_rule<T: Float>() -> usize {
    let mut n_small = 0;
    for d in STEPS {
        for x0 in originals::<T>(d) {
            let x0e = x0.to_f64();
            let y = step_r(x0, d);
            let bit = bit_of(x0, d);
            let c = c0_native(y, d);
            let got = undo_one(y, d, Some(bit));
            if small(c, d) {
                n_small += 1;
                let zero = step_r(T::from_f64(0.0), d) == y;
                let want = if zero { T::from_f64(0.0) } else { c };
                assert_eq!(
                    got.to_f64().to_bits(),
                    want.to_f64().to_bits(),
                    "{x0e:e} {d:e}"
                );
                let err = (got.to_f64() - x0.to_f64()).abs();
                assert!(
                    err <= 3.0 * ulp_at::<T>(d),
                    "{x0e:e} {d:e}: {}",
                    got.to_f64()
                );
            } else if x0.to_f64().abs() > d.abs() + 4.0 * x0.quantum() {
                assert_eq!(
                    got.to_f64().to_bits(),
                    x0.to_f64().to_bits(),
                    "{x0e:e} {d:e}"
                );
            }
            // The branch-free solve, with the bit and without.
            for (has, b) in [(true, bit), (true, !bit), (false, false)] {
                let want = undo_one(y, d, has.then_some(b));
                let s = solve::undo(y, d, has, b);
                assert_eq!(
                    s.to_f64().to_bits(),
                    want.to_f64().to_bits(),
                    "{x0e:e} {d:e}"
                );
            }
        }
    }
    n_small
}

#[test]
fn the_small_region_returns_zero_or_c0_near_the_original() {
    assert!(check_rule::<f32>() > 10_000);
    assert!(check_rule::<f64>() > 10_000);
}

#[test]
fn the_f32_lanes_take_the_small_region_as_undo_one() {
    let mut n_small = 0;
    for d in STEPS {
        for x0 in originals::<f32>(d) {
            let y = step_r(x0, d);
            let bit = bit_of(x0, d);
            for (has, b) in [(true, bit), (true, !bit), (false, false)] {
                let (v, ok) = lanes::undo(y.to_bits(), d, u8::from(b), has);
                if small(c0_native(y, d), d) {
                    // All of it but the step of 0 (d rounded to f32, or the float below it in
                    // magnitude: a tie toward zero), which the solve decides.
                    let df = (d as f32).to_bits();
                    let near0 = (y.to_bits() == df) | (y.to_bits() == df.wrapping_sub(1));
                    n_small += 1;
                    assert!(ok | near0, "{x0:e} {d:e}");
                }
                if ok {
                    let want = undo_one(y, d, has.then_some(b));
                    assert_eq!(v, want.to_bits(), "{x0:e} {d:e} {has} {b}");
                }
            }
        }
    }
    assert!(n_small > 30_000, "{n_small}");
}

#[test]
fn a_sample_restores_the_small_region_alike_at_every_level_and_thread_count() {
    // Layer-like weights plus values around eps: the three passes of a sample, then restore.
    let mut x0 = data32(3 * PIECE + 1234);
    for (i, v) in x0.iter_mut().enumerate().step_by(3) {
        *v = (1e-3 * ((i % 4001) as f64 / 1000.0 - 2.0)) as f32;
    }
    for dist in [Dist::Rademacher, Dist::Gaussian] {
        let mut first: Option<(Vec<f32>, Vec<u8>)> = None;
        for level in crate::simd::available() {
            for par in [Par::Seq, Par::Rayon(2), Par::Rayon(3)] {
                let mut x = x0.clone();
                let mut bits = vec![0u8; bits_len(x.len())];
                for (c, prior) in [(1e-3, &[][..]), (-2e-3, &[1e-3][..])] {
                    let rec = Record {
                        bits: &mut bits,
                        prior,
                    };
                    apply_at(level, &mut x, 9, dist, c, Some(rec), par).unwrap();
                }
                let steps = [1e-3, -2e-3];
                restore_at(level, &mut x, 9, dist, &steps, Some(&mut bits), par).unwrap();
                let mut z = vec![0.0; x.len()];
                fill_z(9, dist, 0, &mut z);
                for (i, (&a, &b)) in x.iter().zip(&x0).enumerate() {
                    let d = -1e-3 * z[i];
                    let lim = d.abs() + 4.0 * b.quantum();
                    if f64::from(b).abs() > lim {
                        assert_eq!(a.to_bits(), b.to_bits(), "{level:?} {i}");
                    } else if b.is_finite() {
                        let err = (f64::from(a) - f64::from(b)).abs();
                        assert!(err <= 3.0 * ulp_at::<f32>(d), "{level:?} {i} {b:e} {a:e}");
                    }
                }
                match &first {
                    None => first = Some((x, bits)),
                    Some((fx, fb)) => {
                        let key = |v: &[f32]| v.iter().map(|w| w.to_bits()).collect::<Vec<_>>();
                        assert_eq!(key(&x), key(fx), "{dist:?} {level:?} {par:?}");
                        assert_eq!(&bits, fb, "{dist:?} {level:?} {par:?}");
                    }
                }
            }
        }
    }
}
