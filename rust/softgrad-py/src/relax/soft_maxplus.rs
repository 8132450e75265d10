//! `softgrad._core.soft_maxplus`: bindings of the log-semiring matrix product
//! (`softgrad_core::relax::soft_maxplus`). `a` is a stack of `m × k` matrices and `b` of `k × n`
//! (flat, C order, one dtype); `a_index`/`b_index` (int64, one per product) pick the pair of each
//! product of the batch (NumPy's broadcasting, without copies). The forward's residual (private f64
//! copies of `a`, `b` and the products) stays in Rust, in an opaque [`Residuals`] object.

use numpy::PyReadonlyArray1;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use softgrad_core::par::scratch;
use softgrad_core::relax::soft_maxplus::{self as core, Pairs, Res, Spec};
use softgrad_core::Real;

use crate::call::EnterCore;
use crate::convert::{par, with_float, Floats, Out, Threads};
use crate::errors::core_err;

type Array<'py> = Bound<'py, PyAny>;

/// What a forward keeps for its derivatives (opaque; made by `forward(..., keep=True)`).
#[pyclass(frozen, module = "softgrad._core.soft_maxplus")]
pub struct Residuals {
    spec: Spec,
    ai: Vec<usize>,
    bi: Vec<usize>,
    a: Vec<f64>,
    b: Vec<f64>,
    c: Vec<f64>,
}

impl Residuals {
    fn pairs(&self) -> Pairs<'_> {
        Pairs {
            a: &self.ai,
            b: &self.bi,
        }
    }
    fn res(&self) -> Res<'_> {
        Res {
            a: &self.a,
            b: &self.b,
            c: &self.c,
        }
    }
}

fn indices(func: &str, name: &str, v: PyReadonlyArray1<'_, i64>) -> PyResult<Vec<usize>> {
    v.as_array()
        .iter()
        .map(|&i| {
            usize::try_from(i)
                .map_err(|_| PyValueError::new_err(format!("{func}: {name} must be >= 0, got {i}")))
        })
        .collect()
}

fn widened<T: Real>(func: &'static str, s: &[T]) -> PyResult<Vec<f64>> {
    let mut v = scratch(func, s.len(), 0.0).map_err(core_err)?;
    v.iter_mut().zip(s).for_each(|(o, a)| *o = a.to_f64());
    Ok(v)
}

/// The products (flat, `len(a_index) × m × n`, the dtype of `a`); with `keep`, also the residuals.
#[pyfunction(signature = (a, b, a_index, b_index, m, k, n, temperature, min, n_threads=None, keep=false))]
fn forward<'py>(
    py: Python<'py>,
    a: Floats<'py>,
    b: Floats<'py>,
    a_index: PyReadonlyArray1<'py, i64>,
    b_index: PyReadonlyArray1<'py, i64>,
    m: usize,
    k: usize,
    n: usize,
    temperature: f64,
    min: bool,
    n_threads: Option<Threads<'py>>,
    keep: bool,
) -> PyResult<(Array<'py>, Option<Residuals>)> {
    let spec = Spec {
        m,
        k,
        n,
        temperature,
        min,
    };
    let f = spec.name();
    let ai = indices(f, "a_index", a_index)?;
    let bi = indices(f, "b_index", b_index)?;
    with_float!(f, a, |xa: &[T]| {
        let b = b.of::<T>(f, "b")?;
        let xb = b.slice();
        let par = par(f, n_threads)?;
        let len = ai.len().saturating_mul(m).saturating_mul(n);
        let mut out = Out::<T>::new(py, f, "out", len)?;
        let os = out.slice();
        let mut c = if keep {
            Some(scratch(f, len, 0.0).map_err(core_err)?)
        } else {
            None
        };
        let cs = c.as_deref_mut();
        let pairs = Pairs { a: &ai, b: &bi };
        let work = len.saturating_mul(k);
        py.enter_core(work, || core::forward(xa, xb, pairs, spec, os, cs, par))?;
        let kept = match c {
            Some(c) => Some(Residuals {
                spec,
                ai: ai.clone(),
                bi: bi.clone(),
                a: widened(f, xa)?,
                b: widened(f, xb)?,
                c,
            }),
            None => None,
        };
        Ok((out.finish()?, kept))
    })
}

/// Pullback for the cotangent `g` (flat, the forward's dtype): the cotangents of each product's
/// `a` (`len(a_index) × m × k`) and `b` (`len(b_index) × k × n`), and of the temperature.
#[pyfunction(signature = (res, g, n_threads=None))]
fn vjp<'py>(
    py: Python<'py>,
    res: Bound<'py, Residuals>,
    g: Floats<'py>,
    n_threads: Option<Threads<'py>>,
) -> PyResult<(Array<'py>, Array<'py>, f64)> {
    let r = res.get();
    let s = r.spec;
    let f = s.name();
    with_float!(f, g, |gs: &[T]| {
        let par = par(f, n_threads)?;
        let batch = r.ai.len();
        let mut ga = Out::<T>::new(py, f, "ga", batch.saturating_mul(s.m * s.k))?;
        let mut gb = Out::<T>::new(py, f, "gb", batch.saturating_mul(s.k * s.n))?;
        let (gas, gbs) = (ga.slice(), gb.slice());
        let work = gs.len().saturating_mul(s.k);
        let dt = py.enter_core(work, || core::vjp(r.res(), r.pairs(), s, gs, gas, gbs, par))?;
        Ok((ga.finish()?, gb.finish()?, dt))
    })
}

/// Tangent for the tangents `da` (the `a` stack's shape), `db` and `dt` (flat, the forward's dtype).
#[pyfunction(signature = (res, da, db, dt, n_threads=None))]
fn jvp<'py>(
    py: Python<'py>,
    res: Bound<'py, Residuals>,
    da: Floats<'py>,
    db: Floats<'py>,
    dt: f64,
    n_threads: Option<Threads<'py>>,
) -> PyResult<Array<'py>> {
    let r = res.get();
    let s = r.spec;
    let f = s.name();
    with_float!(f, da, |das: &[T]| {
        let db = db.of::<T>(f, "db")?;
        let dbs = db.slice();
        let par = par(f, n_threads)?;
        let mut out = Out::<T>::new(py, f, "out", r.c.len())?;
        let os = out.slice();
        let work = r.c.len().saturating_mul(s.k);
        py.enter_core(work, || {
            core::jvp(r.res(), r.pairs(), s, das, dbs, dt, os, par)
        })?;
        out.finish()
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Residuals>()?;
    m.add_function(wrap_pyfunction!(forward, m)?)?;
    m.add_function(wrap_pyfunction!(vjp, m)?)?;
    m.add_function(wrap_pyfunction!(jvp, m)?)?;
    Ok(())
}
