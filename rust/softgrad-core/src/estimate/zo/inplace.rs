//! In-place perturbations for MeZO (S. Malladi et al., "Fine-tuning language models with just
//! forward passes", NeurIPS 2023): `x ← x + c z(seed)` with `z` regenerated from the seed in fixed
//! pieces, never stored, and the exact undoing of a sequence of such steps.
//!
//! **Rounding.** A step adds `c z_i` rounded to a multiple of `x_i`'s ulp ([`apply`]): the sum is
//! then exact while it stays in `x_i`'s binade or goes below, and rounded (to nearest) only where it
//! enters a coarser binade. (Plain `round(x_i + c z_i)` differs from it only at ties and by less
//! than an ulp of `x_i` where the sum leaves the binade, but its ties merge neighbouring values: in
//! `f64`, where `c z_i` has few bits below `x_i`'s ulp, they are frequent.) Adding the negated
//! steps back does not return the original bits in general, so [`restore`] *solves* for the
//! original value instead.
//!
//! **Recorded steps are single steps from the original.** Under a [`Record`], the value after the
//! steps `c_1, …, c_k` is `S_C(x⁰_i)` with `C = c_1 + … + c_k` (one step of the total from the
//! original `x⁰_i`, not a chain): a recorded pass first recovers `x⁰_i` from the current value and
//! the bit, then steps it by the new total. `S_d(x) = round_tz(x + snap(d, ulp(x)))`, rounded to
//! nearest with **ties toward zero** (ties occur only where the sum enters a coarser binade).
//! `spsa_inplace`'s `+eps`, `-2 eps` make `x⁰ + eps z`, then `x⁰ − eps z` (each within half an
//! ulp of `x⁰ ± eps z` rounded to `x⁰`'s grid), then `x⁰`.
//!
//! **Why one bit suffices** (for `|x⁰_i| > |d| + 4 ulp`, `d = C z_i`; `x > 0` below, `S` is odd).
//! Write `B` for a binade `[P/2, P)` with ulp `q`, `D_B = snap(d, q)` (within `q/2` of `d`), and
//! `s(x) = x + D_B` for `x ∈ B`: the sum before rounding.
//! 1. `s` is non-decreasing in `x`: inside `B` it rises by `q` per float; from the top of `B`
//!    (`P − q`) to the bottom of the next binade (`P`, ulp `2q`) it rises by
//!    `q + D_{B'} − D_B ∈ {0, q, 2q}` (`D_{B'}` and `D_B` are within `q` of each other and
//!    multiples of `q`). Rounding is monotone, so `S` is, and the preimages of any `y` are a run of
//!    consecutive floats. `s` repeats a value only at such a boundary, between `P − q` and `P`
//!    (never twice in a row: a binade holds more than one float).
//! 2. A sum that stays in `x`'s binade or goes below is exact (a multiple of `q` is a float
//!    there). `|d| < |x|` keeps `|x + D_B| < 2P`: at most one binade up, onto the grid `2q`,
//!    where `s` is either on the grid or a tie; ties toward zero make that rounding `⌊s / 2q⌋ 2q`.
//! 3. So a run of preimages of `y` holds at most two floats. Inside one binade, `y` is reached from
//!    `{y}` (exact) or from `{y, y + q}` (floored): at most two sums, one float each. A run that
//!    spans a boundary holds `P − q` and `P` (consecutive); `P` is not rounded (`y = s(P)`), so
//!    `s(P − q) ≤ y` and, as it floors to `y`, `s(P − q) = y`; then `s(P − 2q) = y − q` floors to
//!    `y − 2q` and `s(P + 2q) > y`: the run is `{P − q, P}`. (Ties to even instead would make a
//!    grid point with an even last bit the image of `{y − q, y, y + q}`: three, which no bit names.)
//! 4. [`apply`] keeps one bit per coordinate: whether `x⁰_i` is the outer (farther from zero) of
//!    a run of two, so `−x` with `−z` keeps the same bits as `x` with `z`. [`restore`] finds the run:
//!    `c₀ = round(y − d)` is within `2.5 q` of any preimage (`|D_B − d| ≤ q/2`, rounding `≤ q`,
//!    `c₀`'s own rounding `≤ q` on a grid no finer than `q` there, which `|x| > |d| + 4 ulp`
//!    ensures), so the run lies within 3 floats of `c₀`: the seven candidates `c₀ ± 0..3` are
//!    replayed, and one bit names the original. The original comes back bit for bit.
//!
//! **The small region.** Where `|x⁰_i|` is below about `|d|` the sum may cross several binades or
//! zero, and many floats end together: no method without a copy can tell them apart (`[−|d|, |d|]`
//! holds far more floats than `[d/2, 3d/2]`). There [`undo_one`] replays nothing: where
//! `c = y ⊖ d`, the difference computed in the data's own type (`d` rounded to it first), lies in
//! a binade below `|d|`'s (`|c| < 2^⌊log₂|d|⌋`), the answer is `0` if the step of `0` is `y`
//! (exact zeros are common), else `c`. Every path (the scalar rule, the branch-free solve, the
//! `f32` and Rademacher lanes, `f32` and `f64`, both distributions) computes this same value, so
//! the bits still do not depend on the level or the thread count.
//! - *It leaves the covered region alone.* For `|x⁰| > |d| + 4 ulp` (ulp of `x⁰`'s binade, `q`),
//!   `|c − x⁰| ≤ 3q` (`|y − (x⁰ + d)| ≤ q/2 + q` as above, `d`'s rounding `≤ q/2` as `|d| < |x⁰|`,
//!   `c`'s own `≤ q`), so `|c| > |d| + q`: never small, and the bits there are the exact ones above.
//! - *It stays within `3 ulp(d)` of the original* (`ulp(d)`: the data type's spacing at `|d|`):
//!   `|c − x⁰| ≤ q_x/2 + q_y/2 + ulp(d)/2 + ulp(c)/2` (the snap, `y`'s rounding, `d`'s, `c`'s) with
//!   `q_x ≤ ulp(d)` (`|x⁰|` within that of `|c| < 2^⌊log₂|d|⌋`), `q_y ≤ 2 ulp(d)` (`|y| < 4 ·
//!   2^⌊log₂|d|⌋`) and `ulp(c) ≤ ulp(d)/2`: at most `2.25 ulp(d)`; where `0` is returned, `x⁰`
//!   and `0` step to the same `y`, so `|x⁰| ≤ q_y + q_x/2 + ulp(d)/2 ≤ 3 ulp(d)`.
//! - The rule used to replay seven candidates (`0` if it was a preimage, else `c₀ =
//!   round(y − d)` if it was one, else the inner one of the run seen): values between `|d|/2` and
//!   `|d|` came back exact more often, at the price of the solve for about 4 % of a layer's
//!   weights in every pass. `tests_small.rs` checks the rule, the bound and the paths value by
//!   value.
//!
//! Each pass runs to the end once started (no interrupt check between pieces), so a caller that
//! records the steps applied always knows the state of `x`.

use rayon::prelude::*;

use crate::error::Result;
use crate::par::{with_piece_scratch, Par, PAR_MIN_ELEMS, REDUCE_PIECE};
use crate::real::Real;
use crate::rng::Stream;
use crate::simd::{self, Level};

mod bits32;
mod fast;
mod float;
mod gauss;
mod gauss_rec;
mod lanes;
mod rad32;
mod solve;

pub use float::Float;
use float::{c0_native, small};

/// Elements per parallel task of a pass (a multiple of the generator's blocks).
pub const PIECE: usize = 1 << 16;

/// The distribution of `z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dist {
    /// `±1` (SPSA).
    Rademacher,
    /// Standard normal (MeZO).
    Gaussian,
}

/// `z_i` for `i` in `start..start + out.len()`, stream `(seed, 0)`.
#[inline]
pub fn fill_z(seed: u64, dist: Dist, start: usize, out: &mut [f64]) {
    fill_z_at(simd::level(), seed, dist, start, out)
}

/// [`fill_z`] compiled for `level` (the same values at every level).
fn fill_z_at(level: Level, seed: u64, dist: Dist, start: usize, out: &mut [f64]) {
    let s = Stream::new(seed, 0);
    match dist {
        Dist::Rademacher => s.fill_rademacher_at(level, start as u64, out),
        Dist::Gaussian => s.fill_normal_at(level, start as u64, out),
    }
}

/// `d` rounded to a multiple of the quantum `q` (ties to even; `inv` from [`Float::inv_quantum`])
/// unless it has no bits below it: then the sum with a float of quantum `q` is exact wherever it
/// stays in that binade or goes below, and ties cannot merge neighbours. Branch-free.
#[inline(always)]
pub(crate) fn snap(d: f64, q: f64, inv: (f64, f64)) -> f64 {
    // 2^52: adding and subtracting it rounds a float in [0, 2^52) to an integer, ties to even.
    // (`round_ties_even` is a libm call without SSE4.1: the shifter keeps the loop vectorized.)
    const SHIFTER: f64 = 4_503_599_627_370_496.0;
    let t = (d.abs() * inv.0) * inv.1; // |d| / q, exactly as the division would round
    let r = ((t + SHIFTER) - SHIFTER).copysign(d) * q;
    if t >= SHIFTER {
        d
    } else {
        r
    }
}

/// One step: `x + d` with `d` snapped to `x`'s quantum ([`snap`]), rounded to `T`.
#[inline(always)]
pub(crate) fn step<T: Float>(x: T, d: f64) -> T {
    T::from_f64(x.to_f64() + snap(d, x.quantum(), x.inv_quantum()))
}

/// One recorded step: `x + d` with `d` snapped to `x`'s quantum, rounded to `T` to nearest with
/// ties toward zero (where the sum enters a coarser binade: elsewhere it is exact), so that no
/// value is the image of more than two floats (module documentation).
#[inline(always)]
pub fn step_r<T: Float>(x: T, d: f64) -> T {
    x.add_tz(snap(d, x.quantum(), x.inv_quantum()))
}

/// Bytes of side bits for `n` elements.
pub fn bits_len(n: usize) -> usize {
    n.div_ceil(8)
}

/// Runs `f(start, piece, its bits)` over the fixed [`PIECE`]-long pieces of `x` (and the matching
/// bytes of `bits`, or empty slices without), in parallel with `par`, with no interrupt check: a
/// pass always completes.
fn passes<T: Real>(
    x: &mut [T],
    bits: Option<&mut [u8]>,
    par: Par,
    f: impl Fn(usize, &mut [T], &mut [u8]) + Send + Sync,
) -> Result<()> {
    const B: usize = REDUCE_PIECE / 8;
    let run = |k: usize, piece: &mut [T], bits: &mut [u8]| {
        // Sub-pieces of REDUCE_PIECE for the thread's z buffer.
        for (s, sub) in piece.chunks_mut(REDUCE_PIECE).enumerate() {
            let b = if bits.is_empty() {
                &mut [][..]
            } else {
                let lo = s * B;
                let hi = (lo + B).min(bits.len());
                &mut bits[lo..hi]
            };
            f(k * PIECE + s * REDUCE_PIECE, sub, b);
        }
    };
    let parallel = matches!(par, Par::Rayon(_)) && x.len() >= PAR_MIN_ELEMS;
    match bits {
        None if parallel => par.install(|| {
            x.par_chunks_mut(PIECE)
                .enumerate()
                .for_each(|(k, p)| run(k, p, &mut []))
        }),
        None => {
            x.chunks_mut(PIECE)
                .enumerate()
                .for_each(|(k, p)| run(k, p, &mut []));
            Ok(())
        }
        Some(b) => {
            let b = &mut b[..bits_len(x.len())];
            if parallel {
                par.install(|| {
                    x.par_chunks_mut(PIECE)
                        .zip(b.par_chunks_mut(PIECE / 8))
                        .enumerate()
                        .for_each(|(k, (p, bb))| run(k, p, bb))
                })
            } else {
                x.chunks_mut(PIECE)
                    .zip(b.chunks_mut(PIECE / 8))
                    .enumerate()
                    .for_each(|(k, (p, bb))| run(k, p, bb));
                Ok(())
            }
        }
    }
}

fn check_bits(func: &'static str, n: usize, len: usize) -> Result<()> {
    if len < bits_len(n) {
        return Err(crate::Error::Shape {
            func,
            name: "bits",
            got: len,
            expected: bits_len(n),
        });
    }
    Ok(())
}

/// Where [`apply`] records the bit its step loses: the bitmap (at least [`bits_len`] bytes) and
/// the steps already applied since `x` was last clean (their coefficients, in order: the current
/// value is one recorded step of their total from the original).
#[derive(Debug)]
pub struct Record<'a> {
    /// Bit `i` of byte `i / 8`, least significant first.
    pub bits: &'a mut [u8],
    /// Coefficients of the steps applied before this one.
    pub prior: &'a [f64],
}

/// At most this many steps can be recorded and undone.
pub const MAX_STEPS: usize = 8;

/// `x_i ← x_i + coeff · z_i` for every `i` (MeZO's perturbation and update step): the increment
/// rounded to a multiple of `x_i`'s ulp (ties to even) and added, so the sum is exact unless it
/// enters a coarser binade (then rounded to nearest). Where the sum stays in `x_i`'s binade this is
/// `round(x_i + coeff · z_i)` (ties apart); elsewhere it is within an ulp of `x_i` of it.
///
/// With a [`Record`], the step is a *recorded* one (module documentation): the original `x⁰_i`
/// is recovered from the current value (one recorded step of the total of `prior` from it, and
/// its bit), and `x_i` becomes the one step [`step_r`] of the total of `prior` and `coeff` from
/// `x⁰_i` (ties toward zero). Where that step ends another float (a neighbour of `x⁰_i`) at the
/// same value, bit `i` is set to whether `x⁰_i` is the outer one of the two (farther from zero, so
/// that `−x` with `−z` keeps the same bits as `x` with `z`), for [`restore`]; elsewhere it may be
/// cleared or left as it is (no restore reads it there).
pub fn apply<T: Float>(
    x: &mut [T],
    seed: u64,
    dist: Dist,
    coeff: f64,
    record: Option<Record<'_>>,
    par: Par,
) -> Result<()> {
    apply_at(simd::level(), x, seed, dist, coeff, record, par)
}

/// [`apply`] with its vector loops compiled for `level` (the same bits at every level).
pub(crate) fn apply_at<T: Float>(
    level: Level,
    x: &mut [T],
    seed: u64,
    dist: Dist,
    coeff: f64,
    record: Option<Record<'_>>,
    par: Par,
) -> Result<()> {
    let Some(Record { bits, prior }) = record else {
        let lanes = match dist {
            Dist::Rademacher => bits32::Shift::new(coeff),
            Dist::Gaussian => None,
        };
        if let (Dist::Gaussian, Some(_)) = (dist, T::as_f32s(&mut [])) {
            let stream = Stream::new(seed, 0);
            return passes(x, None, par, |start, xs, _| {
                if let Some(xs) = T::as_f32s(xs) {
                    gauss::plain(level, &stream, start as u64, xs, coeff)
                }
            });
        }
        if let (Some(shift), Some(_)) = (lanes, T::as_f32s(&mut [])) {
            let stream = Stream::new(seed, 0);
            return passes(x, None, par, |start, xs, _| {
                if let Some(xs) = T::as_f32s(xs) {
                    shift.group(level, &stream, start as u64, xs, coeff)
                }
            });
        }
        return passes(x, None, par, |start, xs, _| {
            with_piece_scratch(xs.len(), |z| {
                // The piece's lines are fetched while z is generated (compute only), not stalled
                // on after (gaussian: 2.65 -> 2.1 ns/element of CPU at AVX-512, 3.8 -> 3.1 AVX2).
                #[cfg(target_arch = "x86_64")]
                for line in xs.chunks(64 / std::mem::size_of::<T>()) {
                    use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
                    // SAFETY: a prefetch of an address inside the piece.
                    unsafe { _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast()) };
                }
                fill_z_at(level, seed, dist, start, z);
                match T::as_f32s(xs) {
                    Some(xs) => bits32::gauss_group(level, xs, z, coeff),
                    None => fast::apply_plain(level, xs, z, coeff),
                }
            })
        });
    };
    check_steps(prior.len() + 1)?;
    check_bits("spsa_inplace", x.len(), bits.len())?;
    // The current value is one step of the prior total from the original (none: it is the
    // original); the new value is one step of the new total from it.
    let before = (!prior.is_empty()).then(|| total(prior));
    let after = total(prior) + coeff;
    if let (Dist::Gaussian, Some(_)) = (dist, T::as_f32s(&mut [])) {
        let (stream, pass) = (
            Stream::new(seed, 0),
            gauss_rec::Pass::Step { before, after },
        );
        return passes(x, Some(bits), par, |start, xs, bs| {
            if let Some(v) = T::as_f32s(xs) {
                gauss_rec::pass(level, &stream, start as u64, v, pass, bs)
            }
        });
    }
    let rad = (dist == Dist::Rademacher)
        .then(|| rad32::Pass::apply(before, after))
        .flatten();
    let stream = Stream::new(seed, 0);
    passes(x, Some(bits), par, |start, xs, bs| {
        if let (Some(r), Some(v)) = (&rad, T::as_f32s(xs)) {
            if r.group(level, &stream, start as u64, v, bs) {
                return;
            }
        }
        with_piece_scratch(xs.len(), |z| {
            fill_z_at(level, seed, dist, start, z);
            let mut flags = [1u8; REDUCE_PIECE];
            let slow = &mut flags[..xs.len()];
            match T::as_f32s(xs) {
                Some(v) => lanes::apply_recorded(level, v, z, before, after, bs, slow),
                None => fast::apply_recorded(level, xs, z, before, after, slow),
            }
            solve::apply(level, xs, z, before, after, bs, slow);
        })
    })
}

fn check_steps(k: usize) -> Result<()> {
    if k > MAX_STEPS {
        return Err(crate::Error::param(
            "spsa_inplace",
            "state",
            format!("records {k} steps, at most {MAX_STEPS} can be undone"),
        ));
    }
    Ok(())
}

/// `Σ d`, left to right from `-0.0` (the one sum both the solve and its vector twin use).
#[inline(always)]
fn total(d: &[f64]) -> f64 {
    let mut t = -0.0;
    for &v in d {
        t += v;
    }
    t
}

/// The candidates of [`undo_one`]: `c₀` and the floats up to 3 either side.
pub const REACH: usize = 3;

/// The value `x⁰` whose recorded step `d` ([`step_r`]) is `y`, as [`restore`] finds it.
///
/// **The small region** (module documentation): where `c = y − d`, computed in `T` (`d`
/// rounded to `T`, then the difference rounded to `T`), lies in a binade below `|d|`'s (`|c| < 2^⌊log₂|d|⌋`), the answer is `0` if
/// the step of `0` is `y` (exact zeros are common), else `c`, with no replay.
///
/// Elsewhere, candidates: `c₀ = round(y − d)` and the [`REACH`] floats either side of it, each
/// replayed. One that maps is the answer; two (a run, consecutive) are told apart by `bit`
/// (whether the original was the outer one, farther from zero, recorded by [`apply`]); without a
/// bit, or with more than two, `0` if it maps, else `c₀` if it maps, else the inner one of the run
/// seen; none maps (not an image of `step_r`): `c₀`.
#[inline]
pub fn undo_one<T: Float>(y: T, d: f64, bit: Option<bool>) -> T {
    let c = c0_native(y, d);
    if small(c, d) {
        let zero = T::from_f64(0.0);
        return if step_r(zero, d) == y { zero } else { c };
    }
    let c0 = T::from_f64(y.to_f64() - d);
    let maps = |r: T| step_r(r, d) == y;
    let mut cand = [c0; 2 * REACH + 1];
    for k in 0..REACH {
        cand[REACH - 1 - k] = cand[REACH - k].down();
        cand[REACH + 1 + k] = cand[REACH + k].up();
    }
    let mut hits = cand.iter().copied().filter(|&r| maps(r));
    let Some(lo) = hits.next() else {
        return c0;
    };
    let (hi, count) = hits.fold((lo, 1), |(_, n), r| (r, n + 1));
    if count == 1 {
        return lo;
    }
    let (inner, outer) = if y.to_f64() < 0.0 { (hi, lo) } else { (lo, hi) };
    match bit {
        Some(b) if count == 2 => {
            if b {
                outer
            } else {
                inner
            }
        }
        _ if maps(T::from_f64(0.0)) => T::from_f64(0.0),
        _ if maps(c0) => c0,
        _ => inner,
    }
}

/// Undoes the steps `coeffs` (applied to `x` in this order by [`apply`] with this seed and
/// distribution, with a [`Record`] into `bits` if given: then the current value is one recorded
/// step of their total from the original): every coordinate with `|x⁰_i| > |C z_i| + 4 ulp` (`C`
/// the total) gets its original bits back (see the module documentation).
pub fn restore<T: Float>(
    x: &mut [T],
    seed: u64,
    dist: Dist,
    coeffs: &[f64],
    bits: Option<&mut [u8]>,
    par: Par,
) -> Result<()> {
    restore_at(simd::level(), x, seed, dist, coeffs, bits, par)
}

/// [`restore`] with its vector loops compiled for `level` (the same bits at every level).
pub(crate) fn restore_at<T: Float>(
    level: Level,
    x: &mut [T],
    seed: u64,
    dist: Dist,
    coeffs: &[f64],
    bits: Option<&mut [u8]>,
    par: Par,
) -> Result<()> {
    check_steps(coeffs.len())?;
    if let Some(b) = &bits {
        check_bits("spsa_inplace", x.len(), b.len())?;
    }
    if coeffs.is_empty() {
        return Ok(());
    }
    let d = total(coeffs);
    if let (Dist::Gaussian, Some(_)) = (dist, T::as_f32s(&mut [])) {
        let (stream, has_bit) = (Stream::new(seed, 0), bits.is_some());
        let pass = gauss_rec::Pass::Undo { d, has_bit };
        return passes(x, bits, par, |start, xs, bs| {
            if let Some(v) = T::as_f32s(xs) {
                gauss_rec::pass(level, &stream, start as u64, v, pass, bs)
            }
        });
    }
    let rad = (dist == Dist::Rademacher)
        .then(|| rad32::Pass::restore(d, bits.is_some()))
        .flatten();
    let stream = Stream::new(seed, 0);
    passes(x, bits, par, |start, xs, bs| {
        if let (Some(r), Some(v)) = (&rad, T::as_f32s(xs)) {
            if r.group(level, &stream, start as u64, v, bs) {
                return;
            }
        }
        with_piece_scratch(xs.len(), |z| {
            fill_z_at(level, seed, dist, start, z);
            let mut flags = [1u8; REDUCE_PIECE];
            let slow = &mut flags[..xs.len()];
            match T::as_f32s(xs) {
                Some(v) => lanes::restore(level, v, z, d, bs, slow),
                None => fast::restore(level, xs, z, d, slow),
            }
            solve::restore(level, xs, z, d, bs, slow);
        })
    })
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_exact;
#[cfg(test)]
mod tests_small;
