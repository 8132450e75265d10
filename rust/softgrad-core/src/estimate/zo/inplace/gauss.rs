//! The plain (unrecorded) Gaussian step of an `f32` array with the normals made inside the step
//! loop: 64 values at a time (16 Philox blocks in 32-bit lanes, `rng/normal_x86.rs`) kept in
//! registers and applied at once, with no `z` buffer and no second pass over one.
//!
//! The step is [`gauss_group`](super::bits32::gauss_group)'s integer form, lane for lane: `d = c z`
//! (an `f64` product), `m = round(d / q)` (ties to even), `round_f32(±M + m) · q`; a zero becomes
//! `round_f32(d)`. Lanes it cannot do exactly (`|d| / q >= 2^29`, `x` subnormal, infinite or NaN,
//! or `x = ±0` with `|round_f32(d)| <= 2^-96` or NaN: a superset of `gauss_group`'s) are left and
//! stepped by the scalar [`step`](super::step). So the result is `gauss_group`'s, bit for bit, at
//! every level (tested), and the values of `z` are [`Stream::normal32`]'s.

use super::{bits32, step};
use crate::par::REDUCE_PIECE;
use crate::rng::Stream;
use crate::simd::{self, Level};

/// Values per iteration of the kernels: two groups of 16 Philox blocks, generated interleaved
/// (AVX-512; AVX2 runs two groups of 8 at a time). Two independent chains cut the time per value
/// by a third against one (1.70 -> 1.17 ns of CPU at AVX-512, 2.47 -> 1.76 at AVX2); four gave
/// no more (1.29).
const CHUNK: usize = 128;

/// `x ← step(x, c z)` for the values `start..start + x.len()` of the normal stream `stream`
/// (`start` a multiple of [`CHUNK`], `x.len() <=` [`REDUCE_PIECE`]), with the kernel of `level`.
pub(super) fn plain(level: Level, stream: &Stream, start: u64, x: &mut [f32], c: f64) {
    debug_assert!(start.is_multiple_of(CHUNK as u64) && x.len() <= REDUCE_PIECE);
    let whole = match level.min(simd::level()) {
        Level::Scalar => 0,
        _ => x.len() / CHUNK * CHUNK,
    };
    let (mid, tail) = x.split_at_mut(whole);
    #[cfg(target_arch = "x86_64")]
    match level.min(simd::level()) {
        // SAFETY: the level is at most the CPU's.
        Level::Avx512 => unsafe { x86::plain512(stream, start / 4, mid, c) },
        // SAFETY: as above.
        Level::Avx2 => unsafe { x86::plain256(stream, start / 4, mid, c) },
        Level::Scalar => {}
    }
    if !tail.is_empty() {
        let mut z = [0.0f64; REDUCE_PIECE];
        let z = &mut z[..tail.len()];
        stream.fill_normal_at(level, start + whole as u64, z);
        bits32::gauss_group(level, tail, z, c);
    }
}

/// The scalar step of the lanes a kernel flags: bit `b` of `slow` is value `b` of `x` and `z`.
#[cold]
#[inline(never)]
fn fix(x: &mut [f32], z: &[f32], c: f64, slow: u64) {
    let mut f = slow;
    while f != 0 {
        let b = f.trailing_zeros() as usize;
        f &= f - 1;
        x[b] = step(x[b], c * f64::from(z[b]));
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{fix, CHUNK};
    use crate::rng::Stream;
    use std::arch::x86_64::*;

    /// `2^29`: `|d| / q` below it keeps `±M + m` inside an `i32` exactly.
    const LIMIT: f64 = (1u64 << 29) as f64;
    /// `1.5 · 2^52`: adding it rounds `|t| < 2^51` to an integer (ties to even) in the low bits.
    const MAGIC: f64 = 6_755_399_441_055_744.0;
    /// Below this `|round_f32(d)|` a zero is left to the scalar step (`gauss_group`: `2^-96`).
    const TINY: f32 = f32::from_bits((127 - 96) << 23);

    /// Values `4 b0..` (`b0` a multiple of 32, `x.len()` of [`CHUNK`]), 16 lanes at a time.
    ///
    /// # Safety
    /// The CPU must have AVX-512 F/DQ/BW/VL.
    #[target_feature(enable = "avx512f,avx512dq,avx512bw,avx512vl,avx2,fma,bmi1,bmi2")]
    #[allow(clippy::needless_range_loop)] // index loops on purpose (the comment below)
    pub(super) unsafe fn plain512(stream: &Stream, b0: u64, x: &mut [f32], c: f64) {
        let keys = stream.round_keys();
        // Plain index loops over a raw pointer: no iterator adaptor call (with its spill of the
        // normals and a `vzeroupper`) where a build does not inline one.
        let p0 = x.as_mut_ptr();
        for k in 0..x.len() / CHUNK {
            // SAFETY: the caller's CPU check.
            let z = unsafe { stream.normals512::<2>(&keys, b0 + 32 * k as u64) };
            let chunk = p0.wrapping_add(CHUNK * k);
            // The lines 2 KiB ahead (a prefetch past the array is harmless).
            for h in 0..CHUNK / 16 {
                _mm_prefetch::<_MM_HINT_T0>(chunk.wrapping_add(512 + 16 * h).cast());
            }
            for g in 0..2 {
                let group = chunk.wrapping_add(64 * g);
                let mut slow = 0u64;
                for j in 0..4 {
                    // SAFETY: 16 values from 64 g + 16 j are inside the chunk, inside x.
                    let f = unsafe { step512(group.wrapping_add(16 * j), z[g][j], c) };
                    slow |= u64::from(f) << (16 * j);
                }
                if slow != 0 {
                    let mut zs = [0.0f32; 64];
                    for j in 0..4 {
                        // SAFETY: 16 values from 16 j are inside zs.
                        unsafe { _mm512_storeu_ps(zs.as_mut_ptr().wrapping_add(16 * j), z[g][j]) };
                    }
                    // SAFETY: the group's 64 values are inside x; no other reference to x lives.
                    fix(
                        unsafe { std::slice::from_raw_parts_mut(group, 64) },
                        &zs,
                        c,
                        slow,
                    );
                }
            }
        }
    }

    /// The step of the 16 values at `p` by `c z`; the lanes left to the scalar step flagged.
    ///
    /// # Safety
    /// The CPU must have AVX-512 F/DQ/BW/VL; 16 values from `p` must be valid to read and write.
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq,avx512bw,avx512vl,avx2,fma,bmi1,bmi2")]
    unsafe fn step512(p: *mut f32, z: __m512, c: f64) -> u16 {
        let cv = _mm512_set1_pd(c);
        let ff = _mm512_set1_epi32(0xff);
        // SAFETY: the caller's.
        let xb = unsafe { _mm512_loadu_si512(p.cast()) };
        let e = _mm512_and_si512(_mm512_srli_epi32::<23>(xb), ff);
        let d_lo = _mm512_mul_pd(cv, _mm512_cvtps_pd(_mm512_castps512_ps256(z)));
        let d_hi = _mm512_mul_pd(cv, _mm512_cvtps_pd(_mm512_extractf32x8_ps::<1>(z)));
        // 1 / q = 2^(150 - e): the f64 exponent field 1173 - e.
        let inv = _mm512_sub_epi32(_mm512_set1_epi32(1173), e);
        let inv_lo = _mm512_cvtepu32_epi64(_mm512_castsi512_si256(inv));
        let inv_hi = _mm512_cvtepu32_epi64(_mm512_extracti64x4_epi64::<1>(inv));
        let t_lo = _mm512_mul_pd(d_lo, _mm512_castsi512_pd(_mm512_slli_epi64::<52>(inv_lo)));
        let t_hi = _mm512_mul_pd(d_hi, _mm512_castsi512_pd(_mm512_slli_epi64::<52>(inv_hi)));
        let limit = _mm512_set1_pd(LIMIT);
        let fits_lo = _mm512_cmp_pd_mask::<_CMP_LT_OQ>(_mm512_abs_pd(t_lo), limit);
        let fits_hi = _mm512_cmp_pd_mask::<_CMP_LT_OQ>(_mm512_abs_pd(t_hi), limit);
        let fits = u16::from(fits_lo) | (u16::from(fits_hi) << 8);
        // The low words of the 16 f64 lanes: the rounded integers.
        let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        let magic = _mm512_set1_pd(MAGIC);
        let m = _mm512_permutex2var_epi32(
            _mm512_castpd_si512(_mm512_add_pd(t_lo, magic)),
            even,
            _mm512_castpd_si512(_mm512_add_pd(t_hi, magic)),
        );
        // (x & m23) | hidden, negated where x is.
        let big = _mm512_ternarylogic_epi32::<0xEA>(
            xb,
            _mm512_set1_epi32(0x7f_ffff),
            _mm512_set1_epi32(0x80_0000),
        );
        let sx = _mm512_movepi32_mask(xb);
        let sv = _mm512_mask_sub_epi32(big, sx, _mm512_setzero_si512(), big);
        let s = _mm512_add_epi32(sv, m);
        let q = _mm512_slli_epi32::<23>(_mm512_sub_epi32(e, _mm512_set1_epi32(23)));
        let y = _mm512_mul_ps(_mm512_cvtepi32_ps(s), _mm512_castsi512_ps(q));
        let zero = _mm512_testn_epi32_mask(xb, _mm512_set1_epi32(0x7fff_ffff));
        let bad = _mm512_cmplt_epu32_mask(e, _mm512_set1_epi32(24))
            | _mm512_cmpeq_epi32_mask(e, ff)
            | !fits;
        let mut flag = bad & !zero;
        let mut y = y;
        if zero != 0 {
            // Zeros (rare but for whole zero arrays): round_f32(d), or the scalar step.
            let dz = _mm512_insertf32x8::<1>(
                _mm512_castps256_ps512(_mm512_cvtpd_ps(d_lo)),
                _mm512_cvtpd_ps(d_hi),
            );
            let small = _mm512_cmp_ps_mask::<_CMP_NGT_UQ>(_mm512_abs_ps(dz), _mm512_set1_ps(TINY));
            let ok = zero & !small;
            y = _mm512_mask_blend_ps(ok, y, dz);
            flag |= zero & small;
        }
        // Flagged lanes are left as they are.
        let y = _mm512_mask_blend_ps(flag, y, _mm512_castsi512_ps(xb));
        // SAFETY: as the load.
        unsafe { _mm512_storeu_ps(p, y) };
        flag
    }

    /// Values `4 b0..` (`b0` a multiple of 16, `x.len()` of 64), 8 lanes at a time.
    ///
    /// # Safety
    /// The CPU must have AVX2 and FMA.
    #[target_feature(enable = "avx2,fma,bmi1,bmi2")]
    #[allow(clippy::needless_range_loop)] // index loops on purpose (see plain512)
    pub(super) unsafe fn plain256(stream: &Stream, b0: u64, x: &mut [f32], c: f64) {
        let keys = stream.round_keys();
        let p0 = x.as_mut_ptr();
        for k in 0..x.len() / 64 {
            // SAFETY: the caller's CPU check.
            let z = unsafe { stream.normals256::<2>(&keys, b0 + 16 * k as u64) };
            let chunk = p0.wrapping_add(64 * k);
            for h in 0..4 {
                _mm_prefetch::<_MM_HINT_T0>(chunk.wrapping_add(512 + 16 * h).cast());
            }
            let mut slow = 0u64;
            for g in 0..2 {
                for j in 0..4 {
                    let at = 32 * g + 8 * j;
                    // SAFETY: 8 values from `at` are inside the chunk, inside x.
                    let f = unsafe { step256(chunk.wrapping_add(at), z[g][j], c) };
                    slow |= u64::from(f) << at;
                }
            }
            if slow != 0 {
                let mut zs = [0.0f32; 64];
                for g in 0..2 {
                    for j in 0..4 {
                        let at = 32 * g + 8 * j;
                        // SAFETY: 8 values from `at` are inside zs.
                        unsafe { _mm256_storeu_ps(zs.as_mut_ptr().wrapping_add(at), z[g][j]) };
                    }
                }
                // SAFETY: the chunk's 64 values are inside x; no other reference to x lives.
                fix(
                    unsafe { std::slice::from_raw_parts_mut(chunk, 64) },
                    &zs,
                    c,
                    slow,
                );
            }
        }
    }

    /// The step of the 8 values at `p` by `c z`; the lanes left to the scalar step flagged.
    ///
    /// # Safety
    /// The CPU must have AVX2 and FMA; 8 values from `p` must be valid to read and write.
    #[inline]
    #[target_feature(enable = "avx2,fma,bmi1,bmi2")]
    unsafe fn step256(p: *mut f32, z: __m256, c: f64) -> u8 {
        let cv = _mm256_set1_pd(c);
        let ff = _mm256_set1_epi32(0xff);
        // SAFETY: the caller's.
        let xb = unsafe { _mm256_loadu_si256(p.cast()) };
        let e = _mm256_and_si256(_mm256_srli_epi32::<23>(xb), ff);
        let d_lo = _mm256_mul_pd(cv, _mm256_cvtps_pd(_mm256_castps256_ps128(z)));
        let d_hi = _mm256_mul_pd(cv, _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(z)));
        let inv = _mm256_sub_epi32(_mm256_set1_epi32(1173), e);
        let inv_lo = _mm256_cvtepu32_epi64(_mm256_castsi256_si128(inv));
        let inv_hi = _mm256_cvtepu32_epi64(_mm256_extracti128_si256::<1>(inv));
        let t_lo = _mm256_mul_pd(d_lo, _mm256_castsi256_pd(_mm256_slli_epi64::<52>(inv_lo)));
        let t_hi = _mm256_mul_pd(d_hi, _mm256_castsi256_pd(_mm256_slli_epi64::<52>(inv_hi)));
        let abs64 = _mm256_castsi256_pd(_mm256_set1_epi64x(i64::MAX));
        let limit = _mm256_set1_pd(LIMIT);
        let fit_lo = _mm256_cmp_pd::<_CMP_LT_OQ>(_mm256_and_pd(t_lo, abs64), limit);
        let fit_hi = _mm256_cmp_pd::<_CMP_LT_OQ>(_mm256_and_pd(t_hi, abs64), limit);
        // The low words of four 64-bit lanes, then the two halves joined.
        let even = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
        let pack = |v: __m256d| {
            let w = _mm256_permutevar8x32_epi32(_mm256_castpd_si256(v), even);
            _mm256_castsi256_si128(w)
        };
        let magic = _mm256_set1_pd(MAGIC);
        let m = _mm256_set_m128i(
            pack(_mm256_add_pd(t_hi, magic)),
            pack(_mm256_add_pd(t_lo, magic)),
        );
        let fits = _mm256_set_m128i(pack(fit_hi), pack(fit_lo));
        let big = _mm256_or_si256(
            _mm256_and_si256(xb, _mm256_set1_epi32(0x7f_ffff)),
            _mm256_set1_epi32(0x80_0000),
        );
        let sx = _mm256_srai_epi32::<31>(xb);
        let sv = _mm256_sub_epi32(_mm256_xor_si256(big, sx), sx);
        let s = _mm256_add_epi32(sv, m);
        let q = _mm256_slli_epi32::<23>(_mm256_sub_epi32(e, _mm256_set1_epi32(23)));
        let y = _mm256_mul_ps(_mm256_cvtepi32_ps(s), _mm256_castsi256_ps(q));
        let zero = _mm256_cmpeq_epi32(
            _mm256_and_si256(xb, _mm256_set1_epi32(0x7fff_ffff)),
            _mm256_setzero_si256(),
        );
        // e < 24 (a signed compare: e <= 255), e = 255, or not fitting; zeros apart.
        let bad = _mm256_or_si256(
            _mm256_or_si256(
                _mm256_cmpgt_epi32(_mm256_set1_epi32(24), e),
                _mm256_cmpeq_epi32(e, ff),
            ),
            _mm256_xor_si256(fits, _mm256_set1_epi32(-1)),
        );
        let mut flag = _mm256_castsi256_ps(_mm256_andnot_si256(zero, bad));
        let mut y = y;
        let zero = _mm256_castsi256_ps(zero);
        if _mm256_movemask_ps(zero) != 0 {
            // Zeros: round_f32(d), or the scalar step.
            let dz = _mm256_set_m128(_mm256_cvtpd_ps(d_hi), _mm256_cvtpd_ps(d_lo));
            let abs32 = _mm256_castsi256_ps(_mm256_set1_epi32(i32::MAX));
            let small =
                _mm256_cmp_ps::<_CMP_NGT_UQ>(_mm256_and_ps(dz, abs32), _mm256_set1_ps(TINY));
            y = _mm256_blendv_ps(y, dz, _mm256_andnot_ps(small, zero));
            flag = _mm256_or_ps(flag, _mm256_and_ps(small, zero));
        }
        // Flagged lanes are left as they are.
        let y = _mm256_blendv_ps(y, _mm256_castsi256_ps(xb), flag);
        // SAFETY: as the load.
        unsafe { _mm256_storeu_ps(p, y) };
        _mm256_movemask_ps(flag) as u8
    }
}

#[cfg(test)]
pub(super) mod tests;
