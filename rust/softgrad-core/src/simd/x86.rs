//! The x86-64 implementations of the vector types: AVX2+FMA (two 256-bit registers per vector) and
//! AVX-512 (one 512-bit register, masked tails, `VSCALEFPD` for `2^k`).
//!
//! Safety: every method calls `std::arch` intrinsics of its level. Values of these types are only
//! made by kernels that [`vectorize`](super::vectorize) runs at that level, after it checked that
//! the CPU has the level's features (the types are crate-private and carry no other constructor),
//! so each `unsafe` block below relies on that check (debug builds assert it where values are
//! made); pointer accesses are bounded by the slice lengths checked in the same method.

use std::arch::x86_64::*;

use super::vector::{elem, Elem, F32x, F64x, Isa, Lanes, W, W32};
use crate::real::Real;

/// AVX2 + FMA.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx2;
/// AVX-512 F/DQ/BW/VL.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx512;

impl Isa for Avx2 {
    type F64 = Y;
    type F32 = Y32;
}
impl Isa for Avx512 {
    type F64 = Z;
    type F32 = Z32;
}

/// Eight `f64` lanes in two AVX registers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Y([__m256d; 2]);
/// Sixteen `f32` lanes in two AVX registers.
#[cfg_attr(not(test), allow(dead_code))] // for soft-DTW and the max-plus kernels (next issues)
#[derive(Clone, Copy, Debug)]
pub(crate) struct Y32([__m256; 2]);
/// Eight `f64` lanes in one AVX-512 register.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Z(__m512d);
/// Sixteen `f32` lanes in one AVX-512 register.
#[cfg_attr(not(test), allow(dead_code))] // for soft-DTW and the max-plus kernels (next issues)
#[derive(Clone, Copy, Debug)]
pub(crate) struct Z32(__m512);

/// Scalar copy of the lanes, for element types without vector loads.
type Arr = Lanes<W, true>;

/// Debug builds: the CPU check that makes the methods below sound was done for `level`.
#[inline(always)]
fn made_at(level: super::Level) {
    debug_assert!(
        super::level() >= level,
        "{level:?} vector made outside vectorize"
    );
}

const ROUND: i32 = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;

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
        made_at(super::Level::Avx2);
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
        use super::vector::SHIFT;
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
        made_at(super::Level::Avx2);
        // SAFETY: AVX is available (module note).
        unsafe { Y([_mm256_set1_pd(v); 2]) }
    }
    #[inline(always)]
    fn load<T: Real>(s: &[T]) -> Self {
        made_at(super::Level::Avx2);
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
}

impl F32x for Y32 {
    type F64 = Y;
    #[inline(always)]
    fn splat(v: f32) -> Self {
        // SAFETY: AVX is available (module note).
        unsafe { Y32([_mm256_set1_ps(v); 2]) }
    }
    #[inline(always)]
    fn load(s: &[f32]) -> Self {
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
    fn add(self, o: Self) -> Self {
        // SAFETY: AVX is available (module note).
        Y32(both!(|i| unsafe { _mm256_add_ps(self.0[i], o.0[i]) }))
    }
    #[inline(always)]
    fn pmax(self, o: Self) -> Self {
        // SAFETY: AVX is available (module note).
        Y32(both!(|i| unsafe {
            // VMAXPS keeps its second operand on NaN; lanes where `o` is NaN take `o`.
            let m = _mm256_max_ps(o.0[i], self.0[i]);
            _mm256_blendv_ps(m, o.0[i], _mm256_cmp_ps::<_CMP_UNORD_Q>(o.0[i], o.0[i]))
        }))
    }
    #[inline(always)]
    fn widen(self) -> (Y, Y) {
        // SAFETY: AVX is available (module note).
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

/// Lanes `0..n` of an eight-lane mask.
#[inline(always)]
fn mask8(n: usize) -> __mmask8 {
    (0xffu16 >> (8 - n.min(8))) as u8
}

impl F64x for Z {
    type M = __mmask8;
    #[inline(always)]
    fn splat(v: f64) -> Self {
        made_at(super::Level::Avx512);
        // SAFETY: AVX-512F is available (module note).
        unsafe { Z(_mm512_set1_pd(v)) }
    }
    #[inline(always)]
    fn load<T: Real>(s: &[T]) -> Self {
        made_at(super::Level::Avx512);
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
        made_at(super::Level::Avx512);
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
    #[inline(always)]
    fn splat(v: f32) -> Self {
        // SAFETY: AVX-512F is available (module note).
        unsafe { Z32(_mm512_set1_ps(v)) }
    }
    #[inline(always)]
    fn load(s: &[f32]) -> Self {
        let s = &s[..W32];
        // SAFETY: AVX-512F is available (module note); `s` holds sixteen f32.
        unsafe { Z32(_mm512_loadu_ps(s.as_ptr())) }
    }
    #[inline(always)]
    fn load_partial(s: &[f32], pad: f32) -> Self {
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
    fn add(self, o: Self) -> Self {
        // SAFETY: AVX-512F is available (module note).
        unsafe { Z32(_mm512_add_ps(self.0, o.0)) }
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
