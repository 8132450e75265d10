//! `softgrad._core`: thin PyO3 bindings over `softgrad-core`.
//!
//! Settings and exceptions live at the top of `_core`; each family of operations is a submodule
//! (`softgrad._core.logsumexp`) bound in one file (`relax/logsumexp.rs`). A binding is one short
//! function: typed arguments ([`convert`]), the body under [`with_float!`](convert::with_float) (dtype dispatch and the
//! panic guard), the core call under [`call::EnterCore::enter_core`] (GIL released, errors mapped,
//! Ctrl-C honoured). Shapes and axes are normalised by the Python facade (`python/softgrad`), which
//! is the public API; nothing here is meant to be called directly.
// These docs are for maintainers: they link the crate's private items.
#![allow(rustdoc::private_intra_doc_links)]

mod cache;
mod call;
mod config;
mod convert;
mod errors;
mod estimate;
mod linalg;
mod relax;

use pyo3::prelude::*;

// Free-threaded CPython: no GIL needed (statics are OnceLock/Mutex/atomics, kernels already run detached).
#[pymodule(gil_used = false)]
#[pyo3(name = "_core")]
fn core_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    convert::warm_up(m.py())?;
    call::init(m.py())?;
    errors::register(m)?;
    config::register(m)?;
    relax::register(m)?;
    estimate::register(m)?;
    linalg::register(m)?;
    m.add_function(wrap_pyfunction!(cache::copy, m)?)?;
    // Test and settings hooks: set, not added, to keep them out of `__all__`.
    m.setattr("_buffer_cache", wrap_pyfunction!(cache::_buffer_cache, m)?)?;
    // A test hook: set, not added, to keep it out of `__all__`.
    m.setattr("_panic", wrap_pyfunction!(call::panic_for_tests, m)?)?;
    Ok(())
}

/// Adds the submodule `name` of `parent`, filled by `fill`, and registers it in `sys.modules` (as
/// `softgrad._core.<name>`) so that `import softgrad._core.<name>` works.
fn submodule(
    parent: &Bound<'_, PyModule>,
    name: &str,
    fill: fn(&Bound<'_, PyModule>) -> PyResult<()>,
) -> PyResult<()> {
    let py = parent.py();
    let full = format!("softgrad._core.{name}");
    let m = PyModule::new(py, &full)?;
    fill(&m)?;
    parent.add(name, &m)?;
    py.import("sys")?.getattr("modules")?.set_item(full, &m)?;
    Ok(())
}
