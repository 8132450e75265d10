//! Library-wide settings: default thread count and the SIMD level in use.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use softgrad_core::{par, simd};

/// Sets the default number of threads (`None` or 0: rayon's default, honouring `RAYON_NUM_THREADS`).
#[pyfunction]
#[pyo3(signature = (n=None))]
fn set_num_threads(n: Option<i64>) -> PyResult<()> {
    match n {
        None => par::set_default_threads(0),
        Some(k) if k >= 0 => par::set_default_threads(k as usize),
        Some(k) => {
            return Err(PyValueError::new_err(format!(
                "set_num_threads: n must be >= 0, got {k}"
            )))
        }
    }
    Ok(())
}

/// The number of threads a call without `n_threads` uses.
#[pyfunction]
fn get_num_threads() -> usize {
    par::default_threads()
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
