//! The pullback of soft-DTW: the backward recursion over the forward's table (the residual),
//! block by block as the forward ran.

use super::kernel::{Backward, Geom, WIDE};
use super::*;

/// What one block of the pullback reads and writes.
struct BlockGrad<'a, T> {
    blk: Block,
    g: &'a [T],
    table: &'a [f64],
    gx: &'a mut [T],
    gy: &'a mut [T],
    align: Option<&'a mut [f64]>,
}

/// Pullback of [`forward`] for the cotangent `g` (one per pair), from the forward's residual
/// `res` and the inputs `x`, `y` it was called with: writes `∂/∂x` to `gx` and `∂/∂y` to `gy`
/// (the lengths of `x` and `y`) and, if given, the expected alignments `E` (unscaled by `g`;
/// row-major `n_p × m_p` per pair, one after the other; [`alignment_len`] long) to `align`.
///
/// # Errors
/// As [`forward`], and [`Error::Shape`] for a residual of the wrong length.
#[allow(clippy::too_many_arguments)]
pub fn vjp<T: Real, U: Real>(
    x: &[U],
    y: &[U],
    batch: &Batch<'_>,
    gamma: f64,
    res: &[f64],
    g: &[T],
    gx: &mut [T],
    gy: &mut [T],
    align: Option<&mut [f64]>,
    par: Par,
) -> Result<()> {
    vjp_at(level(), x, y, batch, gamma, res, g, gx, gy, align, par)
}

#[allow(clippy::too_many_arguments)]
fn vjp_at<T: Real, U: Real>(
    lvl: Level,
    x: &[U],
    y: &[U],
    batch: &Batch<'_>,
    gamma: f64,
    res: &[f64],
    g: &[T],
    gx: &mut [T],
    gy: &mut [T],
    align: Option<&mut [f64]>,
    par: Par,
) -> Result<()> {
    check_gamma(gamma)?;
    let (blocks, lens) = plan(batch)?;
    Error::check_len(FUNC, "x", x.len(), lens[0])?;
    Error::check_len(FUNC, "y", y.len(), lens[1])?;
    Error::check_len(FUNC, "res", res.len(), lens[2])?;
    Error::check_len(FUNC, "g", g.len(), batch.pairs())?;
    Error::check_len(FUNC, "gx", gx.len(), lens[0])?;
    Error::check_len(FUNC, "gy", gy.len(), lens[1])?;
    if let Some(a) = &align {
        Error::check_len(FUNC, "align", a.len(), lens[3])?;
    }
    let d = batch.d;
    let mut ios = Vec::new();
    ios.try_reserve_exact(blocks.len())
        .map_err(|_| Error::Alloc {
            func: FUNC,
            bytes: blocks.len() * 96,
        })?;
    let (mut gx_rest, mut gy_rest, mut al_rest) = (gx, gy, align);
    for blk in &blocks {
        let (a, tail) = std::mem::take(&mut gx_rest).split_at_mut(blk.n * d * blk.count);
        gx_rest = tail;
        let (b, tail) = std::mem::take(&mut gy_rest).split_at_mut(blk.m * d * blk.count);
        gy_rest = tail;
        let al = match al_rest.take() {
            Some(r) => {
                let (t, tail) = r.split_at_mut(blk.n * blk.m * blk.count);
                al_rest = Some(tail);
                Some(t)
            }
            None => None,
        };
        ios.push(BlockGrad {
            blk: *blk,
            g: &g[blk.p0..blk.p0 + blk.count],
            table: &res[blk.r0..blk.r0 + blk.table_len()],
            gx: a,
            gy: b,
            align: al,
        });
    }
    let work = blocks
        .first()
        .map_or(1, |b| (b.n + 1) * (b.m + 1) * b.lanes);
    par.map_row_tasks(
        FUNC,
        ios.len(),
        work,
        1,
        Rows::of_mut(&mut ios[..], 1),
        |_, ios| {
            for io in ios.iter_mut() {
                backward_block(lvl, x, y, d, gamma, io)?;
            }
            Ok(())
        },
    )?;
    Ok(())
}

fn backward_block<T: Real, U: Real>(
    lvl: Level,
    x: &[U],
    y: &[U],
    d: usize,
    gamma: f64,
    io: &mut BlockGrad<'_, T>,
) -> Result<()> {
    let b = io.blk;
    let (l, nd, md) = (b.lanes, b.n * d, b.m * d);
    let xs = &x[b.x0..b.x0 + nd * b.count];
    let ys = &y[b.y0..b.y0 + md * b.count];
    let mut xb = scratch(FUNC, nd * l, 0.0)?;
    let mut yb = scratch(FUNC, md * l, 0.0)?;
    gather(xs, nd, b.count, l, &mut xb);
    gather(ys, md, b.count, l, &mut yb);
    let mut gxb = scratch(FUNC, nd * l, 0.0)?;
    let mut gyb = scratch(FUNC, md * l, 0.0)?;
    let mut rows = scratch(FUNC, 5 * (b.m + 2) * l, 0.0)?;
    let mut alb = match io.align {
        Some(_) if l > 1 => Some(scratch(FUNC, b.n * b.m * l, 0.0)?),
        _ => None,
    };
    let align = match (&mut alb, io.align.as_deref_mut()) {
        (Some(a), _) => Some(&mut a[..]),
        (None, a) => a,
    };
    let geom = Geom {
        n: b.n,
        m: b.m,
        d,
        lanes: l,
        gamma,
        fma: lvl.fma(),
    };
    if b.n > 0 && b.m > 0 {
        vectorize(
            lvl,
            Backward {
                geom,
                xb: &xb,
                yb: &yb,
                table: io.table,
                gx: &mut gxb,
                gy: &mut gyb,
                align,
                rows: &mut rows,
            },
        );
    }
    let mut scale: [f64; WIDE] = [0.0; WIDE];
    for p in 0..b.count {
        let nan = has_nan(&xs[p * nd..(p + 1) * nd]) || has_nan(&ys[p * md..(p + 1) * md]);
        scale[p] = if nan { f64::NAN } else { io.g[p].to_f64() };
    }
    let scale = &scale[..b.count];
    scatter(&gxb, nd, l, scale, io.gx);
    scatter(&gyb, md, l, scale, io.gy);
    if let (Some(src), Some(dst)) = (&alb, io.align.as_deref_mut()) {
        scatter(src, b.n * b.m, l, &[1.0; WIDE][..b.count], dst);
    }
    Ok(())
}
