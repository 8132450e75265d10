//! `softgrad._core.fd`: bindings of finite differences (`softgrad_core::estimate::fd`). A [`Plan`]
//! is built once per estimate from the flat float32/float64 `x`; the facade evaluates `f` at its
//! points (in batches) and hands the values back to [`Plan::assemble`].

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use softgrad_core::estimate::fd::noise::{ecnoise as core_ecnoise, Noise};
use softgrad_core::estimate::fd::{self as core, Method, Options, Side};

use crate::call::{guard, EnterCore};
use crate::convert::{with_float, Floats, Out};

type Array<'py> = Bound<'py, PyAny>;

/// The public function a plan serves, for messages (the core wants a `&'static str`).
fn public_name(func: &str) -> &'static str {
    match func {
        "jacobian" => "jacobian",
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
        let method = method_of(f, method)?;
        let float32 = matches!(x, Floats::F32(_));
        with_float!(f, x, |xs: &[T]| {
            let (step, lower, upper) = (
                step.of::<f64>(f, "step")?,
                lower.of::<f64>(f, "lower")?,
                upper.of::<f64>(f, "upper")?,
            );
            let options = Options {
                func: f,
                method,
                order,
                step: step.slice(),
                lower: lower.slice(),
                upper: upper.slice(),
                noise,
                levels: n_steps,
                eps: if float32 {
                    f32::EPSILON as f64
                } else {
                    f64::EPSILON
                },
            };
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
    #[pyo3(signature = (values, m, f0=None))]
    fn assemble<'py>(
        &self,
        py: Python<'py>,
        values: Floats<'py>,
        m: usize,
        f0: Option<Floats<'py>>,
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
            py.enter_core(vs.len(), || self.plan.assemble(f0s, vs, m, js, es))?;
            Ok((jac.finish()?, err.finish()?))
        })
    }
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
    m.add_function(wrap_pyfunction!(ecnoise, m)?)?;
    Ok(())
}
