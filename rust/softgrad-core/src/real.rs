//! The floating-point element types kernels accept. Arithmetic is always carried out in `f64`.

/// An element type of input and output arrays: `f32` or `f64`.
///
/// Kernels widen to `f64` on load and narrow on store, so `f32` data is accumulated in `f64`. The
/// SIMD layer loads and stores `f32` and `f64` with vector instructions (see `simd::vector`); any
/// other implementation goes through these two conversions lane by lane.
pub trait Real: Copy + Send + Sync + PartialEq + std::fmt::Debug + 'static {
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
