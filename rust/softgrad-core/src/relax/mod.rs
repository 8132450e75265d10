//! Differentiable relaxations of hard operations (capability 2).
//!
//! - [`logsumexp`]: the log-sum-exp family: `t ln Σ b e^{x/t}` (the smooth maximum, with sign and
//!   weights), `softmax(x/t)` and `log_softmax(x/t)`, and the pullbacks of all three.
//! - [`maxplus`]: tropical (max-plus / min-plus) matrix products, batched, with the argmax.
//! - [`soft_dtw`]: soft dynamic time warping between time series, and its gradient.
//! - [`soft_maxplus`]: the log-semiring (soft max-plus / min-plus) matrix product, and its derivatives.
//! - [`sort`]: soft sorting and ranking (projections onto the permutahedron, by isotonic regression).
//!
//! Arrays are row-major and reduced over the middle axis of an `(outer, n, inner)` [`Layout`], which
//! covers any single axis, any run of adjacent axes and the whole array without copying.

pub mod logsumexp;
pub mod maxplus;
pub mod soft_dtw;
pub mod soft_maxplus;
pub mod sort;
#[cfg(test)]
pub(crate) mod testutil;

use crate::error::{Error, Result};
pub use crate::par::Layout;

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
