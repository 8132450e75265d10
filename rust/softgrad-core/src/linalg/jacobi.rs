//! Jacobi and block-Jacobi preconditioners: `M = diag(A)` and `M = blockdiag(A)`.

use crate::error::{Error, Result};
use crate::linalg::csr::{Csr, Index};
use crate::linalg::op::LinOp;
use crate::linalg::positive;
use crate::par::{scratch, Par, Rows, REDUCE_PIECE};
use crate::real::Real;

/// `M⁻¹ x = x / diag(A)`.
#[derive(Debug, Clone)]
pub struct Jacobi {
    inv: Vec<f64>,
}

impl Jacobi {
    /// The Jacobi preconditioner of `a`; every diagonal entry must be positive (a zero or negative
    /// one is a `ValueError` naming the row).
    pub fn new<I: Index, T: Real>(a: &Csr<'_, I, T>) -> Result<Jacobi> {
        const F: &str = "jacobi";
        let mut inv = scratch(F, a.n(), 0.0)?;
        for (i, o) in inv.iter_mut().enumerate() {
            let d = a.find(i, i).map_or(0.0, |k| a.data()[k].to_f64());
            if !positive(d) {
                return Err(Error::param(
                    F,
                    "A",
                    format!("must have a positive diagonal, got A[{i}, {i}] = {d}"),
                ));
            }
            *o = 1.0 / d;
        }
        Ok(Jacobi { inv })
    }

    /// `1 / diag(A)` (what conjugate gradients fuses into its vector update).
    pub fn inv_diag(&self) -> &[f64] {
        &self.inv
    }
}

impl LinOp for Jacobi {
    fn dim(&self) -> usize {
        self.inv.len()
    }

    fn apply(&self, x: &[f64], y: &mut [f64], par: Par) -> Result<()> {
        const F: &str = "Preconditioner.solve";
        Error::check_len(F, "x", x.len(), self.inv.len())?;
        Error::check_len(F, "out", y.len(), self.inv.len())?;
        par.map_chunks(F, y.len(), REDUCE_PIECE, Rows::of_mut(y, 1), |r, y| {
            for ((o, xi), d) in y.iter_mut().zip(&x[r.clone()]).zip(&self.inv[r]) {
                *o = xi * d;
            }
        })
        .map(|_| ())
    }
}

/// `M⁻¹` = the inverses of the diagonal blocks of `A` (size `block_size`, the last one possibly
/// smaller), each computed densely by Gauss-Jordan elimination with partial pivoting.
#[derive(Debug, Clone)]
pub struct BlockJacobi {
    n: usize,
    bs: usize,
    /// Block `k` is the row-major `m × m` inverse at `k * bs * bs` (`m = bs` but for the last).
    inv: Vec<f64>,
}

impl BlockJacobi {
    /// The block-Jacobi preconditioner of `a` with blocks of `block_size` rows; a singular block
    /// is a `ValueError` naming its first row.
    pub fn new<I: Index, T: Real>(a: &Csr<'_, I, T>, block_size: usize) -> Result<BlockJacobi> {
        const F: &str = "block_jacobi";
        let n = a.n();
        if block_size == 0 || block_size > 4096 {
            return Err(Error::param(
                F,
                "block_size",
                format!("must be in 1..=4096, got {block_size}"),
            ));
        }
        let bs = block_size.min(n.max(1));
        let blocks = n.div_ceil(bs);
        let mut inv = scratch(F, blocks * bs * bs, 0.0)?;
        let mut work = scratch(F, bs * bs, 0.0)?;
        for k in 0..blocks {
            crate::interrupt::check(F)?;
            let (r0, m) = (k * bs, bs.min(n - k * bs));
            work[..m * m].fill(0.0);
            for i in 0..m {
                for p in a.row(r0 + i) {
                    let c = a.indices()[p].ix();
                    if (r0..r0 + m).contains(&c) {
                        work[i * m + c - r0] = a.data()[p].to_f64();
                    }
                }
            }
            let out = &mut inv[k * bs * bs..k * bs * bs + m * m];
            invert(&mut work[..m * m], out, m).map_err(|()| {
                Error::param(
                    F,
                    "A",
                    format!("has a singular diagonal block at rows {r0}..{}", r0 + m),
                )
            })?;
        }
        Ok(BlockJacobi { n, bs, inv })
    }
}

/// `out = a⁻¹` for the row-major `m × m` matrix `a` (destroyed), by Gauss-Jordan elimination with
/// partial pivoting; `Err` if a pivot is zero or the result is not finite.
fn invert(a: &mut [f64], out: &mut [f64], m: usize) -> std::result::Result<(), ()> {
    out.fill(0.0);
    for i in 0..m {
        out[i * m + i] = 1.0;
    }
    for c in 0..m {
        let piv = (c..m)
            .max_by(|&i, &j| a[i * m + c].abs().total_cmp(&a[j * m + c].abs()))
            .unwrap_or(c);
        if a[piv * m + c] == 0.0 {
            return Err(());
        }
        if piv != c {
            for j in 0..m {
                a.swap(piv * m + j, c * m + j);
                out.swap(piv * m + j, c * m + j);
            }
        }
        let d = 1.0 / a[c * m + c];
        for j in 0..m {
            a[c * m + j] *= d;
            out[c * m + j] *= d;
        }
        for i in 0..m {
            if i == c {
                continue;
            }
            let f = a[i * m + c];
            if f != 0.0 {
                for j in 0..m {
                    a[i * m + j] -= f * a[c * m + j];
                    out[i * m + j] -= f * out[c * m + j];
                }
            }
        }
    }
    if out.iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(())
    }
}

impl LinOp for BlockJacobi {
    fn dim(&self) -> usize {
        self.n
    }

    fn apply(&self, x: &[f64], y: &mut [f64], par: Par) -> Result<()> {
        const F: &str = "Preconditioner.solve";
        Error::check_len(F, "x", x.len(), self.n)?;
        Error::check_len(F, "out", y.len(), self.n)?;
        let bs = self.bs;
        let per = bs * (REDUCE_PIECE / bs).max(1);
        par.for_work(self.n * bs)
            .map_chunks(F, self.n, per, Rows::of_mut(y, 1), |r, y| {
                for (b, yb) in y.chunks_mut(bs).enumerate() {
                    let r0 = r.start + b * bs;
                    let k = r0 / bs;
                    let m = yb.len();
                    let blk = &self.inv[k * bs * bs..k * bs * bs + m * m];
                    let xb = &x[r0..r0 + m];
                    for (i, o) in yb.iter_mut().enumerate() {
                        *o = crate::linalg::vec::dot_range(&blk[i * m..i * m + m], xb);
                    }
                }
            })
            .map(|_| ())
    }
}
