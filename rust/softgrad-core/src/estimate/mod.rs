//! Gradient estimation for black boxes (capability 1): derivatives of functions that only return
//! values.
//!
//! - [`fd`]: finite differences (forward, backward, central stencils of any even order, complex
//!   step, Richardson extrapolation): the evaluation points and the assembly of the estimate from
//!   the values there, sparse Jacobians by colouring and Hessians. The caller (the Python facade)
//!   evaluates the function.
//! - [`zo`]: randomized (zeroth-order) estimators along counter-generated directions, and the
//!   in-place perturbations of MeZO.
//! - [`colour`]: colourings of sparsity patterns (column and star colourings).

pub mod colour;
pub mod fd;
pub mod zo;
