//! The x86-64 implementations of the vector types: AVX2+FMA (two 256-bit registers per vector) and
//! AVX-512 (one 512-bit register, masked tails, `VSCALEFPD` for `2^k`).
//!
//! Safety: every method calls `std::arch` intrinsics of its level. Values of these types are only
//! made by kernels that [`vectorize`](super::vectorize) runs at that level, after it checked that
//! the CPU has the level's features (the types are crate-private and carry no other constructor),
//! so each `unsafe` block below relies on that check (debug builds assert it where values are
//! made); pointer accesses are bounded by the slice lengths checked in the same method.

use std::arch::x86_64::*;

use super::vector::{elem, Elem, F32x, F64x, Isa, Lanes, W, W32};
use crate::real::Real;

/// AVX2 + FMA.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx2;
/// AVX-512 F/DQ/BW/VL.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx512;

impl Isa for Avx2 {
    type F64 = Y;
    type F32 = Y32;
}
impl Isa for Avx512 {
    type F64 = Z;
    type F32 = Z32;
}

/// Eight `f64` lanes in two AVX registers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Y([__m256d; 2]);
/// Sixteen `f32` lanes in two AVX registers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Y32([__m256; 2]);
/// Eight `f64` lanes in one AVX-512 register.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Z(__m512d);
/// Sixteen `f32` lanes in one AVX-512 register.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Z32(__m512);

/// Scalar copy of the lanes, for element types without vector loads.
type Arr = Lanes<W, true>;

/// Debug builds: the CPU check that makes the methods below sound was done for `level`.
#[inline(always)]
fn made_at(level: super::Level) {
    debug_assert!(
        super::level() >= level,
        "{level:?} vector made outside vectorize"
    );
}

const ROUND: i32 = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;

mod avx2;
mod avx512;
