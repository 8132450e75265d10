//! Pullbacks (VJPs) of softmax and log-softmax over contiguous rows, fused into one kernel.
//!
//! With `y = softmax(x/t)` over a row, cotangent `g`, and `x̃` equal to `x` except 0 where `y`
//! vanishes (so `-inf` entries carry no weight):
//!
//! ```text
//! softmax:      x̄ = y ⊙ (g - <y, g>) / t,   t̄ = -(<y⊙g, x̃> - <y, g><y, x̃>) / t²
//! log_softmax:  x̄ = (g - y Σg) / t,          t̄ = -(Σ_f g x - <y, x̃> Σ_f g) / t²
//! ```
//!
//! where `Σ_f` runs over the finite entries of the row. A row whose maximum is not finite has NaN
//! derivatives (its softmax is NaN, as in scipy). Rows are grouped into fixed tasks and the
//! temperature cotangent is summed task by task in order, so the bits do not depend on the thread
//! count.

use super::check_temperature;
use super::softmax::Kind;
use crate::error::{Error, Result};
use crate::par::{Par, SyncPtr, PAR_MIN_ELEMS};
use crate::real::Real;
use crate::simd::{self, contiguous, Level};

const W: usize = 8;

/// `Σ f(y, x, g)` over zipped slices, in eight fixed lanes added pairwise at the end (one simple
/// accumulator per call, so each call vectorises).
#[inline(always)]
fn sum3<T: Real>(y: &[f64], x: &[T], g: &[T], f: impl Fn(f64, f64, f64) -> f64) -> f64 {
    let mut acc = [0.0; W];
    let (yc, xc, gc) = (y.chunks_exact(W), x.chunks_exact(W), g.chunks_exact(W));
    let (yr, xr, gr) = (yc.remainder(), xc.remainder(), gc.remainder());
    for ((yb, xb), gb) in yc.zip(xc).zip(gc) {
        for j in 0..W {
            acc[j] += f(yb[j], xb[j].to_f64(), gb[j].to_f64());
        }
    }
    let mut out = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for ((&yv, xv), gv) in yr.iter().zip(xr).zip(gr) {
        out += f(yv, xv.to_f64(), gv.to_f64());
    }
    out
}

/// One row: writes `dx`, returns this row's contribution to the temperature cotangent.
fn row<T: Real>(
    level: Level,
    x: &[T],
    g: &[T],
    inv_t: f64,
    kind: Kind,
    dx: &mut [T],
    e: &mut [f64],
) -> f64 {
    let n = x.len();
    let m = contiguous::max(level, x, None);
    if !m.is_finite() {
        dx.iter_mut().for_each(|d| *d = T::from_f64(f64::NAN));
        return f64::NAN;
    }
    let y = &mut e[..n];
    let inv_s = 1.0 / contiguous::exp_store(level, x, m, inv_t, y);
    // x̃: 0 where the weight vanishes, so -inf entries contribute nothing.
    let xt = |y: f64, x: f64| if y == 0.0 { 0.0 } else { x };
    match kind {
        Kind::Softmax => simd::dispatch(
            level,
            #[inline(always)]
            || {
                y.iter_mut().for_each(|v| *v *= inv_s);
                let yx = sum3(y, x, g, |y, x, _| y * xt(y, x));
                let yg = sum3(y, x, g, |y, _, g| y * g);
                let ygx = sum3(y, x, g, |y, x, g| y * g * xt(y, x));
                for ((d, &yv), gv) in dx.iter_mut().zip(y.iter()).zip(g) {
                    *d = T::from_f64(yv * (gv.to_f64() - yg) * inv_t);
                }
                -(ygx - yg * yx) * inv_t * inv_t
            },
        ),
        Kind::LogSoftmax => simd::dispatch(
            level,
            #[inline(always)]
            || {
                y.iter_mut().for_each(|v| *v *= inv_s);
                let finite = |x: f64| x > f64::NEG_INFINITY;
                let yx = sum3(y, x, g, |y, x, _| y * xt(y, x));
                let gsum = sum3(y, x, g, |_, _, g| g);
                let gx = sum3(y, x, g, |_, x, g| if finite(x) { g * x } else { 0.0 });
                let gf = sum3(y, x, g, |_, x, g| if finite(x) { g } else { 0.0 });
                for ((d, &yv), gv) in dx.iter_mut().zip(y.iter()).zip(g) {
                    *d = T::from_f64((gv.to_f64() - yv * gsum) * inv_t);
                }
                -(gx - yx * gf) * inv_t * inv_t
            },
        ),
    }
}

/// Shared driver of the row pullbacks: checks the arguments, cuts the `(rows, n)` array into fixed
/// tasks of whole rows, and calls `f(row index, x row, dx row, scratch)` for each row. Returns the sum
/// of `f`'s results, task by task in order, so the bits do not depend on the thread count.
fn for_rows<T: Real>(
    func: &'static str,
    x: &[T],
    n: usize,
    t: f64,
    dx: &mut [T],
    par: Par,
    f: impl Fn(usize, &[T], &mut [T], &mut [f64]) -> f64 + Send + Sync,
) -> Result<f64> {
    check_temperature(func, t)?;
    Error::check_len(func, "dx", dx.len(), x.len())?;
    if n == 0 || x.is_empty() {
        return Ok(0.0);
    }
    if !x.len().is_multiple_of(n) {
        return Err(Error::param(
            func,
            "n",
            format!("{n} does not divide the length {}", x.len()),
        ));
    }
    let span = (PAR_MIN_ELEMS / 4 / n).max(1) * n;
    let ptr = SyncPtr(dx.as_mut_ptr());
    let parts = par
        .for_work(x.len())
        .map_collect(x.len().div_ceil(span), |k| {
            let r = k * span..((k + 1) * span).min(x.len());
            // SAFETY: task `k` writes only `dx[r]`, and tasks do not overlap.
            let out = unsafe { ptr.slice(r.start, r.len()) };
            let mut scratch = vec![0.0; n];
            let first = r.start / n;
            x[r].chunks(n)
                .zip(out.chunks_mut(n))
                .enumerate()
                .map(|(j, (xr, dr))| f(first + j, xr, dr, &mut scratch))
                .sum::<f64>()
        })?;
    Ok(parts.into_iter().sum())
}

/// VJP of softmax (or log-softmax) over the rows of a row-major `(rows, n)` array `x` with
/// cotangent `g`: writes `dx` and returns the temperature cotangent.
///
/// # Errors
/// [`Error::InvalidParameter`] for a bad temperature, [`Error::Shape`] for inconsistent lengths.
pub fn softmax_vjp_rows<T: Real>(
    x: &[T],
    g: &[T],
    n: usize,
    t: f64,
    kind: Kind,
    dx: &mut [T],
    par: Par,
) -> Result<f64> {
    Error::check_len("softmax_vjp", "cotangent", g.len(), x.len())?;
    let (inv_t, level) = (1.0 / t, simd::level());
    for_rows("softmax_vjp", x, n, t, dx, par, |r, xr, dr, e| {
        row(level, xr, &g[r * n..(r + 1) * n], inv_t, kind, dr, e)
    })
}

/// VJP of unweighted log-sum-exp over the rows of a row-major `(rows, n)` array `x`, for one
/// cotangent per row: writes `da = ct_r softmax(x_r / t)` and returns the temperature cotangent
/// `Σ_r ct_r (L_r - <y_r, x̃_r>) / t`. Rows whose log-sum-exp is not finite (NaN, `±inf`) get NaN.
///
/// # Errors
/// [`Error::InvalidParameter`] for a bad temperature, [`Error::Shape`] for inconsistent lengths.
pub fn logsumexp_vjp_rows<T: Real>(
    x: &[T],
    ct: &[f64],
    n: usize,
    t: f64,
    da: &mut [T],
    par: Par,
) -> Result<f64> {
    if let Some(rows) = x.len().checked_div(n) {
        Error::check_len("logsumexp_vjp", "cotangent", ct.len(), rows)?;
    }
    let (inv_t, level) = (1.0 / t, simd::level());
    for_rows("logsumexp_vjp", x, n, t, da, par, |r, xr, dr, e| {
        let c = ct[r];
        let m = contiguous::max(level, xr, None);
        if !m.is_finite() {
            dr.iter_mut().for_each(|d| *d = T::from_f64(f64::NAN));
            return f64::NAN;
        }
        let y = &mut e[..xr.len()];
        let s = contiguous::exp_store(level, xr, m, inv_t, y);
        let (inv_s, l) = (1.0 / s, m + t * s.ln());
        simd::dispatch(
            level,
            #[inline(always)]
            || {
                y.iter_mut().for_each(|v| *v *= inv_s);
                let yx = sum3(y, xr, xr, |y, x, _| if y == 0.0 { 0.0 } else { y * x });
                for (d, &yv) in dr.iter_mut().zip(y.iter()) {
                    *d = T::from_f64(c * yv);
                }
                c * (l - yx) * inv_t
            },
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relax::testutil::uniform;

    /// The formulas above, written out with libm in the plainest way.
    fn reference(x: &[f64], g: &[f64], n: usize, t: f64, kind: Kind) -> (Vec<f64>, f64) {
        let mut dx = vec![0.0; x.len()];
        let mut dt = 0.0;
        for r in 0..x.len() / n {
            let (xr, gr) = (&x[r * n..(r + 1) * n], &g[r * n..(r + 1) * n]);
            let m = xr.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = xr.iter().map(|v| ((v - m) / t).exp()).collect();
            let s: f64 = e.iter().sum();
            let y: Vec<f64> = e.iter().map(|v| v / s).collect();
            let xt: Vec<f64> = (0..n)
                .map(|i| if y[i] == 0.0 { 0.0 } else { xr[i] })
                .collect();
            let xbar: f64 = (0..n).map(|i| y[i] * xt[i]).sum();
            match kind {
                Kind::Softmax => {
                    let yg: f64 = (0..n).map(|i| y[i] * gr[i]).sum();
                    for i in 0..n {
                        dx[r * n + i] = y[i] * (gr[i] - yg) / t;
                        dt -= y[i] * (gr[i] - yg) * xt[i] / (t * t);
                    }
                }
                Kind::LogSoftmax => {
                    let gs: f64 = gr.iter().sum();
                    for i in 0..n {
                        dx[r * n + i] = (gr[i] - y[i] * gs) / t;
                        if xr[i] > f64::NEG_INFINITY {
                            dt -= gr[i] * (xr[i] - xbar) / (t * t);
                        }
                    }
                }
            }
        }
        (dx, dt)
    }

    #[test]
    fn matches_the_reference_and_does_not_depend_on_threads() {
        for &(rows, n) in &[(1, 1), (3, 7), (50, 33), (400, 129)] {
            let mut x = uniform(rows * n, 41, -30.0, 30.0);
            let g = uniform(rows * n, 42, -1.0, 1.0);
            if n > 3 {
                x[2] = f64::NEG_INFINITY;
            }
            for kind in [Kind::Softmax, Kind::LogSoftmax] {
                let (want, want_dt) = reference(&x, &g, n, 0.7, kind);
                let mut dx = vec![0.0; x.len()];
                let dt = softmax_vjp_rows(&x, &g, n, 0.7, kind, &mut dx, Par::Seq).unwrap();
                for (a, b) in dx.iter().zip(&want) {
                    assert!(
                        (a - b).abs() <= 1e-12 * (1.0 + b.abs()),
                        "{kind:?} {rows}x{n}: {a} vs {b}"
                    );
                }
                assert!(
                    (dt - want_dt).abs() <= 1e-10 * (1.0 + want_dt.abs()),
                    "{dt} vs {want_dt}"
                );
                let mut dx2 = vec![0.0; x.len()];
                let dt2 = softmax_vjp_rows(&x, &g, n, 0.7, kind, &mut dx2, Par::Rayon(3)).unwrap();
                assert_eq!(dt.to_bits(), dt2.to_bits());
                assert!(dx.iter().zip(&dx2).all(|(a, b)| a.to_bits() == b.to_bits()));
            }
        }
    }

    #[test]
    fn logsumexp_pullback_is_the_scaled_softmax() {
        let (rows, n, t) = (30, 77, 1.3);
        let mut x = uniform(rows * n, 51, -10.0, 10.0);
        x[5] = f64::NEG_INFINITY;
        let ct = uniform(rows, 52, -2.0, 2.0);
        let g: Vec<f64> = (0..rows * n).map(|k| ct[k / n]).collect();
        let (sm, _) = reference(&x, &vec![0.0; x.len()], n, t, Kind::Softmax);
        let _ = sm;
        let mut da = vec![0.0; x.len()];
        let dt = logsumexp_vjp_rows(&x, &ct, n, t, &mut da, Par::Seq).unwrap();
        let mut want_dt = 0.0;
        for r in 0..rows {
            let xr = &x[r * n..(r + 1) * n];
            let l = t * xr.iter().map(|v| (v / t).exp()).sum::<f64>().ln();
            let mut yx = 0.0;
            for i in 0..n {
                let y = ((xr[i] - l) / t).exp();
                assert!(
                    (da[r * n + i] - g[r * n + i] * y).abs() <= 1e-13 * (1.0 + y),
                    "row {r} col {i}"
                );
                if y > 0.0 {
                    yx += y * xr[i];
                }
            }
            want_dt += ct[r] * (l - yx) / t;
        }
        assert!(
            (dt - want_dt).abs() <= 1e-11 * (1.0 + want_dt.abs()),
            "{dt} vs {want_dt}"
        );
        let mut da2 = vec![0.0; x.len()];
        let dt2 = logsumexp_vjp_rows(&x, &ct, n, t, &mut da2, Par::Rayon(2)).unwrap();
        assert_eq!(dt.to_bits(), dt2.to_bits());
        assert!(da.iter().zip(&da2).all(|(a, b)| a.to_bits() == b.to_bits()));
    }

    #[test]
    fn nonfinite_rows_are_nan() {
        let x = [f64::NEG_INFINITY, f64::NEG_INFINITY, 1.0, f64::NAN];
        let g = [1.0; 4];
        let mut dx = [0.0; 4];
        let dt = softmax_vjp_rows(&x, &g, 2, 1.0, Kind::Softmax, &mut dx, Par::Seq).unwrap();
        assert!(dt.is_nan() && dx.iter().all(|v| v.is_nan()));
    }
}
