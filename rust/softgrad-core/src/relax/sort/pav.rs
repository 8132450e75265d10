//! The per-lane kernels: sort, pool-adjacent-violators, and the `O(n)` derivatives from the blocks.
//! The maths is in the [module docs](super).

use super::one::{scan, tried, try_one};
use super::work::{grow, with_work, Work};
use super::{Op, Reg, Spec};
use crate::error::{Error, Result};
use crate::par::Par;

mod long;
mod out;
pub(crate) use long::{takes as long_vjp_takes, vjp as long_vjp};
pub(crate) use out::Out;

/// One lane's residuals, written by the forward.
pub(crate) type LaneResMut<'a> = (&'a mut [u32], &'a mut [f64], &'a mut [bool]);
/// One lane's residuals, read by the derivatives.
pub(crate) type LaneRes<'a> = (&'a [u32], &'a [f64], &'a [bool]);

/// A block of the isotonic solution in progress: first position, its `z` and `ρ`, size, and two
/// statistics, `a` over `z` and `b` over `ρ` (sums, or log-sum-exps relative to the first entry so
/// that ties and near-ties keep every bit), with the value pooling compares. For l2, `a` (a sum of
/// `z`, or of `z - z0` for ranks) is kept times the lane's `2^-k` ([`lane_scale`]), and so is the
/// key.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Block {
    lo: usize,
    z0: f64,
    r0: f64,
    c: f64,
    a: f64,
    b: f64,
    key: f64,
}

/// `t ln(e^{p/t} + e^{q/t})`, which never overflows.
#[inline]
fn lae(p: f64, q: f64, t: f64) -> f64 {
    let (hi, lo) = if p >= q { (p, q) } else { (q, p) };
    hi + t * ((lo - hi) / t).exp().ln_1p()
}

/// `(a - b)/ε` for finite `a`, `b` without an intermediate overflow (`a - b` can reach ±3.6e308):
/// the difference of halves, doubled after the division (exact scalings by 2).
#[inline]
pub(crate) fn diff_over(a: f64, b: f64, e: f64) -> f64 {
    let d = a - b;
    if d.is_finite() {
        d / e
    } else {
        (a * 0.5 - b * 0.5) / e * 2.0
    }
}

/// `(2^-k, 2^k)` for the lane `z` (sorted descending, so its largest `|z|` is at an end): the
/// smallest `k >= 0` with `2 n max|z| 2^-k < 2^1020`. The l2 kernels keep their block sums of `z`
/// (and of `z - z0`) multiplied by `2^-k`, so that a block pooling several values near ±1e308 cannot
/// overflow; `k` is 0 (and every scaling a multiplication by 1, bit for bit) unless the lane's
/// values come within a factor `~2n` of the float limit. Exact powers of two: scaling loses bits
/// only of values that become subnormal.
pub(crate) fn lane_scale(z: &[f64]) -> (f64, f64) {
    match (z.first(), z.last()) {
        (Some(&hi), Some(&lo)) => scale_of(hi, lo, z.len()),
        _ => (1.0, 1.0),
    }
}

/// [`lane_scale`] of a lane of `n` values whose largest and smallest are `hi` and `lo`.
pub(crate) fn scale_of(hi: f64, lo: f64, n: usize) -> (f64, f64) {
    let m = hi.abs().max(lo.abs());
    let e = ((m.to_bits() >> 52) & 0x7ff) as i64 - 1023; // m < 2^(e + 1)
    let b = i64::from(64 - (n as u64).leading_zeros()); // n < 2^b
    let k = (e + b - 1018).max(0); // 2 n m 2^-k < 2^(e + b + 2 - k) <= 2^1020
    let pow2 = |k: i64| f64::from_bits(((1023 + k) as u64) << 52);
    (pow2(-k), pow2(k))
}

/// A `u64` whose unsigned order is the descending order of the finite `z` (`-0.0` is `0.0`).
#[inline]
pub(crate) fn desc_key(z: f64) -> u64 {
    let u = (z + 0.0).to_bits();
    let asc = if u >> 63 == 1 { !u } else { u | (1 << 63) };
    !asc
}

/// The four formulas of the isotonic regression (top-k is a rank). Passed as a constant to the
/// `#[inline(always)]` helpers below so that each has its own monomorphic PAV loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    RankL2,
    RankKl,
    SortL2,
    SortKl,
}

impl Spec {
    fn kind(&self) -> Kind {
        match (self.op, self.reg) {
            (Op::Rank | Op::TopK(_), Reg::L2) => Kind::RankL2,
            (Op::Rank | Op::TopK(_), Reg::Kl) => Kind::RankKl,
            (Op::Sort, Reg::L2) => Kind::SortL2,
            (Op::Sort, Reg::Kl) => Kind::SortKl,
        }
    }

    /// `(λ/ε, λ)` with `λ = min(ε, 1)`: pooling compares `λ v`, which is finite for any strength.
    fn scales(&self) -> (f64, f64) {
        let e = self.strength;
        if e < 1.0 {
            (1.0, e)
        } else {
            (1.0 / e, 1.0)
        }
    }

    /// The block of position `i` alone (`s` the lane's `2^-k`).
    #[inline(always)]
    fn single(&self, kind: Kind, i: usize, z: f64, n: usize, s: f64) -> Block {
        let rho = self.w(n, i);
        let (a, b) = match kind {
            Kind::RankL2 | Kind::RankKl => (0.0, rho),
            Kind::SortL2 => (z * s, rho),
            Kind::SortKl => (z, 0.0),
        };
        Block {
            lo: i,
            z0: z,
            r0: rho,
            c: 1.0,
            a,
            b,
            key: 0.0,
        }
    }

    /// `λ v` of the block (`v` the value of the isotonic solution on it), times `s = 2^-k` for l2
    /// (the same `s` for the whole lane: the order of the keys is kept).
    #[inline(always)]
    fn key(&self, kind: Kind, blk: &Block, (k1, lam, s): (f64, f64, f64)) -> f64 {
        let Block {
            z0, r0, c, a, b, ..
        } = *blk;
        match kind {
            // v = z0/ε + mean(z - z0)/ε - mean ρ
            Kind::RankL2 => z0 * s * k1 + (a * k1 - lam * b * s) / c,
            // v = z0/ε + LSE((z - z0)/ε) - ln Σρ
            Kind::RankKl => z0 * k1 + lam * a - lam * b.ln(),
            // v = mean ρ/ε - mean z
            Kind::SortL2 => (b * k1 * s - lam * a) / c,
            // v = r0/ε + LSE((ρ - r0)/ε) - LSE(z)
            Kind::SortKl => r0 * k1 + lam * b - lam * a,
        }
    }

    /// `blk` after absorbing `o`, the block right after it (`s` the lane's `2^-k`).
    #[inline(always)]
    fn merge(&self, kind: Kind, blk: &Block, o: &Block, s: f64) -> Block {
        let e = self.strength;
        let (a, b) = match kind {
            Kind::RankL2 => (blk.a + o.a + o.c * (o.z0 * s - blk.z0 * s), blk.b + o.b),
            Kind::RankKl => (
                lae(blk.a, o.a + diff_over(o.z0, blk.z0, e), 1.0),
                blk.b + o.b,
            ),
            Kind::SortL2 => (blk.a + o.a, blk.b + o.b),
            Kind::SortKl => (
                lae(blk.a, o.a, 1.0),
                lae(blk.b, o.b + (o.r0 - blk.r0) / e, 1.0),
            ),
        };
        Block {
            c: blk.c + o.c,
            a,
            b,
            ..*blk
        }
    }
}

/// The stack of blocks PAV builds: a `Vec` for a lane, a fixed slice for a piece of a long lane
/// (`long.rs`).
pub(crate) trait Stack {
    fn push(&mut self, b: Block);
    fn pop(&mut self);
    fn last(&self) -> Option<&Block>;
}

impl Stack for Vec<Block> {
    #[inline(always)]
    fn push(&mut self, b: Block) {
        Vec::push(self, b);
    }
    #[inline(always)]
    fn pop(&mut self) {
        Vec::pop(self);
    }
    #[inline(always)]
    fn last(&self) -> Option<&Block> {
        self.as_slice().last()
    }
}

/// Pool-adjacent-violators over `z` (sorted descending): the blocks of the decreasing isotonic
/// regression, in order. Amortised `O(n)`: each position is pushed once and merged at most once.
/// `s` is the lane's `2^-k` ([`lane_scale`]).
fn pav(spec: &Spec, z: &[f64], s: f64, stack: &mut Vec<Block>) {
    stack.clear();
    pav_at(spec, z, 0, z.len(), s, stack);
}

/// [`pav`] over the piece `z` of a lane of `n` values starting at position `at`, pushing onto
/// `stack` (which must be empty).
pub(crate) fn pav_at(spec: &Spec, z: &[f64], at: usize, n: usize, s: f64, stack: &mut impl Stack) {
    let p = (at, n, s);
    match spec.kind() {
        Kind::RankL2 => pav_of(spec, Kind::RankL2, z, p, stack),
        Kind::RankKl => pav_of(spec, Kind::RankKl, z, p, stack),
        Kind::SortL2 => pav_of(spec, Kind::SortL2, z, p, stack),
        Kind::SortKl => pav_of(spec, Kind::SortKl, z, p, stack),
    }
}

#[inline(always)]
fn pav_of(
    spec: &Spec,
    kind: Kind,
    z: &[f64],
    (at, n, s): (usize, usize, f64),
    stack: &mut impl Stack,
) {
    let (k1, lam) = spec.scales();
    let sc = (k1, lam, s);
    let Some((&first, rest)) = z.split_first() else {
        return;
    };
    // The last block is kept out of the stack (in registers): the common step merges into it.
    let mut cur = spec.single(kind, at, first, n, s);
    cur.key = spec.key(kind, &cur, sc);
    for (i, &zi) in (at + 1..).zip(rest) {
        let mut top = spec.single(kind, i, zi, n, s);
        top.key = spec.key(kind, &top, sc);
        if cur.key > top.key {
            stack.push(std::mem::replace(&mut cur, top));
            continue;
        }
        top = spec.merge(kind, &cur, &top, s);
        top.key = spec.key(kind, &top, sc);
        while let Some(prev) = stack.last() {
            if prev.key > top.key {
                break;
            }
            top = spec.merge(kind, prev, &top, s);
            top.key = spec.key(kind, &top, sc);
            stack.pop();
        }
        cur = top;
    }
    stack.push(cur);
}

/// Soft sort or rank of one lane (see the module docs), keeping the residuals in `res` if given.
pub(crate) fn forward_lane(
    spec: &Spec,
    x: &[f64],
    out: &mut [f64],
    res: Option<LaneResMut<'_>>,
    par: Par,
) -> Result<()> {
    with_work(|w| forward_in(spec, x, out, res, par, w, true))
}

/// [`forward_lane`] in the workspace `w`; without `fast`, always through the sort and PAV (never
/// the one-block path of `one.rs`: the tests compare the two).
pub(crate) fn forward_in(
    spec: &Spec,
    x: &[f64],
    out: &mut [f64],
    res: Option<LaneResMut<'_>>,
    par: Par,
    w: &mut Work,
    fast: bool,
) -> Result<()> {
    let (func, n, sign, e) = (spec.name(), x.len(), spec.sign(), spec.strength);
    let mut own = (
        std::mem::take(&mut w.perm),
        std::mem::take(&mut w.z),
        std::mem::take(&mut w.start),
    );
    let stats = fast && tried(spec);
    let check = |zx: Option<&mut [f64]>| {
        if stats {
            scan::<true>(par, x, sign, zx, func)
        } else {
            scan::<false>(par, x, sign, zx, func)
        }
    };
    let mut scanned = None;
    let keep = res.is_some();
    let (perm, z, start) = match res {
        // sorts are pulled back in sorted order: their residual z is the sorted σ x itself
        Some((perm, z, start)) if spec.op == Op::Sort => (perm, z, start),
        Some((perm, zx, start)) => {
            // for ranks, σ x in lane order (the derivatives of a lane that is one block need no
            // permutation), written by the pass that checks x
            scanned = Some(check(Some(zx))?);
            grow(func, &mut own.1, n)?;
            (perm, &mut own.1[..n], start)
        }
        None => {
            grow(func, &mut own.0, n)?;
            grow(func, &mut own.1, n)?;
            grow(func, &mut own.2, n)?;
            (&mut own.0[..n], &mut own.1[..n], &mut own.2[..n])
        }
    };
    let done = match scanned {
        Some(d) => Ok(d),
        None => check(None),
    }
    .and_then(|sc| {
        // an l2 lane that is provably one block needs no sort (see `one.rs`)
        if fast && try_one(spec, x, out, keep.then_some(&mut *start), &sc, par)? {
            return Ok(());
        }
        lane_body(
            spec,
            x,
            out,
            (perm, z, start),
            par,
            w,
            (func, n, sign, e, sc.diff),
        )
    });
    (w.perm, w.z, w.start) = own;
    done
}

#[allow(clippy::type_complexity)]
fn lane_body(
    spec: &Spec,
    x: &[f64],
    out: &mut [f64],
    (perm, z, start): LaneResMut<'_>,
    par: Par,
    w: &mut Work,
    (func, n, sign, _e, diff): (&'static str, usize, f64, f64, u64),
) -> Result<()> {
    // the sort writes z (σ x in sorted order) in the pass that writes perm
    w.sort(
        func,
        |i| desc_key(sign * x[i]),
        diff,
        (&mut *perm, &mut *z),
        |p| sign * x[p] + 0.0,
        par,
    )?;
    if super::work::row::takes(spec, n) {
        // short l2 ranks: the same blocks and bits, in columns and without a branch per block
        return super::work::row::rank_l2(spec, x, out, (perm, z, start), w, sign);
    }
    let scale = lane_scale(z);
    let o = Out::new(spec, n, scale);
    if n >= long::LONG_MIN {
        return long::finish(&o, x, out, (perm, z, start), par, w, func);
    }
    let stack = &mut w.stack;
    stack.clear();
    stack.try_reserve(n).map_err(|_| Error::Alloc {
        func,
        bytes: n * std::mem::size_of::<Block>(),
    })?;
    pav(spec, z, scale.0, stack);
    start.fill(false);
    if let [blk] = stack.as_slice() {
        start[0] = true;
        return o.whole(blk, x, (z, perm), out, par);
    }
    let ends = stack.iter().skip(1).map(|b| b.lo).chain([n]);
    let mut set = |p: usize, v: f64| out[p] = v;
    for (blk, hi) in stack.iter().zip(ends) {
        start[blk.lo] = true;
        o.block(blk, hi, (z, perm), &mut set);
    }
    Ok(())
}
