//! Scalar twins of the `f32` bodies in [`contiguous32`](super::contiguous32): one element at a
//! time through the scalar [`exp32`], each sum in the lane the vector code gives the element
//! (`i mod W32`), the lanes added pairwise at the end. The kernels must give these bits at every
//! level.

use super::math32::{exp32, exp32_shifted};
use super::vector::W32;

/// The lanes summed pairwise in the order of `contiguous::hsum2`.
fn hsum(a: [f64; W32]) -> f64 {
    let mut w = a;
    let mut n = W32;
    while n > 1 {
        n /= 2;
        for i in 0..n {
            w[i] += w[i + n];
        }
    }
    w[0]
}

/// `(x - m) inv_t` as the sums form it.
fn shift(v: f32, m: f32, inv_t: f32) -> f32 {
    if inv_t == 1.0 {
        v - m
    } else {
        (v - m) * inv_t
    }
}

/// Twin of `contiguous32::sum_exp_excl` (unweighted data).
pub(crate) fn sum_exp_excl(x: &[f32], m: f32, inv_t: f32) -> (f64, f64) {
    let (mut s, mut sw) = ([0.0; W32], [0.0; W32]);
    for (i, &v) in x.iter().enumerate() {
        if v == m {
            sw[i % W32] += 1.0;
        } else {
            s[i % W32] += exp32(shift(v, m, inv_t)) as f64;
        }
    }
    (hsum(s), hsum(sw))
}

/// Twin of `contiguous32::exp_store`.
pub(crate) fn exp_store(x: &[f32], m: f32, inv_t: f64, out: &mut [f32]) -> f64 {
    let t = inv_t as f32;
    let t_lo = (inv_t - t as f64) as f32;
    let mut s = [0.0; W32];
    for (i, (o, &v)) in out.iter_mut().zip(x).enumerate() {
        *o = exp32_shifted(v, m, t, t_lo);
        s[i % W32] += *o as f64;
    }
    hsum(s)
}
