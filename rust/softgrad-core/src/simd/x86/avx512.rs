//! AVX-512: one 512-bit register per vector, masked tails (see the parent module for the safety
//! argument).

use std::arch::x86_64::*;

use super::*;

/// Lanes `0..n` of an eight-lane mask.
#[inline(always)]
fn mask8(n: usize) -> __mmask8 {
    (0xffu16 >> (8 - n.min(8))) as u8
}

impl F64x for Z {
    type M = __mmask8;
    #[inline(always)]
    fn splat(v: f64) -> Self {
        made_at(super::super::Level::Avx512);
        // SAFETY: AVX-512F is available (module note).
        unsafe { Z(_mm512_set1_pd(v)) }
    }
    #[inline(always)]
    fn load<T: Real>(s: &[T]) -> Self {
        made_at(super::super::Level::Avx512);
        let s = &s[..W];
        let p = s.as_ptr();
        // SAFETY: AVX-512F is available (module note); `s` holds W elements of the type read.
        unsafe {
            match elem::<T>() {
                Elem::F64 => Z(_mm512_loadu_pd(p.cast())),
                Elem::F32 => Z(_mm512_cvtps_pd(_mm256_loadu_ps(p.cast()))),
                Elem::Other => Z(_mm512_loadu_pd(Arr::load(s).0.as_ptr())),
            }
        }
    }
    #[inline(always)]
    fn load_partial<T: Real>(s: &[T], pad: f64) -> Self {
        made_at(super::super::Level::Avx512);
        let s = &s[..s.len().min(W)];
        let (p, k) = (s.as_ptr(), mask8(s.len()));
        // SAFETY: AVX-512F/VL are available (module note); only the first `s.len()` lanes are
        // selected, so nothing past `s` is read.
        unsafe {
            let pad = _mm512_set1_pd(pad);
            match elem::<T>() {
                Elem::F64 => Z(_mm512_mask_loadu_pd(pad, k, p.cast())),
                Elem::F32 => Z(_mm512_mask_blend_pd(
                    k,
                    pad,
                    _mm512_cvtps_pd(_mm256_maskz_loadu_ps(k, p.cast())),
                )),
                Elem::Other => {
                    Z(_mm512_loadu_pd(Arr::load_partial(s, f64::NAN).0.as_ptr())).select_pad(k, pad)
                }
            }
        }
    }
    #[inline(always)]
    fn store<T: Real>(self, s: &mut [T]) {
        let s = &mut s[..W];
        let p = s.as_mut_ptr();
        // SAFETY: AVX-512F is available (module note); `s` holds W elements of the type written.
        unsafe {
            match elem::<T>() {
                Elem::F64 => _mm512_storeu_pd(p.cast(), self.0),
                Elem::F32 => _mm256_storeu_ps(p.cast(), _mm512_cvtpd_ps(self.0)),
                Elem::Other => Lanes::<W, true>(self.to_array()).store(s),
            }
        }
    }
    #[inline(always)]
    fn store_partial<T: Real>(self, s: &mut [T]) {
        let n = s.len().min(W);
        let (p, k) = (s.as_mut_ptr(), mask8(n));
        // SAFETY: AVX-512F/VL are available (module note); only the first `n <= s.len()` lanes are
        // selected, so nothing past `s` is written.
        unsafe {
            match elem::<T>() {
                Elem::F64 => _mm512_mask_storeu_pd(p.cast(), k, self.0),
                Elem::F32 => _mm256_mask_storeu_ps(p.cast(), k, _mm512_cvtpd_ps(self.0)),
                Elem::Other => Lanes::<W, true>(self.to_array()).store_partial(s),
            }
        }
    }
    #[inline(always)]
    fn store_stream<T: Real>(self, s: &mut [T]) {
        let s = &mut s[..W];
        let p = s.as_mut_ptr();
        // SAFETY: AVX-512F is available (module note); `s` holds W elements and starts at a
        // multiple of `W * size_of::<T>()` bytes (caller's contract): 64- (f64) or 32-byte (f32)
        // aligned, as the streaming stores require.
        unsafe {
            match elem::<T>() {
                Elem::F64 => _mm512_stream_pd(p.cast(), self.0),
                Elem::F32 => _mm256_stream_ps(p.cast(), _mm512_cvtpd_ps(self.0)),
                Elem::Other => self.store(s),
            }
        }
    }
    #[inline(always)]
    fn to_array(self) -> [f64; W] {
        let mut out = [0.0; W];
        // SAFETY: AVX-512F is available (module note); `out` holds eight f64.
        unsafe { _mm512_storeu_pd(out.as_mut_ptr(), self.0) };
        out
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        // SAFETY: AVX-512F is available (module note).
        unsafe { Z(_mm512_add_pd(self.0, o.0)) }
    }
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        // SAFETY: AVX-512F is available (module note).
        unsafe { Z(_mm512_sub_pd(self.0, o.0)) }
    }
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        // SAFETY: AVX-512F is available (module note).
        unsafe { Z(_mm512_mul_pd(self.0, o.0)) }
    }
    #[inline(always)]
    fn div(self, o: Self) -> Self {
        // SAFETY: AVX-512F is available (module note).
        unsafe { Z(_mm512_div_pd(self.0, o.0)) }
    }
    #[inline(always)]
    fn mul_add(self, b: Self, c: Self) -> Self {
        // SAFETY: AVX-512F is available (module note).
        unsafe { Z(_mm512_fmadd_pd(self.0, b.0, c.0)) }
    }
    #[inline(always)]
    fn neg_mul_add(self, b: Self, c: Self) -> Self {
        // SAFETY: AVX-512F is available (module note).
        unsafe { Z(_mm512_fnmadd_pd(self.0, b.0, c.0)) }
    }
    #[inline(always)]
    fn max_with(self, lo: Self) -> Self {
        // VMAXPD returns its second operand when either is NaN.
        // SAFETY: AVX-512F is available (module note).
        unsafe { Z(_mm512_max_pd(lo.0, self.0)) }
    }
    #[inline(always)]
    fn min_with(self, hi: Self) -> Self {
        // SAFETY: AVX-512F is available (module note).
        unsafe { Z(_mm512_min_pd(hi.0, self.0)) }
    }
    #[inline(always)]
    fn round(self) -> Self {
        // SAFETY: AVX-512F is available (module note).
        unsafe { Z(_mm512_roundscale_pd::<ROUND>(self.0)) }
    }
    #[inline(always)]
    fn scale2(self, k: Self) -> Self {
        // SAFETY: AVX-512F is available (module note).
        unsafe { Z(_mm512_scalef_pd(self.0, k.0)) }
    }
    #[inline(always)]
    fn split_exp(self) -> (Self, Self) {
        // SAFETY: AVX-512F is available (module note).
        unsafe {
            (
                Z(_mm512_getmant_pd::<_MM_MANT_NORM_1_2, _MM_MANT_SIGN_SRC>(
                    self.0,
                )),
                Z(_mm512_getexp_pd(self.0)),
            )
        }
    }
    #[inline(always)]
    fn eq(self, o: Self) -> Self::M {
        // SAFETY: AVX-512F is available (module note).
        unsafe { _mm512_cmp_pd_mask::<_CMP_EQ_OQ>(self.0, o.0) }
    }
    #[inline(always)]
    fn lt(self, o: Self) -> Self::M {
        // SAFETY: AVX-512F is available (module note).
        unsafe { _mm512_cmp_pd_mask::<_CMP_LT_OQ>(self.0, o.0) }
    }
    #[inline(always)]
    fn first(n: usize) -> Self::M {
        mask8(n)
    }
    #[inline(always)]
    fn select(m: Self::M, a: Self, b: Self) -> Self {
        // SAFETY: AVX-512F is available (module note).
        unsafe { Z(_mm512_mask_blend_pd(m, b.0, a.0)) }
    }
    #[inline(always)]
    fn add_where(self, m: Self::M, o: Self) -> Self {
        // SAFETY: AVX-512F is available (module note).
        unsafe { Z(_mm512_mask_add_pd(self.0, m, self.0, o.0)) }
    }
    #[inline(always)]
    fn add_where_not(self, m: Self::M, o: Self) -> Self {
        // SAFETY: AVX-512F is available (module note).
        unsafe { Z(_mm512_mask_add_pd(self.0, !m, self.0, o.0)) }
    }
}

impl Z {
    /// Lanes outside `k` set to `pad`.
    #[inline(always)]
    fn select_pad(self, k: __mmask8, pad: __m512d) -> Self {
        // SAFETY: AVX-512F is available (module note).
        unsafe { Z(_mm512_mask_blend_pd(k, pad, self.0)) }
    }
}

impl F32x for Z32 {
    type F64 = Z;
    type M = __mmask16;
    #[inline(always)]
    fn splat(v: f32) -> Self {
        made_at(super::super::Level::Avx512);
        // SAFETY: AVX-512F is available (module note).
        unsafe { Z32(_mm512_set1_ps(v)) }
    }
    #[inline(always)]
    fn load(s: &[f32]) -> Self {
        made_at(super::super::Level::Avx512);
        let s = &s[..W32];
        // SAFETY: AVX-512F is available (module note); `s` holds sixteen f32.
        unsafe { Z32(_mm512_loadu_ps(s.as_ptr())) }
    }
    #[inline(always)]
    fn load_partial(s: &[f32], pad: f32) -> Self {
        made_at(super::super::Level::Avx512);
        let n = s.len().min(W32);
        let k = ((1u32 << n) - 1) as u16;
        // SAFETY: AVX-512F is available (module note); only the first `n` lanes are read.
        unsafe { Z32(_mm512_mask_loadu_ps(_mm512_set1_ps(pad), k, s.as_ptr())) }
    }
    #[inline(always)]
    fn store(self, s: &mut [f32]) {
        let s = &mut s[..W32];
        // SAFETY: AVX-512F is available (module note); `s` holds sixteen f32.
        unsafe { _mm512_storeu_ps(s.as_mut_ptr(), self.0) }
    }
    #[inline(always)]
    fn store_partial(self, s: &mut [f32]) {
        let n = s.len().min(W32);
        let k = ((1u32 << n) - 1) as u16;
        // SAFETY: AVX-512F is available (module note); only the first `n <= s.len()` lanes are
        // written.
        unsafe { _mm512_mask_storeu_ps(s.as_mut_ptr(), k, self.0) }
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        // SAFETY: AVX-512F is available (module note).
        unsafe { Z32(_mm512_add_ps(self.0, o.0)) }
    }
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        // SAFETY: AVX-512F is available (module note).
        unsafe { Z32(_mm512_sub_ps(self.0, o.0)) }
    }
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        // SAFETY: AVX-512F is available (module note).
        unsafe { Z32(_mm512_mul_ps(self.0, o.0)) }
    }
    #[inline(always)]
    fn mul_add(self, b: Self, c: Self) -> Self {
        // SAFETY: AVX-512F is available (module note).
        unsafe { Z32(_mm512_fmadd_ps(self.0, b.0, c.0)) }
    }
    #[inline(always)]
    fn neg_mul_add(self, b: Self, c: Self) -> Self {
        // SAFETY: AVX-512F is available (module note).
        unsafe { Z32(_mm512_fnmadd_ps(self.0, b.0, c.0)) }
    }
    #[inline(always)]
    fn pmax(self, o: Self) -> Self {
        // SAFETY: AVX-512F is available (module note).
        unsafe {
            // VMAXPS keeps its second operand on NaN; lanes where `o` is NaN take `o`.
            let m = _mm512_max_ps(o.0, self.0);
            let nan = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(o.0, o.0);
            Z32(_mm512_mask_blend_ps(nan, m, o.0))
        }
    }
    #[inline(always)]
    fn max_with(self, lo: Self) -> Self {
        // VMAXPS returns its second operand when either is NaN.
        // SAFETY: AVX-512F is available (module note).
        unsafe { Z32(_mm512_max_ps(lo.0, self.0)) }
    }
    #[inline(always)]
    fn min_with(self, hi: Self) -> Self {
        // SAFETY: AVX-512F is available (module note).
        unsafe { Z32(_mm512_min_ps(hi.0, self.0)) }
    }
    #[inline(always)]
    fn round(self) -> Self {
        // SAFETY: AVX-512F is available (module note).
        unsafe { Z32(_mm512_roundscale_ps::<ROUND>(self.0)) }
    }
    #[inline(always)]
    fn scale2(self, k: Self) -> Self {
        // One rounding, as the two factors of the other levels.
        // SAFETY: AVX-512F is available (module note).
        unsafe { Z32(_mm512_scalef_ps(self.0, k.0)) }
    }
    #[inline(always)]
    fn split_exp(self) -> (Self, Self) {
        // SAFETY: AVX-512F is available (module note).
        unsafe {
            (
                Z32(_mm512_getmant_ps::<_MM_MANT_NORM_1_2, _MM_MANT_SIGN_SRC>(
                    self.0,
                )),
                Z32(_mm512_getexp_ps(self.0)),
            )
        }
    }
    #[inline(always)]
    fn eq(self, o: Self) -> Self::M {
        // SAFETY: AVX-512F is available (module note).
        unsafe { _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(self.0, o.0) }
    }
    #[inline(always)]
    fn lt(self, o: Self) -> Self::M {
        // SAFETY: AVX-512F is available (module note).
        unsafe { _mm512_cmp_ps_mask::<_CMP_LT_OQ>(self.0, o.0) }
    }
    #[inline(always)]
    fn select(m: Self::M, a: Self, b: Self) -> Self {
        // SAFETY: AVX-512F is available (module note).
        unsafe { Z32(_mm512_mask_blend_ps(m, b.0, a.0)) }
    }
    #[inline(always)]
    fn widen(self) -> (Z, Z) {
        // SAFETY: AVX-512F/DQ are available (module note).
        unsafe {
            (
                Z(_mm512_cvtps_pd(_mm512_castps512_ps256(self.0))),
                Z(_mm512_cvtps_pd(_mm512_extractf32x8_ps::<1>(self.0))),
            )
        }
    }
}
