//! Log-sum-exp with weights, sign and temperature.
//!
//! For each output lane, `out = t ln |Σ_i b_i e^{x_i/t}|` and `sign = sgn(Σ_i b_i e^{x_i/t})`.
//! With `M = max{x_i : b_i ≠ 0}`, `w = Σ_{x_i = M} b_i` and `s = Σ_{x_i < M} b_i e^{(x_i - M)/t}`,
//!
//! ```text
//! out = M + t (ln|w| + ln1p(s / w))
//! ```
//!
//! which keeps the terms at the maximum out of the rounded sum, so `ln(1 + tiny)` is not lost
//! (Blanchard, Higham & Higham, "Accurately computing the log-sum-exp and softmax functions",
//! IMA J. Numer. Anal. 41(4), 2021). This is the formulation of `scipy.special.logsumexp` since 1.15,
//! and the special cases follow it: entries with `b = 0` are ignored whatever their `x`; NaN gives NaN;
//! no entry (or all `-inf`) gives `-inf` with sign 0; a `+inf` entry gives the IEEE result of the
//! direct sum. Where `w = 0` (weights cancel at the maximum) the sum is taken whole, relative to `M`,
//! which stays finite where scipy's fallback to the unshifted sum overflows.
//!
//! Rows are reduced in pieces of [`CHUNK`] values combined left to right,
//! `(M_a, w_a, s_a) ⊕ (M_b, w_b, s_b)` rescaling the side with the smaller maximum by
//! `e^{(M_side - M)/t}`; pieces may be computed on any thread, the combination order never changes.

use super::{check_temperature, Layout, CHUNK};
use crate::error::{Error, Result};
use crate::par::{Par, PAR_MIN_ELEMS};
use crate::real::Real;
use crate::simd::{self, contiguous, strided, Level};

/// A reduction in progress: maximum, weight at the maximum, scaled sum of the rest.
#[derive(Debug, Clone, Copy)]
struct Partial {
    max: f64,
    w: f64,
    s: f64,
}

impl Partial {
    const EMPTY: Partial = Partial {
        max: f64::NEG_INFINITY,
        w: 0.0,
        s: 0.0,
    };

    fn of_slice<T: Real>(level: Level, x: &[T], b: Option<&[T]>, inv_t: f64) -> Partial {
        let max = contiguous::max(level, x, b);
        if !max.is_finite() {
            return Partial {
                max,
                ..Partial::EMPTY
            };
        }
        let (s, w) = contiguous::sum_exp_excl(level, x, b, max, inv_t);
        Partial { max, w, s }
    }

    fn combine(self, o: Partial, inv_t: f64) -> Partial {
        if self.max.is_nan() || o.max.is_nan() {
            return Partial {
                max: f64::NAN,
                ..Partial::EMPTY
            };
        }
        let max = self.max.max(o.max);
        if !max.is_finite() {
            return Partial {
                max,
                ..Partial::EMPTY
            };
        }
        let mut acc = Partial {
            max,
            w: 0.0,
            s: 0.0,
        };
        for p in [self, o] {
            if p.max == max {
                acc.w += p.w;
                acc.s += p.s;
            } else if p.max > f64::NEG_INFINITY {
                acc.s += (p.w + p.s) * ((p.max - max) * inv_t).exp();
            }
        }
        acc
    }

    /// `(value, sign)`; `naive` computes the unshifted sum `Σ b e^{x/t}` for the `+inf` case.
    fn finish(self, t: f64, want_sign: bool, naive: impl FnOnce() -> f64) -> (f64, f64) {
        let (value, sign) = if self.max.is_nan() {
            (f64::NAN, f64::NAN)
        } else if self.max == f64::NEG_INFINITY {
            (f64::NEG_INFINITY, 0.0)
        } else if self.max == f64::INFINITY {
            let total = naive();
            (t * total.abs().ln(), signum(total))
        } else if self.s.is_nan() || self.w.is_nan() {
            (f64::NAN, f64::NAN)
        } else if self.w == 0.0 {
            if self.s == 0.0 {
                (f64::NEG_INFINITY, 0.0)
            } else {
                (self.max + t * self.s.abs().ln(), signum(self.s))
            }
        } else if (self.s / self.w).is_infinite() {
            // The weight at the maximum is negligible next to the rest (e.g. b = [1e-300, 1]):
            // factor out `s` instead of `w`.
            let r = self.w / self.s;
            (
                self.max + t * (self.s.abs().ln() + r.ln_1p()),
                signum(self.s),
            )
        } else {
            let mut r = self.s / self.w;
            let sign = signum(r + 1.0) * signum(self.w);
            if r < -1.0 {
                r = -r - 2.0;
            }
            (self.max + t * (r.ln_1p() + self.w.abs().ln()), sign)
        };
        if !want_sign && sign < 0.0 {
            (f64::NAN, sign)
        } else {
            (value, sign)
        }
    }
}

fn signum(v: f64) -> f64 {
    if v.is_nan() {
        f64::NAN
    } else if v > 0.0 {
        1.0
    } else if v < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// Canonical reduction of one contiguous row: [`CHUNK`]-sized pieces folded left to right.
fn reduce_row<T: Real>(
    level: Level,
    x: &[T],
    b: Option<&[T]>,
    inv_t: f64,
    par: Par,
) -> Result<Partial> {
    let piece = |k: usize| {
        let r = k * CHUNK..((k + 1) * CHUNK).min(x.len());
        Partial::of_slice(level, &x[r.clone()], b.map(|b| &b[r]), inv_t)
    };
    let pieces = x.len().div_ceil(CHUNK);
    let fold =
        |ps: &mut dyn Iterator<Item = Partial>| ps.fold(Partial::EMPTY, |a, p| a.combine(p, inv_t));
    match par.for_work(x.len()) {
        Par::Seq => Ok(fold(&mut (0..pieces).map(piece))),
        p => Ok(fold(&mut p.map_collect(pieces, piece)?.into_iter())),
    }
}

/// `Σ b e^{x/t}` without shifting, over a strided lane: the IEEE semantics of the direct formula.
fn naive_sum<T: Real>(
    x: &[T],
    b: Option<&[T]>,
    start: usize,
    stride: usize,
    n: usize,
    inv_t: f64,
) -> f64 {
    (0..n)
        .map(|i| start + i * stride)
        .map(|k| {
            let w = b.map_or(1.0, |b| b[k].to_f64());
            if w == 0.0 {
                0.0
            } else {
                w * (x[k].to_f64() * inv_t).exp()
            }
        })
        .sum()
}

/// Log-sum-exp over the middle axis of `x` seen as `layout`; see the module docs for the maths.
///
/// `b`, if given, has the length of `x`. `out` (and `sign`, if given) has `layout.outputs()` values.
/// Without `sign`, outputs whose sum is negative are NaN.
///
/// # Errors
/// [`Error::InvalidParameter`] for a temperature that is not finite and positive,
/// [`Error::Shape`] for slices whose lengths disagree with `layout`.
pub fn logsumexp<T: Real>(
    x: &[T],
    b: Option<&[T]>,
    layout: Layout,
    t: f64,
    out: &mut [T],
    mut sign: Option<&mut [T]>,
    par: Par,
) -> Result<()> {
    const F: &str = "logsumexp";
    check_temperature(F, t)?;
    let len = layout.len(F)?;
    Error::check_len(F, "a", x.len(), len)?;
    if let Some(b) = b {
        Error::check_len(F, "b", b.len(), len)?;
    }
    Error::check_len(F, "out", out.len(), layout.outputs())?;
    if let Some(s) = sign.as_deref() {
        Error::check_len(F, "sign", s.len(), layout.outputs())?;
    }
    if layout.outputs() == 0 {
        return Ok(());
    }
    let want_sign = sign.is_some();
    let results = if layout.inner == 1 {
        rows(x, b, layout, t, want_sign, par)?
    } else {
        strided(x, b, layout, t, want_sign, par)?
    };
    for (k, (v, s)) in results.into_iter().enumerate() {
        out[k] = T::from_f64(v);
        if let Some(sign) = sign.as_deref_mut() {
            sign[k] = T::from_f64(s);
        }
    }
    Ok(())
}

fn rows<T: Real>(
    x: &[T],
    b: Option<&[T]>,
    l: Layout,
    t: f64,
    want_sign: bool,
    par: Par,
) -> Result<Vec<(f64, f64)>> {
    let (n, inv_t, level) = (l.n, 1.0 / t, simd::level());
    let one = |r: usize, par: Par| -> Result<(f64, f64)> {
        let (xr, br) = (&x[r * n..(r + 1) * n], b.map(|b| &b[r * n..(r + 1) * n]));
        let p = reduce_row(level, xr, br, inv_t, par)?;
        Ok(p.finish(t, want_sign, || naive_sum(xr, br, 0, 1, n, inv_t)))
    };
    if n >= PAR_MIN_ELEMS || l.outer == 1 {
        // Long rows: parallel inside each row.
        (0..l.outer).map(|r| one(r, par)).collect()
    } else {
        par.for_work(l.outer * n)
            .map_collect(l.outer, |r| one(r, Par::Seq))?
            .into_iter()
            .collect()
    }
}

/// Reduction over a strided axis: each task owns a block of inner lanes and walks the reduced axis
/// in pieces of rows small enough to be read twice from cache, combining per-lane partials in row
/// order (so the bits do not depend on the thread count).
fn strided<T: Real>(
    x: &[T],
    b: Option<&[T]>,
    l: Layout,
    t: f64,
    want_sign: bool,
    par: Par,
) -> Result<Vec<(f64, f64)>> {
    let (n, inner, inv_t, level) = (l.n, l.inner, 1.0 / t, simd::level());
    let w = inner.min(512);
    let blocks = inner.div_ceil(w);
    let rows_per_piece = (16 * CHUNK / w).max(1);
    let task = |k: usize| -> Vec<(f64, f64)> {
        let (o, j0) = (k / blocks, (k % blocks) * w);
        let wj = w.min(inner - j0);
        let base = o * n * inner + j0;
        let row = |i: usize| base + i * inner..base + i * inner + wj;
        let mut acc = vec![Partial::EMPTY; wj];
        let (mut m, mut s, mut sw) = (vec![0.0; wj], vec![0.0; wj], vec![0.0; wj]);
        for i0 in (0..n).step_by(rows_per_piece) {
            let rows = i0..(i0 + rows_per_piece).min(n);
            m.fill(f64::NEG_INFINITY);
            for i in rows.clone() {
                strided::max_into(level, &x[row(i)], b.map(|b| &b[row(i)]), &mut m);
            }
            s.fill(0.0);
            sw.fill(0.0);
            if m.iter().any(|v| v.is_finite()) {
                for i in rows {
                    let bi = b.map(|b| &b[row(i)]);
                    strided::sum_exp_excl_into(level, &x[row(i)], bi, &m, inv_t, &mut s, &mut sw);
                }
            }
            for j in 0..wj {
                let p = if m[j].is_finite() {
                    Partial {
                        max: m[j],
                        w: sw[j],
                        s: s[j],
                    }
                } else {
                    Partial {
                        max: m[j],
                        ..Partial::EMPTY
                    }
                };
                acc[j] = acc[j].combine(p, inv_t);
            }
        }
        acc.iter()
            .enumerate()
            .map(|(j, p)| p.finish(t, want_sign, || naive_sum(x, b, base + j, inner, n, inv_t)))
            .collect()
    };
    let per_task = par
        .for_work(l.outer * n * inner)
        .map_collect(l.outer * blocks, task)?;
    Ok(per_task.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests;
