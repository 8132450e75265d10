//! `softgrad._core.cross_entropy`: the fused softmax cross-entropy
//! (`softgrad_core::relax::logsumexp::cross_entropy`). Logits are C-contiguous float32/float64 seen
//! as a `layout` `(outer, n, inner)` with the classes on `n`; per-sample arrays have `outer * inner`
//! values.

use numpy::PyArrayDyn;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use softgrad_core::relax::logsumexp::cross_entropy::{self as core, Options, Outputs, Targets};

use crate::call::EnterCore;
use crate::convert::{par, with_float, Floats, Input, Layout, Out, Threads};

type Array<'py> = Bound<'py, PyAny>;
/// `(total, losses, dots, grad)`.
type Results<'py> = (
    f64,
    Option<Array<'py>>,
    Option<Array<'py>>,
    Option<Array<'py>>,
);

/// `classes` as a read-only int64 array, or `TypeError` naming the function and the argument.
fn int64s<'py>(func: &str, classes: Bound<'py, PyAny>) -> PyResult<Input<'py, i64>> {
    match classes.cast_into::<PyArrayDyn<i64>>() {
        Ok(a) => Input::new(func, "classes", a),
        Err(e) => {
            let o = e.into_inner();
            let got = match o.getattr("dtype") {
                Ok(d) => d.to_string(),
                Err(_) => o.get_type().to_string(),
            };
            Err(PyTypeError::new_err(format!(
                "{func}: classes must be an int64 ndarray, got {got}"
            )))
        }
    }
}

/// Softmax cross-entropy of `logits` against class indices `classes` (int64, one per sample) or
/// target distributions `labels` (dtype and layout of `logits`); exactly one of them. Returns
/// `(Σ w loss, losses, dots, grad)`: the unweighted per-sample losses (float64) if `losses`, and if
/// `grad` the per-sample temperature dots (float64) and the gradient with respect to the logits
/// (scaled by `grad_scale` and the weights; dtype and layout of `logits`).
#[pyfunction(signature = (logits, labels, classes, sample_weight, layout, temperature, label_smoothing, grad_scale, grad, losses, n_threads=None))]
fn softmax_cross_entropy<'py>(
    py: Python<'py>,
    logits: Floats<'py>,
    labels: Option<Floats<'py>>,
    classes: Option<Bound<'py, PyAny>>,
    sample_weight: Option<Floats<'py>>,
    layout: Layout,
    temperature: f64,
    label_smoothing: f64,
    grad_scale: f64,
    grad: bool,
    losses: bool,
    n_threads: Option<Threads<'py>>,
) -> PyResult<Results<'py>> {
    const F: &str = "softmax_cross_entropy";
    with_float!(F, logits, |xs: &[T]| {
        let (par, n) = (par(F, n_threads)?, layout.0.outputs());
        let (probs, cls) = match (labels, classes) {
            (Some(q), None) => (Some(q.of::<T>(F, "labels")?), None),
            (None, Some(c)) => (None, Some(int64s(F, c)?)),
            _ => {
                return Err(PyValueError::new_err(format!(
                    "{F}: give exactly one of labels and classes"
                )))
            }
        };
        let w = sample_weight
            .map(|w| w.of::<T>(F, "sample_weight"))
            .transpose()?;
        let mut ls = losses
            .then(|| Out::<f64>::new(py, F, "losses", n))
            .transpose()?;
        let mut ds = grad
            .then(|| Out::<f64>::new(py, F, "dots", n))
            .transpose()?;
        let mut gs = grad
            .then(|| Out::<T>::new(py, F, "grad", xs.len()))
            .transpose()?;
        let targets = match (&probs, &cls) {
            (Some(q), _) => Targets::Probs(q.slice()),
            (None, Some(c)) => Targets::Classes(c.slice()),
            (None, None) => unreachable!("checked above"),
        };
        let ws = w.as_ref().map(|w| w.slice());
        let out = Outputs {
            losses: ls.as_mut().map(|l| l.slice()),
            dots: ds.as_mut().map(|d| d.slice()),
            grad: gs.as_mut().map(|g| g.slice()),
        };
        let opts = Options {
            temperature,
            label_smoothing,
            grad_scale,
        };
        let total = py.enter_core(xs.len(), || {
            core::softmax_cross_entropy(xs, targets, ws, layout.0, opts, out, par)
        })?;
        Ok((
            total,
            ls.map(Out::finish).transpose()?,
            ds.map(Out::finish).transpose()?,
            gs.map(Out::finish).transpose()?,
        ))
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(softmax_cross_entropy, m)?)?;
    Ok(())
}
