//! `softgrad._core.maxplus`: bindings of the tropical matrix products
//! (`softgrad_core::relax::maxplus`). The operands are C-contiguous buffers of one dtype (float32,
//! float64, int32 or int64) holding a batch of matrices at the given element offsets and strides;
//! results are flat, `(batch, m, n)` row-major.

use numpy::{PyArrayDyn, PyArrayMethods, PyReadonlyArray1};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use softgrad_core::relax::maxplus::{self as core, Matrices, Semiring, Shape, Tropical};

use crate::call::{guard, EnterCore};
use crate::convert::{par, Input, Threads};

type Array<'py> = Bound<'py, PyAny>;

/// Offsets (int64 >= 0) as sizes; a negative one is a `ValueError`.
fn offsets(func: &str, name: &str, o: &PyReadonlyArray1<'_, i64>) -> PyResult<Vec<usize>> {
    let v: Vec<i64> = o.as_array().to_vec();
    v.into_iter()
        .map(|x| {
            usize::try_from(x)
                .map_err(|_| PyValueError::new_err(format!("{func}: {name} must be >= 0, got {x}")))
        })
        .collect()
}

/// A fresh flat array of `len` elements (from the buffer cache: the kernel writes all of it).
fn fresh<'py, T: numpy::Element>(
    py: Python<'py>,
    func: &str,
    name: &str,
    len: usize,
) -> PyResult<Bound<'py, PyArrayDyn<T>>> {
    crate::cache::empty::<T>(py, func, name, len)
}

#[allow(clippy::too_many_arguments)]
fn run<'py, T: Tropical + numpy::Element>(
    py: Python<'py>,
    func: &'static str,
    sr: Semiring,
    a: Bound<'py, PyArrayDyn<T>>,
    b: Bound<'py, PyAny>,
    ab: (Vec<usize>, Vec<usize>),
    strides: ((usize, usize), (usize, usize)),
    shape: Shape,
    argmax: bool,
    n_threads: Option<Threads<'py>>,
) -> PyResult<(Array<'py>, Option<Array<'py>>)> {
    let par = par(func, n_threads)?;
    let b = match b.cast_into::<PyArrayDyn<T>>() {
        Ok(b) => b,
        Err(e) => {
            return Err(PyTypeError::new_err(format!(
                "{func}: b must have the dtype of a, got {}",
                e.into_inner()
                    .getattr("dtype")
                    .map(|d| d.to_string())
                    .unwrap_or_default()
            )))
        }
    };
    let (ai, bi) = (Input::new(func, "a", a)?, Input::new(func, "b", b)?);
    let len = shape.batch.saturating_mul(shape.m).saturating_mul(shape.n);
    let out = fresh::<T>(py, func, "out", len)?;
    let arg = if argmax {
        Some(fresh::<i64>(py, func, "argmax", len)?)
    } else {
        None
    };
    {
        let mut o = out
            .try_readwrite()
            .map_err(|e| PyValueError::new_err(format!("{func}: {e}")))?;
        let mut g = match &arg {
            Some(g) => Some(
                g.try_readwrite()
                    .map_err(|e| PyValueError::new_err(format!("{func}: {e}")))?,
            ),
            None => None,
        };
        let os = o.as_slice_mut()?;
        let gs = match g.as_mut() {
            Some(g) => Some(g.as_slice_mut()?),
            None => None,
        };
        let am = Matrices {
            data: ai.slice(),
            offsets: &ab.0,
            row_stride: strides.0 .0,
            col_stride: strides.0 .1,
        };
        let bm = Matrices {
            data: bi.slice(),
            offsets: &ab.1,
            row_stride: strides.1 .0,
            col_stride: strides.1 .1,
        };
        // In elements of a one-pass kernel (`enter_core`'s scale): the blocked kernel takes one
        // vector `max` and `add` per 16 (f32) or 8 (f64) terms, so a 256³ product (about 0.4 ms)
        // stays on the calling thread instead of paying two thread hops (tens of microseconds each,
        // see `call::INTERRUPTIBLE_WORK`).
        let work = len.saturating_mul(shape.k) / 32;
        py.enter_core(work, || core::matmul(sr, am, bm, shape, os, gs, par))?;
    }
    Ok((out.into_any(), arg.map(|g| g.into_any())))
}

/// `C = A ⊗ B` over `semiring` (`"max"` or `"min"`) for a batch of `shape = (batch, m, k, n)`
/// products: product `i` reads `a` at `a_offsets[i]` with `a_strides` (elements, rows then
/// columns), `b` likewise. Returns the flat `C` and, with `argmax`, the flat int64 argmax.
#[pyfunction(signature = (a, b, a_offsets, b_offsets, a_strides, b_strides, shape, semiring, argmax=false, n_threads=None))]
fn matmul<'py>(
    py: Python<'py>,
    a: Array<'py>,
    b: Array<'py>,
    a_offsets: PyReadonlyArray1<'py, i64>,
    b_offsets: PyReadonlyArray1<'py, i64>,
    a_strides: (usize, usize),
    b_strides: (usize, usize),
    shape: (usize, usize, usize, usize),
    semiring: &str,
    argmax: bool,
    n_threads: Option<Threads<'py>>,
) -> PyResult<(Array<'py>, Option<Array<'py>>)> {
    let sr = match semiring {
        "max" => Semiring::MaxPlus,
        "min" => Semiring::MinPlus,
        other => {
            return Err(PyValueError::new_err(format!(
                "maxplus.matmul: semiring must be 'max' or 'min', got {other:?}"
            )))
        }
    };
    let f = sr.name();
    guard(f, move || {
        let ab = (
            offsets(f, "a_offsets", &a_offsets)?,
            offsets(f, "b_offsets", &b_offsets)?,
        );
        let (batch, m, k, n) = shape;
        let shape = Shape { batch, m, k, n };
        let st = (a_strides, b_strides);
        if let Ok(x) = a.cast::<PyArrayDyn<f64>>() {
            run(py, f, sr, x.clone(), b, ab, st, shape, argmax, n_threads)
        } else if let Ok(x) = a.cast::<PyArrayDyn<f32>>() {
            run(py, f, sr, x.clone(), b, ab, st, shape, argmax, n_threads)
        } else if let Ok(x) = a.cast::<PyArrayDyn<i64>>() {
            run(py, f, sr, x.clone(), b, ab, st, shape, argmax, n_threads)
        } else if let Ok(x) = a.cast::<PyArrayDyn<i32>>() {
            run(py, f, sr, x.clone(), b, ab, st, shape, argmax, n_threads)
        } else {
            let got = match a.getattr("dtype") {
                Ok(d) => d.to_string(),
                Err(_) => a.get_type().to_string(),
            };
            Err(PyTypeError::new_err(format!(
                "{f}: a must be a float32, float64, int32 or int64 ndarray, got {got}"
            )))
        }
    })
}

/// Adds the functions of `softgrad._core.maxplus`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(matmul, m)?)?;
    Ok(())
}
