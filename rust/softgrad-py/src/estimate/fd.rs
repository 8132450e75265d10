//! `softgrad._core.fd`: bindings of finite differences (`softgrad_core::estimate::fd`). A [`Plan`]
//! is built once per estimate from the flat float32/float64 `x`; the facade evaluates `f` at its
//! points (in batches) and hands the values back to [`Plan::assemble`].

mod hessian;
mod sparse;

use numpy::PyArray1;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use softgrad_core::estimate::colour::Pattern;
use softgrad_core::estimate::fd::noise::{ecnoise as core_ecnoise, Noise};
use softgrad_core::estimate::fd::{self as core, Method, Options, Side};

use crate::call::{guard, EnterCore};
use crate::convert::{with_float, Floats, Input, Out};

type Array<'py> = Bound<'py, PyAny>;
/// A pattern as CSR arrays `(indptr, indices)`.
type Csr<'py> = (Bound<'py, PyArray1<i64>>, Bound<'py, PyArray1<i64>>);

/// The public function a plan serves, for messages (the core wants a `&'static str`).
fn public_name(func: &str) -> &'static str {
    match func {
        "jacobian" => "jacobian",
        "hessian" => "hessian",
        "hvp" => "hvp",
        _ => "gradient",
    }
}

fn method_of(func: &str, method: &str) -> PyResult<Method> {
    Ok(match method {
        "forward" => Method::Forward,
        "backward" => Method::Backward,
        "central" => Method::Central,
        "complex" => Method::Complex,
        "richardson" => Method::Richardson,
        other => {
            return Err(PyValueError::new_err(format!(
                "{func}: method must be one of 'forward', 'backward', 'central', 'complex', \
                 'richardson', got {other:?}"
            )))
        }
    })
}

/// The points and weights of one finite-difference estimate of the derivative of `f` at `x` (flat,
/// float32 or float64; points have its dtype). Bounds and steps are float64 (steps: one, or one
/// per coordinate; empty arrays: none / automatic).
#[derive(Debug)]
#[pyclass(frozen, module = "softgrad._core.fd")]
pub struct Plan {
    plan: core::Plan,
    float32: bool,
}

#[pymethods]
impl Plan {
    /// A `#[pyfunction]`'s parameters are its Python signature.
    #[new]
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (x, method, order, step, lower, upper, noise, n_steps, func="gradient"))]
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
        func: &str,
    ) -> PyResult<Self> {
        let f = public_name(func);
        let float32 = matches!(x, Floats::F32(_));
        let args = Args::of(
            f, method, order, step, lower, upper, noise, n_steps, float32,
        )?;
        with_float!(f, x, |xs: &[T]| {
            let options = args.options(f);
            let plan = py.enter_core(xs.len(), || core::Plan::new(xs, &options))?;
            Ok(Plan { plan, float32 })
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
        self.plan.needs_center()
    }

    /// The (largest) step of each coordinate, float64.
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

    /// The stencil of each coordinate: 0 central, 1 forward, -1 backward (int list).
    #[getter]
    fn sides(&self) -> Vec<i8> {
        let side = |s: &Side| match s {
            Side::Central => 0,
            Side::Forward => 1,
            Side::Backward => -1,
        };
        self.plan.sides().iter().map(side).collect()
    }

    /// Points `start..stop`, flat (`(stop - start) * n` elements, dtype of `x`).
    fn points<'py>(&self, py: Python<'py>, start: usize, stop: usize) -> PyResult<Array<'py>> {
        const F: &str = "points";
        guard(F, || {
            if start > stop || stop > self.plan.n_points() {
                return Err(PyValueError::new_err(format!(
                    "points: need start <= stop <= {}, got {start}..{stop}",
                    self.plan.n_points()
                )));
            }
            let len = (stop - start) * self.plan.n();
            if self.float32 {
                let mut out = Out::<f32>::new(py, F, "points", len)?;
                let o = out.slice();
                py.enter_core(len, || self.plan.points(start, o))?;
                out.finish()
            } else {
                let mut out = Out::<f64>::new(py, F, "points", len)?;
                let o = out.slice();
                py.enter_core(len, || self.plan.points(start, o))?;
                out.finish()
            }
        })
    }

    /// The `m × n` Jacobian and its error estimate (flat float64) from `values` (float64,
    /// `n_points × m`) and `f0` (float64, `m`; required if `needs_center`).
    /// With `omit`, values that are not finite are left out (`nan_policy="omit"`).
    #[pyo3(signature = (values, m, f0=None, omit=false))]
    fn assemble<'py>(
        &self,
        py: Python<'py>,
        values: Floats<'py>,
        m: usize,
        f0: Option<Floats<'py>>,
        omit: bool,
    ) -> PyResult<(Array<'py>, Array<'py>)> {
        const F: &str = "assemble";
        guard(F, || {
            let values = values.of::<f64>(F, "values")?;
            let f0 = f0.map(|a| a.of::<f64>(F, "f0")).transpose()?;
            let len = self.plan.n() * m;
            let mut jac = Out::<f64>::new(py, F, "jac", len)?;
            let mut err = Out::<f64>::new(py, F, "err", len)?;
            let (vs, f0s) = (values.slice(), f0.as_ref().map(|a| a.slice()));
            let (js, es) = (jac.slice(), err.slice());
            py.enter_core(vs.len(), || {
                if omit {
                    self.plan.assemble_omitting(f0s, vs, m, js, es)
                } else {
                    self.plan.assemble(f0s, vs, m, js, es)
                }
            })?;
            Ok((jac.finish()?, err.finish()?))
        })
    }
}

/// The checked arguments shared by the plans of a derivative estimate.
struct Args<'py> {
    method: Method,
    order: usize,
    step: Input<'py, f64>,
    lower: Input<'py, f64>,
    upper: Input<'py, f64>,
    noise: f64,
    n_steps: usize,
    float32: bool,
}

impl<'py> Args<'py> {
    #[allow(clippy::too_many_arguments)]
    fn of(
        f: &'static str,
        method: &str,
        order: usize,
        step: Floats<'py>,
        lower: Floats<'py>,
        upper: Floats<'py>,
        noise: f64,
        n_steps: usize,
        float32: bool,
    ) -> PyResult<Self> {
        Ok(Args {
            method: method_of(f, method)?,
            order,
            step: step.of::<f64>(f, "step")?,
            lower: lower.of::<f64>(f, "lower")?,
            upper: upper.of::<f64>(f, "upper")?,
            noise,
            n_steps,
            float32,
        })
    }

    fn options(&self, f: &'static str) -> Options<'_> {
        Options {
            func: f,
            method: self.method,
            order: self.order,
            step: self.step.slice(),
            lower: self.lower.slice(),
            upper: self.upper.slice(),
            noise: self.noise,
            levels: self.n_steps,
            eps: eps(self.float32),
        }
    }
}

fn eps(float32: bool) -> f64 {
    if float32 {
        f32::EPSILON as f64
    } else {
        f64::EPSILON
    }
}

/// Points `start..stop` of a plan with `n_points` points of `n` coordinates, flat, in the dtype.
#[allow(clippy::too_many_arguments)]
fn points_of<'py>(
    py: Python<'py>,
    float32: bool,
    n_points: usize,
    n: usize,
    start: usize,
    stop: usize,
    write32: impl FnOnce(&mut [f32]) -> softgrad_core::Result<()> + Send,
    write64: impl FnOnce(&mut [f64]) -> softgrad_core::Result<()> + Send,
) -> PyResult<Array<'py>> {
    const F: &str = "points";
    if start > stop || stop > n_points {
        return Err(PyValueError::new_err(format!(
            "points: need start <= stop <= {n_points}, got {start}..{stop}"
        )));
    }
    let len = (stop - start) * n;
    if float32 {
        let mut out = Out::<f32>::new(py, F, "points", len)?;
        let o = out.slice();
        py.enter_core(len, || write32(o))?;
        out.finish()
    } else {
        let mut out = Out::<f64>::new(py, F, "points", len)?;
        let o = out.slice();
        py.enter_core(len, || write64(o))?;
        out.finish()
    }
}

/// A pattern as CSR `(indptr, indices)`, int64.
fn csr_of<'py>(py: Python<'py>, p: &Pattern) -> Csr<'py> {
    let ptr: Vec<i64> = p.row_ptr().iter().map(|&v| v as i64).collect();
    let idx: Vec<i64> = p.col_idx().iter().map(|&v| i64::from(v)).collect();
    (PyArray1::from_vec(py, ptr), PyArray1::from_vec(py, idx))
}

/// Moré and Wild's noise estimate from float64 `values` at equally spaced points on a line:
/// `("level", sigma)`, or `("too_small", 0.0)` / `("too_large", 0.0)` for the spacing.
#[pyfunction]
fn ecnoise(values: Floats<'_>) -> PyResult<(&'static str, f64)> {
    const F: &str = "ecnoise";
    guard(F, || {
        let mut v = values.of::<f64>(F, "values")?.slice().to_vec();
        Ok(match core_ecnoise(&mut v) {
            Noise::Level(l) => ("level", l),
            Noise::SpacingTooSmall => ("too_small", 0.0),
            Noise::SpacingTooLarge => ("too_large", 0.0),
        })
    })
}

/// Adds the bindings to the submodule.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Plan>()?;
    m.add_class::<sparse::SparsePlan>()?;
    m.add_class::<hessian::HessianPlan>()?;
    m.add_function(wrap_pyfunction!(ecnoise, m)?)?;
    Ok(())
}
