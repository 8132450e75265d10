//! `softgrad._core.fd.SparsePlan`: sparse Jacobians (and Hessians from a gradient) by colouring
//! (`softgrad_core::estimate::fd::sparse`).

use numpy::PyArray1;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use softgrad_core::estimate::fd::sparse::SparsePlan as CoreSparsePlan;

use super::{csr_of, points_of, public_name, Args, Array, Csr};
use crate::call::{guard, EnterCore};
use crate::convert::{with_float, Floats, Out};
use crate::estimate::colour::{ordering, ordering_name, pattern};

/// A sparse Jacobian (`kind="jacobian"`: column colouring of the `m × n` pattern) or a sparse
/// Hessian from a gradient (`kind="hessian"`: star colouring of the symmetric `n × n` pattern) by
/// colouring; the other arguments as [`Plan`]'s. `colouring`: "auto", "smallest_last",
/// "largest_first" or "natural".
#[derive(Debug)]
#[pyclass(frozen, module = "softgrad._core.fd")]
pub struct SparsePlan {
    plan: CoreSparsePlan,
    float32: bool,
}

#[pymethods]
impl SparsePlan {
    /// A `#[pyfunction]`'s parameters are its Python signature.
    #[new]
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (x, method, order, step, lower, upper, noise, n_steps, indptr, indices, m, kind="jacobian", colouring="auto", func="jacobian"))]
    fn new<'py>(
        py: Python<'py>,
        x: Floats<'py>,
        method: &str,
        order: usize,
        step: Floats<'py>,
        lower: Floats<'py>,
        upper: Floats<'py>,
        noise: f64,
        n_steps: usize,
        indptr: Bound<'py, PyAny>,
        indices: Bound<'py, PyAny>,
        m: usize,
        kind: &str,
        colouring: &str,
        func: &str,
    ) -> PyResult<Self> {
        let f = public_name(func);
        let float32 = matches!(x, Floats::F32(_));
        let args = Args::of(
            f, method, order, step, lower, upper, noise, n_steps, float32,
        )?;
        let o = ordering(f, colouring)?;
        let hessian = match kind {
            "jacobian" => false,
            "hessian" => true,
            other => {
                return Err(PyValueError::new_err(format!(
                    "{f}: kind must be 'jacobian' or 'hessian', got {other:?}"
                )))
            }
        };
        with_float!(f, x, |xs: &[T]| {
            let p = pattern(py, f, &indptr, &indices, m, xs.len())?;
            let options = args.options(f);
            let plan = py.enter_core(xs.len() + p.nnz(), || {
                if hessian {
                    CoreSparsePlan::hessian(xs, &options, p, o)
                } else {
                    CoreSparsePlan::jacobian(xs, &options, p, o)
                }
            })?;
            Ok(SparsePlan { plan, float32 })
        })
    }

    /// Number of evaluation points, not counting `x`.
    #[getter]
    fn n_points(&self) -> usize {
        self.plan.n_points()
    }

    /// Whether `f(x)` is needed too.
    #[getter]
    fn needs_center(&self) -> bool {
        self.plan.plan().needs_center()
    }

    /// The number of colours.
    #[getter]
    fn n_colours(&self) -> usize {
        self.plan.n_colours()
    }

    /// The ordering of the colouring.
    #[getter]
    fn ordering(&self) -> &'static str {
        ordering_name(self.plan.ordering())
    }

    /// The colour of each column (int64).
    #[getter]
    fn colours<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        let c: Vec<i64> = self.plan.colours().iter().map(|&c| i64::from(c)).collect();
        PyArray1::from_vec(py, c)
    }

    /// The pattern as CSR `(indptr, indices)` (int64, sorted, no duplicates): the order of the
    /// entries that `assemble` returns.
    #[getter]
    fn csr<'py>(&self, py: Python<'py>) -> Csr<'py> {
        csr_of(py, self.plan.pattern())
    }

    /// The step of each column, float64.
    #[getter]
    fn steps<'py>(&self, py: Python<'py>) -> PyResult<Array<'py>> {
        const F: &str = "steps";
        guard(F, || {
            let s = self.plan.plan().steps();
            let mut out = Out::<f64>::new(py, F, "steps", s.len())?;
            out.slice().copy_from_slice(s);
            out.finish()
        })
    }

    /// Points `start..stop`, flat (dtype of `x`).
    fn points<'py>(&self, py: Python<'py>, start: usize, stop: usize) -> PyResult<Array<'py>> {
        guard("points", || {
            let p = &self.plan;
            points_of(
                py,
                self.float32,
                p.n_points(),
                p.plan().n(),
                start,
                stop,
                |o| p.points(start, o),
                |o| p.points(start, o),
            )
        })
    }

    /// The entries (CSR order of `csr`) and their error estimates (float64) from `values`
    /// (`n_points × m`) and `f0` (`m`, required if `needs_center`).
    #[pyo3(signature = (values, f0=None, omit=false))]
    fn assemble<'py>(
        &self,
        py: Python<'py>,
        values: Floats<'py>,
        f0: Option<Floats<'py>>,
        omit: bool,
    ) -> PyResult<(Array<'py>, Array<'py>)> {
        const F: &str = "assemble";
        guard(F, || {
            let values = values.of::<f64>(F, "values")?;
            let f0 = f0.map(|a| a.of::<f64>(F, "f0")).transpose()?;
            let nnz = self.plan.pattern().nnz();
            let mut data = Out::<f64>::new(py, F, "data", nnz)?;
            let mut err = Out::<f64>::new(py, F, "err", nnz)?;
            let (vs, f0s) = (values.slice(), f0.as_ref().map(|a| a.slice()));
            let (ds, es) = (data.slice(), err.slice());
            py.enter_core(vs.len(), || self.plan.assemble(f0s, vs, ds, es, omit))?;
            Ok((data.finish()?, err.finish()?))
        })
    }
}
