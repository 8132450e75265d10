//! Narrow contiguous rows (`inner == 1`, `1 <= n <= rows::MAX_N`): many short rows, the common ML
//! shape (a batch of 10 to 50 classes). Rows are handed out in fixed tasks and each task runs
//! through the row-block kernels of `simd::rows`, which put [`W`] rows in the SIMD lanes. The
//! special cases (non-finite maxima, sums of the uncommon kinds) come back here and go through the
//! per-row path's own code, so the semantics are the wide path's exactly; values agree with it to
//! rounding (sums are taken in row order instead of in 16 lanes).

use super::softmax::{nonfinite_row, Kind};
use super::{naive_sum, Partial};
use crate::error::Result;
use crate::par::{Layout, Par, Rows};
use crate::real::Real;
use crate::simd::rows::{self, LseLanes, MAX_N};
use crate::simd::vector::W;
use crate::simd::{self};

/// Whether `layout` takes the narrow-row path.
pub(super) fn applies(layout: Layout) -> bool {
    layout.inner == 1 && (1..=MAX_N).contains(&layout.n)
}

/// [`logsumexp`](super::logsumexp()) of narrow rows; arguments as there (checked by the caller).
#[allow(clippy::too_many_arguments)]
pub(super) fn logsumexp<T: Real>(
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
    let (n, level, inv_t, want_sign) = (layout.n, simd::level(), 1.0 / t, sign.is_some());
    let data = (
        (Rows::of(x, n), b.map(|b| Rows::of(b, n))),
        (
            Rows::of_mut(out, 1),
            sign.map(|s| Rows::of_mut(s, 1)),
            lse.map(|l| Rows::of_mut(l, 1)),
        ),
    );
    par.map_row_tasks(
        F,
        layout.outer,
        n,
        W,
        data,
        |_, ((x, b), (out, sign, lse))| {
            let slow = |j: usize, max: f64, s: f64, w: f64| {
                let (xr, br) = (&x[j * n..(j + 1) * n], b.map(|b| &b[j * n..(j + 1) * n]));
                let p = if max.is_finite() {
                    Partial { max, w, s }
                } else {
                    Partial {
                        max,
                        ..Partial::EMPTY
                    }
                };
                let naive = || naive_sum(xr.iter().copied(), br.map(|b| b.iter().copied()), inv_t);
                p.finish(t, want_sign, naive)
            };
            rows::logsumexp(level, x, b, n, t, out, sign, lse, slow);
            Ok(())
        },
    )?;
    Ok(())
}

/// [`softmax`](super::softmax()) of narrow rows; arguments as there (checked by the caller).
pub(super) fn softmax<T: Real>(
    x: &[T],
    layout: Layout,
    t: f64,
    kind: Kind,
    out: &mut [T],
    lse: Option<&mut [f64]>,
    par: Par,
) -> Result<()> {
    let (n, level, log) = (layout.n, simd::level(), kind == Kind::LogSoftmax);
    let data = (
        Rows::of(x, n),
        Rows::of_mut(out, n),
        lse.map(|l| Rows::of_mut(l, 1)),
    );
    par.map_row_tasks(kind.name(), layout.outer, n, W, data, |_, (x, out, lse)| {
        let slow = |xr: &[T], or: &mut [T]| nonfinite_row(xr, t, kind, or);
        rows::softmax(level, x, n, t, log, out, lse, slow);
        Ok(())
    })?;
    Ok(())
}

/// [`softmax_vjp`](super::softmax_vjp) of narrow rows; arguments as there (checked by the caller).
pub(super) fn softmax_vjp<T: Real>(
    out: &[T],
    g: &[T],
    layout: Layout,
    t: f64,
    kind: Kind,
    dx: &mut [T],
    par: Par,
) -> Result<f64> {
    let (n, level, log) = (layout.n, simd::level(), kind == Kind::LogSoftmax);
    let data = (Rows::of(out, n), Rows::of(g, n), Rows::of_mut(dx, n));
    let parts = par.map_row_tasks(kind.name(), layout.outer, n, W, data, |_, (y, g, dx)| {
        Ok(rows::softmax_vjp(level, y, g, n, 1.0 / t, log, dx))
    })?;
    Ok(parts.into_iter().fold(0.0, |a, b| a + b))
}

/// [`logsumexp_vjp`](super::logsumexp_vjp) of narrow rows; arguments as there (checked by the
/// caller).
#[allow(clippy::too_many_arguments)]
pub(super) fn logsumexp_vjp<T: Real>(
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
    let (n, level) = (layout.n, simd::level());
    let data = (
        (Rows::of(a, n), b.map(|b| Rows::of(b, n))),
        (
            Rows::of(lse, 1),
            sign.map(|s| Rows::of(s, 1)),
            Rows::of(ct, 1),
        ),
        (Rows::of_mut(da, n), db.map(|d| Rows::of_mut(d, n))),
    );
    let parts = par.map_row_tasks(
        "logsumexp_vjp",
        layout.outer,
        n,
        W,
        data,
        |_, ((a, b), (lse, sign, ct), (da, db))| {
            let lanes = LseLanes { lse, sign, ct };
            Ok(rows::logsumexp_vjp(level, a, b, lanes, n, t, da, db, None))
        },
    )?;
    Ok(parts.into_iter().fold(0.0, |a, b| a + b))
}
