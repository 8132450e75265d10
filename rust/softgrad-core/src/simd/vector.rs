//! The vector abstraction the explicit kernels are written over, and its portable implementation.
//!
//! A kernel is written once, generic over an [`Isa`] (the lane types of one instruction-set level),
//! as a [`Kernel`] run by [`vectorize`](super::vectorize). Every level has the same *logical* width
//! ([`W`] f64 lanes, [`W32`] f32 lanes): AVX-512 holds it in one register, AVX2 in two, the portable
//! code in an array that LLVM vectorises for the baseline target. A fixed width means a fixed number
//! of accumulators, so sums are taken in the same order at every level.
//!
//! Loads widen `f32` to `f64` and stores narrow, so a kernel over `T: Real` computes in `f64`; the
//! exponential kernels take `f32` data in [`F32x`] lanes instead (see `contiguous32`), whose
//! operations round once to `f32` at every level, and widen ([`F32x::widen`]) where they accumulate.

use crate::real::Real;

pub(crate) use super::vector32::{F32x, Lanes32};

/// Logical `f64` lanes of an [`F64x`] at every level.
pub(crate) const W: usize = 8;
/// Logical `f32` lanes of an [`F32x`] at every level.
pub(crate) const W32: usize = 16;

/// The lane types of one instruction-set level.
pub(crate) trait Isa: Copy {
    /// [`W`] lanes of `f64`.
    type F64: F64x;
    /// [`W32`] lanes of `f32`, widening to two [`Isa::F64`].
    type F32: F32x<F64 = Self::F64>;
}

/// A kernel written once over the vector types; [`vectorize`](super::vectorize) runs it at a level.
pub(crate) trait Kernel {
    /// What the kernel returns.
    type Output;
    /// The body, monomorphised per level; must be `#[inline(always)]` so that it is compiled inside
    /// the level's `#[target_feature]` trampoline.
    fn run<S: Isa>(self) -> Self::Output;
}

/// [`W`] lanes of `f64`. Comparisons are ordered (false on NaN); `max_with`/`min_with` return
/// `self` when either operand is NaN, so clamps let NaN through.
pub(crate) trait F64x: Copy {
    /// A lane mask.
    type M: Copy;
    /// Every lane `v`.
    fn splat(v: f64) -> Self;
    /// `s[..W]` widened to `f64`.
    fn load<T: Real>(s: &[T]) -> Self;
    /// `s` (at most `W` long) widened, the lanes past its end set to `pad`; reads nothing past `s`.
    fn load_partial<T: Real>(s: &[T], pad: f64) -> Self;
    /// Narrows into `s[..W]`.
    fn store<T: Real>(self, s: &mut [T]);
    /// Narrows the first `s.len()` (at most `W`) lanes into `s`; writes nothing past `s`.
    fn store_partial<T: Real>(self, s: &mut [T]);
    /// Like [`F64x::store`] through non-temporal stores where the level has them; `s` must start at a
    /// multiple of `W * size_of::<T>()` bytes. Used only by [`stream`](super::stream).
    fn store_stream<T: Real>(self, s: &mut [T]);
    /// The lanes as an array.
    fn to_array(self) -> [f64; W];
    /// `self + o`.
    fn add(self, o: Self) -> Self;
    /// `self - o`.
    fn sub(self, o: Self) -> Self;
    /// `self * o`.
    fn mul(self, o: Self) -> Self;
    /// `self / o`.
    #[cfg_attr(not(test), allow(dead_code))] // for soft-DTW and the max-plus kernels (next issues)
    fn div(self, o: Self) -> Self;
    /// `self * b + c`, fused where the level has FMA.
    fn mul_add(self, b: Self, c: Self) -> Self;
    /// `c - self * b`, fused where the level has FMA.
    fn neg_mul_add(self, b: Self, c: Self) -> Self;
    /// `max(self, lo)`, NaN staying NaN.
    fn max_with(self, lo: Self) -> Self;
    /// `min(self, hi)`, NaN staying NaN.
    fn min_with(self, hi: Self) -> Self;
    /// Rounds to the nearest integer, ties to even (for `|self| < 2^51`).
    fn round(self) -> Self;
    /// `self * 2^k` for integer-valued `k` in `[-2044, 2044]`, one rounding (gradual underflow,
    /// overflow to `inf`).
    fn scale2(self, k: Self) -> Self;
    #[cfg_attr(not(test), allow(dead_code))] // for soft-DTW and the max-plus kernels (next issues)
    /// For finite `self > 0` in the normal range: `(m, e)` with `self = m 2^e`, `m` in `[1, 2)`.
    fn split_exp(self) -> (Self, Self);
    /// `self == o` per lane.
    fn eq(self, o: Self) -> Self::M;
    /// `self < o` per lane.
    fn lt(self, o: Self) -> Self::M;
    /// The first `n` lanes (`n <= W`).
    fn first(n: usize) -> Self::M;
    /// `m ? a : b` per lane.
    fn select(m: Self::M, a: Self, b: Self) -> Self;
    /// `m ? a : b` per lane where `a >= b >= +0` (indices): where the mask is a vector (AVX2),
    /// `max(b, a & m)`, two single-cycle operations instead of a multi-cycle blend.
    #[inline(always)]
    fn select_larger(m: Self::M, a: Self, b: Self) -> Self {
        Self::select(m, a, b)
    }
    /// `self + o` in the lanes of `m`, `self` elsewhere.
    #[inline(always)]
    fn add_where(self, m: Self::M, o: Self) -> Self {
        Self::select(m, self.add(o), self)
    }
    /// `self + o` outside the lanes of `m`, `self` in them.
    #[inline(always)]
    fn add_where_not(self, m: Self::M, o: Self) -> Self {
        Self::select(m, self, self.add(o))
    }
}

/// Which element type a `T: Real` is, so that loads and stores can use the element's vector
/// instructions (other `Real` types go through `to_f64`/`from_f64` lane by lane).
#[derive(PartialEq, Eq)]
pub(crate) enum Elem {
    F32,
    F64,
    Other,
}

/// The [`Elem`] of `T` (a constant after monomorphisation).
#[inline(always)]
pub(crate) fn elem<T: 'static>() -> Elem {
    use std::any::TypeId;
    if TypeId::of::<T>() == TypeId::of::<f64>() {
        Elem::F64
    } else if TypeId::of::<T>() == TypeId::of::<f32>() {
        Elem::F32
    } else {
        Elem::Other
    }
}

/// `1.5 * 2^52`: adding it rounds to an integer held in the low mantissa bits.
pub(crate) const SHIFT: f64 = 6_755_399_441_055_744.0;

/// The portable level: arrays that LLVM vectorises for the compile target. `FMA` selects fused
/// multiply-adds (a libm call on x86-64 baseline, one instruction on aarch64).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Portable;

impl Isa for Portable {
    type F64 = Lanes<W, { cfg!(target_arch = "aarch64") }>;
    type F32 = Lanes32;
}

/// `N` lanes of `f64` as an array; `Lanes<1, FMA>` is the scalar twin of every vector routine.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Lanes<const N: usize, const FMA: bool>(pub [f64; N]);

impl<const N: usize, const FMA: bool> Lanes<N, FMA> {
    #[inline(always)]
    fn map(self, f: impl Fn(f64) -> f64) -> Self {
        Self(self.0.map(f))
    }
    #[inline(always)]
    fn zip(self, o: Self, f: impl Fn(f64, f64) -> f64) -> Self {
        Self(std::array::from_fn(|i| f(self.0[i], o.0[i])))
    }
}

impl<const N: usize, const FMA: bool> F64x for Lanes<N, FMA> {
    type M = [bool; N];
    #[inline(always)]
    fn splat(v: f64) -> Self {
        Self([v; N])
    }
    #[inline(always)]
    fn load<T: Real>(s: &[T]) -> Self {
        let s = &s[..N];
        Self(std::array::from_fn(|i| s[i].to_f64()))
    }
    #[inline(always)]
    fn load_partial<T: Real>(s: &[T], pad: f64) -> Self {
        Self(std::array::from_fn(|i| {
            s.get(i).map_or(pad, |v| v.to_f64())
        }))
    }
    #[inline(always)]
    fn store<T: Real>(self, s: &mut [T]) {
        for (o, v) in s[..N].iter_mut().zip(self.0) {
            *o = T::from_f64(v);
        }
    }
    #[inline(always)]
    fn store_partial<T: Real>(self, s: &mut [T]) {
        for (o, v) in s.iter_mut().zip(self.0) {
            *o = T::from_f64(v);
        }
    }
    #[inline(always)]
    fn store_stream<T: Real>(self, s: &mut [T]) {
        self.store(s)
    }
    #[inline(always)]
    fn to_array(self) -> [f64; W] {
        std::array::from_fn(|i| if i < N { self.0[i] } else { 0.0 })
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
    fn div(self, o: Self) -> Self {
        self.zip(o, |a, b| a / b)
    }
    #[inline(always)]
    fn mul_add(self, b: Self, c: Self) -> Self {
        Self(std::array::from_fn(|i| {
            if FMA {
                self.0[i].mul_add(b.0[i], c.0[i])
            } else {
                self.0[i] * b.0[i] + c.0[i]
            }
        }))
    }
    #[inline(always)]
    fn neg_mul_add(self, b: Self, c: Self) -> Self {
        Self(std::array::from_fn(|i| {
            if FMA {
                (-self.0[i]).mul_add(b.0[i], c.0[i])
            } else {
                c.0[i] - self.0[i] * b.0[i]
            }
        }))
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
        self.map(|x| (x + SHIFT) - SHIFT)
    }
    #[inline(always)]
    fn scale2(self, k: Self) -> Self {
        // Two exact power-of-two factors, each a normal number for |k| <= 2044.
        let pow2 = |kf: f64| {
            let bits = (kf + SHIFT)
                .to_bits()
                .wrapping_sub(SHIFT.to_bits())
                .wrapping_add(1023);
            f64::from_bits(bits << 52)
        };
        let k1 = k.mul(Self::splat(0.5)).round();
        let k2 = k.sub(k1);
        Self(std::array::from_fn(|i| {
            self.0[i] * pow2(k1.0[i]) * pow2(k2.0[i])
        }))
    }
    #[inline(always)]
    fn split_exp(self) -> (Self, Self) {
        let m = self.map(|x| f64::from_bits((x.to_bits() & ((1 << 52) - 1)) | (1023 << 52)));
        let e = self.map(|x| ((x.to_bits() >> 52) as i64 - 1023) as f64);
        (m, e)
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
    fn first(n: usize) -> Self::M {
        std::array::from_fn(|i| i < n)
    }
    #[inline(always)]
    fn select(m: Self::M, a: Self, b: Self) -> Self {
        Self(std::array::from_fn(|i| if m[i] { a.0[i] } else { b.0[i] }))
    }
}
