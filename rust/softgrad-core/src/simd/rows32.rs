//! Log-sum-exp of blocks of short `f32` rows in `f32` lanes (see [`rows`](super)): [`W32`] rows per
//! block, each exponential computed once in [`F32x`] lanes ([`exp32_shifted_v`], the exponent in two
//! parts, within about an `f32` ulp whatever `|x - m|/t`), every sum carried in `f64` lanes (the
//! exponentials widened exactly), the value and the pullback's weights formed in `f64`.
//!
//! The `f64`-lane kernels of `rows` take `f32` data widened: twice the vectors per row (AVX2 holds
//! [`W`] `f64` lanes in two registers) and an `f64` exponential per entry. Here a block is one
//! [`F32x`] per row position, so a block of [`W32`] rows costs what [`W`] rows cost there.
//!
//! A lane computes its row alone, in the order `i = 0, 1, ...`, with the `f32` operations that round
//! the same way at every level ([`F32x`]), so a row's bits depend neither on its block, nor on the
//! thread count, nor (up to the `f64` `log` of the value, fused or not) on the level. Value-only
//! ([`logsumexp`]), value-with-weights ([`weights`]) and the cross-entropy's value with or without
//! the softmax ([`softmax_lse`]) share the sums, so their values have the same bits. Unweighted rows
//! only: signed weights can cancel, which would amplify the rounding of `f32`
//! exponentials (the `f64` kernels take them).

use super::{log1p_v, MAX_N};
use crate::real::Real;
use crate::simd::contiguous32::split;
use crate::simd::math::log_v;
use crate::simd::math32::exp32_shifted_v;
use crate::simd::vector::{F32x, F64x, Isa, Kernel, W, W32};
use crate::simd::{vectorize, Level};

/// A transposed block: element `i` of the block's row `j` at `[i W32 + j]`.
type Block = [f32; MAX_N * W32];

/// Rows `src[j n..(j + 1) n]`, `j < k` (`k <= W32`), transposed into `dst[i W32 + j]`; lanes
/// `j >= k` are set to 0 (their results are not stored). Unchecked loads, as `rows::gather`.
#[inline(always)]
fn gather(src: &[f32], n: usize, k: usize, dst: &mut Block) {
    assert!(
        n <= MAX_N && k <= W32 && src.len() >= n * k,
        "gather: out of bounds"
    );
    let s = src.as_ptr();
    for (i, d) in dst[..n * W32].chunks_exact_mut(W32).enumerate() {
        for (j, v) in d.iter_mut().enumerate() {
            *v = if k == W32 || j < k {
                // SAFETY: `j < k` and `i < n`, so `j n + i < k n <= src.len()`.
                unsafe { *s.add(j * n + i) }
            } else {
                0.0
            };
        }
    }
}

/// The inverse of [`gather`] for the first `k` lanes: `dst[j n + i] = src[i W32 + j]`.
#[inline(always)]
fn scatter(src: &Block, n: usize, k: usize, dst: &mut [f32]) {
    assert!(
        n <= MAX_N && k <= W32 && dst.len() >= n * k,
        "scatter: out of bounds"
    );
    let d = dst.as_mut_ptr();
    for (i, col) in src[..n * W32].chunks_exact(W32).enumerate() {
        for (j, &v) in col[..k].iter().enumerate() {
            // SAFETY: `j < k` and `i < n`, so `j n + i < k n <= dst.len()`.
            unsafe { *d.add(j * n + i) = v }
        }
    }
}

/// Vector `i` of a block.
#[inline(always)]
fn at<V: F32x>(s: &Block, i: usize) -> V {
    V::load(&s[i * W32..i * W32 + W32])
}

/// Below this `(x - m)/t`, `e^{(x - m)/t}` rounds to 0 in `f32` (`e^-104 < 2^-150`).
const CUT: f32 = -104.0;

/// `e^{(x - m)/t}` per lane as [`exp32_shifted_v`]; with `CUT`, lanes whose `(x - m)/t` is below
/// [`CUT`] (the `-inf` of a masked entry, a far outlier) are sent to 0 without being evaluated: the
/// same bits (the exponential clamps there and rounds to 0), without the microcode assist x86 takes
/// on every multiplication whose result underflows.
#[inline(always)]
fn exp_at<V: F32x, const UNIT: bool, const CUT_: bool>(x: V, m: V, t: V, t_lo: V) -> V {
    if CUT_ {
        let zero = V::splat(0.0);
        // The high part of the exponent, as `exp32_shifted_v` forms it.
        let d = if UNIT { x.sub(m) } else { x.sub(m).mul(t) };
        let cut = d.lt(V::splat(CUT));
        let e = exp32_shifted_v::<V, UNIT>(V::select(cut, m, x), m, t, t_lo);
        V::select(cut, zero, e)
    } else {
        exp32_shifted_v::<V, UNIT>(x, m, t, t_lo)
    }
}

/// The sums of one block (`f64` lanes: the low and high [`W`] rows of the block).
struct Sums<V: F32x> {
    /// `Σ e` over the entries below the maximum.
    s: [V::F64; 2],
    /// `Σ e d`, `d = (x - m)/t`, over the entries with `e > 0` (only with weights).
    sd: [V::F64; 2],
    /// The count of entries at the maximum (exact in `f32`: at most [`MAX_N`]).
    count: V,
}

/// Log-sum-exp of each row of a task and, with `PROBS`, the softmax into `p` (with `H` too, the
/// pullback's weights: `h`); see [`logsumexp`], [`weights`] and [`softmax_lse`]. The modes are type
/// parameters so that each vectorised instance holds two bodies (`t == 1` or not): an unoptimised
/// build gives every inlined body its own stack, which six of them made overflow a test thread's.
struct Lse32<'a, T, F, const PROBS: bool, const H: bool> {
    x: &'a [f32],
    n: usize,
    t: f64,
    rows: usize,
    out: Option<&'a mut [T]>,
    sign: Option<&'a mut [T]>,
    lse: Option<&'a mut [f64]>,
    p: Option<&'a mut [T]>,
    h: Option<&'a mut [f64]>,
    slow: F,
}

/// The row of `p` that `slow(row, m, s, sw, p) -> (value, sign, h)` fills, if there is a `p`.
type Slow<'b, T> = Option<&'b mut [T]>;

impl<
        T: Real,
        F: FnMut(usize, f64, f64, f64, Slow<'_, T>) -> (f64, f64, f64),
        const PROBS: bool,
        const H: bool,
    > Kernel for Lse32<'_, T, F, PROBS, H>
{
    type Output = ();
    #[inline(always)]
    fn run<S: Isa>(self) {
        if self.t == 1.0 {
            self.body::<S::F32, true>()
        } else {
            self.body::<S::F32, false>()
        }
    }
}

impl<
        T: Real,
        F: FnMut(usize, f64, f64, f64, Slow<'_, T>) -> (f64, f64, f64),
        const PROBS: bool,
        const H: bool,
    > Lse32<'_, T, F, PROBS, H>
{
    #[inline(always)]
    fn body<V: F32x, const UNIT: bool>(mut self) {
        let (n, rows, t) = (self.n, self.rows, self.t);
        let (t32, t_lo) = split(1.0 / t);
        let (vt32, vt_lo) = (V::splat(t32), V::splat(t_lo));
        let mut xt: Block = [0.0; MAX_N * W32];
        // Per lane: value, m, s, sw, h (the arguments of `slow` for the lanes redone).
        let mut lanes = [[0.0f64; W32]; 5];
        for r0 in (0..rows).step_by(W32) {
            let k = (rows - r0).min(W32);
            gather(&self.x[r0 * n..], n, k, &mut xt);
            let (m, lo) = max_of::<V>(&xt, n);
            let sums = if cut_needed(lo, m, vt32) {
                sums::<V, PROBS, H, UNIT, true>(&mut xt, n, m, vt32, vt_lo, 1.0 / t)
            } else {
                sums::<V, PROBS, H, UNIT, false>(&mut xt, n, m, vt32, vt_lo, 1.0 / t)
            };
            let (m64, sw) = (m.widen(), sums.count.widen());
            // One entry at the maximum in every lane (the rule for continuous data): `ln sw = 0`.
            let mut count = [0.0f32; W32];
            sums.count.store(&mut count);
            let single = count.iter().all(|&c| c == 1.0);
            let mut c = [<V::F64 as F64x>::splat(0.0); 2];
            for (half, (m, sw)) in [(m64.0, sw.0), (m64.1, sw.1)].into_iter().enumerate() {
                let s = sums.s[half];
                let (value, ell) = value_of(m, s, sw, t, single);
                let l = half * W..half * W + W;
                for (a, v) in lanes.iter_mut().zip([value, m, s, sw]) {
                    v.store(&mut a[l.clone()]);
                }
                if PROBS {
                    let total = sw.add(s);
                    c[half] = <V::F64 as F64x>::splat(1.0).div(total);
                    if H {
                        ell.sub(sums.sd[half].div(total)).store(&mut lanes[4][l]);
                    }
                }
            }
            if let (true, Some(p)) = (PROBS, self.p.as_deref_mut()) {
                // p = e c, the product rounded once to f32.
                for i in 0..n {
                    let (lo, hi) = at::<V>(&xt, i).widen();
                    let o = &mut xt[i * W32..i * W32 + W32];
                    lo.mul(c[0]).store(&mut o[..W]);
                    hi.mul(c[1]).store(&mut o[W..]);
                }
                let p = T::as_f32_mut(p).expect("rows32: f32 weights");
                scatter(&xt, n, k, &mut p[r0 * n..]);
            }
            let [values, ms, ss, sws, hs] = &lanes;
            for j in 0..k {
                let row = r0 + j;
                let (v, sg, hj) = if values[j].is_nan() {
                    let pr = self
                        .p
                        .as_deref_mut()
                        .map(|p| &mut p[row * n..(row + 1) * n]);
                    (self.slow)(row, ms[j], ss[j], sws[j], pr)
                } else {
                    (values[j], 1.0, hs[j])
                };
                if let Some(o) = self.out.as_deref_mut() {
                    o[row] = T::from_f64(v);
                }
                if let Some(s) = self.sign.as_deref_mut() {
                    s[row] = T::from_f64(sg);
                }
                if let Some(l) = self.lse.as_deref_mut() {
                    l[row] = v;
                }
                if let Some(h) = self.h.as_deref_mut() {
                    h[row] = hj;
                }
            }
        }
    }
}

/// `m + t (ln1p(s/sw) + ln sw)` and `ℓ = ln1p(s/sw) + ln sw` per lane, as `rows::logsumexp` forms
/// them; the value is NaN in lanes of another kind (a maximum that is not finite, no entry at it, or
/// a sum that is not finite), which the caller redoes. `single`: every `sw` is 1, whose `ln` is
/// `+0` exactly (so skipping it keeps the bits).
#[inline(always)]
fn value_of<V: F64x>(m: V, s: V, sw: V, t: f64, single: bool) -> (V, V) {
    let (zero, nan) = (V::splat(0.0), V::splat(f64::NAN));
    let r = s.div(sw);
    let ln_sw = if single { zero } else { log_v(sw) };
    let ell = log1p_v(r).add(ln_sw);
    let value = m.add(V::splat(t).mul(ell));
    let value = V::select(zero.lt(sw), value, nan);
    let value = V::select(r.lt(V::splat(f64::INFINITY)), value, nan);
    let value = V::select(s.lt(zero), nan, value);
    (V::select(m.sub(m).eq(zero), value, nan), ell)
}

/// NaN-propagating maximum of the first `n` vectors of a block, and the minimum (NaN lanes
/// unspecified), for [`cut_needed`].
#[inline(always)]
fn max_of<V: F32x>(xt: &Block, n: usize) -> (V, V) {
    let mut m = V::splat(f32::NEG_INFINITY);
    let mut lo = V::splat(f32::INFINITY);
    for i in 0..n {
        let v: V = at(xt, i);
        m = m.pmax(v);
        lo = lo.min_with(v);
    }
    (m, lo)
}

/// Whether some `(x - m)/t` of a block may fall below [`CUT`] (or be NaN): only then is the cut of
/// [`exp_at`] needed.
#[inline(always)]
fn cut_needed<V: F32x>(lo: V, m: V, inv_t: V) -> bool {
    let mut d = [0.0f32; W32];
    lo.sub(m).mul(inv_t).store(&mut d);
    d.iter().any(|&d| d < CUT || d.is_nan())
}

/// The sums of a block (see [`Sums`]); with `PROBS` the exponentials replace `x` in the block (1 at
/// the maximum), with `H` the sums `sd` are taken too.
#[inline(always)]
fn sums<V: F32x, const PROBS: bool, const H: bool, const UNIT: bool, const CUT_: bool>(
    xt: &mut Block,
    n: usize,
    m: V,
    t: V,
    t_lo: V,
    inv_t: f64,
) -> Sums<V> {
    let (zero, one) = (V::splat(0.0), V::splat(1.0));
    let z64 = <V::F64 as F64x>::splat(0.0);
    let (m64, inv_t64) = (m.widen(), <V::F64 as F64x>::splat(inv_t));
    let mut acc = Sums {
        s: [z64; 2],
        sd: [z64; 2],
        count: zero,
    };
    for i in 0..n {
        let v: V = at(xt, i);
        let e = exp_at::<V, UNIT, CUT_>(v, m, t, t_lo);
        let on_max = v.eq(m);
        let (e0, e1) = V::select(on_max, zero, e).widen();
        acc.s = [acc.s[0].add(e0), acc.s[1].add(e1)];
        acc.count = acc.count.add(V::select(on_max, one, zero));
        if H {
            // d in f64 from the exact widening of x and m; `e = 0` terms left out (d may be -inf).
            // (No closure here: one not inlined would make every vector operation a call.)
            let (v0, v1) = v.widen();
            let (e0, e1) = e.widen();
            let d0 = v0.sub(m64.0).mul(inv_t64);
            let d1 = v1.sub(m64.1).mul(inv_t64);
            let t0 = <V::F64 as F64x>::select(e0.eq(z64), z64, e0.mul(d0));
            let t1 = <V::F64 as F64x>::select(e1.eq(z64), z64, e1.mul(d1));
            acc.sd = [acc.sd[0].add(t0), acc.sd[1].add(t1)];
        }
        if PROBS {
            V::select(on_max, one, e).store(&mut xt[i * W32..i * W32 + W32]);
        }
    }
    acc
}

/// Whether the `f32`-lane kernels take rows at temperature `t`: `1/t` a normal `f32` (so the
/// exponent keeps its precision; other temperatures take the `f64` kernels).
pub(crate) fn applies(t: f64) -> bool {
    crate::simd::contiguous32::inv_t32(1.0 / t).is_some()
}

/// Log-sum-exp of each `n`-long row of `x` (unweighted) into `out` (one per row), with `sign` and
/// the `f64` value `lse` if given; a row of another kind (see `rows::logsumexp`) is left to
/// `slow(row, m, s, sw) -> (value, sign)`. For `f32` data (`x` is the caller's `&[T]` seen as `f32`),
/// `n` in `1..=MAX_N` and [`applies`]`(t)`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn logsumexp<T: Real>(
    level: Level,
    x: &[f32],
    n: usize,
    t: f64,
    out: &mut [T],
    sign: Option<&mut [T]>,
    lse: Option<&mut [f64]>,
    mut slow: impl FnMut(usize, f64, f64, f64) -> (f64, f64),
) {
    assert!((1..=MAX_N).contains(&n), "rows32::logsumexp: n = {n}");
    assert_eq!(x.len(), n * out.len(), "rows32::logsumexp: length mismatch");
    vectorize(
        level,
        Lse32::<_, _, false, false> {
            x,
            n,
            t,
            rows: out.len(),
            out: Some(out),
            sign,
            lse,
            p: None,
            h: None,
            slow: |row, m, s, sw, _: Slow<'_, T>| {
                let (v, sg) = slow(row, m, s, sw);
                (v, sg, 0.0)
            },
        },
    )
}

/// [`logsumexp`] of each row with the pullback's weights `p` (the length of `x`; `f32`) and
/// temperature terms `h` (one per row), as `rows::logsumexp_weights` defines them; a row of another
/// kind is left to `slow(row, m, s, sw, its p) -> (value, sign, h)`, which also fills its `p`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn weights<T: Real>(
    level: Level,
    x: &[f32],
    n: usize,
    t: f64,
    out: &mut [T],
    sign: Option<&mut [T]>,
    p: &mut [T],
    h: &mut [f64],
    mut slow: impl FnMut(usize, f64, f64, f64, &mut [T]) -> (f64, f64, f64),
) {
    assert!((1..=MAX_N).contains(&n), "rows32::weights: n = {n}");
    assert!(
        x.len() == n * out.len() && p.len() == x.len() && h.len() == out.len(),
        "rows32::weights: length mismatch"
    );
    assert!(T::as_f32_mut(p).is_some(), "rows32::weights: f32 weights");
    vectorize(
        level,
        Lse32::<_, _, true, true> {
            x,
            n,
            t,
            rows: out.len(),
            out: Some(out),
            sign,
            lse: None,
            p: Some(p),
            h: Some(h),
            slow: |row, m, s, sw, pr: Slow<'_, T>| match pr {
                Some(pr) => slow(row, m, s, sw, pr),
                None => (f64::NAN, f64::NAN, f64::NAN),
            },
        },
    )
}

/// The softmax's log-sum-exp `m + t (ln1p(s/sw) + ln sw)` of each `n`-long row of `x` (unweighted,
/// `f64`, one per row) into `lse` and, with `p` (the length of `x`), the softmax `e^{(x - m)/t} /
/// (sw + s)` of each row: the values have the same bits with or without `p`. A row whose maximum is
/// not finite is left to `slow(row, its p) -> value`, which also fills its `p`. For `n` in
/// `1..=MAX_N` and [`applies`]`(t)`.
pub(crate) fn softmax_lse(
    level: Level,
    x: &[f32],
    n: usize,
    t: f64,
    p: Option<&mut [f32]>,
    lse: &mut [f64],
    mut slow: impl FnMut(usize, Option<&mut [f32]>) -> f64,
) {
    assert!((1..=MAX_N).contains(&n), "rows32::softmax_lse: n = {n}");
    assert!(
        x.len() == n * lse.len() && p.as_ref().is_none_or(|p| p.len() == x.len()),
        "rows32::softmax_lse: length mismatch"
    );
    let rows = lse.len();
    let lse = Some(lse);
    let slow = |row, _, _, _, pr: Slow<'_, f32>| (slow(row, pr), 1.0, 0.0);
    match p {
        Some(p) => vectorize(
            level,
            Lse32::<f32, _, true, false> {
                x,
                n,
                t,
                rows,
                out: None,
                sign: None,
                lse,
                p: Some(p),
                h: None,
                slow,
            },
        ),
        None => vectorize(
            level,
            Lse32::<f32, _, false, false> {
                x,
                n,
                t,
                rows,
                out: None,
                sign: None,
                lse,
                p: None,
                h: None,
                slow,
            },
        ),
    }
}

#[cfg(test)]
#[path = "rows32_tests.rs"]
mod tests;
