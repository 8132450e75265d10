//! `softgrad._core.hutchinson`: randomized trace and diagonal estimates
//! (`softgrad_core::linalg::hutchinson`).

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use softgrad_core::linalg::hutchinson::{self as core, Distribution, Options};

use super::pyop::Operator;
use crate::call::guard;
use crate::convert::{par, Out, Threads};
use crate::errors::core_err;

type Array<'py> = Bound<'py, PyAny>;

/// `(trace, trace_se, diagonal, diagonal_se, matvecs)` of the `n × n` operator `matvec` (batches
/// through `matmat(X)`, `X` of shape `(n, b)`, when given); `diagonal`s are `None` unless asked for.
#[pyfunction]
#[pyo3(signature = (matvec, matmat, n, n_samples, seed, distribution, batch, trace, diagonal, method, n_threads=None))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn hutchinson<'py>(
    py: Python<'py>,
    matvec: Bound<'py, PyAny>,
    matmat: Option<Bound<'py, PyAny>>,
    n: usize,
    n_samples: usize,
    seed: u64,
    distribution: &str,
    batch: usize,
    trace: bool,
    diagonal: bool,
    method: &str,
    n_threads: Option<Threads<'py>>,
) -> PyResult<(f64, f64, Option<Array<'py>>, Option<Array<'py>>, usize)> {
    const F: &str = "hutchinson";
    guard(F, || {
        let par = par(F, n_threads)?;
        let distribution = match distribution {
            "rademacher" => Distribution::Rademacher,
            "gaussian" => Distribution::Gaussian,
            other => {
                return Err(PyValueError::new_err(format!(
                    "{F}: distribution must be 'rademacher' or 'gaussian', got {other:?}"
                )))
            }
        };
        let hutchpp = match method {
            "hutchinson" => false,
            "hutch++" => true,
            other => {
                return Err(PyValueError::new_err(format!(
                    "{F}: method must be 'hutchinson' or 'hutch++', got {other:?}"
                )))
            }
        };
        let op = Operator::python(F, "matvec", n, matvec, matmat)?;
        let o = Options {
            n_samples,
            seed,
            distribution,
            batch,
            trace,
            diagonal,
            hutchpp,
        };
        let e = op.finish(
            py.detach(|| core::hutchinson(&op, &o, par))
                .map_err(core_err),
        )?;
        let copy = |name: &str, v: &[f64]| -> PyResult<Option<Array<'py>>> {
            if !diagonal {
                return Ok(None);
            }
            let mut out = Out::<f64>::new(py, F, name, v.len())?;
            out.slice().copy_from_slice(v);
            out.finish().map(Some)
        };
        Ok((
            e.trace,
            e.trace_se,
            copy("diagonal", &e.diagonal)?,
            copy("diagonal_se", &e.diagonal_se)?,
            e.matvecs,
        ))
    })
}

/// Adds the bindings to the submodule.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(hutchinson, m)?)?;
    Ok(())
}
