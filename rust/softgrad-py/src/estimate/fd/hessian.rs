//! `softgrad._core.fd.HessianPlan`: Hessians from values of `f` (`softgrad_core::estimate::fd::hessian`).

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use softgrad_core::estimate::fd::hessian::HessianPlan as CoreHessianPlan;

use super::{csr_of, eps, points_of, public_name, Array, Csr};
use crate::call::{guard, EnterCore};
use crate::convert::{with_float, Floats, Out};
use crate::estimate::colour::pattern;

/// A Hessian from values of `f`: dense, or on the pattern of CSR arrays `indptr`, `indices`
/// (int64) made symmetric with its diagonal. `step`: empty (automatic), one, or one per coordinate.
#[derive(Debug)]
#[pyclass(frozen, module = "softgrad._core.fd")]
pub struct HessianPlan {
    plan: CoreHessianPlan,
    float32: bool,
}

#[pymethods]
impl HessianPlan {
    /// A `#[pyfunction]`'s parameters are its Python signature.
    #[new]
    #[pyo3(signature = (x, step, noise, indptr=None, indices=None, func="hessian"))]
    fn new<'py>(
        py: Python<'py>,
        x: Floats<'py>,
        step: Floats<'py>,
        noise: f64,
        indptr: Option<Bound<'py, PyAny>>,
        indices: Option<Bound<'py, PyAny>>,
        func: &str,
    ) -> PyResult<Self> {
        let f = public_name(func);
        let float32 = matches!(x, Floats::F32(_));
        let step = step.of::<f64>(f, "step")?;
        with_float!(f, x, |xs: &[T]| {
            let p = match (&indptr, &indices) {
                (Some(a), Some(b)) => Some(pattern(py, f, a, b, xs.len(), xs.len())?),
                (None, None) => None,
                _ => {
                    return Err(PyValueError::new_err(format!(
                        "{f}: indptr and indices go together"
                    )))
                }
            };
            let st = step.slice();
            let plan = py.enter_core(xs.len(), || {
                CoreHessianPlan::new(f, xs, st, noise, eps(float32), p.as_ref())
            })?;
            Ok(HessianPlan { plan, float32 })
        })
    }

    /// Number of evaluation points, not counting `x` (always needed).
    #[getter]
    fn n_points(&self) -> usize {
        self.plan.n_points()
    }

    /// Entries of the result (`n²` dense).
    #[getter]
    fn nnz(&self) -> usize {
        self.plan.nnz()
    }

    /// The symmetrised pattern as CSR `(indptr, indices)` (int64), `None` for a dense plan.
    #[getter]
    fn csr<'py>(&self, py: Python<'py>) -> Option<Csr<'py>> {
        self.plan.pattern().map(|p| csr_of(py, p))
    }

    /// The step of each coordinate, float64.
    #[getter]
    fn steps<'py>(&self, py: Python<'py>) -> PyResult<Array<'py>> {
        const F: &str = "steps";
        guard(F, || {
            let s = self.plan.steps();
            let mut out = Out::<f64>::new(py, F, "steps", s.len())?;
            out.slice().copy_from_slice(s);
            out.finish()
        })
    }

    /// The coordinates point `q` moves: `(i, j)`, `j = -1` for one.
    fn moved(&self, q: usize) -> PyResult<(i64, i64)> {
        if q >= self.plan.n_points() {
            return Err(PyValueError::new_err(format!(
                "moved: q must be < {}, got {q}",
                self.plan.n_points()
            )));
        }
        let (i, j) = self.plan.moved(q);
        Ok((i as i64, j.map_or(-1, |j| j as i64)))
    }

    /// Points `start..stop`, flat (dtype of `x`).
    fn points<'py>(&self, py: Python<'py>, start: usize, stop: usize) -> PyResult<Array<'py>> {
        guard("points", || {
            let p = &self.plan;
            points_of(
                py,
                self.float32,
                p.n_points(),
                p.n(),
                start,
                stop,
                |o| p.points(start, o),
                |o| p.points(start, o),
            )
        })
    }

    /// The Hessian (`n × n` flat, or the pattern's entries) and its error estimate, float64,
    /// from `f0 = f(x)` and the float64 `values` at the points.
    fn assemble<'py>(
        &self,
        py: Python<'py>,
        f0: f64,
        values: Floats<'py>,
    ) -> PyResult<(Array<'py>, Array<'py>)> {
        const F: &str = "assemble";
        guard(F, || {
            let values = values.of::<f64>(F, "values")?;
            let nnz = self.plan.nnz();
            let mut h = Out::<f64>::new(py, F, "hess", nnz)?;
            let mut err = Out::<f64>::new(py, F, "err", nnz)?;
            let vs = values.slice();
            let (hs, es) = (h.slice(), err.slice());
            py.enter_core(vs.len(), || self.plan.assemble(f0, vs, hs, es))?;
            Ok((h.finish()?, err.finish()?))
        })
    }
}
