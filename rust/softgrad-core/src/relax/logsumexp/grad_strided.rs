//! The pullbacks over a strided axis, one lane block at a time (see [`crate::par::lanes`]). Softmax:
//! the per-lane sums are accumulated row by row in row order from the forward's output (`ln y` or
//! `e^z` computed in the loop by the scalar twins), then a second pass turns the rows of `y` into
//! the input cotangent. Log-sum-exp needs one pass.

use super::{lse_terms, with_fma, Lane, LseOuts, Sums};
use crate::error::Result;
use crate::par::{scratch, BlockMut, LaneBlock};
use crate::real::Real;
use crate::relax::logsumexp::softmax::Kind;
use crate::simd::{self, Level};

/// The per-lane [`Sums`] updated (`s[k][j]`) from one row of the output `o` and its cotangent:
/// `ln y` (softmax) or `y = e^z` (log-softmax, also kept in `dx` for the second pass) computed in
/// the loop by the scalar twins, which the compiler vectorises.
#[inline(always)]
fn row_sums<T: Real, const FMA: bool>(
    kind: Kind,
    o: &[T],
    g: &[T],
    s: &mut [Vec<f64>; 4],
    dx: &mut [T],
) {
    let [s0, s1, s2, s3] = s;
    let n = o.len();
    let (g, dx) = (&g[..n], &mut dx[..n]);
    let (s0, s1, s2, s3) = (&mut s0[..n], &mut s1[..n], &mut s2[..n], &mut s3[..n]);
    for j in 0..n {
        let ov = o[j].to_f64();
        let t = match kind {
            Kind::Softmax => Sums::terms(kind, ov, simd::math::log(ov), g[j].to_f64()),
            Kind::LogSoftmax => {
                let y = simd::exp::exp::<FMA>(ov);
                dx[j] = T::from_f64(y);
                Sums::terms(kind, y, ov, g[j].to_f64())
            }
        };
        s0[j] += t[0];
        s1[j] += t[1];
        s2[j] += t[2];
        s3[j] += t[3];
    }
}

/// One row of `x̄` of a block from its `y` (`y` itself; for log-softmax in `dx`, at f32 rounded to
/// f32: well inside the accuracy of an f32 result) and the per-lane coefficients.
#[inline(always)]
fn row_dx<T: Real>(kind: Kind, y: Option<&[T]>, g: &[T], coef: &[f64], inv_t: f64, dx: &mut [T]) {
    let n = dx.len();
    let (g, coef) = (&g[..n], &coef[..n]);
    match y {
        Some(y) => {
            let y = &y[..n];
            for j in 0..n {
                let v = super::dx_of(kind, y[j].to_f64(), g[j].to_f64(), coef[j], inv_t);
                dx[j] = T::from_f64(v);
            }
        }
        None => {
            for j in 0..n {
                let v = super::dx_of(kind, dx[j].to_f64(), g[j].to_f64(), coef[j], inv_t);
                dx[j] = T::from_f64(v);
            }
        }
    }
}

/// The softmax pullback of one lane block from the forward's output `out`; returns its temperature
/// cotangent (lanes in order).
pub(super) fn softmax_block<T: Real>(
    level: Level,
    kind: Kind,
    blk: &LaneBlock,
    out: &[T],
    g: &[T],
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
        let (o, gr, d) = (blk.row(out, i), blk.row(g, i), dx.row(i));
        match kind {
            Kind::Softmax => with_fma!(level, row_sums::<T>(Kind::Softmax, o, gr, &mut s, d)),
            Kind::LogSoftmax => {
                with_fma!(level, row_sums::<T>(Kind::LogSoftmax, o, gr, &mut s, d))
            }
        }
    }
    let mut sc = scratch(func, wj, 0.0)?;
    let sums = |j: usize| Sums([s[0][j], s[1][j], s[2][j], s[3][j]]);
    let coef = &mut sc;
    for (j, c) in coef.iter_mut().enumerate() {
        *c = sums(j).coef(kind);
    }
    for i in 0..blk.n {
        let (gr, d) = (blk.row(g, i), dx.row(i));
        match kind {
            Kind::Softmax => simd::dispatch(
                level,
                #[inline(always)]
                || row_dx(Kind::Softmax, Some(blk.row(out, i)), gr, coef, inv_t, d),
            ),
            Kind::LogSoftmax => simd::dispatch(
                level,
                #[inline(always)]
                || row_dx(Kind::LogSoftmax, None, gr, coef, inv_t, d),
            ),
        }
    }
    Ok((0..wj).fold(0.0, |dt, j| dt + sums(j).dt(kind, inv_t)))
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
