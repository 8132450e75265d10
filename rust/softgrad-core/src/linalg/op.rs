//! Linear operators: what a Krylov method needs from a matrix or a preconditioner.

use crate::{Par, Result};

/// A square linear map `y = A x` on vectors of length [`LinOp::dim`].
///
/// Implemented by the CSR matrix, by every preconditioner (applying `M⁻¹`) and, in the bindings, by
/// a Python callable. Vectors are `f64` whatever the storage type of the matrix.
pub trait LinOp {
    /// The number of rows and of columns.
    fn dim(&self) -> usize;
    /// Writes `y = A x`; `x` and `y` have length [`LinOp::dim`].
    fn apply(&self, x: &[f64], y: &mut [f64], par: Par) -> Result<()>;

    /// Writes `y = A x` and returns `xᵀy`, summed in the fixed pieces of
    /// [`dot`](crate::linalg::vec::dot) (so bit-identical to it); an operator may fuse the two
    /// (the triangular solves do). `func` names the caller in errors.
    fn apply_and_dot(&self, func: &'static str, x: &[f64], y: &mut [f64], par: Par) -> Result<f64> {
        self.apply(x, y, par)?;
        crate::linalg::vec::dot(func, x, y, par)
    }
}
