//! Differentiable relaxations of hard operations (capability 2).
//!
//! - [`logsumexp`]: `t ln Σ b e^{x/t}`, the smooth maximum, with sign and weights.
//! - [`softmax`]: `softmax(x/t)` and `log_softmax(x/t)`, its gradient and log-gradient;
//!   [`softmax_grad`]: their pullbacks, fused.
//!
//! Arrays are row-major and reduced over the middle axis of an `(outer, n, inner)` [`Layout`], which
//! covers any single axis, any run of adjacent axes and the whole array without copying.

pub mod logsumexp;
pub mod softmax;
pub mod softmax_grad;
#[cfg(test)]
pub(crate) mod testutil;

use crate::error::{Error, Result};

/// Values per piece of a within-row reduction. Fixed, so results do not depend on the thread count.
pub const CHUNK: usize = 2048;

/// A contiguous array seen as `(outer, n, inner)`, reduced over `n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Product of the dimensions before the reduced ones.
    pub outer: usize,
    /// Product of the reduced dimensions.
    pub n: usize,
    /// Product of the dimensions after the reduced ones.
    pub inner: usize,
}

impl Layout {
    /// Layout of an `(outer, n, inner)` array.
    pub fn new(outer: usize, n: usize, inner: usize) -> Self {
        Layout { outer, n, inner }
    }

    /// Number of elements, or an error if it overflows `usize`.
    pub fn len(&self, func: &'static str) -> Result<usize> {
        self.outer
            .checked_mul(self.n)
            .and_then(|v| v.checked_mul(self.inner))
            .ok_or_else(|| Error::param(func, "shape", "is too large"))
    }

    /// Number of reduced outputs, `outer * inner`.
    pub fn outputs(&self) -> usize {
        self.outer * self.inner
    }
}

/// Fails unless `t` is finite and positive.
pub(crate) fn check_temperature(func: &'static str, t: f64) -> Result<()> {
    if t.is_finite() && t > 0.0 {
        Ok(())
    } else {
        Err(Error::param(
            func,
            "temperature",
            format!("must be finite and > 0, got {t}"),
        ))
    }
}
