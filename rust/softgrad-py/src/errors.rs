//! Core errors to Python exceptions: parameters and shapes → `ValueError`, dtype and layout →
//! `TypeError` (raised in [`crate::convert`]), everything else → the `softgrad.SoftgradError` tree.

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use softgrad_core::Error;

create_exception!(
    softgrad,
    SoftgradError,
    PyException,
    "Base class of every error softgrad raises itself."
);
create_exception!(
    softgrad,
    InternalError,
    SoftgradError,
    "A bug in softgrad (a Rust panic caught at the boundary). Please report it with the input."
);

/// A core error on its way to Python.
#[derive(Debug)]
pub struct CoreError(pub Error);

impl From<CoreError> for PyErr {
    fn from(e: CoreError) -> PyErr {
        let msg = e.0.to_string();
        match e.0 {
            Error::InvalidParameter { .. } | Error::Shape { .. } => PyValueError::new_err(msg),
            _ => SoftgradError::new_err(msg),
        }
    }
}

/// Runs `f` with the GIL released; a panic becomes [`InternalError`] instead of crossing into Python.
pub fn run<R: Send>(
    py: Python<'_>,
    f: impl FnOnce() -> softgrad_core::Result<R> + Send,
) -> PyResult<R> {
    let res = py.detach(|| std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    match res {
        Ok(r) => r.map_err(|e| CoreError(e).into()),
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(InternalError::new_err(format!(
                "internal error (please report): {what}"
            )))
        }
    }
}

/// Runs the kernel `f` on the contents of `out` with the GIL released (as [`run`]).
pub fn run_into<T: numpy::Element, R: Send>(
    out: &Bound<'_, numpy::PyArray1<T>>,
    f: impl FnOnce(&mut [T]) -> softgrad_core::Result<R> + Send,
) -> PyResult<R> {
    use numpy::PyArrayMethods;
    let mut o = out.try_readwrite().map_err(|e| {
        pyo3::exceptions::PyValueError::new_err(format!("output cannot be written: {e}"))
    })?;
    let os = o.as_slice_mut()?;
    run(out.py(), || f(os))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("SoftgradError", py.get_type::<SoftgradError>())?;
    m.add("InternalError", py.get_type::<InternalError>())?;
    Ok(())
}
