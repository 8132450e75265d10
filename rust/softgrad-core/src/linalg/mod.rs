//! Second order: linear operators and the Krylov methods built on them.
//!
//! Everything takes a [`LinOp`] (`y = A x` on `f64` vectors), so the same kernel serves a sparse
//! matrix, a preconditioner or, in the bindings, a Python callable:
//! - [`lanczos`]: extreme eigenpairs of a symmetric operator (full reorthogonalisation, implicit QL
//!   on the tridiagonal matrix, locking of converged pairs);
//! - [`hutchinson`]: randomized estimates of the diagonal and the trace;
//! - [`steihaug`]: truncated CG for the trust-region subproblem (Steihaug–Toint);
//! - [`poly`]: polynomial preconditioners (Chebyshev, Neumann) applied through the operator.

pub mod hutchinson;
pub mod lanczos;
pub mod op;
pub mod poly;
pub mod steihaug;

pub use op::LinOp;
