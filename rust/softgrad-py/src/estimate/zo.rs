//! `softgrad._core.zo`: bindings of the randomized estimators (`softgrad_core::estimate::zo`), the
//! in-place MeZO steps (`zo::inplace`) and the counter-based generator (`softgrad_core::rng`).

use numpy::{
    PyArrayDyn, PyArrayMethods, PyReadonlyArray1, PyReadwriteArray1, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use softgrad_core::estimate::zo::inplace::{self, Dist, Float as InplaceFloat, Record};
use softgrad_core::estimate::zo::{self as core, Method, Options};
use softgrad_core::rng::{derive_seed, Stream};

use crate::call::{guard, EnterCore};
use crate::convert::{par, with_float, Float, Floats, Out, Threads};

type Array<'py> = Bound<'py, PyAny>;

fn method_of(method: &str) -> PyResult<Method> {
    Ok(match method {
        "spsa" => Method::Spsa,
        "gaussian" => Method::Gaussian,
        "sphere" => Method::Sphere,
        "coordinate" => Method::Coordinate,
        other => {
            return Err(PyValueError::new_err(format!(
                "gradient: method must be one of 'spsa', 'gaussian', 'sphere', 'coordinate', got {other:?}"
            )))
        }
    })
}

fn dist_of(func: &str, dist: &str) -> PyResult<Dist> {
    match dist {
        "rademacher" => Ok(Dist::Rademacher),
        "gaussian" => Ok(Dist::Gaussian),
        other => Err(PyValueError::new_err(format!(
            "{func}: dist must be 'gaussian' or 'rademacher', got {other:?}"
        ))),
    }
}

/// The points and the assembly of one randomized gradient estimate at `x` (flat float32/float64;
/// points have its dtype).
#[derive(Debug)]
#[pyclass(frozen, module = "softgrad._core.zo")]
pub struct Plan {
    plan: core::Plan,
    float32: bool,
    par: softgrad_core::Par,
}

#[pymethods]
impl Plan {
    /// A `#[pyfunction]`'s parameters are its Python signature.
    #[new]
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (x, method, n_samples, sides, antithetic, seed, step=None, mask=None, n_threads=None))]
    fn new<'py>(
        py: Python<'py>,
        x: Floats<'py>,
        method: &str,
        n_samples: usize,
        sides: usize,
        antithetic: bool,
        seed: u64,
        step: Option<f64>,
        mask: Option<PyReadonlyArray1<'py, bool>>,
        n_threads: Option<Threads<'py>>,
    ) -> PyResult<Self> {
        const F: &str = "gradient";
        let method = method_of(method)?;
        let float32 = matches!(x, Floats::F32(_));
        let par = par(F, n_threads)?;
        let mask: Vec<bool> = match &mask {
            Some(m) => m.as_slice()?.to_vec(),
            None => Vec::new(),
        };
        with_float!(F, x, |xs: &[T]| {
            let options = Options {
                func: F,
                method,
                n_samples,
                sides,
                antithetic,
                seed,
                step,
                mask: &mask,
                eps: if float32 {
                    f32::EPSILON as f64
                } else {
                    f64::EPSILON
                },
            };
            let work = xs.len().saturating_mul(if method == Method::Sphere {
                n_samples
            } else {
                1
            });
            let plan = py.enter_core(work, || core::Plan::new(xs, &options, par))?;
            Ok(Plan { plan, float32, par })
        })
    }

    /// Number of evaluation points, not counting `x`.
    #[getter]
    fn n_points(&self) -> usize {
        self.plan.n_points()
    }

    /// Whether `f(x)` is needed too (one-sided).
    #[getter]
    fn needs_center(&self) -> bool {
        self.plan.needs_center()
    }

    /// The step taken.
    #[getter]
    fn step(&self) -> f64 {
        self.plan.step()
    }

    /// Coordinates in the mask.
    #[getter]
    fn dim(&self) -> usize {
        self.plan.dim()
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
            let par = self.par;
            if self.float32 {
                let mut out = Out::<f32>::new(py, F, "points", len)?;
                let o = out.slice();
                py.enter_core(len, || self.plan.points(start, o, par))?;
                out.finish()
            } else {
                let mut out = Out::<f64>::new(py, F, "points", len)?;
                let o = out.slice();
                py.enter_core(len, || self.plan.points(start, o, par))?;
                out.finish()
            }
        })
    }

    /// The gradient estimate and the variance of that mean (flat float64) from `values` (float64,
    /// one per point) and `f0` (required one-sided).
    #[pyo3(signature = (values, f0=None))]
    fn assemble<'py>(
        &self,
        py: Python<'py>,
        values: Floats<'py>,
        f0: Option<f64>,
    ) -> PyResult<(Array<'py>, Array<'py>)> {
        const F: &str = "assemble";
        guard(F, || {
            let values = values.of::<f64>(F, "values")?;
            let n = self.plan.n();
            let mut g = Out::<f64>::new(py, F, "grad", n)?;
            let mut v = Out::<f64>::new(py, F, "var", n)?;
            let (vs, gs, ws, par) = (values.slice(), g.slice(), v.slice(), self.par);
            let work = n.saturating_mul(self.plan.n_points());
            py.enter_core(work, || self.plan.assemble(f0, vs, gs, ws, par))?;
            Ok((g.finish()?, v.finish()?))
        })
    }
}

/// `x` as a writable slice: C-contiguous, aligned, writeable; never copied.
fn with_inplace<T: Float + InplaceFloat, R>(
    func: &str,
    a: &Bound<'_, PyArrayDyn<T>>,
    body: impl FnOnce(&mut [T]) -> PyResult<R>,
) -> PyResult<R> {
    if !a.is_c_contiguous() {
        return Err(PyTypeError::new_err(format!(
            "{func}: x must be C-contiguous (it is changed in place, so it is never copied)"
        )));
    }
    if !a.is_aligned() {
        return Err(PyValueError::new_err(format!(
            "{func}: x must be aligned (it is changed in place, so it is never copied)"
        )));
    }
    let mut rw = a.try_readwrite().map_err(|e| {
        PyValueError::new_err(match e {
            numpy::BorrowError::NotWriteable => format!("{func}: x is read-only"),
            _ => format!("{func}: x is in use by another call"),
        })
    })?;
    let xs = rw
        .as_slice_mut()
        .map_err(|_| PyTypeError::new_err(format!("{func}: x must be C-contiguous")))?;
    body(xs)
}

/// Runs `body` on `x` as a writable float32 or float64 slice.
macro_rules! inplace_float {
    ($func:expr, $x:ident, |$xs:ident| $body:expr) => {
        guard($func, || match &$x {
            Floats::F64(a) => with_inplace::<f64, _>($func, a, |$xs| $body),
            Floats::F32(a) => with_inplace::<f32, _>($func, a, |$xs| $body),
            other => Err(other.wrong_dtype($func, "x", "float32 or float64")),
        })
    };
}

/// The steps applied so far, from `state` (`[count, coeff_1, …]`, float64).
fn steps_of(func: &str, state: &[f64]) -> PyResult<Vec<f64>> {
    let count = state.first().copied().unwrap_or(0.0);
    if !(count >= 0.0 && count.fract() == 0.0 && (count as usize) < state.len()) {
        return Err(PyValueError::new_err(format!(
            "{func}: state is not a step record ({count} steps in {} slots)",
            state.len()
        )));
    }
    Ok(state[1..=count as usize].to_vec())
}

/// `x ← x + coeff z(seed)` in place; with `state`, the step is recorded there (`[count, c_1, …]`)
/// before the call returns, so an interrupt never leaves `x` and the record disagreeing; with `bits`
/// (uint8, `ceil(n / 8)`; needs `state`), the bit the steps lose is kept for `restore`.
#[pyfunction]
#[pyo3(signature = (x, seed, dist, coeff, state=None, bits=None, n_threads=None))]
#[allow(clippy::too_many_arguments)]
fn apply<'py>(
    py: Python<'py>,
    x: Floats<'py>,
    seed: u64,
    dist: &str,
    coeff: f64,
    state: Option<PyReadwriteArray1<'py, f64>>,
    bits: Option<PyReadwriteArray1<'py, u8>>,
    n_threads: Option<Threads<'py>>,
) -> PyResult<()> {
    // A recorded step is one of `spsa_inplace`'s passes: errors name the function called.
    let func: &'static str = if state.is_some() {
        "spsa_inplace"
    } else {
        "apply_seeded_update"
    };
    let (dist, par) = (dist_of(func, dist)?, par(func, n_threads)?);
    if !coeff.is_finite() {
        return Err(PyValueError::new_err(format!(
            "{func}: coeff must be finite, got {coeff}"
        )));
    }
    let (mut state, mut bits) = (state, bits);
    let (st, prior): (Option<&mut [f64]>, Vec<f64>) = match state.as_mut() {
        Some(s) => {
            let s = s.as_slice_mut()?;
            let prior = steps_of(func, s)?;
            if prior.len() + 1 >= s.len() {
                return Err(PyValueError::new_err(format!("{func}: state is full")));
            }
            (Some(s), prior)
        }
        None => (None, Vec::new()),
    };
    let bs: Option<&mut [u8]> = match bits.as_mut() {
        Some(b) if st.is_some() => Some(b.as_slice_mut()?),
        Some(_) => {
            return Err(PyValueError::new_err(format!(
                "{func}: bits need a state (the steps already applied)"
            )))
        }
        None => None,
    };
    inplace_float!(func, x, |xs| {
        let n = xs.len();
        py.enter_core(n, move || {
            let record = bs.map(|bits| Record {
                bits,
                prior: &prior,
            });
            inplace::apply(xs, seed, dist, coeff, record, par)?;
            if let Some(s) = st {
                let k = s[0] as usize;
                s[k + 1] = coeff;
                s[0] = (k + 1) as f64;
            }
            Ok(())
        })
    })
}

/// Undoes the steps recorded in `state` (see [`inplace::restore`]; with the `bits` that `apply`
/// kept) and clears the record.
#[pyfunction]
#[pyo3(signature = (x, seed, dist, state, bits=None, n_threads=None))]
fn restore<'py>(
    py: Python<'py>,
    x: Floats<'py>,
    seed: u64,
    dist: &str,
    mut state: PyReadwriteArray1<'py, f64>,
    bits: Option<PyReadwriteArray1<'py, u8>>,
    n_threads: Option<Threads<'py>>,
) -> PyResult<()> {
    const F: &str = "spsa_inplace";
    let (dist, par) = (dist_of(F, dist)?, par(F, n_threads)?);
    let s = state.as_slice_mut()?;
    let steps = steps_of(F, s)?;
    let mut bits = bits;
    let bs: Option<&mut [u8]> = match bits.as_mut() {
        Some(b) => Some(b.as_slice_mut()?),
        None => None,
    };
    inplace_float!(F, x, |xs| {
        let n = xs.len();
        py.enter_core(n, move || {
            inplace::restore(xs, seed, dist, &steps, bs, par)?;
            s[0] = 0.0;
            Ok(())
        })
    })
}

/// Per-sample seeds `derive_seed(seed, k)`, `k < n`.
#[pyfunction]
fn derive_seeds(seed: u64, n: u64) -> Vec<u64> {
    (0..n).map(|k| derive_seed(seed, k)).collect()
}

/// Values `start..start + n` of stream `(seed, stream)`: `dist` is 'rademacher', 'uniform' or
/// 'normal' (float64).
#[pyfunction]
fn sample<'py>(
    py: Python<'py>,
    seed: u64,
    stream: u64,
    dist: &str,
    start: u64,
    n: usize,
) -> PyResult<Array<'py>> {
    const F: &str = "sample";
    guard(F, || {
        let s = Stream::new(seed, stream);
        let mut out = Out::<f64>::new(py, F, "out", n)?;
        let o = out.slice();
        match dist {
            "rademacher" => s.fill_rademacher(start, o),
            "uniform" => s.fill_uniform(start, o),
            "normal" => s.fill_normal(start, o),
            other => {
                return Err(PyValueError::new_err(format!(
                    "sample: dist must be 'rademacher', 'uniform' or 'normal', got {other:?}"
                )))
            }
        }
        out.finish()
    })
}

/// Adds the bindings to the submodule.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Plan>()?;
    m.add_function(wrap_pyfunction!(apply, m)?)?;
    m.add_function(wrap_pyfunction!(restore, m)?)?;
    m.add_function(wrap_pyfunction!(derive_seeds, m)?)?;
    m.add_function(wrap_pyfunction!(sample, m)?)?;
    Ok(())
}
