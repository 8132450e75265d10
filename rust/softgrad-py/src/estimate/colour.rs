//! `softgrad._core.colour`: bindings of the colourings of sparsity patterns
//! (`softgrad_core::estimate::colour`). Patterns come as CSR arrays (int64 `indptr`, `indices`).

use numpy::{PyArray1, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use softgrad_core::estimate::colour::{self as core, Ordering, Pattern};

use crate::call::{guard, EnterCore};

/// An int64 array argument as a vector; `TypeError` naming `func` and `name` otherwise.
pub fn ints(func: &str, name: &str, a: &Bound<'_, PyAny>) -> PyResult<Vec<i64>> {
    match a.cast::<PyArray1<i64>>() {
        Ok(arr) => {
            let ro = arr
                .try_readonly()
                .map_err(|e| PyValueError::new_err(format!("{func}: {name} is in use: {e}")))?;
            Ok(if ro.is_c_contiguous() {
                ro.as_slice()?.to_vec()
            } else {
                ro.as_array().to_vec()
            })
        }
        Err(_) => {
            let got = match a.getattr("dtype") {
                Ok(d) => format!("{} array", d),
                Err(_) => a.get_type().to_string(),
            };
            Err(PyTypeError::new_err(format!(
                "{func}: {name} must be a 1-d int64 ndarray, got {got}"
            )))
        }
    }
}

/// The ordering named `name` (`None` for "auto": the best of the three).
pub fn ordering(func: &str, name: &str) -> PyResult<Option<Ordering>> {
    Ok(match name {
        "auto" => None,
        "natural" => Some(Ordering::Natural),
        "largest_first" => Some(Ordering::LargestFirst),
        "smallest_last" => Some(Ordering::SmallestLast),
        other => {
            return Err(PyValueError::new_err(format!(
                "{func}: colouring must be one of 'auto', 'smallest_last', 'largest_first', \
                 'natural', got {other:?}"
            )))
        }
    })
}

/// The name of an ordering.
pub fn ordering_name(o: Ordering) -> &'static str {
    match o {
        Ordering::Natural => "natural",
        Ordering::LargestFirst => "largest_first",
        Ordering::SmallestLast => "smallest_last",
    }
}

/// The `m × n` pattern of CSR arrays `indptr`, `indices` (int64), checked.
pub fn pattern(
    py: Python<'_>,
    func: &'static str,
    indptr: &Bound<'_, PyAny>,
    indices: &Bound<'_, PyAny>,
    m: usize,
    n: usize,
) -> PyResult<Pattern> {
    let (p, i) = (
        ints(func, "indptr", indptr)?,
        ints(func, "indices", indices)?,
    );
    py.enter_core(i.len(), || Pattern::from_csr(func, m, n, &p, &i))
}

fn public(func: &str) -> &'static str {
    match func {
        "hessian" => "hessian",
        "jacobian" => "jacobian",
        _ => "colour",
    }
}

/// A column colouring of the `m × n` pattern: `(colours, n_colours, ordering)`, the colours int64.
#[pyfunction(signature = (indptr, indices, m, n, colouring="auto", func="jacobian"))]
fn column_colouring<'py>(
    py: Python<'py>,
    indptr: Bound<'py, PyAny>,
    indices: Bound<'py, PyAny>,
    m: usize,
    n: usize,
    colouring: &str,
    func: &str,
) -> PyResult<(Bound<'py, PyArray1<i64>>, usize, &'static str)> {
    let f = public(func);
    guard(f, || {
        let o = ordering(f, colouring)?;
        let p = pattern(py, f, &indptr, &indices, m, n)?;
        let (c, k, o) = py.enter_core(p.nnz(), || {
            Ok(match o {
                Some(o) => {
                    let (c, k) = core::column_colouring(&p, o);
                    (c, k, o)
                }
                None => core::best_column_colouring(&p),
            })
        })?;
        let c: Vec<i64> = c.into_iter().map(i64::from).collect();
        Ok((PyArray1::from_vec(py, c), k, ordering_name(o)))
    })
}

/// A star colouring of the symmetric `n × n` pattern: `(colours, n_colours, ordering)`.
#[pyfunction(signature = (indptr, indices, n, colouring="auto", func="hessian"))]
fn star_colouring<'py>(
    py: Python<'py>,
    indptr: Bound<'py, PyAny>,
    indices: Bound<'py, PyAny>,
    n: usize,
    colouring: &str,
    func: &str,
) -> PyResult<(Bound<'py, PyArray1<i64>>, usize, &'static str)> {
    let f = public(func);
    guard(f, || {
        let o = ordering(f, colouring)?;
        let p = pattern(py, f, &indptr, &indices, n, n)?;
        let (c, k, o) = py.enter_core(p.nnz(), || {
            Ok(match o {
                Some(o) => {
                    let (c, k) = core::star_colouring(f, &p, o)?;
                    (c, k, o)
                }
                None => core::best_star_colouring(f, &p)?,
            })
        })?;
        let c: Vec<i64> = c.into_iter().map(i64::from).collect();
        Ok((PyArray1::from_vec(py, c), k, ordering_name(o)))
    })
}

/// Adds the bindings to the submodule.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(column_colouring, m)?)?;
    m.add_function(wrap_pyfunction!(star_colouring, m)?)?;
    Ok(())
}
