//! Bindings of `softgrad_core::linalg`, one file per core concern (see `relax/mod.rs` for what a
//! binding costs). A sparse matrix arrives as its CSR arrays ([`csr`]), borrowed for the call;
//! preconditioners are [`precond::Preconditioner`] objects owning their factors (submodule
//! `softgrad._core.linalg`). The Krylov methods on operators (`lanczos`, `hutchinson`, `steihaug`,
//! `poly`: one submodule each) take Python callables, run as core `LinOp`s through [`pyop`].
#![allow(clippy::too_many_arguments)]

pub mod cg;
pub mod csr;
pub mod hutchinson;
pub mod lanczos;
pub mod poly;
pub mod precond;
pub mod pyop;
pub mod steihaug;

use pyo3::prelude::*;

/// Adds the `linalg` submodule and the Krylov submodules to `_core`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    crate::submodule(m, "linalg", fill)?;
    crate::submodule(m, "lanczos", lanczos::register)?;
    crate::submodule(m, "hutchinson", hutchinson::register)?;
    crate::submodule(m, "steihaug", steihaug::register)?;
    crate::submodule(m, "poly", poly::register)?;
    Ok(())
}

/// The bindings of the `linalg` submodule, one line per binding file.
fn fill(m: &Bound<'_, PyModule>) -> PyResult<()> {
    precond::register(m)?;
    cg::register(m)?;
    Ok(())
}
