//! Tropical (max-plus and min-plus) matrix products, batched, with the argmax.
//!
//! `C[i,j] = max_k A[i,k] + B[k,j]` (max-plus; `min` for min-plus): matrix multiplication over the
//! semiring `(ℝ ∪ {-∞}, max, +)`, whose products are longest paths (shortest ones for min-plus),
//! Viterbi decoding and the hard limit of the log-semiring product. See Butkovič, *Max-linear
//! Systems: Theory and Algorithms*, Springer 2010.
//!
//! **Semantics.** `-∞` (`+∞` for min-plus) is the semiring zero and absorbs: `-∞ + +∞` counts as
//! `-∞` in max-plus (`+∞` in min-plus), never NaN. A NaN anywhere in row `i` of `A` or column `j` of
//! `B` makes `C[i,j]` NaN. An empty inner dimension (`k = 0`) gives the zero (`-∞`, or the
//! integer type's `MIN`/`MAX`). Integer sums saturate at the type's bounds, so integer results are
//! the exact product clipped to the type's range (never wrapped). The argmax is the smallest `k`
//! reaching the optimum (`0` when every candidate is the zero or NaN; `-1` when `k = 0`).
//!
//! **Layout.** A batch of `batch` products `(m × k) ⊗ (k × n)`; product `b` reads `A` at
//! `a.offsets[b]` with strides `(row_stride, col_stride)` (any order: transposed views need no
//! copy) and `B` likewise, so broadcast operands are shared, not repeated. `C` is row-major
//! `(batch, m, n)`.
//!
//! **Kernel and determinism.** A blocked, register-tiled kernel (`kernel.rs`) over the
//! `simd::vector` lanes, one source for every level; tasks are fixed blocks of rows. Every output is
//! a maximum of sums each rounded once, so results (argmax included) are identical bit for bit at
//! every SIMD level and thread count.

mod gemv;
mod kernel;
mod lanes;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_mutants;

pub use lanes::Tropical;

use crate::error::{Error, Result};
use crate::par::{Par, Rows};
use crate::simd;

/// Which semiring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Semiring {
    /// `(max, +)`, zero `-∞`: longest paths.
    MaxPlus,
    /// `(min, +)`, zero `+∞`: shortest paths.
    MinPlus,
}

impl Semiring {
    /// The public name of the product.
    pub fn name(self) -> &'static str {
        match self {
            Semiring::MaxPlus => "maxplus_matmul",
            Semiring::MinPlus => "minplus_matmul",
        }
    }
}

/// The sizes of a batched product: `batch` products of `(m × k)` by `(k × n)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Products in the batch.
    pub batch: usize,
    /// Rows of `A` and `C`.
    pub m: usize,
    /// The inner dimension.
    pub k: usize,
    /// Columns of `B` and `C`.
    pub n: usize,
}

/// One operand: the matrices of a batch inside one buffer.
#[derive(Debug, Clone, Copy)]
pub struct Matrices<'a, T> {
    /// The buffer.
    pub data: &'a [T],
    /// Where the matrix of each product of the batch starts (repeated for broadcast operands).
    pub offsets: &'a [usize],
    /// Elements between consecutive rows.
    pub row_stride: usize,
    /// Elements between consecutive columns.
    pub col_stride: usize,
}

impl<T> Matrices<'_, T> {
    /// Fails unless there is one offset per product and every `rows × cols` matrix lies inside
    /// `data`.
    fn check(
        &self,
        func: &'static str,
        (name, offsets): (&'static str, &'static str),
        batch: usize,
        rows: usize,
        cols: usize,
    ) -> Result<()> {
        Error::check_len(func, offsets, self.offsets.len(), batch)?;
        if rows == 0 || cols == 0 {
            return Ok(());
        }
        let last = (rows - 1).checked_mul(self.row_stride).and_then(|r| {
            (cols - 1)
                .checked_mul(self.col_stride)
                .and_then(|c| r.checked_add(c))
        });
        for &o in self.offsets {
            match last.and_then(|l| l.checked_add(o)) {
                Some(end) if end < self.data.len() => {}
                _ => {
                    return Err(Error::param(
                        func,
                        name,
                        format!(
                            "does not fit its buffer: a {rows} x {cols} matrix at offset {o} with strides ({}, {}) in {} elements",
                            self.row_stride,
                            self.col_stride,
                            self.data.len()
                        ),
                    ))
                }
            }
        }
        Ok(())
    }
}

/// `C = A ⊗ B` over `semiring` for each product of the batch, into `out` (`batch * m * n`,
/// row-major) and, if given, the argmax into `argmax` (same length): see the module notes.
pub fn matmul<T: Tropical>(
    semiring: Semiring,
    a: Matrices<'_, T>,
    b: Matrices<'_, T>,
    shape: Shape,
    out: &mut [T],
    argmax: Option<&mut [i64]>,
    par: Par,
) -> Result<()> {
    matmul_at(simd::level(), semiring, a, b, shape, out, argmax, par)
}

/// [`matmul`] with the kernel compiled for `level` (tests pin each level).
#[allow(clippy::too_many_arguments)]
pub(crate) fn matmul_at<T: Tropical>(
    level: simd::Level,
    semiring: Semiring,
    a: Matrices<'_, T>,
    b: Matrices<'_, T>,
    shape: Shape,
    out: &mut [T],
    argmax: Option<&mut [i64]>,
    par: Par,
) -> Result<()> {
    let f = semiring.name();
    let Shape { batch, m, k, n } = shape;
    let len = batch
        .checked_mul(m)
        .and_then(|v| v.checked_mul(n))
        .ok_or_else(|| Error::param(f, "out", "has more than usize::MAX elements"))?;
    a.check(f, ("a", "a_offsets"), batch, m, k)?;
    b.check(f, ("b", "b_offsets"), batch, k, n)?;
    Error::check_len(f, "out", out.len(), len)?;
    if let Some(arg) = argmax.as_deref() {
        Error::check_len(f, "argmax", arg.len(), len)?;
    }
    if len == 0 {
        return Ok(());
    }
    let zero = match semiring {
        Semiring::MaxPlus => T::LOWEST,
        Semiring::MinPlus => T::HIGHEST,
    };
    if k == 0 {
        out.fill(zero);
        if let Some(arg) = argmax {
            arg.fill(-1);
        }
        return Ok(());
    }
    match semiring {
        Semiring::MaxPlus => drive::<T, true>(f, level, a, b, shape, out, argmax, par),
        Semiring::MinPlus => drive::<T, false>(f, level, a, b, shape, out, argmax, par),
    }
}

/// Fixed tasks of whole rows of `C` (the `batch * m` rows in order), each cut at product
/// boundaries and computed by [`kernel::rows`], then NaN propagated.
#[allow(clippy::too_many_arguments)]
fn drive<T: Tropical, const MAX: bool>(
    f: &'static str,
    level: simd::Level,
    a: Matrices<'_, T>,
    b: Matrices<'_, T>,
    shape: Shape,
    out: &mut [T],
    argmax: Option<&mut [i64]>,
    par: Par,
) -> Result<()> {
    let Shape { k, n, .. } = shape;
    let gemv = n == 1 && a.col_stride == 1;
    let b0 = b.offsets[0];
    let shared = !gemv && k.saturating_mul(n) <= SHARED_B_MAX && b.offsets.iter().all(|&o| o == b0);
    if !shared {
        return tasks::<T, MAX>(f, level, &a, &b, None, shape, out, argmax, par);
    }
    let zero = if MAX { T::LOWEST } else { T::HIGHEST };
    T::with_packed_b(f, &b, b0, shape, zero, (argmax.is_some(), level), |bp| {
        tasks::<T, MAX>(f, level, &a, &b, Some(bp), shape, out, argmax, par)
    })
}

/// Largest `k * n` for which [`drive`] packs `B` once per call, shared by the tasks (a few hundred
/// KiB: it stays in cache), so that tasks can be short rows without each packing all of `B`.
const SHARED_B_MAX: usize = 1 << 17;

/// The tasks of [`drive`]: fixed blocks of rows, `B` read from `packed_b` when given (then blocks
/// of `batch * m / 16` rows, 8 to 64, so a 256-row product has 16 tasks to balance over threads).
#[allow(clippy::too_many_arguments)]
fn tasks<T: Tropical, const MAX: bool>(
    f: &'static str,
    level: simd::Level,
    a: &Matrices<'_, T>,
    b: &Matrices<'_, T>,
    packed_b: Option<&[T]>,
    shape: Shape,
    out: &mut [T],
    argmax: Option<&mut [i64]>,
    par: Par,
) -> Result<()> {
    let Shape { m, k, n, .. } = shape;
    let work = k.saturating_mul(n);
    let align = match packed_b {
        Some(_) => (shape.batch * m / 16).clamp(8, 64).next_multiple_of(8),
        None => 64,
    };
    // With `B` shared by every product, its NaN columns are found once, not once per task.
    let shared_nan = match packed_b {
        Some(_) if T::FLOAT => Some(nan_cols(b, b.offsets[0], k, n)),
        _ => None,
    };
    let data = (Rows::of_mut(out, n), argmax.map(|g| Rows::of_mut(g, n)));
    par.map_row_tasks(
        f,
        shape.batch * m,
        work,
        align,
        data,
        |r, (mut c, mut g)| {
            let mut i = r.start;
            while i < r.end {
                let (bi, i0) = (i / m, i % m);
                let i1 = m.min(i0 + (r.end - i));
                let h = i1 - i0;
                let (cs, rest) = c.split_at_mut(h * n);
                c = rest;
                let gs = match g {
                    Some(gg) => {
                        let (x, y) = gg.split_at_mut(h * n);
                        g = Some(y);
                        Some(x)
                    }
                    None => None,
                };
                let offs = (a.offsets[bi], b.offsets[bi]);
                if n == 1 && a.col_stride == 1 {
                    T::gemv::<MAX>(f, a, b, offs, k, i0..i1, cs, gs, level)?;
                } else {
                    T::rows::<MAX>(f, a, b, offs, packed_b, shape, i0..i1, cs, gs, level)?;
                }
                if T::FLOAT {
                    match &shared_nan {
                        Some(cols) => propagate_nan(a, cols.as_deref(), offs.0, shape, i0..i1, cs),
                        None => {
                            let cols = nan_cols(b, offs.1, k, n);
                            propagate_nan(a, cols.as_deref(), offs.0, shape, i0..i1, cs);
                        }
                    }
                }
                i += h;
            }
            Ok(())
        },
    )?;
    Ok(())
}

/// The columns of `B` (the product at `bo`) holding a NaN, or `None` if there are none.
fn nan_cols<T: Tropical>(b: &Matrices<'_, T>, bo: usize, k: usize, n: usize) -> Option<Vec<bool>> {
    let mut cols: Option<Vec<bool>> = None;
    for p in 0..k {
        let base = bo + p * b.row_stride;
        if b.col_stride == 1 && !has_nan(&b.data[base..][..n]) {
            continue;
        }
        for j in 0..n {
            if b.data[base + j * b.col_stride].is_nan() {
                cols.get_or_insert_with(|| vec![false; n])[j] = true;
            }
        }
    }
    cols
}

/// Sets `C[i,j]` to NaN where row `i` of `A` or column `j` of `B` holds a NaN (the kernel lets NaN
/// sums lose, as `-∞ + +∞` must); `cols`: [`nan_cols`] of this product's `B`.
fn propagate_nan<T: Tropical>(
    a: &Matrices<'_, T>,
    cols: Option<&[bool]>,
    ao: usize,
    shape: Shape,
    rows: std::ops::Range<usize>,
    c: &mut [T],
) {
    let (k, n) = (shape.k, shape.n);
    for (r, i) in rows.enumerate() {
        let base = ao + i * a.row_stride;
        let row = &mut c[r * n..][..n];
        let nan = if a.col_stride == 1 {
            has_nan(&a.data[base..][..k])
        } else {
            (0..k).any(|p| a.data[base + p * a.col_stride].is_nan())
        };
        if nan {
            row.fill(T::nan());
        } else if let Some(cols) = cols {
            for (o, &bad) in row.iter_mut().zip(cols) {
                if bad {
                    *o = T::nan();
                }
            }
        }
    }
}

/// Whether `s` holds a NaN (a branch-free fold, which vectorises).
fn has_nan<T: Tropical>(s: &[T]) -> bool {
    s.iter().fold(false, |acc, v| acc | v.is_nan())
}
