//! Log-sum-exp of blocks of short rows in SIMD lanes (see [`rows`](super)) for reverse mode: the
//! value as [`logsumexp`](super::logsumexp) computes it and, from the same exponentials, the
//! pullback's weights `p_i = e^{(x_i - L)/t} = e_i / S` (`e_i = e^{(x_i - m)/t}`, `S = Σ e_i`)
//! and the temperature term `h = (L - Σ_i p_i x_i)/t = ℓ - Σ_i e_i d_i / S` with
//! `d_i = (x_i - m)/t`, `ℓ = (L - m)/t`: a sum of two non-negative terms, so `h` keeps its
//! precision where `(L - Σ p x)/t` cancels. One exponential per entry, as the forward alone.

use super::{at, cut_needed, exp_if, gather, log1p_v, max_of, put, scatter, store, MAX_N};
use crate::real::Real;
use crate::simd::math::log_v;
use crate::simd::vector::{F64x, Isa, Kernel, W};
use crate::simd::{vectorize, Level};

/// The log-sum-exp forward with the pullback's weights of each row of a task; see [`weights`].
struct LseWeights<'a, T, F> {
    x: &'a [T],
    n: usize,
    t: f64,
    out: &'a mut [T],
    sign: Option<&'a mut [T]>,
    p: &'a mut [T],
    h: &'a mut [f64],
    slow: F,
}

impl<T: Real, F: FnMut(usize, f64, f64, f64, &mut [T]) -> (f64, f64, f64)> Kernel
    for LseWeights<'_, T, F>
{
    type Output = ();
    #[inline(always)]
    fn run<S: Isa>(self) {
        self.body::<S::F64>()
    }
}

impl<T: Real, F: FnMut(usize, f64, f64, f64, &mut [T]) -> (f64, f64, f64)> LseWeights<'_, T, F> {
    #[inline(always)]
    fn body<V: F64x>(mut self) {
        let (n, rows, t) = (self.n, self.out.len(), self.t);
        let (zero, one, nan) = (V::splat(0.0), V::splat(1.0), V::splat(f64::NAN));
        let (vt, inv_t) = (V::splat(t), V::splat(1.0 / t));
        let mut xt = [0.0; MAX_N * W];
        for r0 in (0..rows).step_by(W) {
            let k = (rows - r0).min(W);
            gather(&self.x[r0 * n..], n, k, 0.0, &mut xt);
            let (m, lo): (V, V) = max_of(&xt, n);
            let (s, sw, sd) = if cut_needed(lo, m, inv_t) {
                sums::<V, true>(&mut xt, n, m, inv_t)
            } else {
                sums::<V, false>(&mut xt, n, m, inv_t)
            };
            // The value exactly as `rows::logsumexp` takes it, lanes of another kind marked NaN.
            let r = s.div(sw);
            let ell = log1p_v(r).add(log_v(sw));
            let value = m.add(vt.mul(ell));
            let value = V::select(zero.lt(sw), value, nan);
            let value = V::select(r.lt(V::splat(f64::INFINITY)), value, nan);
            let value = V::select(s.lt(zero), nan, value);
            let value = V::select(m.sub(m).eq(zero), value, nan);
            let total = sw.add(s);
            let c = one.div(total);
            for i in 0..n {
                put(at::<V>(&xt, i).mul(c), &mut xt, i);
            }
            scatter(&xt, n, k, &mut self.p[r0 * n..]);
            let rows = r0..r0 + k;
            store(value, &mut self.out[rows.clone()]);
            store(ell.sub(sd.div(total)), &mut self.h[rows.clone()]);
            if let Some(sign) = self.sign.as_deref_mut() {
                store(one, &mut sign[rows]);
            }
            let va = value.to_array();
            if va[..k].iter().all(|v| !v.is_nan()) {
                continue;
            }
            let (ma, sa, swa) = (m.to_array(), s.to_array(), sw.to_array());
            for j in (0..k).filter(|&j| va[j].is_nan()) {
                let row = r0 + j;
                let pr = &mut self.p[row * n..(row + 1) * n];
                let (v, sg, hj) = (self.slow)(row, ma[j], sa[j], swa[j], pr);
                self.out[row] = T::from_f64(v);
                self.h[row] = hj;
                if let Some(sign) = self.sign.as_deref_mut() {
                    sign[row] = T::from_f64(sg);
                }
            }
        }
    }
}

/// The sums of a block as `rows::logsumexp` takes them (`s` over the terms below the maximum,
/// `sw` the count at it) and `Σ e d` (terms with `e = 0` left out: their `d` may be `-inf`); the
/// exponentials replace `x` in the block.
#[inline(always)]
fn sums<V: F64x, const CUT: bool>(
    xt: &mut [f64; MAX_N * W],
    n: usize,
    m: V,
    inv_t: V,
) -> (V, V, V) {
    let (zero, one) = (V::splat(0.0), V::splat(1.0));
    let (mut s, mut sw, mut sd) = (zero, zero, zero);
    for i in 0..n {
        let v: V = at(xt, i);
        let d = v.sub(m).mul(inv_t);
        let e = exp_if::<V, CUT>(d);
        let on_max = v.eq(m);
        s = s.add_where_not(on_max, e);
        sw = sw.add_where(on_max, one);
        sd = sd.add(V::select(e.eq(zero), zero, e.mul(d)));
        put(V::select(on_max, one, e), xt, i);
    }
    (s, sw, sd)
}

/// Log-sum-exp of each `n`-long row of `x` (unweighted) into `out` (and `sign`), with the
/// pullback's weights `p` (the length of `x`) and temperature terms `h` (one per row); see the
/// module docs. A row whose value is not of the common kind (see [`logsumexp`](super::logsumexp))
/// is left to `slow(row, m, s, sw, its p) -> (value, sign, h)`, which also fills its `p`. `n` must
/// be in `1..=MAX_N`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn weights<T: Real>(
    level: Level,
    x: &[T],
    n: usize,
    t: f64,
    out: &mut [T],
    sign: Option<&mut [T]>,
    p: &mut [T],
    h: &mut [f64],
    slow: impl FnMut(usize, f64, f64, f64, &mut [T]) -> (f64, f64, f64),
) {
    assert!((1..=MAX_N).contains(&n), "rows::weights: n = {n}");
    assert!(
        x.len() == n * out.len() && p.len() == x.len() && h.len() == out.len(),
        "rows::weights: length mismatch"
    );
    if let Some(s) = sign.as_deref() {
        assert_eq!(s.len(), out.len(), "rows::weights: length mismatch");
    }
    if let (Some(x), true) = (T::as_f32(x), super::lanes32::applies(t)) {
        return super::lanes32::weights(level, x, n, t, out, sign, p, h, slow);
    }
    vectorize(
        level,
        LseWeights {
            x,
            n,
            t,
            out,
            sign,
            p,
            h,
            slow,
        },
    )
}
