//! Hot loops for reductions over a strided axis: one call handles one row `x[o, i, j0..j0+w]` of an
//! `(outer, n, inner)` array and updates `w` independent per-lane accumulators, so each output lane
//! is reduced in the order `i = 0, 1, ...` whatever the thread count. `f32` data takes the bodies of
//! [`strided32`](super::strided32) (exponentials in `f32` lanes) for every chunk of lanes whose
//! shifts are `f32` values.

use super::contiguous::pmax;
use super::contiguous32::inv_t32;
use super::math::exp_shifted_v;
use super::strided32::{self as s32, CHUNK};
use super::vector::{F64x, Isa, Kernel, W};
use super::{dispatch, vectorize, Level};
use crate::real::Real;

#[inline(always)]
fn masked<T: Real>(x: T, b: Option<T>) -> f64 {
    match b {
        Some(b) if b.to_f64() == 0.0 => f64::NEG_INFINITY,
        _ => x.to_f64(),
    }
}

/// `acc[j] = pmax(acc[j], x[j])` over entries with non-zero weight.
pub(crate) fn max_into<T: Real>(level: Level, x: &[T], b: Option<&[T]>, acc: &mut [f64]) {
    dispatch(
        level,
        #[inline(always)]
        || match b {
            None => x
                .iter()
                .zip(acc.iter_mut())
                .for_each(|(&v, a)| *a = pmax(*a, v.to_f64())),
            Some(b) => x
                .iter()
                .zip(b)
                .zip(acc.iter_mut())
                .for_each(|((&v, &w), a)| *a = pmax(*a, masked(v, Some(w)))),
        },
    )
}

/// `x[j..end]` as a vector (a partial one when shorter than `W`, padded with `pad`).
#[inline(always)]
fn ld<V: F64x, T: Real>(x: &[T], pad: f64) -> V {
    if x.len() == W {
        V::load(x)
    } else {
        V::load_partial(x, pad)
    }
}

#[inline(always)]
fn st<V: F64x, T: Real>(v: V, out: &mut [T]) {
    if out.len() == W {
        v.store(out)
    } else {
        v.store_partial(out)
    }
}

struct SumExpExclInto<'a, T> {
    x: &'a [T],
    b: Option<&'a [T]>,
    m: &'a [f64],
    inv_t: f64,
    s: &'a mut [f64],
    sw: &'a mut [f64],
}

impl<T: Real> Kernel for SumExpExclInto<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run<S: Isa>(self) {
        match (self.b.is_some(), self.inv_t == 1.0) {
            (false, false) => self.body::<S::F64, false, false>(),
            (false, true) => self.body::<S::F64, false, true>(),
            (true, false) => self.body::<S::F64, true, false>(),
            (true, true) => self.body::<S::F64, true, true>(),
        }
    }
}

impl<T: Real> SumExpExclInto<'_, T> {
    #[inline(always)]
    fn body<V: F64x, const WEIGHTED: bool, const UNIT: bool>(self) {
        let n = self.x.len();
        let (x, b, m) = (self.x, self.b.map(|b| &b[..n]), &self.m[..n]);
        let (s, sw) = (&mut self.s[..n], &mut self.sw[..n]);
        let inv_t = V::splat(self.inv_t);
        let (zero, ninf, one) = (V::splat(0.0), V::splat(f64::NEG_INFINITY), V::splat(1.0));
        let mut j = 0;
        while j < n {
            let end = (j + W).min(n);
            let mut v: V = ld(&x[j..end], f64::NEG_INFINITY);
            let mut w = one;
            if WEIGHTED {
                if let Some(b) = b {
                    w = ld(&b[j..end], 0.0);
                    v = V::select(w.eq(zero), ninf, v);
                }
            }
            let mj: V = ld(&m[j..end], 0.0);
            let d = v.sub(mj);
            let e = exp_shifted_v(if UNIT { d } else { d.mul(inv_t) });
            let at = v.eq(mj);
            let we = if WEIGHTED { w.mul(e) } else { e };
            let sj: V = ld(&s[j..end], 0.0);
            st(sj.add_where_not(at, we), &mut s[j..end]);
            let wj: V = ld(&sw[j..end], 0.0);
            st(wj.add_where(at, w), &mut sw[j..end]);
            j = end;
        }
    }
}

/// `s[j] += b e^{(x_j - m_j)/t}` for `x_j < m_j`, `sw[j] += b` for `x_j = m_j` (`m_j` is the lane's
/// maximum or above: the exponents must not pass 720).
pub(crate) fn sum_exp_excl_into<T: Real>(
    level: Level,
    x: &[T],
    b: Option<&[T]>,
    m: &[f64],
    inv_t: f64,
    s: &mut [f64],
    sw: &mut [f64],
) {
    let n = x.len();
    if let (Some(x32), None, Some(t)) = (T::as_f32(x), b, inv_t32(inv_t)) {
        for c0 in (0..n).step_by(CHUNK) {
            let c = c0..(c0 + CHUNK).min(n);
            let k = s32::SumExpExclInto {
                x: &x32[c.clone()],
                m: &m[c.clone()],
                inv_t: t,
                s: &mut s[c.clone()],
                sw: &mut sw[c.clone()],
            };
            if !vectorize(level, k) {
                let k = SumExpExclInto {
                    x: &x[c.clone()],
                    b: None,
                    m: &m[c.clone()],
                    inv_t,
                    s: &mut s[c.clone()],
                    sw: &mut sw[c],
                };
                vectorize(level, k);
            }
        }
        return;
    }
    vectorize(
        level,
        SumExpExclInto {
            x,
            b,
            m,
            inv_t,
            s,
            sw,
        },
    )
}

struct ExpStoreInto<'a, T> {
    x: &'a [T],
    m: &'a [f64],
    inv_t: f64,
    out: &'a mut [T],
    s: &'a mut [f64],
}

impl<T: Real> Kernel for ExpStoreInto<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run<S: Isa>(self) {
        type V<S> = <S as Isa>::F64;
        let n = self.x.len();
        let (x, m, out, s) = (self.x, &self.m[..n], &mut self.out[..n], &mut self.s[..n]);
        let inv_t = V::<S>::splat(self.inv_t);
        let mut j = 0;
        while j < n {
            let end = (j + W).min(n);
            let v: V<S> = ld(&x[j..end], 0.0);
            let mj: V<S> = ld(&m[j..end], 0.0);
            let e = exp_shifted_v(v.sub(mj).mul(inv_t));
            st(e, &mut out[j..end]);
            let sj: V<S> = ld(&s[j..end], 0.0);
            st(sj.add(e), &mut s[j..end]);
            j = end;
        }
    }
}

/// `out[j] = e^{(x_j - m_j)/t}` and `s[j] += out[j]` (before narrowing; the exponents must not
/// pass 720).
pub(crate) fn exp_store_into<T: Real>(
    level: Level,
    x: &[T],
    m: &[f64],
    inv_t: f64,
    out: &mut [T],
    s: &mut [f64],
) {
    let n = x.len();
    if let (Some(x32), Some(_)) = (T::as_f32(x), inv_t32(inv_t)) {
        let out32 = T::as_f32_mut(out).expect("T is f32");
        for c0 in (0..n).step_by(CHUNK) {
            let c = c0..(c0 + CHUNK).min(n);
            let k = s32::ExpStoreInto {
                x: &x32[c.clone()],
                m: &m[c.clone()],
                inv_t,
                out: &mut out32[c.clone()],
                s: &mut s[c.clone()],
            };
            if !vectorize(level, k) {
                let k = ExpStoreInto {
                    x: &x32[c.clone()],
                    m: &m[c.clone()],
                    inv_t,
                    out: &mut out32[c.clone()],
                    s: &mut s[c],
                };
                vectorize(level, k);
            }
        }
        return;
    }
    vectorize(
        level,
        ExpStoreInto {
            x,
            m,
            inv_t,
            out,
            s,
        },
    )
}

/// `out[j] *= c[j]`.
pub(crate) fn scale_by<T: Real>(level: Level, out: &mut [T], c: &[f64]) {
    dispatch(
        level,
        #[inline(always)]
        || {
            out.iter_mut()
                .zip(c)
                .for_each(|(o, &c)| *o = T::from_f64(o.to_f64() * c))
        },
    )
}

/// `out[j] = (x_j - m_j)/t - c_j`.
pub(crate) fn shift_sub_by<T: Real>(
    level: Level,
    x: &[T],
    m: &[f64],
    inv_t: f64,
    c: &[f64],
    out: &mut [T],
) {
    dispatch(
        level,
        #[inline(always)]
        || {
            for (((o, &v), &m), &c) in out.iter_mut().zip(x).zip(m).zip(c) {
                *o = T::from_f64((v.to_f64() - m) * inv_t - c);
            }
        },
    )
}
