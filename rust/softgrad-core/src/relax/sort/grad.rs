//! The derivatives of one lane, `O(n)` from the forward's residuals: the sorting permutation, the
//! values `σ x` (sorted for sorts; in lane order for ranks, gathered into sorted order where needed)
//! and the block starts of the isotonic solution. A lane that is one block, with l2, is pulled back
//! in lane order without the permutation. The maths is in the
//! [module docs](super).

use super::pav::{diff_over, scale_of, LaneRes};
use super::work::{grow, row_vjp, with_work, Work};
use super::{Op, Reg, Spec};
use crate::error::Result;

#[cfg(test)]
thread_local! {
    /// Tests set this to run the general pullback instead of the row kernel, and compare.
    pub(crate) static OLD_VJP: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The blocks recorded by the forward, as ranges.
fn blocks(start: &[bool]) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
    let n = start.len();
    let mut lo = 0;
    std::iter::from_fn(move || {
        if lo >= n {
            return None;
        }
        let hi = start[lo + 1..]
            .iter()
            .position(|&s| s)
            .map_or(n, |k| lo + 1 + k);
        let r = lo..hi;
        lo = hi;
        Some(r)
    })
}

/// `t ln Σ e^{v/t}` of a block, and the weights `e^{(v - that)/t}` (a softmax) written to `p`.
fn softmax_into(v: impl Iterator<Item = f64> + Clone, t: f64, p: &mut [f64]) -> f64 {
    let m = v.clone().fold(f64::NEG_INFINITY, f64::max);
    let mut s = 0.0;
    for (pi, vi) in p.iter_mut().zip(v.clone()) {
        *pi = ((vi - m) / t).exp();
        s += *pi;
    }
    p.iter_mut().for_each(|pi| *pi /= s);
    m + t * s.ln()
}

/// Per block: the weights `p` (written to `p`) and, for sorts, `ρ_i - c_B` written to `d`.
fn weights(
    spec: &Spec,
    n: usize,
    z: &[f64],
    r: std::ops::Range<usize>,
    p: &mut [f64],
    d: &mut [f64],
) {
    let c = r.len() as f64;
    let e = spec.strength;
    let rho = |i: usize| spec.w(n, i);
    match spec.reg {
        Reg::L2 => p.fill(1.0 / c),
        Reg::Kl => {
            let t = if spec.op != Op::Sort { e } else { 1.0 };
            softmax_into(z[r.clone()].iter().copied(), t, p);
        }
    }
    if spec.op == Op::Sort {
        let cb = match spec.reg {
            Reg::L2 => r.clone().map(rho).sum::<f64>() / c,
            Reg::Kl => {
                // ⟨softmax(ρ/ε), ρ⟩ over the block, with `d` as scratch for the weights.
                softmax_into(r.clone().map(rho), e, d);
                r.clone().zip(d.iter()).map(|(i, q)| q * rho(i)).sum()
            }
        };
        for (di, i) in d.iter_mut().zip(r) {
            *di = rho(i) - cb;
        }
    }
}

/// Pullback of one lane for the cotangent `g` (lane order): writes `gx`, returns the lane's part of
/// the strength cotangent.
pub(crate) fn vjp_lane(
    spec: &Spec,
    (perm, z, start): LaneRes<'_>,
    g: &[f64],
    gx: &mut [f64],
) -> Result<f64> {
    with_work(|w| vjp_in(spec, (perm, z, start), g, gx, w))
}

fn vjp_in(
    spec: &Spec,
    (perm, zx, start): LaneRes<'_>,
    g: &[f64],
    gx: &mut [f64],
    w: &mut Work,
) -> Result<f64> {
    let (n, sign, e) = (zx.len(), spec.sign(), spec.strength);
    if n == 0 {
        return Ok(0.0);
    }
    let rank_de = |de: f64, inv_s: f64| -(de / e * (2.0 * inv_s) / e);
    let one = !start[1..].contains(&true);
    if one && spec.reg == Reg::L2 && spec.op != Op::Sort {
        // one block, l2: k = ḡ - mean ḡ, in lane order (no permutation; the residual σ x is in
        // lane order). Σ k_i (z_i - z_0) is summed on halves, and if that overflows (values near
        // ±1e308) again times the lane's 2^-k.
        let m = sum(g) / n as f64;
        let mut de = one_block_de(g, gx, zx, m, (sign, e), 1.0, true);
        let mut inv_s = 1.0;
        if !de.is_finite() {
            let (lo, hi) = zx
                .iter()
                .fold((zx[0], zx[0]), |(l, h), &v| (l.min(v), h.max(v)));
            let s;
            (s, inv_s) = scale_of(hi, lo, n);
            de = one_block_de(g, gx, zx, m, (sign, e), s, false);
        }
        return Ok(rank_de(de, inv_s));
    }
    if one && spec.reg == Reg::L2 {
        // a sort that is one block, l2: x̄ = mean ḡ everywhere, in lane order
        let (c, gsum) = (1.0 / n as f64, sum(g));
        gx.fill(c * gsum);
        let cb = (0..n).map(|i| spec.w(n, i)).sum::<f64>() / n as f64;
        let de = (0..n)
            .zip(g)
            .fold(0.0, |a, (i, gi)| a + gi * (spec.w(n, i) - cb));
        return Ok(-sign * de / e / e);
    }
    // the rank's Σ k_i (z_i - z0) is summed on (z - z0) 2^-(k+1) (halves, and the lane's 2^-k):
    // z - z0 can overflow (±1e308), and so can a block's sum of them
    // the i-th largest σ x (the residual is sorted for sorts, in lane order for ranks)
    let at = |i: usize| {
        if spec.op == Op::Sort {
            zx[i]
        } else {
            zx[perm[i] as usize]
        }
    };
    let (s, inv_s) = scale_of(at(0), at(n - 1), n);
    let half = s * 0.5;
    grow(spec.name(), &mut w.d, n)?;
    if spec.reg == Reg::L2 && spec.op != Op::Sort {
        if row_vjp::takes(n) {
            let lane = (perm, zx, start);
            if let Some(de) = row_vjp::rank_l2(spec.name(), lane, g, gx, (sign, e, half), w)? {
                return Ok(rank_de(de, inv_s));
            }
        }
        let de = rank_l2_blocks((perm, zx, start), g, gx, (sign, e, half), &mut w.d[..n]);
        return Ok(rank_de(de, inv_s));
    }
    grow(spec.name(), &mut w.z, n)?;
    grow(spec.name(), &mut w.p, n)?;
    let (z, p, d) = (&mut w.z[..n], &mut w.p[..n], &mut w.d[..n]);
    let z = sorted_z(spec, perm, zx, z);
    let mut de = 0.0;
    for r in blocks(start) {
        let (pb, db) = (&mut p[r.clone()], &mut d[r.clone()]);
        match spec.op {
            Op::Rank | Op::TopK(_) => {
                weights(spec, n, z, r.clone(), pb, db);
                let sum_rho: f64 = r.clone().map(|i| spec.w(n, i)).sum();
                // h = f ⊙ ḡ (f the ranks p Σρ), kept in db.
                for (k, i) in r.clone().enumerate() {
                    db[k] = pb[k] * sum_rho * g[perm[i] as usize];
                }
                let h: f64 = db.iter().sum();
                let z0 = z[r.start];
                for (k, i) in r.clone().enumerate() {
                    let kk = db[k] - pb[k] * h;
                    gx[perm[i] as usize] = sign * kk / e;
                    de += kk * (z[i] * half - z0 * half);
                }
            }
            Op::Sort => {
                weights(spec, n, z, r.clone(), pb, db);
                let gsum: f64 = g[r.clone()].iter().sum();
                for (k, i) in r.clone().enumerate() {
                    gx[perm[i] as usize] = pb[k] * gsum;
                    de += g[i] * db[k];
                }
            }
        }
    }
    Ok(match spec.op {
        // scaled back before the second division, so that a subnormal result keeps its bits
        Op::Rank | Op::TopK(_) => rank_de(de, inv_s),
        Op::Sort => -sign * de / e / e,
    })
}

/// The one-block l2 rank pullback in lane order: writes `gx_i = σ k_i/ε` (`k = ḡ - m`)
/// if `write`, and returns `Σ k_i (z_i s/2 - z_0 s/2)` in four fixed accumulators.
fn one_block_de(
    g: &[f64],
    gx: &mut [f64],
    zx: &[f64],
    m: f64,
    (sign, e): (f64, f64),
    s: f64,
    write: bool,
) -> f64 {
    let (half, mut acc) = (s * 0.5, [0.0; 4]);
    let h0 = zx[0] * half;
    let mut gc = g.chunks_exact(4);
    let mut oc = gx.chunks_exact_mut(4);
    let mut zc = zx.chunks_exact(4);
    for ((gs, os), zs) in (&mut gc).zip(&mut oc).zip(&mut zc) {
        for l in 0..4 {
            let kk = gs[l] - m;
            if write {
                os[l] = sign * kk / e;
            }
            acc[l] += kk * (zs[l] * half - h0);
        }
    }
    let mut de = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for ((gi, o), zi) in gc
        .remainder()
        .iter()
        .zip(oc.into_remainder())
        .zip(zc.remainder())
    {
        let kk = gi - m;
        if write {
            *o = sign * kk / e;
        }
        de += kk * (zi * half - h0);
    }
    de
}

/// The l2 rank (and top-k) pullback of a lane of several blocks: `k = ḡ - mean_B ḡ`,
/// `gx_{perm i} = σ k_i/ε`; returns `Σ k_i (z_i s/2 - z_B s/2)` (`half = s/2`, `z_B` the block's
/// first `z`). `σ x` is read in lane order through `perm` where a block has two or more positions
/// (no gathered copy); a singleton gives `k = 0` and adds `k · 0` (the same bits as the general
/// formula, NaN included, without reading `z`). `db` is scratch (`n` long).
fn rank_l2_blocks(
    (perm, zx, start): LaneRes<'_>,
    g: &[f64],
    gx: &mut [f64],
    (sign, e, half): (f64, f64, f64),
    db: &mut [f64],
) -> f64 {
    let n = perm.len();
    let (mut de, mut lo) = (0.0, 0);
    while lo < n {
        let mut hi = lo + 1;
        while hi < n && !start[hi] {
            hi += 1;
        }
        if hi == lo + 1 {
            let p = perm[lo] as usize;
            let gi = g[p];
            // mean_B ḡ of one value, as `sum` gives it (0 + ḡ)
            let kk = gi - (0.0 + gi);
            gx[p] = sign * kk / e;
            de += kk * 0.0;
        } else {
            rank_l2_block(lo..hi, (perm, zx), g, gx, db, (sign, e, half), &mut de);
        }
        lo = hi;
    }
    de
}

/// The block `r` (two or more positions) of [`rank_l2_blocks`]: writes its `x̄` and adds its terms
/// to `de` in position order (`db` is scratch, `n` long).
#[inline(always)]
pub(crate) fn rank_l2_block(
    r: std::ops::Range<usize>,
    (perm, zx): (&[u32], &[f64]),
    g: &[f64],
    gx: &mut [f64],
    db: &mut [f64],
    (sign, e, half): (f64, f64, f64),
    de: &mut f64,
) {
    let (ps, db) = (&perm[r.clone()], &mut db[r.clone()]);
    for (di, &pi) in db.iter_mut().zip(ps) {
        *di = g[pi as usize];
    }
    let m = sum(db) / r.len() as f64;
    let h0 = zx[perm[r.start] as usize] * half;
    for (&di, &pi) in db.iter().zip(ps) {
        let kk = di - m;
        gx[pi as usize] = sign * kk / e;
        *de += kk * (zx[pi as usize] * half - h0);
    }
}

/// The sorted `σ x`: the residual itself for sorts; for ranks gathered from it (lane order) into
/// `buf`.
fn sorted_z<'a>(spec: &Spec, perm: &[u32], zx: &'a [f64], buf: &'a mut [f64]) -> &'a [f64] {
    if spec.op == Op::Sort {
        return zx;
    }
    for (zi, &pi) in buf.iter_mut().zip(perm) {
        *zi = zx[pi as usize];
    }
    buf
}

/// `Σ v` in four fixed accumulators (vectorises; the same bits on every run).
fn sum(v: &[f64]) -> f64 {
    let mut acc = [0.0; 4];
    let c = v.chunks_exact(4);
    let rest = c.remainder();
    for q in c {
        for l in 0..4 {
            acc[l] += q[l];
        }
    }
    rest.iter()
        .fold((acc[0] + acc[1]) + (acc[2] + acc[3]), |a, b| a + b)
}

/// Tangent of one lane for the tangents `u` (lane order) and `de` (strength), written to `out`.
pub(crate) fn jvp_lane(
    spec: &Spec,
    (perm, z, start): LaneRes<'_>,
    u: &[f64],
    de: f64,
    out: &mut [f64],
) -> Result<()> {
    with_work(|w| jvp_in(spec, (perm, z, start), u, de, out, w))
}

fn jvp_in(
    spec: &Spec,
    (perm, zx, start): LaneRes<'_>,
    u: &[f64],
    de: f64,
    out: &mut [f64],
    w: &mut Work,
) -> Result<()> {
    let (n, sign, e) = (zx.len(), spec.sign(), spec.strength);
    if n > 0 && spec.reg == Reg::L2 && !start[1..].contains(&true) {
        // one block, l2: in lane order, no permutation
        if spec.op == Op::Sort {
            // ds_i = mean dx - σ dε (ρ_i - mean ρ)/ε²
            let (m, cb) = (
                sum(u) / n as f64,
                (0..n).map(|i| spec.w(n, i)).sum::<f64>() / n as f64,
            );
            for (i, o) in out.iter_mut().enumerate() {
                *o = m - de * sign * ((spec.w(n, i) - cb) / e) / e;
            }
        } else {
            // dr = dθ - mean dθ, dθ_i = σ dx_i/ε - (z_i - z_0) dε/ε² (z in lane order)
            let z0 = zx[0];
            for ((o, &ui), &zi) in out.iter_mut().zip(u).zip(zx) {
                *o = sign * ui / e - diff_over(zi, z0, e) * de / e;
            }
            let m = sum(out) / n as f64;
            out.iter_mut().for_each(|o| *o -= m);
        }
        return Ok(());
    }
    grow(spec.name(), &mut w.z, n)?;
    grow(spec.name(), &mut w.p, n)?;
    grow(spec.name(), &mut w.d, n)?;
    let (z, p, d) = (&mut w.z[..n], &mut w.p[..n], &mut w.d[..n]);
    let z = sorted_z(spec, perm, zx, z);
    for r in blocks(start) {
        let (pb, db) = (&mut p[r.clone()], &mut d[r.clone()]);
        weights(spec, n, z, r.clone(), pb, db);
        match spec.op {
            Op::Rank | Op::TopK(_) => {
                let sum_rho: f64 = r.clone().map(|i| spec.w(n, i)).sum();
                let z0 = z[r.start];
                // dθ (centred on the block's first z: the projection removes constants), in db.
                for (k, i) in r.clone().enumerate() {
                    db[k] = sign * u[perm[i] as usize] / e - diff_over(z[i], z0, e) * de / e;
                }
                let m: f64 = pb.iter().zip(db.iter()).map(|(a, b)| a * b).sum();
                for (k, i) in r.clone().enumerate() {
                    let f = if spec.reg == Reg::Kl {
                        pb[k] * sum_rho
                    } else {
                        1.0
                    };
                    out[perm[i] as usize] = f * (db[k] - m);
                }
            }
            Op::Sort => {
                let m: f64 = r
                    .clone()
                    .zip(pb.iter())
                    .map(|(i, q)| q * u[perm[i] as usize])
                    .sum();
                for (k, i) in r.clone().enumerate() {
                    out[i] = m - de * sign * (db[k] / e) / e;
                }
            }
        }
    }
    Ok(())
}
