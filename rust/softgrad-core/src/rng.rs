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
use crate::simd::math::{log, log_v};
use crate::simd::vector::{F64x, Isa, Kernel, W};
use crate::simd::{self, Level};

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

/// `1.5 · 2^52`: adding and subtracting it rounds to an integer (ties to even).
const SHIFT: f64 = 6_755_399_441_055_744.0;

/// fdlibm's `__kernel_sin` and `__kernel_cos` coefficients (FreeBSD `k_sin.c`, `k_cos.c`): on
/// `|x| <= π/4`, `sin x = x + x³ (S1 + x² R_s(x²))` and `cos x = 1 − x²/2 + x⁴ R_c(x²)`, each
/// within one ulp.
const S: [f64; 6] = [
    -0.16666666666666632,
    0.00833333333332249,
    -0.0001984126982985795,
    2.7557313707070068e-06,
    -2.5050760253406863e-08,
    1.58969099521155e-10,
];
const C: [f64; 6] = [
    0.0416666666666666,
    -0.001388888888887411,
    2.480158728947673e-05,
    -2.7557314351390663e-07,
    2.087572321298175e-09,
    -1.1359647557788195e-11,
];

/// `(sin 2πu, cos 2πu)` for `u` in `[0, 1)`. The reduction is exact in `u` (`u − k/4`, `k` the
/// nearest quarter turn), so the only error is the product by `2π` and the two kernels: about one
/// ulp. Branch-free (selects), plain multiplies and adds (no fused operation): the same bits
/// whether it runs on one lane or vectorized at any level.
#[inline(always)]
fn sin_cos_turn(u: f64) -> (f64, f64) {
    let k = (4.0 * u + SHIFT) - SHIFT; // 0..=4; 4 is a full turn, the same as 0
    let x = (u - 0.25 * k) * std::f64::consts::TAU; // |x| <= π/4
    let z = x * x;
    let rs = S[1] + z * (S[2] + z * (S[3] + z * (S[4] + z * S[5])));
    let sin = x + (z * x) * (S[0] + z * rs);
    let rc = z * (C[0] + z * (C[1] + z * (C[2] + z * (C[3] + z * (C[4] + z * C[5])))));
    let hz = 0.5 * z;
    let w = 1.0 - hz;
    let cos = w + (((1.0 - w) - hz) + z * rc);
    let (q1, q2, q3) = (k == 1.0, k == 2.0, k == 3.0);
    let s = if q1 {
        cos
    } else if q2 {
        -sin
    } else if q3 {
        -cos
    } else {
        sin
    };
    let c = if q1 {
        -sin
    } else if q2 {
        -cos
    } else if q3 {
        sin
    } else {
        cos
    };
    (s, c)
}

/// Box–Muller on one block's uniforms `u1` (the radius) and `u2` (the angle): the cosine and the
/// sine branches, `√(−2 ln(1 − u1)) · (cos 2πu2, sin 2πu2)`, given `ln(1 − u1)`. `ln` is the
/// crate's fdlibm `log` (no fused operations) and the angle [`sin_cos_turn`], so the scalar values
/// and the vectorized fills give the same bits at every level.
#[inline(always)]
fn box_muller(ln: f64, u2: f64) -> (f64, f64) {
    // 1 - u1 lies in (0, 1] (exact): the logarithm is finite (|z| <= 8.6).
    let r = (-2.0 * ln).sqrt();
    let (sn, cs) = sin_cos_turn(u2);
    (r * cs, r * sn)
}

/// [`Stream::fill_uniform`] (`NORMAL = false`) or [`Stream::fill_normal`] as a SIMD kernel: the
/// logarithms of Box–Muller through the level's vector type, the rest in plain loops.
struct Pairs<'a, T, const NORMAL: bool> {
    stream: &'a Stream,
    start: u64,
    out: &'a mut [T],
}

impl<T: Real, const NORMAL: bool> Kernel for Pairs<'_, T, NORMAL> {
    type Output = ();
    #[inline(always)]
    fn run<S: Isa>(self) {
        self.stream.pairs_body::<S, T, NORMAL>(self.start, self.out)
    }
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

    /// Standard normal value `i`.
    pub fn normal(&self, i: u64) -> f64 {
        let (u1, u2) = uniforms(self.block(i / 2));
        let (c, s) = box_muller(log(1.0 - u1), u2);
        if i.is_multiple_of(2) {
            c
        } else {
            s
        }
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

    /// Standard normal values `start..start + out.len()` into `out` (rounded to `T`).
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
        let stream = self;
        simd::vectorize(level, Pairs::<T, false> { stream, start, out })
    }

    /// [`Stream::fill_normal`] compiled for `level` (the same bits at every level).
    pub(crate) fn fill_normal_at<T: Real>(&self, level: Level, start: u64, out: &mut [T]) {
        let stream = self;
        simd::vectorize(level, Pairs::<T, true> { stream, start, out })
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
            i += take as u64;
            rest = tail;
        }
    }

    /// Values `start..` of a distribution that makes two values per block from its two uniforms:
    /// the uniforms themselves or (`NORMAL`) Box–Muller's pair.
    #[inline(always)]
    #[allow(clippy::needless_range_loop)] // struct of arrays: one index, several arrays
    fn pairs_body<S: Isa, T: Real, const NORMAL: bool>(&self, start: u64, out: &mut [T]) {
        let mut i = start;
        let mut rest = out;
        while !rest.is_empty() {
            let b0 = i / 2;
            let c = self.blocks(b0);
            let stop = (b0 + LANES as u64) * 2;
            let take = ((stop - i) as usize).min(rest.len());
            let (now, tail) = rest.split_at_mut(take);
            let (mut a, mut b) = ([0.0; LANES], [0.0; LANES]);
            for l in 0..LANES {
                a[l] = unit(c[0][l], c[1][l]);
                b[l] = unit(c[2][l], c[3][l]);
            }
            if NORMAL {
                let mut ln = [0.0; LANES];
                for l in 0..LANES {
                    ln[l] = 1.0 - a[l];
                }
                for h in (0..LANES).step_by(W) {
                    log_v(S::F64::load(&ln[h..])).store(&mut ln[h..]);
                }
                for l in 0..LANES {
                    (a[l], b[l]) = box_muller(ln[l], b[l]);
                }
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
mod tests;

#[cfg(test)]
mod tests_values;
