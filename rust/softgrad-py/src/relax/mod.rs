//! Bindings of `softgrad_core::relax`: one file and one submodule of `softgrad._core` per family.
//!
//! A `#[pyfunction]`'s parameters are its Python signature, hence `too_many_arguments` is allowed.
#![allow(clippy::too_many_arguments)]

pub mod logsumexp;

use pyo3::prelude::*;

/// Adds the family submodules to `_core`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    crate::submodule(m, "logsumexp", logsumexp::register)?;
    Ok(())
}
