//! The normal stream: four standard normal values per Philox block, by Box–Muller (G. E. P. Box and
//! M. E. Muller, "A note on the generation of random normal deviates", Ann. Math. Statist. 29, 1958)
//! in `f32` from 32-bit words.
//!
//! Block `b`'s words `w0..w3` give values `4b..4b + 4`: `(w0, w1)` the first pair, `(w2, w3)` the
//! second; in a pair, the first word is the radius and the second the angle, and the first value is
//! the cosine branch, the second the sine branch:
//! - radius: `k = w >> 1`, `v = f32(k) + 0.5` (so `u = v / 2^31` lies in `[2^-32, 1]`),
//!   `r = √(2 ln 2 · (31 − log₂ v))`, i.e. `√(−2 ln u)`: at most `√(64 ln 2) = 6.66`;
//! - angle: `θ = 2π (w + ½) / 2^32`, as the quarter turn `q` and `φ = θ − qπ/2` in `(−π/4, π/4)`:
//!   `a = w + 2^29 (mod 2^32)`, `q = a >> 30`, `x = f32(2 (a mod 2^30) − 2^30 + 1) · 2^-30`,
//!   `φ = πx/4`; `(cos θ, sin θ)` is `(cos φ, sin φ)` turned by `q` quarter turns (a swap and signs).
//!
//! Every operation is an `f32` add, multiply, square root or conversion rounded to nearest, or an
//! exact integer or sign operation: no fused multiply-add, no table, no branch. So the value is the
//! same bits on one lane or vectorized at any level (scalar, AVX2, AVX-512), and an `f64` consumer
//! gets the same value widened: a seed means the same `z` for every dtype.
//!
//! The polynomials are this crate's, Chebyshev interpolants computed with NumPy in `f64` and
//! rounded to `f32`; measured in `f32` arithmetic (no fused operations):
//! - `log₂(1 + f) ≈ f · Q(f)` on `[√2/2 − 1, √2 − 1]`, degree 7: absolute error 1.3e-7, relative
//!   2.9e-7 (with `v = 2^e (1 + f)`, `1 + f` in `[√2/2, √2)`, `f` exact);
//! - `sin(πx/4) ≈ x · S(x²)`, degree 3 in `x²`, and `cos(πx/4) ≈ C(x²)`, degree 4, on `[−1, 1]`:
//!   absolute errors 8.9e-8 and 7.1e-8 (about an ulp of the result).
//!
//! The resulting value is within a few `f32` ulps of `√(−2 ln u) · cos θ` (resp. `sin θ`)
//! evaluated exactly (tested against an `f64` evaluation of the definition).

use super::{Stream, LANES};
use crate::real::Real;

/// `√2 / 2` in `f32` (`0x3f3504f3`): mantissas are reduced into `[√2/2, √2)`.
pub(super) const HALF_SQRT2: u32 = 0x3f35_04f3;
/// `2 ln 2`, rounded to `f32`.
pub(super) const TWO_LN2: f32 = 1.386_294_4;
/// `log₂(1 + f) / f ≈ Q(f) = Q[0] + Q[1] f + … + Q[7] f^7`.
pub(super) const Q: [f32; 8] = [
    std::f32::consts::LOG2_E, // the interpolant's constant term rounds to it
    -0.721_352_93,
    0.480_916_7,
    -0.360_225_17,
    0.287_288_87,
    -0.249_271_82,
    0.232_652_57,
    -0.142_759_74,
];
/// `sin(πx/4) / x ≈ S(y)`, `y = x²`.
pub(super) const SIN: [f32; 4] = [
    std::f32::consts::FRAC_PI_4, // the interpolant's constant term rounds to it
    -0.080_745_436,
    0.002_490_006_9,
    -3.595_429e-5,
];
/// `cos(πx/4) ≈ C(y)`, `y = x²`.
pub(super) const COS: [f32; 5] = [
    1.0,
    -0.308_425_13,
    0.015_854_325,
    -0.000_325_938_6,
    3.529_797_1e-6,
];

/// Normal values per Philox block.
pub const NORMALS_PER_BLOCK: usize = 4;

/// `c[0] + c[1] t + …` by Horner's rule, one rounding per operation.
#[inline(always)]
fn horner<const N: usize>(c: &[f32; N], t: f32) -> f32 {
    let mut p = c[N - 1];
    for &ci in c[..N - 1].iter().rev() {
        p = p * t + ci;
    }
    p
}

/// The radius `√(−2 ln u)` of a pair from its 32-bit word (see the module docs).
#[inline(always)]
pub(super) fn radius(w: u32) -> f32 {
    // v in [0.5, 2^31]: normal, positive.
    let v = ((w >> 1) as i32) as f32 + 0.5;
    // v = 2^e m with m in [√2/2, √2): subtracting √2/2's bits moves the exponent by one exactly
    // when the mantissa is below √2's.
    let ix = v.to_bits().wrapping_sub(HALF_SQRT2);
    let e = (ix as i32) >> 23;
    let f = f32::from_bits((ix & 0x7f_ffff) + HALF_SQRT2) - 1.0;
    // -log2 u = 31 - log2 v >= 0: where e = 31, m <= 1 and f Q(f) <= 0 (Q > 0).
    let t = (31 - e) as f32 - f * horner(&Q, f);
    (t * TWO_LN2).sqrt()
}

/// `(cos θ, sin θ)` of a pair's angle word (see the module docs).
#[inline(always)]
pub(super) fn turn(w: u32) -> (f32, f32) {
    let a = w.wrapping_add(1 << 29);
    let q = a >> 30;
    let s = (a & ((1 << 30) - 1)) as i32 - (1 << 29);
    // An odd integer in (-2^30, 2^30), scaled by a power of two: x in (-1, 1), symmetric.
    let x = (2 * s + 1) as f32 * (1.0 / (1u32 << 30) as f32);
    let y = x * x;
    let (sn, cs) = (x * horner(&SIN, y), horner(&COS, y));
    // Turned by q quarter turns: (c, s), (-s, c), (-c, -s), (s, -c).
    let (c, s) = if q & 1 == 1 { (sn, cs) } else { (cs, sn) };
    let c = f32::from_bits(c.to_bits() ^ (((q + 1) & 2) << 30));
    let s = f32::from_bits(s.to_bits() ^ ((q & 2) << 30));
    (c, s)
}

/// The two normal values of the pair of words `(radius, angle)`: the cosine and the sine branch.
#[inline(always)]
pub(super) fn pair(rw: u32, aw: u32) -> (f32, f32) {
    let r = radius(rw);
    let (c, s) = turn(aw);
    (r * c, r * s)
}

impl Stream {
    /// Normal value `i` as the `f32` it is defined as.
    pub fn normal32(&self, i: u64) -> f32 {
        let w = self.block(i / NORMALS_PER_BLOCK as u64);
        let j = (i % NORMALS_PER_BLOCK as u64) as usize;
        let (c, s) = pair(w[j & 2], w[(j & 2) + 1]);
        if j & 1 == 0 {
            c
        } else {
            s
        }
    }

    /// [`Stream::fill_normal`], compiled for the dispatched level.
    #[inline(always)]
    #[allow(clippy::needless_range_loop)] // struct of arrays: one index, several arrays
    pub(super) fn normal_body<T: Real>(&self, start: u64, out: &mut [T]) {
        const PER: u64 = NORMALS_PER_BLOCK as u64;
        const GROUP: usize = LANES * NORMALS_PER_BLOCK;
        let mut i = start;
        let mut rest = out;
        while !rest.is_empty() {
            let b0 = i / PER;
            let c = self.blocks(b0);
            // Pair m = 2l + p of the group is words (2p, 2p + 1) of lane l: its values are 2m and
            // 2m + 1 of the group (stride-2 interleaves, which vectorize as shuffles).
            let (mut rw, mut aw) = ([0u32; 2 * LANES], [0u32; 2 * LANES]);
            for l in 0..LANES {
                (rw[2 * l], rw[2 * l + 1]) = (c[0][l], c[2][l]);
                (aw[2 * l], aw[2 * l + 1]) = (c[1][l], c[3][l]);
            }
            let (mut zc, mut zs) = ([0.0f32; 2 * LANES], [0.0f32; 2 * LANES]);
            for m in 0..2 * LANES {
                (zc[m], zs[m]) = pair(rw[m], aw[m]);
            }
            let first = (i - b0 * PER) as usize;
            let take = (GROUP - first).min(rest.len());
            let (now, tail) = rest.split_at_mut(take);
            if take == GROUP {
                for (m, o) in now.chunks_exact_mut(2).enumerate() {
                    o[0] = T::from_f64(f64::from(zc[m]));
                    o[1] = T::from_f64(f64::from(zs[m]));
                }
            } else {
                for (o, q) in now.iter_mut().zip(first..) {
                    let v = if q % 2 == 0 { zc[q / 2] } else { zs[q / 2] };
                    *o = T::from_f64(f64::from(v));
                }
            }
            i = i.wrapping_add(take as u64); // wraps only after the last value (index 2^64 - 1)
            rest = tail;
        }
    }
}
