//! The floating-point element types kernels accept. Sums are always carried in `f64`; `f32` data
//! is exponentiated in `f32` lanes ([`Real::as_f32`]).

/// An element type of input and output arrays: `f32` or `f64`.
///
/// Kernels widen to `f64` on load and narrow on store, so `f32` data is accumulated in `f64`. The
/// SIMD layer loads and stores `f32` and `f64` with vector instructions (see `simd::vector`) and
/// computes the transcendentals of `f32` data in `f32` lanes, found through [`Real::as_f32`]; any
/// other implementation goes through these two conversions lane by lane.
pub trait Real: Copy + Send + Sync + PartialEq + std::fmt::Debug + 'static {
    /// Widens to `f64` (exact).
    fn to_f64(self) -> f64;
    /// Narrows from `f64` (round to nearest).
    fn from_f64(v: f64) -> Self;
    /// `s` as `f32` data when `Self` is `f32` (so kernels can pick their `f32`-lane body without
    /// `unsafe`); `None` for every other type.
    #[inline(always)]
    fn as_f32(s: &[Self]) -> Option<&[f32]> {
        let _ = s;
        None
    }
    /// [`Real::as_f32`] for an output slice.
    #[inline(always)]
    fn as_f32_mut(s: &mut [Self]) -> Option<&mut [f32]> {
        let _ = s;
        None
    }
    /// `s` as `f64` data when `Self` is `f64` (so kernels that work in `f64` can skip a widening
    /// copy); `None` for every other type.
    #[inline(always)]
    fn as_f64(s: &[Self]) -> Option<&[f64]> {
        let _ = s;
        None
    }
    /// [`Real::as_f64`] for an output slice.
    #[inline(always)]
    fn as_f64_mut(s: &mut [Self]) -> Option<&mut [f64]> {
        let _ = s;
        None
    }
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
    #[inline(always)]
    fn as_f64(s: &[Self]) -> Option<&[f64]> {
        Some(s)
    }
    #[inline(always)]
    fn as_f64_mut(s: &mut [Self]) -> Option<&mut [f64]> {
        Some(s)
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
    #[inline(always)]
    fn as_f32(s: &[Self]) -> Option<&[f32]> {
        Some(s)
    }
    #[inline(always)]
    fn as_f32_mut(s: &mut [Self]) -> Option<&mut [f32]> {
        Some(s)
    }
}
