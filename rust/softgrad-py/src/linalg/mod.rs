//! Bindings of `softgrad_core::linalg`: one file and one submodule of `softgrad._core` per core
//! module. Operators arrive as Python callables and run as core `LinOp`s through [`pyop`].

pub mod hutchinson;
pub mod lanczos;
pub mod poly;
pub mod pyop;
pub mod steihaug;

use pyo3::prelude::*;

/// Adds the linear-algebra submodules to `_core`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    crate::submodule(m, "lanczos", lanczos::register)?;
    crate::submodule(m, "hutchinson", hutchinson::register)?;
    crate::submodule(m, "steihaug", steihaug::register)?;
    crate::submodule(m, "poly", poly::register)?;
    Ok(())
}
