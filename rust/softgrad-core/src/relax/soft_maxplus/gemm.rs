//! The one dense product of the family, `out = left · right` in f64, run by fixed tasks of whole
//! rows: register tiles of 4 rows × 16 columns (2 vectors of [`W`]) over a column panel of
//! `right` that stays in L2 while a task's rows pass over it. Each entry is one fused
//! multiply-add chain over the inner index in order, so its bits depend neither on the tiling nor
//! on the thread count.

use crate::error::Result;
use crate::par::{Par, Rows, Split};
use crate::simd::vector::{F64x, Isa, Kernel, W};
use crate::simd::{vectorize, Level};

/// Columns of a tile; `right` and `out` rows are padded to a multiple of it.
pub(super) const TILE_COLS: usize = 2 * W;
/// Rows per task (a multiple of the 4-row tile).
const TASK_ROWS: usize = 16;

/// `cols` rounded up to [`TILE_COLS`].
pub(super) fn padded(cols: usize) -> usize {
    cols.next_multiple_of(TILE_COLS)
}

struct Tiles<'a> {
    left: &'a [f64],
    inner: usize,
    right: &'a [f64],
    cols: usize,
    out: &'a mut [f64],
}

impl Kernel for Tiles<'_> {
    type Output = ();
    #[inline(always)]
    fn run<S: Isa>(self) {
        self.body::<S::F64>()
    }
}

impl Tiles<'_> {
    #[inline(always)]
    fn body<V: F64x>(self) {
        let Tiles {
            left,
            inner,
            right,
            cols,
            out,
        } = self;
        let rows = out.len() / cols.max(1);
        for jb in (0..cols).step_by(TILE_COLS) {
            let mut r0 = 0;
            while r0 + 4 <= rows {
                tile::<V, 4>(left, inner, right, cols, out, r0, jb);
                r0 += 4;
            }
            while r0 < rows {
                tile::<V, 1>(left, inner, right, cols, out, r0, jb);
                r0 += 1;
            }
        }
    }
}

/// Rows `r0..r0 + R`, columns `jb..jb + TILE_COLS` of the product, in registers.
#[inline(always)]
fn tile<V: F64x, const R: usize>(
    left: &[f64],
    inner: usize,
    right: &[f64],
    cols: usize,
    out: &mut [f64],
    r0: usize,
    jb: usize,
) {
    let lrows: [&[f64]; R] = std::array::from_fn(|r| &left[(r0 + r) * inner..][..inner]);
    let mut acc = [[V::splat(0.0); 2]; R];
    for kk in 0..inner {
        let b = &right[kk * cols + jb..][..TILE_COLS];
        let (b0, b1) = (V::load(b), V::load(&b[W..]));
        for r in 0..R {
            let a = V::splat(lrows[r][kk]);
            acc[r][0] = a.mul_add(b0, acc[r][0]);
            acc[r][1] = a.mul_add(b1, acc[r][1]);
        }
    }
    for (r, a) in acc.iter().enumerate() {
        let o = &mut out[(r0 + r) * cols + jb..][..TILE_COLS];
        a[0].store(o);
        a[1].store(&mut o[W..]);
    }
}

/// `out (rows × cols) = left (rows × inner) · right (inner × cols)`, `cols` a multiple of
/// [`TILE_COLS`]; then `finish(first row, its rows of out, its rows of data)` in the same task.
#[allow(clippy::too_many_arguments)]
pub(super) fn rows<D: Split, F>(
    func: &'static str,
    lvl: Level,
    par: Par,
    left: &[f64],
    inner: usize,
    right: &[f64],
    cols: usize,
    out: &mut [f64],
    data: D,
    finish: F,
) -> Result<()>
where
    F: Fn(usize, &mut [f64], D::Item) -> Result<()> + Send + Sync,
{
    let rows = out.len() / cols.max(1);
    let work = inner.max(1).saturating_mul(cols);
    let bundle = (Rows::of_mut(out, cols), data);
    par.map_row_tasks(func, rows, work, TASK_ROWS, bundle, |r, (o, d)| {
        vectorize(
            lvl,
            Tiles {
                left: &left[r.start * inner..r.end * inner],
                inner,
                right,
                cols,
                out: &mut *o,
            },
        );
        finish(r.start, o, d)
    })?;
    Ok(())
}
