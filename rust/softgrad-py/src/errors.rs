//! The exceptions softgrad raises itself, and the one mapping from core errors and panics to Python:
//! parameters and shapes → `ValueError`, allocation → `MemoryError`, interruption →
//! `KeyboardInterrupt`, anything else → `softgrad.SoftgradError`, a panic → `softgrad.InternalError`.
//! (Dtype and layout errors are `TypeError`s raised in [`crate::convert`].)

use std::any::Any;

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyKeyboardInterrupt, PyMemoryError, PyValueError};
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

/// The Python exception for a core error.
pub fn core_err(e: Error) -> PyErr {
    let msg = e.to_string();
    match e {
        Error::InvalidParameter { .. } | Error::Shape { .. } => PyValueError::new_err(msg),
        Error::Alloc { .. } => PyMemoryError::new_err(msg),
        Error::Interrupted { .. } => PyKeyboardInterrupt::new_err(msg),
        _ => SoftgradError::new_err(msg),
    }
}

/// [`InternalError`] for a panic caught in `func` (the panic hook has already printed where).
pub fn panic_err(func: &str, payload: &(dyn Any + Send)) -> PyErr {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    InternalError::new_err(format!("{func}: internal error (please report): {what}"))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("SoftgradError", py.get_type::<SoftgradError>())?;
    m.add("InternalError", py.get_type::<InternalError>())?;
    Ok(())
}
