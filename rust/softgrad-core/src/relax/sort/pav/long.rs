//! A long lane's PAV, outputs and l2 rank pullback in fixed pieces, on the threads.
//!
//! **PAV in pieces.** The lane (sorted) is cut into pieces of [`PIECE`] positions and each piece
//! is solved by PAV on its own, side by side. The blocks of a piece's solution are each inside a
//! block of the whole lane's solution (pooling only ever grows blocks), so the lane's solution is
//! PAV run over the pieces' blocks instead of over single positions: the seams are then resolved
//! in order, on the calling thread. At a seam, the next piece's first block is pooled with the
//! blocks before it while they violate the order; the result (one block) pools the piece's next
//! block if they violate, and so on; as soon as one of the piece's blocks is left alone, the rest
//! of the piece's blocks stay as they are (they were in order among themselves). A seam costs the
//! blocks it pools, so all of them together cost at most the blocks of the lane, and usually a
//! handful each. The pieces are fixed (not one per thread), so the blocks, and every bit of the
//! outputs, are the same on any number of threads.
//!
//! **Outputs.** Each piece's remaining blocks are then written out as a task: the block starts
//! (contiguous, a slice per task) and the values, scattered through the permutation for ranks
//! with [`Scatter`] (the permutation makes the tasks' positions disjoint).
//!
//! **The l2 rank pullback** ([`vjp`]) of a lane of several blocks runs over the same fixed pieces:
//! a piece's task takes the blocks that start in it (the last one may run on past its end), and the
//! strength cotangent is the sum of the pieces' parts in piece order.

use super::{Block, Kind, Out, Stack};
use crate::error::Result;
use crate::par::pool::run_tasks;
use crate::par::scatter::Scatter;
use crate::par::Par;
use crate::relax::sort::work::{grow, Work};
use crate::relax::sort::{Op, Reg, Spec};

/// Positions per piece.
pub(crate) const PIECE: usize = 1 << 16;

/// Lanes at least this long (two pieces) take this path, on any number of threads.
pub(crate) const LONG_MIN: usize = 2 * PIECE;

/// A piece's blocks: a stack in a fixed slice (at most one block per position).
struct SliceStack<'a> {
    buf: &'a mut [Block],
    len: usize,
}

impl Stack for SliceStack<'_> {
    #[inline(always)]
    fn push(&mut self, b: Block) {
        self.buf[self.len] = b;
        self.len += 1;
    }
    #[inline(always)]
    fn pop(&mut self) {
        self.len -= 1;
    }
    #[inline(always)]
    fn last(&self) -> Option<&Block> {
        self.len.checked_sub(1).map(|i| &self.buf[i])
    }
}

/// Runs `f` on each task, on `par`'s threads; results in task order.
fn tasks<I: Send, R: Send>(
    par: Par,
    func: &'static str,
    items: Vec<I>,
    f: impl Fn(I) -> R + Sync,
) -> Result<Vec<R>> {
    run_tasks(par.threads(), items, |i| {
        crate::interrupt::check(func)?;
        Ok(f(i))
    })
}

/// The PAV and outputs of a lane of at least [`LONG_MIN`] values, after its sort (`z` the sorted
/// `σ x`, `perm` the permutation): writes `out` and the block starts `start`.
pub(super) fn finish(
    o: &Out<'_>,
    x: &[f64],
    out: &mut [f64],
    (perm, z, start): (&mut [u32], &mut [f64], &mut [bool]),
    par: Par,
    w: &mut Work,
    func: &'static str,
) -> Result<()> {
    let (spec, n, s) = (o.spec, z.len(), o.s);
    grow(func, &mut w.stack, n)?;
    let stack = &mut w.stack[..n];
    let pieces: Vec<_> = stack.chunks_mut(PIECE).zip(z.chunks(PIECE)).collect();
    let counts = tasks(
        par,
        func,
        pieces.into_iter().enumerate().collect(),
        |(k, (buf, zc))| {
            let mut st = SliceStack { buf, len: 0 };
            super::pav_at(spec, zc, k * PIECE, n, s, &mut st);
            st.len
        },
    )?;
    let live = seams(spec, stack, &counts, s);
    let stack = &*stack;
    if let [(b, _)] = live.as_slice() {
        if b + 1 == live[0].1 {
            start.fill(false);
            start[0] = true;
            return o.whole(&stack[*b], x, (z, perm), out, par);
        }
    }
    // each task's positions: from its first block's start to the next task's
    let mut jobs = Vec::with_capacity(live.len());
    let mut rest = &mut start[..];
    for (t, &(b, e)) in live.iter().enumerate() {
        let hi = live.get(t + 1).map_or(n, |&(nb, _)| stack[nb].lo);
        let (mine, tail) = std::mem::take(&mut rest).split_at_mut(hi - stack[b].lo);
        jobs.push((b..e, hi, mine));
        rest = tail;
    }
    let (z, perm) = (&*z, &*perm);
    let sc = Scatter::new(out);
    tasks(par, func, jobs, |(blocks, last_hi, st)| {
        st.fill(false);
        let first = stack[blocks.start].lo;
        let mut set = |p: usize, v: f64| sc.set(p, v);
        for j in blocks.clone() {
            let blk = &stack[j];
            let hi = if j + 1 < blocks.end {
                stack[j + 1].lo
            } else {
                last_hi
            };
            st[blk.lo - first] = true;
            o.block(blk, hi, (z, perm), &mut set);
        }
    })?;
    Ok(())
}

/// Resolves the seams between the pieces' solutions (`counts[k]` blocks at the start of piece `k`'s
/// `PIECE` slots of `stack`): returns, in order, the ranges of `stack` that hold the lane's blocks.
fn seams(spec: &Spec, stack: &mut [Block], counts: &[usize], s: f64) -> Vec<(usize, usize)> {
    match spec.kind() {
        Kind::RankL2 => seams_of(spec, Kind::RankL2, stack, counts, s),
        Kind::RankKl => seams_of(spec, Kind::RankKl, stack, counts, s),
        Kind::SortL2 => seams_of(spec, Kind::SortL2, stack, counts, s),
        Kind::SortKl => seams_of(spec, Kind::SortKl, stack, counts, s),
    }
}

#[inline(always)]
fn seams_of(
    spec: &Spec,
    kind: Kind,
    stack: &mut [Block],
    counts: &[usize],
    s: f64,
) -> Vec<(usize, usize)> {
    let (k1, lam) = spec.scales();
    let sc = (k1, lam, s);
    let mut live: Vec<(usize, usize)> = Vec::with_capacity(counts.len());
    for (k, &cnt) in counts.iter().enumerate() {
        let (base, end) = (k * PIECE, k * PIECE + cnt);
        if cnt == 0 {
            continue;
        }
        let mut i = base;
        let mut top = stack[i];
        loop {
            // pool the blocks before `top` (in earlier pieces) while they violate the order
            while let Some((b, e)) = live.last_mut() {
                let prev = &stack[*e - 1];
                if prev.key > top.key {
                    break;
                }
                top = spec.merge(kind, prev, &top, s);
                top.key = spec.key(kind, &top, sc);
                *e -= 1;
                if *e == *b {
                    live.pop();
                }
            }
            stack[i] = top;
            if i + 1 == end || top.key > stack[i + 1].key {
                break;
            }
            // the piece's next block violates the pooled one: pool it too
            i += 1;
            top = spec.merge(kind, &top, &stack[i], s);
            top.key = spec.key(kind, &top, sc);
        }
        live.push((i, end));
    }
    live
}

/// Whether [`vjp`] is the pullback of a lane of `n` values of `spec`.
pub(crate) fn takes(spec: &Spec, n: usize) -> bool {
    n >= LONG_MIN && spec.reg == Reg::L2 && spec.op != Op::Sort
}

/// The l2 rank (and top-k) pullback of a long lane ([`takes`]) from its residuals, on `par`'s
/// threads: the same formulas as `grad.rs`, with the strength cotangent summed per piece. A lane
/// that is one block goes to `grad.rs` (lane order, no permutation).
pub(crate) fn vjp(
    spec: &Spec,
    (perm, zx, start): (&[u32], &[f64], &[bool]),
    g: &[f64],
    gx: &mut [f64],
    par: Par,
) -> Result<f64> {
    let n = zx.len();
    if !start[1..].contains(&true) {
        return super::super::grad::vjp_lane(spec, (perm, zx, start), g, gx);
    }
    let (sign, e) = (spec.sign(), spec.strength);
    let (s, inv_s) = super::scale_of(zx[perm[0] as usize], zx[perm[n - 1] as usize], n);
    let half = s * 0.5;
    // A singleton block gives `k = ḡ - (0 + ḡ)`, which is +0 for every finite `ḡ` but -0 (NaN for
    // inf or NaN), and adds `k · 0 = ±0` to a sum that started at +0 (no change). When every `ḡ` is
    // such, the singletons' `σ k/ε` are all the same bits: written in a streaming pass first
    // instead of one by one through the permutation (most blocks of a long lane are singletons).
    let plain = |v: &f64| v.is_finite() && v.to_bits() != (-0.0f64).to_bits();
    let func = spec.name();
    let cuts: Vec<_> = g.chunks(PIECE).zip(gx.chunks_mut(PIECE)).collect();
    let fill = sign * 0.0 / e;
    let ok = tasks(par, func, cuts, |(gc, oc)| {
        let ok = gc.iter().all(plain);
        oc.fill(fill);
        ok
    })?;
    let fast = ok.iter().all(|&b| b);
    let sc = Scatter::new(gx);
    let parts = tasks(par, func, (0..n).step_by(PIECE).collect(), |at| {
        let end = (at + PIECE).min(n);
        // the blocks that start in this piece
        let Some(k) = start[at..end].iter().position(|&b| b) else {
            return 0.0;
        };
        let (mut de, mut lo) = (0.0, at + k);
        while lo < end {
            let mut hi = lo + 1;
            while hi < n && !start[hi] {
                hi += 1;
            }
            if hi == lo + 1 && fast {
                // written by the fill above
            } else if hi == lo + 1 {
                let p = perm[lo] as usize;
                let gi = g[p];
                // mean_B ḡ of one value, as `sum` gives it (0 + ḡ)
                let kk = gi - (0.0 + gi);
                sc.set(p, sign * kk / e);
                de += kk * 0.0;
            } else {
                let ps = &perm[lo..hi];
                let m = sum_at(g, ps) / (hi - lo) as f64;
                let h0 = zx[ps[0] as usize] * half;
                for &pi in ps {
                    let kk = g[pi as usize] - m;
                    sc.set(pi as usize, sign * kk / e);
                    de += kk * (zx[pi as usize] * half - h0);
                }
            }
            lo = hi;
        }
        de
    })?;
    let de = parts.into_iter().fold(0.0, |a, b| a + b);
    // scaled back before the second division, so that a subnormal result keeps its bits
    Ok(-(de / e * (2.0 * inv_s) / e))
}

/// `Σ g[p]` over `ps` in four fixed accumulators (the order of `grad.rs`'s `sum` of the gathered
/// values).
fn sum_at(g: &[f64], ps: &[u32]) -> f64 {
    let mut acc = [0.0; 4];
    let c = ps.chunks_exact(4);
    let rest = c.remainder();
    for q in c {
        for l in 0..4 {
            acc[l] += g[q[l] as usize];
        }
    }
    rest.iter()
        .fold((acc[0] + acc[1]) + (acc[2] + acc[3]), |a, &p| {
            a + g[p as usize]
        })
}

#[cfg(test)]
mod tests;
