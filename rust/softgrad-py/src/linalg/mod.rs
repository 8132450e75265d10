//! Bindings of `softgrad_core::linalg`: the submodule `softgrad._core.linalg`, one file per core
//! concern (see `relax/mod.rs` for what a binding costs). A sparse matrix arrives as its CSR
//! arrays ([`csr`]), borrowed for the call; preconditioners are [`precond::Preconditioner`]
//! objects owning their factors.
#![allow(clippy::too_many_arguments)]

pub mod cg;
pub mod csr;
pub mod precond;

use pyo3::prelude::*;

/// Adds the `linalg` submodule to `_core`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    crate::submodule(m, "linalg", fill)
}

/// The bindings of the submodule, one line per binding file.
fn fill(m: &Bound<'_, PyModule>) -> PyResult<()> {
    precond::register(m)?;
    cg::register(m)?;
    Ok(())
}
