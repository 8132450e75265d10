//! The strided class axis (`inner > 1`) of [`softmax_cross_entropy`](super::softmax_cross_entropy),
//! in lane blocks: per block the lane maxima and the sums of `e^{(x - M)/t}` by the SIMD lane kernels
//! (the ones softmax uses; the exponentials stored in the gradient rows if asked), then loss, dot
//! and gradient row by row.

use super::{weight, Ctx, Outputs, Targets, F};
use crate::error::Result;
use crate::par::{scratch, Layout, Par, Rows, Strided};
use crate::real::Real;
use crate::simd::{self, strided};

/// A strided class axis, in lane blocks: per block the lane maxima, then the sums of
/// `e^{(x - M)/t}` (stored in the gradient rows if asked), then loss, dot and gradient row by row.
pub(super) fn strided<T: Real>(
    x: &[T],
    targets: Targets<'_, T>,
    w: Option<&[T]>,
    layout: Layout,
    c: Ctx,
    out: Outputs<'_, T>,
    par: Par,
) -> Result<f64> {
    let (cls, probs) = match targets {
        Targets::Classes(v) => (Some(Rows::of(v, 1)), None),
        Targets::Probs(q) => (None, Some(q)),
    };
    let (want_dot, level) = (out.dots.is_some(), simd::level());
    let lanes = (
        cls,
        w.map(|w| Rows::of(w, 1)),
        out.losses.map(|l| Rows::of_mut(l, 1)),
        out.dots.map(|d| Rows::of_mut(d, 1)),
    );
    let outs = out.grad.map(Strided::new);
    let parts = par.for_each_lane_block(
        F,
        layout,
        lanes,
        outs,
        0.0,
        |mut total, blk, (cs, ws, mut ls, mut ds), mut g| {
            let wj = blk.width;
            let cs = match cs {
                Some(cs) => Some(
                    cs.iter()
                        .map(|&v| c.class(v))
                        .collect::<Result<Vec<usize>>>()?,
                ),
                None => None,
            };
            let mut buf = scratch(F, 7 * wj, 0.0)?;
            let (m, rest) = buf.split_at_mut(wj);
            let (h, rest) = rest.split_at_mut(wj);
            let (lse, rest) = rest.split_at_mut(wj);
            let (s, rest) = rest.split_at_mut(wj);
            let (sy, rest) = rest.split_at_mut(wj);
            let (loss, dot) = rest.split_at_mut(wj);
            m.fill(f64::NEG_INFINITY);
            for i in 0..blk.n {
                strided::max_into(level, blk.row(x, i), None, m);
            }
            // An all -inf lane shifts by 0 (its terms are 0, not NaN); lanes whose maximum is not
            // finite get NaN results below whatever their sums.
            for (hj, &mj) in h.iter_mut().zip(m.iter()) {
                *hj = if mj == f64::NEG_INFINITY { 0.0 } else { mj };
            }
            // Without a gradient, the exponentials go to a scratch row: the same kernel either
            // way, so the same sums (the plain call's loss has the bits of the gradient call's).
            let mut row = match g {
                Some(_) => Vec::new(),
                None => scratch(F, wj, T::from_f64(0.0))?,
            };
            for i in 0..blk.n {
                let xr = blk.row(x, i);
                match g.as_mut() {
                    Some(g) => strided::exp_store_into(level, xr, h, c.inv_t, g.row(i), s),
                    None => strided::exp_store_into(level, xr, h, c.inv_t, &mut row, s),
                }
                if let Some(q) = probs {
                    for (a, v) in sy.iter_mut().zip(blk.row(q, i)) {
                        *a += v.to_f64();
                    }
                }
            }
            // The lanes' log-sum-exp (NaN where the maximum is not finite).
            for j in 0..wj {
                lse[j] = if m[j].is_finite() {
                    m[j] + c.t * s[j].ln()
                } else {
                    f64::NAN
                };
                sy[j] = if probs.is_some() {
                    c.hard * sy[j] + c.u * c.k as f64
                } else {
                    1.0
                };
            }
            // Row by row: loss, dot and gradient of every lane, compiled for the vector level.
            simd::dispatch(
                level,
                #[inline(always)]
                || {
                    for i in 0..blk.n {
                        let xr = blk.row(x, i);
                        let mut gr = g.as_mut().map(|g| g.row(i));
                        for j in 0..wj {
                            let xv = xr[j].to_f64();
                            let y = match (&cs, probs) {
                                (Some(cs), _) => c.u + if cs[j] == i { c.hard } else { 0.0 },
                                (None, Some(q)) => c.hard * blk.row(q, i)[j].to_f64() + c.u,
                                (None, None) => {
                                    unreachable!("targets are classes or probabilities")
                                }
                            };
                            if y != 0.0 {
                                loss[j] += y * (lse[j] - xv);
                            }
                            if gr.is_none() && !want_dot {
                                continue;
                            }
                            let e = match gr.as_deref() {
                                Some(gr) => gr[j].to_f64(),
                                None => ((xv - h[j]) * c.inv_t).exp(),
                            };
                            let d = sy[j] * (e / s[j]) - y;
                            if d != 0.0 {
                                dot[j] += d * (xv - lse[j]);
                            }
                            if let Some(gr) = gr.as_deref_mut() {
                                gr[j] = T::from_f64(d * weight(ws, j) * c.scale * c.inv_t);
                            }
                        }
                    }
                },
            );
            for j in 0..wj {
                let wv = weight(ws, j);
                let bad = !lse[j].is_finite();
                let (l, mut d) = if bad {
                    (f64::NAN, f64::NAN)
                } else {
                    (loss[j] * c.inv_t, dot[j])
                };
                if bad || wv == 0.0 {
                    let fill = T::from_f64(if wv == 0.0 { 0.0 } else { f64::NAN });
                    if let Some(g) = g.as_mut() {
                        for i in 0..blk.n {
                            g.row(i)[j] = fill;
                        }
                    }
                }
                if wv == 0.0 {
                    d = 0.0;
                } else {
                    total += wv * l;
                }
                if let Some(ls) = ls.as_deref_mut() {
                    ls[j] = l;
                }
                if let Some(ds) = ds.as_deref_mut() {
                    ds[j] = d;
                }
            }
            Ok(total)
        },
    )?;
    Ok(parts.into_iter().fold(0.0, |a, b| a + b))
}
