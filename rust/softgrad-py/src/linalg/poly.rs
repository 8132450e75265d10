//! `softgrad._core.poly`: polynomial preconditioners (`softgrad_core::linalg::poly`): the bounds
//! (estimated by Lanczos when not given) and the application `p(A) r`.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use softgrad_core::linalg::poly::{estimate_bounds, Kind, Poly};

use super::pyop::Operator;
use crate::call::guard;
use crate::convert::{par, Floats, Out, Threads};
use crate::errors::core_err;

type Array<'py> = Bound<'py, PyAny>;

fn kind(func: &str, kind: &str) -> PyResult<Kind> {
    match kind {
        "chebyshev" => Ok(Kind::Chebyshev),
        "neumann" => Ok(Kind::Neumann),
        other => Err(PyValueError::new_err(format!(
            "{func}: kind must be 'chebyshev' or 'neumann', got {other:?}"
        ))),
    }
}

/// Bounds `(lo, hi)` of the spectrum of the SPD operator `matvec` (of `D⁻¹A` with `inv_diag`).
#[pyfunction]
#[pyo3(signature = (matvec, n, inv_diag, seed, n_threads=None))]
fn poly_bounds<'py>(
    py: Python<'py>,
    matvec: Bound<'py, PyAny>,
    n: usize,
    inv_diag: Option<Floats<'py>>,
    seed: u64,
    n_threads: Option<Threads<'py>>,
) -> PyResult<(f64, f64)> {
    const F: &str = "polynomial";
    guard(F, || {
        let par = par(F, n_threads)?;
        let inv = inv_diag.map(|d| d.of::<f64>(F, "inv_diag")).transpose()?;
        let inv = inv.as_ref().map(|d| d.slice());
        if let Some(d) = inv {
            if d.len() != n {
                return Err(PyValueError::new_err(format!(
                    "{F}: inv_diag has length {}, expected {n}",
                    d.len()
                )));
            }
        }
        let op = Operator::python(F, "matvec", n, matvec, None)?;
        op.finish(
            py.detach(|| estimate_bounds(&op, inv, seed, par))
                .map_err(core_err),
        )
    })
}

/// `p(A) r` (float64 `r`) for the polynomial `kind` of `degree` on `[lo, hi]`.
#[pyfunction]
#[pyo3(signature = (matvec, r, kind, degree, lo, hi, inv_diag, n_threads=None))]
#[allow(clippy::too_many_arguments)]
fn poly_apply<'py>(
    py: Python<'py>,
    matvec: Bound<'py, PyAny>,
    r: Floats<'py>,
    kind: &str,
    degree: usize,
    lo: f64,
    hi: f64,
    inv_diag: Option<Floats<'py>>,
    n_threads: Option<Threads<'py>>,
) -> PyResult<Array<'py>> {
    const F: &str = "polynomial";
    guard(F, || {
        let par = par(F, n_threads)?;
        let kind = self::kind(F, kind)?;
        let r = r.of::<f64>(F, "r")?;
        let rs = r.slice();
        let n = rs.len();
        let inv = inv_diag.map(|d| d.of::<f64>(F, "inv_diag")).transpose()?;
        let inv = inv.as_ref().map(|d| d.slice().to_vec());
        let op = Operator::python(F, "matvec", n, matvec, None)?;
        let mut out = Out::<f64>::new(py, F, "out", n)?;
        let o = out.slice();
        op.finish(
            py.detach(|| {
                let p = Poly::new(&op, kind, degree, Some((lo, hi)), inv, 0, par)?;
                softgrad_core::linalg::LinOp::apply(&p, rs, o, par)
            })
            .map_err(core_err),
        )?;
        out.finish()
    })
}

/// Adds the bindings to the submodule.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(poly_bounds, m)?)?;
    m.add_function(wrap_pyfunction!(poly_apply, m)?)?;
    Ok(())
}
