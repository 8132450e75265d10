//! Preconditioners of `softgrad.precond`: set up from a CSR matrix (GIL released), held by a
//! [`Preconditioner`] that owns its factors and applies `M⁻¹`.

use numpy::{IntoPyArray, PyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use softgrad_core::linalg::cg::Pre;
use softgrad_core::linalg::ilu::{Incomplete, OnBreakdown};
use softgrad_core::linalg::jacobi::{BlockJacobi, Jacobi};
use softgrad_core::linalg::ssor::Ssor;
use softgrad_core::linalg::{Csr, LinOp};

use crate::call::{guard, EnterCore};
use crate::convert::{par, Floats, Input, Out, Threads};
use crate::linalg::csr::with_csr;

type Array<'py> = Bound<'py, PyAny>;

/// What a preconditioner holds.
pub enum Inner {
    /// Jacobi (fused into conjugate gradients' vector update).
    Jacobi(Jacobi),
    /// Block Jacobi.
    BlockJacobi(BlockJacobi),
    /// SSOR.
    Ssor(Ssor),
    /// IC(0) or ILU(0).
    Incomplete(Incomplete),
    /// Any other `M⁻¹` (e.g. a polynomial in `A`).
    Other(Box<dyn LinOp + Send + Sync>),
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Inner(n = {})", self.op().dim())
    }
}

impl Inner {
    /// The operator `M⁻¹`.
    pub fn op(&self) -> &(dyn LinOp + Sync) {
        match self {
            Inner::Jacobi(p) => p,
            Inner::BlockJacobi(p) => p,
            Inner::Ssor(p) => p,
            Inner::Incomplete(p) => p,
            Inner::Other(p) => p.as_ref(),
        }
    }

    /// How conjugate gradients takes it.
    pub fn pre(&self) -> Pre<'_> {
        match self {
            Inner::Jacobi(j) => Pre::Diag(j.inv_diag()),
            Inner::Ssor(p) => match p.unit() {
                Some((s, unit)) => Pre::Scaled { s, unit, plain: p },
                None => Pre::Op(p),
            },
            Inner::Incomplete(p) => match p.unit() {
                Some((s, unit)) => Pre::Scaled { s, unit, plain: p },
                None => Pre::Op(p),
            },
            other => Pre::Op(other.op()),
        }
    }
}

/// A preconditioner: applies `M⁻¹` to float64 vectors (made by `jacobi`, `block_jacobi`, `ssor`,
/// `ic0`, `ilu0`).
#[derive(Debug)]
#[pyclass(frozen, module = "softgrad._core.linalg")]
pub struct Preconditioner {
    /// The operator.
    pub inner: Inner,
    /// The name of the preconditioner (`"jacobi"`, ...).
    #[pyo3(get)]
    kind: &'static str,
    /// Rows (and columns).
    #[pyo3(get)]
    n: usize,
    /// Stored values of its factors.
    #[pyo3(get)]
    nnz: usize,
    /// The relative diagonal shift IC(0) used (0 otherwise).
    #[pyo3(get)]
    shift: f64,
}

impl Preconditioner {
    /// A preconditioner around any `M⁻¹`, for other families (`nnz`: what it stores).
    pub fn from_op(kind: &'static str, op: Box<dyn LinOp + Send + Sync>, nnz: usize) -> Self {
        let n = op.dim();
        Preconditioner {
            inner: Inner::Other(op),
            kind,
            n,
            nnz,
            shift: 0.0,
        }
    }

    fn of(kind: &'static str, inner: Inner, nnz: usize) -> Self {
        let (n, shift) = (
            inner.op().dim(),
            match &inner {
                Inner::Incomplete(i) => i.shift(),
                _ => 0.0,
            },
        );
        Preconditioner {
            inner,
            kind,
            n,
            nnz,
            shift,
        }
    }
}

#[pymethods]
impl Preconditioner {
    /// `M⁻¹ r` for a float64 vector `r` of length `n` (into `out` if given).
    #[pyo3(signature = (r, n_threads=None, out=None))]
    fn solve<'py>(
        &self,
        py: Python<'py>,
        r: Floats<'py>,
        n_threads: Option<Threads<'py>>,
        out: Option<Floats<'py>>,
    ) -> PyResult<Array<'py>> {
        const F: &str = "Preconditioner.solve";
        guard(F, || {
            let par = par(F, n_threads)?;
            let r: Input<'py, f64> = r.of(F, "r")?;
            let rs = r.slice();
            if rs.len() != self.n {
                return Err(PyValueError::new_err(format!(
                    "{F}: r has {} elements, expected {}",
                    rs.len(),
                    self.n
                )));
            }
            let mut o = Out::<f64>::given_or_new(py, F, "out", out, self.n)?;
            let os = o.slice();
            let op = self.inner.op();
            py.enter_core(self.nnz.max(self.n), || op.apply(rs, os, par))?;
            o.finish()
        })
    }

    /// The factors' values on the pattern of `A` (IC(0): `L` on and below the diagonal, `Lᵀ`
    /// above; ILU(0): the unit `L` below, `U` on and above), else `None`.
    fn factor_values<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyArray1<f64>>> {
        match &self.inner {
            Inner::Incomplete(i) => Some(i.tri().values().to_vec().into_pyarray(py)),
            _ => None,
        }
    }

    /// The number of levels of the lower and of the upper triangular solve (`(0, 0)` when none).
    fn levels(&self) -> (usize, usize) {
        match &self.inner {
            Inner::Incomplete(i) => i.tri().levels(),
            _ => (0, 0),
        }
    }
}

/// `jacobi(indptr, indices, data, n)`: `M = diag(A)`.
#[pyfunction]
fn jacobi<'py>(
    py: Python<'py>,
    indptr: Bound<'py, PyAny>,
    indices: Bound<'py, PyAny>,
    data: Floats<'py>,
    n: usize,
) -> PyResult<Preconditioner> {
    const F: &str = "jacobi";
    with_csr!(F, indptr, indices, data, |p, i, d: &[T]| {
        let j = py.enter_core(d.len(), || Jacobi::new(&Csr::new(F, n, p, i, d)?))?;
        Ok(Preconditioner::of(F, Inner::Jacobi(j), n))
    })
}

/// `block_jacobi(indptr, indices, data, n, block_size)`: dense inverses of the diagonal blocks.
#[pyfunction]
fn block_jacobi<'py>(
    py: Python<'py>,
    indptr: Bound<'py, PyAny>,
    indices: Bound<'py, PyAny>,
    data: Floats<'py>,
    n: usize,
    block_size: usize,
) -> PyResult<Preconditioner> {
    const F: &str = "block_jacobi";
    with_csr!(F, indptr, indices, data, |p, i, d: &[T]| {
        let b = py.enter_core(d.len().max(n * block_size), || {
            BlockJacobi::new(&Csr::new(F, n, p, i, d)?, block_size)
        })?;
        let bs = block_size.min(n.max(1));
        Ok(Preconditioner::of(
            F,
            Inner::BlockJacobi(b),
            n.div_ceil(bs) * bs * bs,
        ))
    })
}

/// `ssor(indptr, indices, data, n, omega, check)`: symmetric SOR (`check`: verify `A = Aᵀ`).
#[pyfunction]
fn ssor<'py>(
    py: Python<'py>,
    indptr: Bound<'py, PyAny>,
    indices: Bound<'py, PyAny>,
    data: Floats<'py>,
    n: usize,
    omega: f64,
    check: bool,
) -> PyResult<Preconditioner> {
    const F: &str = "ssor";
    with_csr!(F, indptr, indices, data, |p, i, d: &[T]| {
        let s = py.enter_core(d.len(), || {
            let a = Csr::new(F, n, p, i, d)?;
            if check {
                a.check_symmetric(F)?;
            }
            Ssor::new(&a, omega)
        })?;
        Ok(Preconditioner::of(F, Inner::Ssor(s), d.len()))
    })
}

/// `ic0(indptr, indices, data, n, shift, on_breakdown, check)`: zero-fill incomplete Cholesky.
#[pyfunction]
fn ic0<'py>(
    py: Python<'py>,
    indptr: Bound<'py, PyAny>,
    indices: Bound<'py, PyAny>,
    data: Floats<'py>,
    n: usize,
    shift: f64,
    on_breakdown: &str,
    check: bool,
) -> PyResult<Preconditioner> {
    const F: &str = "ic0";
    let how = match on_breakdown {
        "raise" => OnBreakdown::Raise,
        "shift" => OnBreakdown::Shift,
        other => {
            return Err(PyValueError::new_err(format!(
                "{F}: on_breakdown must be 'raise' or 'shift', got {other:?}"
            )))
        }
    };
    with_csr!(F, indptr, indices, data, |p, i, d: &[T]| {
        let f = py.enter_core(d.len(), || {
            let a = Csr::new(F, n, p, i, d)?;
            if check {
                a.check_symmetric(F)?;
            }
            Incomplete::ic0(&a, shift, how)
        })?;
        Ok(Preconditioner::of(F, Inner::Incomplete(f), d.len()))
    })
}

/// `ilu0(indptr, indices, data, n)`: zero-fill incomplete LU.
#[pyfunction]
fn ilu0<'py>(
    py: Python<'py>,
    indptr: Bound<'py, PyAny>,
    indices: Bound<'py, PyAny>,
    data: Floats<'py>,
    n: usize,
) -> PyResult<Preconditioner> {
    const F: &str = "ilu0";
    with_csr!(F, indptr, indices, data, |p, i, d: &[T]| {
        let f = py.enter_core(d.len(), || Incomplete::ilu0(&Csr::new(F, n, p, i, d)?))?;
        Ok(Preconditioner::of(F, Inner::Incomplete(f), d.len()))
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Preconditioner>()?;
    m.add_function(wrap_pyfunction!(jacobi, m)?)?;
    m.add_function(wrap_pyfunction!(block_jacobi, m)?)?;
    m.add_function(wrap_pyfunction!(ssor, m)?)?;
    m.add_function(wrap_pyfunction!(ic0, m)?)?;
    m.add_function(wrap_pyfunction!(ilu0, m)?)?;
    Ok(())
}
