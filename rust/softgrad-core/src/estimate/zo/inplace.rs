//! In-place perturbations for MeZO (S. Malladi et al., "Fine-tuning language models with just
//! forward passes", NeurIPS 2023): `x ← x + c z(seed)` with `z` regenerated from the seed in fixed
//! pieces, never stored, and the exact undoing of a sequence of such steps.
//!
//! **Rounding.** A step adds `c z_i` rounded to a multiple of `x_i`'s ulp ([`apply`]): the sum is
//! then exact while it stays in `x_i`'s binade or goes below, and rounded (to nearest) only where it
//! enters a coarser binade. (Plain `round(x_i + c z_i)` differs from it only at ties and by less
//! than an ulp of `x_i` where the sum leaves the binade, but its ties merge neighbouring values: in
//! `f64`, where `c z_i` has few bits below `x_i`'s ulp, they are frequent.) Adding the negated steps back still does not return the original bits in general.
//! [`restore`] therefore does not add back: it *solves* for the original value. Given the current
//! value `y` and the steps `c_1, …, c_m` applied, it takes the candidate `r₀ = round(y − Σ c_k z_i)`
//! and the floats 1 and 2 ulp either side of it, and keeps those whose forward image (the steps
//! replayed) is `y`. Where the steps are one-to-one at `x_i`, the original is the only one: its
//! bits come back. Where a step enters a coarser binade (`|x_i ± c z_i|` crosses a power of two
//! upwards) the sum, a multiple of `x_i`'s ulp, is rounded to the coarser grid ties to even: a float
//! of that grid with an even last bit is the image of three floats (itself and the two ties), one
//! with an odd last bit of one. Where two floats end at `y` (a rounding tie elsewhere, for one),
//! [`apply`] keeps the one bit that tells them apart in a bitmap (`n / 8` bytes, [`Record`]). Three
//! (a crossing onto an even float: about half the crossings, at any `|x_i|`) cannot all be told
//! apart by one bit: it says whether the original was the outer one (farther from zero, so `−x`
//! fares as `x`), else `restore` returns the middle one, so the inner one comes back one ulp
//! farther from zero. More (a step across several binades:
//! `|x_i|` below about `|c z_i|`) cannot be told apart by any method without a copy (`[−|d|, |d|]`
//! holds far more floats than `[d/2, 3d/2]`), and `restore` returns one of them (`0` if it is one:
//! exact zeros are common, else `c₀` if it is one), within a few ulp of `|c z_i|`. So the original
//! comes back bit for bit where at most two floats end at `y`, and at the outer and middle of three.
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
mod solve;

pub use float::Float;

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

/// Whether the steps `d` from `r` stay in `r`'s binade, each value at least 8 ulp from its edges.
/// Then every step is an exact shift of `r` and of its neighbours (±2 ulp) by the same snapped
/// increment: the steps are one-to-one there and no neighbour ends where `r` does.
#[inline(always)]
fn interior_path<T: Float>(r: T, d: &[f64]) -> bool {
    let interior = |v: T| {
        let (a, m) = (v.to_f64().abs(), 8.0 * v.quantum());
        a - m > 0.0 && (((a - m).to_bits() ^ (a + m).to_bits()) >> 52) == 0
    };
    let mut v = r;
    if !interior(v) {
        return false;
    }
    for &dk in d {
        let w = step(v, dk);
        if ((w.to_f64().abs().to_bits() ^ v.to_f64().abs().to_bits()) >> 52) != 0 || !interior(w) {
            return false;
        }
        v = w;
    }
    true
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

/// Where [`apply`] records the bit its steps lose: the bitmap (at least [`bits_len`] bytes) and
/// the steps already applied since `x` was last clean (their coefficients, in order).
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
/// With a [`Record`], every coordinate where the steps so far (`prior` and this one) are
/// two-to-one at the original value `x⁰_i` — exactly one neighbour of `x⁰_i` ends at the same value,
/// through a change of binade or a rounding tie — gets bit `i` set to whether `x⁰_i` was the outer
/// of the two (farther from zero, so that `−x` with `−z` keeps the same bits as `x` with `z`): the
/// one bit the steps lost, for [`restore`]. Where both neighbours end there too (`x⁰_i` inside a
/// longer run, e.g. the middle of three at a tie onto an even float of a coarser binade), the bit
/// is cleared (not the outer one). (`x⁰_i` is recovered from the current value, `prior` and the
/// bit, as `restore` would.) Other bits are left as they are.
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
    let k = prior.len();
    passes(x, Some(bits), par, |start, xs, bs| {
        with_piece_scratch(xs.len(), |z| {
            fill_z_at(level, seed, dist, start, z);
            let mut flags = [1u8; REDUCE_PIECE];
            let slow = &mut flags[..xs.len()];
            fast::apply_recorded(level, xs, z, prior, coeff, slow);
            if solve::apply(level, xs, z, prior, coeff, bs, slow) {
                return;
            }
            let mut d = [0.0f64; MAX_STEPS];
            for (i, ((v, zi), _)) in xs
                .iter_mut()
                .zip(z.iter())
                .zip(slow.iter())
                .enumerate()
                .filter(|(_, (_, s))| **s != 0)
            {
                for (dk, c) in d.iter_mut().zip(prior.iter().chain([&coeff])) {
                    *dk = c * zi;
                }
                let (byte, bit) = (i / 8, i % 8);
                let y = step(*v, d[k]);
                let x0 = if k == 0 {
                    *v
                } else {
                    undo_one(*v, &d[..k], Some((bs[byte] >> bit) & 1 == 1))
                };
                if !interior_path(x0, &d[..=k]) {
                    let up = replay(x0.up(), &d[..=k], y);
                    let down = replay(x0.down(), &d[..=k], y);
                    // Inside a longer run too ("not the top"): `restore` reads it at runs of
                    // two and three only.
                    // In magnitude ("outer": the one farther from zero), so that `-x` with `-z`
                    // keeps the same bits as `x` with `z` (rounding to nearest-even is odd).
                    let outer = if y.to_f64() < 0.0 {
                        up && !down
                    } else {
                        down && !up
                    };
                    if up || down {
                        bs[byte] = (bs[byte] & !(1 << bit)) | (u8::from(outer) << bit);
                    }
                }
                *v = y;
            }
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

/// Replays the steps `d` on `r`: whether it ends at `y`.
#[inline(always)]
fn replay<T: Float>(r: T, d: &[f64], y: T) -> bool {
    d.iter().fold(r, |v, &dk| step(v, dk)) == y
}

/// The value whose image under the steps `d` (applied in order, as [`apply`] does) is `y`.
///
/// Candidates: `c₀ = round(y − Σ d)` and its neighbours (±1, ±2 ulp), each checked by replaying
/// the steps. If `c₀` maps to `y` along a path that stays in one binade, away from its edges, it is
/// the only preimage (each step is an exact shift there). Otherwise the candidates that map to `y`
/// are gathered: one is the answer; two are told apart by `bit` (whether the original was the
/// outer one, farther from zero, recorded by [`apply`]); a run of three around `c₀` with a bit
/// gives the outer one or else the middle one (the inner one is lost); more (information lost beyond a bit) give `0` if
/// it maps to `y` (exact zeros are common, tiny values rare), else `c₀` if it maps, else the lowest
/// that maps.
#[inline]
pub fn undo_one<T: Float>(y: T, d: &[f64], bit: Option<bool>) -> T {
    let c0 = T::from_f64(y.to_f64() - total(d));
    let maps = |r: T| replay(r, d, y);
    let c0_maps = maps(c0);
    if c0_maps && interior_path(c0, d) {
        return c0; // one binade all along, away from its edges: the steps are one-to-one here
    }
    let (u1, d1) = (c0.up(), c0.down());
    // The bit is in magnitude (whether the original was the outer one, farther from zero): as
    // "the upper one" in value, it is flipped below zero.
    let neg = y.to_f64() < 0.0;
    let bit_mag = bit;
    let bit = bit.map(|b| b != neg);
    // The preimages form a run of consecutive floats: [lo, hi] around c0 when c0 is one of them.
    let (pair, many) = if c0_maps {
        let (d2, u2) = (d1.down(), u1.up());
        match (maps(d1), maps(u1)) {
            (false, false) => return c0,
            (true, false) if !maps(d2) => ((d1, c0), false),
            (false, true) if !maps(u2) => ((c0, u1), false),
            // A run of three (a tie onto an even float of a coarser binade): the bit tells
            // whether the original was the top one, else the middle one is returned.
            (true, true) if bit.is_some() && !maps(d2) && !maps(u2) => {
                return three(bit_mag, neg, [d1, c0, u1])
            }
            (true, false) if bit.is_some() && !maps(d2.down()) => {
                return three(bit_mag, neg, [d2, d1, c0])
            }
            (false, true) if bit.is_some() && !maps(u2.up()) => {
                return three(bit_mag, neg, [c0, u1, u2])
            }
            _ => ((c0, c0), true),
        }
    } else {
        let mut found = [c0; 5];
        let mut k = 0;
        for r in [d1.down(), d1, u1, u1.up()] {
            if maps(r) {
                found[k] = r;
                k += 1;
            }
        }
        match k {
            0 if !maps(T::from_f64(0.0)) => return c0,
            0 => return T::from_f64(0.0),
            1 => return found[0],
            2 => ((found[0], found[1]), false),
            _ => ((found[0], found[0]), true),
        }
    };
    match bit {
        Some(upper) if !many => {
            if upper {
                pair.1
            } else {
                pair.0
            }
        }
        _ if maps(T::from_f64(0.0)) => T::from_f64(0.0),
        _ if c0_maps => c0,
        _ => pair.0,
    }
}

/// A run of three preimages `[bottom, mid, top]` (in value): the outer one (farther from zero:
/// `top` above zero, `bottom` below, `neg`) if the kept bit says the original was the outer one,
/// `mid` if it says not (the inner one is lost). Only called with a bit.
#[inline(always)]
fn three<T: Float>(bit: Option<bool>, neg: bool, [bottom, mid, top]: [T; 3]) -> T {
    match bit {
        Some(true) if neg => bottom,
        Some(true) => top,
        _ => mid,
    }
}

/// Undoes the steps `coeffs` (applied to `x` in this order by [`apply`] with this seed and
/// distribution, with a [`Record`] into `bits` if given): every coordinate where the steps lost
/// no information, or the one bit that `bits` kept, gets its original bits back (see the module
/// documentation).
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
    const MAX: usize = MAX_STEPS;
    check_steps(coeffs.len())?;
    if let Some(b) = &bits {
        check_bits("spsa_inplace", x.len(), b.len())?;
    }
    if coeffs.is_empty() {
        return Ok(());
    }
    passes(x, bits, par, |start, xs, bs| {
        with_piece_scratch(xs.len(), |z| {
            fill_z_at(level, seed, dist, start, z);
            let mut flags = [1u8; REDUCE_PIECE];
            let slow = &mut flags[..xs.len()];
            fast::restore(level, xs, z, coeffs, slow);
            if solve::restore(level, xs, z, coeffs, bs, slow) {
                return;
            }
            let mut d = [0.0f64; MAX];
            for (i, ((v, zi), _)) in xs
                .iter_mut()
                .zip(z.iter())
                .zip(slow.iter())
                .enumerate()
                .filter(|(_, (_, s))| **s != 0)
            {
                for (dk, c) in d.iter_mut().zip(coeffs) {
                    *dk = c * zi;
                }
                let bit = (!bs.is_empty()).then(|| (bs[i / 8] >> (i % 8)) & 1 == 1);
                *v = undo_one(*v, &d[..coeffs.len()], bit);
            }
        })
    })
}

#[cfg(test)]
mod tests;
