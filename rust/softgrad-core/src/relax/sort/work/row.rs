//! The isotonic regression and the rank scatter of a short l2 rank (or top-k) lane, after its sort:
//! the same arithmetic as `pav.rs` (the same blocks, the same bits), in a form that suits a lane of
//! a few thousand values, where branches cost more than arithmetic.
//!
//! - The blocks in progress are kept as columns (`Stack`) instead of 56-byte records, and a
//!   position's own block needs no division (`v/1` is `v`, so its key is the same number).
//! - The output does not loop over the blocks (a branch per block, mispredicted about as often as a
//!   block ends): each position finds its block by a running count of the block starts (`start`,
//!   written first), and reads the block's shift and mean target from two columns computed in one
//!   pass over the blocks. A singleton block gets its target `w` from the general formula bit for
//!   bit (`(z s − z s)/ε 2^k + w/1 = w`), so it needs no case of its own.
//!
//! Everything runs compiled for the SIMD level (`simd::dispatch`); none of it depends on the level
//! or on the threads: no sum is reordered.

use super::{grow, Work, PAR_SORT_MIN};
use crate::error::Result;
use crate::relax::sort::pav::lane_scale;
use crate::relax::sort::{Op, Reg, Spec};
use crate::simd;

/// Whether a lane of `n` values of `spec` is done here: l2 ranks and top-k short enough that their
/// sort runs on one thread.
pub(crate) fn takes(spec: &Spec, n: usize) -> bool {
    spec.reg == Reg::L2 && spec.op != Op::Sort && n < PAR_SORT_MIN && !old()
}

#[cfg(test)]
thread_local! {
    /// Tests set this to run `pav.rs`'s kernels instead, and compare.
    pub(crate) static OLD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

#[cfg(test)]
fn old() -> bool {
    OLD.with(std::cell::Cell::get)
}

#[cfg(not(test))]
fn old() -> bool {
    false
}

/// The blocks of the isotonic solution in progress, as columns: first position, its `z`, size,
/// the sum of `z − z0` (times the lane's `2^-k`), the sum of the targets, the pooling key, and
/// what the output needs: the shift `z0 s + a/c` and the mean target `b/c` (made when a block is
/// pooled: a position alone has `a/1 = 0` and `b/1 = b`, no division).
#[derive(Debug, Default)]
pub(crate) struct Stack {
    lo: Vec<usize>,
    z0: Vec<f64>,
    c: Vec<f64>,
    a: Vec<f64>,
    b: Vec<f64>,
    key: Vec<f64>,
    sh: Vec<f64>,
    mw: Vec<f64>,
}

impl Stack {
    fn reserve(&mut self, func: &'static str, n: usize) -> Result<()> {
        grow(func, &mut self.lo, n)?;
        for v in [
            &mut self.z0,
            &mut self.c,
            &mut self.a,
            &mut self.b,
            &mut self.key,
            &mut self.sh,
            &mut self.mw,
        ] {
            grow(func, v, n)?;
        }
        Ok(())
    }
}

/// One block: `(lo, z0, c, a, b, key, sh, mw)`.
type Blk = (usize, f64, f64, f64, f64, f64, f64, f64);

/// The l2 rank (or top-k) of one lane from its sort (`perm`, `z` the sorted `σ x`): writes `out`
/// and the block starts `start`, as `pav.rs`'s PAV and scatter do, bit for bit. `x` and `sign`
/// give the lane-order values of a lane that turns out to be one block.
pub(crate) fn rank_l2(
    spec: &Spec,
    x: &[f64],
    out: &mut [f64],
    (perm, z, start): (&[u32], &[f64], &mut [bool]),
    w: &mut Work,
    sign: f64,
) -> Result<()> {
    let n = z.len();
    if n == 0 {
        return Ok(());
    }
    let st = &mut w.row;
    st.reserve(spec.name(), n)?;
    let e = spec.strength;
    simd::dispatch(
        simd::level(),
        #[inline(always)]
        || {
            let m = pav_rank_l2(spec, z, st);
            let (s, inv_s) = lane_scale(z);
            start.fill(false);
            for &lo in &st.lo[..m] {
                start[lo] = true;
            }
            let inv_e = 1.0 / e;
            if inv_e.is_finite() {
                put(x, out, (perm, z, start), st, m, (sign, s, inv_s), |d| {
                    d * inv_e
                });
            } else {
                // a subnormal ε: 1/ε is inf, and 0 · inf (a singleton's offset) would be NaN
                put(x, out, (perm, z, start), st, m, (sign, s, inv_s), |d| d / e);
            }
        },
    );
    Ok(())
}

/// `out[perm_i] = (z_i s − shift)/ε 2^k + mean w` with the shift and mean target of `i`'s block;
/// a lane that is one block is written in lane order from `x` (`z_i` is `σ x_perm(i) + 0`).
#[inline(always)]
fn put(
    x: &[f64],
    out: &mut [f64],
    (perm, z, start): (&[u32], &[f64], &[bool]),
    st: &Stack,
    m: usize,
    (sign, s, inv_s): (f64, f64, f64),
    over_e: impl Fn(f64) -> f64,
) {
    let (shift, mean_w) = (&st.sh[..m], &st.mw[..m]);
    if m == 1 {
        let (sh, mw) = (shift[0], mean_w[0]);
        for (o, &v) in out.iter_mut().zip(x) {
            *o = over_e((sign * v + 0.0) * s - sh) * inv_s + mw;
        }
        return;
    }
    // the row written in order first (zeros, overwritten below): its lines are then in cache for
    // the scatter through the permutation, which would otherwise miss on them in random order
    out.fill(0.0);
    // j: the number of block starts at or before i (start[0] is one)
    let mut j = 0usize;
    for ((&zi, &p), &b) in z.iter().zip(perm).zip(start) {
        j += usize::from(b);
        let k = j - 1;
        out[p as usize] = over_e(zi * s - shift[k]) * inv_s + mean_w[k];
    }
}

/// Pool-adjacent-violators over `z` (sorted descending) for an l2 rank, the blocks into `st`;
/// returns how many. The arithmetic of `pav.rs` (`Spec::single`, `key`, `merge` of `Kind::RankL2`)
/// operation for operation, so the same blocks come out with the same sums.
#[inline(always)]
#[allow(clippy::neg_cmp_op_on_partial_ord)] // as pav.rs: merge unless the earlier key is larger
fn pav_rank_l2(spec: &Spec, z: &[f64], st: &mut Stack) -> usize {
    let n = z.len();
    let e = spec.strength;
    let (k1, lam) = if e < 1.0 { (1.0, e) } else { (1.0 / e, 1.0) };
    let (s, _) = lane_scale(z);
    // a block's key λ v (times 2^-k), shift and mean target
    let blk = |lo: usize, z0: f64, c: f64, a: f64, b: f64| -> Blk {
        let key = z0 * s * k1 + (a * k1 - lam * b * s) / c;
        (lo, z0, c, a, b, key, z0 * s + a / c, b / c)
    };
    // position i alone (a = 0, c = 1: the divisions by 1 are exact, so they are left out)
    let single = |i: usize, zi: f64| -> Blk {
        let b = spec.w(n, i);
        let key = zi * s * k1 + (0.0 * k1 - lam * b * s);
        (i, zi, 1.0, 0.0, b, key, zi * s + 0.0, b)
    };
    let mut t = 0;
    let mut cur = single(0, z[0]);
    for (i, &zi) in z.iter().enumerate().skip(1) {
        let top = single(i, zi);
        if cur.5 > top.5 {
            // push cur
            (
                st.lo[t], st.z0[t], st.c[t], st.a[t], st.b[t], st.key[t], st.sh[t], st.mw[t],
            ) = cur;
            t += 1;
            cur = top;
            continue;
        }
        // cur absorbs position i (o.a = 0, o.c = 1)
        let (lo, z0, c, a, b, ..) = cur;
        cur = blk(lo, z0, c + 1.0, (a + 0.0) + (zi * s - z0 * s), b + top.4);
        while t > 0 && !(st.key[t - 1] > cur.5) {
            // the previous block absorbs cur
            let p = t - 1;
            let (pz0, pc, pa, pb) = (st.z0[p], st.c[p], st.a[p], st.b[p]);
            let (_, cz0, cc, ca, cb, ..) = cur;
            cur = blk(
                st.lo[p],
                pz0,
                pc + cc,
                (pa + ca) + cc * (cz0 * s - pz0 * s),
                pb + cb,
            );
            t = p;
        }
    }
    (
        st.lo[t], st.z0[t], st.c[t], st.a[t], st.b[t], st.key[t], st.sh[t], st.mw[t],
    ) = cur;
    t + 1
}
