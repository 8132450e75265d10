//! In-place perturbations for MeZO (S. Malladi et al., "Fine-tuning language models with just
//! forward passes", NeurIPS 2023): `x ← x + c z(seed)` with `z` regenerated from the seed in fixed
//! pieces, never stored, and the exact undoing of a sequence of such steps.
//!
//! **Rounding.** A step writes `x_i ← round(x_i + c z_i)` (`c z_i` and the sum in `f64`, one final
//! rounding to the dtype). Adding the negated steps back does not return the original bits in
//! general, in `f32` nor in `f64`: each step rounds. [`restore`] therefore does not add back: it
//! *solves* for the original value. Given the current value `y` and the steps `c_1, …, c_m` that were
//! applied, it takes the candidate `r₀ = round(y − Σ c_k z_i)` and the floats 1 and 2 units in the
//! last place either side of it, and keeps the first `r` whose forward image (the `m` steps replayed
//! on `r`) is `y`. When the steps are injective at `x_i` — no information was lost — the original
//! value is the only preimage and is found: the bits are restored exactly. Information *is* lost
//! where a step moves `x_i` into a coarser binade (`|x_i ± c z_i|` crosses a power of two upwards,
//! in particular for `|x_i|` below about `|c z_i|`): several floats then map to `y`, no method
//! without a copy can tell them apart, and `restore` returns one of them (within a few units in the
//! last place of `max(|x_i|, |c z_i|)`). This is a counting fact: `[−|d|, |d|]` holds far more
//! floats than `[d/2, 3d/2]`.
//!
//! Each pass runs to the end once started (no interrupt check between pieces), so a caller that
//! records the steps applied always knows the state of `x`.

use rayon::prelude::*;

use crate::error::Result;
use crate::par::{with_piece_scratch, Par, PAR_MIN_ELEMS, REDUCE_PIECE};
use crate::real::Real;
use crate::rng::Stream;

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

/// The dtypes of in-place steps: [`Real`] plus the neighbouring floats.
pub trait Float: Real {
    /// The next float up.
    fn up(self) -> Self;
    /// The next float down.
    fn down(self) -> Self;
}

impl Float for f64 {
    #[inline(always)]
    fn up(self) -> Self {
        self.next_up()
    }
    #[inline(always)]
    fn down(self) -> Self {
        self.next_down()
    }
}

impl Float for f32 {
    #[inline(always)]
    fn up(self) -> Self {
        self.next_up()
    }
    #[inline(always)]
    fn down(self) -> Self {
        self.next_down()
    }
}

/// `z_i` for `i` in `start..start + out.len()`, stream `(seed, 0)`.
#[inline]
pub fn fill_z(seed: u64, dist: Dist, start: usize, out: &mut [f64]) {
    let s = Stream::new(seed, 0);
    match dist {
        Dist::Rademacher => s.fill_rademacher(start as u64, out),
        Dist::Gaussian => s.fill_normal(start as u64, out),
    }
}

#[inline(always)]
fn step<T: Real>(x: T, d: f64) -> T {
    T::from_f64(x.to_f64() + d)
}

/// Runs `f(start, piece)` over the fixed [`PIECE`]-long pieces of `x`, in parallel with `par`, with
/// no interrupt check: a pass always completes.
fn passes<T: Real>(x: &mut [T], par: Par, f: impl Fn(usize, &mut [T]) + Send + Sync) -> Result<()> {
    let run = |(k, piece): (usize, &mut [T])| {
        // Sub-pieces of REDUCE_PIECE for the thread's z buffer.
        for (s, sub) in piece.chunks_mut(REDUCE_PIECE).enumerate() {
            f(k * PIECE + s * REDUCE_PIECE, sub);
        }
    };
    match par {
        Par::Rayon(_) if x.len() >= PAR_MIN_ELEMS => {
            par.install(|| x.par_chunks_mut(PIECE).enumerate().for_each(run))
        }
        _ => {
            x.chunks_mut(PIECE).enumerate().for_each(run);
            Ok(())
        }
    }
}

/// `x_i ← round(x_i + coeff · z_i)` for every `i` (MeZO's perturbation and update step).
pub fn apply<T: Real>(x: &mut [T], seed: u64, dist: Dist, coeff: f64, par: Par) -> Result<()> {
    passes(x, par, |start, xs| {
        with_piece_scratch(xs.len(), |z| {
            fill_z(seed, dist, start, z);
            for (v, zi) in xs.iter_mut().zip(z.iter()) {
                *v = step(*v, coeff * zi);
            }
        })
    })
}

/// The value whose image under the steps `d` (applied in order, as [`apply`] does) is `y`: the
/// first of `round(y − Σ d)` and its neighbours (±1, ±2 units in the last place) that maps to `y`,
/// else `round(y − Σ d)`.
#[inline]
pub fn undo_one<T: Float>(y: T, d: &[f64]) -> T {
    let total: f64 = d.iter().sum();
    let c0 = step(y, -total);
    let maps = |r: T| d.iter().fold(r, |v, &dk| step(v, dk)) == y;
    if maps(c0) {
        return c0;
    }
    let (u1, d1) = (c0.up(), c0.down());
    for r in [u1, d1, u1.up(), d1.down()] {
        if maps(r) {
            return r;
        }
    }
    c0
}

/// Undoes the steps `coeffs` (applied to `x` in this order by [`apply`] with this seed and
/// distribution): every coordinate where the steps lost no information gets its original bits
/// back (see the module documentation).
pub fn restore<T: Float>(
    x: &mut [T],
    seed: u64,
    dist: Dist,
    coeffs: &[f64],
    par: Par,
) -> Result<()> {
    const MAX: usize = 8;
    assert!(coeffs.len() <= MAX, "restore: at most {MAX} steps");
    if coeffs.is_empty() {
        return Ok(());
    }
    passes(x, par, |start, xs| {
        with_piece_scratch(xs.len(), |z| {
            fill_z(seed, dist, start, z);
            let mut d = [0.0f64; MAX];
            for (v, zi) in xs.iter_mut().zip(z.iter()) {
                for (dk, c) in d.iter_mut().zip(coeffs) {
                    *dk = c * zi;
                }
                *v = undo_one(*v, &d[..coeffs.len()]);
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::uniform_vec;

    fn data32(n: usize) -> Vec<f32> {
        uniform_vec(n, 11, -1.0, 1.0)
            .iter()
            .map(|v| (v * 0.05) as f32)
            .collect()
    }

    #[test]
    fn apply_adds_coeff_times_z() {
        let x0 = data32(5000);
        let mut x = x0.clone();
        apply(&mut x, 7, Dist::Gaussian, 1e-3, Par::Seq).unwrap();
        let mut z = vec![0.0; 5000];
        fill_z(7, Dist::Gaussian, 0, &mut z);
        for i in 0..5000 {
            assert_eq!(x[i], (x0[i] as f64 + 1e-3 * z[i]) as f32);
        }
    }

    #[test]
    fn passes_are_bit_identical_across_threads() {
        let n = 3 * PIECE + 17;
        let x0: Vec<f64> = uniform_vec(n, 3, -2.0, 2.0);
        let mut outs = vec![];
        for par in [Par::Seq, Par::Rayon(2), Par::Rayon(3)] {
            let mut x = x0.clone();
            apply(&mut x, 99, Dist::Gaussian, 0.3, par).unwrap();
            apply(&mut x, 99, Dist::Gaussian, -0.6, par).unwrap();
            outs.push(x.clone());
            restore(&mut x, 99, Dist::Gaussian, &[0.3, -0.6], par).unwrap();
            outs.push(x);
        }
        assert_eq!(outs[0], outs[2]);
        assert_eq!(outs[0], outs[4]);
        assert_eq!(outs[1], outs[3]);
        assert_eq!(outs[1], outs[5]);
    }

    /// Whether `x` is the only float near it mapping to the same value (the steps are injective).
    fn unique<T: Float>(x: T, d: &[f64]) -> bool {
        let img = |r: T| d.iter().fold(r, |v, &dk| step(v, dk));
        let y = img(x);
        let (mut lo, mut hi) = (x, x);
        for _ in 0..4 {
            lo = lo.down();
            hi = hi.up();
            if img(lo) == y || img(hi) == y {
                return false;
            }
        }
        true
    }

    fn round_trip<T: Float>(x0: &[T], eps: f64, dist: Dist) -> (usize, usize) {
        let mut x = x0.to_vec();
        apply(&mut x, 5, dist, eps, Par::Seq).unwrap();
        apply(&mut x, 5, dist, -2.0 * eps, Par::Seq).unwrap();
        restore(&mut x, 5, dist, &[eps, -2.0 * eps], Par::Seq).unwrap();
        let mut z = vec![0.0; x0.len()];
        fill_z(5, dist, 0, &mut z);
        let (mut exact, mut lossy) = (0, 0);
        for i in 0..x0.len() {
            let d = [eps * z[i], -2.0 * eps * z[i]];
            if unique(x0[i], &d) {
                assert_eq!(x[i], x0[i], "i = {i}, z = {}", z[i]);
                exact += 1;
            } else {
                lossy += 1;
                // Within a few ulps of the larger of |x| and |eps z|.
                let big = x0[i].to_f64().abs().max((eps * z[i]).abs());
                let err = (x[i].to_f64() - x0[i].to_f64()).abs();
                let ulp = T::from_f64(big).up().to_f64() - big;
                assert!(err <= 4.0 * ulp, "i = {i}: {err} > 4 ulp {ulp}");
            }
        }
        (exact, lossy)
    }

    #[test]
    fn restore_is_exact_wherever_the_steps_are_injective_f32() {
        let x0 = data32(20_000);
        for eps in [1e-3, 1e-2, 1e-5] {
            for dist in [Dist::Gaussian, Dist::Rademacher] {
                let (exact, _) = round_trip(&x0, eps, dist);
                assert!(exact > 0);
            }
        }
    }

    #[test]
    fn restore_is_exact_wherever_the_steps_are_injective_f64() {
        let x0: Vec<f64> = uniform_vec(20_000, 12, -1.0, 1.0);
        for eps in [1e-3, 1.0, 1e-9] {
            round_trip(&x0, eps, Dist::Gaussian);
        }
    }

    #[test]
    fn restore_handles_zero_and_specials() {
        let mut x = vec![0.0f32, -0.0, f32::INFINITY, 1e-30, 3.0];
        let x0 = x.clone();
        apply(&mut x, 1, Dist::Rademacher, 1e-3, Par::Seq).unwrap();
        restore(&mut x, 1, Dist::Rademacher, &[1e-3], Par::Seq).unwrap();
        // 0 and 1e-30 are not the only floats that map to ±1e-3: they come back as tiny values
        // within an ulp of 1e-3 of them.
        for i in [0, 1, 3] {
            assert!(x[i].abs() <= 1e-3 * f32::EPSILON, "{i}: {}", x[i]);
        }
        assert_eq!(x[2], f32::INFINITY);
        assert_eq!(x[4], x0[4]);
    }
}
