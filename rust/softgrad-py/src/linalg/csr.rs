//! A CSR matrix argument: `indptr` and `indices` (both int32 or both int64, C-contiguous) and
//! `data` (float32 or float64), borrowed without copying; [`with_csr!`](crate::linalg::csr::with_csr)
//! dispatches on the two dtypes.

use numpy::PyArrayDyn;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

use crate::convert::Input;

/// The index arrays of a CSR argument, of one dtype.
#[derive(Debug)]
pub enum Indices<'py> {
    /// int32 `indptr` and `indices`.
    I32(Input<'py, i32>, Input<'py, i32>),
    /// int64 `indptr` and `indices`.
    I64(Input<'py, i64>, Input<'py, i64>),
}

impl<'py> Indices<'py> {
    /// Both arrays as int32 or both as int64, or `TypeError` naming `func`.
    pub fn of(
        func: &str,
        indptr: &Bound<'py, PyAny>,
        indices: &Bound<'py, PyAny>,
    ) -> PyResult<Self> {
        if let (Ok(p), Ok(i)) = (
            indptr.cast::<PyArrayDyn<i32>>(),
            indices.cast::<PyArrayDyn<i32>>(),
        ) {
            return Ok(Indices::I32(
                Input::new(func, "indptr", p.to_owned())?,
                Input::new(func, "indices", i.to_owned())?,
            ));
        }
        if let (Ok(p), Ok(i)) = (
            indptr.cast::<PyArrayDyn<i64>>(),
            indices.cast::<PyArrayDyn<i64>>(),
        ) {
            return Ok(Indices::I64(
                Input::new(func, "indptr", p.to_owned())?,
                Input::new(func, "indices", i.to_owned())?,
            ));
        }
        let dt = |a: &Bound<'py, PyAny>| {
            a.getattr("dtype")
                .map(|d| d.to_string())
                .unwrap_or_else(|_| a.get_type().to_string())
        };
        Err(PyTypeError::new_err(format!(
            "{func}: indptr and indices must both be int32 or both int64 ndarrays, got {} and {}",
            dt(indptr),
            dt(indices)
        )))
    }
}

/// Runs `$body` with `$p: &[I]`, `$i: &[I]` (the index arrays) and `$d: &[T]` (the values) for the
/// dtypes of the CSR argument `(indptr, indices, data)`, under the panic guard.
macro_rules! with_csr {
    ($func:expr, $indptr:expr, $indices:expr, $data:ident, |$p:ident, $i:ident, $d:ident: &[$T:ident]| $body:expr) => {
        $crate::convert::with_float!($func, $data, |$d: &[$T]| {
            match $crate::linalg::csr::Indices::of($func, &$indptr, &$indices)? {
                $crate::linalg::csr::Indices::I32(p, i) => {
                    let ($p, $i) = (p.slice(), i.slice());
                    $body
                }
                $crate::linalg::csr::Indices::I64(p, i) => {
                    let ($p, $i) = (p.slice(), i.slice());
                    $body
                }
            }
        })
    };
}
pub(crate) use with_csr;
