//! Hand-written AVX2+FMA versions of the exp-heavy loops, for CPUs without AVX-512 (where the
//! auto-vectorised portable bodies run 2-3x slower). Same maths as [`super::exp`]; without
//! `VSCALEFPD`, `2^k` is applied as two exact power-of-two factors built in the exponent bits, so
//! subnormal results and overflow are still right. Tails go through a padded stack buffer.
//!
//! Every function here requires AVX2 and FMA; callers check [`super::level`] first.

use std::arch::x86_64::*;

use super::contiguous::L;
use super::exp::{C, LN2_HI, LN2_LO, LOG2E};
use crate::real::Real;

/// `1.5 * 2^52`: adding it rounds to an integer held in the low mantissa bits.
const SHIFT: f64 = 6_755_399_441_055_744.0;

/// Four lanes of `T` widened to `f64`.
pub trait Load4 {
    /// Loads `p[0..4]` as f64.
    ///
    /// # Safety
    /// `p..p+4` must be readable; AVX must be available.
    unsafe fn load4(p: *const Self) -> __m256d;
    /// Stores four f64 lanes narrowed to `Self` at `p[0..4]`.
    ///
    /// # Safety
    /// `p..p+4` must be writable; AVX must be available.
    unsafe fn store4(p: *mut Self, v: __m256d);
    /// Like [`Load4::store4`] with a non-temporal (streaming) store.
    ///
    /// # Safety
    /// As `store4`, and `p` must be aligned to `4 * size_of::<Self>()` bytes.
    unsafe fn stream4(p: *mut Self, v: __m256d);
}

impl Load4 for f64 {
    #[inline(always)]
    unsafe fn load4(p: *const f64) -> __m256d {
        // SAFETY: guaranteed by the caller.
        unsafe { _mm256_loadu_pd(p) }
    }
    #[inline(always)]
    unsafe fn store4(p: *mut f64, v: __m256d) {
        // SAFETY: guaranteed by the caller.
        unsafe { _mm256_storeu_pd(p, v) }
    }
    #[inline(always)]
    unsafe fn stream4(p: *mut f64, v: __m256d) {
        // SAFETY: guaranteed by the caller (32-byte aligned, writable).
        unsafe { _mm256_stream_pd(p, v) }
    }
}

impl Load4 for f32 {
    #[inline(always)]
    unsafe fn load4(p: *const f32) -> __m256d {
        // SAFETY: guaranteed by the caller.
        unsafe { _mm256_cvtps_pd(_mm_loadu_ps(p)) }
    }
    #[inline(always)]
    unsafe fn store4(p: *mut f32, v: __m256d) {
        // SAFETY: guaranteed by the caller.
        unsafe { _mm_storeu_ps(p, _mm256_cvtpd_ps(v)) }
    }
    #[inline(always)]
    unsafe fn stream4(p: *mut f32, v: __m256d) {
        // SAFETY: guaranteed by the caller (16-byte aligned, writable).
        unsafe { _mm_stream_ps(p, _mm256_cvtpd_ps(v)) }
    }
}

/// `2^k` for integer-valued lanes `k` in `[-1022, 1023]`, built in the exponent bits.
#[inline(always)]
unsafe fn pow2(k: __m256d) -> __m256d {
    // SAFETY: AVX2 available (caller's contract).
    unsafe {
        let bits = _mm256_castpd_si256(_mm256_add_pd(k, _mm256_set1_pd(SHIFT)));
        let biased = _mm256_add_epi64(
            bits,
            _mm256_set1_epi64x(1023i64.wrapping_sub(SHIFT.to_bits() as i64)),
        );
        _mm256_castsi256_pd(_mm256_slli_epi64::<52>(biased))
    }
}

/// `e^x` on four lanes; NaN stays NaN, `-inf` gives 0, `+inf` gives `inf`.
#[inline(always)]
unsafe fn exp4(x: __m256d) -> __m256d {
    // SAFETY: AVX2 and FMA available (caller's contract).
    unsafe {
        // VMAXPD/VMINPD return the second operand when either is NaN: NaN passes through.
        let x = _mm256_max_pd(_mm256_set1_pd(-760.0), x);
        let x = _mm256_min_pd(_mm256_set1_pd(720.0), x);
        let kf = _mm256_round_pd::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
            _mm256_mul_pd(x, _mm256_set1_pd(LOG2E)),
        );
        let r = _mm256_fnmadd_pd(kf, _mm256_set1_pd(LN2_HI), x);
        let r = _mm256_fnmadd_pd(kf, _mm256_set1_pd(LN2_LO), r);
        let mut q = _mm256_set1_pd(C[9]);
        for &c in C[..9].iter().rev() {
            q = _mm256_fmadd_pd(q, r, _mm256_set1_pd(c));
        }
        // 1 + r (1 + r q) = 1 + r + r^2 q, two FMAs.
        let one = _mm256_set1_pd(1.0);
        let p = _mm256_fmadd_pd(_mm256_fmadd_pd(q, r, one), r, one);
        let k1 = _mm256_round_pd::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
            _mm256_mul_pd(kf, _mm256_set1_pd(0.5)),
        );
        let k2 = _mm256_sub_pd(kf, k1);
        _mm256_mul_pd(_mm256_mul_pd(p, pow2(k1)), pow2(k2))
    }
}

/// `(x - m) / t`, skipping the multiply at unit temperature.
#[inline(always)]
unsafe fn shift(x: __m256d, m: __m256d, inv_t: __m256d, unit: bool) -> __m256d {
    // SAFETY: AVX available (caller's contract).
    unsafe {
        let d = _mm256_sub_pd(x, m);
        if unit {
            d
        } else {
            _mm256_mul_pd(d, inv_t)
        }
    }
}

/// Up to four values of `x[i..]` widened, padded with `pad`.
#[inline(always)]
unsafe fn load_tail<T: Real>(x: &[T], pad: f64) -> __m256d {
    let mut buf = [pad; 4];
    for (b, v) in buf.iter_mut().zip(x) {
        *b = v.to_f64();
    }
    // SAFETY: `buf` holds four f64; AVX available (caller's contract).
    unsafe { _mm256_loadu_pd(buf.as_ptr()) }
}

/// Stores the first `out.len()` (at most four) lanes of `v`.
#[inline(always)]
unsafe fn store_tail<T: Real>(out: &mut [T], v: __m256d) {
    let mut buf = [0.0; 4];
    // SAFETY: `buf` holds four f64; AVX available (caller's contract).
    unsafe { _mm256_storeu_pd(buf.as_mut_ptr(), v) };
    for (o, b) in out.iter_mut().zip(buf) {
        *o = T::from_f64(b);
    }
}

fn to_array(v: [__m256d; 4]) -> [f64; L] {
    let mut out = [0.0; L];
    for (k, x) in v.iter().enumerate() {
        // SAFETY: `out` holds 16 f64; AVX is available (module contract).
        unsafe { _mm256_storeu_pd(out.as_mut_ptr().add(4 * k), *x) };
    }
    out
}

/// One block of four: `(s, w)` updated as in [`super::contiguous::sum_exp_excl`].
#[inline(always)]
unsafe fn sum_block(
    v: __m256d,
    b: Option<__m256d>,
    vm: __m256d,
    vt: __m256d,
    unit: bool,
    acc: (__m256d, __m256d),
) -> (__m256d, __m256d) {
    // SAFETY: AVX2 and FMA available (caller's contract).
    unsafe {
        let (v, w) = match b {
            Some(w) => {
                let zero = _mm256_cmp_pd::<_CMP_EQ_OQ>(w, _mm256_setzero_pd());
                (
                    _mm256_blendv_pd(v, _mm256_set1_pd(f64::NEG_INFINITY), zero),
                    w,
                )
            }
            None => (v, _mm256_set1_pd(1.0)),
        };
        let e = exp4(shift(v, vm, vt, unit));
        let at = _mm256_cmp_pd::<_CMP_EQ_OQ>(v, vm);
        // Lanes at the maximum add their weight to w, the others b*e to s.
        let s = _mm256_add_pd(acc.0, _mm256_andnot_pd(at, _mm256_mul_pd(w, e)));
        let sw = _mm256_add_pd(acc.1, _mm256_and_pd(at, w));
        (s, sw)
    }
}

/// AVX2 body of [`super::contiguous::sum_exp_excl`]: per-lane sums over all of `x`.
///
/// # Safety
/// AVX2 and FMA must be available; `b`, if given, is as long as `x`.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn sum_exp_excl<T: Real>(
    x: &[T],
    b: Option<&[T]>,
    m: f64,
    inv_t: f64,
) -> ([f64; L], [f64; L]) {
    let (vm, vt, unit) = (_mm256_set1_pd(m), _mm256_set1_pd(inv_t), inv_t == 1.0);
    let z = _mm256_setzero_pd();
    let mut acc = [(z, z); 4];
    let n = x.len() / 16 * 16;
    let mut i = 0;
    while i < n {
        for (k, a) in acc.iter_mut().enumerate() {
            // SAFETY: i + 4k + 4 <= n <= x.len() == b.len().
            unsafe {
                let v = T::load4(x.as_ptr().add(i + 4 * k));
                let w = b.map(|b| T::load4(b.as_ptr().add(i + 4 * k)));
                *a = sum_block(v, w, vm, vt, unit, *a);
            }
        }
        i += 16;
    }
    let mut k = 0;
    while i < x.len() {
        let end = (i + 4).min(x.len());
        // SAFETY: the tail is read through padded buffers; padding is -inf (weight 0), adding 0.
        unsafe {
            let v = load_tail(&x[i..end], f64::NEG_INFINITY);
            let w = b.map(|b| load_tail(&b[i..end], 0.0));
            acc[k] = sum_block(v, w, vm, vt, unit, acc[k]);
        }
        i = end;
        k += 1;
    }
    (to_array(acc.map(|a| a.0)), to_array(acc.map(|a| a.1)))
}

/// AVX2 body of [`super::contiguous::exp_store`]: writes all of `out`, returns per-lane sums.
///
/// # Safety
/// AVX2 and FMA must be available; `out` is as long as `x`.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn exp_store<T: Real, U: Real>(x: &[T], m: f64, inv_t: f64, out: &mut [U]) -> [f64; L] {
    let (vm, vt, unit) = (_mm256_set1_pd(m), _mm256_set1_pd(inv_t), inv_t == 1.0);
    let mut acc = [_mm256_setzero_pd(); 4];
    let len = x.len().min(out.len());
    let n = len / 16 * 16;
    let mut i = 0;
    while i < n {
        for (k, a) in acc.iter_mut().enumerate() {
            // SAFETY: i + 4k + 4 <= n <= min(x.len(), out.len()).
            unsafe {
                let e = exp4(shift(T::load4(x.as_ptr().add(i + 4 * k)), vm, vt, unit));
                U::store4(out.as_mut_ptr().add(i + 4 * k), e);
                *a = _mm256_add_pd(*a, e);
            }
        }
        i += 16;
    }
    let mut k = 0;
    while i < len {
        let end = (i + 4).min(len);
        // SAFETY: padded buffers; the -inf padding exponentiates to 0 and adds nothing.
        unsafe {
            let e = exp4(shift(
                load_tail(&x[i..end], f64::NEG_INFINITY),
                vm,
                vt,
                unit,
            ));
            store_tail(&mut out[i..end], e);
            acc[k] = _mm256_add_pd(acc[k], e);
        }
        i = end;
        k += 1;
    }
    to_array(acc)
}

/// AVX2 body of [`super::strided::sum_exp_excl_into`].
///
/// # Safety
/// AVX2 and FMA must be available; `b` (if given), `m`, `s` and `sw` are at least as long as `x`.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn lanes_sum_exp_excl<T: Real>(
    x: &[T],
    b: Option<&[T]>,
    m: &[f64],
    inv_t: f64,
    s: &mut [f64],
    sw: &mut [f64],
) {
    let (vt, unit) = (_mm256_set1_pd(inv_t), inv_t == 1.0);
    let mut j = 0;
    while j < x.len() {
        let end = (j + 4).min(x.len());
        // SAFETY: full blocks are in bounds of every slice (caller's contract); a short last
        // block goes through padded buffers (x = -inf, weight 0: it adds nothing).
        unsafe {
            let (v, w, vm, acc) = if end - j == 4 {
                let w = b.map(|b| T::load4(b.as_ptr().add(j)));
                let acc = (
                    _mm256_loadu_pd(s.as_ptr().add(j)),
                    _mm256_loadu_pd(sw.as_ptr().add(j)),
                );
                (
                    T::load4(x.as_ptr().add(j)),
                    w,
                    _mm256_loadu_pd(m.as_ptr().add(j)),
                    acc,
                )
            } else {
                let w = b.map(|b| load_tail(&b[j..end], 0.0));
                let acc = (load_tail(&s[j..end], 0.0), load_tail(&sw[j..end], 0.0));
                (
                    load_tail(&x[j..end], f64::NEG_INFINITY),
                    w,
                    load_tail(&m[j..end], 0.0),
                    acc,
                )
            };
            let (ns, nw) = sum_block(v, w, vm, vt, unit, acc);
            store_tail(&mut s[j..end], ns);
            store_tail(&mut sw[j..end], nw);
        }
        j = end;
    }
}

/// AVX2 body of [`super::strided::exp_store_into`].
///
/// # Safety
/// AVX2 and FMA must be available; `m`, `out` and `s` are at least as long as `x`.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn lanes_exp_store<T: Real>(
    x: &[T],
    m: &[f64],
    inv_t: f64,
    out: &mut [T],
    s: &mut [f64],
) {
    let (vt, unit) = (_mm256_set1_pd(inv_t), inv_t == 1.0);
    let mut j = 0;
    while j < x.len() {
        let end = (j + 4).min(x.len());
        // SAFETY: full blocks are in bounds of every slice (caller's contract); a short last
        // block goes through padded buffers.
        unsafe {
            if end - j == 4 {
                let e = exp4(shift(
                    T::load4(x.as_ptr().add(j)),
                    _mm256_loadu_pd(m.as_ptr().add(j)),
                    vt,
                    unit,
                ));
                T::store4(out.as_mut_ptr().add(j), e);
                _mm256_storeu_pd(
                    s.as_mut_ptr().add(j),
                    _mm256_add_pd(_mm256_loadu_pd(s.as_ptr().add(j)), e),
                );
            } else {
                let v = load_tail(&x[j..end], f64::NEG_INFINITY);
                let e = exp4(shift(v, load_tail(&m[j..end], 0.0), vt, unit));
                store_tail(&mut out[j..end], e);
                let acc = _mm256_add_pd(load_tail(&s[j..end], 0.0), e);
                store_tail(&mut s[j..end], acc);
            }
        }
        j = end;
    }
}

/// `out = f(x)` for the streaming passes: plain stores up to the first aligned destination, then
/// non-temporal stores four lanes at a time; returns where the unstreamed tail starts.
#[inline(always)]
unsafe fn stream_map<S: Copy, T: Real>(
    src: &[S],
    out: &mut [T],
    load: impl Fn(*const S) -> __m256d,
    f: impl Fn(__m256d) -> __m256d,
    one: impl Fn(S) -> f64,
) -> usize {
    let n = src.len().min(out.len());
    let align = 4 * std::mem::size_of::<T>();
    let mut i = 0;
    while i < n && !(out.as_ptr() as usize + i * std::mem::size_of::<T>()).is_multiple_of(align) {
        let mut buf = [0.0; 4];
        buf[0] = one(src[i]);
        // SAFETY: `buf` holds four f64; AVX available (caller's contract).
        let v = unsafe { f(_mm256_loadu_pd(buf.as_ptr())) };
        // SAFETY: as above.
        unsafe { _mm256_storeu_pd(buf.as_mut_ptr(), v) };
        out[i] = T::from_f64(buf[0]);
        i += 1;
    }
    while i + 4 <= n {
        // SAFETY: i + 4 <= n; `out[i..]` is aligned to `align` (loop above).
        unsafe { T::stream4(out.as_mut_ptr().add(i), f(load(src.as_ptr().add(i)))) };
        i += 4;
    }
    i
}

/// `out = src * c` with non-temporal stores (see [`super::avx512::scale_stream`]).
///
/// # Safety
/// AVX2 must be available; `out` is at least as long as `src`. Fence before other threads read.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn scale_stream<T: Real>(src: &[f64], c: f64, out: &mut [T]) -> usize {
    let vc = _mm256_set1_pd(c);
    // SAFETY: forwarded contract; loads are in bounds (stream_map only loads below n).
    unsafe {
        stream_map(
            src,
            out,
            |p| _mm256_loadu_pd(p),
            |v| _mm256_mul_pd(v, vc),
            |v| v,
        )
    }
}

/// `out = (x - m) / t - c` with non-temporal stores.
///
/// # Safety
/// AVX2 must be available; `out` is at least as long as `x`. Fence before other threads read.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn shift_sub_stream<T: Real>(
    x: &[T],
    m: f64,
    inv_t: f64,
    c: f64,
    out: &mut [T],
) -> usize {
    let (vm, vt, vc) = (_mm256_set1_pd(m), _mm256_set1_pd(inv_t), _mm256_set1_pd(c));
    // SAFETY: forwarded contract; loads are in bounds (stream_map only loads below n).
    unsafe {
        stream_map(
            x,
            out,
            |p| T::load4(p),
            |v| _mm256_sub_pd(_mm256_mul_pd(_mm256_sub_pd(v, vm), vt), vc),
            |v| v.to_f64(),
        )
    }
}

/// Public wrapper for tests: `e^x` of four values.
pub fn exp4_array(x: [f64; 4]) -> [f64; 4] {
    assert!(
        super::level() >= super::Level::Avx2,
        "exp4_array needs AVX2"
    );
    let mut out = [0.0; 4];
    // SAFETY: AVX2 and FMA checked above; both arrays hold four f64.
    unsafe { exp4_tf(&x, &mut out) };
    out
}

#[target_feature(enable = "avx2,fma")]
unsafe fn exp4_tf(x: &[f64; 4], out: &mut [f64; 4]) {
    // SAFETY: both hold four f64.
    unsafe { _mm256_storeu_pd(out.as_mut_ptr(), exp4(_mm256_loadu_pd(x.as_ptr()))) }
}
