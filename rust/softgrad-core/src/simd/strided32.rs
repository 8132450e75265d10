//! The `f32` bodies of the exponential passes in [`strided`](super::strided): one row of lanes of
//! `f32` data exponentiated in [`F32x`] lanes ([`exp32_v`] for the sums, [`exp32_shifted_v`] for
//! stored outputs, as in `contiguous32`), each lane's sum carried in `f64` in the order `i = 0, 1,
//! ...`, so the same bits for any thread count and at every level. The per-lane shifts `m` come in
//! `f64` and are used in `f32` when every one of a chunk is an `f32` value (the drivers pass lane
//! maxima of the data, `±inf` or NaN); the callers take the `f64` bodies for a chunk otherwise, and
//! for weighted sums (signed weights can cancel).

use super::math32::{exp32_shifted_v, exp32_v};
use super::vector::{F32x, F64x, Isa, Kernel, W, W32};

/// Lanes per chunk: the shifts of a chunk are narrowed into a stack buffer.
pub(super) const CHUNK: usize = 512;

/// `m` narrowed into `buf`; whether every value is an `f32` (bit for bit after widening back).
/// Called inside the kernels, so that it is compiled for their level.
#[inline(always)]
fn narrow(m: &[f64], buf: &mut [f32; CHUNK]) -> bool {
    let mut exact = true;
    for (o, &v) in buf.iter_mut().zip(m) {
        *o = v as f32;
        exact &= (*o as f64).to_bits() == v.to_bits();
    }
    exact
}

/// `x` as a vector (a partial one when shorter than `W32`, padded with `pad`).
#[inline(always)]
fn ld<V: F32x>(x: &[f32], pad: f32) -> V {
    if x.len() == W32 {
        V::load(x)
    } else {
        V::load_partial(x, pad)
    }
}

/// `acc[..] += (lo, hi)` for the (up to `W32`) `f64` lanes of `acc`.
#[inline(always)]
fn add_into<V: F64x>(acc: &mut [f64], lo: V, hi: V) {
    let k = acc.len().min(W);
    let (a, b) = acc.split_at_mut(k);
    if k == W {
        lo.add(V::load(a)).store(a);
    } else {
        lo.add(V::load_partial(a, 0.0)).store_partial(a);
    }
    if b.len() == W {
        hi.add(V::load(b)).store(b);
    } else if !b.is_empty() {
        hi.add(V::load_partial(b, 0.0)).store_partial(b);
    }
}

pub(super) struct SumExpExclInto<'a> {
    pub x: &'a [f32],
    /// At most [`CHUNK`] lanes.
    pub m: &'a [f64],
    pub inv_t: f32,
    pub s: &'a mut [f64],
    pub sw: &'a mut [f64],
}

impl Kernel for SumExpExclInto<'_> {
    /// Whether the shifts were `f32` values (else nothing was done).
    type Output = bool;
    #[inline(always)]
    fn run<S: Isa>(self) -> bool {
        let mut mb = [0.0f32; CHUNK];
        if !narrow(self.m, &mut mb) {
            return false;
        }
        if self.inv_t == 1.0 {
            self.body::<S::F32, true>(&mb)
        } else {
            self.body::<S::F32, false>(&mb)
        }
        true
    }
}

impl SumExpExclInto<'_> {
    #[inline(always)]
    fn body<V: F32x, const UNIT: bool>(self, mb: &[f32; CHUNK]) {
        let n = self.x.len();
        let (x, m) = (self.x, &mb[..n]);
        let (s, sw) = (&mut self.s[..n], &mut self.sw[..n]);
        let inv_t = V::splat(self.inv_t);
        let (zero, one) = (V::splat(0.0), V::splat(1.0));
        let mut j = 0;
        while j < n {
            let end = (j + W32).min(n);
            let v: V = ld(&x[j..end], f32::NEG_INFINITY);
            let mj: V = ld(&m[j..end], 0.0);
            let d = v.sub(mj);
            let e = exp32_v(if UNIT { d } else { d.mul(inv_t) });
            let at = v.eq(mj);
            let (e0, e1) = V::select(at, zero, e).widen();
            add_into(&mut s[j..end], e0, e1);
            let (a0, a1) = V::select(at, one, zero).widen();
            add_into(&mut sw[j..end], a0, a1);
            j = end;
        }
    }
}

pub(super) struct ExpStoreInto<'a> {
    pub x: &'a [f32],
    /// At most [`CHUNK`] lanes.
    pub m: &'a [f64],
    pub inv_t: f64,
    pub out: &'a mut [f32],
    pub s: &'a mut [f64],
}

impl Kernel for ExpStoreInto<'_> {
    /// Whether the shifts were `f32` values (else nothing was done).
    type Output = bool;
    #[inline(always)]
    fn run<S: Isa>(self) -> bool {
        let mut mb = [0.0f32; CHUNK];
        if !narrow(self.m, &mut mb) {
            return false;
        }
        if self.inv_t == 1.0 {
            self.body::<S::F32, true>(&mb)
        } else {
            self.body::<S::F32, false>(&mb)
        }
        true
    }
}

impl ExpStoreInto<'_> {
    #[inline(always)]
    fn body<V: F32x, const UNIT: bool>(self, mb: &[f32; CHUNK]) {
        let n = self.x.len();
        let (x, m, out, s) = (self.x, &mb[..n], &mut self.out[..n], &mut self.s[..n]);
        let t = self.inv_t as f32;
        let (t, t_lo) = (V::splat(t), V::splat((self.inv_t - t as f64) as f32));
        let mut j = 0;
        while j < n {
            let end = (j + W32).min(n);
            let e = exp32_shifted_v::<V, UNIT>(ld(&x[j..end], 0.0), ld(&m[j..end], 0.0), t, t_lo);
            if end - j == W32 {
                e.store(&mut out[j..end]);
            } else {
                e.store_partial(&mut out[j..end]);
            }
            let (e0, e1) = e.widen();
            add_into(&mut s[j..end], e0, e1);
            j = end;
        }
    }
}
