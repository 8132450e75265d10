//! The vectorized solve for the coordinates [`fast`](super::fast) flags (a path that leaves its
//! binade: about a quarter of a layer's weights at MeZO's `eps = 1e-3`). [`undo_one`](super::undo_one)
//! and the recorded step of [`apply`](super::apply) written without a branch: every candidate
//! (`c₀`, its neighbours ±1, ±2 ulp, and `0`) is replayed and the case analysis becomes selects,
//! so one loop over the flagged coordinates, gathered into a contiguous batch, vectorizes. Same
//! arithmetic as the scalar code, so the same bits (tested against it at every level).

use super::{step, total, Float, MAX_STEPS};
use crate::par::REDUCE_PIECE;
use crate::simd::{self, Level};

/// Whether the steps `d` take `r` to `y`.
#[inline(always)]
fn maps<T: Float>(r: T, d: &[f64], y: T) -> bool {
    let mut v = r;
    for &dk in d {
        v = step(v, dk);
    }
    v == y
}

#[inline(always)]
fn pick<T: Copy>(c: bool, a: T, b: T) -> T {
    if c {
        a
    } else {
        b
    }
}

/// [`undo_one`](super::undo_one)`(y, d, has_bit.then_some(upper))`, branch-free.
#[inline(always)]
pub(super) fn undo<T: Float>(y: T, d: &[f64], has_bit: bool, upper: bool) -> T {
    let c0 = T::from_f64(y.to_f64() - total(d));
    let zero = T::from_f64(0.0);
    let (d1, u1) = (c0.down(), c0.up());
    let (d2, u2) = (d1.down(), u1.up());
    let (m2, m1, m0) = (maps(d2, d, y), maps(d1, d, y), maps(c0, d, y));
    let (p1, p2, mz) = (maps(u1, d, y), maps(u2, d, y), maps(zero, d, y));
    let (m3, p3) = (maps(d2.down(), d, y), maps(u2.up(), d, y));
    // A run of three around c₀: [d₂, d₁, c₀], [d₁, c₀, u₁] or [c₀, u₁, u₂].
    let three_lo = m0 & m1 & !p1 & m2 & !m3;
    let three_mid = m0 & m1 & p1 & !m2 & !p2;
    let three_hi = m0 & !m1 & p1 & p2 & !p3;
    let three = has_bit & (three_lo | three_mid | three_hi);
    // The bit is in magnitude (the outer one, farther from zero): below zero the outer one of a
    // run is its bottom in value, and "the upper of two" is flipped.
    let neg = y.to_f64() < 0.0;
    let top = pick(
        neg,
        pick(three_lo, d2, pick(three_mid, d1, c0)),
        pick(three_lo, c0, pick(three_mid, u1, u2)),
    );
    let mid = pick(three_lo, d1, pick(three_mid, c0, u1));
    // c₀ maps: alone, in a pair below or above, or in a longer run.
    let alone = m0 & !m1 & !p1;
    let pair_lo = m0 & m1 & !p1 & !m2;
    let pair_hi = m0 & !m1 & p1 & !p2;
    // c₀ does not: the neighbours that map, in order.
    let k = u32::from(m2) + u32::from(m1) + u32::from(p1) + u32::from(p2);
    let first = pick(m2, d2, pick(m1, d1, pick(p1, u1, u2)));
    let last = pick(p2, u2, pick(p1, u1, pick(m1, d1, d2)));
    let (lo, hi, many) = if m0 {
        (
            pick(pair_lo, d1, c0),
            pick(pair_hi, u1, c0),
            !(pair_lo | pair_hi),
        )
    } else {
        (first, last, k >= 3)
    };
    let resolved = pick(
        has_bit & !many,
        pick(upper != neg, hi, lo),
        pick(mz, zero, pick(m0, c0, lo)),
    );
    let none = !m0 & (k == 0);
    pick(
        alone,
        c0,
        pick(
            three,
            pick(upper, top, mid),
            pick(
                none,
                pick(mz, zero, c0),
                pick(!m0 & (k == 1), first, resolved),
            ),
        ),
    )
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
    for (i, &s) in slow.iter().enumerate() {
        idx[n] = i as u16;
        n += usize::from(s != 0);
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

/// [`restore`](super::restore) for the coordinates with `slow[i] != 0`. Returns `false` (nothing
/// done) for more than 4 steps; `z` is clobbered otherwise.
pub(super) fn restore<T: Float>(
    level: Level,
    x: &mut [T],
    z: &mut [f64],
    coeffs: &[f64],
    bits: &[u8],
    slow: &[u8],
) -> bool {
    if !(1..=4).contains(&coeffs.len()) {
        return false;
    }
    let mut idx = [0u16; REDUCE_PIECE];
    let mut cx = [T::from_f64(0.0); REDUCE_PIECE];
    let mut cb = [0u8; REDUCE_PIECE];
    let n = gather(x, z, bits, slow, &mut idx, &mut cx, &mut cb);
    let has_bit = !bits.is_empty();
    macro_rules! with_m {
        ($m:literal) => {{
            let mut c = [0.0; $m];
            c.copy_from_slice(coeffs);
            let (cx, z, cb) = (&mut cx[..n], &z[..n], &cb[..n]);
            simd::dispatch(
                level,
                #[inline(always)]
                || restore_m::<T, $m>(cx, z, cb, has_bit, &c),
            )
        }};
    }
    match coeffs.len() {
        1 => with_m!(1),
        2 => with_m!(2),
        3 => with_m!(3),
        _ => with_m!(4),
    }
    for j in 0..n {
        x[usize::from(idx[j])] = cx[j];
    }
    true
}

#[inline(always)]
#[allow(clippy::needless_range_loop)] // several arrays, one index
fn restore_m<T: Float, const M: usize>(
    x: &mut [T],
    z: &[f64],
    bits: &[u8],
    has_bit: bool,
    coeffs: &[f64; M],
) {
    for ((v, &zi), &b) in x.iter_mut().zip(z).zip(bits) {
        let mut d = [0.0; M];
        for k in 0..M {
            d[k] = coeffs[k] * zi;
        }
        *v = undo(*v, &d, has_bit, b != 0);
    }
}

/// The recorded step of [`apply`](super::apply) for the coordinates with `slow[i] != 0`, bits
/// included. Returns `false` (nothing done) for more than 3 prior steps; `z` is clobbered
/// otherwise.
pub(super) fn apply<T: Float>(
    level: Level,
    x: &mut [T],
    z: &mut [f64],
    prior: &[f64],
    coeff: f64,
    bits: &mut [u8],
    slow: &[u8],
) -> bool {
    if prior.len() > 3 {
        return false;
    }
    let mut idx = [0u16; REDUCE_PIECE];
    let mut cx = [T::from_f64(0.0); REDUCE_PIECE];
    let mut cb = [0u8; REDUCE_PIECE];
    let mut write = [0u8; REDUCE_PIECE];
    let n = gather(x, z, bits, slow, &mut idx, &mut cx, &mut cb);
    macro_rules! with_k {
        ($k:literal) => {{
            let mut c = [0.0; MAX_STEPS];
            c[..$k].copy_from_slice(prior);
            c[$k] = coeff;
            let (cx, z, cb, w) = (&mut cx[..n], &z[..n], &mut cb[..n], &mut write[..n]);
            simd::dispatch(
                level,
                #[inline(always)]
                || apply_k::<T, $k>(cx, z, cb, w, &c),
            )
        }};
    }
    match prior.len() {
        0 => with_k!(0),
        1 => with_k!(1),
        2 => with_k!(2),
        _ => with_k!(3),
    }
    for j in 0..n {
        let i = usize::from(idx[j]);
        x[i] = cx[j];
        if write[j] != 0 {
            let (byte, bit) = (i / 8, i % 8);
            bits[byte] = (bits[byte] & !(1 << bit)) | (cb[j] << bit);
        }
    }
    true
}

/// `x ← step(x, c[K] z)` after the prior steps `c[..K]`; `bit` in: the bit kept so far, out: the
/// one to keep, where `write` is set (a neighbour of the original value ends where it does).
#[inline(always)]
#[allow(clippy::needless_range_loop)] // several arrays, one index
fn apply_k<T: Float, const K: usize>(
    x: &mut [T],
    z: &[f64],
    bit: &mut [u8],
    write: &mut [u8],
    c: &[f64; MAX_STEPS],
) {
    for (((v, &zi), b), w) in x
        .iter_mut()
        .zip(z)
        .zip(bit.iter_mut())
        .zip(write.iter_mut())
    {
        let mut d = [0.0; MAX_STEPS];
        for k in 0..=K {
            d[k] = c[k] * zi;
        }
        let y = step(*v, d[K]);
        let x0 = if K == 0 {
            *v
        } else {
            undo(*v, &d[..K], true, *b != 0)
        };
        // Where the path is one-to-one neither neighbour ends at y (no write), as in `apply`.
        let up = maps(x0.up(), &d[..=K], y);
        let down = maps(x0.down(), &d[..=K], y);
        // Inside a longer run too ("not the top"), as in `apply`.
        *w = u8::from(up | down);
        *b = u8::from(pick(y.to_f64() < 0.0, up & !down, down & !up));
        *v = y;
    }
}
