//! Hand-written AVX-512 versions of the two exp-heavy loops, where auto-vectorisation of the
//! portable bodies leaves accumulators on the stack. Same maths as [`super::exp`]: Cody–Waite
//! reduction and the same degree-11 polynomial, with `VSCALEFPD` applying `2^k` (exact, with correct
//! overflow to `inf` and gradual underflow), so no two-step scaling is needed.
//!
//! Every function here requires AVX-512F/DQ and FMA; callers check [`super::level`] first.
#![allow(clippy::missing_safety_doc)]

use std::arch::x86_64::*;

use super::contiguous::L;
use super::exp::{C, LN2_HI, LN2_LO, LOG2E};

/// Eight lanes of `T` widened to `f64`.
pub trait Load8 {
    /// Loads `p[0..8]` as f64.
    ///
    /// # Safety
    /// `p..p+8` must be readable; AVX-512F must be available.
    unsafe fn load8(p: *const Self) -> __m512d;
    /// Stores eight f64 lanes narrowed to `Self` at `p[0..8]`.
    ///
    /// # Safety
    /// `p..p+8` must be writable; AVX-512F must be available.
    unsafe fn store8(p: *mut Self, v: __m512d);
    /// Loads the lanes of `p[0..8]` selected by `k` (others are 0); unselected lanes are not read.
    ///
    /// # Safety
    /// Selected lanes must be readable; AVX-512F/VL must be available.
    unsafe fn load8_masked(p: *const Self, k: __mmask8) -> __m512d;
    /// Stores the lanes selected by `k`; unselected lanes are not touched.
    ///
    /// # Safety
    /// Selected lanes must be writable; AVX-512F/VL must be available.
    unsafe fn store8_masked(p: *mut Self, k: __mmask8, v: __m512d);
    /// Like [`Load8::store8`] with a non-temporal (streaming) store.
    ///
    /// # Safety
    /// As `store8`, and `p` must be aligned to `8 * size_of::<Self>()` bytes.
    unsafe fn stream8(p: *mut Self, v: __m512d);
}

impl Load8 for f64 {
    #[inline(always)]
    unsafe fn load8(p: *const f64) -> __m512d {
        // SAFETY: guaranteed by the caller.
        unsafe { _mm512_loadu_pd(p) }
    }
    #[inline(always)]
    unsafe fn store8(p: *mut f64, v: __m512d) {
        // SAFETY: guaranteed by the caller.
        unsafe { _mm512_storeu_pd(p, v) }
    }
    #[inline(always)]
    unsafe fn load8_masked(p: *const f64, k: __mmask8) -> __m512d {
        // SAFETY: guaranteed by the caller.
        unsafe { _mm512_maskz_loadu_pd(k, p) }
    }
    #[inline(always)]
    unsafe fn store8_masked(p: *mut f64, k: __mmask8, v: __m512d) {
        // SAFETY: guaranteed by the caller.
        unsafe { _mm512_mask_storeu_pd(p, k, v) }
    }
    #[inline(always)]
    unsafe fn stream8(p: *mut f64, v: __m512d) {
        // SAFETY: guaranteed by the caller (64-byte aligned, writable).
        unsafe { _mm512_stream_pd(p, v) }
    }
}

impl Load8 for f32 {
    #[inline(always)]
    unsafe fn load8(p: *const f32) -> __m512d {
        // SAFETY: guaranteed by the caller.
        unsafe { _mm512_cvtps_pd(_mm256_loadu_ps(p)) }
    }
    #[inline(always)]
    unsafe fn store8(p: *mut f32, v: __m512d) {
        // SAFETY: guaranteed by the caller.
        unsafe { _mm256_storeu_ps(p, _mm512_cvtpd_ps(v)) }
    }
    #[inline(always)]
    unsafe fn load8_masked(p: *const f32, k: __mmask8) -> __m512d {
        // SAFETY: guaranteed by the caller.
        unsafe { _mm512_cvtps_pd(_mm256_maskz_loadu_ps(k, p)) }
    }
    #[inline(always)]
    unsafe fn store8_masked(p: *mut f32, k: __mmask8, v: __m512d) {
        // SAFETY: guaranteed by the caller.
        unsafe { _mm256_mask_storeu_ps(p, k, _mm512_cvtpd_ps(v)) }
    }
    #[inline(always)]
    unsafe fn stream8(p: *mut f32, v: __m512d) {
        // SAFETY: guaranteed by the caller (32-byte aligned, writable).
        unsafe { _mm256_stream_ps(p, _mm512_cvtpd_ps(v)) }
    }
}

/// `e^x` on eight lanes; NaN stays NaN, `-inf` gives 0, `+inf` gives `inf`.
#[inline(always)]
unsafe fn exp8(x: __m512d) -> __m512d {
    // SAFETY: AVX-512F/DQ available (caller's contract).
    unsafe { exp8_nonpos(_mm512_min_pd(_mm512_set1_pd(720.0), x)) }
}

/// `e^x` for lanes that are at most 720 or NaN (every kernel's `(x - max)/t <= 0`): the upper clamp
/// of [`exp8`] is left out of the hot loops.
#[inline(always)]
unsafe fn exp8_nonpos(x: __m512d) -> __m512d {
    // SAFETY: AVX-512F/DQ available (caller's contract).
    unsafe {
        // VMAXPD returns the second operand when either is NaN: NaN passes through.
        let x = _mm512_max_pd(_mm512_set1_pd(-760.0), x);
        let kf = _mm512_roundscale_pd::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
            _mm512_mul_pd(x, _mm512_set1_pd(LOG2E)),
        );
        let r = _mm512_fnmadd_pd(kf, _mm512_set1_pd(LN2_HI), x);
        let r = _mm512_fnmadd_pd(kf, _mm512_set1_pd(LN2_LO), r);
        let mut q = _mm512_set1_pd(C[9]);
        for &c in C[..9].iter().rev() {
            q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(c));
        }
        // 1 + r (1 + r q) = 1 + r + r^2 q, two FMAs.
        let one = _mm512_set1_pd(1.0);
        let p = _mm512_fmadd_pd(_mm512_fmadd_pd(q, r, one), r, one);
        _mm512_scalef_pd(p, kf)
    }
}

/// `(x - m) / t`, skipping the multiply at unit temperature (where it is exact anyway).
#[inline(always)]
unsafe fn shift(x: __m512d, m: __m512d, inv_t: __m512d, unit: bool) -> __m512d {
    // SAFETY: AVX-512F available (caller's contract).
    unsafe {
        let d = _mm512_sub_pd(x, m);
        if unit {
            d
        } else {
            _mm512_mul_pd(d, inv_t)
        }
    }
}

fn to_array(a: __m512d, b: __m512d) -> [f64; L] {
    let mut out = [0.0; L];
    // SAFETY: `out` holds 16 f64; AVX-512F is available (module contract).
    unsafe {
        _mm512_storeu_pd(out.as_mut_ptr(), a);
        _mm512_storeu_pd(out.as_mut_ptr().add(8), b);
    }
    out
}

/// AVX-512 body of [`super::contiguous::sum_exp_excl`] over the full 16-lane blocks of `x`; returns
/// the per-lane sums and the index where the tail starts.
///
/// # Safety
/// AVX-512F/DQ and FMA must be available; `b`, if given, is as long as `x`.
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
pub unsafe fn sum_exp_excl<T: crate::Real>(
    x: &[T],
    b: Option<&[T]>,
    m: f64,
    inv_t: f64,
) -> ([f64; L], [f64; L], usize) {
    let n = x.len() / L * L;
    let (vm, vt, ninf) = (
        _mm512_set1_pd(m),
        _mm512_set1_pd(inv_t),
        _mm512_set1_pd(f64::NEG_INFINITY),
    );
    let (mut s0, mut s1, mut w0, mut w1) = (
        _mm512_setzero_pd(),
        _mm512_setzero_pd(),
        _mm512_setzero_pd(),
        _mm512_setzero_pd(),
    );
    let one = _mm512_set1_pd(1.0);
    let (unit, weighted) = (inv_t == 1.0, b.is_some());
    let mut i = 0;
    while i < n {
        // SAFETY: i + 16 <= n <= x.len() (and b.len() == x.len()).
        unsafe {
            let (mut v0, mut v1) = (T::load8(x.as_ptr().add(i)), T::load8(x.as_ptr().add(i + 8)));
            let (mut b0, mut b1) = (one, one);
            if let Some(b) = b {
                b0 = T::load8(b.as_ptr().add(i));
                b1 = T::load8(b.as_ptr().add(i + 8));
                let z = _mm512_setzero_pd();
                v0 = _mm512_mask_blend_pd(_mm512_cmp_pd_mask::<_CMP_EQ_OQ>(b0, z), v0, ninf);
                v1 = _mm512_mask_blend_pd(_mm512_cmp_pd_mask::<_CMP_EQ_OQ>(b1, z), v1, ninf);
            }
            let e0 = exp8_nonpos(shift(v0, vm, vt, unit));
            let e1 = exp8_nonpos(shift(v1, vm, vt, unit));
            let at0 = _mm512_cmp_pd_mask::<_CMP_EQ_OQ>(v0, vm);
            let at1 = _mm512_cmp_pd_mask::<_CMP_EQ_OQ>(v1, vm);
            // Lanes at the maximum add their weight to w, the others b*e to s (as the portable body).
            if weighted {
                s0 = _mm512_mask3_fmadd_pd(b0, e0, s0, !at0);
                s1 = _mm512_mask3_fmadd_pd(b1, e1, s1, !at1);
            } else {
                s0 = _mm512_mask_add_pd(s0, !at0, s0, e0);
                s1 = _mm512_mask_add_pd(s1, !at1, s1, e1);
            }
            w0 = _mm512_mask_add_pd(w0, at0, w0, b0);
            w1 = _mm512_mask_add_pd(w1, at1, w1, b1);
        }
        i += L;
    }
    // The tail, eight lanes at a time under a mask, into the first accumulators.
    while i < x.len() {
        let k: __mmask8 = (0xffu16 >> 8usize.saturating_sub(x.len() - i).min(8)) as u8;
        // SAFETY: only lanes below x.len() (and b.len() == x.len()) are selected.
        unsafe {
            let mut v = T::load8_masked(x.as_ptr().add(i), k);
            let mut w = one;
            if let Some(b) = b {
                w = T::load8_masked(b.as_ptr().add(i), k);
                v = _mm512_mask_blend_pd(
                    _mm512_cmp_pd_mask::<_CMP_EQ_OQ>(w, _mm512_setzero_pd()),
                    v,
                    ninf,
                );
            }
            let e = exp8_nonpos(shift(v, vm, vt, unit));
            let at = _mm512_cmp_pd_mask::<_CMP_EQ_OQ>(v, vm) & k;
            let rest = !at & k;
            s0 = if weighted {
                _mm512_mask3_fmadd_pd(w, e, s0, rest)
            } else {
                _mm512_mask_add_pd(s0, rest, s0, e)
            };
            w0 = _mm512_mask_add_pd(w0, at, w0, w);
        }
        i += 8;
    }
    (to_array(s0, s1), to_array(w0, w1), x.len())
}

/// AVX-512 body of [`super::contiguous::exp_store`] over the full 16-lane blocks; returns the per-lane
/// sums and the index where the tail starts.
///
/// # Safety
/// AVX-512F/DQ and FMA must be available; `out` is as long as `x`.
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
pub unsafe fn exp_store<T: crate::Real, U: crate::Real>(
    x: &[T],
    m: f64,
    inv_t: f64,
    out: &mut [U],
) -> ([f64; L], usize) {
    let n = x.len().min(out.len()) / L * L;
    let (vm, vt) = (_mm512_set1_pd(m), _mm512_set1_pd(inv_t));
    let (mut s0, mut s1) = (_mm512_setzero_pd(), _mm512_setzero_pd());
    let unit = inv_t == 1.0;
    let mut i = 0;
    while i < n {
        // SAFETY: i + 16 <= n <= min(x.len(), out.len()).
        unsafe {
            let e0 = exp8_nonpos(shift(T::load8(x.as_ptr().add(i)), vm, vt, unit));
            let e1 = exp8_nonpos(shift(T::load8(x.as_ptr().add(i + 8)), vm, vt, unit));
            U::store8(out.as_mut_ptr().add(i), e0);
            U::store8(out.as_mut_ptr().add(i + 8), e1);
            s0 = _mm512_add_pd(s0, e0);
            s1 = _mm512_add_pd(s1, e1);
        }
        i += L;
    }
    while i < x.len().min(out.len()) {
        let k: __mmask8 =
            (0xffu16 >> 8usize.saturating_sub(x.len().min(out.len()) - i).min(8)) as u8;
        // SAFETY: only lanes below min(x.len(), out.len()) are selected.
        unsafe {
            let e = exp8_nonpos(shift(T::load8_masked(x.as_ptr().add(i), k), vm, vt, unit));
            U::store8_masked(out.as_mut_ptr().add(i), k, e);
            s0 = _mm512_mask_add_pd(s0, k, s0, e);
        }
        i += 8;
    }
    (to_array(s0, s1), x.len().min(out.len()))
}

/// AVX-512 body of [`super::strided::sum_exp_excl_into`] over the full 8-lane blocks; returns the
/// index where the tail starts.
///
/// # Safety
/// AVX-512F/DQ and FMA must be available; `b` (if given), `m`, `s` and `sw` are at least as long
/// as `x`.
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
pub unsafe fn lanes_sum_exp_excl<T: crate::Real>(
    x: &[T],
    b: Option<&[T]>,
    m: &[f64],
    inv_t: f64,
    s: &mut [f64],
    sw: &mut [f64],
) -> usize {
    let n = x.len();
    let (vt, unit, one) = (_mm512_set1_pd(inv_t), inv_t == 1.0, _mm512_set1_pd(1.0));
    let (ninf, z) = (_mm512_set1_pd(f64::NEG_INFINITY), _mm512_setzero_pd());
    let mut j = 0;
    while j < n {
        let k: __mmask8 = (0xffu16 >> 8usize.saturating_sub(n - j).min(8)) as u8;
        // SAFETY: only lanes below n <= every slice's length are selected (caller's contract).
        unsafe {
            let mut v = T::load8_masked(x.as_ptr().add(j), k);
            let mut w = one;
            if let Some(b) = b {
                w = T::load8_masked(b.as_ptr().add(j), k);
                v = _mm512_mask_blend_pd(_mm512_cmp_pd_mask::<_CMP_EQ_OQ>(w, z), v, ninf);
            }
            let vm = _mm512_maskz_loadu_pd(k, m.as_ptr().add(j));
            let e = exp8_nonpos(shift(v, vm, vt, unit));
            let at = _mm512_cmp_pd_mask::<_CMP_EQ_OQ>(v, vm);
            let acc = _mm512_maskz_loadu_pd(k, s.as_ptr().add(j));
            _mm512_mask_storeu_pd(
                s.as_mut_ptr().add(j),
                k,
                _mm512_mask3_fmadd_pd(w, e, acc, !at),
            );
            let accw = _mm512_maskz_loadu_pd(k, sw.as_ptr().add(j));
            _mm512_mask_storeu_pd(
                sw.as_mut_ptr().add(j),
                k,
                _mm512_mask_add_pd(accw, at, accw, w),
            );
        }
        j += 8;
    }
    n
}

/// AVX-512 body of [`super::strided::exp_store_into`] (the last block under a mask); returns
/// `x.len()`.
///
/// # Safety
/// AVX-512F/DQ and FMA must be available; `m`, `out` and `s` are at least as long as `x`.
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
pub unsafe fn lanes_exp_store<T: crate::Real>(
    x: &[T],
    m: &[f64],
    inv_t: f64,
    out: &mut [T],
    s: &mut [f64],
) -> usize {
    let n = x.len();
    let (vt, unit) = (_mm512_set1_pd(inv_t), inv_t == 1.0);
    let mut j = 0;
    while j < n {
        let k: __mmask8 = (0xffu16 >> 8usize.saturating_sub(n - j).min(8)) as u8;
        // SAFETY: only lanes below n <= every slice's length are selected (caller's contract).
        unsafe {
            let vm = _mm512_maskz_loadu_pd(k, m.as_ptr().add(j));
            let e = exp8_nonpos(shift(T::load8_masked(x.as_ptr().add(j), k), vm, vt, unit));
            T::store8_masked(out.as_mut_ptr().add(j), k, e);
            let acc = _mm512_maskz_loadu_pd(k, s.as_ptr().add(j));
            _mm512_mask_storeu_pd(s.as_mut_ptr().add(j), k, _mm512_add_pd(acc, e));
        }
        j += 8;
    }
    n
}

/// `out = src * c` with non-temporal stores: for results too large to stay in cache, this writes
/// them without first reading the destination lines (no read-for-ownership), a third less memory
/// traffic than `out = ...; out *= c`. Returns the index where the unstreamed tail starts.
///
/// # Safety
/// AVX-512F must be available; `out` is at least as long as `src`. Call [`store_fence`] before
/// another thread reads `out`.
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
pub unsafe fn scale_stream<T: crate::Real>(src: &[f64], c: f64, out: &mut [T]) -> usize {
    let n = src.len().min(out.len());
    let align = 8 * std::mem::size_of::<T>();
    // Plain stores up to the first aligned destination.
    let mut i = 0;
    while i < n && !(out.as_ptr() as usize + i * std::mem::size_of::<T>()).is_multiple_of(align) {
        out[i] = T::from_f64(src[i] * c);
        i += 1;
    }
    let vc = _mm512_set1_pd(c);
    while i + 8 <= n {
        // SAFETY: i + 8 <= n; `out[i..]` is aligned to `align` (loop above, element-sized steps).
        unsafe {
            let v = _mm512_mul_pd(_mm512_loadu_pd(src.as_ptr().add(i)), vc);
            T::stream8(out.as_mut_ptr().add(i), v);
        }
        i += 8;
    }
    i
}

/// `out = (x - m) / t - c` (the last pass of log-softmax) with non-temporal stores; returns the
/// index where the unstreamed tail starts.
///
/// # Safety
/// AVX-512F must be available; `out` is at least as long as `x`. Call [`store_fence`] before
/// another thread reads `out`.
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
pub unsafe fn shift_sub_stream<T: crate::Real>(
    x: &[T],
    m: f64,
    inv_t: f64,
    c: f64,
    out: &mut [T],
) -> usize {
    let n = x.len().min(out.len());
    let align = 8 * std::mem::size_of::<T>();
    let mut i = 0;
    while i < n && !(out.as_ptr() as usize + i * std::mem::size_of::<T>()).is_multiple_of(align) {
        out[i] = T::from_f64((x[i].to_f64() - m) * inv_t - c);
        i += 1;
    }
    let (vm, vt, vc) = (_mm512_set1_pd(m), _mm512_set1_pd(inv_t), _mm512_set1_pd(c));
    while i + 8 <= n {
        // SAFETY: i + 8 <= n; `out[i..]` is aligned to `align` (loop above).
        unsafe {
            let d = _mm512_mul_pd(_mm512_sub_pd(T::load8(x.as_ptr().add(i)), vm), vt);
            T::stream8(out.as_mut_ptr().add(i), _mm512_sub_pd(d, vc));
        }
        i += 8;
    }
    i
}

/// Orders earlier non-temporal stores before later stores (SFENCE).
pub fn store_fence() {
    // SAFETY: SSE is part of the x86-64 baseline.
    unsafe { _mm_sfence() }
}

/// Public wrapper for tests: `e^x` of eight values.
pub fn exp8_array(x: [f64; 8]) -> [f64; 8] {
    assert!(
        super::level() >= super::Level::Avx512,
        "exp8_array needs AVX-512"
    );
    let mut out = [0.0; 8];
    // SAFETY: AVX-512 checked above; `x` and `out` hold eight f64.
    unsafe { exp8_tf(x.as_ptr(), out.as_mut_ptr()) };
    out
}

#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
unsafe fn exp8_tf(x: *const f64, out: *mut f64) {
    // SAFETY: both point at eight f64 (see exp8_array).
    unsafe { _mm512_storeu_pd(out, exp8(_mm512_loadu_pd(x))) }
}
