//! The one random-number generator of softgrad: counter-based, so value `i` of stream
//! `(seed, stream)` is a pure function of `(seed, stream, i)`.
//!
//! The block function is Philox4x32-10 (J. K. Salmon, M. A. Moraes, R. O. Dror and D. E. Shaw,
//! "Parallel random numbers: as easy as 1, 2, 3", SC'11), pinned by Random123's known-answer
//! vectors. The 64-bit key is the seed; counter words 2–3 hold the stream (a direction index), words
//! 0–1 the block index. No state is carried: a [`Stream`] is two keys, a value is recomputed
//! wherever and whenever it is needed, so a perturbation never has to be stored, and results do not
//! depend on the thread count, on batch sizes or on which process generated what.
//!
//! Value `i` of each distribution, per stream:
//! - [`Stream::rademacher`]: `±1`, from bit `i % 128` of block `i / 128` (one block serves 128
//!   values: a bulk fill costs far less than a memory pass);
//! - [`Stream::uniform`]: in `[0, 1)` with 53 random bits, from half `i % 2` of block `i / 2`;
//! - [`Stream::normal`]: standard normal by Box–Muller from block `i / 2` (two 53-bit uniforms),
//!   the cosine branch for even `i`, the sine branch for odd `i`;
//! - uniform on the sphere: normalized normal values (the norm is the caller's reduction).
//!
//! The `fill_*` functions write values `start..start + out.len()` and give the same bits as the
//! values one at a time; they work in blocks of [`LANES`] Philox blocks at once (a loop LLVM
//! vectorizes). Callers cut long fills into pieces whose boundaries depend only on the length, so
//! any thread count writes the same bits.

use crate::real::Real;

/// Philox round multipliers (Random123 `PHILOX_M4x32_0`, `_1`).
const M0: u32 = 0xD251_1F53;
const M1: u32 = 0xCD9E_8D57;
/// Key bumps per round: the golden ratio and `√3 − 1` (Random123 `PHILOX_W32_0`, `_1`).
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

/// Philox blocks computed together by the bulk fills (struct of arrays, vectorized by LLVM).
pub const LANES: usize = 16;

/// Rademacher values per Philox block.
pub const RADEMACHER_PER_BLOCK: usize = 128;

/// Philox4x32-10: the four output words of counter `ctr` under `key`.
#[inline]
pub fn philox(ctr: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let [mut x0, mut x1, mut x2, mut x3] = ctr;
    let [mut k0, mut k1] = key;
    for r in 0..10 {
        if r > 0 {
            k0 = k0.wrapping_add(W0);
            k1 = k1.wrapping_add(W1);
        }
        let p0 = u64::from(x0) * u64::from(M0);
        let p1 = u64::from(x2) * u64::from(M1);
        [x0, x1, x2, x3] = [
            (p1 >> 32) as u32 ^ x1 ^ k0,
            p1 as u32,
            (p0 >> 32) as u32 ^ x3 ^ k1,
            p0 as u32,
        ];
    }
    [x0, x1, x2, x3]
}

/// [`philox`] on [`LANES`] counters at once: `c[w][l]` is word `w` of lane `l`, in and out.
#[inline(always)]
#[allow(clippy::needless_range_loop)] // struct of arrays: one index, several arrays
fn philox_lanes(c: &mut [[u32; LANES]; 4], key: [u32; 2]) {
    let [mut x0, mut x1, mut x2, mut x3] = *c;
    let [mut k0, mut k1] = key;
    for r in 0..10 {
        if r > 0 {
            k0 = k0.wrapping_add(W0);
            k1 = k1.wrapping_add(W1);
        }
        let mut n = [[0u32; LANES]; 4];
        for l in 0..LANES {
            let p0 = u64::from(x0[l]) * u64::from(M0);
            let p1 = u64::from(x2[l]) * u64::from(M1);
            n[0][l] = (p1 >> 32) as u32 ^ x1[l] ^ k0;
            n[1][l] = x2[l].wrapping_mul(M1);
            n[2][l] = (p0 >> 32) as u32 ^ x3[l] ^ k1;
            n[3][l] = x0[l].wrapping_mul(M0);
        }
        [x0, x1, x2, x3] = n;
    }
    *c = [x0, x1, x2, x3];
}

/// 53 random bits from two words, as a float in `[0, 1)`.
#[inline(always)]
fn unit(hi: u32, lo: u32) -> f64 {
    (((u64::from(hi) << 32) | u64::from(lo)) >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Box–Muller on one block: the two normal values `(cos branch, sin branch)`.
#[inline(always)]
fn box_muller(w: [u32; 4]) -> (f64, f64) {
    // 1 - u lies in (0, 1]: the logarithm is finite (|z| <= 8.6).
    let r = (-2.0 * (1.0 - unit(w[0], w[1])).ln()).sqrt();
    let (s, c) = (std::f64::consts::TAU * unit(w[2], w[3])).sin_cos();
    (r * c, r * s)
}

/// A mixing of `(seed, k)` into a new 64-bit seed: the first two words of block 0 of stream
/// `(seed, k)` under a fixed offset. Used to give each sample of an in-place estimate its own seed.
pub fn derive_seed(seed: u64, k: u64) -> u64 {
    let s = Stream::new(seed ^ 0x5EED_0F5E_ED0F_5EED, k);
    let w = s.block(u64::MAX);
    (u64::from(w[0]) << 32) | u64::from(w[1])
}

/// One stream of the generator: seed (the key) and stream index (a direction).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stream {
    key: [u32; 2],
    stream: [u32; 2],
}

impl Stream {
    /// Stream `stream` of seed `seed`.
    pub fn new(seed: u64, stream: u64) -> Self {
        Stream {
            key: [seed as u32, (seed >> 32) as u32],
            stream: [stream as u32, (stream >> 32) as u32],
        }
    }

    /// The four words of block `b`.
    #[inline]
    pub fn block(&self, b: u64) -> [u32; 4] {
        philox(
            [b as u32, (b >> 32) as u32, self.stream[0], self.stream[1]],
            self.key,
        )
    }

    /// Blocks `b0..b0 + LANES`, word-major.
    #[inline(always)]
    #[allow(clippy::needless_range_loop)] // struct of arrays: one index, four arrays
    fn blocks(&self, b0: u64) -> [[u32; LANES]; 4] {
        let mut c = [[0u32; LANES]; 4];
        for l in 0..LANES {
            let b = b0.wrapping_add(l as u64);
            c[0][l] = b as u32;
            c[1][l] = (b >> 32) as u32;
            c[2][l] = self.stream[0];
            c[3][l] = self.stream[1];
        }
        philox_lanes(&mut c, self.key);
        c
    }

    /// Rademacher value `i` (`+1` or `-1`).
    pub fn rademacher(&self, i: u64) -> f64 {
        let w = self.block(i / RADEMACHER_PER_BLOCK as u64);
        let bit = (i % RADEMACHER_PER_BLOCK as u64) as usize;
        if (w[bit / 32] >> (bit % 32)) & 1 == 1 {
            -1.0
        } else {
            1.0
        }
    }

    /// Uniform value `i` in `[0, 1)`.
    pub fn uniform(&self, i: u64) -> f64 {
        let w = self.block(i / 2);
        let h = (i % 2) as usize * 2;
        unit(w[h], w[h + 1])
    }

    /// Standard normal value `i`.
    pub fn normal(&self, i: u64) -> f64 {
        let (c, s) = box_muller(self.block(i / 2));
        if i.is_multiple_of(2) {
            c
        } else {
            s
        }
    }

    /// Rademacher values `start..start + out.len()` into `out`.
    pub fn fill_rademacher<T: Real>(&self, start: u64, out: &mut [T]) {
        const PER: u64 = RADEMACHER_PER_BLOCK as u64;
        let (one, minus) = (T::from_f64(1.0), T::from_f64(-1.0));
        let mut i = start;
        let mut rest = out;
        while !rest.is_empty() {
            let b0 = i / PER;
            let c = self.blocks(b0);
            // Values i.. up to the end of these LANES blocks.
            let stop = (b0 + LANES as u64) * PER;
            let take = ((stop - i) as usize).min(rest.len());
            let (now, tail) = rest.split_at_mut(take);
            for (o, v) in now.iter_mut().zip(i..) {
                let q = v - b0 * PER;
                let (lane, bit) = ((q / PER) as usize, (q % PER) as usize);
                let w = c[bit / 32][lane];
                *o = if (w >> (bit % 32)) & 1 == 1 {
                    minus
                } else {
                    one
                };
            }
            i += take as u64;
            rest = tail;
        }
    }

    /// Uniform values in `[0, 1)`, `start..start + out.len()`, into `out` (rounded to `T`; in
    /// `f32` a value can round up to `1.0`).
    pub fn fill_uniform<T: Real>(&self, start: u64, out: &mut [T]) {
        self.fill_pairs(start, out, |w| (unit(w[0], w[1]), unit(w[2], w[3])));
    }

    /// Standard normal values `start..start + out.len()` into `out` (rounded to `T`).
    pub fn fill_normal<T: Real>(&self, start: u64, out: &mut [T]) {
        self.fill_pairs(start, out, box_muller);
    }

    /// Values `start..` of a distribution that makes two values per block.
    #[inline(always)]
    fn fill_pairs<T: Real>(&self, start: u64, out: &mut [T], two: impl Fn([u32; 4]) -> (f64, f64)) {
        let mut i = start;
        let mut rest = out;
        while !rest.is_empty() {
            let b0 = i / 2;
            let c = self.blocks(b0);
            let stop = (b0 + LANES as u64) * 2;
            let take = ((stop - i) as usize).min(rest.len());
            let (now, tail) = rest.split_at_mut(take);
            let mut vals = [0.0f64; 2 * LANES];
            let first = (i - 2 * b0) as usize;
            let last = first + take;
            for l in first / 2..last.div_ceil(2) {
                let (a, b) = two([c[0][l], c[1][l], c[2][l], c[3][l]]);
                vals[2 * l] = a;
                vals[2 * l + 1] = b;
            }
            for (o, v) in now.iter_mut().zip(&vals[first..last]) {
                *o = T::from_f64(*v);
            }
            i += take as u64;
            rest = tail;
        }
    }
}

/// A deterministic test/bench array: `n` uniforms in `[lo, hi)` from stream `(seed, 0)`.
pub fn uniform_vec(n: usize, seed: u64, lo: f64, hi: f64) -> Vec<f64> {
    let mut v = vec![0.0; n];
    Stream::new(seed, 0).fill_uniform(0, &mut v);
    v.iter_mut().for_each(|u| *u = lo + (hi - lo) * *u);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Random123's published known-answer vectors for Philox4x32-10 (`kat_vectors`).
    #[test]
    fn known_answers() {
        assert_eq!(
            philox([0, 0, 0, 0], [0, 0]),
            [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8]
        );
        assert_eq!(
            philox([0xffff_ffff; 4], [0xffff_ffff; 2]),
            [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd]
        );
        assert_eq!(
            philox(
                [0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344],
                [0xa409_3822, 0x299f_31d0]
            ),
            [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1]
        );
    }

    #[test]
    fn lanes_equal_single_blocks() {
        let s = Stream::new(0x1234_5678_9abc_def0, 77);
        let c = s.blocks(u64::MAX - 5); // wraps around
        for (l, b) in (0..LANES as u64).map(|l| (l as usize, (u64::MAX - 5).wrapping_add(l))) {
            let w = s.block(b);
            assert_eq!([c[0][l], c[1][l], c[2][l], c[3][l]], w);
        }
    }

    #[test]
    fn fills_equal_values_one_at_a_time_from_any_start() {
        let s = Stream::new(42, 3);
        for start in [0u64, 1, 2, 127, 128, 129, 1000, 2047, 4095] {
            for len in [0usize, 1, 2, 3, 31, 33, 200, 2049, 5000] {
                let mut r = vec![0.0f64; len];
                let mut u = vec![0.0f64; len];
                let mut g = vec![0.0f64; len];
                let mut g32 = vec![0.0f32; len];
                s.fill_rademacher(start, &mut r);
                s.fill_uniform(start, &mut u);
                s.fill_normal(start, &mut g);
                s.fill_normal(start, &mut g32);
                for k in 0..len {
                    let i = start + k as u64;
                    assert_eq!(r[k], s.rademacher(i));
                    assert_eq!(u[k].to_bits(), s.uniform(i).to_bits());
                    assert_eq!(g[k].to_bits(), s.normal(i).to_bits());
                    assert_eq!(g32[k].to_bits(), (s.normal(i) as f32).to_bits());
                }
            }
        }
    }

    #[test]
    fn fills_cut_anywhere_give_the_same_bits() {
        let s = Stream::new(9, 0);
        let n = 3001;
        let (mut whole, mut cut) = (vec![0.0f64; n], vec![0.0f64; n]);
        s.fill_normal(0, &mut whole);
        let mut at = 0;
        for len in [1usize, 7, 128, 999, 5, 2000] {
            let stop = (at + len).min(n);
            s.fill_normal(at as u64, &mut cut[at..stop]);
            at = stop;
        }
        assert_eq!(whole, cut);
    }

    #[test]
    fn streams_and_seeds_differ() {
        let a = Stream::new(1, 0);
        assert_ne!(a.block(0), Stream::new(1, 1).block(0));
        assert_ne!(a.block(0), Stream::new(2, 0).block(0));
        assert_ne!(derive_seed(1, 0), derive_seed(1, 1));
        assert_ne!(derive_seed(1, 0), derive_seed(2, 0));
    }

    #[test]
    fn moments_are_right() {
        let n = 200_000;
        let s = Stream::new(5, 0);
        let (mut r, mut u, mut g) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        s.fill_rademacher(0, &mut r);
        s.fill_uniform(0, &mut u);
        s.fill_normal(0, &mut g);
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let m2 = |v: &[f64]| v.iter().map(|a| a * a).sum::<f64>() / v.len() as f64;
        let tol = 5.0 / (n as f64).sqrt();
        assert!(mean(&r).abs() < tol);
        assert!((mean(&u) - 0.5).abs() < tol);
        assert!((m2(&u) - 1.0 / 3.0).abs() < tol);
        assert!(mean(&g).abs() < tol);
        assert!((m2(&g) - 1.0).abs() < 3.0 * tol);
        // Even and odd normals (cosine and sine branches) are uncorrelated.
        let c: f64 = g.chunks_exact(2).map(|p| p[0] * p[1]).sum::<f64>() / (n / 2) as f64;
        assert!(c.abs() < 2.0 * tol);
        assert!(u.iter().all(|v| (0.0..1.0).contains(v)));
    }

    #[test]
    fn uniform_vec_is_in_range() {
        let v = uniform_vec(1000, 3, -2.0, 5.0);
        assert!(v.iter().all(|x| (-2.0..5.0).contains(x)));
    }
}

#[cfg(test)]
mod tests_values;
