//! The blocked product: packing into panels, the register-tiled micro-kernel (written once over
//! [`Vx`] lanes, run at every level by `vectorize`) and the driver of one task's rows.
//!
//! The shape is the GEMM one (Goto & van de Geijn, "Anatomy of high-performance matrix
//! multiplication", ACM TOMS 34(3), 2008): a `KC × NC` block of `B` is packed into `NR`-wide column
//! panels, the task's rows of `A` into `MR`-tall row panels, and the micro-kernel keeps an
//! `MR × NR` tile of `C` in registers while it walks `KC` rank-one updates, with `max` (or `min`)
//! for the sum and `+` for the product. Every tile entry is a `max` of sums each rounded once, so
//! the result is exact whatever the blocking, level or thread count; with the argmax, candidates are
//! visited in increasing `k` and replace the best only when strictly better, so ties keep the
//! smallest `k`.

use std::ops::Range;

use super::lanes::{Lanes, Tropical, Vx};
use super::{Matrices, Shape};
use crate::error::Result;
use crate::simd::vector::{Isa, Kernel};
use crate::simd::{vectorize, Level};

/// Depth of a packed block (rank-one updates per visit of a `C` tile).
pub(crate) const KC: usize = 256;
/// Columns of a packed block of `B`.
pub(crate) const NC: usize = 512;

/// Register tiles: `MR` rows by `NV` vectors of columns. AVX-512 has 32 vector registers, AVX2
/// (two registers per logical vector) and the portable level 16: the tiles fit them with room for
/// the `B` vectors, the broadcast `A` value and (argmax) the index vectors.
pub(crate) fn tiles(level: Level, argmax: bool) -> (usize, usize) {
    match (level, argmax) {
        (Level::Avx512, false) => (8, 2),
        (Level::Avx512, true) => (4, 2),
        (_, false) => (4, 1),
        (_, true) => (2, 1),
    }
}

/// One visit of the task's rows and a `KC × NC` block: every `MR × NR` tile through the
/// micro-kernel, merged into `C` (and the argmax) through the `tile` scratch.
struct Block<'a, T: Lanes, const MR: usize, const NV: usize, const MAX: bool> {
    /// The task's rows of `A`, `MR` panels of `kc` columns (padded rows hold the zero).
    ap: &'a [T],
    /// The block of `B`, `NR` panels of `kc` rows.
    bp: &'a [T],
    kc: usize,
    /// The task's rows of `C` (`rows × n`) and of the argmax.
    c: &'a mut [T],
    arg: Option<&'a mut [i64]>,
    rows: usize,
    n: usize,
    /// First column of the block, first `k` of the block, and whether it is the first `k` block.
    jc: usize,
    nc: usize,
    pc: usize,
    first: bool,
    /// `MR * NR` values and indices.
    tile: &'a mut [T],
    itile: &'a mut [T],
}

impl<T: Lanes, const MR: usize, const NV: usize, const MAX: bool> Kernel
    for Block<'_, T, MR, NV, MAX>
{
    type Output = ();
    #[inline(always)]
    fn run<S: Isa>(self) {
        let l = T::LANES;
        let nr = NV * l;
        let zero = if MAX { T::LOWEST } else { T::HIGHEST };
        let Block {
            ap,
            bp,
            kc,
            c,
            mut arg,
            rows,
            n,
            jc,
            nc,
            pc,
            first,
            tile,
            itile,
        } = self;
        for (q, bpan) in bp.chunks_exact(kc * nr).enumerate() {
            let j0 = jc + q * nr;
            let cols = nr.min(jc + nc - j0);
            for (t, apan) in ap.chunks_exact(kc * MR).enumerate() {
                let i0 = t * MR;
                let rr = MR.min(rows - i0);
                for r in 0..rr {
                    let row = &c[(i0 + r) * n + j0..][..cols];
                    let dst = &mut tile[r * nr..][..cols];
                    if first {
                        dst.fill(zero);
                    } else {
                        dst.copy_from_slice(row);
                    }
                }
                match arg.as_deref_mut() {
                    None => micro::<S, T, MR, NV, MAX>(apan, bpan, tile),
                    Some(arg) => {
                        micro_arg::<S, T, MR, NV, MAX>(apan, bpan, tile, itile);
                        for r in 0..rr {
                            let idx = &mut arg[(i0 + r) * n + j0..][..cols];
                            for (o, v) in idx.iter_mut().zip(&itile[r * nr..][..cols]) {
                                let v = v.to_index() - 1;
                                if v >= 0 || first {
                                    *o = if v >= 0 { pc as i64 + v } else { 0 };
                                }
                            }
                        }
                    }
                }
                for r in 0..rr {
                    c[(i0 + r) * n + j0..][..cols].copy_from_slice(&tile[r * nr..][..cols]);
                }
            }
        }
    }
}

/// The micro-kernel: `tile (MR × NR, row-major) ⊕= A panel ⊗ B panel`. Plain index loops with
/// constant trip counts (no iterator adaptors or closures), so that everything inlines into the
/// level's trampoline and the accumulators stay in registers.
#[inline(always)]
fn micro<S: Isa, T: Lanes, const MR: usize, const NV: usize, const MAX: bool>(
    ap: &[T],
    bp: &[T],
    tile: &mut [T],
) {
    let l = T::LANES;
    let nr = NV * l;
    let kc = ap.len() / MR;
    let (ap, bp) = (&ap[..kc * MR], &bp[..kc * nr]);
    let mut acc = [[T::V::<S>::splat(T::LOWEST); NV]; MR];
    for r in 0..MR {
        for v in 0..NV {
            acc[r][v] = T::V::<S>::load(&tile[r * nr + v * l..]);
        }
    }
    for p in 0..kc {
        let a = &ap[p * MR..][..MR];
        let b = &bp[p * nr..][..nr];
        let mut bv = [T::V::<S>::splat(T::LOWEST); NV];
        for v in 0..NV {
            bv[v] = T::V::<S>::load(&b[v * l..]);
        }
        for r in 0..MR {
            let av = T::V::<S>::splat(a[r]);
            for v in 0..NV {
                acc[r][v] = acc[r][v].better::<MAX>(av.add(bv[v]));
            }
        }
    }
    for r in 0..MR {
        for v in 0..NV {
            acc[r][v].store(&mut tile[r * nr + v * l..]);
        }
    }
}

/// The micro-kernel with the argmax: `itile` gets one plus the block-local `k` of each entry's best
/// sum in this block, or `0` where the incoming value was not beaten. A sum replaces the best only
/// when strictly better and `k` only grows, so the index lanes are a running maximum (see
/// [`Vx::mark`]).
#[inline(always)]
fn micro_arg<S: Isa, T: Lanes, const MR: usize, const NV: usize, const MAX: bool>(
    ap: &[T],
    bp: &[T],
    tile: &mut [T],
    itile: &mut [T],
) {
    let l = T::LANES;
    let nr = NV * l;
    let kc = ap.len() / MR;
    let (ap, bp) = (&ap[..kc * MR], &bp[..kc * nr]);
    let mut acc = [[T::V::<S>::splat(T::LOWEST); NV]; MR];
    for r in 0..MR {
        for v in 0..NV {
            acc[r][v] = T::V::<S>::load(&tile[r * nr + v * l..]);
        }
    }
    let mut idx = [[T::V::<S>::splat(T::index(0)); NV]; MR];
    let one = T::V::<S>::splat(T::index(1));
    let mut kv = one;
    for p in 0..kc {
        let a = &ap[p * MR..][..MR];
        let b = &bp[p * nr..][..nr];
        let mut bv = [T::V::<S>::splat(T::LOWEST); NV];
        for v in 0..NV {
            bv[v] = T::V::<S>::load(&b[v * l..]);
        }
        for r in 0..MR {
            let av = T::V::<S>::splat(a[r]);
            for v in 0..NV {
                let s = av.add(bv[v]);
                let m = acc[r][v].wins::<MAX>(s);
                acc[r][v] = acc[r][v].better::<MAX>(s);
                idx[r][v] = T::V::<S>::mark(m, kv, idx[r][v]);
            }
        }
        // Exact: block-local indices are at most `KC`.
        kv = kv.add(one);
    }
    for r in 0..MR {
        for v in 0..NV {
            acc[r][v].store(&mut tile[r * nr + v * l..]);
            idx[r][v].store(&mut itile[r * nr + v * l..]);
        }
    }
}

/// Packs rows `rows` and columns `ks` of matrix `m` into `MR`-row panels, `dst[q][p][r]`, rows past
/// the end padded with `pad`.
fn pack_a<T: Tropical>(
    m: &Matrices<'_, T>,
    off: usize,
    rows: Range<usize>,
    ks: Range<usize>,
    mr: usize,
    pad: T,
    dst: &mut [T],
) {
    let kc = ks.len();
    for (q, panel) in dst.chunks_exact_mut(kc * mr).enumerate() {
        for r in 0..mr {
            let i = rows.start + q * mr + r;
            if i < rows.end {
                let base = off + i * m.row_stride;
                for (p, k) in ks.clone().enumerate() {
                    panel[p * mr + r] = m.data[base + k * m.col_stride];
                }
            } else {
                for p in 0..kc {
                    panel[p * mr + r] = pad;
                }
            }
        }
    }
}

/// Packs rows `ks` and columns `cols` of matrix `m` into `NR`-column panels, `dst[q][p][c]`,
/// columns past the end padded with `pad`.
fn pack_b<T: Tropical>(
    m: &Matrices<'_, T>,
    off: usize,
    ks: Range<usize>,
    cols: Range<usize>,
    nr: usize,
    pad: T,
    dst: &mut [T],
) {
    let kc = ks.len();
    for (q, panel) in dst.chunks_exact_mut(kc * nr).enumerate() {
        let j0 = cols.start + q * nr;
        let w = nr.min(cols.end - j0);
        for (p, k) in ks.clone().enumerate() {
            let out = &mut panel[p * nr..][..nr];
            let base = off + k * m.row_stride + j0 * m.col_stride;
            if m.col_stride == 1 {
                out[..w].copy_from_slice(&m.data[base..][..w]);
            } else {
                for (c, o) in out[..w].iter_mut().enumerate() {
                    *o = m.data[base + c * m.col_stride];
                }
            }
            out[w..].fill(pad);
        }
    }
}

/// `C[rows] = A[rows] ⊗ B` for one product of the batch (`ao`, `bo`: where its matrices start);
/// `c` and `arg` hold exactly these rows. `k > 0`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn rows<T: Lanes, const MAX: bool>(
    func: &'static str,
    a: &Matrices<'_, T>,
    b: &Matrices<'_, T>,
    (ao, bo): (usize, usize),
    packed_b: Option<&[T]>,
    shape: Shape,
    rows: Range<usize>,
    c: &mut [T],
    mut arg: Option<&mut [i64]>,
    level: Level,
) -> Result<()> {
    let (k, n) = (shape.k, shape.n);
    let (mr, nv) = tiles(level, arg.is_some());
    let nr = nv * T::LANES;
    let zero = if MAX { T::LOWEST } else { T::HIGHEST };
    let h = rows.len();
    let hp = h.next_multiple_of(mr);
    let kc_max = KC.min(k);
    let nc_max = NC.min(n).next_multiple_of(nr);
    let lb = if packed_b.is_some() {
        0
    } else {
        kc_max * nc_max
    };
    let (la, lt) = (hp * kc_max, mr * nr);
    let mut shared_at = 0;
    T::with_pack(func, la + lb + 2 * lt, |buf| {
        let (ap, rest) = buf.split_at_mut(la);
        let (bp, rest) = rest.split_at_mut(lb);
        let (tile, itile) = rest.split_at_mut(lt);
        // The first visit of a tile reads only the lanes it wrote (`first`), but the micro-kernel
        // loads whole tiles: give the lanes past the matrix defined values.
        tile.fill(zero);
        itile.fill(zero);
        for jc in (0..n).step_by(NC) {
            let nc = NC.min(n - jc);
            let ncp = nc.next_multiple_of(nr);
            for pc in (0..k).step_by(KC) {
                let kc = KC.min(k - pc);
                let bpk: &[T] = match packed_b {
                    Some(all) => {
                        shared_at += kc * ncp;
                        &all[shared_at - kc * ncp..shared_at]
                    }
                    None => {
                        let bpk = &mut bp[..kc * ncp];
                        pack_b(b, bo, pc..pc + kc, jc..jc + nc, nr, zero, bpk);
                        bpk
                    }
                };
                let apk = &mut ap[..hp * kc];
                pack_a(a, ao, rows.clone(), pc..pc + kc, mr, zero, apk);
                macro_rules! go {
                    ($mr:literal, $nv:literal) => {
                        vectorize(
                            level,
                            Block::<T, $mr, $nv, MAX> {
                                ap: apk,
                                bp: bpk,
                                kc,
                                c: &mut *c,
                                arg: arg.as_deref_mut(),
                                rows: h,
                                n,
                                jc,
                                nc,
                                pc,
                                first: pc == 0,
                                tile: &mut *tile,
                                itile: &mut *itile,
                            },
                        )
                    };
                }
                match (mr, nv) {
                    (8, 2) => go!(8, 2),
                    (4, 2) => go!(4, 2),
                    (4, 1) => go!(4, 1),
                    _ => go!(2, 1),
                }
            }
        }
    })
}

/// Runs `f` with all of `B` (the product at `bo`) packed block by block in the order [`rows`]
/// visits the blocks, for the kernel's tiles at `level` (with or without the argmax), in this
/// thread's shared-pack buffer: tasks that pass it to [`rows`] read `B` packed once per call.
pub(crate) fn with_packed_b<T: Lanes, R>(
    func: &'static str,
    b: &Matrices<'_, T>,
    bo: usize,
    shape: Shape,
    pad: T,
    (argmax, level): (bool, Level),
    f: impl FnOnce(&[T]) -> Result<R>,
) -> Result<R> {
    let (k, n) = (shape.k, shape.n);
    let nr = tiles(level, argmax).1 * T::LANES;
    let len = k * n.next_multiple_of(nr);
    T::with_shared_pack(func, len, |buf| {
        let mut at = 0;
        for jc in (0..n).step_by(NC) {
            let nc = NC.min(n - jc);
            let ncp = nc.next_multiple_of(nr);
            for pc in (0..k).step_by(KC) {
                let kc = KC.min(k - pc);
                let dst = &mut buf[at..][..kc * ncp];
                pack_b(b, bo, pc..pc + kc, jc..jc + nc, nr, pad, dst);
                at += kc * ncp;
            }
        }
        f(buf)
    })?
}
