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
//! lanes, with `Y = |y| / q(c₀)` (exact: `q` is a power of two) as the integer `Y_sig · 2^(e_y −
//! e)` and its integrality test on the shifted-out bits. The step ([`forward`]) gives the lanes'
//! value and flag, bit for bit, and takes one more case, the step across zero.
//!
//! **The step across zero.** Where `d` has the other sign than `x⁰ = ±M q` and `m ≥ M + 16`
//! (`|x⁰|` just below `|d|`), the sum `±(M − m) q` is a multiple of `q` below `2²⁴ q` in
//! magnitude, so a float: `y = ∓(m − M) q` exactly, of `d`'s sign, normal. It is the image of no
//! other float: `M ± 1` give `S ∓ 1`; a float of the binade above (quantum `2q`, `m' =
//! round(|d| / 2q)`, so `2m' ≤ m + 1`) would need a significand `m' + (M − m)/2 < 2²³`; one of a
//! binade below (quantum `q/2ᵏ`, `m'' ≤ 2ᵏ m + 2ᵏ⁻¹`) would need `m'' − 2ᵏ (m − M) ≥ 2ᵏ M − 2ᵏ⁻¹
//! ≥ 2²⁴` for `M ≥ 2²³ + 8`; floats of `d`'s sign step to at least about `|d| > |y|`. So the
//! solve's bit is `0`, and the lanes write `y` and `0`.
//!
//! **The undoing takes `c₀` in `f32`.** The lanes use `c₀` only for its sign, its binade `B`
//! (quantum `q`) and the check that it lies [`MARGIN`] floats inside `B`; the answer is the
//! significand `Y ∓ m` (or the next one, by the bit) in `B`. [`undo`] takes `c₀' = y − D` rounded
//! in `f32`, `D = ±C` rounded to `f32`. Where the binade limit holds, `|C| ≤ 2²⁴ q`, so `|D − d|
//! ≤ q / 2` (`C`'s own ulp is at most `q`, or `C` is a power of two and `D = d`), and `|c₀' − (y −
//! d)| ≤ q`. The lanes' bound (a preimage lies within `q/2 + q` of `y − d`) puts every preimage
//! within 3 floats of `c₀'`: with `c₀'` 8 floats inside `B`, inside `B`, and `c₀ = round(y − d)`
//! in `B` too. So the lanes' argument holds with `c₀'` in place of `c₀`: one preimage (`Y < 2²⁴`)
//! or two named by the bit, the answer of [`undo_one`](super::undo_one). Where `c₀` and `c₀'`
//! both pass the checks the answers are the lanes'; where only one does, the other way flags the
//! value for the solve, whose answer is `undo_one`'s. Tested against both, value by value, and the
//! whole passes against the old ones bit for bit at every level.
//!
//! **The small region** of the undoing (`|c₀'| < 2^⌊log₂|C|⌋`, [`undo_one`](super::undo_one)) is
//! the lanes' too: `0` where `y` is the step of `0` (two constants per table), else `c₀'` itself.
//! The flagged coordinates (about 4 % of N(0, 0.02²) weights at `eps = 1e-3`: a step from `|x⁰|`
//! below about `|d|`) go to the [`solve`](super::solve) in batches of 32, without a per-call
//! buffer of the piece: the whole solve where the undoing failed, the step's alone where the lanes
//! undid the value (it is left in `x` for it).

use super::bits32::GROUP;
use super::lanes::{HIDDEN, MARGIN, S_MIN};
use super::solve;
use crate::rng::{Stream, LANES, RADEMACHER_PER_BLOCK};
use crate::simd::{self, Level};

#[cfg(target_arch = "x86_64")]
mod x86;

mod table;
use table::{forward, undo, Table};

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
        // Bit b of slow[k]: value 32 k + b is flagged for the whole solve; of only[k]: its
        // undoing was done in the lanes (x holds the original) and only the step is left (the
        // AVX-512 lanes solve those themselves).
        let mut slow = [0u32; GROUP / 32];
        let mut only = [0u32; GROUP / 32];
        let level = level.min(simd::level());
        #[cfg(target_arch = "x86_64")]
        let avx2 = (level == Level::Avx2)
            .then(|| x86::avx2::group_for(self))
            .flatten();
        let any = match level {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the level is at most the CPU's.
            Level::Avx512 => unsafe { x86::group512(self, x, &words, bits, &mut slow) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above. (Totals that are not nested take the scalar lanes at AVX2.)
            Level::Avx2 if avx2.is_some() => unsafe {
                avx2.expect("checked")(self, x, &words, bits, &mut slow, &mut only)
            },
            _ => self.group_scalar(x, &words, bits, &mut slow, &mut only),
        };
        if any != 0 {
            self.fix(level, &words, &slow, x, bits);
            let step = Pass {
                before: None,
                ..*self
            };
            step.fix(level, &words, &only, x, bits);
        }
        true
    }

    /// The record bits of values `32 k..32 k + 32` (`0` without bits).
    #[inline(always)]
    fn bits_at(bits: &[u8], k: usize) -> u32 {
        bits.get(4 * k..4 * k + 4)
            .map_or(0, |b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
    }

    /// [`Pass::group`]'s lanes one value at a time: the flags in `slow` and `only`, their union
    /// returned.
    fn group_scalar(
        &self,
        x: &mut [f32; GROUP],
        words: &[[u32; LANES]; 4],
        bits: &mut [u8],
        slow: &mut [u32; GROUP / 32],
        only: &mut [u32; GROUP / 32],
    ) -> u32 {
        let mut any = 0;
        for (k, ((chunk, flags), fo)) in x
            .chunks_exact_mut(32)
            .zip(slow.iter_mut())
            .zip(only.iter_mut())
            .enumerate()
        {
            // Value 32 k + b of the group is bit b of word k % 4 of block k / 4.
            let word = words[k % 4][k / 4];
            let rb = Self::bits_at(bits, k);
            let (mut f, mut o, mut nb) = (0u32, 0u32, rb);
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
                *v = f32::from_bits(if ok {
                    y
                } else if ok0 {
                    x0
                } else {
                    xb
                });
                if ok {
                    nb = (nb & !(1 << b)) | (nbit << b);
                }
                f |= u32::from(!ok0) << b;
                o |= u32::from(ok0 & !ok) << b;
            }
            if self.after.is_some() {
                bits[4 * k..4 * k + 4].copy_from_slice(&nb.to_le_bytes());
            }
            (*flags, *fo) = (f, o);
            any |= f | o;
        }
        any
    }

    /// The solve for the flagged values, in batches of [`BATCH`] (the old pass's arithmetic,
    /// `z = ±1`).
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
        if slow.iter().all(|&f| f == 0) {
            return;
        }
        let mut batch = Batch {
            idx: [0; BATCH],
            x: [1.0; BATCH],
            z: [1.0; BATCH],
            bit: [0; BATCH],
        };
        let mut n = 0;
        for (k, &f) in slow.iter().enumerate() {
            let word = words[k % 4][k / 4];
            let rb = Self::bits_at(bits, k);
            let mut f = f;
            while f != 0 {
                let b = f.trailing_zeros();
                f &= f - 1;
                let i = 32 * k + b as usize;
                batch.idx[n] = i as u16;
                batch.x[n] = x[i];
                batch.z[n] = if (word >> b) & 1 == 1 { -1.0 } else { 1.0 };
                batch.bit[n] = ((rb >> b) & 1) as u8;
                n += 1;
                if n == BATCH {
                    self.solve(level, &mut batch, n, x, bits);
                    n = 0;
                }
            }
        }
        if n > 0 {
            // The rest of the batch holds a harmless value (1.0, z = 1), computed and dropped.
            batch.x[n..].fill(1.0);
            batch.z[n..].fill(1.0);
            batch.bit[n..].fill(0);
            self.solve(level, &mut batch, n, x, bits);
        }
    }

    /// The step's solve for values gathered by the lanes (at most [`BATCH`]): their indices in
    /// the group and their originals' bits; `self` is a pass without an undoing.
    #[cfg(target_arch = "x86_64")]
    #[cold]
    #[inline(never)]
    fn steps(
        &self,
        level: Level,
        words: &[[u32; LANES]; 4],
        idx: &[u32],
        vals: &[u32],
        x: &mut [f32; GROUP],
        bits: &mut [u8],
    ) {
        debug_assert!(self.before.is_none() && idx.len() <= BATCH && idx.len() == vals.len());
        let mut batch = Batch {
            idx: [0; BATCH],
            x: [1.0; BATCH],
            z: [1.0; BATCH],
            bit: [0; BATCH],
        };
        for (j, (&i, &v)) in idx.iter().zip(vals).enumerate() {
            let (k, b) = (i as usize / 32, i % 32);
            batch.idx[j] = i as u16;
            batch.x[j] = f32::from_bits(v);
            batch.z[j] = if (words[k % 4][k / 4] >> b) & 1 == 1 {
                -1.0
            } else {
                1.0
            };
        }
        self.solve(level, &mut batch, idx.len(), x, bits);
    }

    /// [`solve::apply`] / [`solve::restore`]'s loops on the batch's first `n` rounded up to 8
    /// (all in vectors, no scalar remainder; a group often flags one or two values, and the
    /// solve of a whole batch costs several instructions per value of the group), its first
    /// `n` scattered back.
    fn solve(&self, level: Level, b: &mut Batch, n: usize, x: &mut [f32; GROUP], bits: &mut [u8]) {
        let has_bit = self.has_bit;
        let m = n.next_multiple_of(8).min(BATCH);
        let (cx, z, cb) = (&mut b.x[..m], &b.z[..m], &mut b.bit[..m]);
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
            (None, Some(a)) => {
                // Most of these are small values, whose step is a table lookup and an integer's
                // rounding (`Table::step_small`); the rest take the general solve.
                let t = self.after.as_ref().expect("a step");
                let mut left = [0u8; BATCH];
                simd::dispatch(
                    level,
                    #[inline(always)]
                    || {
                        for (((v, &zi), bit), l) in
                            cx.iter_mut().zip(z).zip(cb.iter_mut()).zip(left.iter_mut())
                        {
                            let (y, nb, ok) = t.step_small(v.to_bits(), zi < 0.0);
                            *v = if ok { f32::from_bits(y) } else { *v };
                            *bit = if ok { nb } else { *bit };
                            *l = u8::from(!ok);
                        }
                    },
                );
                for j in 0..n {
                    if left[j] != 0 {
                        solve::forward(cx[j], a * z[j], &mut cx[j], &mut cb[j]);
                    }
                }
            }
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
        for j in 0..n {
            let i = usize::from(b.idx[j]);
            x[i] = b.x[j];
            if self.after.is_some() {
                let (byte, bit) = (i / 8, i % 8);
                bits[byte] = (bits[byte] & !(1 << bit)) | (b.bit[j] << bit);
            }
        }
    }
}

/// Flagged values per call of the solve's loops.
const BATCH: usize = 32;

/// A batch of flagged values: their indices in the group, values, `z` and record bits.
struct Batch {
    idx: [u16; BATCH],
    x: [f32; BATCH],
    z: [f64; BATCH],
    bit: [u8; BATCH],
}

#[cfg(test)]
mod tests;
