//! `softgrad._core.lanczos`: extreme eigenpairs of a symmetric operator
//! (`softgrad_core::linalg::lanczos`).

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use softgrad_core::linalg::lanczos::{self as core, Options, Which};

use super::pyop::Operator;
use crate::call::guard;
use crate::convert::{par, Out, Threads};
use crate::errors::core_err;

type Array<'py> = Bound<'py, PyAny>;

/// `(values, vectors (k × n, flat), residuals, matvecs, runs, converged)` of the `k` eigenpairs of
/// the `n × n` symmetric operator `matvec` at the end(s) `which` ("largest", "smallest", "both").
#[pyfunction]
#[pyo3(signature = (matvec, n, k, which, maxiter, tol, seed, n_threads=None))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn lanczos<'py>(
    py: Python<'py>,
    matvec: Bound<'py, PyAny>,
    n: usize,
    k: usize,
    which: &str,
    maxiter: Option<usize>,
    tol: f64,
    seed: u64,
    n_threads: Option<Threads<'py>>,
) -> PyResult<(Array<'py>, Array<'py>, Array<'py>, usize, usize, bool)> {
    const F: &str = "lanczos";
    guard(F, || {
        let par = par(F, n_threads)?;
        let which = match which {
            "largest" => Which::Largest,
            "smallest" => Which::Smallest,
            "both" => Which::Both,
            other => {
                return Err(PyValueError::new_err(format!(
                    "{F}: which must be 'largest', 'smallest' or 'both', got {other:?}"
                )))
            }
        };
        let op = Operator::python(F, "matvec", n, matvec, None)?;
        let o = Options {
            k,
            which,
            maxiter,
            tol,
            seed,
        };
        let e = op.finish(py.detach(|| core::lanczos(&op, &o, par)).map_err(core_err))?;
        let copy = |name: &str, v: &[f64]| -> PyResult<Array<'py>> {
            let mut out = Out::<f64>::new(py, F, name, v.len())?;
            out.slice().copy_from_slice(v);
            out.finish()
        };
        Ok((
            copy("eigenvalues", &e.values)?,
            copy("eigenvectors", &e.vectors)?,
            copy("residuals", &e.residuals)?,
            e.matvecs,
            e.runs,
            e.converged,
        ))
    })
}

/// Adds the bindings to the submodule.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(lanczos, m)?)?;
    Ok(())
}
