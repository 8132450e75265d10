//! `softgrad._core.sort`: bindings of soft sorting and ranking (`softgrad_core::relax::sort`).
//! Arrays are C-contiguous float32/float64 seen as a `layout` `(outer, n, inner)`, sorted or ranked
//! along `n`; results are flat. The forward's residuals (the sorting permutation, the sorted values
//! and the blocks of the isotonic solution) stay in Rust, in an opaque [`Residuals`] object that the
//! derivatives take: they never alias the caller's arrays.

use numpy::{PyReadonlyArray1, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use softgrad_core::par::scratch;
use softgrad_core::relax::sort::{self as core, Op, Reg, Res, ResMut, Spec};
use softgrad_core::Layout as CoreLayout;
use std::sync::Mutex;

use crate::call::EnterCore;
use crate::convert::{par, with_float, Floats, Layout, Out, Threads};
use crate::errors::core_err;

type Array<'py> = Bound<'py, PyAny>;

/// What a forward keeps for its derivatives (opaque; made by `forward(..., keep=True)`).
#[pyclass(frozen, module = "softgrad._core.sort")]
pub struct Residuals {
    spec: Spec,
    layout: CoreLayout,
    perm: Vec<u32>,
    z: Vec<f64>,
    start: Vec<bool>,
    lengths: Option<Vec<usize>>,
}

/// Residual buffers of at least this many elements are kept for reuse when their [`Residuals`] go.
const SPARE_MIN: usize = 1 << 16;
/// At most this many sets of spare residual buffers are kept (a loop holds the previous step's
/// residuals while the next forward runs, so two sets serve it).
const SPARE_SETS: usize = 2;

/// The buffers of one [`Residuals`]: permutation, `σ x`, block starts.
type Bufs = (Vec<u32>, Vec<f64>, Vec<bool>);

/// Spare residual buffers (the most recently freed last), so that a training loop reuses them
/// instead of allocating and first-touching ~13 bytes per element every step. Only ever tried:
/// a contended lock means a fresh allocation or an immediate free.
static SPARE: Mutex<Vec<Bufs>> = Mutex::new(Vec::new());

/// Residual buffers of `n` elements each (contents unspecified: the forward writes them in full).
fn bufs(f: &'static str, n: usize) -> PyResult<Bufs> {
    if n >= SPARE_MIN {
        if let Ok(mut s) = SPARE.try_lock() {
            if let Some(i) = s.iter().rposition(|b| b.1.len() == n) {
                return Ok(s.remove(i));
            }
        }
    }
    Ok((
        scratch(f, n, 0u32).map_err(core_err)?,
        scratch(f, n, 0.0).map_err(core_err)?,
        scratch(f, n, false).map_err(core_err)?,
    ))
}

impl Drop for Residuals {
    fn drop(&mut self) {
        if self.z.len() < SPARE_MIN {
            return;
        }
        if let Ok(mut s) = SPARE.try_lock() {
            s.push((
                std::mem::take(&mut self.perm),
                std::mem::take(&mut self.z),
                std::mem::take(&mut self.start),
            ));
            if s.len() > SPARE_SETS {
                s.remove(0);
            }
        }
    }
}

impl Residuals {
    fn res(&self) -> Res<'_> {
        Res {
            perm: &self.perm,
            z: &self.z,
            start: &self.start,
            lengths: self.lengths.as_deref(),
        }
    }
}

/// The `lengths` argument (int64, one per lane) as sizes; negative values are a `ValueError`.
fn lengths(func: &str, l: Option<PyReadonlyArray1<'_, i64>>) -> PyResult<Option<Vec<usize>>> {
    let Some(l) = l else { return Ok(None) };
    let v: Vec<i64> = if l.is_c_contiguous() {
        l.as_slice()?.to_vec()
    } else {
        l.as_array().to_vec()
    };
    v.into_iter()
        .map(|m| {
            usize::try_from(m).map_err(|_| {
                PyValueError::new_err(format!("{func}: lengths must be >= 0, got {m}"))
            })
        })
        .collect::<PyResult<Vec<usize>>>()
        .map(Some)
}

fn spec(func: &'static str, op: Op, reg: &str, strength: f64, descending: bool) -> PyResult<Spec> {
    let reg = match reg {
        "l2" => Reg::L2,
        "kl" => Reg::Kl,
        other => {
            return Err(PyValueError::new_err(format!(
                "{func}: regularization must be 'l2' or 'kl', got {other:?}"
            )))
        }
    };
    Ok(Spec {
        op,
        reg,
        strength,
        descending,
    })
}

/// Soft sort (`op="sort"`), rank (`"rank"`) or top-`k` mask (`"topk"`) of `x` along `layout`'s
/// `n`, flat; with `keep`, also the residuals of `vjp` and `jvp`. `lengths` (int64, one per lane)
/// makes the lanes ragged: lane `j` is its first `lengths[j]` values, the rest of it is 0.
#[pyfunction(signature = (x, layout, op, regularization, strength, descending, n_threads=None, keep=false, k=0, lengths=None))]
fn forward<'py>(
    py: Python<'py>,
    x: Floats<'py>,
    layout: Layout,
    op: &str,
    regularization: &str,
    strength: f64,
    descending: bool,
    n_threads: Option<Threads<'py>>,
    keep: bool,
    k: usize,
    lengths: Option<PyReadonlyArray1<'py, i64>>,
) -> PyResult<(Array<'py>, Option<Residuals>)> {
    let op = match op {
        "sort" => Op::Sort,
        "rank" => Op::Rank,
        "topk" => Op::TopK(k),
        other => {
            return Err(PyValueError::new_err(format!(
                "sort.forward: op must be 'sort', 'rank' or 'topk', got {other:?}"
            )))
        }
    };
    let f = Spec {
        op,
        reg: Reg::L2,
        strength,
        descending,
    }
    .name();
    let lengths = self::lengths(f, lengths)?;
    with_float!(f, x, |xs: &[T]| {
        let (par, sp) = (
            par(f, n_threads)?,
            spec(f, op, regularization, strength, descending)?,
        );
        let mut out = Out::<T>::new(py, f, "out", xs.len())?;
        let mut kept = if keep {
            let (perm, z, start) = bufs(f, xs.len())?;
            Some(Residuals {
                spec: sp,
                layout: layout.0,
                perm,
                z,
                start,
                lengths: lengths.clone(),
            })
        } else {
            None
        };
        let os = out.slice();
        let rm = kept.as_mut().map(|r| ResMut {
            perm: &mut r.perm,
            z: &mut r.z,
            start: &mut r.start,
        });
        let ls = lengths.as_deref();
        py.enter_core(xs.len(), || {
            core::forward(xs, layout.0, sp, os, rm, ls, par)
        })?;
        Ok((out.finish()?, kept))
    })
}

/// Pullback for the cotangent `g` (flat, the forward's dtype): the `x` cotangent and the strength
/// cotangent.
#[pyfunction(signature = (res, g, n_threads=None))]
fn vjp<'py>(
    py: Python<'py>,
    res: Bound<'py, Residuals>,
    g: Floats<'py>,
    n_threads: Option<Threads<'py>>,
) -> PyResult<(Array<'py>, f64)> {
    let r = res.get();
    let f = r.spec.name();
    with_float!(f, g, |gs: &[T]| {
        let par = par(f, n_threads)?;
        let mut gx = Out::<T>::new(py, f, "gx", gs.len())?;
        let gxs = gx.slice();
        let de = py.enter_core(gs.len(), || {
            core::vjp(r.res(), gs, r.layout, r.spec, gxs, par)
        })?;
        Ok((gx.finish()?, de))
    })
}

/// Tangent for the tangents `dx` (flat, the forward's dtype) and `dstrength`.
#[pyfunction(signature = (res, dx, dstrength, n_threads=None))]
fn jvp<'py>(
    py: Python<'py>,
    res: Bound<'py, Residuals>,
    dx: Floats<'py>,
    dstrength: f64,
    n_threads: Option<Threads<'py>>,
) -> PyResult<Array<'py>> {
    let r = res.get();
    let f = r.spec.name();
    with_float!(f, dx, |us: &[T]| {
        let par = par(f, n_threads)?;
        let mut out = Out::<T>::new(py, f, "out", us.len())?;
        let os = out.slice();
        py.enter_core(us.len(), || {
            core::jvp(r.res(), us, dstrength, r.layout, r.spec, os, par)
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
