//! Scalar references for the dispatched kernels: the plainest correct loops, with libm `exp`.
//! Tests compare every kernel at every supported [`Level`](super::Level) against these.

use crate::real::Real;

fn masked<T: Real>(x: T, b: Option<T>) -> f64 {
    match b {
        Some(b) if b.to_f64() == 0.0 => f64::NEG_INFINITY,
        _ => x.to_f64(),
    }
}

fn pairs<'a, T: Real>(x: &'a [T], b: Option<&'a [T]>) -> impl Iterator<Item = (f64, f64)> + 'a {
    x.iter().enumerate().map(move |(i, &v)| {
        let w = b.map(|b| b[i]);
        (masked(v, w), w.map_or(1.0, Real::to_f64))
    })
}

/// Reference for [`contiguous::max`](super::contiguous::max).
pub(crate) fn max<T: Real>(x: &[T], b: Option<&[T]>) -> f64 {
    let mut m = f64::NEG_INFINITY;
    for (v, _) in pairs(x, b) {
        if v.is_nan() {
            return f64::NAN;
        }
        m = m.max(v);
    }
    m
}

/// Reference for [`contiguous::sum_exp_excl`](super::contiguous::sum_exp_excl).
pub(crate) fn sum_exp_excl<T: Real>(x: &[T], b: Option<&[T]>, m: f64, inv_t: f64) -> (f64, f64) {
    let (mut s, mut sw) = (0.0, 0.0);
    for (v, w) in pairs(x, b) {
        if v == m {
            sw += w;
        } else {
            s += w * ((v - m) * inv_t).exp();
        }
    }
    (s, sw)
}

/// Reference for [`contiguous::exp_store`](super::contiguous::exp_store).
pub(crate) fn exp_store<T: Real>(x: &[T], m: f64, inv_t: f64, out: &mut [T]) -> f64 {
    let mut s = 0.0;
    for (o, &v) in out.iter_mut().zip(x) {
        let e = ((v.to_f64() - m) * inv_t).exp();
        *o = T::from_f64(e);
        s += e;
    }
    s
}

/// Reference for [`contiguous::scale`](super::contiguous::scale).
pub(crate) fn scale<T: Real>(out: &mut [T], c: f64) {
    out.iter_mut()
        .for_each(|o| *o = T::from_f64(o.to_f64() * c));
}

/// Reference for [`contiguous::shift_sub`](super::contiguous::shift_sub) (either `stream`).
pub(crate) fn shift_sub<T: Real>(x: &[T], m: f64, inv_t: f64, c: f64, out: &mut [T]) {
    for (o, v) in out.iter_mut().zip(x) {
        *o = T::from_f64((v.to_f64() - m) * inv_t - c);
    }
}

/// Reference for [`contiguous::scale_from`](super::contiguous::scale_from) (either `stream`).
pub(crate) fn scale_from<T: Real>(src: &[f64], c: f64, out: &mut [T]) {
    for (o, v) in out.iter_mut().zip(src) {
        *o = T::from_f64(v * c);
    }
}

/// Reference for [`strided::max_into`](super::strided::max_into): lane `j` folds `x[j]` in.
pub(crate) fn max_into<T: Real>(x: &[T], b: Option<&[T]>, acc: &mut [f64]) {
    for (j, a) in acc[..x.len()].iter_mut().enumerate() {
        let m = max(&x[j..=j], b.map(|b| &b[j..=j]));
        *a = if a.is_nan() || m.is_nan() {
            f64::NAN
        } else {
            a.max(m)
        };
    }
}

/// Reference for [`strided::sum_exp_excl_into`](super::strided::sum_exp_excl_into).
pub(crate) fn sum_exp_excl_into<T: Real>(
    x: &[T],
    b: Option<&[T]>,
    m: &[f64],
    inv_t: f64,
    s: &mut [f64],
    sw: &mut [f64],
) {
    for j in 0..x.len() {
        let (ds, dw) = sum_exp_excl(&x[j..=j], b.map(|b| &b[j..=j]), m[j], inv_t);
        s[j] += ds;
        sw[j] += dw;
    }
}

/// Reference for [`strided::exp_store_into`](super::strided::exp_store_into).
pub(crate) fn exp_store_into<T: Real>(
    x: &[T],
    m: &[f64],
    inv_t: f64,
    out: &mut [T],
    s: &mut [f64],
) {
    for j in 0..x.len() {
        s[j] += exp_store(&x[j..=j], m[j], inv_t, &mut out[j..=j]);
    }
}

/// Reference for [`strided::scale_by`](super::strided::scale_by).
pub(crate) fn scale_by<T: Real>(out: &mut [T], c: &[f64]) {
    for (o, &c) in out.iter_mut().zip(c) {
        *o = T::from_f64(o.to_f64() * c);
    }
}

/// Reference for [`strided::shift_sub_by`](super::strided::shift_sub_by).
pub(crate) fn shift_sub_by<T: Real>(x: &[T], m: &[f64], inv_t: f64, c: &[f64], out: &mut [T]) {
    for (j, o) in out[..x.len()].iter_mut().enumerate() {
        *o = T::from_f64((x[j].to_f64() - m[j]) * inv_t - c[j]);
    }
}
