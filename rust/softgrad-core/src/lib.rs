//! Numeric core of **softgrad**: optimizing what has no usable gradient.
//!
//! Pure Rust: no Python types, no numpy. Every kernel takes slices in, writes plain Rust out and takes
//! its parallelism as an argument ([`par::Par`]). The Python package `softgrad` binds it through the
//! `softgrad-py` crate.
//!
//! The four capabilities of the library, and where they live:
//! 1. gradient estimation for black boxes: [`estimate`] (finite differences; next: colouring, SPSA,
//!    seeded perturbations);
//! 2. relaxations with value, VJP and JVP: [`relax`] (log-sum-exp, softmax, smooth max, ...);
//! 3. second order: [`linalg`] (a borrowed CSR view, Jacobi / block-Jacobi / SSOR / IC(0) /
//!    ILU(0) preconditioners, level-scheduled triangular solves, preconditioned CG, Lanczos,
//!    Hutchinson, Steihaug-CG, polynomial preconditioners);
//! 4. optimizers: zeroth-, first- and second-order state machines with ask/tell.
//!
//! Shared infrastructure: [`error`] (one error enum), [`par`] (deterministic parallelism) and
//! [`simd`] (runtime-dispatched hot loops, each beside its scalar reference).
#![deny(missing_docs)]

pub mod error;
pub mod estimate;
pub mod interrupt;
pub mod linalg;
pub mod par;
pub mod real;
pub mod relax;
pub mod rng;
pub mod simd;

pub use error::{Error, Result};
pub use par::{Layout, Par};
pub use real::Real;
