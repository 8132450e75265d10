//! Library-wide settings: default thread count and the SIMD level in use.

use pyo3::prelude::*;
use softgrad_core::{par, simd};

use crate::call::guard;
use crate::convert::Threads;

/// Sets the default number of threads: an int in `1..=MAX_THREADS`; `None` or 0 restores the default
/// (`RAYON_NUM_THREADS` if set, else the number of logical CPUs).
#[pyfunction]
#[pyo3(signature = (n=None))]
fn set_num_threads(n: Option<Threads<'_>>) -> PyResult<()> {
    guard("set_num_threads", || {
        let n = n.map(|t| t.count("set_num_threads", "n", 0)).transpose()?;
        par::set_default_threads(n.unwrap_or(0));
        Ok(())
    })
}

/// The number of threads a call without `n_threads` uses.
#[pyfunction]
fn get_num_threads() -> PyResult<usize> {
    guard("get_num_threads", || Ok(par::default_threads()))
}

/// The instruction-set level the kernels dispatch to: "scalar", "avx2" or "avx512".
#[pyfunction]
fn simd_level() -> &'static str {
    match simd::level() {
        simd::Level::Scalar => "scalar",
        simd::Level::Avx2 => "avx2",
        simd::Level::Avx512 => "avx512",
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(set_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(get_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(simd_level, m)?)?;
    Ok(())
}
