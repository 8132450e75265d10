//! The log-semiring (soft max-plus / min-plus) matrix product and its derivatives.
//!
//! `C_ij = t ln Σ_k e^{(A_ik + B_kj)/t}` (`soft_maxplus_matmul`), and
//! `C_ij = −t ln Σ_k e^{−(A_ik + B_kj)/t}` (`soft_minplus_matmul`, the max-plus product of `−A`,
//! `−B`, negated: below, `Â = σA`, `B̂ = σB`, `Ĉ = σC` with `σ = ±1`). As `t → 0` it is the
//! tropical product `max_k A_ik + B_kj`; `−∞` (`+∞` for min-plus) is the semiring zero.
//!
//! **Factorised, then exact where needed.** With the row maxima `α_i = max_k Â_ik` and column maxima
//! `β_j = max_k B̂_kj`, `e^{(Â_ik + B̂_kj)/t} = e^{α_i/t} e^{β_j/t} · E^A_ik E^B_kj` with
//! `E^A = e^{(Â − α)/t} ∈ [0, 1]` and `E^B = e^{(B̂ − β)/t}`, so
//! `Ĉ = α_i + β_j + t ln S_ij`, `S = E^A E^B`: `O(mk + kn)` exponentials and one dense f64 product
//! (`gemm`), no `m × k × n` temporary and no overflow (every factor is at most 1). `S` is accurate to
//! a few ulps whenever no term that matters underflows, which holds when `S_ij >= 1e-200`; every other
//! entry (and every entry whose row or column holds a non-finite value, NaN or the semiring zero) is
//! computed exactly by the shifted two-pass log-sum-exp over `k`. So small temperatures cost more
//! (down to `O(mkn)` exponentials as `t → 0`) but are never inexact.
//!
//! **Derivatives.** With the soft-max weights `P_ikj = e^{(Â_ik + B̂_kj − Ĉ_ij)/t} = E^A_ik E^B_kj / S_ij`
//! (never stored): `∂L/∂Â_ik = Σ_j Ĝ_ij P_ikj = E^A ⊙ (H E^Bᵀ)` and `∂L/∂B̂ = E^B ⊙ (E^Aᵀ H)` with
//! `H = Ĝ / S` (two more products), and `∂Ĉ/∂t = (Ĉ − Σ_k P ẑ)/t`, whose cotangent follows from the
//! other two: `t ∂L/∂t = Σ Ĝ (Ĉ − α − β) − Σ ∂L/∂Â (Â − α) − Σ ∂L/∂B̂ (B̂ − β)`. The tangent is one
//! product with the inner dimension doubled: `dĈ = ([X^A | E^A] [E^B ; X^B])/S + τ (Ĉ − α − β)` with
//! `τ = dt/t`, `X^A = E^A ⊙ (dÂ − τ (Â − α))` and `X^B` likewise. Exact entries take the same
//! formulas over `k` directly. Entries whose value is not finite have zero derivatives (NaN for NaN).
//!
//! Products of a batch run one after the other, each split into fixed tasks of rows; every entry
//! is computed by the same operations in the same order whatever the thread count.

mod gemm;
mod grad;
#[cfg(test)]
mod tests;

use gemm::padded;
pub use grad::{jvp, vjp, Res};

use crate::error::{Error, Result};
use crate::par::{scratch, Par, Rows};
use crate::real::Real;
use crate::simd::{level, Level};

/// Below this `S_ij` an entry is computed exactly (see the module docs).
const THRESH: f64 = 1e-200;

/// The shapes and parameters of one call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spec {
    /// Rows of each `A` and of each product.
    pub m: usize,
    /// Columns of `A`, rows of `B` (the inner dimension).
    pub k: usize,
    /// Columns of each `B` and of each product.
    pub n: usize,
    /// `t`: finite and `> 0`.
    pub temperature: f64,
    /// Min-plus rather than max-plus.
    pub min: bool,
}

impl Spec {
    /// The public name of the operation.
    pub fn name(&self) -> &'static str {
        if self.min {
            "soft_minplus_matmul"
        } else {
            "soft_maxplus_matmul"
        }
    }

    fn sign(&self) -> f64 {
        if self.min {
            -1.0
        } else {
            1.0
        }
    }
}

/// A batch of products: product `p` takes `A` matrix `a[p]` of the `A` stack and `B` matrix
/// `b[p]` of the `B` stack (broadcasting without copies).
#[derive(Debug, Clone, Copy)]
pub struct Pairs<'a> {
    /// Index into the `A` stack, per product.
    pub a: &'a [usize],
    /// Index into the `B` stack, per product.
    pub b: &'a [usize],
}

/// `max` that propagates NaN.
#[inline]
fn nmax(acc: f64, v: f64) -> f64 {
    if acc.is_nan() || v.is_nan() {
        f64::NAN
    } else if v > acc {
        v
    } else {
        acc
    }
}

/// The factor side of a stack: `E` and the maxima. For `A` (`m × k` each) `e` is `m × k` and the
/// maxima are per row; for `B` (`k × n` each) `e` is `k × padded(n)` and the maxima per column.
struct Side {
    e: Vec<f64>,
    mx: Vec<f64>,
}

fn prep_a<T: Real>(func: &'static str, a: &[T], count: usize, s: &Spec) -> Result<Side> {
    let (m, k, t, sg) = (s.m, s.k, s.temperature, s.sign());
    let mut e = scratch(func, count * m * k, 0.0)?;
    let mut mx = scratch(func, count * m, f64::NEG_INFINITY)?;
    for (r, (row, er)) in a.chunks(k.max(1)).zip(e.chunks_mut(k.max(1))).enumerate() {
        if k == 0 {
            break;
        }
        let x = row
            .iter()
            .fold(f64::NEG_INFINITY, |acc, v| nmax(acc, sg * v.to_f64()));
        mx[r] = x;
        if x.is_finite() {
            for (o, v) in er.iter_mut().zip(row) {
                *o = ((sg * v.to_f64() - x) / t).exp();
            }
        }
    }
    Ok(Side { e, mx })
}

fn prep_b<T: Real>(func: &'static str, b: &[T], count: usize, s: &Spec) -> Result<Side> {
    let (k, n, t, sg) = (s.k, s.n, s.temperature, s.sign());
    let np = padded(n);
    let mut e = scratch(func, count * k * np, 0.0)?;
    let mut mx = scratch(func, count * n, f64::NEG_INFINITY)?;
    for c in 0..count {
        let bm = &b[c * k * n..(c + 1) * k * n];
        let mxc = &mut mx[c * n..(c + 1) * n];
        for row in bm.chunks(n.max(1)) {
            for (x, v) in mxc.iter_mut().zip(row) {
                *x = nmax(*x, sg * v.to_f64());
            }
        }
        let ec = &mut e[c * k * np..(c + 1) * k * np];
        for (row, er) in bm.chunks(n.max(1)).zip(ec.chunks_mut(np.max(1))) {
            for ((o, v), x) in er.iter_mut().zip(row).zip(mxc.iter()) {
                if x.is_finite() {
                    *o = ((sg * v.to_f64() - x) / t).exp();
                }
            }
        }
    }
    Ok(Side { e, mx })
}

/// `Ĉ_ij` the direct way: the shifted two-pass log-sum-exp of `ẑ_k = Â_ik + B̂_kj`.
fn exact<T: Real>(arow: &[T], b: &[T], j: usize, s: &Spec) -> f64 {
    let (n, t, sg) = (s.n, s.temperature, s.sign());
    let z = |kk: usize| sg * arow[kk].to_f64() + sg * b[kk * n + j].to_f64();
    let mx = (0..s.k).fold(f64::NEG_INFINITY, |acc, kk| nmax(acc, z(kk)));
    if !mx.is_finite() {
        return mx;
    }
    let sum: f64 = (0..s.k).map(|kk| ((z(kk) - mx) / t).exp()).sum();
    mx + t * sum.ln()
}

fn check(func: &'static str, s: &Spec, pairs: &Pairs<'_>, na: usize, nb: usize) -> Result<usize> {
    super::check_temperature(func, s.temperature)?;
    Error::check_len(func, "b_index", pairs.b.len(), pairs.a.len())?;
    let bad = |name, i: usize, v: usize, count: usize| {
        Error::param(
            func,
            name,
            format!("must index the stack of {count} matrices, got {v} at {i}"),
        )
    };
    if let Some((i, &v)) = pairs.a.iter().enumerate().find(|(_, &v)| v >= na) {
        return Err(bad("a_index", i, v, na));
    }
    if let Some((i, &v)) = pairs.b.iter().enumerate().find(|(_, &v)| v >= nb) {
        return Err(bad("b_index", i, v, nb));
    }
    Ok(pairs.a.len())
}

/// Matrices in a stack of `len` values, `each` per matrix (any number of empty matrices).
fn stack_len(func: &'static str, name: &'static str, len: usize, each: usize) -> Result<usize> {
    if each == 0 {
        return Ok(usize::MAX);
    }
    if !len.is_multiple_of(each) {
        return Err(Error::param(
            func,
            name,
            format!("has length {len}, not a multiple of {each}"),
        ));
    }
    Ok(len / each)
}

/// The products of `pairs`, written to `out` (`batch × m × n`, the dtype of `a`); `res`, if given,
/// receives them in f64 for [`vjp`] and [`jvp`]. `a` is a stack of `m × k` matrices, `b` of `k × n`.
///
/// # Errors
/// [`Error::InvalidParameter`] for a bad temperature or index; [`Error::Shape`], [`Error::Alloc`],
/// [`Error::Interrupted`].
pub fn forward<T: Real>(
    a: &[T],
    b: &[T],
    pairs: Pairs<'_>,
    spec: Spec,
    out: &mut [T],
    res: Option<&mut [f64]>,
    par: Par,
) -> Result<()> {
    forward_at(level(), a, b, pairs, spec, out, res, par)
}

#[allow(clippy::too_many_arguments)]
fn forward_at<T: Real>(
    lvl: Level,
    a: &[T],
    b: &[T],
    pairs: Pairs<'_>,
    s: Spec,
    out: &mut [T],
    mut res: Option<&mut [f64]>,
    par: Par,
) -> Result<()> {
    let func = s.name();
    let (m, k, n) = (s.m, s.k, s.n);
    let na = stack_len(func, "a", a.len(), m * k)?;
    let nb = stack_len(func, "b", b.len(), k * n)?;
    let batch = check(func, &s, &pairs, na, nb)?;
    Error::check_len(func, "out", out.len(), batch * m * n)?;
    if let Some(r) = &res {
        Error::check_len(func, "res", r.len(), batch * m * n)?;
    }
    if m * n == 0 {
        return Ok(());
    }
    let sg = s.sign();
    if k == 0 {
        // An empty sum: the semiring zero.
        out.fill(T::from_f64(sg * f64::NEG_INFINITY));
        if let Some(r) = res {
            r.fill(sg * f64::NEG_INFINITY);
        }
        return Ok(());
    }
    let (pa, pb) = (prep_a(func, a, na, &s)?, prep_b(func, b, nb, &s)?);
    let np = padded(n);
    let mut sbuf = scratch(func, m * np, 0.0)?;
    for p in 0..batch {
        let (ia, ib) = (pairs.a[p], pairs.b[p]);
        let (am, bm) = (&a[ia * m * k..][..m * k], &b[ib * k * n..][..k * n]);
        let (amax, bmax) = (&pa.mx[ia * m..][..m], &pb.mx[ib * n..][..n]);
        let ob = &mut out[p * m * n..][..m * n];
        let cb = res
            .as_deref_mut()
            .map(|r| Rows::of_mut(&mut r[p * m * n..][..m * n], n));
        let left = &pa.e[ia * m * k..][..m * k];
        let right = &pb.e[ib * k * np..][..k * np];
        gemm::rows(
            func,
            lvl,
            par,
            left,
            k,
            right,
            np,
            &mut sbuf,
            (Rows::of_mut(ob, n), cb),
            |r0, srows, (orows, crows)| {
                let mut crows = crows;
                for (ii, (srow, orow)) in srows.chunks(np).zip(orows.chunks_mut(n)).enumerate() {
                    let i = r0 + ii;
                    for j in 0..n {
                        let sij = srow[j];
                        let v = if sij >= THRESH {
                            amax[i] + bmax[j] + s.temperature * sij.ln()
                        } else {
                            exact(&am[i * k..(i + 1) * k], bm, j, &s)
                        };
                        // `0 − v`, not `−v`: a min-plus product of 0 is +0 as NumPy's would be.
                        let v = if s.min { 0.0 - v } else { v };
                        orow[j] = T::from_f64(v);
                        if let Some(c) = crows.as_deref_mut() {
                            c[ii * n + j] = v;
                        }
                    }
                }
                Ok(())
            },
        )?;
    }
    Ok(())
}
