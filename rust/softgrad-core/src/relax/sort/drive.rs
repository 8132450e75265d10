//! The one lane driver of the family: every lane (the `n` values along the axis of one output
//! position) is widened to f64, handed to a per-lane kernel with its part of a bundle of per-lane
//! data, and the kernel's f64 result narrowed back into place.
//!
//! Contiguous lanes (`inner == 1`) go through [`Par::map_rows`] (f64 rows handed over in place,
//! f32 rows widened into scratch): short rows spread over the threads
//! a task each; a long row (or a single one) gets the threads to use inside (the parallel sort). A
//! strided axis goes through [`Par::for_each_lane_block`]: each block of adjacent lanes is
//! transposed into scratch, its lanes run one by one, and the results are transposed back.

use crate::error::Result;
use crate::par::{scratch, Layout, Par, Rows, Split, Strided};
use crate::real::Real;

/// A bundle handed through a driver whole, so that a task can cut its lanes further itself.
struct Keep<D>(D);

impl<D: Split> Split for Keep<D> {
    type Item = D;
    fn split_rows(self, k: usize) -> (Self, Self) {
        let (a, b) = self.0.split_rows(k);
        (Keep(a), Keep(b))
    }
    fn item(self) -> D {
        self.0
    }
}

/// Runs `f(lane in, lane out, lane data, par)` on every lane of `input` (seen as `layout`),
/// writing `out` (same length). `data` holds one row per lane (`outer * inner` of them).
pub(crate) fn each_lane<T: Real, D: Split>(
    func: &'static str,
    layout: Layout,
    input: &[T],
    out: &mut [T],
    data: D,
    par: Par,
    f: impl Fn(&[f64], &mut [f64], D::Item, Par) -> Result<()> + Send + Sync,
) -> Result<()> {
    let n = layout.n;
    if n == 0 || layout.outputs() == 0 {
        return Ok(());
    }
    if layout.inner == 1 {
        if let Some(xs) = T::as_f64(input) {
            if let Some(os) = T::as_f64_mut(out) {
                // f64 rows are the kernel's own lanes: no widening copy, no scratch
                let bundle = (Rows::of(xs, n), Rows::of_mut(os, n), data);
                par.map_rows(
                    func,
                    layout.outer,
                    n,
                    bundle,
                    0,
                    (),
                    |(), _, (xi, oi, d), _, p| f(xi, oi, d, p),
                )?;
                return Ok(());
            }
        }
        let bundle = (Rows::of(input, n), Rows::of_mut(out, n), data);
        par.map_rows(
            func,
            layout.outer,
            n,
            bundle,
            2 * n,
            (),
            |(), _, (xi, oi, d), sc, p| {
                let (a, b) = sc.split_at_mut(n);
                a.iter_mut().zip(xi).for_each(|(a, v)| *a = v.to_f64());
                f(a, b, d, p)?;
                oi.iter_mut()
                    .zip(b.iter())
                    .for_each(|(o, v)| *o = T::from_f64(*v));
                Ok(())
            },
        )?;
        return Ok(());
    }
    par.for_each_lane_block(
        func,
        layout,
        Keep(data),
        Strided::new(out),
        (),
        |(), blk, d, mut ob| {
            let w = blk.width;
            let mut xin = scratch(func, w * n, 0.0)?;
            let mut xout = scratch(func, w * n, 0.0)?;
            for i in 0..n {
                for (j, v) in blk.row(input, i).iter().enumerate() {
                    xin[j * n + i] = v.to_f64();
                }
            }
            let mut rest = d;
            for (a, b) in xin.chunks(n).zip(xout.chunks_mut(n)) {
                let (mine, tail) = rest.split_rows(1);
                f(a, b, mine.item(), Par::Seq)?;
                rest = tail;
            }
            for i in 0..n {
                for (j, o) in ob.row(i).iter_mut().enumerate() {
                    *o = T::from_f64(xout[j * n + i]);
                }
            }
            Ok(())
        },
    )?;
    Ok(())
}
