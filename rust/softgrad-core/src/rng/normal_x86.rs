//! The normal stream ([`normal`](super::normal)'s definition, the same bits) in explicit 32-bit
//! vector lanes: Philox with one block per lane (the 32 × 32 → 64-bit products as two
//! `pmuludq`, even and odd lanes, recombined by shuffles), then Box–Muller with the same `f32`
//! operations in the same order as [`pair`](super::normal::pair) (no fused operation), and a
//! transpose into value order. A call makes `G` groups of 64 values of 16 consecutive blocks
//! (AVX-512) or of 32 values of 8 (AVX2), interleaved, for a consumer that uses them in registers (the fused step of
//! `estimate::zo::inplace::gauss`) or stores them ([`Stream::fill_normal`](super::Stream)).
//!
//! **Lane order.** After Box–Muller lane `l` holds the four values of its block in four vectors
//! (cosine and sine of the first pair, then of the second). Two rounds of unpacks make vector `j`'s
//! 128-bit part `k` the four values of lane `4k + j` (AVX-512) or `4k + j` of 8 (AVX2); so lane
//! `4k + j` is given block `4j + k` (AVX-512) or `2j + k` (AVX2), and vector `j` holds values
//! `16j..16j + 16` (`8j..8j + 8`) of the call in order, with no cross-lane shuffle.

#![allow(clippy::missing_safety_doc)] // crate-private; the safety contract is in each doc

use std::arch::x86_64::*;

use super::normal::{COS, HALF_SQRT2, Q, SIN, TWO_LN2};
use super::{Stream, M0, M1, W0, W1};
use crate::real::Real;
use crate::simd::{self, Level};

/// Block offset of each lane (module docs): AVX-512.
const PERM512: [u32; 16] = [0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15];
/// Block offset of each lane (module docs): AVX2.
const PERM256: [u32; 8] = [0, 2, 4, 6, 1, 3, 5, 7];

impl Stream {
    /// Philox's round keys of this stream (round `r` uses `keys[r]`), read from memory by the
    /// kernels (an embedded broadcast rather than a shuffle-port broadcast each round).
    pub(crate) fn round_keys(&self) -> [[u32; 2]; 10] {
        let mut k = [self.key; 10];
        for r in 1..10 {
            k[r] = [k[r - 1][0].wrapping_add(W0), k[r - 1][1].wrapping_add(W1)];
        }
        k
    }

    /// The `64 G` normal values of blocks `b0..b0 + 16 G` (`b0` a multiple of 16), in value
    /// order: vector `j` of group `g` holds values `4 b0 + 64 g + 16 j..` (16 of them). Bit for
    /// bit [`Stream::normal32`]. The `G` groups run interleaved (independent chains for the
    /// out-of-order core: one group's Philox and Box–Muller are long dependency chains).
    ///
    /// # Safety
    /// The CPU must have AVX-512 F/DQ/BW/VL.
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq,avx512bw,avx512vl,avx2,fma,bmi1,bmi2")]
    pub(crate) unsafe fn normals512<const G: usize>(
        &self,
        keys: &[[u32; 2]; 10],
        b0: u64,
    ) -> [[__m512; 4]; G] {
        debug_assert!(b0.is_multiple_of(16));
        // SAFETY: 16 values are inside PERM512.
        let perm = unsafe { _mm512_loadu_si512(PERM512.as_ptr().cast()) };
        // b0 is a multiple of 16: adding an offset below 16 carries nothing into the high word.
        let mut x0: [__m512i; G] = std::array::from_fn(|g| {
            let b = b0 + 16 * g as u64;
            _mm512_or_si512(_mm512_set1_epi32(b as i32), perm)
        });
        let mut x1: [__m512i; G] =
            std::array::from_fn(|g| _mm512_set1_epi32(((b0 + 16 * g as u64) >> 32) as i32));
        let mut x2 = [_mm512_set1_epi32(self.stream[0] as i32); G];
        let mut x3 = [_mm512_set1_epi32(self.stream[1] as i32); G];
        let (m0, m1) = (
            _mm512_set1_epi64(i64::from(M0)),
            _mm512_set1_epi64(i64::from(M1)),
        );
        // (high, low) halves of a · m, lane by lane: even lanes' products from `a`, odd lanes'
        // from `a` shifted down; each half moved to its lane by a masked pair swap.
        let mulhilo = |a: __m512i, m: __m512i| {
            let pe = _mm512_mul_epu32(a, m);
            let po = _mm512_mul_epu32(_mm512_srli_epi64::<32>(a), m);
            let hi = _mm512_mask_shuffle_epi32::<_MM_PERM_CDAB>(po, 0x5555, pe);
            let lo = _mm512_mask_shuffle_epi32::<_MM_PERM_CDAB>(pe, 0xAAAA, po);
            (hi, lo)
        };
        for k in keys {
            let (k0, k1) = (
                _mm512_set1_epi32(k[0] as i32),
                _mm512_set1_epi32(k[1] as i32),
            );
            for g in 0..G {
                let (h0, l0) = mulhilo(x0[g], m0);
                let (h1, l1) = mulhilo(x2[g], m1);
                // a ^ b ^ c: ternary logic 0x96.
                x0[g] = _mm512_ternarylogic_epi32::<0x96>(h1, x1[g], k0);
                x1[g] = l1;
                x2[g] = _mm512_ternarylogic_epi32::<0x96>(h0, x3[g], k1);
                x3[g] = l0;
            }
        }
        std::array::from_fn(|g| {
            let r0 = radius512(x0[g]);
            let (c0, s0) = turn512(x1[g]);
            let r1 = radius512(x2[g]);
            let (c1, s1) = turn512(x3[g]);
            let (a, b) = (_mm512_mul_ps(r0, c0), _mm512_mul_ps(r0, s0));
            let (c, d) = (_mm512_mul_ps(r1, c1), _mm512_mul_ps(r1, s1));
            let (t0, t1) = (_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
            let (t2, t3) = (_mm512_unpacklo_ps(c, d), _mm512_unpackhi_ps(c, d));
            let pd = _mm512_castps_pd;
            let ps = _mm512_castpd_ps;
            [
                ps(_mm512_unpacklo_pd(pd(t0), pd(t2))),
                ps(_mm512_unpackhi_pd(pd(t0), pd(t2))),
                ps(_mm512_unpacklo_pd(pd(t1), pd(t3))),
                ps(_mm512_unpackhi_pd(pd(t1), pd(t3))),
            ]
        })
    }

    /// The `32 G` normal values of blocks `b0..b0 + 8 G` (`b0` a multiple of 8), in value order:
    /// vector `j` of group `g` holds values `4 b0 + 32 g + 8 j..` (8 of them). Bit for bit
    /// [`Stream::normal32`]; the groups interleaved as in [`Stream::normals512`].
    ///
    /// # Safety
    /// The CPU must have AVX2 and FMA.
    #[inline]
    #[target_feature(enable = "avx2,fma,bmi1,bmi2")]
    pub(crate) unsafe fn normals256<const G: usize>(
        &self,
        keys: &[[u32; 2]; 10],
        b0: u64,
    ) -> [[__m256; 4]; G] {
        debug_assert!(b0.is_multiple_of(8));
        // SAFETY: 8 values are inside PERM256.
        let perm = unsafe { _mm256_loadu_si256(PERM256.as_ptr().cast()) };
        let mut x0: [__m256i; G] = std::array::from_fn(|g| {
            let b = b0 + 8 * g as u64;
            _mm256_or_si256(_mm256_set1_epi32(b as i32), perm)
        });
        let mut x1: [__m256i; G] =
            std::array::from_fn(|g| _mm256_set1_epi32(((b0 + 8 * g as u64) >> 32) as i32));
        let mut x2 = [_mm256_set1_epi32(self.stream[0] as i32); G];
        let mut x3 = [_mm256_set1_epi32(self.stream[1] as i32); G];
        let (m0, m1) = (
            _mm256_set1_epi64x(i64::from(M0)),
            _mm256_set1_epi64x(i64::from(M1)),
        );
        let mulhilo = |a: __m256i, m: __m256i| {
            let pe = _mm256_mul_epu32(a, m);
            let po = _mm256_mul_epu32(_mm256_srli_epi64::<32>(a), m);
            let hi = _mm256_blend_epi32::<0xAA>(_mm256_srli_epi64::<32>(pe), po);
            let lo = _mm256_blend_epi32::<0xAA>(pe, _mm256_slli_epi64::<32>(po));
            (hi, lo)
        };
        for k in keys {
            let (k0, k1) = (
                _mm256_set1_epi32(k[0] as i32),
                _mm256_set1_epi32(k[1] as i32),
            );
            for g in 0..G {
                let (h0, l0) = mulhilo(x0[g], m0);
                let (h1, l1) = mulhilo(x2[g], m1);
                x0[g] = _mm256_xor_si256(_mm256_xor_si256(h1, x1[g]), k0);
                x1[g] = l1;
                x2[g] = _mm256_xor_si256(_mm256_xor_si256(h0, x3[g]), k1);
                x3[g] = l0;
            }
        }
        std::array::from_fn(|g| {
            let r0 = radius256(x0[g]);
            let (c0, s0) = turn256(x1[g]);
            let r1 = radius256(x2[g]);
            let (c1, s1) = turn256(x3[g]);
            let (a, b) = (_mm256_mul_ps(r0, c0), _mm256_mul_ps(r0, s0));
            let (c, d) = (_mm256_mul_ps(r1, c1), _mm256_mul_ps(r1, s1));
            let (t0, t1) = (_mm256_unpacklo_ps(a, b), _mm256_unpackhi_ps(a, b));
            let (t2, t3) = (_mm256_unpacklo_ps(c, d), _mm256_unpackhi_ps(c, d));
            let pd = _mm256_castps_pd;
            let ps = _mm256_castpd_ps;
            [
                ps(_mm256_unpacklo_pd(pd(t0), pd(t2))),
                ps(_mm256_unpackhi_pd(pd(t0), pd(t2))),
                ps(_mm256_unpacklo_pd(pd(t1), pd(t3))),
                ps(_mm256_unpackhi_pd(pd(t1), pd(t3))),
            ]
        })
    }
}

/// [`radius`](super::normal::radius) on 16 lanes: the same operations in the same order.
#[inline]
#[target_feature(enable = "avx512f,avx512dq,avx512bw,avx512vl,avx2,fma,bmi1,bmi2")]
fn radius512(w: __m512i) -> __m512 {
    let v = _mm512_add_ps(
        _mm512_cvtepi32_ps(_mm512_srli_epi32::<1>(w)),
        _mm512_set1_ps(0.5),
    );
    let h = _mm512_set1_epi32(HALF_SQRT2 as i32);
    let ix = _mm512_sub_epi32(_mm512_castps_si512(v), h);
    let e = _mm512_srai_epi32::<23>(ix);
    let m = _mm512_and_si512(ix, _mm512_set1_epi32(0x7f_ffff));
    let f = _mm512_sub_ps(
        _mm512_castsi512_ps(_mm512_add_epi32(m, h)),
        _mm512_set1_ps(1.0),
    );
    let mut p = _mm512_set1_ps(Q[7]);
    for &c in Q[..7].iter().rev() {
        p = _mm512_add_ps(_mm512_mul_ps(p, f), _mm512_set1_ps(c));
    }
    let k = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_set1_epi32(31), e));
    let t = _mm512_sub_ps(k, _mm512_mul_ps(f, p));
    _mm512_sqrt_ps(_mm512_mul_ps(t, _mm512_set1_ps(TWO_LN2)))
}

/// [`turn`](super::normal::turn) on 16 lanes: the same operations in the same order.
#[inline]
#[target_feature(enable = "avx512f,avx512dq,avx512bw,avx512vl,avx2,fma,bmi1,bmi2")]
fn turn512(w: __m512i) -> (__m512, __m512) {
    let a = _mm512_add_epi32(w, _mm512_set1_epi32(1 << 29));
    let s = _mm512_sub_epi32(
        _mm512_and_si512(a, _mm512_set1_epi32((1 << 30) - 1)),
        _mm512_set1_epi32(1 << 29),
    );
    let odd = _mm512_add_epi32(_mm512_add_epi32(s, s), _mm512_set1_epi32(1));
    let x = _mm512_mul_ps(
        _mm512_cvtepi32_ps(odd),
        _mm512_set1_ps(1.0 / (1u32 << 30) as f32),
    );
    let y = _mm512_mul_ps(x, x);
    let mut ps = _mm512_set1_ps(SIN[3]);
    for &c in SIN[..3].iter().rev() {
        ps = _mm512_add_ps(_mm512_mul_ps(ps, y), _mm512_set1_ps(c));
    }
    let sn = _mm512_mul_ps(x, ps);
    let mut cs = _mm512_set1_ps(COS[4]);
    for &c in COS[..4].iter().rev() {
        cs = _mm512_add_ps(_mm512_mul_ps(cs, y), _mm512_set1_ps(c));
    }
    // q = a >> 30: odd q swaps; the cosine's sign is bit 31 of a ^ (a << 1) (q = 1, 2), the
    // sine's bit 31 of a (q = 2, 3).
    let swap = _mm512_test_epi32_mask(a, _mm512_set1_epi32(1 << 30));
    let c = _mm512_mask_blend_ps(swap, cs, sn);
    let s = _mm512_mask_blend_ps(swap, sn, cs);
    let sign = _mm512_set1_epi32(i32::MIN);
    let csign = _mm512_and_si512(_mm512_xor_si512(a, _mm512_slli_epi32::<1>(a)), sign);
    let ssign = _mm512_and_si512(a, sign);
    (
        _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(c), csign)),
        _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(s), ssign)),
    )
}

/// [`radius`](super::normal::radius) on 8 lanes: the same operations in the same order.
#[inline]
#[target_feature(enable = "avx2,fma,bmi1,bmi2")]
fn radius256(w: __m256i) -> __m256 {
    let v = _mm256_add_ps(
        _mm256_cvtepi32_ps(_mm256_srli_epi32::<1>(w)),
        _mm256_set1_ps(0.5),
    );
    let h = _mm256_set1_epi32(HALF_SQRT2 as i32);
    let ix = _mm256_sub_epi32(_mm256_castps_si256(v), h);
    let e = _mm256_srai_epi32::<23>(ix);
    let m = _mm256_and_si256(ix, _mm256_set1_epi32(0x7f_ffff));
    let f = _mm256_sub_ps(
        _mm256_castsi256_ps(_mm256_add_epi32(m, h)),
        _mm256_set1_ps(1.0),
    );
    let mut p = _mm256_set1_ps(Q[7]);
    for &c in Q[..7].iter().rev() {
        p = _mm256_add_ps(_mm256_mul_ps(p, f), _mm256_set1_ps(c));
    }
    let k = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_set1_epi32(31), e));
    let t = _mm256_sub_ps(k, _mm256_mul_ps(f, p));
    _mm256_sqrt_ps(_mm256_mul_ps(t, _mm256_set1_ps(TWO_LN2)))
}

/// [`turn`](super::normal::turn) on 8 lanes: the same operations in the same order.
#[inline]
#[target_feature(enable = "avx2,fma,bmi1,bmi2")]
fn turn256(w: __m256i) -> (__m256, __m256) {
    let a = _mm256_add_epi32(w, _mm256_set1_epi32(1 << 29));
    let s = _mm256_sub_epi32(
        _mm256_and_si256(a, _mm256_set1_epi32((1 << 30) - 1)),
        _mm256_set1_epi32(1 << 29),
    );
    let odd = _mm256_add_epi32(_mm256_add_epi32(s, s), _mm256_set1_epi32(1));
    let x = _mm256_mul_ps(
        _mm256_cvtepi32_ps(odd),
        _mm256_set1_ps(1.0 / (1u32 << 30) as f32),
    );
    let y = _mm256_mul_ps(x, x);
    let mut ps = _mm256_set1_ps(SIN[3]);
    for &c in SIN[..3].iter().rev() {
        ps = _mm256_add_ps(_mm256_mul_ps(ps, y), _mm256_set1_ps(c));
    }
    let sn = _mm256_mul_ps(x, ps);
    let mut cs = _mm256_set1_ps(COS[4]);
    for &c in COS[..4].iter().rev() {
        cs = _mm256_add_ps(_mm256_mul_ps(cs, y), _mm256_set1_ps(c));
    }
    // As turn512; the swap mask is bit 30 of a moved to the sign bit (blendv reads it).
    let swap = _mm256_castsi256_ps(_mm256_slli_epi32::<1>(a));
    let c = _mm256_blendv_ps(cs, sn, swap);
    let s = _mm256_blendv_ps(sn, cs, swap);
    let sign = _mm256_set1_epi32(i32::MIN);
    let csign = _mm256_and_si256(_mm256_xor_si256(a, _mm256_slli_epi32::<1>(a)), sign);
    let ssign = _mm256_and_si256(a, sign);
    (
        _mm256_castsi256_ps(_mm256_xor_si256(_mm256_castps_si256(c), csign)),
        _mm256_castsi256_ps(_mm256_xor_si256(_mm256_castps_si256(s), ssign)),
    )
}

impl Stream {
    /// [`Stream::fill_normal_at`]'s vector part: the values before the first whole group of the
    /// level's kernel ([`Stream::normal_body`], dispatched), then the whole groups; returns the
    /// rest `(start, out)` for the caller, or `None` where the level has no kernel here.
    pub(super) fn fill_normal_x86<'a, T: Real>(
        &self,
        level: Level,
        start: u64,
        out: &'a mut [T],
    ) -> Option<(u64, &'a mut [T])> {
        let group: u64 = match level.min(simd::level()) {
            Level::Avx512 => 128,
            Level::Avx2 => 64,
            Level::Scalar => return None,
        };
        // (no `next_multiple_of`: it overflows for a start in the last group of the index range)
        let head = ((group - start % group) % group).min(out.len() as u64) as usize;
        let (first, rest) = out.split_at_mut(head);
        simd::dispatch(
            level,
            #[inline(always)]
            || self.normal_body(start, first),
        );
        let whole = rest.len() / group as usize * group as usize;
        let (mid, tail) = rest.split_at_mut(whole);
        let at = start.wrapping_add(head as u64); // wraps only at the end of the index range
        match group {
            // SAFETY: the level is at most the CPU's.
            128 => unsafe { self.fill512(at / 4, mid) },
            // SAFETY: as above.
            _ => unsafe { self.fill256(at / 4, mid) },
        }
        Some((at.wrapping_add(whole as u64), tail))
    }

    /// Values `4 b0..4 b0 + out.len()` (a multiple of 128; `b0` of 32) by [`Stream::normals512`].
    ///
    /// # Safety
    /// The CPU must have AVX-512 F/DQ/BW/VL.
    #[target_feature(enable = "avx512f,avx512dq,avx512bw,avx512vl,avx2,fma,bmi1,bmi2")]
    unsafe fn fill512<T: Real>(&self, b0: u64, out: &mut [T]) {
        let keys = self.round_keys();
        let mut buf = [0.0f32; 128];
        for (k, chunk) in out.chunks_exact_mut(128).enumerate() {
            // SAFETY: the caller's CPU check.
            let v = unsafe { self.normals512::<2>(&keys, b0 + 32 * k as u64) };
            for (j, vj) in v.into_iter().flatten().enumerate() {
                // SAFETY: 16 values from 16 j are inside buf.
                unsafe { _mm512_storeu_ps(buf[16 * j..].as_mut_ptr(), vj) };
            }
            for (o, &z) in chunk.iter_mut().zip(&buf) {
                *o = T::from_f64(f64::from(z));
            }
        }
    }

    /// Values `4 b0..4 b0 + out.len()` (a multiple of 64; `b0` of 16) by [`Stream::normals256`].
    ///
    /// # Safety
    /// The CPU must have AVX2 and FMA.
    #[target_feature(enable = "avx2,fma,bmi1,bmi2")]
    unsafe fn fill256<T: Real>(&self, b0: u64, out: &mut [T]) {
        let keys = self.round_keys();
        let mut buf = [0.0f32; 64];
        for (k, chunk) in out.chunks_exact_mut(64).enumerate() {
            // SAFETY: the caller's CPU check.
            let v = unsafe { self.normals256::<2>(&keys, b0 + 16 * k as u64) };
            for (j, vj) in v.into_iter().flatten().enumerate() {
                // SAFETY: 8 values from 8 j are inside buf.
                unsafe { _mm256_storeu_ps(buf[8 * j..].as_mut_ptr(), vj) };
            }
            for (o, &z) in chunk.iter_mut().zip(&buf) {
                *o = T::from_f64(f64::from(z));
            }
        }
    }
}
