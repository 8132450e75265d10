//! The pullback of a short l2 rank (or top-k) lane of several blocks: the arithmetic of
//! `grad.rs`'s `rank_l2_blocks` (the same bits) without its branch per block, whose lengths are
//! random.
//!
//! A singleton block `{i}` gives `x̄_{perm i} = σ k/ε` with `k = ḡ − (0 + ḡ)` (its mean as `sum`
//! takes it), a function of `ḡ_{perm i}` alone, and adds `k · 0 = ±0` to the strength cotangent,
//! which leaves it as it is (the sum starts at `+0`, so it is never `−0`) when `ḡ` is finite. So:
//!
//! 1. every position gets the singleton's value, in lane order (vectorised, no permutation);
//! 2. the starts and ends of the blocks of two or more positions are listed (compactions, no
//!    branch);
//! 3. each listed block is done as in `grad.rs` (its values overwrite step 1's), its terms added
//!    in position order.
//!
//! A non-finite cotangent goes to `grad.rs` as a whole (its NaNs are kept as they come).

use super::{grow, Work, PAR_SORT_MIN};
use crate::error::Result;
use crate::relax::sort::grad::rank_l2_block;
use crate::simd;

/// Scratch of the pullback: the listed block starts and ends, and one block's cotangents.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    lo: Vec<u32>,
    db: Vec<f64>,
}

/// Whether a lane of `n` values goes through [`rank_l2`] (see `row.rs`'s `takes`).
pub(crate) fn takes(n: usize) -> bool {
    n < PAR_SORT_MIN && !old()
}

#[cfg(test)]
fn old() -> bool {
    crate::relax::sort::grad::OLD_VJP.with(std::cell::Cell::get)
}

#[cfg(not(test))]
fn old() -> bool {
    false
}

/// The l2 rank pullback of a lane of several blocks (`perm`, `zx` the lane-order `σ x`, `start`):
/// writes `gx` and returns `Σ k_i (z_i s/2 − z_B s/2)` as `grad.rs`'s `rank_l2_blocks` does, bit
/// for bit; `None` if `g` is not finite (then `gx` may be partly written: the caller's general
/// pullback writes all of it).
pub(crate) fn rank_l2(
    func: &'static str,
    (perm, zx, start): (&[u32], &[f64], &[bool]),
    g: &[f64],
    gx: &mut [f64],
    (sign, e, half): (f64, f64, f64),
    w: &mut Work,
) -> Result<Option<f64>> {
    let n = perm.len();
    let sc = &mut w.vjp;
    grow(func, &mut sc.lo, 2 * n)?;
    grow(func, &mut sc.db, n)?;
    Ok(simd::dispatch(
        simd::level(),
        #[inline(always)]
        || {
            // 1: every position as a singleton (and whether every ḡ is finite)
            if !singletons(g, gx, sign) {
                return None;
            }
            // 2: the starts and ends of blocks of two or more (a start followed by a non-start;
            // a non-start followed by a start or the end)
            let (los, his) = sc.lo[..2 * n].split_at_mut(n);
            let (mut c, mut h) = (0, 0);
            for (i, w) in start.windows(2).enumerate() {
                los[c] = i as u32;
                c += usize::from(w[0] & !w[1]);
                his[h] = i as u32 + 1;
                h += usize::from(!w[0] & w[1]);
            }
            if n >= 2 && !start[n - 1] {
                his[h] = n as u32;
            }
            // 3: those blocks
            let mut de = 0.0;
            let lane = (perm, zx);
            let c3 = (sign, e, half);
            for (&lo, &hi) in los[..c].iter().zip(&his[..c]) {
                let (lo, hi) = (lo as usize, hi as usize);
                match hi - lo {
                    2 => short::<2>(lo, lane, g, gx, c3, &mut de),
                    3 => short::<3>(lo, lane, g, gx, c3, &mut de),
                    _ => rank_l2_block(lo..hi, lane, g, gx, &mut sc.db, c3, &mut de),
                }
            }
            Some(de)
        },
    ))
}

/// `rank_l2_block` of the `L` positions from `lo` (`L` < 4: the sum is `((0 + d_0) + d_1) + …`,
/// as `sum` takes it), unrolled.
#[inline(always)]
fn short<const L: usize>(
    lo: usize,
    (perm, zx): (&[u32], &[f64]),
    g: &[f64],
    gx: &mut [f64],
    (sign, e, half): (f64, f64, f64),
    de: &mut f64,
) {
    let ps: [usize; L] = std::array::from_fn(|k| perm[lo + k] as usize);
    let d: [f64; L] = std::array::from_fn(|k| g[ps[k]]);
    let m = d.iter().fold(0.0, |a, b| a + b) / L as f64;
    let h0 = zx[ps[0]] * half;
    for k in 0..L {
        let kk = d[k] - m;
        gx[ps[k]] = sign * kk / e;
        *de += kk * (zx[ps[k]] * half - h0);
    }
}

/// Step 1 of [`rank_l2`]: every position as a singleton, `σ (ḡ − (0 + ḡ))/ε`, and whether every
/// `ḡ` is finite (else what is written is of no use). For a finite `ḡ`, `ḡ − (0 + ḡ)` is `±0`
/// (`−0` for `ḡ = −0`), and `±0/ε` is the same zero for any `ε > 0`: no division. For a
/// non-finite one it is NaN, which the OR of the magnitudes' bits catches (lanes of 8, no early
/// exit: vectorises).
#[inline(always)]
fn singletons(g: &[f64], gx: &mut [f64], sign: f64) -> bool {
    const MAG: u64 = !(1 << 63);
    let mut any = [0u64; 8];
    let full = g.len() / 8 * 8;
    let ((gh, gr), (oh, or)) = (g.split_at(full), gx.split_at_mut(full));
    for (q, o) in gh.chunks_exact(8).zip(oh.chunks_exact_mut(8)) {
        for l in 0..8 {
            let k = q[l] - (0.0 + q[l]);
            any[l] |= k.to_bits() & MAG;
            o[l] = sign * k;
        }
    }
    let mut rest = 0;
    for (&gi, o) in gr.iter().zip(or) {
        let k = gi - (0.0 + gi);
        rest |= k.to_bits() & MAG;
        *o = sign * k;
    }
    any.iter().fold(rest, |a, b| a | b) == 0
}
