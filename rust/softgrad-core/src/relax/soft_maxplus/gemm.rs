//! The one dense product of the family, `out = left · right` in f64, run by fixed tasks of whole
//! rows. `right` is first packed into column panels of [`TILE_COLS`] (each `inner × TILE_COLS`,
//! contiguous), so the inner loop reads it at unit stride; a task then walks blocks of
//! [`K_BLOCK`] inner indices, and within a block every panel, over which its register tiles of
//! [`TILE_ROWS`] rows pass while the panel's block stays in L1. Each entry is one fused
//! multiply-add chain over the inner index in order (carried between blocks exactly, through
//! `out` in f64), so its bits depend neither on the tiling nor on the thread count.

use crate::error::Result;
use crate::par::{scratch, Par, Rows, Split};
use crate::simd::vector::{F64x, Isa, Kernel, W};
use crate::simd::{vectorize, Level};

/// Columns of a tile; `right` and `out` rows are padded to a multiple of it.
pub(super) const TILE_COLS: usize = 2 * W;
/// Rows of a register tile.
const TILE_ROWS: usize = 4;
/// Rows per task (a multiple of [`TILE_ROWS`]): each packed panel block is reused by this many rows.
const TASK_ROWS: usize = 64;
/// Inner indices per block: a panel's block (`K_BLOCK × TILE_COLS` f64, 32 KiB) stays in L1.
const K_BLOCK: usize = 256;

/// `cols` rounded up to [`TILE_COLS`].
pub(super) fn padded(cols: usize) -> usize {
    cols.next_multiple_of(TILE_COLS)
}

/// `right` (`inner × cols`, row-major) as `cols / TILE_COLS` panels, each `inner × TILE_COLS`.
fn pack(func: &'static str, right: &[f64], inner: usize, cols: usize) -> Result<Vec<f64>> {
    let mut packed = scratch(func, inner * cols, 0.0)?;
    if inner == 0 {
        return Ok(packed);
    }
    for (p, panel) in packed.chunks_exact_mut(inner * TILE_COLS).enumerate() {
        for (kk, dst) in panel.chunks_exact_mut(TILE_COLS).enumerate() {
            dst.copy_from_slice(&right[kk * cols + p * TILE_COLS..][..TILE_COLS]);
        }
    }
    Ok(packed)
}

struct Tiles<'a> {
    left: &'a [f64],
    inner: usize,
    packed: &'a [f64],
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
            packed,
            cols,
            out,
        } = self;
        let rows = out.len() / cols.max(1);
        let mut k0 = 0;
        loop {
            let kn = K_BLOCK.min(inner - k0);
            for jb in (0..cols).step_by(TILE_COLS) {
                let panel = &packed[jb * inner + k0 * TILE_COLS..][..kn * TILE_COLS];
                let t = Tile {
                    left,
                    inner,
                    k0,
                    panel,
                    cols,
                    jb,
                };
                let mut r0 = 0;
                while r0 + TILE_ROWS <= rows {
                    t.run::<V, TILE_ROWS>(out, r0);
                    r0 += TILE_ROWS;
                }
                while r0 < rows {
                    t.run::<V, 1>(out, r0);
                    r0 += 1;
                }
            }
            k0 += kn;
            if k0 >= inner {
                break;
            }
        }
    }
}

/// One panel block: inner indices `k0..k0 + panel.len() / TILE_COLS`, columns `jb..jb + TILE_COLS`.
#[derive(Clone, Copy)]
struct Tile<'a> {
    left: &'a [f64],
    inner: usize,
    k0: usize,
    panel: &'a [f64],
    cols: usize,
    jb: usize,
}

impl Tile<'_> {
    /// Rows `r0..r0 + R` of the block, in registers: starts from zero on the first block and from
    /// the partial sums in `out` after it.
    #[inline(always)]
    fn run<V: F64x, const R: usize>(self, out: &mut [f64], r0: usize) {
        let Tile {
            left,
            inner,
            k0,
            panel,
            cols,
            jb,
        } = self;
        let kn = panel.len() / TILE_COLS;
        let lrows: [&[f64]; R] = std::array::from_fn(|r| &left[(r0 + r) * inner + k0..][..kn]);
        let mut acc = [[V::splat(0.0); 2]; R];
        if k0 > 0 {
            for (r, a) in acc.iter_mut().enumerate() {
                let o = &out[(r0 + r) * cols + jb..][..TILE_COLS];
                *a = [V::load(o), V::load(&o[W..])];
            }
        }
        for (kk, b) in panel.chunks_exact(TILE_COLS).enumerate() {
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
    let packed = pack(func, right, inner, cols)?;
    let work = inner.max(1).saturating_mul(cols);
    let bundle = (Rows::of_mut(out, cols), data);
    par.map_row_tasks(func, rows, work, TASK_ROWS, bundle, |r, (o, d)| {
        vectorize(
            lvl,
            Tiles {
                left: &left[r.start * inner..r.end * inner],
                inner,
                packed: &packed,
                cols,
                out: &mut *o,
            },
        );
        finish(r.start, o, d)
    })?;
    Ok(())
}
