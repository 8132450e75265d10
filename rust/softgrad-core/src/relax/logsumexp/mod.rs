//! The log-sum-exp family: log-sum-exp with weights, sign and temperature (here), softmax and
//! log-softmax ([`softmax()`]), and the pullbacks of all three ([`softmax_vjp`], [`logsumexp_vjp`]).
//! The forwards can keep the log-sum-exp of each lane in f64 (`lse`), which the pullbacks take as
//! their residual instead of reducing the input again.
//!
//! # Log-sum-exp
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
//! Narrow contiguous rows (at most 64 values, the ML shape of many rows of a few classes) take
//! another route for every op of the family, forward and pullback: blocks of rows in SIMD lanes
//! (`narrow.rs` over `simd::rows`), with the same special cases and values equal to rounding.
//!
//! Rows are reduced in pieces of [`REDUCE_PIECE`] values combined left to right,
//! `(M_a, w_a, s_a) ⊕ (M_b, w_b, s_b)` rescaling the side with the smaller maximum by
//! `e^{(M_side - M)/t}`; pieces may be computed on any thread, the combination order never changes.

pub mod cross_entropy;
mod fused;
mod grad;
#[cfg(test)]
mod grad_edge_tests;
#[cfg(test)]
mod grad_tests;
mod narrow;
#[cfg(test)]
mod narrow_tests;
mod softmax;
#[cfg(test)]
mod softmax_tests;

pub use cross_entropy::softmax_cross_entropy;
pub use fused::{logsumexp_vjp_weights, logsumexp_weights};
pub use grad::{logsumexp_vjp, softmax_vjp};
pub use softmax::{softmax, Kind};

use super::check_temperature;
use crate::error::{Error, Result};
#[cfg(doc)]
use crate::par::REDUCE_PIECE;
use crate::par::{Layout, Par, Rows};
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

/// Canonical reduction of one contiguous row: [`REDUCE_PIECE`]-sized pieces folded left to right.
fn reduce_row<T: Real>(
    level: Level,
    x: &[T],
    b: Option<&[T]>,
    inv_t: f64,
    par: Par,
) -> Result<Partial> {
    par.fold_chunks(
        "logsumexp",
        x.len(),
        (Rows::of(x, 1), b.map(|b| Rows::of(b, 1))),
        |_, (x, b)| Partial::of_slice(level, x, b, inv_t),
        |a, p| a.combine(p, inv_t),
        Partial::EMPTY,
    )
}

/// `Σ b e^{x/t}` without shifting: the IEEE semantics of the direct formula (for a `+inf` maximum).
fn naive_sum<T: Real>(
    x: impl Iterator<Item = T>,
    b: Option<impl Iterator<Item = T>>,
    inv_t: f64,
) -> f64 {
    let term = |x: T, w: f64| {
        if w == 0.0 {
            0.0
        } else {
            w * (x.to_f64() * inv_t).exp()
        }
    };
    match b {
        None => x.map(|x| term(x, 1.0)).sum(),
        Some(b) => x.zip(b).map(|(x, w)| term(x, w.to_f64())).sum(),
    }
}

/// One lane's outputs: value, sign and the f64 residual.
type LaneOut<'a, T> = (&'a mut [T], Option<&'a mut [T]>, Option<&'a mut [f64]>);

/// Writes lane `j`'s `(value, sign)`.
fn put<T: Real>(outs: &mut LaneOut<'_, T>, j: usize, (v, sg): (f64, f64)) {
    outs.0[j] = T::from_f64(v);
    if let Some(s) = outs.1.as_deref_mut() {
        s[j] = T::from_f64(sg);
    }
    if let Some(l) = outs.2.as_deref_mut() {
        l[j] = v;
    }
}

/// Log-sum-exp over the middle axis of `x` seen as `layout`; see the module docs for the maths.
///
/// `b`, if given, has the length of `x`. `out` (and `sign`, `lse`, if given) has `layout.outputs()`
/// values. Without `sign`, outputs whose sum is negative are NaN. `lse` receives the values of `out`
/// in f64: the residual of [`logsumexp_vjp`].
///
/// # Errors
/// [`Error::InvalidParameter`] for a temperature that is not finite and positive,
/// [`Error::Shape`] for slices whose lengths disagree with `layout`, [`Error::Alloc`] and
/// [`Error::Interrupted`].
#[allow(clippy::too_many_arguments)]
pub fn logsumexp<T: Real>(
    x: &[T],
    b: Option<&[T]>,
    layout: Layout,
    t: f64,
    out: &mut [T],
    sign: Option<&mut [T]>,
    lse: Option<&mut [f64]>,
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
    if let Some(l) = lse.as_deref() {
        Error::check_len(F, "lse", l.len(), layout.outputs())?;
    }
    if narrow::applies(layout) {
        return narrow::logsumexp(x, b, layout, t, out, sign, lse, par);
    }
    let want_sign = sign.is_some();
    let lanes = (
        Rows::of_mut(out, 1),
        sign.map(|s| Rows::of_mut(s, 1)),
        lse.map(|l| Rows::of_mut(l, 1)),
    );
    let (n, inv_t, level) = (layout.n, 1.0 / t, simd::level());
    if layout.inner == 1 {
        let data = (Rows::of(x, n), b.map(|b| Rows::of(b, n)), lanes);
        par.map_rows(
            F,
            layout.outer,
            n,
            data,
            0,
            (),
            |(), _, (xr, br, mut outs), _, p| {
                let r = reduce_row(level, xr, br, inv_t, p)?;
                let naive = || naive_sum(xr.iter().copied(), br.map(|b| b.iter().copied()), inv_t);
                put(&mut outs, 0, r.finish(t, want_sign, naive));
                Ok(())
            },
        )?;
        return Ok(());
    }
    // A strided axis: each block of lanes walks the rows in pieces small enough to be read twice
    // from cache, combining per-lane partials in row order.
    par.for_each_lane_block(F, layout, lanes, (), (), |(), blk, outs, ()| {
        let wj = blk.width;
        let mut acc = crate::par::scratch(F, wj, Partial::EMPTY)?;
        let mut buf = crate::par::scratch(F, 3 * wj, 0.0)?;
        let (m, rest) = buf.split_at_mut(wj);
        let (s, sw) = rest.split_at_mut(wj);
        for rows in blk.pieces() {
            m.fill(f64::NEG_INFINITY);
            for i in rows.clone() {
                strided::max_into(level, blk.row(x, i), b.map(|b| blk.row(b, i)), m);
            }
            s.fill(0.0);
            sw.fill(0.0);
            if m.iter().any(|v| v.is_finite()) {
                for i in rows {
                    let bi = b.map(|b| blk.row(b, i));
                    strided::sum_exp_excl_into(level, blk.row(x, i), bi, m, inv_t, s, sw);
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
        let mut outs = outs;
        for (j, p) in acc.iter().enumerate() {
            let naive = || naive_sum(blk.lane(x, j), b.map(|b| blk.lane(b, j)), inv_t);
            put(&mut outs, j, p.finish(t, want_sign, naive));
        }
        Ok(())
    })?;
    Ok(())
}

#[cfg(test)]
mod tests;
