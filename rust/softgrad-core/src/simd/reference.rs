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
pub fn max<T: Real>(x: &[T], b: Option<&[T]>) -> f64 {
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
pub fn sum_exp_excl<T: Real>(x: &[T], b: Option<&[T]>, m: f64, inv_t: f64) -> (f64, f64) {
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
pub fn exp_store<T: Real>(x: &[T], m: f64, inv_t: f64, out: &mut [T]) -> f64 {
    let mut s = 0.0;
    for (o, &v) in out.iter_mut().zip(x) {
        let e = ((v.to_f64() - m) * inv_t).exp();
        *o = T::from_f64(e);
        s += e;
    }
    s
}
