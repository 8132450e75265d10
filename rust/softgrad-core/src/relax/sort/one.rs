//! The pass that checks a lane, and the `O(n)` path for an l2 lane whose isotonic solution is one
//! block (no sort at all).
//!
//! # When the solution is one block (quadratic regularization)
//! With `z` sorted descending, the decreasing isotonic regression of `y` is one block iff no prefix
//! has a larger mean than the whole: `mean_{<k} y ≤ mean y` for `1 ≤ k < n` (the first block of
//! the solution is the longest prefix of largest mean; PAV pools ties, so equality is one block).
//! Write `T_k = Σ_{i<k} (z_i − z̄)` (`z̄ = mean z`) and use `Σ_{i<k} (ρ_i − ρ̄) = k(n − k)/2`.
//!
//! - **Rank**, `y = z/ε − ρ`: the condition is `T_k/ε ≤ k(n − k)/2`. As `z` is sorted,
//!   `T_k = k(n − k)/n · (mean_{<k} z − mean_{≥k} z) ≤ k(n − k)/n · (max z − min z)`, so
//!   **`(max x − min x)/ε ≤ n/2` suffices.** The ranks are then the affine map
//!   `r_j = (σ x_j − z̄)/ε + (n + 1)/2`.
//! - **Sort**, `y = ρ/ε − z`: the condition is `T_k ≥ k(n − k)/(2ε)` (`ρ/ε`, centred, is
//!   majorised by `z`). `T` is concave in `k` (its increments `z_k − z̄` decrease), `T_0 = T_n = 0`,
//!   and it peaks at `k* = #{z_i > z̄}` with `T_{k*} = D = Σ_i (z_i − z̄)₊`. On the chords,
//!   `T_k ≥ D k/k*` for `k ≤ k*` and `T_k ≥ D (n − k)/(n − k*)` for `k ≥ k*`, so
//!   `2εD ≥ (n − 1) max(k*, n − k*)` suffices, and so does **`2εD ≥ (n − 1)²`**. `D` is not
//!   computed at the exact `z̄`: for any `c`, `min(Σ (z_i − c)₊, Σ (c − z_i)₊) ≤ D` (the first sum
//!   decreases in `c`, the second increases, and they are equal at `z̄`), so the test takes that
//!   minimum at the computed mean. The sort is then `s_i = σ((ρ_i − (n + 1)/2)/ε + z̄)`.
//!
//! Both tests are sufficient, not necessary (a lane that fails them goes through the sort and PAV,
//! which may still find one block). Their floating-point forms keep a relative margin (`2^-48`
//! for the range; `(n + 16) 2^-51` for the sums of `n` non-negative terms, whose error is at most
//! `~n 2^-53` relative) so that a lane they pass is one block exactly, not only up to rounding.
//!
//! KL is not tried here. (A sufficient test exists: for ranks, `(max x − min x)/ε ≤ ln 2`, from
//! `Σ_{<k} e^θ / Σ e^θ ≤ k e^R/(k e^R + n − k)` against `Σ_{<k} ρ/Σ ρ`; it is far narrower than
//! the l2 one and its derivatives would need a lane-order softmax.)
//!
//! The sums (`Σ (z − c)` with `c = σ x_0`, for `z̄`; `D`'s two sums) are taken over fixed
//! [`MAP_PIECE`]-long pieces, four accumulators each, pieces added left to right, on any number of
//! threads: the bits do not depend on the threads. Values near the float limit are summed times the
//! lane's `2^-k` ([`scale_of`]), as PAV sums them.
//!
//! Residuals of a lane done here: `start` marks one block; `σ x` is written (in lane order) for
//! ranks; the permutation (and a sort's `z`) are not written: the derivatives of an l2 lane that is
//! one block never read them.

use rayon::prelude::*;

use super::pav::{desc_key, diff_over, scale_of};
use super::work::PAR_SORT_MIN;
use super::{Op, Reg, Spec};
use crate::error::{Error, Result};
use crate::par::Par;
use crate::simd;

/// Elements per piece of a long lane's element-wise passes (fixed: the pieces of a sum are the
/// same on any number of threads).
pub(crate) const MAP_PIECE: usize = 1 << 15;

/// What [`scan`] finds in a lane of finite `x` (with `z = σ x + 0`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scan {
    /// The bits on which the sort keys differ, `OR_i key_i ^ key_0`.
    pub(crate) diff: u64,
    /// `min z`, `max z` (only with statistics).
    lo: f64,
    hi: f64,
    /// `Σ (z_i − z_0)` in pieces (only with statistics).
    sum: f64,
}

/// One piece's `(finite, diff, min, max, Σ (z − c))`.
type Piece = (bool, u64, f64, f64, f64);

fn join(a: Piece, b: Piece) -> Piece {
    (a.0 && b.0, a.1 | b.1, a.2.min(b.2), a.3.max(b.3), a.4 + b.4)
}

/// `f` over the fixed pieces of `x` (and of `zx`, if given), on `par`'s threads for a long lane,
/// results joined left to right.
fn pieces<R: Send + Copy>(
    par: Par,
    x: &[f64],
    zx: Option<&mut [f64]>,
    f: impl Fn(&[f64], Option<&mut [f64]>) -> R + Send + Sync,
    join: impl Fn(R, R) -> R,
) -> Result<Option<R>> {
    Ok(match (par, zx) {
        // (collected in piece order, then joined as on one thread)
        (Par::Rayon(t), zx) if t >= 2 && x.len() >= PAR_SORT_MIN => {
            let parts: Vec<R> = par.install(|| match zx {
                Some(zx) => x
                    .par_chunks(MAP_PIECE)
                    .zip(zx.par_chunks_mut(MAP_PIECE))
                    .map(|(xs, zs)| f(xs, Some(zs)))
                    .collect(),
                None => x.par_chunks(MAP_PIECE).map(|xs| f(xs, None)).collect(),
            })?;
            parts.into_iter().reduce(join)
        }
        // no allocation: short lanes are many
        (_, Some(zx)) => x
            .chunks(MAP_PIECE)
            .zip(zx.chunks_mut(MAP_PIECE))
            .map(|(xs, zs)| f(xs, Some(zs)))
            .reduce(join),
        (_, None) => x.chunks(MAP_PIECE).map(|xs| f(xs, None)).reduce(join),
    })
}

/// One pass over `x`: [`Error::InvalidParameter`] (`x`) if a value is not finite, else the bits on
/// which the sort keys `desc_key(σ x_i)` differ and, with `STATS`, the range and sum of `σ x`;
/// writes `σ x + 0` to `zx` if given.
pub(crate) fn scan<const STATS: bool>(
    par: Par,
    x: &[f64],
    sign: f64,
    zx: Option<&mut [f64]>,
    func: &'static str,
) -> Result<Scan> {
    let Some(&x0) = x.first() else {
        return Ok(Scan {
            diff: 0,
            lo: 0.0,
            hi: 0.0,
            sum: 0.0,
        });
    };
    let c = sign * x0 + 0.0;
    let k0 = desc_key(c);
    let level = simd::level();
    let piece = |xs: &[f64], zs: Option<&mut [f64]>| -> Piece {
        // compiled for the SIMD level (the same bits: min, max, OR and AND do not depend on the
        // order, and each of the four sums adds its values in the same order)
        simd::dispatch(
            level,
            #[inline(always)]
            || match zs {
                Some(zs) => scan_piece::<STATS, true>(xs, zs, sign, c, k0),
                None => scan_piece::<STATS, false>(xs, &mut [], sign, c, k0),
            },
        )
    };
    let (fin, diff, lo, hi, sum) = pieces(par, x, zx, piece, join)?.unwrap_or((true, 0, c, c, 0.0));
    if fin {
        Ok(Scan { diff, lo, hi, sum })
    } else {
        Err(Error::param(func, "x", "is not finite"))
    }
}

/// The [`scan`] of one piece `xs` (writing `σ x + 0` to `zs` if `WRITE`): lanes of 8, whose
/// sums are the four accumulators `k mod 4` of the module docs, added in the same order.
#[inline(always)]
fn scan_piece<const STATS: bool, const WRITE: bool>(
    xs: &[f64],
    zs: &mut [f64],
    sign: f64,
    c: f64,
    k0: u64,
) -> Piece {
    const L: usize = 8;
    let (mut fin, mut d) = ([true; L], [0u64; L]);
    let (mut lo, mut hi, mut acc) = ([c; L], [c; L], [0.0; 4]);
    let mut one = |l: usize, v: f64| {
        let s = sign * v + 0.0;
        fin[l] &= v.is_finite();
        d[l] |= desc_key(s) ^ k0;
        if STATS {
            // (finite s: `<` and `>` are `min` and `max`; a NaN fails the lane anyway)
            lo[l] = if s < lo[l] { s } else { lo[l] };
            hi[l] = if s > hi[l] { s } else { hi[l] };
        }
        s
    };
    let full = xs.len() / L * L;
    let (head, tail) = xs.split_at(full);
    if WRITE {
        for (xc, zc) in head.chunks_exact(L).zip(zs.chunks_exact_mut(L)) {
            for l in 0..L {
                let s = one(l, xc[l]);
                if STATS {
                    acc[l & 3] += s - c;
                }
                zc[l] = s;
            }
        }
    } else {
        for xc in head.chunks_exact(L) {
            for l in 0..L {
                let s = one(l, xc[l]);
                if STATS {
                    acc[l & 3] += s - c;
                }
            }
        }
    }
    for (k, &v) in (full..).zip(tail) {
        let s = one(0, v);
        if STATS {
            acc[k & 3] += s - c;
        }
        if WRITE {
            zs[k] = s;
        }
    }
    let (lo, hi) = (
        lo.iter().fold(c, |a, &b| if b < a { b } else { a }),
        hi.iter().fold(c, |a, &b| if b > a { b } else { a }),
    );
    (
        fin.iter().all(|&f| f),
        d.iter().fold(0, |a, b| a | b),
        lo,
        hi,
        (acc[0] + acc[1]) + (acc[2] + acc[3]),
    )
}

/// Whether the l2 lanes of `spec` are tried here (ranks and sorts; not top-k, not KL).
pub(crate) fn tried(spec: &Spec) -> bool {
    spec.reg == Reg::L2 && matches!(spec.op, Op::Rank | Op::Sort)
}

/// `Σ (σ x_i + 0) s − c s` over the fixed pieces (`c = σ x_0 + 0`, `s` the lane's `2^-k`).
fn scaled_sum(par: Par, x: &[f64], sign: f64, s: f64) -> Result<f64> {
    let cs = (sign * x[0] + 0.0) * s;
    let piece = |xs: &[f64], _: Option<&mut [f64]>| {
        let mut acc = [0.0; 4];
        for (k, &v) in xs.iter().enumerate() {
            acc[k & 3] += (sign * v + 0.0) * s - cs;
        }
        (acc[0] + acc[1]) + (acc[2] + acc[3])
    };
    Ok(pieces(par, x, None, piece, |a, b| a + b)?.unwrap_or(0.0))
}

/// `min(Σ (z s − m)₊, Σ (m − z s)₊)` over the fixed pieces (`z = σ x + 0`).
fn spread(par: Par, x: &[f64], sign: f64, s: f64, m: f64) -> Result<f64> {
    let piece = |xs: &[f64], _: Option<&mut [f64]>| {
        let (mut p, mut q) = ([0.0; 4], [0.0; 4]);
        for (k, &v) in xs.iter().enumerate() {
            let d = (sign * v + 0.0) * s - m;
            p[k & 3] += d.max(0.0);
            q[k & 3] += (-d).max(0.0);
        }
        ((p[0] + p[1]) + (p[2] + p[3]), (q[0] + q[1]) + (q[2] + q[3]))
    };
    let (p, q) = pieces(par, x, None, piece, |a, b| (a.0 + b.0, a.1 + b.1))?.unwrap_or((0.0, 0.0));
    Ok(p.min(q))
}

/// `f(offset, piece)` over pieces of `v`: on `par`'s threads for a lane of at least
/// [`PAR_SORT_MIN`] values, else once over the whole of it.
pub(crate) fn each_piece<T: Send>(
    par: Par,
    v: &mut [T],
    f: impl Fn(usize, &mut [T]) + Send + Sync,
) -> Result<()> {
    match par {
        Par::Rayon(t) if t >= 2 && v.len() >= PAR_SORT_MIN => par.install(|| {
            v.par_chunks_mut(MAP_PIECE)
                .enumerate()
                .for_each(|(k, c)| f(k * MAP_PIECE, c))
        }),
        _ => {
            f(0, v);
            Ok(())
        }
    }
}

/// `out_j = f(j, σ x_j + 0)` over `out`, in pieces on `par`'s threads for a long lane.
fn write(
    par: Par,
    x: &[f64],
    sign: f64,
    out: &mut [f64],
    f: impl Fn(usize, f64) -> f64 + Send + Sync,
) -> Result<()> {
    each_piece(par, out, |at, o| {
        for (k, (o, &v)) in o.iter_mut().zip(&x[at..]).enumerate() {
            *o = f(at + k, sign * v + 0.0);
        }
    })
}

/// The lane as one block, if the test of the module docs says it is (an l2 rank or sort, `sc`
/// from [`scan`] with statistics): writes `out` (and `start`, if given) and returns `true`; else
/// writes nothing and returns `false`.
pub(crate) fn try_one(
    spec: &Spec,
    x: &[f64],
    out: &mut [f64],
    start: Option<&mut [bool]>,
    sc: &Scan,
    par: Par,
) -> Result<bool> {
    let (n, sign, e) = (x.len(), spec.sign(), spec.strength);
    if n < 2 || !tried(spec) {
        return Ok(false);
    }
    let nf = n as f64;
    if spec.op == Op::Rank && diff_over(sc.hi, sc.lo, e) > nf * 0.5 * (1.0 - 2f64.powi(-48)) {
        return Ok(false);
    }
    // z̄ s = c s + Σ (z s − c s)/n, with the lane's 2^-k (1 unless values near the float limit)
    let (s, inv_s) = scale_of(sc.hi, sc.lo, n);
    let c = sign * x[0] + 0.0;
    let sum = if s == 1.0 {
        sc.sum
    } else {
        scaled_sum(par, x, sign, s)?
    };
    let mean = c * s + sum / nf;
    let inv_e = 1.0 / e;
    let over_e = move |d: f64| if inv_e.is_finite() { d * inv_e } else { d / e };
    let mean_w = (nf + 1.0) * 0.5;
    if spec.op == Op::Rank {
        write(par, x, sign, out, |_, z| {
            over_e(z * s - mean) * inv_s + mean_w
        })?;
    } else {
        let d = spread(par, x, sign, s, mean)?;
        // 2 ε D ≥ (n − 1)², D = d 2^k (an overflow to inf is a true "larger")
        let need = (nf - 1.0) * (nf - 1.0);
        // (d is not NaN: finite x)
        if 2.0 * e * d * inv_s * (1.0 - (nf + 16.0) * 2f64.powi(-51)) < need {
            return Ok(false);
        }
        let mean_z = mean * inv_s;
        write(par, x, sign, out, |i, _| {
            sign * (over_e(spec.w(n, i) - mean_w) + mean_z) + 0.0
        })?;
    }
    if let Some(start) = start {
        start.fill(false);
        start[0] = true;
    }
    Ok(true)
}
