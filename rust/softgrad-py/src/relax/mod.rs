//! Bindings of `softgrad_core::relax`: one file and one submodule of `softgrad._core` per family.
//!
//! An op costs: one `#[pyfunction]` whose parameters are its Python signature (arrays as
//! [`Floats`](crate::convert::Floats), `layout` as [`Layout`](crate::convert::Layout), `n_threads` as
//! [`Threads`](crate::convert::Threads)); a body under `with_float!` that turns the other arrays into
//! [`Input`](crate::convert::Input)s (`.of::<T>(F, "name")`) and outputs into
//! [`Out`](crate::convert::Out)s, takes their slices, makes the core call under `py.enter_core` and
//! returns `out.finish()`; one line in the family's `register`; its stub in
//! `python/softgrad/_core/<family>.pyi`; a `Case` row in `tests/test_robustness.py`. A new family:
//! a file here, one `crate::submodule` line below and its stub file.
//!
//! A `#[pyfunction]`'s parameters are its Python signature, hence `too_many_arguments` is allowed.
#![allow(clippy::too_many_arguments)]

pub mod cross_entropy;
pub mod logsumexp;
pub mod maxplus;
pub mod soft_dtw;
pub mod soft_maxplus;
pub mod sort;

use pyo3::prelude::*;

/// Adds the family submodules to `_core`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    crate::submodule(m, "logsumexp", logsumexp::register)?;
    crate::submodule(m, "cross_entropy", cross_entropy::register)?;
    crate::submodule(m, "sort", sort::register)?;
    crate::submodule(m, "maxplus", maxplus::register)?;
    crate::submodule(m, "soft_dtw", soft_dtw::register)?;
    crate::submodule(m, "soft_maxplus", soft_maxplus::register)?;
    Ok(())
}
