//! `softgrad._core.steihaug`: truncated CG for the trust-region subproblem
//! (`softgrad_core::linalg::steihaug`).

use pyo3::prelude::*;
use softgrad_core::linalg::steihaug::{self as core, Options, Reason};
use softgrad_core::linalg::LinOp;

use super::pyop::Operator;
use crate::call::guard;
use crate::convert::{par, Floats, Out, Threads};
use crate::errors::core_err;

type Array<'py> = Bound<'py, PyAny>;

/// `(p, reason, iterations, decrease, norm, direction)` for the model `gᵀp + ½pᵀAp` of the
/// operator `matvec` (float64 `g`), in the region `‖p‖ ≤ radius` (`‖p‖_M` with `M`, given as the
/// callable `m_inv` applying `M⁻¹`).
#[pyfunction]
#[pyo3(signature = (matvec, g, radius, m_inv, rtol, maxiter, n_threads=None))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn cg_steihaug<'py>(
    py: Python<'py>,
    matvec: Bound<'py, PyAny>,
    g: Floats<'py>,
    radius: f64,
    m_inv: Option<Bound<'py, PyAny>>,
    rtol: f64,
    maxiter: usize,
    n_threads: Option<Threads<'py>>,
) -> PyResult<(
    Array<'py>,
    &'static str,
    usize,
    f64,
    f64,
    Option<Array<'py>>,
)> {
    const F: &str = "cg_steihaug";
    guard(F, || {
        let par = par(F, n_threads)?;
        let g = g.of::<f64>(F, "g")?;
        let gs = g.slice();
        let n = gs.len();
        let op = Operator::python(F, "matvec", n, matvec, None)?;
        let m = m_inv
            .map(|m| Operator::python(F, "M", n, m, None))
            .transpose()?;
        let o = Options {
            radius,
            rtol,
            maxiter,
        };
        let res = py
            .detach(|| core::steihaug(&op, gs, m.as_ref().map(|m| m as &dyn LinOp), &o, par))
            .map_err(core_err);
        let res = match &m {
            Some(m) => m.finish(op.finish(res)),
            None => op.finish(res),
        };
        let s = res?;
        let copy = |name: &str, v: &[f64]| -> PyResult<Array<'py>> {
            let mut out = Out::<f64>::new(py, F, name, v.len())?;
            out.slice().copy_from_slice(v);
            out.finish()
        };
        let reason = match s.reason {
            Reason::Converged => "converged",
            Reason::NegativeCurvature => "negative_curvature",
            Reason::Boundary => "boundary",
            Reason::MaxIter => "maxiter",
        };
        let dir = s
            .direction
            .as_deref()
            .map(|d| copy("direction", d))
            .transpose()?;
        Ok((
            copy("p", &s.p)?,
            reason,
            s.iterations,
            s.decrease,
            s.norm,
            dir,
        ))
    })
}

/// Adds the bindings to the submodule.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(cg_steihaug, m)?)?;
    Ok(())
}
