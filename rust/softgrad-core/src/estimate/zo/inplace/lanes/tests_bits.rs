//! The lanes' bit packing (`spread8`, `gather8`, `unpack`, `pack`) against plain bit arithmetic,
//! and `apply_recorded` / `restore` over a slice against the scalar `step_r`, the solve's bit and
//! `undo_one`, value by value, at every SIMD level (the narrow tests call `forward` / `undo` on
//! one value; these go through the slices, the bytes and the bits).

use super::super::{step_r, undo_one, Float};
use super::{apply_recorded, gather8, pack, restore, spread8, unpack};
use crate::rng::Stream;
use crate::simd::Level;

/// `len` bytes of bits from a fixed stream (Rademacher signs as bits).
fn some_bits(len: usize, seed: u64) -> Vec<u8> {
    let mut s = vec![0.0; 8 * len];
    Stream::new(seed, 0).fill_rademacher(0, &mut s);
    s.chunks(8)
        .map(|c| {
            c.iter()
                .enumerate()
                .fold(0u8, |b, (j, &v)| b | (u8::from(v > 0.0) << j))
        })
        .collect()
}

fn bit(bits: &[u8], i: usize) -> u8 {
    (bits[i / 8] >> (i % 8)) & 1
}

#[test]
fn spread8_and_gather8_are_the_bits_of_a_byte() {
    for b in 0..=255u8 {
        let want: [u8; 8] = std::array::from_fn(|j| (b >> j) & 1);
        assert_eq!(spread8(b), want, "{b:#010b}");
        assert_eq!(gather8(want), b, "{b:#010b}");
    }
}

#[test]
fn unpack_and_pack_move_bit_i_of_the_bytes() {
    for len in 0..=37usize {
        let bits = some_bits(len.div_ceil(8), len as u64);
        let mut out = vec![9u8; len];
        unpack(&bits, &mut out);
        for (i, &o) in out.iter().enumerate() {
            assert_eq!(o, bit(&bits, i), "unpack len {len} at {i}");
        }
        // pack: bit i becomes new[i] where slow[i] is 0; the others, and the bits past len, stay
        let new: Vec<u8> = some_bits(len.div_ceil(8) + 1, 100 + len as u64)
            .iter()
            .flat_map(|&b| spread8(b))
            .take(len)
            .collect();
        let slow: Vec<u8> = (0..len).map(|i| u8::from(i % 3 == 1)).collect();
        let mut got = bits.clone();
        pack(&new, &slow, &mut got);
        for i in 0..len {
            let want = if slow[i] == 0 { new[i] } else { bit(&bits, i) };
            assert_eq!(bit(&got, i), want, "pack len {len} at {i}");
        }
        for i in len..8 * bits.len() {
            assert_eq!(
                bit(&got, i),
                bit(&bits, i),
                "pack len {len} past the end at {i}"
            );
        }
    }
}

/// The solve's bit: whether `x0` is the outer one of two floats whose step `d` ends together.
fn solve_bit(x0: f32, d: f64) -> u8 {
    let y = step_r(x0, d);
    let up = step_r(x0.up(), d) == y;
    let down = step_r(x0.down(), d) == y;
    u8::from(if y < 0.0 { up & !down } else { down & !up })
}

/// Values 9 to 200 floats below powers of two in [1/4, 2] (where a step of a few hundred quanta
/// crosses the binade and the bit matters, but the lanes still take them), both signs, and values
/// well inside a binade.
fn values(len: usize) -> Vec<f32> {
    let below = [9, 12, 20, 40, 100, 200];
    (0..len)
        .map(|i| {
            let p = 2f32.powi((i % 4) as i32 - 2);
            let s = if (i / 4) % 2 == 0 { 1.0 } else { -1.0 };
            match (i / 8) % 7 {
                6 => s * 1.37 * p,
                j => s * p * (1.0 - below[j] as f32 * f32::EPSILON / 2.0),
            }
        })
        .collect()
}

#[test]
fn recorded_passes_and_their_restore_are_the_scalar_steps_and_undo() {
    let len = 1000; // not a multiple of 8: a tail byte
    let x0 = values(len);
    let mut z = vec![0.0; len];
    Stream::new(3, 0).fill_rademacher(0, &mut z);
    // a Gaussian-like direction on every third coordinate
    for (i, v) in z.iter_mut().enumerate().filter(|(i, _)| i % 3 == 2) {
        *v *= 0.5 + (i % 7) as f64 * 0.25;
    }
    let levels = [Level::Scalar, crate::simd::level()];
    for level in levels {
        for eps in [3e-7, 1e-5, 1e-3] {
            let mut x = x0.clone();
            let mut bits = vec![0u8; len.div_ceil(8)];
            let mut slow = vec![0u8; len];
            // +eps from the original
            apply_recorded(level, &mut x, &z, None, eps, &mut bits, &mut slow);
            let fast1 = slow.iter().filter(|&&s| s == 0).count();
            for i in 0..len {
                let d = eps * z[i];
                if slow[i] == 0 {
                    assert_eq!(
                        x[i].to_bits(),
                        step_r(x0[i], d).to_bits(),
                        "{level:?} +eps {i}"
                    );
                    assert_eq!(bit(&bits, i), solve_bit(x0[i], d), "{level:?} bit {i}");
                } else {
                    assert_eq!(x[i].to_bits(), x0[i].to_bits(), "{level:?} left {i}");
                }
            }
            // the lanes' coordinates only: the solve would fill in the others
            let lanes: Vec<bool> = slow.iter().map(|&s| s == 0).collect();
            // -eps from the original, from the +eps one
            let (mut x2, mut bits2) = (x.clone(), bits.clone());
            apply_recorded(level, &mut x2, &z, Some(eps), -eps, &mut bits2, &mut slow);
            for i in (0..len).filter(|&i| lanes[i] && slow[i] == 0) {
                let d = -eps * z[i];
                assert_eq!(
                    x2[i].to_bits(),
                    step_r(x0[i], d).to_bits(),
                    "{level:?} -eps {i}"
                );
                assert_eq!(bit(&bits2, i), solve_bit(x0[i], d), "{level:?} bit2 {i}");
            }
            // restore from the +eps step, with its bits and without
            let mut back = x.clone();
            restore(level, &mut back, &z, eps, &bits, &mut slow);
            let mut fast2 = 0;
            for i in (0..len).filter(|&i| lanes[i]) {
                let want = undo_one(x[i], eps * z[i], Some(bit(&bits, i) != 0));
                assert_eq!(want.to_bits(), x0[i].to_bits(), "{level:?} undo_one {i}");
                if slow[i] == 0 {
                    fast2 += 1;
                    assert_eq!(back[i].to_bits(), x0[i].to_bits(), "{level:?} restore {i}");
                }
            }
            let mut plain = x.clone();
            restore(level, &mut plain, &z, eps, &[], &mut slow);
            let mut fast3 = 0;
            for i in (0..len).filter(|&i| lanes[i] && slow[i] == 0) {
                fast3 += 1;
                let want = undo_one(x[i], eps * z[i], None);
                assert_eq!(
                    plain[i].to_bits(),
                    want.to_bits(),
                    "{level:?} restore, no bits {i}"
                );
            }
            // without the bits, the coordinates with two preimages are left to the solve
            assert!(
                fast2 > fast3,
                "{level:?} eps {eps}: {fast2} with bits, {fast3} without"
            );
            assert!(
                fast1 > len / 2 && fast2 > len / 2,
                "{level:?} {fast1} {fast2}"
            );
            let ones = (0..len).filter(|&i| lanes[i] && bit(&bits, i) == 1).count();
            assert!(ones > 10, "{level:?} eps {eps}: {ones} bits set");
        }
    }
}
