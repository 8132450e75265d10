//! AVX2+FMA: a vector is two 256-bit registers (see the parent module for the safety argument).

use std::arch::x86_64::*;

use super::*;

/// `[e(0), e(1)]` without a closure (see `y2!`).
macro_rules! both {
    (|$i:ident| $e:expr) => {
        [
            {
                let $i = 0;
                $e
            },
            {
                let $i = 1;
                $e
            },
        ]
    };
}

macro_rules! y2 {
    ($a:expr, $b:expr, |$x:ident, $y:ident| $e:expr) => {{
        let (a, b) = ($a, $b);
        // No closures here: a closure body is compiled without the trampoline's target features
        // unless LLVM happens to inline it, and then every intrinsic becomes a call.
        // SAFETY: AVX2 and FMA are available (module note).
        unsafe {
            Y([
                {
                    let ($x, $y) = (a.0[0], b.0[0]);
                    $e
                },
                {
                    let ($x, $y) = (a.0[1], b.0[1]);
                    $e
                },
            ])
        }
    }};
}

impl Y {
    #[inline(always)]
    fn from_array(a: [f64; W]) -> Self {
        made_at(super::super::Level::Avx2);
        // SAFETY: AVX is available (module note); `a` holds eight f64.
        unsafe {
            Y([
                _mm256_loadu_pd(a.as_ptr()),
                _mm256_loadu_pd(a.as_ptr().add(4)),
            ])
        }
    }
    /// `2^k` for integer-valued lanes `k` in `[-1022, 1023]`, built in the exponent bits.
    #[inline(always)]
    fn pow2(k: __m256d) -> __m256d {
        use super::super::vector::SHIFT;
        // SAFETY: AVX2 is available (module note).
        unsafe {
            let bits = _mm256_castpd_si256(_mm256_add_pd(k, _mm256_set1_pd(SHIFT)));
            let biased = _mm256_add_epi64(
                bits,
                _mm256_set1_epi64x(1023i64.wrapping_sub(SHIFT.to_bits() as i64)),
            );
            _mm256_castsi256_pd(_mm256_slli_epi64::<52>(biased))
        }
    }
}

impl F64x for Y {
    type M = [__m256d; 2];
    #[inline(always)]
    fn splat(v: f64) -> Self {
        made_at(super::super::Level::Avx2);
        // SAFETY: AVX is available (module note).
        unsafe { Y([_mm256_set1_pd(v); 2]) }
    }
    #[inline(always)]
    fn load<T: Real>(s: &[T]) -> Self {
        made_at(super::super::Level::Avx2);
        let s = &s[..W];
        let p = s.as_ptr();
        // SAFETY: AVX is available (module note); `s` holds W elements of the type read.
        unsafe {
            match elem::<T>() {
                Elem::F64 => {
                    let p = p.cast::<f64>();
                    Y([_mm256_loadu_pd(p), _mm256_loadu_pd(p.add(4))])
                }
                Elem::F32 => {
                    let p = p.cast::<f32>();
                    Y([
                        _mm256_cvtps_pd(_mm_loadu_ps(p)),
                        _mm256_cvtps_pd(_mm_loadu_ps(p.add(4))),
                    ])
                }
                Elem::Other => Y::from_array(Arr::load(s).0),
            }
        }
    }
    #[inline(always)]
    fn load_partial<T: Real>(s: &[T], pad: f64) -> Self {
        Y::from_array(Arr::load_partial(s, pad).0)
    }
    #[inline(always)]
    fn store<T: Real>(self, s: &mut [T]) {
        let s = &mut s[..W];
        let p = s.as_mut_ptr();
        // SAFETY: AVX is available (module note); `s` holds W elements of the type written.
        unsafe {
            match elem::<T>() {
                Elem::F64 => {
                    let p = p.cast::<f64>();
                    _mm256_storeu_pd(p, self.0[0]);
                    _mm256_storeu_pd(p.add(4), self.0[1]);
                }
                Elem::F32 => {
                    let p = p.cast::<f32>();
                    _mm_storeu_ps(p, _mm256_cvtpd_ps(self.0[0]));
                    _mm_storeu_ps(p.add(4), _mm256_cvtpd_ps(self.0[1]));
                }
                Elem::Other => Lanes::<W, true>(self.to_array()).store(s),
            }
        }
    }
    #[inline(always)]
    fn store_partial<T: Real>(self, s: &mut [T]) {
        Lanes::<W, true>(self.to_array()).store_partial(s)
    }
    #[inline(always)]
    fn store_stream<T: Real>(self, s: &mut [T]) {
        let s = &mut s[..W];
        let p = s.as_mut_ptr();
        // SAFETY: AVX is available (module note); `s` holds W elements and starts at a multiple of
        // `W * size_of::<T>()` bytes (caller's contract), so each half is 32- (f64) or 16-byte
        // (f32) aligned as the streaming stores require.
        unsafe {
            match elem::<T>() {
                Elem::F64 => {
                    let p = p.cast::<f64>();
                    _mm256_stream_pd(p, self.0[0]);
                    _mm256_stream_pd(p.add(4), self.0[1]);
                }
                Elem::F32 => {
                    let p = p.cast::<f32>();
                    _mm_stream_ps(p, _mm256_cvtpd_ps(self.0[0]));
                    _mm_stream_ps(p.add(4), _mm256_cvtpd_ps(self.0[1]));
                }
                Elem::Other => self.store(s),
            }
        }
    }
    #[inline(always)]
    fn to_array(self) -> [f64; W] {
        let mut out = [0.0; W];
        // SAFETY: AVX is available (module note); `out` holds eight f64.
        unsafe {
            _mm256_storeu_pd(out.as_mut_ptr(), self.0[0]);
            _mm256_storeu_pd(out.as_mut_ptr().add(4), self.0[1]);
        }
        out
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        y2!(self, o, |a, b| _mm256_add_pd(a, b))
    }
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        y2!(self, o, |a, b| _mm256_sub_pd(a, b))
    }
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        y2!(self, o, |a, b| _mm256_mul_pd(a, b))
    }
    #[inline(always)]
    fn div(self, o: Self) -> Self {
        y2!(self, o, |a, b| _mm256_div_pd(a, b))
    }
    #[inline(always)]
    fn mul_add(self, b: Self, c: Self) -> Self {
        // SAFETY: FMA is available (module note).
        Y(both!(|i| unsafe {
            _mm256_fmadd_pd(self.0[i], b.0[i], c.0[i])
        }))
    }
    #[inline(always)]
    fn neg_mul_add(self, b: Self, c: Self) -> Self {
        // SAFETY: FMA is available (module note).
        Y(both!(|i| unsafe {
            _mm256_fnmadd_pd(self.0[i], b.0[i], c.0[i])
        }))
    }
    #[inline(always)]
    fn max_with(self, lo: Self) -> Self {
        // VMAXPD returns its second operand when either is NaN.
        y2!(lo, self, |l, x| _mm256_max_pd(l, x))
    }
    #[inline(always)]
    fn min_with(self, hi: Self) -> Self {
        y2!(hi, self, |h, x| _mm256_min_pd(h, x))
    }
    #[inline(always)]
    fn round(self) -> Self {
        y2!(self, self, |a, _b| _mm256_round_pd::<ROUND>(a))
    }
    #[inline(always)]
    fn scale2(self, k: Self) -> Self {
        // Two exact power-of-two factors, each a normal number for |k| <= 2044.
        y2!(self, k, |p, k| {
            let k1 = _mm256_round_pd::<ROUND>(_mm256_mul_pd(k, _mm256_set1_pd(0.5)));
            let k2 = _mm256_sub_pd(k, k1);
            _mm256_mul_pd(_mm256_mul_pd(p, Y::pow2(k1)), Y::pow2(k2))
        })
    }
    #[inline(always)]
    fn split_exp(self) -> (Self, Self) {
        let m = y2!(self, self, |x, _y| {
            let bits = _mm256_castpd_si256(x);
            let mant = _mm256_and_si256(bits, _mm256_set1_epi64x((1 << 52) - 1));
            _mm256_castsi256_pd(_mm256_or_si256(mant, _mm256_set1_epi64x(1023 << 52)))
        });
        let e = y2!(self, self, |x, _y| {
            // The biased exponent as the low bits of 2^52 + e, then minus 2^52 + 1023.
            let biased = _mm256_srli_epi64::<52>(_mm256_castpd_si256(x));
            let two52 = _mm256_set1_pd(4_503_599_627_370_496.0);
            let v = _mm256_or_si256(biased, _mm256_castpd_si256(two52));
            _mm256_sub_pd(
                _mm256_castsi256_pd(v),
                _mm256_set1_pd(4_503_599_627_370_496.0 + 1023.0),
            )
        });
        (m, e)
    }
    #[inline(always)]
    fn eq(self, o: Self) -> Self::M {
        y2!(self, o, |a, b| _mm256_cmp_pd::<_CMP_EQ_OQ>(a, b)).0
    }
    #[inline(always)]
    fn lt(self, o: Self) -> Self::M {
        y2!(self, o, |a, b| _mm256_cmp_pd::<_CMP_LT_OQ>(a, b)).0
    }
    #[inline(always)]
    fn first(n: usize) -> Self::M {
        let idx = Y::from_array(std::array::from_fn(|i| i as f64));
        idx.lt(Y::splat(n as f64))
    }
    #[inline(always)]
    fn select(m: Self::M, a: Self, b: Self) -> Self {
        // SAFETY: AVX is available (module note).
        Y(both!(|i| unsafe { _mm256_blendv_pd(b.0[i], a.0[i], m[i]) }))
    }
    #[inline(always)]
    fn select_larger(m: Self::M, a: Self, b: Self) -> Self {
        // SAFETY: AVX is available (module note).
        Y(both!(|i| unsafe {
            _mm256_max_pd(b.0[i], _mm256_and_pd(a.0[i], m[i]))
        }))
    }
}

/// `[f(a.0[0], b.0[0]), f(a.0[1], b.0[1])]` for `Y32` (no closures, see `y2!`).
macro_rules! y32 {
    ($a:expr, $b:expr, |$x:ident, $y:ident| $e:expr) => {{
        let (a, b) = ($a, $b);
        // SAFETY: AVX2 and FMA are available (module note).
        unsafe {
            Y32([
                {
                    let ($x, $y) = (a.0[0], b.0[0]);
                    $e
                },
                {
                    let ($x, $y) = (a.0[1], b.0[1]);
                    $e
                },
            ])
        }
    }};
}

impl Y32 {
    /// `2^k` for integer-valued lanes `k` in `[-126, 127]`, built in the exponent bits.
    #[inline(always)]
    fn pow2(k: __m256) -> __m256 {
        // SAFETY: AVX2 is available (module note); `k` is integer-valued, so the conversion is exact.
        unsafe {
            let i = _mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127));
            _mm256_castsi256_ps(_mm256_slli_epi32::<23>(i))
        }
    }
}

impl F32x for Y32 {
    type F64 = Y;
    type M = [__m256; 2];
    #[inline(always)]
    fn splat(v: f32) -> Self {
        made_at(super::super::Level::Avx2);
        // SAFETY: AVX is available (module note).
        unsafe { Y32([_mm256_set1_ps(v); 2]) }
    }
    #[inline(always)]
    fn load(s: &[f32]) -> Self {
        made_at(super::super::Level::Avx2);
        let s = &s[..W32];
        // SAFETY: AVX is available (module note); `s` holds sixteen f32.
        unsafe {
            Y32([
                _mm256_loadu_ps(s.as_ptr()),
                _mm256_loadu_ps(s.as_ptr().add(8)),
            ])
        }
    }
    #[inline(always)]
    fn load_partial(s: &[f32], pad: f32) -> Self {
        let buf: [f32; W32] = std::array::from_fn(|i| s.get(i).copied().unwrap_or(pad));
        Y32::load(&buf)
    }
    #[inline(always)]
    fn store(self, s: &mut [f32]) {
        let s = &mut s[..W32];
        // SAFETY: AVX is available (module note); `s` holds sixteen f32.
        unsafe {
            _mm256_storeu_ps(s.as_mut_ptr(), self.0[0]);
            _mm256_storeu_ps(s.as_mut_ptr().add(8), self.0[1]);
        }
    }
    #[inline(always)]
    fn store_partial(self, s: &mut [f32]) {
        let mut buf = [0.0f32; W32];
        self.store(&mut buf);
        let n = s.len().min(W32);
        s[..n].copy_from_slice(&buf[..n]);
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        y32!(self, o, |a, b| _mm256_add_ps(a, b))
    }
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        y32!(self, o, |a, b| _mm256_sub_ps(a, b))
    }
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        y32!(self, o, |a, b| _mm256_mul_ps(a, b))
    }
    #[inline(always)]
    fn mul_add(self, b: Self, c: Self) -> Self {
        // SAFETY: FMA is available (module note).
        Y32(both!(|i| unsafe {
            _mm256_fmadd_ps(self.0[i], b.0[i], c.0[i])
        }))
    }
    #[inline(always)]
    fn neg_mul_add(self, b: Self, c: Self) -> Self {
        // SAFETY: FMA is available (module note).
        Y32(both!(|i| unsafe {
            _mm256_fnmadd_ps(self.0[i], b.0[i], c.0[i])
        }))
    }
    #[inline(always)]
    fn pmax(self, o: Self) -> Self {
        // VMAXPS keeps its second operand on NaN; lanes where `o` is NaN take `o`.
        y32!(self, o, |a, b| {
            let m = _mm256_max_ps(b, a);
            _mm256_blendv_ps(m, b, _mm256_cmp_ps::<_CMP_UNORD_Q>(b, b))
        })
    }
    #[inline(always)]
    fn max_with(self, lo: Self) -> Self {
        // VMAXPS returns its second operand when either is NaN.
        y32!(lo, self, |l, x| _mm256_max_ps(l, x))
    }
    #[inline(always)]
    fn min_with(self, hi: Self) -> Self {
        y32!(hi, self, |h, x| _mm256_min_ps(h, x))
    }
    #[inline(always)]
    fn round(self) -> Self {
        y32!(self, self, |a, _b| _mm256_round_ps::<ROUND>(a))
    }
    #[inline(always)]
    fn scale2(self, k: Self) -> Self {
        // `self * 2^k1` is exact (a normal number for `self` in [0.5, 2]), the second factor
        // rounds once: the bits of the portable level's `scale2`.
        y32!(self, k, |p, k| {
            let k1 = _mm256_min_ps(
                _mm256_max_ps(k, _mm256_set1_ps(-124.0)),
                _mm256_set1_ps(126.0),
            );
            let k2 = _mm256_sub_ps(k, k1);
            _mm256_mul_ps(_mm256_mul_ps(p, Y32::pow2(k1)), Y32::pow2(k2))
        })
    }
    #[inline(always)]
    fn split_exp(self) -> (Self, Self) {
        let m = y32!(self, self, |x, _y| {
            let bits = _mm256_castps_si256(x);
            let mant = _mm256_and_si256(bits, _mm256_set1_epi32(0x007f_ffff));
            _mm256_castsi256_ps(_mm256_or_si256(mant, _mm256_set1_epi32(0x3f80_0000)))
        });
        let e = y32!(self, self, |x, _y| {
            let biased = _mm256_srli_epi32::<23>(_mm256_castps_si256(x));
            _mm256_cvtepi32_ps(_mm256_sub_epi32(biased, _mm256_set1_epi32(127)))
        });
        (m, e)
    }
    #[inline(always)]
    fn eq(self, o: Self) -> Self::M {
        y32!(self, o, |a, b| _mm256_cmp_ps::<_CMP_EQ_OQ>(a, b)).0
    }
    #[inline(always)]
    fn lt(self, o: Self) -> Self::M {
        y32!(self, o, |a, b| _mm256_cmp_ps::<_CMP_LT_OQ>(a, b)).0
    }
    #[inline(always)]
    fn select(m: Self::M, a: Self, b: Self) -> Self {
        // SAFETY: AVX is available (module note).
        Y32(both!(|i| unsafe { _mm256_blendv_ps(b.0[i], a.0[i], m[i]) }))
    }
    #[inline(always)]
    fn select_larger(m: Self::M, a: Self, b: Self) -> Self {
        // SAFETY: AVX is available (module note).
        Y32(both!(|i| unsafe {
            _mm256_max_ps(b.0[i], _mm256_and_ps(a.0[i], m[i]))
        }))
    }
    #[inline(always)]
    fn widen(self) -> (Y, Y) {
        let [a, b] = self.0;
        // SAFETY: AVX is available (module note).
        unsafe {
            (
                Y([
                    _mm256_cvtps_pd(_mm256_castps256_ps128(a)),
                    _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(a)),
                ]),
                Y([
                    _mm256_cvtps_pd(_mm256_castps256_ps128(b)),
                    _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(b)),
                ]),
            )
        }
    }
}
