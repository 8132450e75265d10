//! `softgrad._core.soft_dtw`: bindings of soft-DTW (`softgrad_core::relax::soft_dtw`). A batch of
//! pairs is given as the `x` series one after the other (flat, C order), the `y` series likewise,
//! and their lengths `n`, `m` (int64, one per pair; all equal runs the batch in SIMD lanes). The
//! forward's residual (its DP tables, and private f64 copies of `x` and `y`) stays in Rust, in an
//! opaque [`Residuals`] object: the pullback never reads the caller's arrays.

use numpy::{PyArrayDyn, PyArrayMethods, PyReadonlyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use softgrad_core::par::scratch;
use softgrad_core::relax::soft_dtw::{self as core, Batch, Lens};
use softgrad_core::Real;

use crate::call::EnterCore;
use crate::convert::{par, with_float, Floats, Out, Threads};
use crate::errors::core_err;

type Array<'py> = Bound<'py, PyAny>;

const F: &str = "soft_dtw";

/// Per-pair lengths, and whether they are all equal.
#[derive(Debug, Clone)]
struct Shape {
    n: Vec<usize>,
    m: Vec<usize>,
    d: usize,
    uniform: bool,
}

impl Shape {
    fn of(n: PyReadonlyArray1<'_, i64>, m: PyReadonlyArray1<'_, i64>, d: usize) -> PyResult<Self> {
        let conv = |a: PyReadonlyArray1<'_, i64>, name: &str| -> PyResult<Vec<usize>> {
            a.as_array()
                .iter()
                .map(|&v| {
                    usize::try_from(v).map_err(|_| {
                        PyValueError::new_err(format!("{F}: {name} must be >= 0, got {v}"))
                    })
                })
                .collect()
        };
        let (n, m) = (conv(n, "n")?, conv(m, "m")?);
        let uniform = n.len() == m.len()
            && n.windows(2).all(|w| w[0] == w[1])
            && m.windows(2).all(|w| w[0] == w[1]);
        Ok(Shape { n, m, d, uniform })
    }

    /// Cells of the DP tables: the work of a call.
    fn work(&self) -> usize {
        self.n
            .iter()
            .zip(&self.m)
            .fold(0usize, |w, (a, b)| w.saturating_add(a.saturating_mul(*b)))
    }

    fn batch(&self) -> Batch<'_> {
        let lens = match (self.uniform, self.n.first(), self.m.first()) {
            (true, Some(&n), Some(&m)) => Lens::Uniform {
                pairs: self.n.len(),
                n,
                m,
            },
            _ => Lens::Ragged {
                n: &self.n,
                m: &self.m,
            },
        };
        Batch { lens, d: self.d }
    }
}

/// What a forward keeps for its pullback (opaque; made by `forward(..., keep=True)`).
#[pyclass(frozen, module = "softgrad._core.soft_dtw")]
pub struct Residuals {
    shape: Shape,
    gamma: f64,
    x: Vec<f64>,
    y: Vec<f64>,
    /// The forward tables, in a cached NumPy buffer (a training loop reuses it: no page faults).
    table: Py<PyArrayDyn<f64>>,
}

fn widened<T: Real>(s: &[T]) -> PyResult<Vec<f64>> {
    let mut v = scratch(F, s.len(), 0.0).map_err(core_err)?;
    v.iter_mut().zip(s).for_each(|(o, a)| *o = a.to_f64());
    Ok(v)
}

/// Soft-DTW values of the pairs (one per pair, the dtype of `x`); with `keep`, also the residuals
/// of `vjp`.
#[pyfunction(signature = (x, y, n, m, d, gamma, n_threads=None, keep=false))]
fn forward<'py>(
    py: Python<'py>,
    x: Floats<'py>,
    y: Floats<'py>,
    n: PyReadonlyArray1<'py, i64>,
    m: PyReadonlyArray1<'py, i64>,
    d: usize,
    gamma: f64,
    n_threads: Option<Threads<'py>>,
    keep: bool,
) -> PyResult<(Array<'py>, Option<Residuals>)> {
    let shape = Shape::of(n, m, d)?;
    with_float!(F, x, |xs: &[T]| {
        let y = y.of::<T>(F, "y")?;
        let ys = y.slice();
        let par = par(F, n_threads)?;
        let batch = shape.batch();
        let mut out = Out::<T>::new(py, F, "out", batch.pairs())?;
        let os = out.slice();
        let mut table = if keep {
            let len = core::residual_len(&batch).map_err(core_err)?;
            Some(Out::<f64>::new(py, F, "table", len)?)
        } else {
            None
        };
        let t = table.as_mut().map(|t| t.slice());
        py.enter_core(shape.work(), || {
            core::forward(xs, ys, &batch, gamma, os, t, par)
        })?;
        let kept = match table {
            Some(table) => Some(Residuals {
                shape: shape.clone(),
                gamma,
                x: widened(xs)?,
                y: widened(ys)?,
                table: table.finish()?.cast_into::<PyArrayDyn<f64>>()?.unbind(),
            }),
            None => None,
        };
        Ok((out.finish()?, kept))
    })
}

/// Pullback for the cotangent `g` (one per pair, the forward's dtype): the `x` and `y` cotangents
/// (flat), and with `alignment` the expected alignment matrices (float64, `n_p × m_p` per pair,
/// flat, one after the other, not scaled by `g`).
#[pyfunction(signature = (res, g, n_threads=None, alignment=false))]
fn vjp<'py>(
    py: Python<'py>,
    res: Bound<'py, Residuals>,
    g: Floats<'py>,
    n_threads: Option<Threads<'py>>,
    alignment: bool,
) -> PyResult<(Array<'py>, Array<'py>, Option<Array<'py>>)> {
    let r = res.get();
    let table = r.table.bind(py).readonly();
    let ts = table.as_slice()?;
    with_float!(F, g, |gs: &[T]| {
        let par = par(F, n_threads)?;
        let batch = r.shape.batch();
        let mut gx = Out::<T>::new(py, F, "gx", r.x.len())?;
        let mut gy = Out::<T>::new(py, F, "gy", r.y.len())?;
        let mut al = if alignment {
            let len = core::alignment_len(&batch).map_err(core_err)?;
            Some(Out::<f64>::new(py, F, "alignment", len)?)
        } else {
            None
        };
        let (gxs, gys) = (gx.slice(), gy.slice());
        let als = al.as_mut().map(|a| a.slice());
        py.enter_core(ts.len(), || {
            core::vjp(&r.x, &r.y, &batch, r.gamma, ts, gs, gxs, gys, als, par)
        })?;
        let al = match al {
            Some(a) => Some(a.finish()?),
            None => None,
        };
        Ok((gx.finish()?, gy.finish()?, al))
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Residuals>()?;
    m.add_function(wrap_pyfunction!(forward, m)?)?;
    m.add_function(wrap_pyfunction!(vjp, m)?)?;
    Ok(())
}
