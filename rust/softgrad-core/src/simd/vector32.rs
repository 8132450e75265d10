//! [`W32`] lanes of `f32` (the vector type the `f32` data of the exponential kernels is computed
//! in) and its portable implementation; the x86 ones are in `x86`.

use super::vector::{F64x, Isa, Lanes, Portable, W, W32};

/// [`W32`] lanes of `f32`: the lanes `f32` data is exponentiated in (see `math32`).
///
/// Every operation rounds once to `f32` as IEEE 754 prescribes, fused multiply-adds included (the
/// portable level emulates them exactly), so a kernel over these lanes gives the same bits at every
/// level. Comparisons are ordered (false on NaN); `max_with`/`min_with` return `self` when either
/// operand is NaN.
pub(crate) trait F32x: Copy {
    /// The `f64` vector [`F32x::widen`] gives.
    type F64: F64x;
    /// A lane mask.
    type M: Copy;
    /// Every lane `v`.
    fn splat(v: f32) -> Self;
    /// `s[..W32]`.
    fn load(s: &[f32]) -> Self;
    /// `s` (at most `W32` long), the lanes past its end set to `pad`.
    fn load_partial(s: &[f32], pad: f32) -> Self;
    /// Stores into `s[..W32]`.
    fn store(self, s: &mut [f32]);
    /// Stores the first `s.len()` (at most `W32`) lanes into `s`; writes nothing past `s`.
    fn store_partial(self, s: &mut [f32]);
    /// `self + o` (rounded once to `f32`).
    fn add(self, o: Self) -> Self;
    /// `self - o`.
    fn sub(self, o: Self) -> Self;
    /// `self * o`.
    fn mul(self, o: Self) -> Self;
    /// `self * b + c`, rounded once (fused at every level).
    fn mul_add(self, b: Self, c: Self) -> Self;
    /// `c - self * b`, rounded once (fused at every level).
    fn neg_mul_add(self, b: Self, c: Self) -> Self;
    /// NaN-propagating maximum.
    fn pmax(self, o: Self) -> Self;
    /// `max(self, lo)`, NaN staying NaN.
    fn max_with(self, lo: Self) -> Self;
    /// `min(self, hi)`, NaN staying NaN.
    fn min_with(self, hi: Self) -> Self;
    /// Rounds to the nearest integer, ties to even (for `|self| < 2^22`).
    fn round(self) -> Self;
    /// `self * 2^k` for integer-valued `k` in `[-151, 128]` and `self` in `[0.5, 2]`, rounded once
    /// (gradual underflow, overflow to `inf`).
    fn scale2(self, k: Self) -> Self;
    /// For finite `self > 0` in the normal range: `(m, e)` with `self = m 2^e`, `m` in `[1, 2)`
    /// (other lanes: unspecified values).
    fn split_exp(self) -> (Self, Self);
    /// `self == o` per lane.
    fn eq(self, o: Self) -> Self::M;
    /// `self < o` per lane.
    fn lt(self, o: Self) -> Self::M;
    /// `m ? a : b` per lane.
    fn select(m: Self::M, a: Self, b: Self) -> Self;
    /// `m ? a : b` per lane where `a >= b >= +0` (indices): where the mask is a vector (AVX2),
    /// `max(b, a & m)`, two single-cycle operations instead of a multi-cycle blend.
    #[inline(always)]
    fn select_larger(m: Self::M, a: Self, b: Self) -> Self {
        Self::select(m, a, b)
    }
    /// The low and high halves, widened to `f64` (exact).
    fn widen(self) -> (Self::F64, Self::F64);
}

/// `a * b + c` rounded once to `f32`: the fused multiply-add where the target has one, else its
/// exact emulation. `a * b` is exact in `f64`; the `f64` sum is rounded to odd (the neighbour with
/// an odd last bit when inexact), after which rounding to `f32` is correct: Boldo & Melquiond,
/// "Emulation of FMA and correctly rounded sums: proved algorithms using rounding to odd", IEEE
/// Trans. Computers 57(4), 2008 (53 >= 2 + 24 bits).
#[inline(always)]
pub(crate) fn fma32(a: f32, b: f32, c: f32) -> f32 {
    if cfg!(target_arch = "aarch64") {
        return a.mul_add(b, c);
    }
    let (p, c) = (a as f64 * b as f64, c as f64);
    let s = p + c;
    // TwoSum: the rounding error of `s`.
    let bb = s - p;
    let err = (p - (s - bb)) + (c - bb);
    let bits = s.to_bits();
    let odd = if err != 0.0 && bits & 1 == 0 && s.is_finite() {
        // The neighbour of `s` towards `p + c` (`s` is not zero: a sum that rounds to zero is exact).
        if (err > 0.0) == (s > 0.0) {
            f64::from_bits(bits + 1)
        } else {
            f64::from_bits(bits - 1)
        }
    } else {
        s
    };
    odd as f32
}

/// `1.5 * 2^23`: adding it rounds an `f32` to an integer.
const SHIFT32: f32 = 12_582_912.0;

/// [`W32`] lanes of `f32` as an array.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Lanes32(pub [f32; W32]);

impl Lanes32 {
    #[inline(always)]
    fn zip(self, o: Self, f: impl Fn(f32, f32) -> f32) -> Self {
        Self(std::array::from_fn(|i| f(self.0[i], o.0[i])))
    }
}

/// `2^k` for integer-valued `k` in `[-126, 127]`, built in the exponent bits.
#[inline(always)]
fn pow2_32(k: f32) -> f32 {
    f32::from_bits(((k as i32 + 127) as u32) << 23)
}

impl F32x for Lanes32 {
    type F64 = <Portable as Isa>::F64;
    type M = [bool; W32];
    #[inline(always)]
    fn splat(v: f32) -> Self {
        Self([v; W32])
    }
    #[inline(always)]
    fn load(s: &[f32]) -> Self {
        Self(s[..W32].try_into().expect("W32 lanes"))
    }
    #[inline(always)]
    fn load_partial(s: &[f32], pad: f32) -> Self {
        Self(std::array::from_fn(|i| s.get(i).copied().unwrap_or(pad)))
    }
    #[inline(always)]
    fn store(self, s: &mut [f32]) {
        s[..W32].copy_from_slice(&self.0);
    }
    #[inline(always)]
    fn store_partial(self, s: &mut [f32]) {
        for (o, v) in s.iter_mut().zip(self.0) {
            *o = v;
        }
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        self.zip(o, |a, b| a + b)
    }
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        self.zip(o, |a, b| a - b)
    }
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        self.zip(o, |a, b| a * b)
    }
    #[inline(always)]
    fn mul_add(self, b: Self, c: Self) -> Self {
        Self(std::array::from_fn(|i| fma32(self.0[i], b.0[i], c.0[i])))
    }
    #[inline(always)]
    fn neg_mul_add(self, b: Self, c: Self) -> Self {
        Self(std::array::from_fn(|i| fma32(-self.0[i], b.0[i], c.0[i])))
    }
    #[inline(always)]
    fn pmax(self, o: Self) -> Self {
        self.zip(o, |a, b| if b > a || b.is_nan() { b } else { a })
    }
    #[inline(always)]
    fn max_with(self, lo: Self) -> Self {
        self.zip(lo, |x, lo| if lo > x { lo } else { x })
    }
    #[inline(always)]
    fn min_with(self, hi: Self) -> Self {
        self.zip(hi, |x, hi| if hi < x { hi } else { x })
    }
    #[inline(always)]
    fn round(self) -> Self {
        Self(self.0.map(|x| (x + SHIFT32) - SHIFT32))
    }
    #[inline(always)]
    fn scale2(self, k: Self) -> Self {
        // `self * 2^k1` is exact (a normal number for `self` in [0.5, 2]), the second factor
        // rounds once.
        self.zip(k, |p, k| {
            let k1 = k.clamp(-124.0, 126.0);
            p * pow2_32(k1) * pow2_32(k - k1)
        })
    }
    #[inline(always)]
    fn split_exp(self) -> (Self, Self) {
        let m = self
            .0
            .map(|x| f32::from_bits((x.to_bits() & 0x007f_ffff) | 0x3f80_0000));
        let e = self.0.map(|x| ((x.to_bits() >> 23) as i32 - 127) as f32);
        (Self(m), Self(e))
    }
    #[inline(always)]
    fn eq(self, o: Self) -> Self::M {
        std::array::from_fn(|i| self.0[i] == o.0[i])
    }
    #[inline(always)]
    fn lt(self, o: Self) -> Self::M {
        std::array::from_fn(|i| self.0[i] < o.0[i])
    }
    #[inline(always)]
    fn select(m: Self::M, a: Self, b: Self) -> Self {
        Self(std::array::from_fn(|i| if m[i] { a.0[i] } else { b.0[i] }))
    }
    #[inline(always)]
    fn widen(self) -> (Self::F64, Self::F64) {
        (
            Lanes(std::array::from_fn(|i| self.0[i] as f64)),
            Lanes(std::array::from_fn(|i| self.0[W + i] as f64)),
        )
    }
}
