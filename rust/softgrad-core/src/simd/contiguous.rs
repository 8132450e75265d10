//! Hot loops over one contiguous slice: the passes of log-sum-exp and softmax.
//!
//! Each kernel works on blocks of [`L`] elements with one accumulator per lane (two [`F64x`] of
//! [`W`] lanes, the same at every level), the tail under a lane mask, and adds the lanes pairwise at
//! the end, so the order of every floating-point sum is fixed by the code (not by the SIMD level or
//! the thread count). Weighted variants read a weight `b` beside each `x`; an entry whose weight is
//! zero is masked to `-inf` and contributes nothing, whatever its `x` (as `scipy.special.logsumexp`
//! does). `f32` data takes the bodies of [`contiguous32`](super::contiguous32): exponentials in
//! `f32` lanes, the same blocks and order of summation in `f64`.

use super::contiguous32 as c32;
use super::math::{exp_shifted_v, log_v};
use super::vector::{F64x, Isa, Kernel, W};
use super::{dispatch, stream, vectorize, Level};
use crate::real::Real;
pub(crate) use c32::{inv_t32, sum_exp_weights};

pub(crate) use super::stream::store_fence;

/// Lanes per block: accumulators per kernel.
pub(crate) const L: usize = 2 * W;

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

/// The lanes of two accumulators, summed pairwise.
#[inline(always)]
pub(super) fn hsum2<V: F64x>(acc: [V; 2]) -> f64 {
    let (a, b) = (acc[0].to_array(), acc[1].to_array());
    hsum(std::array::from_fn(|j| if j < W { a[j] } else { b[j - W] }))
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
pub(crate) fn max<T: Real>(level: Level, x: &[T], b: Option<&[T]>) -> f64 {
    if let Some(b) = b {
        assert_eq!(b.len(), x.len(), "max: length mismatch");
    }
    if let Some(x) = T::as_f32(x) {
        return c32::max(level, x, b.and_then(T::as_f32));
    }
    dispatch(
        level,
        #[inline(always)]
        || with_src!(x, b, |s| max_body(s)),
    )
}

/// `(v - m) inv_t`, without the multiply at unit temperature (where it is exact anyway).
#[inline(always)]
fn shift<V: F64x, const UNIT: bool>(v: V, m: V, inv_t: V) -> V {
    if UNIT {
        v.sub(m)
    } else {
        v.sub(m).mul(inv_t)
    }
}

/// `(s, sw)` updated with one vector of values `v` (already masked) and weights `w`.
#[inline(always)]
fn sum_step<V: F64x, const WEIGHTED: bool, const UNIT: bool>(
    v: V,
    w: V,
    m: V,
    inv_t: V,
    s: V,
    sw: V,
) -> (V, V) {
    let e = exp_shifted_v(shift::<V, UNIT>(v, m, inv_t));
    let at = v.eq(m);
    let we = if WEIGHTED { w.mul(e) } else { e };
    // Lanes at the maximum add their weight to sw, the others w e to s.
    (s.add_where_not(at, we), sw.add_where(at, w))
}

/// Weight-masked values and weights of `x[i..i + W]`, or of the partial vector `x[i..]`.
#[inline(always)]
fn load_vw<V: F64x, T: Real>(x: &[T], b: Option<&[T]>, partial: bool) -> (V, V) {
    let ninf = V::splat(f64::NEG_INFINITY);
    let (zero, one) = (V::splat(0.0), V::splat(1.0));
    let (v, w) = match (b, partial) {
        (None, false) => return (V::load(x), one),
        (None, true) => {
            let v = V::load_partial(x, f64::NEG_INFINITY);
            return (v, V::select(V::first(x.len()), one, zero));
        }
        (Some(b), false) => (V::load(x), V::load(b)),
        (Some(b), true) => (
            V::load_partial(x, f64::NEG_INFINITY),
            V::load_partial(b, 0.0),
        ),
    };
    (V::select(w.eq(zero), ninf, v), w)
}

struct SumExpExcl<'a, T> {
    x: &'a [T],
    b: Option<&'a [T]>,
    m: f64,
    inv_t: f64,
}

impl<T: Real> Kernel for SumExpExcl<'_, T> {
    type Output = (f64, f64);
    #[inline(always)]
    fn run<S: Isa>(self) -> (f64, f64) {
        match (self.b.is_some(), self.inv_t == 1.0) {
            (false, false) => self.body::<S::F64, false, false>(),
            (false, true) => self.body::<S::F64, false, true>(),
            (true, false) => self.body::<S::F64, true, false>(),
            (true, true) => self.body::<S::F64, true, true>(),
        }
    }
}

impl<T: Real> SumExpExcl<'_, T> {
    #[inline(always)]
    fn body<V: F64x, const WEIGHTED: bool, const UNIT: bool>(self) -> (f64, f64) {
        let (x, n) = (self.x, self.x.len());
        let b = self.b.map(|b| &b[..n]);
        let (m, inv_t) = (V::splat(self.m), V::splat(self.inv_t));
        let zero = V::splat(0.0);
        let (mut s, mut sw) = ([zero; 2], [zero; 2]);
        let mut i = 0;
        while i + L <= n {
            for k in 0..2 {
                let j = i + k * W;
                let (v, w) = load_vw::<V, T>(&x[j..j + W], b.map(|b| &b[j..j + W]), false);
                (s[k], sw[k]) = sum_step::<V, WEIGHTED, UNIT>(v, w, m, inv_t, s[k], sw[k]);
            }
            i += L;
        }
        // The tail, a vector at a time; padding lanes are -inf with weight 0 and add nothing.
        let mut k = 0;
        while i < n {
            let end = (i + W).min(n);
            let (v, w) = load_vw::<V, T>(&x[i..end], b.map(|b| &b[i..end]), true);
            (s[k], sw[k]) = sum_step::<V, true, UNIT>(v, w, m, inv_t, s[k], sw[k]);
            i = end;
            k += 1;
        }
        (hsum2(s), hsum2(sw))
    }
}

/// Given the maximum `m`, returns `(Σ_{x<m} b e^{(x-m)/t}, Σ_{x=m} b)`: the sum split so that the
/// largest terms are counted exactly (for `log1p` accuracy, as in Blanchard, Higham & Higham 2021).
/// The exponents `(x-m)/t` must not pass 720.
pub(crate) fn sum_exp_excl<T: Real>(
    level: Level,
    x: &[T],
    b: Option<&[T]>,
    m: f64,
    inv_t: f64,
) -> (f64, f64) {
    if let Some(b) = b {
        assert_eq!(b.len(), x.len(), "sum_exp_excl: length mismatch");
    }
    if let (Some(x), None, Some(t)) = (T::as_f32(x), b, c32::inv_t32(inv_t)) {
        // `m` is the maximum of `x` whenever the callers have one: an f32 value. Weighted sums
        // keep f64 exponentials (signed weights can cancel).
        if (m as f32) as f64 == m {
            return c32::sum_exp_excl(level, x, m as f32, t);
        }
    }
    vectorize(level, SumExpExcl { x, b, m, inv_t })
}

struct ExpStore<'a, T, U> {
    x: &'a [T],
    m: f64,
    inv_t: f64,
    out: &'a mut [U],
}

impl<T: Real, U: Real> Kernel for ExpStore<'_, T, U> {
    type Output = f64;
    #[inline(always)]
    fn run<S: Isa>(self) -> f64 {
        if self.inv_t == 1.0 {
            self.body::<S::F64, true>()
        } else {
            self.body::<S::F64, false>()
        }
    }
}

impl<T: Real, U: Real> ExpStore<'_, T, U> {
    #[inline(always)]
    fn body<V: F64x, const UNIT: bool>(self) -> f64 {
        let (x, out, n) = (self.x, self.out, self.x.len());
        let (m, inv_t) = (V::splat(self.m), V::splat(self.inv_t));
        let zero = V::splat(0.0);
        let mut acc = [zero; 2];
        let mut i = 0;
        while i + L <= n {
            for (k, a) in acc.iter_mut().enumerate() {
                let j = i + k * W;
                let e = exp_shifted_v(shift::<V, UNIT>(V::load(&x[j..j + W]), m, inv_t));
                e.store(&mut out[j..j + W]);
                *a = a.add(e);
            }
            i += L;
        }
        let mut k = 0;
        while i < n {
            let end = (i + W).min(n);
            let e = exp_shifted_v(shift::<V, UNIT>(V::load_partial(&x[i..end], 0.0), m, inv_t));
            e.store_partial(&mut out[i..end]);
            acc[k] = acc[k].add_where(V::first(end - i), e);
            i = end;
            k += 1;
        }
        hsum2(acc)
    }
}

/// Writes `out = e^{(x-m)/t}` and returns its sum. `out` must be as long as `x`; `m` is the maximum
/// of `x` or above (the exponents must not pass 720).
pub(crate) fn exp_store<T: Real, U: Real>(
    level: Level,
    x: &[T],
    m: f64,
    inv_t: f64,
    out: &mut [U],
) -> f64 {
    assert_eq!(x.len(), out.len(), "exp_store: length mismatch");
    if let (Some(x), Some(_)) = (T::as_f32(x), c32::inv_t32(inv_t)) {
        // `m` the maximum of `x` (or 0 for log-probabilities): an f32 value. Other `m` (a
        // log-sum-exp residual) cannot be subtracted exactly in f32: the f64 body.
        if (m as f32) as f64 == m {
            return c32::exp_store(level, x, m as f32, inv_t, out);
        }
    }
    vectorize(level, ExpStore { x, m, inv_t, out })
}

struct LogStore<'a, T, U> {
    x: &'a [T],
    out: &'a mut [U],
}

impl<T: Real, U: Real> Kernel for LogStore<'_, T, U> {
    type Output = ();
    #[inline(always)]
    fn run<S: Isa>(self) {
        let (x, out, n) = (self.x, self.out, self.x.len());
        let mut i = 0;
        while i + W <= n {
            log_v(S::F64::load(&x[i..i + W])).store(&mut out[i..i + W]);
            i += W;
        }
        if i < n {
            log_v(S::F64::load_partial(&x[i..], 1.0)).store_partial(&mut out[i..]);
        }
    }
}

/// Writes `out = ln x` (the same bits as the scalar [`log`](super::math::log) at every level: the
/// routine has no fused operations; `f32` data: [`log32`](super::math32::log32), within an `f32`
/// ulp). `out` must be as long as `x`.
pub(crate) fn log_store<T: Real, U: Real>(level: Level, x: &[T], out: &mut [U]) {
    assert_eq!(x.len(), out.len(), "log_store: length mismatch");
    if let Some(x) = T::as_f32(x) {
        return c32::log_store(level, x, out);
    }
    vectorize(level, LogStore { x, out })
}

/// `out *= c`.
pub(crate) fn scale<T: Real>(level: Level, out: &mut [T], c: f64) {
    dispatch(
        level,
        #[inline(always)]
        || {
            out.iter_mut()
                .for_each(|o| *o = T::from_f64(o.to_f64() * c))
        },
    )
}

/// `out = (x - m)/t - c`, the last pass of log-softmax; with `stream`, through non-temporal stores
/// where the level has them (callers then fence with [`store_fence`]).
pub(crate) fn shift_sub<T: Real>(
    level: Level,
    x: &[T],
    m: f64,
    inv_t: f64,
    c: f64,
    out: &mut [T],
    stream: bool,
) {
    assert_eq!(x.len(), out.len(), "shift_sub: length mismatch");
    stream::map(level, x, out, stream::ShiftSub { m, inv_t, c }, stream);
}

/// `out = src * c`; with `stream`, through non-temporal stores where the level has them (callers
/// then fence with [`store_fence`]).
pub(crate) fn scale_from<T: Real>(level: Level, src: &[f64], c: f64, out: &mut [T], stream: bool) {
    assert_eq!(src.len(), out.len(), "scale_from: length mismatch");
    stream::map(level, src, out, stream::Scale(c), stream);
}
