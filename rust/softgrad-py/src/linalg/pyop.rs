//! A Python operator as a core [`LinOp`]: the facade hands the bindings a callable `matvec(x) -> y`
//! (and optionally `matmat(X) -> Y` for batches), built from whatever the user passed (a function,
//! a `scipy.sparse.linalg.LinearOperator`, an ndarray, a `scipy.sparse` matrix).
//!
//! The core runs detached from the interpreter; each product attaches (`Python::attach`), calls,
//! checks the length and copies the values out. An exception raised by the callable is kept and
//! re-raised unchanged by [`Operator::finish`] once the core has stopped (the core sees
//! `Error::Operator`); a panic never crosses. Operators that need no callback (the CSR matrix of
//! `softgrad.precond`, at merge) are a further variant of [`Source`] applied without attaching.

use std::sync::Mutex;

use numpy::{PyArray1, PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use softgrad_core::linalg::hutchinson::BlockOp;
use softgrad_core::linalg::LinOp;
use softgrad_core::{Error, Par, Result};

/// Where the products come from.
#[derive(Debug)]
pub enum Source {
    /// A Python callable `matvec(x) -> y`, and optionally `matmat(X) -> Y` (`X` of shape `(n, b)`).
    Python {
        /// `y = A x`.
        matvec: Py<PyAny>,
        /// `Y = A X`, column by column.
        matmat: Option<Py<PyAny>>,
    },
}

/// An `n × n` operator for the core, named in messages as `name` of `func`.
#[derive(Debug)]
pub struct Operator {
    func: &'static str,
    name: &'static str,
    n: usize,
    source: Source,
    /// The first exception raised by a callback, re-raised by [`Operator::finish`].
    error: Mutex<Option<PyErr>>,
}

impl Operator {
    /// The callable `matvec` (and `matmat`) as an operator of dimension `n`.
    pub fn python(
        func: &'static str,
        name: &'static str,
        n: usize,
        matvec: Bound<'_, PyAny>,
        matmat: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        if !matvec.is_callable() {
            return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                "{func}: {name} must be callable, got {}",
                matvec.get_type().name()?
            )));
        }
        Ok(Operator {
            func,
            name,
            n,
            source: Source::Python {
                matvec: matvec.unbind(),
                matmat: matmat.map(Bound::unbind),
            },
            error: Mutex::new(None),
        })
    }

    /// The outcome of a core call that used this operator: the callback's own exception if one was
    /// raised, else `res` (core errors already mapped).
    pub fn finish<R>(&self, res: PyResult<R>) -> PyResult<R> {
        let kept = self.error.lock().unwrap_or_else(|e| e.into_inner()).take();
        match kept {
            Some(e) => Err(e),
            None => res,
        }
    }

    /// Keeps `e` for [`Operator::finish`]; the core stops with `Error::Operator`.
    fn fail(&self, e: PyErr) -> Error {
        let mut slot = self.error.lock().unwrap_or_else(|e| e.into_inner());
        slot.get_or_insert(e);
        Error::Operator {
            func: self.func,
            name: self.name,
        }
    }

    /// Calls `f` on `x` (shape `shape`) and copies its `y.len()` float64 values into `y`.
    fn call(&self, f: &Py<PyAny>, x: &[f64], shape: (usize, usize), y: &mut [f64]) -> Result<()> {
        Python::attach(|py| -> PyResult<()> {
            let xa = PyArray1::from_slice(py, x);
            let xa = if shape.1 == 0 {
                xa.into_any()
            } else {
                xa.reshape([shape.0, shape.1])?.into_any()
            };
            let r = f.bind(py).call1((xa,))?;
            let np = py.import("numpy")?;
            let r = np.call_method1("asarray", (r, "float64"))?;
            let r = r.cast_into::<PyArrayDyn<f64>>()?;
            let shape_ok = match shape.1 {
                0 => r.len() == y.len() && r.shape().iter().filter(|&&d| d != 1).count() <= 1,
                b => r.shape() == [shape.0, b],
            };
            if !shape_ok {
                let want = if shape.1 == 0 {
                    format!("({},)", shape.0)
                } else {
                    format!("({}, {})", shape.0, shape.1)
                };
                return Err(PyValueError::new_err(format!(
                    "{}: {} returned an array of shape {}, expected {want} (n = {})",
                    self.func,
                    self.name,
                    r.getattr("shape")?.repr()?,
                    self.n
                )));
            }
            let r = np.call_method1("ascontiguousarray", (r,))?;
            let r = r.cast_into::<PyArrayDyn<f64>>()?;
            let ro = r.readonly();
            let vals = ro.as_slice()?;
            if shape.1 == 0 {
                y.copy_from_slice(vals);
            } else {
                // (n, b) row-major: column j is vector j.
                let b = shape.1;
                for (j, yj) in y.chunks_exact_mut(shape.0).enumerate() {
                    for (i, v) in yj.iter_mut().enumerate() {
                        *v = vals[i * b + j];
                    }
                }
            }
            Ok(())
        })
        .map_err(|e| self.fail(e))
    }
}

impl LinOp for Operator {
    fn dim(&self) -> usize {
        self.n
    }

    fn apply(&self, x: &[f64], y: &mut [f64], _par: Par) -> Result<()> {
        match &self.source {
            Source::Python { matvec, .. } => self.call(matvec, x, (self.n, 0), y),
        }
    }
}

impl BlockOp for Operator {
    fn apply_block(&self, x: &[f64], y: &mut [f64], count: usize, par: Par) -> Result<()> {
        let n = self.n;
        match &self.source {
            Source::Python {
                matmat: Some(mm), ..
            } if count > 1 => {
                // X is (n, count): transpose the rows of `x` into its columns.
                let mut xt = vec![0.0; n * count];
                for (j, xj) in x.chunks_exact(n).enumerate() {
                    for (i, v) in xj.iter().enumerate() {
                        xt[i * count + j] = *v;
                    }
                }
                self.call(mm, &xt, (n, count), y)
            }
            _ => {
                for (xj, yj) in x.chunks_exact(n).zip(y.chunks_exact_mut(n)) {
                    self.apply(xj, yj, par)?;
                }
                Ok(())
            }
        }
    }
}
