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
use super::lanes::{inv_q, rne, HIDDEN, MARGIN, M_MAX, S_MIN};
use super::{solve, step_r};
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
    /// The bits of `2^⌊log₂|C|⌋` as `f32`: an undoing whose `|c₀|` lies below is in the small
    /// region ([`undo_one`](super::undo_one)).
    small: u32,
    /// The bits of the step of `0` by `C` and by `−C` (the small region's `0`).
    y0: [u32; 2],
}

/// The binades below `C`'s that [`Table::step_small`] takes.
const J_MAX: usize = 24;

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
        let small = (((c.to_bits() >> 52) & 0x7ff) as u32 + 127 - 1023) << 23;
        let y0 = [step_r(0.0f32, c).to_bits(), step_r(0.0f32, -c).to_bits()];
        (m[25..].iter().all(|&v| v == 0)).then_some(Table {
            lo,
            m,
            c,
            small,
            y0,
        })
    }

    /// A table whose lanes are not used (a pass without an undoing or without a step).
    #[cfg(target_arch = "x86_64")]
    fn unused() -> Self {
        Table {
            lo: 26,
            m: [0; 32],
            c: 1.0,
            small: 0,
            y0: [0; 2],
        }
    }

    /// The recorded step of a small `x⁰` (bits `xb`; `|x⁰| < 2^⌊log₂|C|⌋`, `j` binades below
    /// `C`'s, `1 ≤ j ≤` [`J_MAX`]) by `d = C (−1)^zbit`, as [`step_r`] and the solve's bit make
    /// it: `(y bits, bit, ok)`; not `ok` (another value): the solve's.
    ///
    /// With `x⁰ = ±M q` (`q = 2^(e − 150)`), `step_r` adds the snap `±m q`, `m = round(|C| / q)`
    /// (an integer below `2⁵¹`, exact in `f64`), so the sum is `σ N q` with
    /// the integer `N = m ± M` (`+` where `x⁰` has `d`'s sign), exact in `f64`, and `σ` the sign
    /// of `d` (`N > 0`: `M q < 2^⌊log₂|C|⌋ ≤ |C|`). Its rounding to `f32` (ties toward zero)
    /// is `N`'s, scaled by `q` (a power of two; checked to leave the result normal). The
    /// neighbours `x⁰ ± q` (in the binade: `M` is not at its edge) sum to `N ± 1` in the order
    /// of their values along `σ`, so the bit (`x⁰` the farther one, along `y`'s sign, of two or
    /// more that end together with no next one) is whether `N − 1` rounds with `N` and `N + 1`
    /// does not.
    #[inline(always)]
    fn step_small(&self, xb: u32, zbit: bool) -> (u32, u8, bool) {
        let e = (xb >> 23) & 0xff;
        let mant = xb & 0x7f_ffff;
        let j = (self.small >> 23).wrapping_sub(e);
        let fits = j.wrapping_sub(1) < J_MAX as u32;
        // m = round(|C| / q) as the snap rounds it (by 2^52, ties to even), an integer below 2^51
        // for j <= J_MAX.
        let m = {
            const SHIFTER: f64 = 4_503_599_627_370_496.0;
            let t = self.c.abs() * inv_q(e);
            (t + SHIFTER) - SHIFTER
        };
        let neg_d = (self.c < 0.0) != zbit;
        let same = (xb >> 31 == 1) == neg_d;
        let big = f64::from(mant | HIDDEN as u32);
        let n = if same { m + big } else { m - big };
        // Ties toward zero on a positive integer: down where RNE went up by exactly half a gap.
        let tz = |v: f64| {
            let r = v as f32;
            let low = f32::from_bits(r.to_bits().wrapping_sub(1));
            let (rf, lf) = (f64::from(r), f64::from(low));
            let tie = (rf > v) & (rf - v == 0.5 * (rf - lf));
            if tie {
                low
            } else {
                r
            }
        };
        let (r, rd, ru) = (tz(n), tz(n - 1.0), tz(n + 1.0));
        let bit = u8::from((rd == r) & (ru != r));
        let scale = (e as i32 - 150) << 23;
        let y = (r.to_bits() as i32).wrapping_add(scale) as u32 | (u32::from(neg_d) << 31);
        // The scaling by q keeps the result normal (N below 2^24: the sum is exact, finer).
        let ok = fits
            & (e >= 1)
            & (mant.wrapping_sub(1) < 0x7f_fffe)
            & (n >= 2.0)
            & ((r.to_bits() >> 23) + e > 150);
        (y, bit, ok)
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
    // Across zero (S < 0): the sign of d (module documentation).
    let sy = sx ^ u32::from(s < 0);
    let y = (r.unsigned_abs() as f32 * q).to_bits() | (sy << 31);
    let bit = u32::from(up) & (s & 1) as u32;
    (
        y,
        bit,
        t.window(e) & inside(mant) & (s.unsigned_abs() >= S_MIN as u32),
    )
}

/// [`lanes::undo`](super::lanes::undo) of `y` (bits `yb`) by `d = C (−1)^zbit`, with `c₀` in `f32`
/// (module documentation): `(x⁰ bits, ok)`.
#[inline(always)]
fn undo(t: &Table, yb: u32, zbit: u32, bit: u32, has_bit: bool) -> (u32, bool) {
    // c0 within a float of y - d, in f32 (module documentation).
    let c32 = t.c as f32;
    let d = if zbit != 0 { -c32 } else { c32 };
    let cb = (f32::from_bits(yb) - d).to_bits();
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
    let x0 = (cb & 0xff80_0000) | (mm as u32 & 0x7f_ffff);
    // The small region: `0` if it steps to `y`, else `c₀` (in `f32`, as here).
    let sm = cb & 0x7fff_ffff < t.small;
    let r0 = if yb == t.y0[zbit as usize] { 0 } else { cb };
    (if sm { r0 } else { x0 }, ok | sm)
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
        // Bit b of slow[k]: value 32 k + b is flagged for the whole solve; of only[k]: its
        // undoing was done in the lanes (x holds the original) and only the step is left (the
        // AVX-512 lanes solve those themselves).
        let mut slow = [0u32; GROUP / 32];
        let mut only = [0u32; GROUP / 32];
        let any = match level.min(simd::level()) {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the level is at most the CPU's.
            Level::Avx512 => unsafe { x86::group512(self, x, &words, bits, &mut slow) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            Level::Avx2 => unsafe { x86::group256(self, x, &words, bits, &mut slow, &mut only) },
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

    /// [`solve::apply`] / [`solve::restore`]'s loops on a whole batch (a fixed trip count: all
    /// in vectors, no scalar remainder), its first `n` scattered back.
    fn solve(&self, level: Level, b: &mut Batch, n: usize, x: &mut [f32; GROUP], bits: &mut [u8]) {
        let has_bit = self.has_bit;
        let (cx, z, cb) = (&mut b.x, &b.z, &mut b.bit);
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
