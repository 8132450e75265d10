//! Hot loops over one contiguous slice: the passes of log-sum-exp and softmax.
//!
//! Each body works on blocks of [`L`] elements with one accumulator per lane, so the order of every
//! floating-point sum is fixed by the code (not by the SIMD level or the thread count).
//! Weighted variants read a weight `b` beside each `x`; an entry whose weight is zero is masked to
//! `-inf` and contributes nothing, whatever its `x` (as `scipy.special.logsumexp` does).

use super::exp::exp;
use super::{dispatch, Level};
use crate::real::Real;

/// Lanes per block: accumulators per kernel.
pub const L: usize = 16;

/// NaN-propagating maximum: once a lane has seen NaN it stays NaN.
#[inline(always)]
pub(crate) fn pmax(acc: f64, v: f64) -> f64 {
    if v > acc || v.is_nan() {
        v
    } else {
        acc
    }
}

/// Sums a lane array pairwise in a fixed order.
#[inline(always)]
fn hsum(a: [f64; L]) -> f64 {
    let mut w = a;
    let mut n = L;
    while n > 1 {
        n /= 2;
        for i in 0..n {
            w[i] += w[i + n];
        }
    }
    w[0]
}

/// A source of `(masked value, weight)` pairs.
trait Src: Copy {
    fn len(self) -> usize;
    fn block(self, s: usize) -> ([f64; L], [f64; L]);
    fn one(self, i: usize) -> (f64, f64);
}

#[derive(Clone, Copy)]
struct Plain<'a, T>(&'a [T]);
#[derive(Clone, Copy)]
struct Weighted<'a, T>(&'a [T], &'a [T]);

impl<T: Real> Src for Plain<'_, T> {
    #[inline(always)]
    fn len(self) -> usize {
        self.0.len()
    }
    #[inline(always)]
    fn block(self, s: usize) -> ([f64; L], [f64; L]) {
        let x = &self.0[s..s + L];
        (std::array::from_fn(|j| x[j].to_f64()), [1.0; L])
    }
    #[inline(always)]
    fn one(self, i: usize) -> (f64, f64) {
        (self.0[i].to_f64(), 1.0)
    }
}

impl<T: Real> Src for Weighted<'_, T> {
    #[inline(always)]
    fn len(self) -> usize {
        self.0.len()
    }
    #[inline(always)]
    fn block(self, s: usize) -> ([f64; L], [f64; L]) {
        let x = &self.0[s..s + L];
        let b = &self.1[s..s + L];
        let w: [f64; L] = std::array::from_fn(|j| b[j].to_f64());
        (
            std::array::from_fn(|j| {
                if w[j] == 0.0 {
                    f64::NEG_INFINITY
                } else {
                    x[j].to_f64()
                }
            }),
            w,
        )
    }
    #[inline(always)]
    fn one(self, i: usize) -> (f64, f64) {
        let w = self.1[i].to_f64();
        (
            if w == 0.0 {
                f64::NEG_INFINITY
            } else {
                self.0[i].to_f64()
            },
            w,
        )
    }
}

macro_rules! with_src {
    ($x:expr, $b:expr, |$s:ident| $body:expr) => {
        match $b {
            None => {
                let $s = Plain($x);
                $body
            }
            Some(b) => {
                let $s = Weighted($x, b);
                $body
            }
        }
    };
}

#[inline(always)]
fn max_body<S: Src>(s: S) -> f64 {
    let n = s.len();
    let mut acc = [f64::NEG_INFINITY; L];
    let mut i = 0;
    while i + L <= n {
        let (v, _) = s.block(i);
        for j in 0..L {
            acc[j] = pmax(acc[j], v[j]);
        }
        i += L;
    }
    let mut m = acc.iter().fold(f64::NEG_INFINITY, |a, &v| pmax(a, v));
    while i < n {
        m = pmax(m, s.one(i).0);
        i += 1;
    }
    m
}

/// Maximum of `x` over entries with non-zero weight; NaN if any such entry is NaN; `-inf` if none.
pub fn max<T: Real>(level: Level, x: &[T], b: Option<&[T]>) -> f64 {
    dispatch(
        level,
        #[inline(always)]
        || with_src!(x, b, |s| max_body(s)),
    )
}

#[inline(always)]
fn sum_exp_excl_body<S: Src, const FMA: bool>(s: S, m: f64, inv_t: f64) -> (f64, f64) {
    let n = s.len();
    let (mut acc, mut accw) = ([0.0; L], [0.0; L]);
    let mut i = 0;
    while i + L <= n {
        let (v, w) = s.block(i);
        for j in 0..L {
            let e = exp::<FMA>((v[j] - m) * inv_t);
            let at_max = v[j] == m;
            acc[j] += if at_max { 0.0 } else { w[j] * e };
            accw[j] += if at_max { w[j] } else { 0.0 };
        }
        i += L;
    }
    let (mut sum, mut sumw) = (hsum(acc), hsum(accw));
    while i < n {
        let (v, w) = s.one(i);
        if v == m {
            sumw += w;
        } else {
            sum += w * exp::<FMA>((v - m) * inv_t);
        }
        i += 1;
    }
    (sum, sumw)
}

/// Given the maximum `m`, returns `(Σ_{x<m} b e^{(x-m)/t}, Σ_{x=m} b)`: the sum split so that the
/// largest terms are counted exactly (for `log1p` accuracy, as in Blanchard, Higham & Higham 2021).
pub fn sum_exp_excl<T: Real>(
    level: Level,
    x: &[T],
    b: Option<&[T]>,
    m: f64,
    inv_t: f64,
) -> (f64, f64) {
    #[cfg(target_arch = "x86_64")]
    if level.min(super::level()) == Level::Avx512 {
        if let Some(r) = avx512_sum_exp_excl(x, b, m, inv_t) {
            return r;
        }
    }
    #[cfg(target_arch = "x86_64")]
    if level.min(super::level()) == Level::Avx2 && b.is_none_or(|b| b.len() == x.len()) {
        // SAFETY: AVX2 and FMA are available; `b` has the length of `x`.
        let (s, w) = unsafe { super::avx2::sum_exp_excl(x, b, m, inv_t) };
        return (hsum(s), hsum(w));
    }
    if level.min(super::level()).fma() {
        dispatch(
            level,
            #[inline(always)]
            || with_src!(x, b, |s| sum_exp_excl_body::<_, true>(s, m, inv_t)),
        )
    } else {
        dispatch(
            level,
            #[inline(always)]
            || with_src!(x, b, |s| sum_exp_excl_body::<_, false>(s, m, inv_t)),
        )
    }
}

#[inline(always)]
fn exp_store_body<T: Real, U: Real, const FMA: bool>(
    x: &[T],
    m: f64,
    inv_t: f64,
    out: &mut [U],
) -> f64 {
    let mut acc = [0.0; L];
    let mut xs = x.chunks_exact(L);
    let mut os = out.chunks_exact_mut(L);
    for (xc, oc) in (&mut xs).zip(&mut os) {
        for j in 0..L {
            let e = exp::<FMA>((xc[j].to_f64() - m) * inv_t);
            oc[j] = U::from_f64(e);
            acc[j] += e;
        }
    }
    let mut sum = hsum(acc);
    for (xv, o) in xs.remainder().iter().zip(os.into_remainder()) {
        let e = exp::<FMA>((xv.to_f64() - m) * inv_t);
        *o = U::from_f64(e);
        sum += e;
    }
    sum
}

/// Writes `out = e^{(x-m)/t}` and returns its sum. `out` must be as long as `x`.
pub fn exp_store<T: Real, U: Real>(
    level: Level,
    x: &[T],
    m: f64,
    inv_t: f64,
    out: &mut [U],
) -> f64 {
    assert_eq!(x.len(), out.len(), "exp_store: length mismatch");
    #[cfg(target_arch = "x86_64")]
    if level.min(super::level()) == Level::Avx512 {
        if let Some(r) = avx512_exp_store(x, m, inv_t, out) {
            return r;
        }
    }
    #[cfg(target_arch = "x86_64")]
    if level.min(super::level()) == Level::Avx2 {
        // SAFETY: AVX2 and FMA are available; `out.len() == x.len()` (asserted above).
        return hsum(unsafe { super::avx2::exp_store(x, m, inv_t, out) });
    }
    if level.min(super::level()).fma() {
        dispatch(
            level,
            #[inline(always)]
            || exp_store_body::<T, U, true>(x, m, inv_t, out),
        )
    } else {
        dispatch(
            level,
            #[inline(always)]
            || exp_store_body::<T, U, false>(x, m, inv_t, out),
        )
    }
}

/// `out *= c`.
pub fn scale<T: Real>(level: Level, out: &mut [T], c: f64) {
    dispatch(
        level,
        #[inline(always)]
        || {
            out.iter_mut()
                .for_each(|o| *o = T::from_f64(o.to_f64() * c))
        },
    )
}

/// `out = (x - m)/t - c`, the last pass of log-softmax; with `stream`, on AVX-512, through
/// non-temporal stores (callers then fence with [`store_fence`]).
pub fn shift_sub<T: Real>(
    level: Level,
    x: &[T],
    m: f64,
    inv_t: f64,
    c: f64,
    out: &mut [T],
    stream: bool,
) {
    assert_eq!(x.len(), out.len(), "shift_sub: length mismatch");
    #[cfg(target_arch = "x86_64")]
    if stream && level.min(super::level()) == Level::Avx512 {
        // SAFETY: AVX-512 is available; `out` is as long as `x`.
        let i = unsafe { super::avx512::shift_sub_stream(x, m, inv_t, c, out) };
        for (o, v) in out[i..].iter_mut().zip(&x[i..]) {
            *o = T::from_f64((v.to_f64() - m) * inv_t - c);
        }
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if stream && level.min(super::level()) == Level::Avx2 {
        // SAFETY: AVX2 is available; `out` is as long as `x`.
        let i = unsafe { super::avx2::shift_sub_stream(x, m, inv_t, c, out) };
        for (o, v) in out[i..].iter_mut().zip(&x[i..]) {
            *o = T::from_f64((v.to_f64() - m) * inv_t - c);
        }
        return;
    }
    let _ = stream;
    dispatch(
        level,
        #[inline(always)]
        || {
            x.iter()
                .zip(out.iter_mut())
                .for_each(|(&v, o)| *o = T::from_f64((v.to_f64() - m) * inv_t - c))
        },
    )
}

/// The AVX-512 kernel over the full blocks, the portable body over the tail.
#[cfg(target_arch = "x86_64")]
fn avx512_sum_exp_excl<T: Real>(
    x: &[T],
    b: Option<&[T]>,
    m: f64,
    inv_t: f64,
) -> Option<(f64, f64)> {
    if b.is_some_and(|b| b.len() != x.len()) {
        return None;
    }
    // SAFETY: callers checked that the CPU has AVX-512; `b` has the length of `x`.
    let (s, w, i) = unsafe { super::avx512::sum_exp_excl(x, b, m, inv_t) };
    let tail = with_src!(&x[i..], b.map(|b| &b[i..]), |src| sum_exp_excl_body::<
        _,
        true,
    >(src, m, inv_t));
    Some((hsum(s) + tail.0, hsum(w) + tail.1))
}

/// The AVX-512 kernel over the full blocks, the portable body over the tail.
#[cfg(target_arch = "x86_64")]
fn avx512_exp_store<T: Real, U: Real>(x: &[T], m: f64, inv_t: f64, out: &mut [U]) -> Option<f64> {
    // SAFETY: callers checked that the CPU has AVX-512; `out.len() == x.len()` (asserted).
    let (s, i) = unsafe { super::avx512::exp_store(x, m, inv_t, out) };
    Some(hsum(s) + exp_store_body::<T, U, true>(&x[i..], m, inv_t, &mut out[i..]))
}

/// `out = src * c`; with `stream`, on AVX-512, through non-temporal stores (see
/// [`super::avx512::scale_stream`]); callers then fence with [`store_fence`].
pub fn scale_from<T: Real>(level: Level, src: &[f64], c: f64, out: &mut [T], stream: bool) {
    assert_eq!(src.len(), out.len(), "scale_from: length mismatch");
    #[cfg(target_arch = "x86_64")]
    if stream && level.min(super::level()) == Level::Avx512 {
        // SAFETY: AVX-512 is available; `out` is as long as `src`.
        let i = unsafe { super::avx512::scale_stream(src, c, out) };
        scale_tail(&src[i..], c, &mut out[i..]);
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if stream && level.min(super::level()) == Level::Avx2 {
        // SAFETY: AVX2 is available; `out` is as long as `src`.
        let i = unsafe { super::avx2::scale_stream(src, c, out) };
        scale_tail(&src[i..], c, &mut out[i..]);
        return;
    }
    let _ = stream;
    dispatch(
        level,
        #[inline(always)]
        || {
            out.iter_mut()
                .zip(src)
                .for_each(|(o, &v)| *o = T::from_f64(v * c))
        },
    )
}

fn scale_tail<T: Real>(src: &[f64], c: f64, out: &mut [T]) {
    out.iter_mut()
        .zip(src)
        .for_each(|(o, &v)| *o = T::from_f64(v * c));
}

/// Makes earlier streaming stores of this thread visible in order (a no-op off x86-64).
pub fn store_fence() {
    #[cfg(target_arch = "x86_64")]
    super::avx512::store_fence();
}
