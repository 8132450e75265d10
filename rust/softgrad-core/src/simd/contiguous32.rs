//! The `f32` bodies of the exponential passes in [`contiguous`](super::contiguous): `f32` data is
//! exponentiated in [`F32x`] lanes ([`exp32_v`]) and every sum is carried in `f64` lanes (the
//! exponentials widened exactly), with the blocks, accumulators and order of the `f64` bodies, so
//! each result is the same for any thread count and at every level (the `f32` arithmetic rounds
//! the same way everywhere, see [`F32x`]).
//!
//! Weighted sums keep the `f64` bodies: signed weights can cancel, which would amplify the
//! rounding of `f32` exponentials. The sums take `e^{(x - m) inv_t}` with the exponent rounded to `f32` (relative error up to about
//! `|x - m| inv_t` ulps in a term, which the sum averages: terms far below the maximum weigh
//! little); [`exp_store`], whose outputs are the results, carries the exponent in two parts
//! ([`exp32_shifted_v`]). `m` must be an `f32` value (the maximum of the data is); other `m`, and
//! temperatures whose `1/t` is not a normal `f32`, take the `f64` bodies.

use super::contiguous::{hsum2, L};
use super::math32::{exp32_shifted_v, exp32_v, log32_v};
use super::vector::{F32x, F64x, Isa, Kernel, W, W32};
use super::{vectorize, Level};
use crate::real::Real;

const _: () = assert!(L == W32, "a block of the f64 bodies is one f32 vector");

/// `inv_t` as an `f32` the `f32` bodies can use: normal (so `(x - m) inv_t` keeps its precision),
/// or `None` (the caller then takes the `f64` body).
#[inline(always)]
pub(crate) fn inv_t32(inv_t: f64) -> Option<f32> {
    let v = inv_t as f32;
    v.is_normal().then_some(v)
}

/// The lanes of an `f32` vector, NaN-propagating maximum over them.
#[inline(always)]
fn hmax<V: F32x>(v: V) -> f32 {
    let mut a = [0.0f32; W32];
    v.store(&mut a);
    a.iter().fold(
        f32::NEG_INFINITY,
        |m, &v| if v > m || v.is_nan() { v } else { m },
    )
}

/// `v` with the lanes of zero weight set to -inf.
#[inline(always)]
fn masked<V: F32x>(v: V, w: Option<V>, zero: V, ninf: V) -> V {
    match w {
        Some(w) => V::select(w.eq(zero), ninf, v),
        None => v,
    }
}

struct Max<'a> {
    x: &'a [f32],
    b: Option<&'a [f32]>,
}

impl Kernel for Max<'_> {
    type Output = f64;
    #[inline(always)]
    fn run<S: Isa>(self) -> f64 {
        let (x, n) = (self.x, self.x.len());
        let b = self.b.map(|b| &b[..n]);
        let (ninf, zero) = (S::F32::splat(f32::NEG_INFINITY), S::F32::splat(0.0));
        let mut acc = [ninf; 2];
        let mut i = 0;
        while i + 2 * W32 <= n {
            for (k, a) in acc.iter_mut().enumerate() {
                let j = i + k * W32;
                let w = b.map(|b| S::F32::load(&b[j..j + W32]));
                *a = a.pmax(masked(S::F32::load(&x[j..j + W32]), w, zero, ninf));
            }
            i += 2 * W32;
        }
        while i < n {
            let end = (i + W32).min(n);
            let w = b.map(|b| S::F32::load_partial(&b[i..end], 0.0));
            let v = S::F32::load_partial(&x[i..end], f32::NEG_INFINITY);
            acc[0] = acc[0].pmax(masked(v, w, zero, ninf));
            i = end;
        }
        hmax(acc[0].pmax(acc[1])) as f64
    }
}

/// [`contiguous::max`](super::contiguous::max) of `f32` data (exact: the same value).
pub(super) fn max(level: Level, x: &[f32], b: Option<&[f32]>) -> f64 {
    vectorize(level, Max { x, b })
}

/// `(x - m) inv_t` in `f32`.
#[inline(always)]
fn shift<V: F32x, const UNIT: bool>(v: V, m: V, inv_t: V) -> V {
    if UNIT {
        v.sub(m)
    } else {
        v.sub(m).mul(inv_t)
    }
}

struct SumExpExcl<'a> {
    x: &'a [f32],
    m: f32,
    inv_t: f32,
}

impl Kernel for SumExpExcl<'_> {
    type Output = (f64, f64);
    #[inline(always)]
    fn run<S: Isa>(self) -> (f64, f64) {
        if self.inv_t == 1.0 {
            self.body::<S::F32, true, _>(&mut NoHook)
        } else {
            self.body::<S::F32, false, _>(&mut NoHook)
        }
    }
}

/// What [`SumExpExcl`]'s loop also does with each vector: `on(i, v, e)` for the values `x[i..]`
/// (`W32` of them, or the tail padded with `-inf`) and their exponentials `e`.
trait Hook<V: F32x> {
    fn on(&mut self, i: usize, v: V, e: V);
}

/// Nothing more: the plain sums.
struct NoHook;

impl<V: F32x> Hook<V> for NoHook {
    #[inline(always)]
    fn on(&mut self, _: usize, _: V, _: V) {}
}

/// Blocks between flushes of the `f32` counts of entries at the maximum: counts stay below `2^24`,
/// so they are exact, and so is their sum in `f64` (the same value as the `f64` body's).
const COUNT_FLUSH: usize = 1 << 20;

/// The running sums of [`SumExpExcl`]: `s` in `f64` lanes, the count of entries at the maximum in
/// `f32` lanes (exact), flushed into `sw`.
struct Acc<V: F32x> {
    s: [V::F64; 2],
    sw: [V::F64; 2],
    count: V,
}

impl<V: F32x> Acc<V> {
    #[inline(always)]
    fn flush(&mut self) {
        let (c0, c1) = self.count.widen();
        self.sw = [self.sw[0].add(c0), self.sw[1].add(c1)];
        self.count = V::splat(0.0);
    }
}

impl SumExpExcl<'_> {
    /// One vector of values `v`; returns its exponentials.
    #[inline(always)]
    fn step<V: F32x, const UNIT: bool>(&self, acc: &mut Acc<V>, v: V) -> V {
        let zero = V::splat(0.0);
        let m = V::splat(self.m);
        let e = exp32_v(shift::<V, UNIT>(v, m, V::splat(self.inv_t)));
        let at = v.eq(m);
        // Lanes at the maximum count 1 in sw, the others add e to s.
        let (e0, e1) = V::select(at, zero, e).widen();
        acc.s = [acc.s[0].add(e0), acc.s[1].add(e1)];
        acc.count = acc.count.add(V::select(at, V::splat(1.0), zero));
        e
    }

    #[inline(always)]
    fn body<V: F32x, const UNIT: bool, H: Hook<V>>(&self, hook: &mut H) -> (f64, f64) {
        let (x, n) = (self.x, self.x.len());
        let zero64 = V::F64::splat(0.0);
        let mut acc = Acc {
            s: [zero64; 2],
            sw: [zero64; 2],
            count: V::splat(0.0),
        };
        let mut i = 0;
        let mut blocks = 0;
        while i + W32 <= n {
            let v = V::load(&x[i..i + W32]);
            let e = self.step::<V, UNIT>(&mut acc, v);
            hook.on(i, v, e);
            i += W32;
            blocks += 1;
            if blocks == COUNT_FLUSH {
                acc.flush();
                blocks = 0;
            }
        }
        if i < n {
            // Padding lanes are -inf: they add nothing.
            let v = V::load_partial(&x[i..], f32::NEG_INFINITY);
            let e = self.step::<V, UNIT>(&mut acc, v);
            hook.on(i, v, e);
        }
        acc.flush();
        (hsum2(acc.s), hsum2(acc.sw))
    }
}

#[path = "contiguous32_weights.rs"]
mod weights;
pub(crate) use weights::sum_exp_weights;

/// [`contiguous::sum_exp_excl`](super::contiguous::sum_exp_excl) of unweighted `f32` data, for `m`
/// an `f32` value and `inv_t` from [`inv_t32`].
pub(super) fn sum_exp_excl(level: Level, x: &[f32], m: f32, inv_t: f32) -> (f64, f64) {
    vectorize(level, SumExpExcl { x, m, inv_t })
}

struct ExpStore<'a, U> {
    x: &'a [f32],
    m: f32,
    inv_t: f64,
    out: &'a mut [U],
}

/// Stores `e` into `out` (`W32` long, or shorter for the tail): as it is into `f32`, widened into
/// any other element type.
#[inline(always)]
fn put<V: F32x, U: Real>(e: V, out: &mut [U]) {
    if let Some(o) = U::as_f32_mut(out) {
        if o.len() == W32 {
            e.store(o)
        } else {
            e.store_partial(o)
        }
        return;
    }
    let (lo, hi) = e.widen();
    if out.len() == W32 {
        lo.store(&mut out[..W]);
        hi.store(&mut out[W..]);
    } else {
        let k = out.len().min(W);
        lo.store_partial(&mut out[..k]);
        hi.store_partial(&mut out[k..]);
    }
}

impl<U: Real> Kernel for ExpStore<'_, U> {
    type Output = f64;
    #[inline(always)]
    fn run<S: Isa>(self) -> f64 {
        if self.inv_t == 1.0 {
            self.body::<S::F32, true>()
        } else {
            self.body::<S::F32, false>()
        }
    }
}

impl<U: Real> ExpStore<'_, U> {
    #[inline(always)]
    fn body<V: F32x, const UNIT: bool>(self) -> f64 {
        let (x, n) = (self.x, self.x.len());
        let out = &mut self.out[..n];
        let (t, t_lo) = split(self.inv_t);
        let (m, t, t_lo) = (V::splat(self.m), V::splat(t), V::splat(t_lo));
        let mut acc = [V::F64::splat(0.0); 2];
        let mut i = 0;
        while i + W32 <= n {
            let e = exp32_shifted_v::<V, UNIT>(V::load(&x[i..i + W32]), m, t, t_lo);
            put(e, &mut out[i..i + W32]);
            let (e0, e1) = e.widen();
            acc = [acc[0].add(e0), acc[1].add(e1)];
            i += W32;
        }
        if i < n {
            // Padding lanes are -inf: their exponentials are 0.
            let v = V::load_partial(&x[i..], f32::NEG_INFINITY);
            let e = exp32_shifted_v::<V, UNIT>(v, m, t, t_lo);
            put(e, &mut out[i..]);
            let (e0, e1) = e.widen();
            acc = [acc[0].add(e0), acc[1].add(e1)];
        }
        hsum2(acc)
    }
}

/// `inv_t` as `t + t_lo` in `f32`.
#[inline(always)]
pub(super) fn split(inv_t: f64) -> (f32, f32) {
    let t = inv_t as f32;
    (t, (inv_t - t as f64) as f32)
}

/// [`contiguous::exp_store`](super::contiguous::exp_store) of `f32` data, for `m` an `f32` value
/// and `inv_t` with [`inv_t32`]: each exponential within about an `f32` ulp whatever `|x - m| inv_t`
/// ([`exp32_shifted_v`]), stored as it is into `f32`, widened into `f64`.
pub(super) fn exp_store<U: Real>(
    level: Level,
    x: &[f32],
    m: f32,
    inv_t: f64,
    out: &mut [U],
) -> f64 {
    vectorize(level, ExpStore { x, m, inv_t, out })
}

struct LogStore<'a, U> {
    x: &'a [f32],
    out: &'a mut [U],
}

impl<U: Real> Kernel for LogStore<'_, U> {
    type Output = ();
    #[inline(always)]
    fn run<S: Isa>(self) {
        let (x, n) = (self.x, self.x.len());
        let out = &mut self.out[..n];
        let mut i = 0;
        while i + W32 <= n {
            put(log32_v(S::F32::load(&x[i..i + W32])), &mut out[i..i + W32]);
            i += W32;
        }
        if i < n {
            put(log32_v(S::F32::load_partial(&x[i..], 1.0)), &mut out[i..]);
        }
    }
}

/// [`contiguous::log_store`](super::contiguous::log_store) of `f32` data: [`log32_v`], stored as it
/// is into `f32`, widened into `f64`.
pub(super) fn log_store<U: Real>(level: Level, x: &[f32], out: &mut [U]) {
    vectorize(level, LogStore { x, out })
}
