//! `softgrad._core`: thin PyO3 bindings over `softgrad-core`.
//!
//! Each binding extracts its arrays, checks them, releases the GIL, calls the core and converts the
//! result. Shapes and axes are normalised by the Python facade (`python/softgrad`), which is the
//! public API; nothing here is meant to be called directly.

mod config;
mod convert;
mod errors;
mod logsumexp;

use pyo3::prelude::*;

#[pymodule]
#[pyo3(name = "_core")]
fn core_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    config::register(m)?;
    logsumexp::register(m)?;
    Ok(())
}
