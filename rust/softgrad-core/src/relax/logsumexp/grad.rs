//! Pullbacks (VJPs) of the log-sum-exp family, for any layout. The softmax pullbacks start from the
//! forward's **output** (`y = softmax(x/t)` or `z = log_softmax(x/t)` per lane), the log-sum-exp
//! pullback from its residual `L = t ln |Σ_i b_i e^{x_i/t}|` per lane, so no pullback reduces its
//! input again and none needs the input of a softmax. Since `x_i = L + t ln y_i = L + t z_i` where
//! `y_i > 0`, and a per-lane constant cancels (`Σ y ⊙ (g - <y, g>) = 0`), with `ℓ = ln y`, `y = e^z`,
//! and `ℓ̃`, `z̃` equal to `ℓ`, `z` except 0 where `y` vanishes:
//!
//! ```text
//! softmax:      x̄ = y ⊙ (g - <y, g>) / t,   t̄ = -(<y⊙g, ℓ̃> - <y, g><y, ℓ̃>) / t
//! log_softmax:  x̄ = (g - y Σg) / t,          t̄ = -(Σ_f g z - <y, z̃> Σ_f g) / t
//! ```
//!
//! where `Σ_f` runs over the entries whose `z` is finite. A lane whose output holds a NaN (its
//! maximum was NaN, `+inf` or all `-inf`) has NaN derivatives, as its softmax is NaN in scipy; an
//! empty lane (`n = 0`) contributes nothing.
//!
//! Log-sum-exp, with sign `σ` and cotangent `c` per lane, `e_i = e^{(a_i - L)/t}`:
//!
//! ```text
//! w_i = σ b_i e_i (0 where b_i = 0; e_i unweighted),   ā = c w,   b̄ = c σ t e,
//! t̄ = Σ_lanes c (L - Σ_i w_i a_i) / t   with 0·(-inf) taken as 0,
//! ```
//!
//! and every derivative of a lane whose sum is empty (`σ = 0` or `L = -inf`) is `c · 0`.
//!
//! The temperature cotangent is a sum over fixed pieces (of a row) and fixed tasks (of rows or lane
//! blocks), added in order: the same bits for any thread count.

use crate::error::{Error, Result};
use crate::par::{BlockMut, Layout, Par, Rows, Strided, PAR_MIN_ELEMS};
use crate::real::Real;
use crate::relax::check_temperature;
use crate::simd;

use super::softmax::Kind;

#[path = "grad_rows.rs"]
mod rows;
#[path = "grad_strided.rs"]
mod strided;

/// Fixed accumulators per sum.
pub(super) const W: usize = 8;

/// Runs `$f::<.., FMA>(args)` under [`simd::dispatch`] with `FMA` set as `$level` allows.
macro_rules! with_fma {
    ($level:expr, $f:ident::<$($ty:ty),*>($($arg:expr),* $(,)?)) => {
        if $level.fma() {
            simd::dispatch($level, #[inline(always)] || $f::<$($ty,)* true>($($arg),*))
        } else {
            simd::dispatch($level, #[inline(always)] || $f::<$($ty,)* false>($($arg),*))
        }
    };
}
pub(super) use with_fma;

/// The per-lane sums of the softmax pullbacks: `[<y, ℓ̃>, <y, g>, <y⊙g, ℓ̃>, -]` for softmax,
/// `[<y, z̃>, Σg, Σ_f g z, Σ_f g]` for log-softmax (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Sums(pub(super) [f64; 4]);

impl Sums {
    pub(super) const ZERO: Sums = Sums([0.0; 4]);

    pub(super) fn add(self, o: Sums) -> Sums {
        Sums(std::array::from_fn(|k| self.0[k] + o.0[k]))
    }

    /// The terms of one entry, from its `y`, its `v` (`ℓ = ln y` for softmax, `z` for log-softmax)
    /// and its cotangent `g`.
    #[inline(always)]
    pub(super) fn terms(kind: Kind, y: f64, v: f64, g: f64) -> [f64; 4] {
        let vt = if y == 0.0 { 0.0 } else { v };
        match kind {
            Kind::Softmax => [y * vt, y * g, y * g * vt, 0.0],
            Kind::LogSoftmax => {
                let f = v > f64::NEG_INFINITY;
                [
                    y * vt,
                    g,
                    if f { g * v } else { 0.0 },
                    if f { g } else { 0.0 },
                ]
            }
        }
    }

    /// The factor of the input cotangent: `<y, g>`, or `Σg` for log-softmax; NaN for a lane whose
    /// output holds a NaN (then `<y, ṽ>` is NaN: every other `y ṽ` is finite).
    pub(super) fn coef(self, kind: Kind) -> f64 {
        match kind {
            Kind::Softmax => self.0[1],
            Kind::LogSoftmax if self.0[0].is_nan() => f64::NAN,
            Kind::LogSoftmax => self.0[1],
        }
    }

    /// This lane's temperature cotangent.
    pub(super) fn dt(self, kind: Kind, inv_t: f64) -> f64 {
        let [yv, b, c, d] = self.0;
        match kind {
            Kind::Softmax => -(c - b * yv) * inv_t,
            Kind::LogSoftmax => -(c - yv * d) * inv_t,
        }
    }
}

/// `x̄_i` from `y_i`, `g_i` and the lane's [`Sums::coef`].
#[inline(always)]
pub(super) fn dx_of(kind: Kind, y: f64, g: f64, coef: f64, inv_t: f64) -> f64 {
    match kind {
        Kind::Softmax => y * (g - coef) * inv_t,
        Kind::LogSoftmax => (g - y * coef) * inv_t,
    }
}

/// VJP of softmax (or log-softmax) over the middle axis seen as `layout`, from the forward's output
/// `out` (the values of [`softmax`](super::softmax()) of this `kind`, `layout`, `t`) and the
/// cotangent `g`: writes `dx` and returns the temperature cotangent. The input is not needed. See
/// the module docs for the maths.
///
/// # Errors
/// [`Error::InvalidParameter`] for a bad temperature, [`Error::Shape`] for inconsistent lengths,
/// [`Error::Alloc`] and [`Error::Interrupted`].
pub fn softmax_vjp<T: Real>(
    out: &[T],
    g: &[T],
    layout: Layout,
    t: f64,
    kind: Kind,
    dx: &mut [T],
    par: Par,
) -> Result<f64> {
    let func = kind.name();
    check_temperature(func, t)?;
    let len = layout.len(func)?;
    Error::check_len(func, "out", out.len(), len)?;
    Error::check_len(func, "cotangent", g.len(), len)?;
    Error::check_len(func, "dx", dx.len(), len)?;
    if super::narrow::applies(layout) {
        return super::narrow::softmax_vjp(out, g, layout, t, kind, dx, par);
    }
    let (n, inv_t, level) = (layout.n, 1.0 / t, simd::level());
    let parts = if layout.inner == 1 {
        let data = (Rows::of(out, n), Rows::of(g, n), Rows::of_mut(dx, n));
        let keep = if n < PAR_MIN_ELEMS { n } else { 0 };
        par.map_rows(
            func,
            layout.outer,
            n,
            data,
            keep,
            0.0,
            |acc, _, (out, g, dx), e, p| {
                Ok(acc + rows::softmax_row(level, kind, out, g, inv_t, dx, e, p)?)
            },
        )?
    } else {
        par.for_each_lane_block(
            func,
            layout,
            (),
            Strided::new(dx),
            0.0,
            |acc, blk, (), dx| {
                Ok(acc + strided::softmax_block(level, kind, blk, out, g, inv_t, dx)?)
            },
        )?
    };
    Ok(parts.into_iter().fold(0.0, |a, b| a + b))
}

/// One lane's `(L, σ, c)` and whether its sum is empty.
#[derive(Debug, Clone, Copy)]
pub(super) struct Lane {
    pub(super) l: f64,
    pub(super) sigma: f64,
    pub(super) ct: f64,
}

impl Lane {
    pub(super) fn of<T: Real>(l: &[f64], sign: Option<&[T]>, ct: &[f64], j: usize) -> Lane {
        Lane {
            l: l[j],
            sigma: sign.map_or(1.0, |s| s[j].to_f64()),
            ct: ct[j],
        }
    }

    /// `w = σ b e` (0 where `b = 0`).
    #[inline(always)]
    pub(super) fn weight(self, e: f64, b: f64) -> f64 {
        if b == 0.0 {
            0.0
        } else {
            self.sigma * b * e
        }
    }

    pub(super) fn empty(self) -> bool {
        self.sigma == 0.0 || self.l == f64::NEG_INFINITY
    }

    /// This lane's temperature cotangent from `Σ w a`.
    pub(super) fn dt(self, wa: f64, t: f64) -> f64 {
        if self.empty() {
            self.ct * 0.0
        } else {
            self.ct * ((self.l - wa) / t)
        }
    }
}

/// `(w, b̄ / c)` of one entry of a lane that is not empty.
#[inline(always)]
pub(super) fn lse_terms<const FMA: bool>(
    lane: Lane,
    a: f64,
    b: Option<f64>,
    t: f64,
    inv_t: f64,
) -> (f64, f64) {
    let e = simd::exp::exp::<FMA>((a - lane.l) * inv_t);
    let w = b.map_or(e, |b| lane.weight(e, b));
    (w, lane.sigma * t * e)
}

/// VJP of log-sum-exp over the middle axis of `a` seen as `layout` (weights `b` if given), from the
/// forward's residual `lse` and sign (`None`: +1), for one f64 cotangent `ct` per lane: writes `da`
/// (and `db`, which must be given iff `b` is) and returns the temperature cotangent. See the module
/// docs for the maths.
///
/// # Errors
/// [`Error::InvalidParameter`] for a bad temperature or `db` given without `b` (or the reverse),
/// [`Error::Shape`] for inconsistent lengths, [`Error::Alloc`] and [`Error::Interrupted`].
#[allow(clippy::too_many_arguments)]
pub fn logsumexp_vjp<T: Real>(
    a: &[T],
    b: Option<&[T]>,
    lse: &[f64],
    sign: Option<&[T]>,
    ct: &[f64],
    layout: Layout,
    t: f64,
    da: &mut [T],
    db: Option<&mut [T]>,
    par: Par,
) -> Result<f64> {
    const F: &str = "logsumexp_vjp";
    check_temperature(F, t)?;
    let len = layout.len(F)?;
    Error::check_len(F, "a", a.len(), len)?;
    if let Some(b) = b {
        Error::check_len(F, "b", b.len(), len)?;
    }
    let outputs = layout.outputs();
    Error::check_len(F, "lse", lse.len(), outputs)?;
    if let Some(s) = sign {
        Error::check_len(F, "sign", s.len(), outputs)?;
    }
    Error::check_len(F, "cotangent", ct.len(), outputs)?;
    Error::check_len(F, "da", da.len(), len)?;
    match (b.is_some(), db.as_deref()) {
        (true, Some(db)) => Error::check_len(F, "db", db.len(), len)?,
        (false, None) => {}
        _ => return Err(Error::param(F, "db", "must be given exactly when b is")),
    }
    if super::narrow::applies(layout) {
        return super::narrow::logsumexp_vjp(a, b, lse, sign, ct, layout, t, da, db, par);
    }
    let (n, inv_t, level) = (layout.n, 1.0 / t, simd::level());
    let lanes = (
        Rows::of(lse, 1),
        sign.map(|s| Rows::of(s, 1)),
        Rows::of(ct, 1),
    );
    let parts = if layout.inner == 1 {
        let rows = (Rows::of(a, n), b.map(|b| Rows::of(b, n)));
        let outs = (Rows::of_mut(da, n), db.map(|d| Rows::of_mut(d, n)));
        let data = (rows, lanes, outs);
        par.map_rows(
            F,
            layout.outer,
            n,
            data,
            0,
            0.0,
            |acc, _, (rows, lanes, outs), _, p| {
                let ((a, b), (l, s, c), (da, db)) = (rows, lanes, outs);
                let lane = Lane::of(l, s, c, 0);
                if lane.empty() {
                    da.iter_mut().for_each(|d| *d = T::from_f64(lane.ct * 0.0));
                    db.into_iter()
                        .flatten()
                        .for_each(|d| *d = T::from_f64(lane.ct * 0.0));
                    return Ok(acc + lane.dt(0.0, t));
                }
                let wa = p.fold_chunks(
                    F,
                    n,
                    (
                        Rows::of(a, 1),
                        b.map(|b| Rows::of(b, 1)),
                        Rows::of_mut(da, 1),
                        db.map(|d| Rows::of_mut(d, 1)),
                    ),
                    |_, (a, b, da, db)| rows::lse_piece(level, lane, a, b, t, inv_t, da, db),
                    |x, y| x + y,
                    0.0,
                )?;
                Ok(acc + lane.dt(wa, t))
            },
        )?
    } else {
        let outs = (Strided::new(da), db.map(Strided::new));
        par.for_each_lane_block(F, layout, lanes, outs, 0.0, |acc, blk, (l, s, c), outs| {
            Ok(acc + strided::lse_block(level, blk, a, b, (l, s, c), t, outs)?)
        })?
    };
    Ok(parts.into_iter().fold(0.0, |a, b| a + b))
}

#[doc(hidden)]
pub(super) type LseOuts<'b, T> = (BlockMut<'b, T>, Option<BlockMut<'b, T>>);
