//! The pullbacks over a strided axis, one lane block at a time (see [`crate::par::lanes`]): the
//! per-lane sums are accumulated row by row in row order (keeping `y` in the output), then a second
//! pass (softmax) turns the rows of `y` into the input cotangent. Log-sum-exp needs one pass.

use super::{lse_terms, with_fma, Lane, LseOuts, Sums};
use crate::error::Result;
use crate::par::{scratch, BlockMut, LaneBlock};
use crate::real::Real;
use crate::relax::logsumexp::softmax::Kind;
use crate::simd::{self, Level};

/// `y = e^{(x - L)/t}` of one row of a block, kept in `dx` (as `T`) for the second pass, and the
/// per-lane [`Sums`] updated (`s[k][j]`) from the unrounded `y`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn row_sums<T: Real, const FMA: bool>(
    kind: Kind,
    x: &[T],
    g: &[T],
    l: &[f64],
    inv_t: f64,
    s: &mut [Vec<f64>; 4],
    dx: &mut [T],
) {
    let [s0, s1, s2, s3] = s;
    let n = x.len();
    let (g, l, dx) = (&g[..n], &l[..n], &mut dx[..n]);
    let (s0, s1, s2, s3) = (&mut s0[..n], &mut s1[..n], &mut s2[..n], &mut s3[..n]);
    for j in 0..n {
        let y = simd::exp::exp::<FMA>((x[j].to_f64() - l[j]) * inv_t);
        dx[j] = T::from_f64(y);
        let t = Sums::terms(kind, y, x[j].to_f64(), g[j].to_f64());
        s0[j] += t[0];
        s1[j] += t[1];
        s2[j] += t[2];
        s3[j] += t[3];
    }
}

/// One row of `x̄` of a block from its `y` (in `dx`) and the per-lane coefficients. (At f32, `y` was
/// rounded to f32: well inside the accuracy of an f32 result.)
#[inline(always)]
fn row_dx<T: Real>(kind: Kind, g: &[T], coef: &[f64], inv_t: f64, dx: &mut [T]) {
    let n = dx.len();
    let (g, coef) = (&g[..n], &coef[..n]);
    for j in 0..n {
        dx[j] = T::from_f64(super::dx_of(
            kind,
            dx[j].to_f64(),
            g[j].to_f64(),
            coef[j],
            inv_t,
        ));
    }
}

/// The softmax pullback of one lane block; returns its temperature cotangent (lanes in order).
#[allow(clippy::too_many_arguments)]
pub(super) fn softmax_block<T: Real>(
    level: Level,
    kind: Kind,
    blk: &LaneBlock,
    x: &[T],
    g: &[T],
    l: &[f64],
    inv_t: f64,
    mut dx: BlockMut<'_, T>,
) -> Result<f64> {
    let wj = blk.width;
    let func = kind.name();
    let mut s: [Vec<f64>; 4] = [
        scratch(func, wj, 0.0)?,
        scratch(func, wj, 0.0)?,
        scratch(func, wj, 0.0)?,
        scratch(func, wj, 0.0)?,
    ];
    // The kind is matched outside the loops, so each loop is compiled for one kind.
    for i in 0..blk.n {
        let (xr, gr, d) = (blk.row(x, i), blk.row(g, i), dx.row(i));
        match kind {
            Kind::Softmax => with_fma!(
                level,
                row_sums::<T>(Kind::Softmax, xr, gr, l, inv_t, &mut s, d)
            ),
            Kind::LogSoftmax => with_fma!(
                level,
                row_sums::<T>(Kind::LogSoftmax, xr, gr, l, inv_t, &mut s, d)
            ),
        }
    }
    let coef = &s[1];
    for i in 0..blk.n {
        let (gr, d) = (blk.row(g, i), dx.row(i));
        match kind {
            Kind::Softmax => simd::dispatch(
                level,
                #[inline(always)]
                || row_dx(Kind::Softmax, gr, coef, inv_t, d),
            ),
            Kind::LogSoftmax => simd::dispatch(
                level,
                #[inline(always)]
                || row_dx(Kind::LogSoftmax, gr, coef, inv_t, d),
            ),
        }
    }
    let mut dt = 0.0;
    for j in 0..wj {
        if l[j].is_finite() {
            dt += Sums([s[0][j], s[1][j], s[2][j], s[3][j]]).dt(kind, inv_t);
        } else {
            for i in 0..blk.n {
                dx.row(i)[j] = T::from_f64(f64::NAN);
            }
            if blk.n > 0 {
                dt += f64::NAN;
            }
        }
    }
    Ok(dt)
}

/// One row of a log-sum-exp block: writes `ā` and `b̄`, updates `Σ w a` per lane.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn lse_row<T: Real, const FMA: bool>(
    lanes: &[Lane],
    a: &[T],
    b: Option<&[T]>,
    t: f64,
    inv_t: f64,
    da: &mut [T],
    db: Option<&mut [T]>,
    wa: &mut [f64],
) {
    let n = a.len();
    let (lanes, da, wa) = (&lanes[..n], &mut da[..n], &mut wa[..n]);
    let mut db = db.map(|d| &mut d[..n]);
    for j in 0..n {
        let av = a[j].to_f64();
        let (w, bb) = lse_terms::<FMA>(lanes[j], av, b.map(|b| b[j].to_f64()), t, inv_t);
        da[j] = T::from_f64(lanes[j].ct * w);
        if let Some(db) = db.as_deref_mut() {
            db[j] = T::from_f64(lanes[j].ct * bb);
        }
        wa[j] += if w == 0.0 { 0.0 } else { w * av };
    }
}

/// The log-sum-exp pullback of one lane block; returns its temperature cotangent (lanes in order).
pub(super) fn lse_block<T: Real>(
    level: Level,
    blk: &LaneBlock,
    a: &[T],
    b: Option<&[T]>,
    (l, s, c): (&[f64], Option<&[T]>, &[f64]),
    t: f64,
    (mut da, mut db): LseOuts<'_, T>,
) -> Result<f64> {
    const F: &str = "logsumexp_vjp";
    let (wj, inv_t) = (blk.width, 1.0 / t);
    let mut lanes = scratch(
        F,
        wj,
        Lane {
            l: 0.0,
            sigma: 0.0,
            ct: 0.0,
        },
    )?;
    for (j, lane) in lanes.iter_mut().enumerate() {
        *lane = Lane::of(l, s, c, j);
        if lane.empty() {
            // Keep the main pass free of inf - inf; the lane is overwritten below.
            lane.l = f64::INFINITY;
        }
    }
    let mut wa = scratch(F, wj, 0.0)?;
    for i in 0..blk.n {
        let (ar, br) = (blk.row(a, i), b.map(|b| blk.row(b, i)));
        let dbr = db.as_mut().map(|d| d.row(i));
        with_fma!(
            level,
            lse_row::<T>(&lanes, ar, br, t, inv_t, da.row(i), dbr, &mut wa)
        );
    }
    let mut dt = 0.0;
    for (j, &wa) in wa.iter().enumerate() {
        let lane = Lane::of(l, s, c, j);
        if lane.empty() {
            let zero = T::from_f64(lane.ct * 0.0);
            for i in 0..blk.n {
                da.row(i)[j] = zero;
                if let Some(db) = db.as_mut() {
                    db.row(i)[j] = zero;
                }
            }
        }
        dt += lane.dt(wa, t);
    }
    Ok(dt)
}
