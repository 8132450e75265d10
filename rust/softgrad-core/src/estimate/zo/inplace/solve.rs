//! The vectorized solve for the coordinates [`fast`](super::fast) flags (a step that leaves or
//! nears the edge of its binade: about a quarter of a layer's weights at MeZO's `eps = 1e-3`).
//! [`undo_one`](super::undo_one) and the recorded step of [`apply`](super::apply) written without
//! a branch: every candidate (`c₀`, the [`REACH`] floats either side, and `0`) is replayed and the
//! case analysis becomes selects, so one loop over the flagged coordinates, gathered into a
//! contiguous batch, vectorizes. Same arithmetic as the scalar code, so the same bits (tested
//! against it at every level).

use super::{c0_native, small, step_r, Float, REACH};
use crate::par::REDUCE_PIECE;
use crate::simd::{self, Level};

#[inline(always)]
fn pick<T: Copy>(c: bool, a: T, b: T) -> T {
    if c {
        a
    } else {
        b
    }
}

/// [`undo_one`](super::undo_one)`(y, d, has_bit.then_some(outer))`, branch-free.
#[inline(always)]
pub(super) fn undo<T: Float>(y: T, d: f64, has_bit: bool, outer: bool) -> T {
    const _: () = assert!(REACH == 3); // written out below: arrays kept LLVM from vectorizing
    let c0 = T::from_f64(y.to_f64() - d);
    let (d1, u1) = (c0.down(), c0.up());
    let (d2, u2) = (d1.down(), u1.up());
    let (d3, u3) = (d2.down(), u2.up());
    let maps = |r: T| step_r(r, d) == y;
    let (m3, m2, m1, m0) = (maps(d3), maps(d2), maps(d1), maps(c0));
    let (p1, p2, p3) = (maps(u1), maps(u2), maps(u3));
    let count = u32::from(m3)
        + u32::from(m2)
        + u32::from(m1)
        + u32::from(m0)
        + u32::from(p1)
        + u32::from(p2)
        + u32::from(p3);
    // The lowest and the highest candidate that map.
    let lo = pick(
        m3,
        d3,
        pick(
            m2,
            d2,
            pick(m1, d1, pick(m0, c0, pick(p1, u1, pick(p2, u2, u3)))),
        ),
    );
    let hi = pick(
        p3,
        u3,
        pick(
            p2,
            u2,
            pick(p1, u1, pick(m0, c0, pick(m1, d1, pick(m2, d2, d3)))),
        ),
    );
    let zero = T::from_f64(0.0);
    let mz = step_r(zero, d) == y;
    let neg = y.to_f64() < 0.0;
    let (inner, outer_one) = (pick(neg, hi, lo), pick(neg, lo, hi));
    let resolved = pick(
        has_bit & (count == 2),
        pick(outer, outer_one, inner),
        pick(mz, zero, pick(m0, c0, inner)),
    );
    // The small region: `0` or `y − d` in `T`, whatever the candidates say.
    let c = c0_native(y, d);
    pick(
        small(c, d),
        pick(mz, zero, c),
        pick(count == 0, c0, pick(count == 1, lo, resolved)),
    )
}

/// The recorded step `d` from the original `x0` into `v`, with the bit of the outer one of two
/// (farther from zero) floats whose step ends together into `bit` (cleared where it is the only one).
#[inline(always)]
pub(super) fn forward<T: Float>(x0: T, d: f64, v: &mut T, bit: &mut u8) {
    let y = step_r(x0, d);
    let up = step_r(x0.up(), d) == y;
    let down = step_r(x0.down(), d) == y;
    *bit = u8::from(pick(y.to_f64() < 0.0, up & !down, down & !up));
    *v = y;
}

/// Gathers the coordinates with `slow[i] != 0` to the front: their indices into `idx`, their
/// values into `cx`, their `z` into the front of `z` itself (`z` of the others is not needed any
/// more) and their bits into `cb`. Returns how many.
#[inline(always)]
fn gather<T: Float>(
    x: &[T],
    z: &mut [f64],
    bits: &[u8],
    slow: &[u8],
    idx: &mut [u16; REDUCE_PIECE],
    cx: &mut [T; REDUCE_PIECE],
    cb: &mut [u8; REDUCE_PIECE],
) -> usize {
    let mut n = 0;
    for (c, flags) in slow.chunks(8).enumerate() {
        // Most runs of 8 have none (a few % of coordinates come here).
        if <[u8; 8]>::try_from(flags).is_ok_and(|w| u64::from_ne_bytes(w) == 0) {
            continue;
        }
        for (j, &s) in flags.iter().enumerate() {
            idx[n] = (8 * c + j) as u16;
            n += usize::from(s != 0);
        }
    }
    for j in 0..n {
        let i = usize::from(idx[j]);
        cx[j] = x[i];
        z[j] = z[i];
        cb[j] = if bits.is_empty() {
            0
        } else {
            (bits[i / 8] >> (i % 8)) & 1
        };
    }
    n
}

/// [`restore`](super::restore) for the coordinates with `slow[i] != 0`; `z` is clobbered.
pub(super) fn restore<T: Float>(
    level: Level,
    x: &mut [T],
    z: &mut [f64],
    coeff: f64,
    bits: &[u8],
    slow: &[u8],
) {
    let mut idx = [0u16; REDUCE_PIECE];
    let mut cx = [T::from_f64(0.0); REDUCE_PIECE];
    let mut cb = [0u8; REDUCE_PIECE];
    let n = gather(x, z, bits, slow, &mut idx, &mut cx, &mut cb);
    let has_bit = !bits.is_empty();
    let (cx, z, cb) = (&mut cx[..n], &z[..n], &cb[..n]);
    simd::dispatch(
        level,
        #[inline(always)]
        || {
            for ((v, &zi), &b) in cx.iter_mut().zip(z).zip(cb) {
                *v = undo(*v, coeff * zi, has_bit, b != 0);
            }
        },
    );
    for j in 0..n {
        x[usize::from(idx[j])] = cx[j];
    }
}

/// The recorded step of [`apply`](super::apply) for the coordinates with `slow[i] != 0`, bits
/// included: the original recovered from the step `before` (with its bit; `None`: the current
/// value is the original), stepped by `after`, and the bit set to whether it is the outer one
/// (farther from zero) of two floats whose step `after` ends at the same value (cleared where it
/// is the only one). `z` is clobbered.
pub(super) fn apply<T: Float>(
    level: Level,
    x: &mut [T],
    z: &mut [f64],
    before: Option<f64>,
    after: f64,
    bits: &mut [u8],
    slow: &[u8],
) {
    let mut idx = [0u16; REDUCE_PIECE];
    let mut cx = [T::from_f64(0.0); REDUCE_PIECE];
    let mut cb = [0u8; REDUCE_PIECE];
    let n = gather(x, z, bits, slow, &mut idx, &mut cx, &mut cb);
    let (cx, z, cb) = (&mut cx[..n], &z[..n], &mut cb[..n]);
    match before {
        Some(b) => simd::dispatch(
            level,
            #[inline(always)]
            || {
                for ((v, &zi), bit) in cx.iter_mut().zip(z).zip(cb.iter_mut()) {
                    forward(undo(*v, b * zi, true, *bit != 0), after * zi, v, bit);
                }
            },
        ),
        None => simd::dispatch(
            level,
            #[inline(always)]
            || {
                for ((v, &zi), bit) in cx.iter_mut().zip(z).zip(cb.iter_mut()) {
                    forward(*v, after * zi, v, bit);
                }
            },
        ),
    }
    for j in 0..n {
        let i = usize::from(idx[j]);
        x[i] = cx[j];
        let (byte, bit) = (i / 8, i % 8);
        bits[byte] = (bits[byte] & !(1 << bit)) | (cb[j] << bit);
    }
}
