//! Conjugate gradients (`softgrad.linalg.cg`): the whole loop in Rust with the GIL released. The
//! matrix is a CSR matrix ([`cg`]) or a Python callable ([`cg_op`]); the preconditioner a
//! [`Preconditioner`], a Python callable or `None`. Callables (and `callback`) are called from the
//! loop with the GIL re-acquired for the call; an exception they raise ends the solve and is
//! re-raised.

use std::sync::Mutex;

use numpy::{IntoPyArray, PyArray1, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use softgrad_core::linalg::cg::{self as core, CgOptions, CgReport, CgStatus, MatDot, Plain, Pre};
use softgrad_core::linalg::{Csr, LinOp};
use softgrad_core::{Error, Par};

use crate::call::{guard, EnterCore};
use crate::convert::{par, Floats, Input, Threads};
use crate::linalg::csr::with_csr;
use crate::linalg::precond::Preconditioner;

/// `(x, status, iterations, residuals, matvecs, psolves)`.
type Outcome<'py> = (
    Bound<'py, PyArray1<f64>>,
    &'static str,
    usize,
    Bound<'py, PyArray1<f64>>,
    usize,
    usize,
);

const F: &str = "cg";

/// The solve, given the matrix (which the caller builds: a checked CSR view or a callable).
type Body<'b> = &'b mut dyn FnMut(&dyn MatDot) -> softgrad_core::Result<CgReport>;

/// The first Python exception raised by a callable during the solve.
#[derive(Default)]
struct Raised(Mutex<Option<PyErr>>);

impl Raised {
    fn keep(&self, e: PyErr, name: &'static str) -> Error {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = Some(e);
        }
        Error::param(F, name, "raised an exception")
    }

    fn take(&self) -> Option<PyErr> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// A Python callable `f(v) -> float64 array of length n` as a [`LinOp`].
struct PyOp<'r> {
    f: Py<PyAny>,
    n: usize,
    name: &'static str,
    raised: &'r Raised,
}

impl LinOp for PyOp<'_> {
    fn dim(&self) -> usize {
        self.n
    }

    fn apply(&self, x: &[f64], y: &mut [f64], _par: Par) -> softgrad_core::Result<()> {
        Python::attach(|py| -> PyResult<()> {
            let v = PyArray1::from_slice(py, x);
            let out = self.f.call1(py, (v,))?;
            let out = out.bind(py).cast::<PyArray1<f64>>()?;
            if out.len() != self.n {
                return Err(PyValueError::new_err(format!(
                    "{F}: {} returned {} values, expected {}",
                    self.name,
                    out.len(),
                    self.n
                )));
            }
            let ro = out.readonly();
            match ro.as_slice() {
                Ok(s) => y.copy_from_slice(s),
                Err(_) => y
                    .iter_mut()
                    .zip(ro.as_array().iter())
                    .for_each(|(o, v)| *o = *v),
            }
            Ok(())
        })
        .map_err(|e| self.raised.keep(e, self.name))
    }
}

fn status(s: CgStatus) -> &'static str {
    match s {
        CgStatus::Converged => "converged",
        CgStatus::MaxIter => "maxiter",
        CgStatus::NotPositiveDefinite => "not_positive_definite",
        CgStatus::PreconditionerNotPositive => "preconditioner_not_positive",
        CgStatus::NonFinite => "non_finite",
        CgStatus::Stopped => "stopped",
    }
}

/// Shared by [`cg`] and [`cg_op`]: the float64 `b` and `x0`, the preconditioner, the loop.
fn run<'py>(
    py: Python<'py>,
    a: &(dyn Fn(Body<'_>) -> softgrad_core::Result<CgReport> + Sync),
    n: usize,
    work: usize,
    b: Floats<'py>,
    x0: Option<Floats<'py>>,
    m: Option<Bound<'py, PyAny>>,
    rtol: f64,
    atol: f64,
    maxiter: usize,
    callback: Option<Py<PyAny>>,
    n_threads: Option<Threads<'py>>,
    raised: &Raised,
) -> PyResult<Outcome<'py>> {
    let par = par(F, n_threads)?;
    let b: Input<'py, f64> = b.of(F, "b")?;
    let bs = b.slice();
    if bs.len() != n {
        return Err(PyValueError::new_err(format!(
            "{F}: b has {} elements, expected {n} (the size of A)",
            bs.len()
        )));
    }
    let mut x = vec![0.0; n];
    let given = x0.is_some();
    if let Some(x0) = x0 {
        let x0: Input<'py, f64> = x0.of(F, "x0")?;
        if x0.slice().len() != n {
            return Err(PyValueError::new_err(format!(
                "{F}: x0 has {} elements, expected {n}",
                x0.slice().len()
            )));
        }
        x.copy_from_slice(x0.slice());
    }
    let pc = m
        .as_ref()
        .and_then(|m| m.cast::<Preconditioner>().ok())
        .map(|p| p.get());
    if let Some(p) = pc {
        if p.inner.op().dim() != n {
            return Err(PyValueError::new_err(format!(
                "{F}: M has shape ({0}, {0}), expected ({n}, {n})",
                p.inner.op().dim()
            )));
        }
    }
    let pyop = match (&m, pc) {
        (Some(m), None) => Some(PyOp {
            f: m.clone().unbind(),
            n,
            name: "M",
            raised,
        }),
        _ => None,
    };
    let pre = match (pc, &pyop) {
        (Some(p), _) => p.inner.pre(),
        (None, Some(o)) => Pre::Op(o),
        (None, None) => Pre::None,
    };
    let opts = CgOptions {
        rtol,
        atol,
        maxiter,
        x0: given,
    };
    let xs = x.as_mut_slice();
    let mut cb = callback.map(|cb| {
        move |_it: usize, xk: &[f64]| -> softgrad_core::Result<bool> {
            Python::attach(|py| cb.call1(py, (PyArray1::from_slice(py, xk),)).map(|_| true))
                .map_err(|e| raised.keep(e, "callback"))
        }
    });
    let res = py.enter_core(work.saturating_mul(maxiter.max(1)), || {
        a(&mut |mat: &dyn MatDot| {
            let cb = cb.as_mut().map(|c| c as core::Callback<'_>);
            core::cg(mat, bs, xs, pre, opts, cb, par)
        })
    });
    drop(pyop);
    if let Some(e) = raised.take() {
        return Err(e);
    }
    let rep = res?;
    Ok((
        x.into_pyarray(py),
        status(rep.status),
        rep.iterations,
        rep.residuals.into_pyarray(py),
        rep.matvecs,
        rep.psolves,
    ))
}

/// Conjugate gradients on the CSR matrix `(indptr, indices, data)` of size `n` (`check`: verify
/// `A = Aᵀ` first).
#[pyfunction(signature = (indptr, indices, data, n, b, x0=None, M=None, rtol=1e-5, atol=0.0, maxiter=0, callback=None, n_threads=None, check=true))]
#[allow(non_snake_case)]
fn cg<'py>(
    py: Python<'py>,
    indptr: Bound<'py, PyAny>,
    indices: Bound<'py, PyAny>,
    data: Floats<'py>,
    n: usize,
    b: Floats<'py>,
    x0: Option<Floats<'py>>,
    M: Option<Bound<'py, PyAny>>,
    rtol: f64,
    atol: f64,
    maxiter: usize,
    callback: Option<Py<PyAny>>,
    n_threads: Option<Threads<'py>>,
    check: bool,
) -> PyResult<Outcome<'py>> {
    let raised = Raised::default();
    with_csr!(F, indptr, indices, data, |p, i, d: &[T]| {
        let a = |body: Body<'_>| {
            let a = Csr::new(F, n, p, i, d)?;
            if check {
                a.check_symmetric(F)?;
            }
            body(&a)
        };
        run(
            py,
            &a,
            n,
            d.len(),
            b,
            x0,
            M,
            rtol,
            atol,
            maxiter,
            callback,
            n_threads,
            &raised,
        )
    })
}

/// Conjugate gradients on the operator `matvec(v) -> A v` (float64 vectors of length `n`).
#[pyfunction(signature = (matvec, n, b, x0=None, M=None, rtol=1e-5, atol=0.0, maxiter=0, callback=None, n_threads=None))]
#[allow(non_snake_case)]
fn cg_op<'py>(
    py: Python<'py>,
    matvec: Py<PyAny>,
    n: usize,
    b: Floats<'py>,
    x0: Option<Floats<'py>>,
    M: Option<Bound<'py, PyAny>>,
    rtol: f64,
    atol: f64,
    maxiter: usize,
    callback: Option<Py<PyAny>>,
    n_threads: Option<Threads<'py>>,
) -> PyResult<Outcome<'py>> {
    guard(F, || {
        let raised = Raised::default();
        let op = PyOp {
            f: matvec,
            n,
            name: "A",
            raised: &raised,
        };
        let a = |body: Body<'_>| body(&Plain(&op));
        run(
            py, &a, n, n, b, x0, M, rtol, atol, maxiter, callback, n_threads, &raised,
        )
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(cg, m)?)?;
    m.add_function(wrap_pyfunction!(cg_op, m)?)?;
    Ok(())
}
