//! `softgrad._core.logsumexp`: bindings of the log-sum-exp family (`softgrad_core::relax::logsumexp`).
//! Arrays are C-contiguous float32/float64 (`lse`/`ct` float64) seen as a `layout`
//! `(outer, n, inner)` and reduced over `n`; results are flat.

use pyo3::prelude::*;
use softgrad_core::relax::logsumexp::{self as core, Kind};

use crate::call::EnterCore;
use crate::convert::{par, with_float, Floats, Layout, Out, Threads};

type Array<'py> = Bound<'py, PyAny>;

fn kind(log: bool) -> Kind {
    if log {
        Kind::LogSoftmax
    } else {
        Kind::Softmax
    }
}

/// Log-sum-exp of `a` (weights `b`) over `layout`'s `n`: the flat `outer * inner` values and, if
/// `return_sign`, their signs. `lse` (float64, `outer * inner`), if given, receives the values in
/// float64: the pullback's residual.
#[pyfunction(signature = (a, b, layout, temperature, return_sign, n_threads=None, lse=None))]
fn logsumexp<'py>(
    py: Python<'py>,
    a: Floats<'py>,
    b: Option<Floats<'py>>,
    layout: Layout,
    temperature: f64,
    return_sign: bool,
    n_threads: Option<Threads<'py>>,
    lse: Option<Floats<'py>>,
) -> PyResult<(Array<'py>, Option<Array<'py>>)> {
    const F: &str = "logsumexp";
    with_float!(F, a, |xs: &[T]| {
        let (par, n) = (par(F, n_threads)?, layout.0.outputs());
        let b = b.map(|b| b.of::<T>(F, "b")).transpose()?;
        let mut out = Out::<T>::new(py, F, "out", n)?;
        let mut sign = return_sign
            .then(|| Out::<T>::new(py, F, "sign", n))
            .transpose()?;
        let mut lse = Out::<f64>::given(F, "lse", lse, n)?;
        let (bs, os, ss) = (
            b.as_ref().map(|b| b.slice()),
            out.slice(),
            sign.as_mut().map(|s| s.slice()),
        );
        let ls = lse.as_mut().map(|l| l.slice());
        py.enter_core(xs.len(), || {
            core::logsumexp(xs, bs, layout.0, temperature, os, ss, ls, par)
        })?;
        lse.map(Out::finish).transpose()?;
        Ok((out.finish()?, sign.map(Out::finish).transpose()?))
    })
}

/// Softmax (or, with `log`, log-softmax) of `x` over `layout`'s `n`, flat: written into `out` if
/// given (same dtype and length; may be partly written if the call fails or is interrupted), else
/// into a new array. `lse` (float64, `outer * inner`), if given, receives `t ln Σ e^{x/t}` per lane.
#[pyfunction(signature = (x, layout, temperature, log, n_threads=None, out=None, lse=None))]
fn softmax<'py>(
    py: Python<'py>,
    x: Floats<'py>,
    layout: Layout,
    temperature: f64,
    log: bool,
    n_threads: Option<Threads<'py>>,
    out: Option<Floats<'py>>,
    lse: Option<Floats<'py>>,
) -> PyResult<Array<'py>> {
    let f = kind(log).name();
    with_float!(f, x, |xs: &[T]| {
        let par = par(f, n_threads)?;
        let mut out = Out::<T>::given_or_new(py, f, "out", out, xs.len())?;
        let mut lse = Out::<f64>::given(f, "lse", lse, layout.0.outputs())?;
        let (os, ls) = (out.slice(), lse.as_mut().map(|l| l.slice()));
        py.enter_core(xs.len(), || {
            core::softmax(xs, layout.0, temperature, kind(log), os, ls, par)
        })?;
        lse.map(Out::finish).transpose()?;
        out.finish()
    })
}

/// Pullback of softmax (or log-softmax) over `layout` for the cotangent `g` (dtype and length of
/// `out`), from the forward's output `out` (the softmax or log-softmax values, flat): the flat input
/// cotangent and the temperature cotangent.
#[pyfunction(signature = (out, g, layout, temperature, log, n_threads=None))]
fn softmax_vjp<'py>(
    py: Python<'py>,
    out: Floats<'py>,
    g: Floats<'py>,
    layout: Layout,
    temperature: f64,
    log: bool,
    n_threads: Option<Threads<'py>>,
) -> PyResult<(Array<'py>, f64)> {
    const F: &str = "softmax_vjp";
    with_float!(F, out, |ys: &[T]| {
        let (par, g) = (par(F, n_threads)?, g.of::<T>(F, "g")?);
        let mut dx = Out::<T>::new(py, F, "dx", ys.len())?;
        let (gs, dxs) = (g.slice(), dx.slice());
        let dt = py.enter_core(ys.len(), || {
            core::softmax_vjp(ys, gs, layout.0, temperature, kind(log), dxs, par)
        })?;
        Ok((dx.finish()?, dt))
    })
}

/// Pullback of log-sum-exp over `layout` for one float64 cotangent `ct` per lane, from the
/// forward's residuals `lse` and `sign` (dtype of `a`; `None`: +1): `(da, db or None, dt)`.
#[pyfunction(signature = (a, b, lse, sign, ct, layout, temperature, n_threads=None))]
#[allow(clippy::too_many_arguments)]
fn logsumexp_vjp<'py>(
    py: Python<'py>,
    a: Floats<'py>,
    b: Option<Floats<'py>>,
    lse: Floats<'py>,
    sign: Option<Floats<'py>>,
    ct: Floats<'py>,
    layout: Layout,
    temperature: f64,
    n_threads: Option<Threads<'py>>,
) -> PyResult<(Array<'py>, Option<Array<'py>>, f64)> {
    const F: &str = "logsumexp_vjp";
    with_float!(F, a, |xs: &[T]| {
        let (par, lse, ct) = (
            par(F, n_threads)?,
            lse.of::<f64>(F, "lse")?,
            ct.of::<f64>(F, "ct")?,
        );
        let b = b.map(|b| b.of::<T>(F, "b")).transpose()?;
        let sign = sign.map(|s| s.of::<T>(F, "sign")).transpose()?;
        let mut da = Out::<T>::new(py, F, "da", xs.len())?;
        let mut db = b
            .as_ref()
            .map(|_| Out::<T>::new(py, F, "db", xs.len()))
            .transpose()?;
        let (bs, ss) = (
            b.as_ref().map(|b| b.slice()),
            sign.as_ref().map(|s| s.slice()),
        );
        let (ls, cs, das, dbs) = (
            lse.slice(),
            ct.slice(),
            da.slice(),
            db.as_mut().map(|d| d.slice()),
        );
        let dt = py.enter_core(xs.len(), || {
            core::logsumexp_vjp(xs, bs, ls, ss, cs, layout.0, temperature, das, dbs, par)
        })?;
        Ok((da.finish()?, db.map(Out::finish).transpose()?, dt))
    })
}

/// Log-sum-exp of the contiguous rows of `a` (unweighted, `layout` with `inner == 1`) for reverse
/// mode: `(out, sign or None, p, h)`, with the pullback's residuals `p` (dtype and length of `a`:
/// the input cotangent of a unit cotangent) and `h` (float64, one per row: the temperature
/// cotangent of a unit cotangent).
#[pyfunction(signature = (a, layout, temperature, return_sign, n_threads=None))]
fn logsumexp_weights<'py>(
    py: Python<'py>,
    a: Floats<'py>,
    layout: Layout,
    temperature: f64,
    return_sign: bool,
    n_threads: Option<Threads<'py>>,
) -> PyResult<(Array<'py>, Option<Array<'py>>, Array<'py>, Array<'py>)> {
    const F: &str = "logsumexp";
    with_float!(F, a, |xs: &[T]| {
        let (par, n) = (par(F, n_threads)?, layout.0.outputs());
        let mut out = Out::<T>::new(py, F, "out", n)?;
        let mut sign = return_sign
            .then(|| Out::<T>::new(py, F, "sign", n))
            .transpose()?;
        let mut p = Out::<T>::new(py, F, "p", xs.len())?;
        let mut h = Out::<f64>::new(py, F, "h", n)?;
        let (os, ss, ps, hs) = (
            out.slice(),
            sign.as_mut().map(|s| s.slice()),
            p.slice(),
            h.slice(),
        );
        py.enter_core(xs.len(), || {
            core::logsumexp_weights(xs, layout.0, temperature, os, ss, ps, hs, par)
        })?;
        Ok((
            out.finish()?,
            sign.map(Out::finish).transpose()?,
            p.finish()?,
            h.finish()?,
        ))
    })
}

/// Pullback of log-sum-exp for one float64 cotangent `ct` per row, from the residuals `p`, `h` of
/// `logsumexp_weights` (same `layout` and `temperature`): `(da, dt)`.
#[pyfunction(signature = (p, h, ct, layout, temperature, n_threads=None))]
fn logsumexp_vjp_weights<'py>(
    py: Python<'py>,
    p: Floats<'py>,
    h: Floats<'py>,
    ct: Floats<'py>,
    layout: Layout,
    temperature: f64,
    n_threads: Option<Threads<'py>>,
) -> PyResult<(Array<'py>, f64)> {
    const F: &str = "logsumexp_vjp";
    with_float!(F, p, |ps: &[T]| {
        let (par, h, ct) = (
            par(F, n_threads)?,
            h.of::<f64>(F, "h")?,
            ct.of::<f64>(F, "ct")?,
        );
        let mut da = Out::<T>::new(py, F, "da", ps.len())?;
        let (hs, cs, das) = (h.slice(), ct.slice(), da.slice());
        let dt = py.enter_core(ps.len(), || {
            core::logsumexp_vjp_weights(ps, hs, cs, layout.0, temperature, das, par)
        })?;
        Ok((da.finish()?, dt))
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(logsumexp, m)?)?;
    m.add_function(wrap_pyfunction!(softmax, m)?)?;
    m.add_function(wrap_pyfunction!(softmax_vjp, m)?)?;
    m.add_function(wrap_pyfunction!(logsumexp_vjp, m)?)?;
    m.add_function(wrap_pyfunction!(logsumexp_weights, m)?)?;
    m.add_function(wrap_pyfunction!(logsumexp_vjp_weights, m)?)?;
    Ok(())
}
