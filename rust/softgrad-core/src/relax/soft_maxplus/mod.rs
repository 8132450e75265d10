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
#[cfg(test)]
mod tests;

use gemm::padded;

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

/// The residual of the derivatives: the inputs (private f64 copies, as given: not negated) and
/// the forward's f64 products.
#[derive(Debug, Clone, Copy)]
pub struct Res<'a> {
    /// The `A` stack.
    pub a: &'a [f64],
    /// The `B` stack.
    pub b: &'a [f64],
    /// The products, `batch × m × n`.
    pub c: &'a [f64],
}

/// What a batch product's derivatives share: the factors, and per entry the class.
struct Prod<'a> {
    s: Spec,
    am: &'a [f64],
    bm: &'a [f64],
    chat: &'a [f64],
    ea: &'a [f64],
    eb: &'a [f64],
    amax: &'a [f64],
    bmax: &'a [f64],
}

impl Prod<'_> {
    /// `Ĉ_ij` and, for an entry of the factorised path, `S_ij`; `None` for a non-finite value.
    fn entry(&self, i: usize, j: usize) -> Option<(f64, Option<f64>)> {
        let c = self.chat[i * self.s.n + j];
        if !c.is_finite() {
            return None;
        }
        let sij = ((c - self.amax[i] - self.bmax[j]) / self.s.temperature).exp();
        Some((c, (sij >= THRESH).then_some(sij)))
    }

    /// `P_ikj` directly.
    fn p(&self, i: usize, kk: usize, j: usize, c: f64) -> f64 {
        let (k, n, sg) = (self.s.k, self.s.n, self.s.sign());
        let z = sg * self.am[i * k + kk] + sg * self.bm[kk * n + j];
        ((z - c) / self.s.temperature).exp()
    }
}

/// Pullback of [`forward`] for the cotangent `g` (`batch × m × n`): writes the cotangent of each
/// product's `A` to `ga` (`batch × m × k`) and of its `B` to `gb` (`batch × k × n`) (the caller sums
/// over broadcast copies), and returns the temperature cotangent.
///
/// # Errors
/// As [`forward`], and [`Error::Shape`] for a residual of the wrong length.
#[allow(clippy::too_many_arguments)]
pub fn vjp<T: Real>(
    res: Res<'_>,
    pairs: Pairs<'_>,
    spec: Spec,
    g: &[T],
    ga: &mut [T],
    gb: &mut [T],
    par: Par,
) -> Result<f64> {
    vjp_at(level(), res, pairs, spec, g, ga, gb, par)
}

#[allow(clippy::too_many_arguments)]
fn vjp_at<T: Real>(
    lvl: Level,
    res: Res<'_>,
    pairs: Pairs<'_>,
    s: Spec,
    g: &[T],
    ga: &mut [T],
    gb: &mut [T],
    par: Par,
) -> Result<f64> {
    let func = s.name();
    let (m, k, n, t, sg) = (s.m, s.k, s.n, s.temperature, s.sign());
    let na = stack_len(func, "a", res.a.len(), m * k)?;
    let nb = stack_len(func, "b", res.b.len(), k * n)?;
    let batch = check(func, &s, &pairs, na, nb)?;
    Error::check_len(func, "c", res.c.len(), batch * m * n)?;
    Error::check_len(func, "g", g.len(), batch * m * n)?;
    Error::check_len(func, "ga", ga.len(), batch * m * k)?;
    Error::check_len(func, "gb", gb.len(), batch * k * n)?;
    ga.fill(T::from_f64(0.0));
    gb.fill(T::from_f64(0.0));
    if m * n * k == 0 {
        return Ok(0.0);
    }
    let (pa, pb) = (prep_a(func, res.a, na, &s)?, prep_b(func, res.b, nb, &s)?);
    let (np, kp) = (padded(n), padded(k));
    // E^A transposed (k × m) and E^B transposed (np × kp), per stack matrix.
    let mut eat = scratch(func, na * k * m, 0.0)?;
    for c in 0..na {
        for i in 0..m {
            for kk in 0..k {
                eat[c * k * m + kk * m + i] = pa.e[c * m * k + i * k + kk];
            }
        }
    }
    let mut ebt = scratch(func, nb * np * kp, 0.0)?;
    for c in 0..nb {
        for kk in 0..k {
            for j in 0..n {
                ebt[c * np * kp + j * kp + kk] = pb.e[c * k * np + kk * np + j];
            }
        }
    }
    let mut h = scratch(func, m * np, 0.0)?;
    let mut u = scratch(func, m * kp, 0.0)?;
    let mut v = scratch(func, k * np, 0.0)?;
    let mut chat = scratch(func, m * n, 0.0)?;
    let mut dt = 0.0;
    for p in 0..batch {
        let (ia, ib) = (pairs.a[p], pairs.b[p]);
        chat.iter_mut()
            .zip(&res.c[p * m * n..][..m * n])
            .for_each(|(o, c)| *o = sg * c);
        let pr = Prod {
            s,
            am: &res.a[ia * m * k..][..m * k],
            bm: &res.b[ib * k * n..][..k * n],
            chat: &chat,
            ea: &pa.e[ia * m * k..][..m * k],
            eb: &pb.e[ib * k * np..][..k * np],
            amax: &pa.mx[ia * m..][..m],
            bmax: &pb.mx[ib * n..][..n],
        };
        let gp = &g[p * m * n..][..m * n];
        // H = Ĝ/S on the factorised entries; the exact ones listed (in row order).
        let mut exact_entries = Vec::new();
        let mut dt_c = 0.0;
        h.fill(0.0);
        for i in 0..m {
            for j in 0..n {
                let gij = sg * gp[i * n + j].to_f64();
                if let Some((c, sij)) = pr.entry(i, j) {
                    dt_c += gij * (c - pr.amax[i] - pr.bmax[j]);
                    match sij {
                        Some(sij) => h[i * np + j] = gij / sij,
                        None => exact_entries.push((i, j, gij, c)),
                    }
                }
            }
        }
        let exact_entries = &exact_entries;
        let pr = &pr;
        // ∂L/∂Â = E^A ⊙ (H E^Bᵀ), plus the exact entries of each row.
        let gap = &mut ga[p * m * k..][..m * k];
        gemm::rows(
            func,
            lvl,
            par,
            &h,
            np,
            &ebt[ib * np * kp..][..np * kp],
            kp,
            &mut u,
            Rows::of_mut(gap, k),
            |r0, urows, garows| {
                for (ii, (urow, grow)) in urows.chunks(kp).zip(garows.chunks_mut(k)).enumerate() {
                    let i = r0 + ii;
                    let lo = exact_entries.partition_point(|e| e.0 < i);
                    let mine = &exact_entries[lo..];
                    for kk in 0..k {
                        let mut d = pr.ea[i * k + kk] * urow[kk];
                        for &(_, j, gij, c) in mine.iter().take_while(|e| e.0 == i) {
                            d += gij * pr.p(i, kk, j, c);
                        }
                        grow[kk] = T::from_f64(d);
                    }
                }
                Ok(())
            },
        )?;
        // ∂L/∂B̂ = E^B ⊙ (E^Aᵀ H), plus the exact entries.
        let gbp = &mut gb[p * k * n..][..k * n];
        gemm::rows(
            func,
            lvl,
            par,
            &eat[ia * k * m..][..k * m],
            m,
            &h,
            np,
            &mut v,
            Rows::of_mut(gbp, n),
            |r0, vrows, gbrows| {
                // f64 accumulators for the exact entries' terms (only when there are any).
                let mut acc = scratch(func, if exact_entries.is_empty() { 0 } else { n }, 0.0)?;
                for (kr, (vrow, grow)) in vrows.chunks(np).zip(gbrows.chunks_mut(n)).enumerate() {
                    let kk = r0 + kr;
                    if exact_entries.is_empty() {
                        for j in 0..n {
                            grow[j] = T::from_f64(pr.eb[kk * np + j] * vrow[j]);
                        }
                        continue;
                    }
                    for j in 0..n {
                        acc[j] = pr.eb[kk * np + j] * vrow[j];
                    }
                    for &(i, j, gij, c) in exact_entries {
                        acc[j] += gij * pr.p(i, kk, j, c);
                    }
                    for (o, v) in grow.iter_mut().zip(acc.iter()) {
                        *o = T::from_f64(*v);
                    }
                }
                Ok(())
            },
        )?;
        // t ∂L/∂t = Σ Ĝ (Ĉ − α − β) − Σ ∂L/∂Â (Â − α) − Σ ∂L/∂B̂ (B̂ − β), in f64 from the
        // cotangents as computed (before narrowing they are f64 only for f64 data).
        let mut da_term = 0.0;
        for i in 0..m {
            for kk in 0..k {
                let d = gap[i * k + kk].to_f64();
                if d != 0.0 {
                    da_term += d * (sg * pr.am[i * k + kk] - pr.amax[i]);
                }
            }
        }
        let mut db_term = 0.0;
        for kk in 0..k {
            for j in 0..n {
                let d = gbp[kk * n + j].to_f64();
                if d != 0.0 {
                    db_term += d * (sg * pr.bm[kk * n + j] - pr.bmax[j]);
                }
            }
        }
        dt += (dt_c - da_term - db_term) / t;
        // The cotangents of A and B themselves: σ ∂L/∂Â.
        if s.min {
            gap.iter_mut().for_each(|v| *v = T::from_f64(-v.to_f64()));
            gbp.iter_mut().for_each(|v| *v = T::from_f64(-v.to_f64()));
        }
    }
    Ok(dt)
}

/// Tangent of [`forward`] for the tangents `da` (the `A` stack's length), `db` (the `B` stack's)
/// and `dt`, written to `out` (`batch × m × n`).
///
/// # Errors
/// As [`vjp`].
#[allow(clippy::too_many_arguments)]
pub fn jvp<T: Real>(
    res: Res<'_>,
    pairs: Pairs<'_>,
    spec: Spec,
    da: &[T],
    db: &[T],
    dt: f64,
    out: &mut [T],
    par: Par,
) -> Result<()> {
    jvp_at(level(), res, pairs, spec, da, db, dt, out, par)
}

#[allow(clippy::too_many_arguments)]
fn jvp_at<T: Real>(
    lvl: Level,
    res: Res<'_>,
    pairs: Pairs<'_>,
    s: Spec,
    da: &[T],
    db: &[T],
    dt: f64,
    out: &mut [T],
    par: Par,
) -> Result<()> {
    let func = s.name();
    let (m, k, n, t, sg) = (s.m, s.k, s.n, s.temperature, s.sign());
    let na = stack_len(func, "a", res.a.len(), m * k)?;
    let nb = stack_len(func, "b", res.b.len(), k * n)?;
    let batch = check(func, &s, &pairs, na, nb)?;
    Error::check_len(func, "c", res.c.len(), batch * m * n)?;
    Error::check_len(func, "da", da.len(), res.a.len())?;
    Error::check_len(func, "db", db.len(), res.b.len())?;
    Error::check_len(func, "out", out.len(), batch * m * n)?;
    if !dt.is_finite() {
        return Err(Error::param(
            func,
            "dt",
            format!("must be finite, got {dt}"),
        ));
    }
    if m * n == 0 {
        return Ok(());
    }
    if k == 0 {
        out.fill(T::from_f64(0.0));
        return Ok(());
    }
    let (pa, pb) = (prep_a(func, res.a, na, &s)?, prep_b(func, res.b, nb, &s)?);
    let np = padded(n);
    let tau = dt / t;
    let mut left = scratch(func, m * 2 * k, 0.0)?;
    let mut right = scratch(func, 2 * k * np, 0.0)?;
    let mut q = scratch(func, m * np, 0.0)?;
    let mut chat = scratch(func, m * n, 0.0)?;
    for p in 0..batch {
        let (ia, ib) = (pairs.a[p], pairs.b[p]);
        chat.iter_mut()
            .zip(&res.c[p * m * n..][..m * n])
            .for_each(|(o, c)| *o = sg * c);
        let pr = Prod {
            s,
            am: &res.a[ia * m * k..][..m * k],
            bm: &res.b[ib * k * n..][..k * n],
            chat: &chat,
            ea: &pa.e[ia * m * k..][..m * k],
            eb: &pb.e[ib * k * np..][..k * np],
            amax: &pa.mx[ia * m..][..m],
            bmax: &pb.mx[ib * n..][..n],
        };
        let (dam, dbm) = (&da[ia * m * k..][..m * k], &db[ib * k * n..][..k * n]);
        // [X^A | E^A] and [E^B ; X^B]
        for i in 0..m {
            for kk in 0..k {
                let e = pr.ea[i * k + kk];
                let x = if e == 0.0 {
                    0.0
                } else {
                    e * (sg * dam[i * k + kk].to_f64()
                        - tau * (sg * pr.am[i * k + kk] - pr.amax[i]))
                };
                left[i * 2 * k + kk] = x;
                left[i * 2 * k + k + kk] = e;
            }
        }
        right[..k * np].copy_from_slice(pr.eb);
        for kk in 0..k {
            for j in 0..n {
                let e = pr.eb[kk * np + j];
                right[(k + kk) * np + j] = if e == 0.0 {
                    0.0
                } else {
                    e * (sg * dbm[kk * n + j].to_f64()
                        - tau * (sg * pr.bm[kk * n + j] - pr.bmax[j]))
                };
            }
        }
        let pr = &pr;
        let ob = &mut out[p * m * n..][..m * n];
        gemm::rows(
            func,
            lvl,
            par,
            &left,
            2 * k,
            &right,
            np,
            &mut q,
            Rows::of_mut(ob, n),
            |r0, qrows, orows| {
                for (ii, (qrow, orow)) in qrows.chunks(np).zip(orows.chunks_mut(n)).enumerate() {
                    let i = r0 + ii;
                    for j in 0..n {
                        let d = match pr.entry(i, j) {
                            None if pr.chat[i * n + j].is_nan() => f64::NAN,
                            None => 0.0,
                            Some((c, Some(sij))) => {
                                qrow[j] / sij + tau * (c - pr.amax[i] - pr.bmax[j])
                            }
                            Some((c, None)) => {
                                let mut acc = tau * c;
                                for kk in 0..k {
                                    let pk = pr.p(i, kk, j, c);
                                    let z = sg * pr.am[i * k + kk] + sg * pr.bm[kk * n + j];
                                    let dz = sg * dam[i * k + kk].to_f64()
                                        + sg * dbm[kk * n + j].to_f64();
                                    acc += pk * (dz - tau * z);
                                }
                                acc
                            }
                        };
                        orow[j] = T::from_f64(sg * d);
                    }
                }
                Ok(())
            },
        )?;
    }
    Ok(())
}
