//! `softgrad._core.logsumexp`: bindings of the log-sum-exp family (`softgrad_core::relax::{logsumexp,
//! softmax, softmax_grad}`). Arrays are C-contiguous float32/float64 (`lse`/`ct` float64) seen as a
//! `layout` `(outer, n, inner)` and reduced over `n`; results are flat.

use pyo3::prelude::*;
use softgrad_core::relax::logsumexp as lse;
use softgrad_core::relax::softmax::{self as sm, Kind};
use softgrad_core::relax::softmax_grad as grad;

use crate::call::EnterCore;
use crate::convert::{par, with_float, Floats, Input, Layout, Out, Threads};

type Array<'py> = Bound<'py, PyAny>;

fn kind(log: bool) -> (&'static str, Kind) {
    match log {
        false => ("softmax", Kind::Softmax),
        true => ("log_softmax", Kind::LogSoftmax),
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
        let par = par(F, n_threads)?;
        let b = b.map(|b| b.of::<T>(F, "b")).transpose()?;
        let n = layout.0.outputs();
        let mut out = Out::<T>::new(py, F, "out", n)?;
        let mut sign = return_sign
            .then(|| Out::<T>::new(py, F, "sign", n))
            .transpose()?;
        let mut lse = Out::<f64>::given(F, "lse", lse, n)?;
        let (bs, os) = (b.as_ref().map(Input::slice), out.slice());
        let (ss, ls) = (sign.as_mut().map(Out::slice), lse.as_mut().map(Out::slice));
        py.enter_core(xs.len(), || {
            lse::logsumexp(xs, bs, layout.0, temperature, os, ss, par)?;
            interim::logsumexp_lse(xs, bs, layout.0, temperature, return_sign, ls, par)
            // merge: H2
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
    let (f, kind) = kind(log);
    with_float!(f, x, |xs: &[T]| {
        let par = par(f, n_threads)?;
        let mut out = Out::<T>::given_or_new(py, f, "out", out, xs.len())?;
        let mut lse = Out::<f64>::given(f, "lse", lse, layout.0.outputs())?;
        let (os, ls) = (out.slice(), lse.as_mut().map(Out::slice));
        py.enter_core(xs.len(), || {
            sm::softmax(xs, layout.0, temperature, kind, os, par)?;
            interim::softmax_lse(xs, layout.0, temperature, ls, par) // merge: H2
        })?;
        lse.map(Out::finish).transpose()?;
        out.finish()
    })
}

/// Pullback of softmax (or log-softmax) over the rows (length `n`) of `x`, for the cotangent `g`
/// (same dtype and length): the flat input cotangent and the temperature cotangent.
// merge: H2 (replaced by `softmax_vjp` over any layout)
#[pyfunction(signature = (x, g, n, temperature=1.0, log=false, n_threads=None))]
fn softmax_vjp_rows<'py>(
    py: Python<'py>,
    x: Floats<'py>,
    g: Floats<'py>,
    n: usize,
    temperature: f64,
    log: bool,
    n_threads: Option<Threads<'py>>,
) -> PyResult<(Array<'py>, f64)> {
    const F: &str = "softmax_vjp_rows";
    with_float!(F, x, |xs: &[T]| {
        let par = par(F, n_threads)?;
        let g = g.of::<T>(F, "g")?;
        let mut dx = Out::<T>::new(py, F, "dx", xs.len())?;
        let (gs, dxs, kind) = (g.slice(), dx.slice(), kind(log).1);
        let dt = py.enter_core(xs.len(), || {
            grad::softmax_vjp_rows(xs, gs, n, temperature, kind, dxs, par)
        })?;
        Ok((dx.finish()?, dt))
    })
}

/// Pullback of unweighted log-sum-exp over the rows (length `n`) of `a`, for one float64 cotangent
/// per row: the flat input cotangent and the temperature cotangent.
// merge: H2 (replaced by `logsumexp_vjp` over any layout, weighted or not)
#[pyfunction(signature = (a, ct, n, temperature=1.0, n_threads=None))]
fn logsumexp_vjp_rows<'py>(
    py: Python<'py>,
    a: Floats<'py>,
    ct: Floats<'py>,
    n: usize,
    temperature: f64,
    n_threads: Option<Threads<'py>>,
) -> PyResult<(Array<'py>, f64)> {
    const F: &str = "logsumexp_vjp_rows";
    with_float!(F, a, |xs: &[T]| {
        let par = par(F, n_threads)?;
        let ct = ct.of::<f64>(F, "ct")?;
        let mut da = Out::<T>::new(py, F, "da", xs.len())?;
        let (cs, das) = (ct.slice(), da.slice());
        let dt = py.enter_core(xs.len(), || {
            grad::logsumexp_vjp_rows(xs, cs, n, temperature, das, par)
        })?;
        Ok((da.finish()?, dt))
    })
}

/// merge: H2 — the core's `logsumexp`/`softmax` fill `lse` themselves; until then a second core pass
/// over a float64 copy computes it.
mod interim {
    use softgrad_core::relax::{logsumexp::logsumexp, Layout};
    use softgrad_core::{Error, Par, Real, Result};

    fn widen<T: Real>(x: &[T]) -> Result<Vec<f64>> {
        let mut v = Vec::new();
        v.try_reserve_exact(x.len()).map_err(|_| Error::Alloc {
            func: "logsumexp",
            bytes: x.len() * 8,
        })?;
        v.extend(x.iter().map(|&a| a.to_f64()));
        Ok(v)
    }

    pub fn logsumexp_lse<T: Real>(
        x: &[T],
        b: Option<&[T]>,
        layout: Layout,
        t: f64,
        signed: bool,
        lse: Option<&mut [f64]>,
        par: Par,
    ) -> Result<()> {
        let Some(lse) = lse else { return Ok(()) };
        let (x, b) = (widen(x)?, b.map(widen).transpose()?);
        let mut sign = signed.then(|| vec![0.0; lse.len()]);
        logsumexp(&x, b.as_deref(), layout, t, lse, sign.as_deref_mut(), par)
    }

    pub fn softmax_lse<T: Real>(
        x: &[T],
        layout: Layout,
        t: f64,
        lse: Option<&mut [f64]>,
        par: Par,
    ) -> Result<()> {
        let Some(lse) = lse else { return Ok(()) };
        logsumexp(&widen(x)?, None, layout, t, lse, None, par)
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(logsumexp, m)?)?;
    m.add_function(wrap_pyfunction!(softmax, m)?)?;
    m.add_function(wrap_pyfunction!(softmax_vjp_rows, m)?)?;
    m.add_function(wrap_pyfunction!(logsumexp_vjp_rows, m)?)?;
    Ok(())
}
