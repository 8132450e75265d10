//! The recorded Rademacher passes of `f32` data in 32-bit lanes, with the signs read straight
//! from the Philox words (one group of [`LANES`] blocks, [`GROUP`] signs) and no `z` buffer: the
//! step and undo of [`lanes`](super::lanes) with `m` looked up by binade.
//!
//! **Why a table is exact.** With `z = ±1`, `d = C z` is `±C` exactly, so `|d| = |C|` for every
//! coordinate and [`lanes`](super::lanes)' `m = round(|d| / q(e))` (and its limit `|d| / q(e) ≤
//! 2²⁴`) depend only on the binade `e` (of `x⁰` for the step, of `c₀` for the undoing). [`Table`]
//! holds that `m`, computed by the lanes' own expression, for the 32 binades from the first where
//! the limit holds (and the lanes' `e ≥ 26`): below it the lanes flag the coordinate anyway, and
//! from 25 binades above it `|d| / q < 1/2` rounds to `m = 0`. The sign of `d` is the sign of `C`
//! flipped by the Philox bit. Everything else is the lanes' integer arithmetic, written in 32-bit
//! lanes: `c₀ = round(y − d)` is computed in `f64` as the lanes do, and `Y = |y| / q(c₀)` (exact:
//! `q` is a power of two) as the integer `Y_sig · 2^(e_y − e)` with its integrality test on the
//! shifted-out bits. So every lane gives the lanes' value and flag, bit for bit (tested against
//! them and against the whole old pass at every level). The flagged coordinates (about 4 % of
//! N(0, 0.02²) weights at `eps = 1e-3`: `|x⁰|` within about `|d|` of zero) go to the
//! [`solve`](super::solve) in batches of 64, without a per-call buffer of the piece.

use super::bits32::GROUP;
use super::lanes::{inv_q, rne, HIDDEN, MARGIN, M_MAX, S_MIN};
use super::solve;
use crate::rng::{Stream, LANES, RADEMACHER_PER_BLOCK};
use crate::simd::{self, Level};

#[cfg(target_arch = "x86_64")]
mod x86;

/// `m = round(|C| / q(e))` by binade `e`, for one coefficient `C` of a pass.
#[derive(Debug, Clone, Copy)]
pub(super) struct Table {
    /// The least biased exponent the lanes take: `|C| / q(e) ≤ 2²⁴` from it on, and `≥ 26`.
    lo: u32,
    /// `m(lo + j)`; `0` from `j = 25` on (so for every `e ≥ lo + 31`, as `j` is clamped to 31).
    m: [i32; 32],
    /// `C`.
    c: f64,
}

impl Table {
    /// The table of `c`, or `None` where the pass keeps the general path (`c` zero, tiny, huge
    /// or not finite).
    fn new(c: f64) -> Option<Self> {
        let a = c.abs();
        if !(1e-30..=1e30).contains(&a) {
            return None;
        }
        // The lanes' expressions, binade by binade (monotone in e: exact power-of-two scalings).
        let t = |e: u32| a * inv_q(e);
        let fit = (0..=255u32).find(|&e| t(e) <= M_MAX)?;
        let lo = fit.max(26);
        if lo > 252 {
            return None;
        }
        let m = std::array::from_fn(|j| {
            let e = lo + j as u32;
            if e > 255 {
                0
            } else {
                rne(t(e)) & 0x1ff_ffff
            }
        });
        (m[25..].iter().all(|&v| v == 0)).then_some(Table { lo, m, c })
    }

    #[inline(always)]
    fn m(&self, e: u32) -> i32 {
        self.m[e.wrapping_sub(self.lo).min(31) as usize]
    }

    /// `e` in `lo..=252`: the lanes' limit on `|d| / q` and their range of binades.
    #[inline(always)]
    fn window(&self, e: u32) -> bool {
        e.wrapping_sub(self.lo) <= 252 - self.lo
    }

    /// The sign bit of `C`.
    #[inline(always)]
    fn neg(&self) -> u32 {
        u32::from(self.c < 0.0)
    }
}

/// The significand bits `mant` lie [`MARGIN`] floats inside the binade.
#[inline(always)]
fn inside(mant: u32) -> bool {
    mant.wrapping_sub(MARGIN as u32) < (HIDDEN - 2 * MARGIN) as u32
}

/// [`lanes::forward`](super::lanes::forward) of `x⁰` (bits `xb`) by `d = C (−1)^zbit`:
/// `(y bits, bit, ok)`.
#[inline(always)]
fn forward(t: &Table, xb: u32, zbit: u32) -> (u32, u32, bool) {
    let e = (xb >> 23) & 0xff;
    let mant = xb & 0x7f_ffff;
    let big = mant as i32 | HIDDEN;
    let m = t.m(e);
    let sx = xb >> 31;
    let s = if sx == t.neg() ^ zbit {
        big.wrapping_add(m)
    } else {
        big.wrapping_sub(m)
    };
    let up = s >= 2 * HIDDEN;
    let r = if up { s & !1 } else { s };
    let q = f32::from_bits(e.wrapping_sub(23) << 23);
    let y = (r as f32 * q).to_bits() | (sx << 31);
    let bit = u32::from(up) & (s & 1) as u32;
    (y, bit, t.window(e) & inside(mant) & (s >= S_MIN))
}

/// [`lanes::undo`](super::lanes::undo) of `y` (bits `yb`) by `d = C (−1)^zbit`: `(x⁰ bits, ok)`.
#[inline(always)]
fn undo(t: &Table, yb: u32, zbit: u32, bit: u32, has_bit: bool) -> (u32, bool) {
    let d = if zbit != 0 { -t.c } else { t.c };
    let cb = ((f64::from(f32::from_bits(yb)) - d) as f32).to_bits();
    let e = (cb >> 23) & 0xff;
    let mant = cb & 0x7f_ffff;
    let m = t.m(e);
    // |y| / q(e) for a normal y: its significand shifted by e_y - e (left at most 1: < 2^25).
    let ye = (yb >> 23) & 0xff;
    let ybig = (yb & 0x7f_ffff) | HIDDEN as u32;
    let sh = ye as i32 - e as i32;
    let (shl, shr) = (sh.max(0) as u32, (-sh).max(0) as u32);
    let yi = ybig
        .checked_shl(shl)
        .unwrap_or(0)
        .checked_shr(shr)
        .unwrap_or(0) as i32;
    let low = 1u32.checked_shl(shr).unwrap_or(0).wrapping_sub(1);
    let integral = ybig & low == 0;
    let sx = cb >> 31;
    let base = if sx == t.neg() ^ zbit {
        yi.wrapping_sub(m)
    } else {
        yi.wrapping_add(m)
    };
    let two = yi >= 2 * HIDDEN;
    let mm = base.wrapping_add(i32::from(two & (bit != 0)));
    let ok = t.window(e)
        & inside(mant)
        & (sh <= 1)
        & integral
        & (ye.wrapping_sub(1) < 254)
        & (sx == yb >> 31)
        & (!two | ((yi & 1 == 0) & has_bit))
        & (base >= HIDDEN)
        & (base.wrapping_add(i32::from(two)) < 2 * HIDDEN);
    ((cb & 0xff80_0000) | (mm as u32 & 0x7f_ffff), ok)
}

/// One recorded Rademacher pass: the undoing of `before` (the current value one recorded step
/// of it from the original, with its bit) and/or the recorded step `after` from the original.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pass {
    before: Option<Table>,
    after: Option<Table>,
    /// A bit was recorded (for the undoing alone: a recorded step always has one).
    has_bit: bool,
}

impl Pass {
    /// [`apply`](super::apply)'s recorded step (`before`: the total already applied, if any).
    pub(super) fn apply(before: Option<f64>, after: f64) -> Option<Self> {
        let before = match before {
            Some(b) => Some(Table::new(b)?),
            None => None,
        };
        Some(Pass {
            before,
            after: Some(Table::new(after)?),
            has_bit: true,
        })
    }

    /// [`restore`](super::restore) of the total `d` (with recorded bits or without).
    pub(super) fn restore(d: f64, has_bit: bool) -> Option<Self> {
        Some(Pass {
            before: Some(Table::new(d)?),
            after: None,
            has_bit,
        })
    }

    /// The pass on the values `start..start + GROUP` of the stream (`start` a multiple of
    /// [`GROUP`]) and their bytes of bits (`GROUP / 8`, or empty for a restore without bits);
    /// `false` (nothing done) for a shorter `x`, which the caller passes the general way.
    pub(super) fn group(
        &self,
        level: Level,
        stream: &Stream,
        start: u64,
        x: &mut [f32],
        bits: &mut [u8],
    ) -> bool {
        let Ok(x) = <&mut [f32; GROUP]>::try_from(x) else {
            return false;
        };
        debug_assert!(bits.len() == GROUP / 8 || (bits.is_empty() && self.after.is_none()));
        let words = stream.blocks_at(level, start / RADEMACHER_PER_BLOCK as u64);
        // Bit b of slow[k]: value 32 k + b is flagged.
        let mut slow = [0u32; GROUP / 32];
        let any = match level.min(simd::level()) {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the level is at most the CPU's.
            Level::Avx512 => unsafe { x86::group512(self, x, &words, bits, &mut slow) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            Level::Avx2 => unsafe { x86::group256(self, x, &words, bits, &mut slow) },
            _ => self.group_scalar(x, &words, bits, &mut slow),
        };
        if any != 0 {
            self.fix(level, &words, &slow, x, bits);
        }
        true
    }

    /// The record bits of values `32 k..32 k + 32` (`0` without bits).
    #[inline(always)]
    fn bits_at(bits: &[u8], k: usize) -> u32 {
        bits.get(4 * k..4 * k + 4)
            .map_or(0, |b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
    }

    /// [`Pass::group`]'s lanes one value at a time: the flags in `slow`, their union returned.
    fn group_scalar(
        &self,
        x: &mut [f32; GROUP],
        words: &[[u32; LANES]; 4],
        bits: &mut [u8],
        slow: &mut [u32; GROUP / 32],
    ) -> u32 {
        let mut any = 0;
        for (k, (chunk, flags)) in x.chunks_exact_mut(32).zip(slow.iter_mut()).enumerate() {
            // Value 32 k + b of the group is bit b of word k % 4 of block k / 4.
            let word = words[k % 4][k / 4];
            let rb = Self::bits_at(bits, k);
            let (mut f, mut nb) = (0u32, rb);
            for (b, v) in (0..32u32).zip(chunk.iter_mut()) {
                let (xb, zb, bit) = (v.to_bits(), (word >> b) & 1, (rb >> b) & 1);
                let (x0, ok0) = match &self.before {
                    Some(t) => undo(t, xb, zb, bit, self.has_bit),
                    None => (xb, true),
                };
                let (y, nbit, ok) = match &self.after {
                    Some(t) => {
                        let (y, nbit, ok1) = forward(t, x0, zb);
                        (y, nbit, ok0 & ok1)
                    }
                    None => (x0, bit, ok0),
                };
                *v = f32::from_bits(if ok { y } else { xb });
                if ok {
                    nb = (nb & !(1 << b)) | (nbit << b);
                }
                f |= u32::from(!ok) << b;
            }
            if self.after.is_some() {
                bits[4 * k..4 * k + 4].copy_from_slice(&nb.to_le_bytes());
            }
            *flags = f;
            any |= f;
        }
        any
    }

    /// The solve for the flagged values, in batches of 64 (the old pass's arithmetic, `z = ±1`).
    #[cold]
    #[inline(never)]
    fn fix(
        &self,
        level: Level,
        words: &[[u32; LANES]; 4],
        slow: &[u32; GROUP / 32],
        x: &mut [f32; GROUP],
        bits: &mut [u8],
    ) {
        const BATCH: usize = 64;
        let mut idx = [0u16; BATCH];
        let mut cx = [0f32; BATCH];
        let mut z = [0f64; BATCH];
        let mut cb = [0u8; BATCH];
        let mut n = 0;
        for (k, &f) in slow.iter().enumerate() {
            let word = words[k % 4][k / 4];
            let rb = Self::bits_at(bits, k);
            let mut f = f;
            while f != 0 {
                let b = f.trailing_zeros();
                f &= f - 1;
                let i = 32 * k + b as usize;
                idx[n] = i as u16;
                cx[n] = x[i];
                z[n] = if (word >> b) & 1 == 1 { -1.0 } else { 1.0 };
                cb[n] = ((rb >> b) & 1) as u8;
                n += 1;
                if n == BATCH {
                    self.solve(level, &idx, &mut cx, &z, &mut cb, x, bits);
                    n = 0;
                }
            }
        }
        if n > 0 {
            self.solve(
                level,
                &idx[..n],
                &mut cx[..n],
                &z[..n],
                &mut cb[..n],
                x,
                bits,
            );
        }
    }

    /// [`solve::apply`] / [`solve::restore`]'s loops on a gathered batch, scattered back.
    #[allow(clippy::too_many_arguments)] // the batch's four arrays and the group's two
    fn solve(
        &self,
        level: Level,
        idx: &[u16],
        cx: &mut [f32],
        z: &[f64],
        cb: &mut [u8],
        x: &mut [f32; GROUP],
        bits: &mut [u8],
    ) {
        let n = idx.len();
        let (cx, z, cb) = (&mut cx[..n], &z[..n], &mut cb[..n]);
        let has_bit = self.has_bit;
        match (self.before.map(|t| t.c), self.after.map(|t| t.c)) {
            (Some(b), Some(a)) => simd::dispatch(
                level,
                #[inline(always)]
                || {
                    for ((v, &zi), bit) in cx.iter_mut().zip(z).zip(cb.iter_mut()) {
                        solve::forward(solve::undo(*v, b * zi, true, *bit != 0), a * zi, v, bit);
                    }
                },
            ),
            (None, Some(a)) => simd::dispatch(
                level,
                #[inline(always)]
                || {
                    for ((v, &zi), bit) in cx.iter_mut().zip(z).zip(cb.iter_mut()) {
                        solve::forward(*v, a * zi, v, bit);
                    }
                },
            ),
            (Some(d), None) => simd::dispatch(
                level,
                #[inline(always)]
                || {
                    for ((v, &zi), &b) in cx.iter_mut().zip(z).zip(cb.iter()) {
                        *v = solve::undo(*v, d * zi, has_bit, b != 0);
                    }
                },
            ),
            (None, None) => {}
        }
        for (j, &i) in idx.iter().enumerate() {
            let i = usize::from(i);
            x[i] = cx[j];
            if self.after.is_some() {
                let (byte, bit) = (i / 8, i % 8);
                bits[byte] = (bits[byte] & !(1 << bit)) | (cb[j] << bit);
            }
        }
    }
}

#[cfg(test)]
mod tests;
