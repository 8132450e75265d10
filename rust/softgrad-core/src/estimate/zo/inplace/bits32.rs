//! The plain Rademacher step of an `f32` array as integer arithmetic on its bits, in 32-bit lanes,
//! with the signs read straight from the Philox words (one block, 128 signs) and no `z` buffer.
//!
//! **Why it is exact.** For `x` in the binade of biased exponent `e` (quantum `q = 2^(e−150)`),
//! [`step`](super::step) adds `r = ±m q` with `m = round(|c| / q)` (ties to even) and rounds
//! `x + r` (exact in `f64`) to `f32`. With `x = ±M q` (`M` the significand with its hidden bit), that
//! is `round_f32(S) · q` for the integer `S = ±M ± m`: `S as f32` is that rounding (to nearest, ties
//! to even, whether the sum stays in the binade, leaves it upwards or goes below), and the product
//! by the power of two `q` is exact while the result is normal, and overflows exactly where the
//! `f64` sum rounds to infinity. `m` depends only on `e`: with `A = |c| / q(e_lo)`, it is
//! `round(A / 2^j)` for `e = e_lo + j`, an integer shift of `4A` (kept with a sticky bit) by `j + 2`
//! with the round bit and the sticky bits (ties to even). `e_lo` is the first binade where
//! `A ≤ 2^28`, so `S` fits an `i32` and `m` is `0` from `j = 29` on.
//!
//! The lanes outside that range (`|x|` below about `|c| / 64`, subnormals, infinities and NaNs)
//! are left as they are and flagged; the caller steps them with the scalar [`step`](super::step).
//! Exact zeros, common in parameter vectors, are stepped in the lanes (`±step(0, |c|)`).

use super::{step, Float};
use crate::rng::{Stream, LANES, RADEMACHER_PER_BLOCK};
use crate::simd::{self, Level};

/// Values per group of [`LANES`] Philox blocks.
pub(super) const GROUP: usize = LANES * RADEMACHER_PER_BLOCK;

// A pass's sub-pieces are whole groups (only the last one of `x` is shorter).
const _: () = assert!(GROUP == crate::par::REDUCE_PIECE);

/// The constants of one pass `x ← x + c z` (`z = ±1`) for the lanes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Shift {
    /// Smallest biased exponent handled in the lanes.
    e_lo: u32,
    /// `4 |c| / q(e_lo)`, truncated, with a sticky bit: `m(e_lo + j)` is its rounded shift by `j + 2`.
    p: u32,
    /// `c < 0`: flips every sign of `z`.
    neg: u32,
    /// `step(±0, c)` and `step(±0, −c)` (the same for both zeros).
    zero: [f32; 2],
    /// `m(e_lo + j)` for `j < 32` (`0` from 29 on): the table the vector kernels look up.
    table: [i32; 32],
    /// `|c| / q(e_lo)` rounded to odd in `f32`: `m(e_lo + j)` is its `2^-j` multiple rounded to
    /// an integer for `j >= 7` (AVX2 computes it rather than blending four lookups).
    a_odd: f32,
}

/// `v > 0` rounded to odd in `f32` (truncated, last bit set if inexact): rounding it again to a
/// precision at least 2 bits coarser gives the bits of rounding `v` directly.
fn round_to_odd(v: f64) -> f32 {
    let t = v as f32;
    let t = if f64::from(t) > v {
        f32::from_bits(t.to_bits() - 1)
    } else {
        t
    };
    if f64::from(t) == v {
        t
    } else {
        f32::from_bits(t.to_bits() | 1)
    }
}

/// `round(p / 2^s)`, ties to even, for `s` in `2..=31` (`p` holds a sticky bit in bit 0).
#[inline(always)]
fn rne_shift(p: u32, s: u32) -> u32 {
    let q = p >> s;
    let round = (p >> (s - 1)) & 1;
    let sticky = u32::from(p & ((1 << (s - 1)) - 1) != 0);
    q + (round & (sticky | (q & 1)))
}

impl Shift {
    /// The constants for coefficient `c`, or `None` where the lanes would not be exact (`c` zero,
    /// subnormal, huge or not finite): the caller then uses the general path.
    pub(super) fn new(c: f64) -> Option<Self> {
        let a = c.abs();
        if !(1e-25..=1e25).contains(&a) {
            return None;
        }
        // q(e) = 2^(e - 150): the first e >= 24 (a normal quantum) with |c| / q(e) <= 2^28.
        let mut e_lo = 24u32;
        while a * 2f64.powi(150 - e_lo as i32) > (1u64 << 28) as f64 {
            e_lo += 1;
        }
        if e_lo > 220 {
            return None;
        }
        let four_a = a * 2f64.powi(152 - e_lo as i32); // exact: a power-of-two scaling
        let p = four_a.floor();
        let p = p as u32 | u32::from(p != four_a);
        let a_odd = round_to_odd(four_a / 4.0);
        let s = Shift {
            e_lo,
            p,
            neg: u32::from(c < 0.0),
            zero: [step(0.0f32, c), step(0.0f32, -c)],
            table: std::array::from_fn(|j| {
                if j < 29 {
                    rne_shift(p, j as u32 + 2) as i32
                } else {
                    0
                }
            }),
            a_odd,
        };
        // The shifts are the scalar snap on every binade of the window (and 0 past it), and zeros
        // of either sign step alike: checked once per pass, so a surprise falls back, never errs.
        for j in 0..=31u32 {
            let e = e_lo + j;
            if e > 254 {
                break;
            }
            let q = f32::from_bits(e << 23).quantum();
            let m = super::snap(a, q, f32::from_bits(e << 23).inv_quantum()) / q;
            let lanes = if j < 29 { rne_shift(p, j + 2) } else { 0 };
            let far = (a_odd * f32::from_bits((127 - j) << 23)).round_ties_even();
            if m != f64::from(lanes) || (j >= 7 && m != f64::from(far)) {
                return None;
            }
        }
        if step(-0.0f32, c).to_bits() != s.zero[0].to_bits()
            || step(-0.0f32, -c).to_bits() != s.zero[1].to_bits()
        {
            return None;
        }
        Some(s)
    }

    /// One value: `x` stepped by `c (−1)^bit` and whether it must be stepped by the scalar code
    /// instead (then `x` is returned unchanged). Branch-free: LLVM vectorizes the loops over it.
    #[inline(always)]
    fn one(self, x: f32, bit: u32) -> (f32, bool) {
        let xb = x.to_bits();
        let e = (xb >> 23) & 0xff;
        // Past the window m is 0: the shift by 31 of p <= 2^30 rounds to 0.
        let j = e.wrapping_sub(self.e_lo).min(29);
        let m = rne_shift(self.p, j + 2) as i32;
        let big = (xb & 0x7f_ffff) as i32 | 0x80_0000;
        let sx = xb >> 31;
        let sz = bit ^ self.neg;
        // S = sx M + sz m = sx (M + sx sz m): negations as xor and subtract of an all-ones mask.
        let flip = -((sx ^ sz) as i32);
        let t = big + ((m ^ flip) - flip);
        let neg_x = -(sx as i32);
        let s = (t ^ neg_x) - neg_x;
        let q = f32::from_bits(e.wrapping_sub(23) << 23);
        let y = (s as f32 * q).to_bits();
        let (z0, z1) = (self.zero[0].to_bits(), self.zero[1].to_bits());
        let zero = xb << 1 == 0;
        let y = if zero {
            if bit != 0 {
                z1
            } else {
                z0
            }
        } else {
            y
        };
        let slow = !zero & ((e < self.e_lo) | (e == 255));
        (f32::from_bits(if slow { xb } else { y }), slow)
    }

    /// Steps `x` (values `start..` of the stream, `start` a multiple of [`GROUP`], `x.len() <=
    /// GROUP`) with the kernel of `level`, then the scalar step where it flags a value.
    pub(super) fn group(&self, level: Level, stream: &Stream, start: u64, x: &mut [f32], c: f64) {
        let words = stream.blocks_at(level, start / RADEMACHER_PER_BLOCK as u64);
        // Bit b of slow[k]: value 32 k + b is flagged.
        let mut slow = [0u32; GROUP / 32];
        let any = match (
            <&mut [f32; GROUP]>::try_from(&mut *x),
            level.min(simd::level()),
        ) {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the level is at most the CPU's.
            (Ok(x), Level::Avx512) => unsafe { x86::group512(self, x, &words, &mut slow) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            (Ok(x), Level::Avx2) => unsafe { x86::group256(self, x, &words, &mut slow) },
            _ => self.group_scalar(x, &words, &mut slow),
        };
        if any != 0 {
            fix(&words, &slow, x, c);
        }
    }

    /// [`Shift::group`]'s lanes one value at a time: the flags in `slow`, their union returned.
    fn group_scalar(&self, x: &mut [f32], words: &[[u32; LANES]; 4], slow: &mut [u32]) -> u32 {
        let mut any = 0;
        for (k, (chunk, flags)) in x.chunks_mut(32).zip(slow.iter_mut()).enumerate() {
            // Value 32 k + b of the group is bit b of word k % 4 of block k / 4.
            let word = words[k % 4][k / 4];
            let mut f = 0u32;
            for (b, v) in (0..32u32).zip(chunk.iter_mut()) {
                let (y, s) = self.one(*v, (word >> b) & 1);
                *v = y;
                f |= u32::from(s) << b;
            }
            *flags = f;
            any |= f;
        }
        any
    }
}

/// The plain step of an `f32` array by `c z` for any `z` (Gaussian), in the same integer form:
/// `m = round(c z / q)` (an `f64` product, scaled by a power of two and rounded: the scalar
/// snap's bits), `round_f32(±M + m) · q`. Lanes where `|c z| / q >= 2^29`, `x` is subnormal,
/// infinite or NaN, or `x = ±0` with `|c z| < 2^-96` are flagged and stepped by the scalar code;
/// zeros otherwise become `round_f32(c z)`, as the scalar step gives.
pub(super) fn gauss_group(level: Level, x: &mut [f32], z: &[f64], c: f64) {
    let mut slow = [0u8; GROUP];
    let slow = &mut slow[..x.len()];
    let any = simd::dispatch(
        level,
        #[inline(always)]
        || {
            let mut any = 0u8;
            for ((v, &zi), f) in x.iter_mut().zip(z).zip(slow.iter_mut()) {
                let (y, s) = gauss_one(*v, c * zi);
                *v = y;
                *f = u8::from(s);
                any |= u8::from(s);
            }
            any
        },
    );
    if any != 0 {
        for ((v, &zi), &f) in x.iter_mut().zip(z).zip(slow.iter()) {
            if f != 0 {
                *v = step(*v, c * zi);
            }
        }
    }
}

/// One value of [`gauss_group`]: `x` stepped by `d` and whether the scalar code must do it
/// instead (then `x` is returned unchanged). Branch-free.
#[inline(always)]
fn gauss_one(x: f32, d: f64) -> (f32, bool) {
    const LIMIT: f64 = (1u64 << 29) as f64;
    let xb = x.to_bits();
    let e = (xb >> 23) & 0xff;
    // 1 / q = 2^(150 - e), a normal f64 for every e.
    let inv = f64::from_bits(u64::from(1173u32.wrapping_sub(e)) << 52);
    let t = d * inv;
    let fits = t.abs() < LIMIT;
    // round(t) ties to even, as an integer without a (saturating, scalarized) cast: adding
    // 1.5 * 2^52 rounds t into the low bits of the sum (exact for |t| < 2^51; garbage, but
    // flagged, past 2^29).
    let m = (t + 6_755_399_441_055_744.0).to_bits() as u32 as i32;
    let big = (xb & 0x7f_ffff) as i32 | 0x80_0000;
    let neg_x = -((xb >> 31) as i32);
    let s = ((big ^ neg_x) - neg_x).wrapping_add(m);
    let q = f32::from_bits(e.wrapping_sub(23) << 23);
    let y = (s as f32 * q).to_bits();
    let zero = xb << 1 == 0;
    let y = if zero { (d as f32).to_bits() } else { y };
    let slow = if zero {
        d.abs() < 2f64.powi(-96) || d.is_nan()
    } else {
        (e < 24) | (e == 255) | !fits
    };
    (f32::from_bits(if slow { xb } else { y }), slow)
}

/// The scalar step for the values the lanes flag (bit `b` of `slow[k]`: value `32 k + b`).
#[cold]
#[inline(never)]
fn fix(words: &[[u32; LANES]; 4], slow: &[u32], x: &mut [f32], c: f64) {
    for (k, &f) in slow.iter().enumerate() {
        let mut f = f;
        while f != 0 {
            let b = f.trailing_zeros() as usize;
            f &= f - 1;
            let neg = (words[k % 4][k / 4] >> b) & 1 == 1;
            let v = &mut x[32 * k + b];
            *v = step(*v, if neg { -c } else { c });
        }
    }
}

/// The kernels of [`Shift::chunk`] in explicit vector code: the table lookup is one permute
/// (AVX-512) or four and three blends (AVX2), which LLVM would make a gather.
#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Shift, GROUP, LANES};
    use std::arch::x86_64::*;

    /// [`Shift::group_scalar`] on a whole group, 16 lanes at a time.
    #[target_feature(enable = "avx512f,avx512dq,avx512bw,avx512vl,avx2,fma,bmi1,bmi2")]
    pub(super) unsafe fn group512(
        s: &Shift,
        x: &mut [f32; GROUP],
        words: &[[u32; LANES]; 4],
        slow: &mut [u32; GROUP / 32],
    ) -> u32 {
        let t = s.table;
        // SAFETY: 16 values from each offset are inside the table.
        let (tlo, thi) = unsafe {
            (
                _mm512_loadu_si512(t.as_ptr().cast()),
                _mm512_loadu_si512(t[16..].as_ptr().cast()),
            )
        };
        let e_lo = _mm512_set1_epi32(s.e_lo as i32);
        let (m23, ff) = (_mm512_set1_epi32(0x7f_ffff), _mm512_set1_epi32(0xff));
        let hidden = _mm512_set1_epi32(0x80_0000);
        let (z0, z1) = (_mm512_set1_ps(s.zero[0]), _mm512_set1_ps(s.zero[1]));
        let neg: u16 = if s.neg != 0 { 0xffff } else { 0 };
        let mut any = 0;
        for (k, flags) in slow.iter_mut().enumerate() {
            let word = words[k % 4][k / 4];
            let mut f = 0u32;
            // The next group's lines, a group ahead: the stream is not left to the hardware
            // prefetcher alone (a prefetch past the array is harmless).
            let ahead = x.as_ptr().wrapping_add(GROUP + 32 * k);
            _mm_prefetch::<_MM_HINT_T0>(ahead.cast());
            _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(16).cast());
            for h in 0..2 {
                let p = x[32 * k + 16 * h..].as_mut_ptr();
                // SAFETY: 16 values from p are inside x.
                let xb = unsafe { _mm512_loadu_si512(p.cast()) };
                let e = _mm512_and_si512(_mm512_srli_epi32::<23>(xb), ff);
                let j = _mm512_min_epu32(_mm512_sub_epi32(e, e_lo), _mm512_set1_epi32(31));
                let m = _mm512_permutex2var_epi32(tlo, j, thi);
                let big = _mm512_ternarylogic_epi32::<0xEA>(xb, m23, hidden); // (x & m23) | hidden
                let sx = _mm512_movepi32_mask(xb);
                let bit = (word >> (16 * h)) as u16;
                let sz = bit ^ neg;
                let t = _mm512_mask_sub_epi32(_mm512_add_epi32(big, m), sx ^ sz, big, m);
                let sv = _mm512_mask_sub_epi32(t, sx, _mm512_setzero_si512(), t);
                let q = _mm512_slli_epi32::<23>(_mm512_sub_epi32(e, _mm512_set1_epi32(23)));
                let y = _mm512_mul_ps(_mm512_cvtepi32_ps(sv), _mm512_castsi512_ps(q));
                let zero = _mm512_testn_epi32_mask(xb, _mm512_set1_epi32(0x7fff_ffff));
                let y = _mm512_mask_blend_ps(zero, y, _mm512_mask_blend_ps(bit, z0, z1));
                let slow =
                    (_mm512_cmplt_epu32_mask(e, e_lo) | _mm512_cmpeq_epi32_mask(e, ff)) & !zero;
                let y = _mm512_mask_blend_ps(slow, y, _mm512_castsi512_ps(xb));
                // SAFETY: as the load.
                unsafe { _mm512_storeu_ps(p, y) };
                f |= u32::from(slow) << (16 * h);
            }
            *flags = f;
            any |= f;
        }
        any
    }

    /// [`Shift::group_scalar`] on a whole group, 8 lanes at a time.
    #[target_feature(enable = "avx2,fma,bmi1,bmi2")]
    pub(super) unsafe fn group256(
        s: &Shift,
        x: &mut [f32; GROUP],
        words: &[[u32; LANES]; 4],
        slow: &mut [u32; GROUP / 32],
    ) -> u32 {
        let t = s.table;
        // SAFETY: 8 values are inside the table.
        let tb = unsafe { _mm256_loadu_si256(t.as_ptr().cast()) };
        let a_odd = _mm256_set1_ps(s.a_odd);
        let (b127, seven) = (_mm256_set1_epi32(127), _mm256_set1_epi32(7));
        let e_lo = _mm256_set1_epi32(s.e_lo as i32);
        let (m23, ff) = (_mm256_set1_epi32(0x7f_ffff), _mm256_set1_epi32(0xff));
        let hidden = _mm256_set1_epi32(0x80_0000);
        let z0 = _mm256_set1_ps(s.zero[0]);
        let z01 = _mm256_castsi256_ps(_mm256_set1_epi32(
            (s.zero[0].to_bits() ^ s.zero[1].to_bits()) as i32,
        ));
        let neg = _mm256_set1_epi32(-(s.neg as i32));
        // Lane l of 8 takes bit l of its byte of the word to the sign bit.
        let up = _mm256_setr_epi32(31, 30, 29, 28, 27, 26, 25, 24);
        let mut any = 0;
        for (k, flags) in slow.iter_mut().enumerate() {
            let word = words[k % 4][k / 4];
            let mut f = 0u32;
            // The next group's lines, a group ahead: the stream is not left to the hardware
            // prefetcher alone (a prefetch past the array is harmless).
            let ahead = x.as_ptr().wrapping_add(GROUP + 32 * k);
            _mm_prefetch::<_MM_HINT_T0>(ahead.cast());
            _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(16).cast());
            for h in 0..4 {
                let p = x[32 * k + 8 * h..].as_mut_ptr();
                // SAFETY: 8 values from p are inside x.
                let xb = unsafe { _mm256_loadu_si256(p.cast()) };
                let e = _mm256_and_si256(_mm256_srli_epi32::<23>(xb), ff);
                let j = _mm256_min_epu32(_mm256_sub_epi32(e, e_lo), _mm256_set1_epi32(31));
                // m: the table for j < 8, else round(A / 2^j) from A rounded to odd in f32
                // (exact: the final rounding is at least 2 bits above A's last kept bit).
                let tab = _mm256_permutevar8x32_epi32(tb, j);
                let pow = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_sub_epi32(b127, j)));
                let far = _mm256_cvtps_epi32(_mm256_mul_ps(a_odd, pow));
                let m = _mm256_castps_si256(_mm256_blendv_ps(
                    _mm256_castsi256_ps(tab),
                    _mm256_castsi256_ps(far),
                    _mm256_castsi256_ps(_mm256_cmpgt_epi32(j, seven)),
                ));
                let big = _mm256_or_si256(_mm256_and_si256(xb, m23), hidden);
                let sx = _mm256_srai_epi32::<31>(xb);
                let bits = _mm256_set1_epi32((word >> (8 * h)) as i32);
                let bit = _mm256_srai_epi32::<31>(_mm256_sllv_epi32(bits, up));
                let sz = _mm256_xor_si256(bit, neg);
                let flip = _mm256_xor_si256(sx, sz);
                let t = _mm256_add_epi32(big, _mm256_sub_epi32(_mm256_xor_si256(m, flip), flip));
                let sv = _mm256_sub_epi32(_mm256_xor_si256(t, sx), sx);
                let q = _mm256_slli_epi32::<23>(_mm256_sub_epi32(e, _mm256_set1_epi32(23)));
                let y = _mm256_mul_ps(_mm256_cvtepi32_ps(sv), _mm256_castsi256_ps(q));
                let zero = _mm256_cmpeq_epi32(
                    _mm256_and_si256(xb, _mm256_set1_epi32(0x7fff_ffff)),
                    _mm256_setzero_si256(),
                );
                let zv = _mm256_xor_ps(z0, _mm256_and_ps(z01, _mm256_castsi256_ps(bit)));
                let y = _mm256_blendv_ps(y, zv, _mm256_castsi256_ps(zero));
                let slow = _mm256_andnot_si256(
                    zero,
                    _mm256_or_si256(_mm256_cmpgt_epi32(e_lo, e), _mm256_cmpeq_epi32(e, ff)),
                );
                let slow = _mm256_castsi256_ps(slow);
                let y = _mm256_blendv_ps(y, _mm256_castsi256_ps(xb), slow);
                // SAFETY: as the load.
                unsafe { _mm256_storeu_ps(p, y) };
                f |= (_mm256_movemask_ps(slow) as u32) << (8 * h);
            }
            *flags = f;
            any |= f;
        }
        any
    }
}

#[cfg(test)]
mod tests;
