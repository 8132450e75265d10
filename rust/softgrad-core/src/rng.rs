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
//! - [`Stream::normal`]: standard normal, an `f32` value (widened for `f64`), by Box–Muller in
//!   `f32` from the 32-bit words of block `i / 4`, four values a block (see `normal.rs`: the
//!   definition, step by step);
//! - uniform on the sphere: normalized normal values (the norm is the caller's reduction).
//!
//! The `fill_*` functions write values `start..start + out.len()` and give the same bits as the
//! values one at a time; they work in blocks of [`LANES`] Philox blocks at once (loops LLVM
//! vectorizes, with no fused operation, so every SIMD level gives the same bits). Callers cut long fills into pieces whose boundaries depend only on the length, so
//! any thread count writes the same bits.

use crate::real::Real;
use crate::simd::{self, Level};

mod normal;
#[cfg(target_arch = "x86_64")]
mod normal_x86;

pub use normal::NORMALS_PER_BLOCK;

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
///
/// Each word is held in a 64-bit lane (high half zero), so the 32 × 32 → 64-bit products are one
/// `pmuludq` per vector at every level (SSE2, AVX2, AVX-512: 2, 4, 8 products) and the high and low
/// halves a shift and a mask, with no packing between rounds. Run inside `simd::dispatch`, LLVM
/// vectorizes the lane loop for the level; the bits are those of [`philox`] (tested).
#[inline(always)]
#[allow(clippy::needless_range_loop)] // struct of arrays: one index, several arrays
fn philox_lanes(c: &mut [[u32; LANES]; 4], key: [u32; 2]) {
    const LO: u64 = 0xffff_ffff;
    // Plain loops rather than `array::map`: closures may stay out of line in the dispatched code.
    // Only the low halves matter: the high half of a word holding a product's low half, or a xor
    // with it, is never read (a product takes the low 32 bits of its factor, `pmuludq`; the output
    // is truncated), so no mask is spent on it.
    let mut x = [[0u64; LANES]; 4];
    for w in 0..4 {
        for l in 0..LANES {
            x[w][l] = u64::from(c[w][l]);
        }
    }
    let (mut k0, mut k1) = (key[0], key[1]);
    for r in 0..10 {
        if r > 0 {
            k0 = k0.wrapping_add(W0);
            k1 = k1.wrapping_add(W1);
        }
        let (k0w, k1w) = (u64::from(k0), u64::from(k1));
        let mut n = [[0u64; LANES]; 4];
        for l in 0..LANES {
            let p0 = (x[0][l] & LO) * u64::from(M0);
            let p1 = (x[2][l] & LO) * u64::from(M1);
            n[0][l] = (p1 >> 32) ^ x[1][l] ^ k0w;
            n[1][l] = p1;
            n[2][l] = (p0 >> 32) ^ x[3][l] ^ k1w;
            n[3][l] = p0;
        }
        x = n;
    }
    for w in 0..4 {
        for l in 0..LANES {
            c[w][l] = x[w][l] as u32;
        }
    }
}

/// 53 random bits from two words, as a float in `[0, 1)`. Written without a 64-bit integer to
/// float conversion (AVX2 has none): the low 52 bits through the `2^52` exponent trick, the top
/// bit added as `0` or `2^52`; every step is exact, so this is `(bits >> 11) · 2^-53`.
#[inline(always)]
fn unit(hi: u32, lo: u32) -> f64 {
    const TWO52: u64 = 0x4330_0000_0000_0000; // 2^52
    let v = ((u64::from(hi) << 32) | u64::from(lo)) >> 11;
    let low = f64::from_bits(TWO52 | (v & ((1 << 52) - 1))) - f64::from_bits(TWO52);
    let top = f64::from_bits((v >> 52).wrapping_neg() & TWO52);
    (low + top) * (1.0 / (1u64 << 53) as f64)
}

/// The two uniforms of one block.
#[inline(always)]
fn uniforms(w: [u32; 4]) -> (f64, f64) {
    (unit(w[0], w[1]), unit(w[2], w[3]))
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

    /// [`Stream::blocks`] compiled for `level` (the same bits at every level).
    pub(crate) fn blocks_at(&self, level: Level, b0: u64) -> [[u32; LANES]; 4] {
        simd::dispatch(
            level,
            #[inline(always)]
            || self.blocks(b0),
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
        let (a, b) = uniforms(self.block(i / 2));
        if i.is_multiple_of(2) {
            a
        } else {
            b
        }
    }

    /// Standard normal value `i` ([`Stream::normal32`], widened: exact).
    pub fn normal(&self, i: u64) -> f64 {
        f64::from(self.normal32(i))
    }

    /// Rademacher values `start..start + out.len()` into `out`.
    pub fn fill_rademacher<T: Real>(&self, start: u64, out: &mut [T]) {
        self.fill_rademacher_at(simd::level(), start, out)
    }

    /// Uniform values in `[0, 1)`, `start..start + out.len()`, into `out` (rounded to `T`; in
    /// `f32` a value can round up to `1.0`).
    pub fn fill_uniform<T: Real>(&self, start: u64, out: &mut [T]) {
        self.fill_uniform_at(simd::level(), start, out)
    }

    /// Standard normal values `start..start + out.len()` into `out`: [`Stream::normal32`]'s `f32`
    /// values, widened exactly for `f64`.
    pub fn fill_normal<T: Real>(&self, start: u64, out: &mut [T]) {
        self.fill_normal_at(simd::level(), start, out)
    }

    /// [`Stream::fill_rademacher`] compiled for `level` (the same bits at every level).
    pub(crate) fn fill_rademacher_at<T: Real>(&self, level: Level, start: u64, out: &mut [T]) {
        simd::dispatch(
            level,
            #[inline(always)]
            || self.rademacher_body(start, out),
        )
    }

    /// [`Stream::fill_uniform`] compiled for `level` (the same bits at every level).
    pub(crate) fn fill_uniform_at<T: Real>(&self, level: Level, start: u64, out: &mut [T]) {
        simd::dispatch(
            level,
            #[inline(always)]
            || self.uniform_body(start, out),
        )
    }

    /// [`Stream::fill_normal`] compiled for `level` (the same bits at every level).
    pub(crate) fn fill_normal_at<T: Real>(&self, level: Level, start: u64, out: &mut [T]) {
        // The whole groups of the vector kernels (`normal_x86.rs`), the ends one group at a time.
        #[cfg(target_arch = "x86_64")]
        let (start, out) = match self.fill_normal_x86(level, start, out) {
            Some(rest) => rest,
            None => (start, out),
        };
        simd::dispatch(
            level,
            #[inline(always)]
            || self.normal_body(start, out),
        )
    }

    /// [`Stream::fill_rademacher`], compiled for the dispatched level.
    #[inline(always)]
    fn rademacher_body<T: Real>(&self, start: u64, out: &mut [T]) {
        const PER: u64 = RADEMACHER_PER_BLOCK as u64;
        const GROUP: usize = LANES * RADEMACHER_PER_BLOCK;
        let (one, minus) = (T::from_f64(1.0), T::from_f64(-1.0));
        let mut i = start;
        let mut rest = out;
        while !rest.is_empty() {
            let b0 = i / PER;
            let c = self.blocks(b0);
            // Values i.. up to the end of these LANES blocks.
            let first = (i - b0 * PER) as usize;
            let take = (GROUP - first).min(rest.len());
            let (now, tail) = rest.split_at_mut(take);
            if take == GROUP {
                // Whole blocks: value 32 w + b of a block is bit b of its word w.
                for (l, blk) in now.chunks_exact_mut(RADEMACHER_PER_BLOCK).enumerate() {
                    for (w, word) in blk.chunks_exact_mut(32).enumerate() {
                        let cw = c[w][l];
                        for (b, o) in word.iter_mut().enumerate() {
                            *o = if (cw >> b) & 1 == 1 { minus } else { one };
                        }
                    }
                }
            } else {
                for (o, q) in now.iter_mut().zip(first..) {
                    let (lane, bit) = (q / RADEMACHER_PER_BLOCK, q % RADEMACHER_PER_BLOCK);
                    *o = if (c[bit / 32][lane] >> (bit % 32)) & 1 == 1 {
                        minus
                    } else {
                        one
                    };
                }
            }
            i = i.wrapping_add(take as u64); // wraps only after the index 2^64 - 1
            rest = tail;
        }
    }

    /// [`Stream::fill_uniform`], compiled for the dispatched level: two values per block.
    #[inline(always)]
    #[allow(clippy::needless_range_loop)] // struct of arrays: one index, several arrays
    fn uniform_body<T: Real>(&self, start: u64, out: &mut [T]) {
        let mut i = start;
        let mut rest = out;
        while !rest.is_empty() {
            let b0 = i / 2;
            let c = self.blocks(b0);
            // values i.. up to the end of these LANES blocks (no `(b0 + LANES) * 2`: it overflows
            // in the last blocks of the index range)
            let take = ((2 * LANES as u64 - (i - 2 * b0)) as usize).min(rest.len());
            let (now, tail) = rest.split_at_mut(take);
            let (mut a, mut b) = ([0.0; LANES], [0.0; LANES]);
            for l in 0..LANES {
                a[l] = unit(c[0][l], c[1][l]);
                b[l] = unit(c[2][l], c[3][l]);
            }
            let first = (i - 2 * b0) as usize;
            if take == 2 * LANES {
                for l in 0..LANES {
                    now[2 * l] = T::from_f64(a[l]);
                    now[2 * l + 1] = T::from_f64(b[l]);
                }
            } else {
                for (o, q) in now.iter_mut().zip(first..) {
                    let v = if q % 2 == 0 { a[q / 2] } else { b[q / 2] };
                    *o = T::from_f64(v);
                }
            }
            i = i.wrapping_add(take as u64); // wraps only after the index 2^64 - 1
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
mod tests;

#[cfg(test)]
mod tests_values;

#[cfg(test)]
mod tests_normal_end;
#[cfg(all(test, target_arch = "x86_64"))]
mod tests_x86;
