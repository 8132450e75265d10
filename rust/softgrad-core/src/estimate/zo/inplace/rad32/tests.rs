//! The 32-bit lanes against the `f64` lanes value by value, and the whole passes against the old
//! ones (a `z` buffer, the `f64` lanes, the solve) bit for bit at every level and thread count.

use super::super::{
    apply_at, bits_len, fill_z_at, lanes, passes, restore_at, solve, step_r, undo_one, Dist, Float,
    Record, PIECE,
};
use super::{forward, undo, Table, MARGIN};
use crate::par::{with_piece_scratch, Par, REDUCE_PIECE};
use crate::rng::Stream;
use crate::simd::{self, Level};

/// `n` values `N(0, s²)` for a few `s`, with zeros, binade edges, subnormals, huge values,
/// infinities and NaNs mixed in.
fn data(n: usize, seed: u64) -> Vec<f32> {
    let mut z = vec![0.0; n];
    Stream::new(seed, 3).fill_normal(0, &mut z);
    let scale = [0.02, 1.0, 1e-3, 3e-5, 1e30, 1e-38];
    let mut x: Vec<f32> = z
        .iter()
        .enumerate()
        .map(|(i, v)| (v * scale[(i / 1000) % scale.len()]) as f32)
        .collect();
    let odd = [
        0.0f32,
        -0.0,
        f32::MIN_POSITIVE,
        -1e-40,
        1e-45,
        f32::MAX,
        -f32::MAX,
        f32::INFINITY,
        f32::NAN,
        2f32.powi(-10),
        -2f32.powi(-10).next_down(),
        2f32.powi(-9).next_up(),
        1e-3,
        -1e-3,
        9.99e-4,
        2e-3,
        -2.0001e-3,
    ];
    for (k, v) in x.iter_mut().enumerate().step_by(5) {
        *v = odd[(k / 5) % odd.len()];
    }
    x
}

/// The solve's bit: whether `x0` is the outer one of two floats whose step `d` ends together.
fn solve_bit(x0: f32, d: f64) -> u32 {
    let y = step_r(x0, d);
    let up = step_r(x0.up(), d) == y;
    let down = step_r(x0.down(), d) == y;
    u32::from(if y < 0.0 { up & !down } else { down & !up })
}

/// Coefficients of a pass: MeZO's, tiny and large ones, ones with bits below every quantum, and
/// nested ones (few significant bits: `spsa_inplace`'s `eps` rounded to 8, the AVX2 lanes of
/// `x86/nest.rs`).
const COEFFS: [f64; 12] = [
    1e-3,
    -2e-3,
    -1e-3,
    1e-6,
    0.37,
    -3.1e-7,
    1.0,
    2.5e-20,
    1e20,
    131.0 / 131_072.0,
    -255.0 / 1_099_511_627_776.0,
    3.0 * 1_152_921_504_606_846_976.0,
];

#[test]
fn lanes_twins_are_the_f64_lanes_and_undo_one() {
    let x = data(30_000, 1);
    let (mut n_ok, mut n_wok, mut n_across, mut n_small) = (0usize, 0usize, 0usize, 0usize);
    for c in COEFFS {
        let t = Table::new(c).expect("a table");
        for &v in &x {
            let xb = v.to_bits();
            for zb in [0, 1] {
                let d = if zb == 1 { -c } else { c };
                let (y, bit, ok) = forward(&t, xb, zb);
                let (wy, wbit, wok) = lanes::forward(xb, d);
                assert!(ok | !wok, "forward x {v:e} d {d:e}");
                if wok {
                    assert_eq!((y, bit), (wy, u32::from(wbit)), "forward x {v:e} d {d:e}");
                }
                if ok {
                    // Across zero too: the step and the solve's bit.
                    n_across += usize::from(!wok);
                    assert_eq!(y, step_r(v, d).to_bits(), "forward x {v:e} d {d:e}");
                    assert_eq!(bit, solve_bit(v, d), "forward x {v:e} d {d:e}");
                }
                for (bit, has) in [(0, true), (1, true), (0, false)] {
                    let (x0, ok) = undo(&t, xb, zb, bit, has);
                    // The small region is always the lanes'.
                    let sm = super::super::small(super::super::c0_native(v, d), d);
                    n_small += usize::from(sm);
                    assert!(ok | !sm, "undo y {v:e} d {d:e}");
                    let (w0, wok) = lanes::undo(xb, d, bit as u8, has);
                    (n_ok, n_wok) = (n_ok + usize::from(ok), n_wok + usize::from(wok));
                    if ok & wok {
                        assert_eq!(x0, w0, "undo y {v:e} d {d:e}");
                    }
                    if ok {
                        let want = undo_one(v, d, has.then_some(bit != 0));
                        assert_eq!(x0, want.to_bits(), "undo y {v:e} d {d:e} bit {bit} {has}");
                    }
                }
            }
        }
    }
    // c0 in f32 moves the margin check by at most a float or two.
    assert!(
        n_ok >= n_wok - n_wok / 1000 && n_ok > 1000,
        "{n_ok} {n_wok}"
    );
    assert!(n_across > 100, "{n_across}");
    assert!(n_small > 10_000, "{n_small}");
    for c in [0.0, -0.0, 1e-40, 1e40, f64::NAN, f64::INFINITY] {
        assert!(Table::new(c).is_none(), "{c}");
    }
}

#[test]
fn the_small_step_is_step_r_with_the_solve_bit() {
    let mut x = data(30_000, 2);
    // Values in every binade from 30 below each coefficient's up to it, edges included.
    for c in COEFFS {
        let top = 2f64.powi(c.abs().log2().floor() as i32);
        for j in 0..30 {
            let p = (top * 0.5f64.powi(j)) as f32;
            for v in [p, p.up(), p.down(), p * 1.37, p.down().down(), p * 1.999] {
                x.extend([v, -v]);
            }
        }
    }
    let mut n_ok = 0usize;
    for c in COEFFS {
        let t = Table::new(c).expect("a table");
        for &v in &x {
            for zb in [false, true] {
                let d = if zb { -c } else { c };
                let (y, bit, ok) = t.step_small(v.to_bits(), zb);
                if ok {
                    n_ok += 1;
                    assert_eq!(y, step_r(v, d).to_bits(), "x {v:e} d {d:e}");
                    assert_eq!(u32::from(bit), solve_bit(v, d), "x {v:e} d {d:e}");
                }
            }
        }
    }
    assert!(n_ok > 30_000, "{n_ok}");
}

/// The old recorded step: `z` in a buffer, the `f64` lanes, then the solve.
fn old_apply(level: Level, x: &mut [f32], before: Option<f64>, after: f64, bits: &mut [u8]) {
    passes(x, Some(bits), Par::Seq, |start, xs, bs| {
        with_piece_scratch(xs.len(), |z| {
            fill_z_at(level, 7, Dist::Rademacher, start, z);
            let mut flags = [1u8; REDUCE_PIECE];
            let slow = &mut flags[..xs.len()];
            lanes::apply_recorded(level, xs, z, before, after, bs, slow);
            solve::apply(level, xs, z, before, after, bs, slow);
        })
    })
    .unwrap();
}

/// The old undoing.
fn old_restore(level: Level, x: &mut [f32], d: f64, bits: Option<&mut [u8]>) {
    passes(x, bits, Par::Seq, |start, xs, bs| {
        with_piece_scratch(xs.len(), |z| {
            fill_z_at(level, 7, Dist::Rademacher, start, z);
            let mut flags = [1u8; REDUCE_PIECE];
            let slow = &mut flags[..xs.len()];
            lanes::restore(level, xs, z, d, bs, slow);
            solve::restore(level, xs, z, d, bs, slow);
        })
    })
    .unwrap();
}

fn key(x: &[f32]) -> Vec<u32> {
    x.iter().map(|v| v.to_bits()).collect()
}

/// A sample's passes (`+c`, `−2c`, restore with bits; then a restore without bits after `+c`)
/// with the new code at `level` and `par` against the old code.
fn check_sample(level: Level, x0: &[f32], c: f64, par: Par) {
    check_steps(level, x0, [c, -2.0 * c], par);
}

/// [`check_sample`] with any two steps (the second pass's undoing and step then have tables of
/// different `|C|` unless the second step is `−2c`).
fn check_steps(level: Level, x0: &[f32], steps: [f64; 2], par: Par) {
    let c = steps[0];
    let (mut x, mut w) = (x0.to_vec(), x0.to_vec());
    let (mut bits, mut wbits) = (vec![0u8; bits_len(x.len())], vec![0u8; bits_len(x.len())]);
    for k in 0..2 {
        let rec = Record {
            bits: &mut bits[..],
            prior: &steps[..k],
        };
        apply_at(level, &mut x, 7, Dist::Rademacher, steps[k], Some(rec), par).unwrap();
        let before = (k == 1).then_some(steps[0]);
        old_apply(
            level,
            &mut w,
            before,
            super::super::total(&steps[..=k]),
            &mut wbits,
        );
        assert!(key(&x) == key(&w), "pass {k} c {c:e} {level:?} {par:?}");
        assert!(bits == wbits, "bits of pass {k} c {c:e} {level:?} {par:?}");
    }
    let d = super::super::total(&steps);
    restore_at(
        level,
        &mut x,
        7,
        Dist::Rademacher,
        &steps,
        Some(&mut bits),
        par,
    )
    .unwrap();
    old_restore(level, &mut w, d, Some(&mut wbits));
    assert!(key(&x) == key(&w), "restore c {c:e} {level:?} {par:?}");
    let rec = Record {
        bits: &mut bits[..],
        prior: &[],
    };
    apply_at(level, &mut x, 7, Dist::Rademacher, c, Some(rec), par).unwrap();
    old_apply(level, &mut w, None, c, &mut wbits);
    restore_at(level, &mut x, 7, Dist::Rademacher, &[c], None, par).unwrap();
    old_restore(level, &mut w, c, None);
    assert!(
        key(&x) == key(&w),
        "restore without bits c {c:e} {level:?} {par:?}"
    );
}

#[test]
fn passes_are_the_old_passes_at_every_level() {
    // Past a piece, with a short last group.
    let x0 = data(PIECE + 3 * REDUCE_PIECE + 77, 2);
    for c in COEFFS {
        for level in simd::available() {
            check_sample(level, &x0, c, Par::Seq);
        }
    }
}

#[test]
fn passes_of_two_magnitudes_are_the_old_passes_at_every_level() {
    let x0 = data(3 * REDUCE_PIECE + 77, 5);
    for c in COEFFS {
        for level in simd::available() {
            check_steps(level, &x0, [c, -1.5 * c], Par::Seq);
            check_steps(level, &x0, [c, -3.0 * c], Par::Seq);
        }
    }
}

/// The undoing and the second pass on values that no step made (any float, any record bits):
/// the lanes of every level give the scalar lanes' bits (where the vector code's tests differ
/// from the scalar ones, as its `|y| / q` in `f32`, it must flag the same values or compute
/// the same answer).
#[test]
fn passes_on_any_values_are_the_scalar_passes() {
    let x0 = data(2 * REDUCE_PIECE + 77, 9);
    for c in COEFFS {
        check_any(&x0, c);
    }
}

/// [`passes_on_any_values_are_the_scalar_passes`] for one coefficient.
fn check_any(x0: &[f32], c: f64) {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let bits0: Vec<u8> = (0..bits_len(x0.len()))
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect();
    let run = |level: Level| {
        let (mut x, mut bits) = (x0.to_vec(), bits0.clone());
        restore_at(
            level,
            &mut x,
            7,
            Dist::Rademacher,
            &[c],
            Some(&mut bits),
            Par::Seq,
        )
        .unwrap();
        let (mut w, mut wbits) = (x0.to_vec(), bits0.clone());
        let rec = Record {
            bits: &mut wbits[..],
            prior: &[c],
        };
        apply_at(
            level,
            &mut w,
            7,
            Dist::Rademacher,
            -2.0 * c,
            Some(rec),
            Par::Seq,
        )
        .unwrap();
        (key(&x), key(&w), wbits)
    };
    let want = run(Level::Scalar);
    for level in simd::available() {
        assert!(run(level) == want, "c {c:e} {level:?}");
    }
}

/// Nested totals (`x86/nest.rs`): 12 floats either side of `|C|`, of `2^⌊log₂|C|⌋` (the
/// undoing's small region) and of the lanes' top (the binade whose quantum is `C`'s lowest bit),
/// both signs, with layer-like values: whole passes against the old ones, and on any values and
/// bits against the scalar lanes, at every level.
#[test]
fn nested_totals_at_their_windows_edges_are_the_old_passes() {
    for c in [
        131.0 / 131_072.0,
        -0.75,
        255.0 * 2f64.powi(-30),
        1.0,
        3.0 * 2f64.powi(60),
    ] {
        let b = (c.abs() as f32).to_bits();
        let top = ((b >> 23) + ((b & 0x7f_ffff) | 0x80_0000).trailing_zeros()).min(254) << 23;
        #[cfg(target_arch = "x86_64")]
        assert_eq!(super::x86::window(c), Some((b + 4, top)));
        let mut x0: Vec<f32> = [b, b & 0x7f80_0000, top]
            .iter()
            .flat_map(|&e| (e - 12..=e + 12).map(f32::from_bits))
            .flat_map(|v| [v, -v])
            .collect();
        x0.extend(
            data(REDUCE_PIECE, 11)
                .iter()
                .map(|v| v * (c.abs() * 20.0) as f32),
        );
        // Values up to 2|C| in every binade down to the subnormals, any significand, both signs
        // (the nested lanes' step by the general rule, and its bit).
        let mut w = vec![0.0f64; 2 * REDUCE_PIECE];
        Stream::new(13, 1).fill_uniform(0, &mut w);
        x0.extend(w.chunks_exact(2).map(|p| {
            let e = (f64::from((b >> 23) + 1) * p[0]) as u32;
            let v = f32::from_bits((e << 23) | ((p[1] * 8_388_608.0) as u32));
            // The sign from low bits of the exponent's draw.
            if (p[0] * 1_073_741_824.0) as u32 & 1 == 1 {
                -v
            } else {
                v
            }
        }));
        for level in simd::available() {
            check_sample(level, &x0, c, Par::Seq);
        }
        check_any(&x0, c);
    }
}

/// Values within two margins of a binade's edges, on both sides of it, both signs, for binades
/// from below to above the coefficients' quanta: the lanes' margin checks decide which of them
/// the lanes take and which go to the solve (random data reaches a margin of 8 floats in 2^23 too
/// rarely to test them).
fn edges() -> Vec<f32> {
    let mut x = Vec::new();
    for k in -32..=8 {
        let p = 2f32.powi(k);
        let (mut up, mut down) = (p, p);
        for _ in 0..2 * MARGIN + 3 {
            for v in [up, down] {
                x.extend([v, -v]);
            }
            (up, down) = (up.next_up(), down.next_down());
        }
    }
    x
}

#[test]
fn passes_at_binade_edges_are_the_old_passes_at_every_level() {
    let x0 = edges();
    for c in COEFFS
        .iter()
        .chain(&[2f64.powi(-10), -3.0 * 2f64.powi(-12), 0.75])
    {
        for level in simd::available() {
            check_sample(level, &x0, *c, Par::Seq);
        }
    }
}

#[test]
fn passes_are_the_old_passes_on_threads() {
    let x0 = data(2 * PIECE + 2 * REDUCE_PIECE + 5, 3);
    let level = simd::level();
    for par in [Par::Rayon(1), Par::Rayon(2), Par::Rayon(3)] {
        check_sample(level, &x0, 1e-3, par);
        check_sample(level, &x0, 131.0 / 131_072.0, par);
    }
}

#[test]
fn restore_gives_back_layer_weights_exactly() {
    // N(0, 0.02²) at MeZO's eps: every weight farther from zero than about 2 eps comes back.
    let x0: Vec<f32> = data(3 * REDUCE_PIECE, 4)[..]
        .iter()
        .map(|v| {
            if v.is_finite() {
                v.clamp(-1.0, 1.0)
            } else {
                0.5
            }
        })
        .collect();
    for level in simd::available() {
        let mut x = x0.clone();
        let mut bits = vec![0u8; bits_len(x.len())];
        let steps = [1e-3, -2e-3];
        for k in 0..2 {
            let rec = Record {
                bits: &mut bits[..],
                prior: &steps[..k],
            };
            apply_at(
                level,
                &mut x,
                9,
                Dist::Rademacher,
                steps[k],
                Some(rec),
                Par::Seq,
            )
            .unwrap();
        }
        restore_at(
            level,
            &mut x,
            9,
            Dist::Rademacher,
            &steps,
            Some(&mut bits),
            Par::Seq,
        )
        .unwrap();
        for (&a, &b) in x.iter().zip(&x0) {
            if b.abs() > 2.1e-3 {
                assert_eq!(a.to_bits(), b.to_bits(), "{b:e} {level:?}");
            }
        }
    }
}
