//! The lanes against the scalar recorded step, its bit and `undo_one`, value by value.

use super::super::{step_r, undo_one, Float};
use super::{forward, undo};
use crate::rng::{uniform_vec, Stream};

fn normal_vec(n: usize, seed: u64) -> Vec<f64> {
    let mut v = vec![0.0; n];
    Stream::new(seed, 0).fill_normal(0, &mut v);
    v
}

/// The solve's bit: whether `x0` is the outer one of two floats whose step `d` ends together.
fn solve_bit(x0: f32, d: f64) -> u8 {
    let y = step_r(x0, d);
    let up = step_r(x0.up(), d) == y;
    let down = step_r(x0.down(), d) == y;
    u8::from(if y < 0.0 { up & !down } else { down & !up })
}

/// Values around powers of two (both signs, 40 floats either side), a spread of binades, zeros,
/// subnormals and specials.
fn values() -> Vec<f32> {
    let mut v = vec![
        0.0f32,
        -0.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        1e-40,
        -1e-42,
    ];
    for k in -130..=128 {
        let p = 2f32.powi(k);
        let mut a = p;
        let mut b = p;
        for _ in 0..40 {
            a = a.up();
            b = b.down();
            v.extend([a, b, -a, -b]);
        }
        v.extend([p, -p, 1.37 * p, -1.71 * p]);
    }
    v.extend(uniform_vec(20_000, 5, -3.0, 3.0).iter().map(|&u| u as f32));
    v.extend(normal_vec(20_000, 6).iter().map(|&u| (0.02 * u) as f32));
    v
}

/// Steps relative to `x` (so that they straddle the lanes' limit of `|x| / 2`), and fixed ones.
fn steps(x: f32, k: usize) -> Vec<f64> {
    let a = f64::from(x.abs()).max(1e-30);
    let r = [
        0.0, 1e-9, 3e-3, 0.1, 0.249, 0.25, 0.26, 0.4999, 0.5, 0.51, 0.9, 1.5,
    ];
    let mut d: Vec<f64> = r.iter().map(|f| f * a).collect();
    d.extend([1e-3, 2e-3, 0.5, 7.0, 1e-30]);
    // A step with bits below every quantum nearby (ties of the snap and of the rounding).
    d.push(a * (0.125 + (k % 97) as f64 * 1e-3));
    d.iter().flat_map(|&v| [v, -v]).collect()
}

#[test]
fn forward_is_step_r_with_the_solve_bit() {
    let (mut ok, mut all) = (0usize, 0usize);
    for (k, &x) in values().iter().enumerate() {
        for d in steps(x, k) {
            let (y, bit, good) = forward(x.to_bits(), d);
            all += 1;
            if good {
                ok += 1;
                assert_eq!(y, step_r(x, d).to_bits(), "x {x:e} d {d:e}");
                assert_eq!(bit, solve_bit(x, d), "x {x:e} d {d:e}");
            }
        }
    }
    assert!(ok > all / 2, "{ok} of {all}");
}

#[test]
fn undo_is_undo_one() {
    let (mut ok, mut all) = (0usize, 0usize);
    for (k, &x) in values().iter().enumerate() {
        for d in steps(x, k) {
            let y = step_r(x, d);
            let bit = solve_bit(x, d);
            for has in [true, false] {
                for b in [bit, 1 - bit] {
                    let (v, good) = undo(y.to_bits(), d, b, has);
                    all += 1;
                    if good {
                        ok += 1;
                        let want = undo_one(y, d, has.then_some(b != 0));
                        assert_eq!(v, want.to_bits(), "x {x:e} d {d:e} y {y:e} bit {b} {has}");
                    }
                }
            }
            // Values that are no step's image (a neighbour of y), either bit.
            for w in [y.up(), y.down()] {
                for b in [0, 1] {
                    let (v, good) = undo(w.to_bits(), d, b, true);
                    if good {
                        assert_eq!(v, undo_one(w, d, Some(b != 0)).to_bits(), "w {w:e} d {d:e}");
                    }
                }
            }
        }
    }
    assert!(ok > all / 3, "{ok} of {all}");
}

#[test]
fn lanes_take_most_of_a_layer() {
    // Weights ~ N(0, 0.02²), eps = 1e-3, z = ±1: all but |x| below about eps (4 %).
    let x: Vec<f32> = normal_vec(100_000, 9)
        .iter()
        .map(|&u| (0.02 * u) as f32)
        .collect();
    let mut ok = 0;
    for (i, &v) in x.iter().enumerate() {
        let d = if i % 2 == 0 { 1e-3 } else { -1e-3 };
        let (y, bit, a) = forward(v.to_bits(), d);
        let (_, b) = undo(y, d, bit, true);
        ok += usize::from(a & b);
    }
    assert!(ok > 95_000 && ok < 97_000, "{ok}");
}
