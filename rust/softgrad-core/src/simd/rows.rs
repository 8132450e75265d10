//! The log-sum-exp family over many short contiguous rows, vectorised *across* rows.
//!
//! A row of ten values is too short to fill vector lanes along itself, and a per-row kernel pays
//! its set-up (dispatch, horizontal sums, a scalar `ln`) once per row. These kernels take a task's
//! rows in blocks of [`W`]: each block is transposed into a small f64 scratch (`n × W`, in L1), so
//! lane `j` of vector `i` holds element `i` of row `j`, and every pass (maximum, sum of
//! exponentials, store) runs lane-parallel, one whole task inside one [`vectorize`] call. Outputs
//! are transposed back.
//!
//! Each lane computes its row alone, in the order `i = 0, 1, ...`: a row's bits depend on neither
//! the rows beside it in its block nor on how rows are split into tasks, so any thread count gives
//! the same bits. Rows whose maximum is not finite (or, for log-sum-exp, whose sum is not of the
//! common positive kind) are handed back to the caller's scalar code through a closure, so every
//! special case keeps the semantics of the per-row path.

use super::math::{exp_shifted_v, log_v};
use super::vector::{F64x, Isa, Kernel, W};
use super::{vectorize, Level};
use crate::real::Real;

#[path = "rows_grad.rs"]
mod grad;
#[path = "rows32.rs"]
mod lanes32;
#[path = "rows_weights.rs"]
mod weights;
pub(crate) use grad::{logsumexp_vjp, softmax_vjp, LseLanes};
pub(crate) use lanes32::{applies as f32_lanes, softmax_lse as softmax_lse32};
pub(crate) use weights::weights as logsumexp_weights;

/// Widest row these kernels take (their scratch lives on the stack: `MAX_N * W` f64 per buffer).
pub(crate) const MAX_N: usize = 64;

/// Rows `src[j n..(j + 1) n]`, `j < k` (`k <= W`), transposed into `dst[i W + j]`; lanes `j >= k`
/// are set to `pad`. Unchecked loads: a checked one per element made the transposes the larger
/// part of a narrow block's time.
#[inline(always)]
fn gather<T: Real>(src: &[T], n: usize, k: usize, pad: f64, dst: &mut [f64; MAX_N * W]) {
    assert!(
        n <= MAX_N && k <= W && src.len() >= n * k,
        "gather: out of bounds"
    );
    let s = src.as_ptr();
    for (i, d) in dst[..n * W].chunks_exact_mut(W).enumerate() {
        for (j, v) in d.iter_mut().enumerate() {
            *v = if k == W || j < k {
                // SAFETY: `j < k` and `i < n`, so `j n + i < k n <= src.len()`.
                unsafe { (*s.add(j * n + i)).to_f64() }
            } else {
                pad
            };
        }
    }
}

/// The inverse of [`gather`] for the first `k` lanes: `dst[j n + i] = src[i W + j]`.
#[inline(always)]
fn scatter<T: Real>(src: &[f64; MAX_N * W], n: usize, k: usize, dst: &mut [T]) {
    assert!(
        n <= MAX_N && k <= W && dst.len() >= n * k,
        "scatter: out of bounds"
    );
    let d = dst.as_mut_ptr();
    for (i, col) in src[..n * W].chunks_exact(W).enumerate() {
        for (j, &v) in col[..k].iter().enumerate() {
            // SAFETY: `j < k` and `i < n`, so `j n + i < k n <= dst.len()`.
            unsafe { *d.add(j * n + i) = T::from_f64(v) }
        }
    }
}

/// Vector `i` of a transposed block.
#[inline(always)]
fn at<V: F64x>(s: &[f64; MAX_N * W], i: usize) -> V {
    V::load(&s[i * W..i * W + W])
}

#[inline(always)]
fn put<V: F64x>(v: V, s: &mut [f64; MAX_N * W], i: usize) {
    v.store(&mut s[i * W..i * W + W])
}

/// `s[..k]` as a vector, padded with `pad`.
#[inline(always)]
fn lanes<V: F64x, T: Real>(s: &[T], pad: f64) -> V {
    if s.len() == W {
        V::load(s)
    } else {
        V::load_partial(s, pad)
    }
}

/// Stores the first `s.len()` (at most `W`) lanes of `v`.
#[inline(always)]
fn store<V: F64x, T: Real>(v: V, s: &mut [T]) {
    if s.len() == W {
        v.store(s)
    } else {
        v.store_partial(s)
    }
}

/// NaN-propagating maximum of the first `n` vectors of a block.
#[inline(always)]
/// With it, the minimum (NaN lanes unspecified), for [`cut_needed`].
fn max_of<V: F64x>(xt: &[f64; MAX_N * W], n: usize) -> (V, V) {
    let mut m = V::splat(f64::NEG_INFINITY);
    let mut lo = V::splat(f64::INFINITY);
    for i in 0..n {
        let v: V = at(xt, i);
        // `max_with` keeps `m` when `v` is NaN: the select lets a NaN in.
        m = V::select(v.eq(v), m.max_with(v), v);
        lo = lo.min_with(v);
    }
    (m, lo)
}

/// Whether some exponent `(x - m)/t` of a block may fall below -746 (or be NaN), given the lanes'
/// minima `lo` and maxima `m`: only then is [`exp_cut`] needed (elsewhere it gives the bits of
/// [`exp_shifted_v`], a little slower).
#[inline(always)]
fn cut_needed<V: F64x>(lo: V, m: V, inv_t: V) -> bool {
    lo.sub(m)
        .mul(inv_t)
        .to_array()
        .iter()
        .any(|&d| d < -746.0 || d.is_nan())
}

/// [`exp_cut`] or, where the caller knows no argument is below -746, [`exp_shifted_v`].
#[inline(always)]
fn exp_if<V: F64x, const CUT: bool>(d: V) -> V {
    if CUT {
        exp_cut(d)
    } else {
        exp_shifted_v(d)
    }
}

/// `e^d` per lane for `d <= 720` or NaN, as [`exp_shifted_v`], with arguments below -746 (whose
/// `e^d` rounds to 0, e.g. the `-inf` of a masked entry) sent to 0 without evaluating them: x86
/// takes a microcode assist of some hundred cycles on every multiply whose result underflows, which
/// made rows with masked entries several times slower.
#[inline(always)]
fn exp_cut<V: F64x>(d: V) -> V {
    let (zero, cut) = (V::splat(0.0), d.lt(V::splat(-746.0)));
    V::select(cut, zero, exp_shifted_v(V::select(cut, zero, d)))
}

/// `ln(1 + r)` per lane for finite `r >= 0`: `ln u - ((u - 1) - r)/u` with `u = 1 + r` corrects
/// the rounding of `u` (Goldberg, "What every computer scientist should know about floating-point
/// arithmetic", 1991, Theorem 4 in its additive form).
#[inline(always)]
fn log1p_v<V: F64x>(r: V) -> V {
    let one = V::splat(1.0);
    let u = one.add(r);
    log_v(u).sub(u.sub(one).sub(r).div(u))
}

/// Log-sum-exp of each row of a task; see [`logsumexp`].
struct Lse<'a, T, F> {
    x: &'a [T],
    b: Option<&'a [T]>,
    n: usize,
    t: f64,
    out: &'a mut [T],
    sign: Option<&'a mut [T]>,
    lse: Option<&'a mut [f64]>,
    slow: F,
}

impl<T: Real, F: FnMut(usize, f64, f64, f64) -> (f64, f64)> Kernel for Lse<'_, T, F> {
    type Output = ();
    #[inline(always)]
    fn run<S: Isa>(self) {
        if self.b.is_some() {
            self.body::<S::F64, true>()
        } else {
            self.body::<S::F64, false>()
        }
    }
}

impl<T: Real, F: FnMut(usize, f64, f64, f64) -> (f64, f64)> Lse<'_, T, F> {
    #[inline(always)]
    fn body<V: F64x, const WEIGHTED: bool>(mut self) {
        let (n, rows, t) = (self.n, self.out.len(), self.t);
        let (zero, one, ninf) = (V::splat(0.0), V::splat(1.0), V::splat(f64::NEG_INFINITY));
        let (vt, inv_t) = (V::splat(t), V::splat(1.0 / t));
        let mut xt = [0.0; MAX_N * W];
        let mut bt = [0.0; MAX_N * W];
        for r0 in (0..rows).step_by(W) {
            let k = (rows - r0).min(W);
            gather(&self.x[r0 * n..], n, k, 0.0, &mut xt);
            if WEIGHTED {
                if let Some(b) = self.b {
                    gather(&b[r0 * n..], n, k, 1.0, &mut bt);
                }
                // Entries of zero weight are -inf: they take no part, whatever their x.
                for i in 0..n {
                    let w: V = at(&bt, i);
                    put(V::select(w.eq(zero), ninf, at(&xt, i)), &mut xt, i);
                }
            }
            let (m, lo): (V, V) = max_of(&xt, n);
            let (s, sw) = if cut_needed(lo, m, inv_t) {
                sums::<V, WEIGHTED, true>(&xt, &bt, n, m, inv_t)
            } else {
                sums::<V, WEIGHTED, false>(&xt, &bt, n, m, inv_t)
            };
            // value = m + t (ln1p(s / sw) + ln sw), computed in every lane, kept where the lane
            // is of the common kind (finite maximum, positive weight there, finite ratio).
            let r = s.div(sw);
            let value = m.add(vt.mul(log1p_v(r).add(log_v(sw))));
            // Lanes of another kind are marked NaN (a common lane's value never is) and redone.
            let nan = V::splat(f64::NAN);
            let value = V::select(zero.lt(sw), value, nan);
            let value = V::select(r.lt(V::splat(f64::INFINITY)), value, nan);
            let value = V::select(s.lt(zero), nan, value);
            let value = V::select(m.sub(m).eq(zero), value, nan);
            let rows = r0..r0 + k;
            store(value, &mut self.out[rows.clone()]);
            if let Some(sign) = self.sign.as_deref_mut() {
                store(one, &mut sign[rows.clone()]);
            }
            if let Some(l) = self.lse.as_deref_mut() {
                store(value, &mut l[rows]);
            }
            let va = value.to_array();
            if va[..k].iter().all(|v| !v.is_nan()) {
                continue;
            }
            let (ma, sa, swa) = (m.to_array(), s.to_array(), sw.to_array());
            for j in (0..k).filter(|&j| va[j].is_nan()) {
                let (v, sg) = (self.slow)(r0 + j, ma[j], sa[j], swa[j]);
                self.out[r0 + j] = T::from_f64(v);
                if let Some(sign) = self.sign.as_deref_mut() {
                    sign[r0 + j] = T::from_f64(sg);
                }
                if let Some(l) = self.lse.as_deref_mut() {
                    l[r0 + j] = v;
                }
            }
        }
    }
}

/// The sums of a block of log-sum-exp: terms at the maximum `m` add their weight to `sw`, the
/// others `b e^{(x - m)/t}` to `s`.
#[inline(always)]
fn sums<V: F64x, const WEIGHTED: bool, const CUT: bool>(
    xt: &[f64; MAX_N * W],
    bt: &[f64; MAX_N * W],
    n: usize,
    m: V,
    inv_t: V,
) -> (V, V) {
    let (zero, one) = (V::splat(0.0), V::splat(1.0));
    let (mut s, mut sw) = (zero, zero);
    for i in 0..n {
        let v: V = at(xt, i);
        let w = if WEIGHTED { at(bt, i) } else { one };
        let e = exp_if::<V, CUT>(v.sub(m).mul(inv_t));
        let on_max = v.eq(m);
        let we = if WEIGHTED { w.mul(e) } else { e };
        s = s.add_where_not(on_max, we);
        sw = sw.add_where(on_max, w);
    }
    (s, sw)
}

/// Log-sum-exp of each `n`-long row of `x` (weights `b` beside it), written to `out` (one per row),
/// with `sign` and the f64 value `lse` if given. For each row, `(m, s, sw)` is its maximum over
/// entries of non-zero weight, `Σ_{x<m} b e^{(x - m)/t}` and `Σ_{x=m} b`; a row with finite `m`,
/// `sw > 0`, `s >= 0` and finite `s / sw` gets `m + t (ln1p(s/sw) + ln sw)` and sign 1, any other
/// row `slow(row, m, s, sw) -> (value, sign)`. `n` must be in `1..=MAX_N`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn logsumexp<T: Real>(
    level: Level,
    x: &[T],
    b: Option<&[T]>,
    n: usize,
    t: f64,
    out: &mut [T],
    sign: Option<&mut [T]>,
    lse: Option<&mut [f64]>,
    slow: impl FnMut(usize, f64, f64, f64) -> (f64, f64),
) {
    assert!((1..=MAX_N).contains(&n), "rows::logsumexp: n = {n}");
    assert_eq!(x.len(), n * out.len(), "rows::logsumexp: length mismatch");
    if let Some(b) = b {
        assert_eq!(b.len(), x.len(), "rows::logsumexp: length mismatch");
    }
    if let (Some(x), None, true) = (T::as_f32(x), b, lanes32::applies(t)) {
        return lanes32::logsumexp(level, x, n, t, out, sign, lse, slow);
    }
    vectorize(
        level,
        Lse {
            x,
            b,
            n,
            t,
            out,
            sign,
            lse,
            slow,
        },
    )
}

/// Softmax or log-softmax of each row of a task; see [`softmax`].
struct Softmax<'a, T, F> {
    x: &'a [T],
    n: usize,
    t: f64,
    log: bool,
    out: &'a mut [T],
    lse: Option<&'a mut [f64]>,
    slow: F,
}

impl<T: Real, F: FnMut(&[T], &mut [T]) -> f64> Kernel for Softmax<'_, T, F> {
    type Output = ();
    #[inline(always)]
    fn run<S: Isa>(self) {
        if self.log {
            self.body::<S::F64, true>()
        } else {
            self.body::<S::F64, false>()
        }
    }
}

impl<T: Real, F: FnMut(&[T], &mut [T]) -> f64> Softmax<'_, T, F> {
    #[inline(always)]
    fn body<V: F64x, const LOG: bool>(mut self) {
        let n = self.n;
        let rows = self.out.len() / n;
        let (vt, inv_t) = (V::splat(self.t), V::splat(1.0 / self.t));
        let mut xt = [0.0; MAX_N * W];
        for r0 in (0..rows).step_by(W) {
            let k = (rows - r0).min(W);
            let (x, out) = (&self.x[r0 * n..], &mut self.out[r0 * n..]);
            gather(x, n, k, 0.0, &mut xt);
            let (m, lo): (V, V) = max_of(&xt, n);
            let s = if cut_needed(lo, m, inv_t) {
                exps::<V, LOG, true>(&mut xt, n, m, inv_t)
            } else {
                exps::<V, LOG, false>(&mut xt, n, m, inv_t)
            };
            if LOG {
                let c = log_v(s);
                for i in 0..n {
                    let z = at::<V>(&xt, i).sub(m).mul(inv_t).sub(c);
                    put(z, &mut xt, i);
                }
            } else {
                let c = V::splat(1.0).div(s);
                for i in 0..n {
                    put(at::<V>(&xt, i).mul(c), &mut xt, i);
                }
            }
            scatter(&xt, n, k, out);
            let l = m.add(vt.mul(log_v(s))).to_array();
            let ma = m.to_array();
            for j in 0..k {
                let lj = if ma[j].is_finite() {
                    l[j]
                } else {
                    (self.slow)(&x[j * n..(j + 1) * n], &mut out[j * n..(j + 1) * n])
                };
                if let Some(lse) = self.lse.as_deref_mut() {
                    lse[r0 + j] = lj;
                }
            }
        }
    }
}

/// Each row's `t ln Σ e^{x/t}` alone; see [`softmax_lse`].
struct SoftmaxLse<'a, T, F> {
    x: &'a [T],
    n: usize,
    t: f64,
    lse: &'a mut [f64],
    slow: F,
}

impl<T: Real, F: FnMut(&[T]) -> f64> Kernel for SoftmaxLse<'_, T, F> {
    type Output = ();
    #[inline(always)]
    fn run<S: Isa>(mut self) {
        let (n, rows) = (self.n, self.lse.len());
        let (vt, inv_t) = (S::F64::splat(self.t), S::F64::splat(1.0 / self.t));
        let mut xt = [0.0; MAX_N * W];
        for r0 in (0..rows).step_by(W) {
            let k = (rows - r0).min(W);
            let x = &self.x[r0 * n..];
            gather(x, n, k, 0.0, &mut xt);
            let (m, lo): (S::F64, S::F64) = max_of(&xt, n);
            // The sums of `softmax` (without storing the terms), so the same bits.
            let s = if cut_needed(lo, m, inv_t) {
                exps::<S::F64, true, true>(&mut xt, n, m, inv_t)
            } else {
                exps::<S::F64, true, false>(&mut xt, n, m, inv_t)
            };
            let l = m.add(vt.mul(log_v(s))).to_array();
            let ma = m.to_array();
            for j in 0..k {
                self.lse[r0 + j] = if ma[j].is_finite() {
                    l[j]
                } else {
                    (self.slow)(&x[j * n..(j + 1) * n])
                };
            }
        }
    }
}

/// The residual `lse` that [`softmax`] writes, without the softmax: for each `n`-long row of `x`,
/// `m + t ln Σ e^{(x - m)/t}` with the same bits, or `slow(row)` where the maximum `m` is not
/// finite. `n` must be in `1..=MAX_N`.
pub(crate) fn softmax_lse<T: Real>(
    level: Level,
    x: &[T],
    n: usize,
    t: f64,
    lse: &mut [f64],
    slow: impl FnMut(&[T]) -> f64,
) {
    assert!((1..=MAX_N).contains(&n), "rows::softmax_lse: n = {n}");
    assert_eq!(x.len(), n * lse.len(), "rows::softmax_lse: length mismatch");
    vectorize(level, SoftmaxLse { x, n, t, lse, slow })
}

/// `Σ e^{(x - m)/t}` over a block; unless `LOG`, the terms replace `x` in the block.
#[inline(always)]
fn exps<V: F64x, const LOG: bool, const CUT: bool>(
    xt: &mut [f64; MAX_N * W],
    n: usize,
    m: V,
    inv_t: V,
) -> V {
    let mut s = V::splat(0.0);
    for i in 0..n {
        let e = exp_if::<V, CUT>(at::<V>(xt, i).sub(m).mul(inv_t));
        if !LOG {
            put(e, xt, i);
        }
        s = s.add(e);
    }
    s
}

/// Softmax (or, with `log`, log-softmax) of each `n`-long row of `x` into `out`, and each row's
/// `t ln Σ e^{x/t}` into `lse` if given: `e^{(x - m)/t} / s` or `(x - m)/t - ln s` with `m` the
/// row's maximum and `s = Σ e^{(x - m)/t}`. A row whose maximum is not finite is left to
/// `slow(row of x, row of out) -> lse`. `n` must be in `1..=MAX_N`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn softmax<T: Real>(
    level: Level,
    x: &[T],
    n: usize,
    t: f64,
    log: bool,
    out: &mut [T],
    lse: Option<&mut [f64]>,
    slow: impl FnMut(&[T], &mut [T]) -> f64,
) {
    assert!((1..=MAX_N).contains(&n), "rows::softmax: n = {n}");
    assert_eq!(x.len(), out.len(), "rows::softmax: length mismatch");
    assert!(out.len().is_multiple_of(n), "rows::softmax: not whole rows");
    vectorize(
        level,
        Softmax {
            x,
            n,
            t,
            log,
            out,
            lse,
            slow,
        },
    )
}

#[cfg(test)]
#[path = "rows_tests.rs"]
mod tests;
