//! Hot loops for reductions over a strided axis: one call handles one row `x[o, i, j0..j0+w]` of an
//! `(outer, n, inner)` array and updates `w` independent per-lane accumulators, so each output lane
//! is reduced in the order `i = 0, 1, ...` whatever the thread count.

use super::contiguous::pmax;
use super::exp::exp;
use super::{dispatch, Level};
use crate::real::Real;

#[inline(always)]
fn masked<T: Real>(x: T, b: Option<T>) -> f64 {
    match b {
        Some(b) if b.to_f64() == 0.0 => f64::NEG_INFINITY,
        _ => x.to_f64(),
    }
}

/// `acc[j] = pmax(acc[j], x[j])` over entries with non-zero weight.
pub fn max_into<T: Real>(level: Level, x: &[T], b: Option<&[T]>, acc: &mut [f64]) {
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

#[inline(always)]
fn sum_exp_excl_body<T: Real, const FMA: bool>(
    x: &[T],
    b: Option<&[T]>,
    m: &[f64],
    inv_t: f64,
    s: &mut [f64],
    sw: &mut [f64],
) {
    let n = x.len();
    let (m, s, sw) = (&m[..n], &mut s[..n], &mut sw[..n]);
    match b {
        None => {
            for j in 0..n {
                let v = x[j].to_f64();
                let e = exp::<FMA>((v - m[j]) * inv_t);
                let at_max = v == m[j];
                s[j] += if at_max { 0.0 } else { e };
                sw[j] += if at_max { 1.0 } else { 0.0 };
            }
        }
        Some(b) => {
            let b = &b[..n];
            for j in 0..n {
                let w = b[j].to_f64();
                let v = masked(x[j], Some(b[j]));
                let e = exp::<FMA>((v - m[j]) * inv_t);
                let at_max = v == m[j];
                s[j] += if at_max { 0.0 } else { w * e };
                sw[j] += if at_max { w } else { 0.0 };
            }
        }
    }
}

/// `s[j] += b e^{(x_j - m_j)/t}` for `x_j < m_j`, `sw[j] += b` for `x_j = m_j`.
pub fn sum_exp_excl_into<T: Real>(
    level: Level,
    x: &[T],
    b: Option<&[T]>,
    m: &[f64],
    inv_t: f64,
    s: &mut [f64],
    sw: &mut [f64],
) {
    #[cfg(target_arch = "x86_64")]
    if level.min(super::level()) == Level::Avx512
        && b.is_none_or(|b| b.len() >= x.len())
        && m.len() >= x.len()
        && s.len() >= x.len()
        && sw.len() >= x.len()
    {
        // SAFETY: AVX-512 is available and every slice is at least as long as `x` (checked above).
        let j = unsafe { super::avx512::lanes_sum_exp_excl(x, b, m, inv_t, s, sw) };
        let bt = b.map(|b| &b[j..x.len()]);
        return sum_exp_excl_body::<T, true>(
            &x[j..],
            bt,
            &m[j..],
            inv_t,
            &mut s[j..],
            &mut sw[j..],
        );
    }
    #[cfg(target_arch = "x86_64")]
    if level.min(super::level()) == Level::Avx2
        && b.is_none_or(|b| b.len() >= x.len())
        && m.len() >= x.len()
        && s.len() >= x.len()
        && sw.len() >= x.len()
    {
        // SAFETY: AVX2 and FMA are available; every slice is at least as long as `x`.
        unsafe { super::avx2::lanes_sum_exp_excl(x, b, m, inv_t, s, sw) };
        return;
    }
    if level.min(super::level()).fma() {
        dispatch(
            level,
            #[inline(always)]
            || sum_exp_excl_body::<T, true>(x, b, m, inv_t, s, sw),
        )
    } else {
        dispatch(
            level,
            #[inline(always)]
            || sum_exp_excl_body::<T, false>(x, b, m, inv_t, s, sw),
        )
    }
}

#[inline(always)]
fn exp_store_body<T: Real, const FMA: bool>(
    x: &[T],
    m: &[f64],
    inv_t: f64,
    out: &mut [T],
    s: &mut [f64],
) {
    let n = x.len();
    let (m, out, s) = (&m[..n], &mut out[..n], &mut s[..n]);
    for j in 0..n {
        let e = exp::<FMA>((x[j].to_f64() - m[j]) * inv_t);
        out[j] = T::from_f64(e);
        s[j] += e;
    }
}

/// `out[j] = e^{(x_j - m_j)/t}` and `s[j] += out[j]`.
pub fn exp_store_into<T: Real>(
    level: Level,
    x: &[T],
    m: &[f64],
    inv_t: f64,
    out: &mut [T],
    s: &mut [f64],
) {
    #[cfg(target_arch = "x86_64")]
    if level.min(super::level()) == Level::Avx2
        && m.len() >= x.len()
        && out.len() >= x.len()
        && s.len() >= x.len()
    {
        // SAFETY: AVX2 and FMA are available; every slice is at least as long as `x`.
        unsafe { super::avx2::lanes_exp_store(x, m, inv_t, out, s) };
        return;
    }
    if level.min(super::level()).fma() {
        dispatch(
            level,
            #[inline(always)]
            || exp_store_body::<T, true>(x, m, inv_t, out, s),
        )
    } else {
        dispatch(
            level,
            #[inline(always)]
            || exp_store_body::<T, false>(x, m, inv_t, out, s),
        )
    }
}

/// `out[j] *= c[j]`.
pub fn scale_by<T: Real>(level: Level, out: &mut [T], c: &[f64]) {
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
pub fn shift_sub_by<T: Real>(
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
