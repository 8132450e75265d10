//! Bindings of `softgrad_core::estimate`: one file and one submodule of `softgrad._core` per core
//! module (see `relax/mod.rs` for what a binding costs).

pub mod colour;
pub mod fd;
pub mod zo;

use pyo3::prelude::*;

/// Adds the estimation submodules to `_core`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    crate::submodule(m, "colour", colour::register)?;
    crate::submodule(m, "fd", fd::register)?;
    crate::submodule(m, "zo", zo::register)?;
    Ok(())
}
