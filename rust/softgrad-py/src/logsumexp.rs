//! Bindings of `softgrad_core::relax::{logsumexp, softmax}`.

use numpy::{Element, PyArray1, PyArrayMethods};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use softgrad_core::relax::logsumexp::{self as sm};
use softgrad_core::relax::logsumexp::{self as lse, Kind};
use softgrad_core::relax::Layout;
use softgrad_core::Real;

use crate::convert::{float_dtype, output, par, readonly, Dtype};
use crate::errors::{run, run_into};

type Arrays<'py> = (Bound<'py, PyAny>, Option<Bound<'py, PyAny>>);

#[allow(clippy::too_many_arguments)]
fn logsumexp_t<'py, T: Element + Real>(
    py: Python<'py>,
    a: &Bound<'py, PyAny>,
    b: Option<&Bound<'py, PyAny>>,
    layout: Layout,
    temperature: f64,
    return_sign: bool,
    n_threads: Option<usize>,
) -> PyResult<Arrays<'py>> {
    let a = readonly::<T>("logsumexp", "a", a)?;
    let b = b.map(|b| readonly::<T>("logsumexp", "b", b)).transpose()?;
    let (x, bs) = (a.as_slice()?, b.as_ref().map(|b| b.as_slice()).transpose()?);
    let par = par(n_threads)?;
    let out = output::<T>(py, layout.outputs());
    let sign = return_sign.then(|| output::<T>(py, layout.outputs()));
    {
        let mut o = out.readwrite();
        let mut s = sign.as_ref().map(|s| s.readwrite());
        let (os, ss) = (
            o.as_slice_mut()?,
            s.as_mut().map(|s| s.as_slice_mut()).transpose()?,
        );
        run(py, || {
            lse::logsumexp(x, bs, layout, temperature, os, ss, None, par)
        })?;
    }
    Ok((out.into_any(), sign.map(|s| s.into_any())))
}

/// Log-sum-exp of a C-contiguous array seen as `(outer, n, inner)`, over `n`. Returns the flat
/// `outer * inner` values and, if `return_sign`, their signs.
#[pyfunction]
#[pyo3(signature = (a, b, outer, n, inner, temperature=1.0, return_sign=false, n_threads=None))]
#[allow(clippy::too_many_arguments)]
fn logsumexp<'py>(
    py: Python<'py>,
    a: &Bound<'py, PyAny>,
    b: Option<&Bound<'py, PyAny>>,
    outer: usize,
    n: usize,
    inner: usize,
    temperature: f64,
    return_sign: bool,
    n_threads: Option<usize>,
) -> PyResult<Arrays<'py>> {
    let layout = Layout::new(outer, n, inner);
    match float_dtype("logsumexp", "a", a)? {
        Dtype::F64 => logsumexp_t::<f64>(py, a, b, layout, temperature, return_sign, n_threads),
        Dtype::F32 => logsumexp_t::<f32>(py, a, b, layout, temperature, return_sign, n_threads),
    }
}

fn softmax_t<'py, T: Element + Real>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    layout: Layout,
    temperature: f64,
    kind: Kind,
    n_threads: Option<usize>,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let func = if kind == Kind::Softmax {
        "softmax"
    } else {
        "log_softmax"
    };
    let x = readonly::<T>(func, "x", x)?;
    let xs = x.as_slice()?;
    let par = par(n_threads)?;
    let out = match out {
        Some(o) => o
            .cast::<PyArray1<T>>()
            .map_err(|_| {
                PyTypeError::new_err(format!("{func}: out must be a 1-D array of the dtype of x"))
            })?
            .clone(),
        None => output::<T>(py, xs.len()),
    };
    run_into(&out, |os| {
        sm::softmax(xs, layout, temperature, kind, os, None, par)
    })?;
    Ok(out.into_any())
}

/// Softmax (or, with `log`, log-softmax) of a C-contiguous array seen as `(outer, n, inner)`, over
/// `n`. Returns a flat array of the input's length: `out` if given (1-D, contiguous, same dtype,
/// not overlapping `x`), else a new one.
#[pyfunction]
#[pyo3(signature = (x, outer, n, inner, temperature=1.0, log=false, n_threads=None, out=None))]
#[allow(clippy::too_many_arguments)]
fn softmax<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    outer: usize,
    n: usize,
    inner: usize,
    temperature: f64,
    log: bool,
    n_threads: Option<usize>,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let layout = Layout::new(outer, n, inner);
    let kind = if log { Kind::LogSoftmax } else { Kind::Softmax };
    match float_dtype("softmax", "x", x)? {
        Dtype::F64 => softmax_t::<f64>(py, x, layout, temperature, kind, n_threads, out),
        Dtype::F32 => softmax_t::<f32>(py, x, layout, temperature, kind, n_threads, out),
    }
}

fn softmax_vjp_t<'py, T: Element + Real>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    g: &Bound<'py, PyAny>,
    n: usize,
    temperature: f64,
    kind: Kind,
    n_threads: Option<usize>,
) -> PyResult<(Bound<'py, PyAny>, f64)> {
    let x = readonly::<T>("softmax_vjp", "x", x)?;
    let g = readonly::<T>("softmax_vjp", "cotangent", g)?;
    let (xs, gs) = (x.as_slice()?, g.as_slice()?);
    let par = par(n_threads)?;
    let dx = output::<T>(py, xs.len());
    // Throwaway glue until the bindings take the forward's residual: recompute it here.
    let layout = Layout::new(xs.len().checked_div(n).unwrap_or(0), n, 1);
    let dt = run_into(&dx, |os| {
        let mut l = vec![0.0; layout.outputs()];
        sm::softmax(xs, layout, temperature, kind, os, Some(&mut l), par)?;
        sm::softmax_vjp(xs, &l, gs, layout, temperature, kind, os, par)
    })?;
    Ok((dx.into_any(), dt))
}

/// Pullback of softmax (or, with `log`, log-softmax) over the rows of a C-contiguous array of row
/// length `n`, for cotangent `g` (same dtype and length). Returns the flat input cotangent and the
/// temperature cotangent.
#[pyfunction]
#[pyo3(signature = (x, g, n, temperature=1.0, log=false, n_threads=None))]
fn softmax_vjp<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    g: &Bound<'py, PyAny>,
    n: usize,
    temperature: f64,
    log: bool,
    n_threads: Option<usize>,
) -> PyResult<(Bound<'py, PyAny>, f64)> {
    let kind = if log { Kind::LogSoftmax } else { Kind::Softmax };
    match float_dtype("softmax_vjp", "x", x)? {
        Dtype::F64 => softmax_vjp_t::<f64>(py, x, g, n, temperature, kind, n_threads),
        Dtype::F32 => softmax_vjp_t::<f32>(py, x, g, n, temperature, kind, n_threads),
    }
}

fn logsumexp_vjp_t<'py, T: Element + Real>(
    py: Python<'py>,
    a: &Bound<'py, PyAny>,
    ct: &Bound<'py, PyAny>,
    n: usize,
    temperature: f64,
    n_threads: Option<usize>,
) -> PyResult<(Bound<'py, PyAny>, f64)> {
    let a = readonly::<T>("logsumexp_vjp", "a", a)?;
    let ct = readonly::<f64>("logsumexp_vjp", "cotangent", ct)?;
    let (xs, cs) = (a.as_slice()?, ct.as_slice()?);
    let par = par(n_threads)?;
    let da = output::<T>(py, xs.len());
    // Throwaway glue until the bindings take the forward's residual: recompute it here.
    let layout = Layout::new(xs.len().checked_div(n).unwrap_or(0), n, 1);
    let dt = run_into(&da, |os| {
        let mut v = vec![T::from_f64(0.0); layout.outputs()];
        let mut l = vec![0.0; layout.outputs()];
        lse::logsumexp(
            xs,
            None,
            layout,
            temperature,
            &mut v,
            None,
            Some(&mut l),
            par,
        )?;
        lse::logsumexp_vjp(xs, None, &l, None, cs, layout, temperature, os, None, par)
    })?;
    Ok((da.into_any(), dt))
}

/// Pullback of unweighted log-sum-exp over the rows (length `n`) of a C-contiguous array, for a
/// float64 cotangent per row. Returns the flat input cotangent and the temperature cotangent.
#[pyfunction]
#[pyo3(signature = (a, ct, n, temperature=1.0, n_threads=None))]
fn logsumexp_vjp<'py>(
    py: Python<'py>,
    a: &Bound<'py, PyAny>,
    ct: &Bound<'py, PyAny>,
    n: usize,
    temperature: f64,
    n_threads: Option<usize>,
) -> PyResult<(Bound<'py, PyAny>, f64)> {
    match float_dtype("logsumexp_vjp", "a", a)? {
        Dtype::F64 => logsumexp_vjp_t::<f64>(py, a, ct, n, temperature, n_threads),
        Dtype::F32 => logsumexp_vjp_t::<f32>(py, a, ct, n, temperature, n_threads),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(logsumexp_vjp, m)?)?;
    m.add_function(wrap_pyfunction!(softmax_vjp, m)?)?;
    m.add_function(wrap_pyfunction!(logsumexp, m)?)?;
    m.add_function(wrap_pyfunction!(softmax, m)?)?;
    Ok(())
}
