//! The floating-point element types kernels accept. Arithmetic is always carried out in `f64`.

/// Vector loads and stores of an element type, for the hand-written x86-64 kernels.
#[cfg(target_arch = "x86_64")]
pub trait Lanes: crate::simd::avx512::Load8 + crate::simd::avx2::Load4 {}
#[cfg(target_arch = "x86_64")]
impl Lanes for f32 {}
#[cfg(target_arch = "x86_64")]
impl Lanes for f64 {}

/// Vector loads and stores of an element type (nothing needed off x86-64).
#[cfg(not(target_arch = "x86_64"))]
pub trait Lanes {}
#[cfg(not(target_arch = "x86_64"))]
impl Lanes for f32 {}
#[cfg(not(target_arch = "x86_64"))]
impl Lanes for f64 {}

/// An element type of input and output arrays: `f32` or `f64`.
///
/// Kernels widen to `f64` on load and narrow on store, so `f32` data is accumulated in `f64`.
pub trait Real: Copy + Send + Sync + PartialEq + std::fmt::Debug + Lanes + 'static {
    /// Widens to `f64` (exact).
    fn to_f64(self) -> f64;
    /// Narrows from `f64` (round to nearest).
    fn from_f64(v: f64) -> Self;
}

impl Real for f64 {
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v
    }
}

impl Real for f32 {
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v as f32
    }
}
