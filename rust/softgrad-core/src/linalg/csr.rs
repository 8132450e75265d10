//! A borrowed view of a square CSR matrix: the caller's `indptr`, `indices` and `data`, checked once
//! and never copied.

use crate::error::{Error, Result};
use crate::linalg::op::LinOp;
use crate::linalg::vec::dot_range;
use crate::par::{Par, Rows};
use crate::real::Real;

/// An index type of CSR arrays: `i32` or `i64` (scipy's two), or `u32`/`usize` for owned patterns.
pub trait Index: Copy + Send + Sync + std::fmt::Debug + 'static {
    /// The value as an index (checked to be in range by [`Csr::new`] before any use).
    fn ix(self) -> usize;
    /// The value as a signed integer, for checks and messages.
    fn as_i128(self) -> i128;
}

macro_rules! index {
    ($($t:ty),*) => {$(
        impl Index for $t {
            #[inline(always)]
            fn ix(self) -> usize {
                self as usize
            }
            #[inline(always)]
            fn as_i128(self) -> i128 {
                self as i128
            }
        }
    )*};
}
index!(i32, i64, u32, usize);

/// A square `n × n` matrix in compressed sparse row form, borrowed.
///
/// Row `i` holds the columns `indices[indptr[i]..indptr[i+1]]` (strictly increasing: sorted, no
/// duplicates) with values `data[..]` at the same positions. Values are widened to `f64` on load.
#[derive(Debug, Clone, Copy)]
pub struct Csr<'a, I: Index, T: Real> {
    n: usize,
    indptr: &'a [I],
    indices: &'a [I],
    data: &'a [T],
}

impl<'a, I: Index, T: Real> Csr<'a, I, T> {
    /// Checks the arrays (lengths, `indptr` non-decreasing from 0 to `nnz`, column indices in
    /// range and strictly increasing in each row, finite values) in `O(n + nnz)`; errors name
    /// `func` and the argument.
    pub fn new(
        func: &'static str,
        n: usize,
        indptr: &'a [I],
        indices: &'a [I],
        data: &'a [T],
    ) -> Result<Self> {
        Error::check_len(func, "indptr", indptr.len(), n + 1)?;
        Error::check_len(func, "data", data.len(), indices.len())?;
        let nnz = indices.len() as i128;
        if indptr[0].as_i128() != 0 || indptr[n].as_i128() != nnz {
            return Err(Error::param(
                func,
                "A",
                format!(
                    "has an invalid indptr: it must run from 0 to nnz = {nnz}, got {:?}..{:?}",
                    indptr[0], indptr[n]
                ),
            ));
        }
        if let Some(i) = (0..n).find(|&i| indptr[i + 1].as_i128() < indptr[i].as_i128()) {
            return Err(Error::param(
                func,
                "A",
                format!("has an invalid indptr: it decreases at row {i}"),
            ));
        }
        for i in 0..n {
            let (s, e) = (indptr[i].as_i128(), indptr[i + 1].as_i128());
            let mut prev = -1i128;
            for &c in &indices[s as usize..e as usize] {
                let c = c.as_i128();
                if c < 0 || c >= n as i128 {
                    return Err(Error::param(
                        func,
                        "A",
                        format!("has column index {c} in row {i}, outside 0..{n}"),
                    ));
                }
                if c <= prev {
                    return Err(Error::param(
                        func,
                        "A",
                        format!(
                            "has unsorted or duplicate column indices in row {i} (sort them and \
                             sum duplicates first)"
                        ),
                    ));
                }
                prev = c;
            }
        }
        if let Some(k) = data.iter().position(|v| !v.to_f64().is_finite()) {
            let row = indptr.partition_point(|p| p.ix() <= k) - 1;
            return Err(Error::param(
                func,
                "A",
                format!(
                    "has a non-finite value ({:?}) at row {row}, column {}",
                    data[k],
                    indices[k].ix()
                ),
            ));
        }
        Ok(Csr {
            n,
            indptr,
            indices,
            data,
        })
    }

    /// The number of rows (and columns).
    pub fn n(&self) -> usize {
        self.n
    }

    /// The number of stored entries.
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    /// The positions of row `i` in `indices` and `data`.
    #[inline(always)]
    pub fn row(&self, i: usize) -> std::ops::Range<usize> {
        self.indptr[i].ix()..self.indptr[i + 1].ix()
    }

    /// Column indices.
    pub fn indices(&self) -> &'a [I] {
        self.indices
    }

    /// Values.
    pub fn data(&self) -> &'a [T] {
        self.data
    }

    /// The position of entry `(i, j)` in `data`, if stored (binary search in the sorted row).
    pub fn find(&self, i: usize, j: usize) -> Option<usize> {
        let r = self.row(i);
        let s = r.start;
        self.indices[r]
            .binary_search_by(|c| c.ix().cmp(&j))
            .ok()
            .map(|k| s + k)
    }

    /// The diagonal `a_ii` (0 where not stored).
    pub fn diagonal(&self) -> Vec<f64> {
        (0..self.n)
            .map(|i| self.find(i, i).map_or(0.0, |k| self.data[k].to_f64()))
            .collect()
    }

    /// Fails unless `A = Aᵀ` exactly (same values; an entry stored on one side only must be 0),
    /// naming the first entry that differs: one `O(nnz)` pass, and `O(nnz log(nnz / n))` to name
    /// the entry when there is one.
    pub fn check_symmetric(&self, func: &'static str) -> Result<()> {
        if self.mirrored(func)? {
            return Ok(());
        }
        for i in 0..self.n {
            for k in self.row(i) {
                let j = self.indices[k].ix();
                if j <= i {
                    continue;
                }
                let v = self.data[k].to_f64();
                let t = self.find(j, i).map_or(0.0, |kk| self.data[kk].to_f64());
                if v != t {
                    return Err(Error::param(
                        func,
                        "A",
                        format!(
                            "must be symmetric: A[{i}, {j}] = {v} but A[{j}, {i}] = {t} (pass \
                             check=False to skip this check)"
                        ),
                    ));
                }
            }
        }
        // Entries stored only below the diagonal are found from the other side above.
        for i in 0..self.n {
            for k in self.row(i) {
                let j = self.indices[k].ix();
                if j < i && self.find(j, i).is_none() && self.data[k].to_f64() != 0.0 {
                    return Err(Error::param(
                        func,
                        "A",
                        format!(
                            "must be symmetric: A[{i}, {j}] = {} but A[{j}, {i}] = 0 (pass \
                             check=False to skip this check)",
                            self.data[k].to_f64()
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Whether every entry above the diagonal has its mirror below, with the same value, and no
    /// entry below is left over: rows are visited in order, so the entries of row `j` left of the
    /// diagonal are met in column order, and `next[j]` is the first not yet matched.
    fn mirrored(&self, func: &'static str) -> Result<bool> {
        let mut next = crate::par::scratch(func, self.n, 0usize)?;
        for (j, o) in next.iter_mut().enumerate() {
            *o = self.indptr[j].ix();
        }
        for i in 0..self.n {
            let r = self.row(i);
            // Every entry of row `i` left of the diagonal was matched by an earlier row.
            if next[i] < r.end && self.indices[next[i]].ix() < i {
                return Ok(false);
            }
            for k in r {
                let j = self.indices[k].ix();
                if j <= i {
                    continue;
                }
                let m = next[j];
                if m >= self.indptr[j + 1].ix()
                    || self.indices[m].ix() != i
                    || self.data[m].to_f64() != self.data[k].to_f64()
                {
                    return Ok(false);
                }
                next[j] = m + 1;
            }
        }
        Ok(true)
    }

    /// `y[i] = (A x)[i]` for the rows `rows` (`y` holds those rows), returning `Σ p[i] y[i]` over
    /// them (`p` is indexed like `x`): the fused product of conjugate gradients.
    #[inline]
    fn rows_dot(&self, rows: std::ops::Range<usize>, x: &[f64], y: &mut [f64], p: &[f64]) -> f64 {
        let r0 = rows.start;
        for (o, i) in y.iter_mut().zip(rows.clone()) {
            let r = self.row(i);
            let (cols, vals) = (&self.indices[r.clone()], &self.data[r]);
            let (mut s0, mut s1) = (0.0, 0.0);
            let mut cc = cols.chunks_exact(2);
            let mut vv = vals.chunks_exact(2);
            for (c, v) in (&mut cc).zip(&mut vv) {
                s0 += v[0].to_f64() * x[c[0].ix()];
                s1 += v[1].to_f64() * x[c[1].ix()];
            }
            for (c, v) in cc.remainder().iter().zip(vv.remainder()) {
                s0 += v.to_f64() * x[c.ix()];
            }
            *o = s0 + s1;
        }
        dot_range(&p[rows.clone()], &y[..rows.end - r0])
    }

    /// `y = A x` and returns `pᵀ y` (one pass over `y`), in fixed pieces of rows.
    pub fn apply_dot(&self, x: &[f64], y: &mut [f64], p: &[f64], par: Par) -> Result<f64> {
        const F: &str = "csr_matvec";
        Error::check_len(F, "x", x.len(), self.n)?;
        Error::check_len(F, "y", y.len(), self.n)?;
        Error::check_len(F, "p", p.len(), self.n)?;
        let par = par.for_work(self.nnz().max(self.n));
        par.fold_chunks(
            F,
            self.n,
            Rows::of_mut(y, 1),
            |r, y| self.rows_dot(r, x, y, p),
            |a, b| a + b,
            0.0,
        )
    }
}

impl<I: Index, T: Real> LinOp for Csr<'_, I, T> {
    fn dim(&self) -> usize {
        self.n
    }

    fn apply(&self, x: &[f64], y: &mut [f64], par: Par) -> Result<()> {
        self.apply_dot(x, y, x, par).map(|_| ())
    }
}

/// An owned copy of a checked [`Csr`] (values in `f64`), for operators that outlive the caller's
/// arrays (a preconditioner that applies `A`, e.g. a polynomial in `A`).
#[derive(Debug, Clone)]
pub struct CsrBuf {
    n: usize,
    indptr: Vec<usize>,
    indices: Vec<usize>,
    data: Vec<f64>,
}

impl CsrBuf {
    /// Copies `a` (fallibly: [`Error::Alloc`] naming `func`).
    pub fn of<I: Index, T: Real>(func: &'static str, a: &Csr<'_, I, T>) -> Result<CsrBuf> {
        let mut indptr = crate::par::scratch(func, a.n + 1, 0usize)?;
        let mut indices = crate::par::scratch(func, a.nnz(), 0usize)?;
        let mut data = crate::par::scratch(func, a.nnz(), 0.0)?;
        for (o, p) in indptr.iter_mut().zip(a.indptr) {
            *o = p.ix();
        }
        for ((o, v), (c, x)) in indices
            .iter_mut()
            .zip(data.iter_mut())
            .zip(a.indices.iter().zip(a.data))
        {
            *o = c.ix();
            *v = x.to_f64();
        }
        Ok(CsrBuf {
            n: a.n,
            indptr,
            indices,
            data,
        })
    }

    /// The borrowed view (already checked).
    pub fn view(&self) -> Csr<'_, usize, f64> {
        Csr {
            n: self.n,
            indptr: &self.indptr,
            indices: &self.indices,
            data: &self.data,
        }
    }
}

impl LinOp for CsrBuf {
    fn dim(&self) -> usize {
        self.n
    }

    fn apply(&self, x: &[f64], y: &mut [f64], par: Par) -> Result<()> {
        self.view().apply(x, y, par)
    }
}
