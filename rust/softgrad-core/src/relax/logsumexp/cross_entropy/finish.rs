//! The finish of a piece of contiguous rows: each row's loss (and, with the gradient, its
//! probabilities turned into the pullback) from the log-sum-exp the piece's softmax wrote.

use super::{row_terms, weight, Ctx, Target};
use crate::error::Result;
use crate::real::Real;

/// One piece of contiguous rows after its softmax: inputs, probabilities and per-sample outputs.
pub(super) struct Piece<'a, T> {
    pub(super) x: &'a [T],
    pub(super) p: &'a mut [T],
    pub(super) lse: &'a [f64],
    pub(super) classes: Option<&'a [i64]>,
    pub(super) probs: Option<&'a [T]>,
    pub(super) w: Option<&'a [T]>,
    pub(super) losses: Option<&'a mut [f64]>,
    pub(super) dots: Option<&'a mut [f64]>,
}

/// Loss, dot and (with `want_grad`) gradient of every row of a piece; returns the piece's
/// `Σ w loss`.
#[inline(always)]
pub(super) fn finish_piece<T: Real>(c: &Ctx, pc: Piece<'_, T>, want_grad: bool) -> Result<f64> {
    let k = c.k;
    let Piece {
        x,
        p,
        lse,
        classes,
        probs,
        w,
        mut losses,
        mut dots,
    } = pc;
    if let (false, true, Some(cs), None) = (want_grad, c.u == 0.0, classes, dots.as_deref()) {
        return finish_classes(c, x, lse, cs, w, losses);
    }
    let mut total = 0.0;
    for (r, ((xr, pr), &l)) in x
        .chunks_exact(k)
        .zip(p.chunks_exact_mut(k))
        .zip(lse.iter())
        .enumerate()
    {
        let y = match (classes, probs) {
            (Some(cs), _) => Target::Class(c.class(cs[r])?),
            (None, Some(q)) => Target::Probs(&q[r * k..(r + 1) * k]),
            (None, None) => unreachable!("targets are classes or probabilities"),
        };
        let wr = weight(w, r);
        let g = want_grad.then_some(wr * c.scale);
        let (loss, mut dot) = row_terms(c, xr, pr, l, y, g);
        if wr == 0.0 {
            dot = 0.0;
            if want_grad {
                pr.fill(T::from_f64(0.0));
            }
        } else {
            total += wr * loss;
        }
        if let Some(ls) = losses.as_deref_mut() {
            ls[r] = loss;
        }
        if let Some(ds) = dots.as_deref_mut() {
            ds[r] = dot;
        }
    }
    Ok(total)
}

/// [`finish_piece`] of the common call: class targets without smoothing, no gradient, no dots.
/// Each loss is [`row_terms`]' `(1 - ε)(L - x_c)/t` with the same operations (so the same bits), in a
/// loop without the general case's per-row branches.
#[inline(always)]
fn finish_classes<T: Real>(
    c: &Ctx,
    x: &[T],
    lse: &[f64],
    cs: &[i64],
    w: Option<&[T]>,
    mut losses: Option<&mut [f64]>,
) -> Result<f64> {
    let mut total = 0.0;
    for (r, (xr, (&l, &cl))) in x.chunks_exact(c.k).zip(lse.iter().zip(cs)).enumerate() {
        let j = c.class(cl)?;
        let loss = if l.is_finite() {
            c.hard * (l - xr[j].to_f64()) * c.inv_t
        } else {
            f64::NAN
        };
        let wr = weight(w, r);
        if wr != 0.0 {
            total += wr * loss;
        }
        if let Some(ls) = losses.as_deref_mut() {
            ls[r] = loss;
        }
    }
    Ok(total)
}
