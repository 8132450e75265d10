//! Sparse linear algebra for second-order methods: a borrowed CSR view, preconditioners and
//! Krylov solvers.
//!
//! - [`op`]: the [`LinOp`] trait every matrix, preconditioner and callback implements;
//! - [`csr`]: [`Csr`], a borrowed view of a caller's CSR arrays (`i32`/`i64` indices, `f32`/`f64`
//!   values, checked once, never copied), its fused matrix-vector product and symmetry check,
//!   and [`CsrBuf`], an owned copy for operators that outlive the caller's arrays;
//! - [`jacobi`], [`ssor`], [`ilu`]: the preconditioners (Jacobi, block Jacobi, SSOR, IC(0),
//!   ILU(0)), each applying `M⁻¹`;
//! - [`tri`]: the level-scheduled sparse triangular solves behind SSOR, IC(0) and ILU(0);
//! - [`cg`]: preconditioned conjugate gradients;
//! - [`packed`]: a compact owned copy of the scaled matrix `S A S` behind Jacobi-PCG (runs of rows
//!   that share their offsets and values, else CSR with `u32` columns);
//! - [`lanczos`]: extreme eigenpairs of a symmetric operator (full reorthogonalisation, implicit QL
//!   on the tridiagonal matrix, locking of converged pairs);
//! - [`hutchinson`]: randomized estimates of the diagonal and the trace;
//! - [`steihaug`]: truncated CG for the trust-region subproblem (Steihaug–Toint);
//! - [`poly`]: polynomial preconditioners (Chebyshev, Neumann) applied through the operator.
//!
//! **Substrate.** faer 0.24 has CSR types, products, triangular solves and a CG. It was measured
//! against this module on the 2-D Poisson matrix (see the commit that introduced it): it adds
//! minutes of compile time on two cores for no measured gain on these kernels, and none of the
//! preconditioners, so the view here is our own.
//!
//! **Determinism.** Reductions run over fixed pieces of rows combined left to right, and each row
//! of a triangular solve is the same sum in the same order whichever schedule runs it, so one and
//! many threads give the same bits.

pub mod cg;
pub mod csr;
pub mod hutchinson;
pub mod ilu;
pub mod jacobi;
pub mod lanczos;
pub mod op;
pub mod packed;
pub mod poly;
pub mod ssor;
pub mod steihaug;
#[cfg(test)]
mod tests;
pub mod tri;
pub mod vec;

pub use csr::{Csr, CsrBuf, Index};
pub use op::LinOp;

/// `x > 0` (false for NaN): positive pivots, curvatures and diagonals.
#[inline(always)]
pub(crate) fn positive(x: f64) -> bool {
    x > 0.0
}
