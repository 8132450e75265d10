//! Array extraction and the thread-count argument.

use numpy::{
    Element, PyArray1, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use softgrad_core::Par;

/// Element dtype of a NumPy array argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    F32,
    F64,
}

/// The float dtype of `obj`, or `TypeError` naming the function and argument.
pub fn float_dtype(func: &str, name: &str, obj: &Bound<'_, PyAny>) -> PyResult<Dtype> {
    if obj.cast::<PyArrayDyn<f64>>().is_ok() {
        Ok(Dtype::F64)
    } else if obj.cast::<PyArrayDyn<f32>>().is_ok() {
        Ok(Dtype::F32)
    } else {
        let what = obj
            .getattr("dtype")
            .map(|d| d.to_string())
            .unwrap_or_else(|_| obj.get_type().to_string());
        Err(PyTypeError::new_err(format!(
            "{func}: {name} must be a float32 or float64 ndarray, got {what}"
        )))
    }
}

/// A read-only, C-contiguous view of `obj` as `T`.
pub fn readonly<'py, T: Element>(
    func: &str,
    name: &str,
    obj: &Bound<'py, PyAny>,
) -> PyResult<PyReadonlyArrayDyn<'py, T>> {
    let arr = obj.cast::<PyArrayDyn<T>>().map_err(|_| {
        PyTypeError::new_err(format!(
            "{func}: {name} must have the dtype of the other arrays"
        ))
    })?;
    let ro = arr
        .try_readonly()
        .map_err(|e| PyValueError::new_err(format!("{func}: {name}: {e}")))?;
    if !ro.is_c_contiguous() {
        return Err(PyTypeError::new_err(format!(
            "{func}: {name} must be C-contiguous"
        )));
    }
    Ok(ro)
}

/// `n_threads` → [`Par`], `ValueError` for 0.
pub fn par(n_threads: Option<usize>) -> PyResult<Par> {
    Par::from_threads(n_threads).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// A zeroed 1-D output array allocated by NumPy (whose allocator asks for huge pages on large
/// buffers: first-touch faults on a big `Vec` cost more than the kernels themselves).
pub fn output<T: Element>(py: Python<'_>, len: usize) -> Bound<'_, PyArray1<T>> {
    PyArray1::<T>::zeros(py, len, false)
}
