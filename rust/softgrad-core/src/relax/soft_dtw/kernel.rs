//! The soft-DTW recursions over one block of pairs of equal shape, lane-interleaved: element
//! `(i, k)` of lane `p`'s series is at `(i d + k) L + p`, and so is every table.
//!
//! The forward recursion is a chain along each row (`R[i,j]` needs `R[i,j-1]` through an `exp`
//! and a `ln`), so one pair alone is latency-bound. A block therefore runs `G` vectors of pairs
//! side by side (`L = G W` lanes): the `G` chains are independent and the core overlaps them. A
//! one-lane block (`L = 1`, the one-by-one and ragged path) runs the same code on one-lane
//! vectors with the same fused operations, so a pair's bits do not depend on its block.

use crate::simd::math::{exp_shifted_v, log_v};
use crate::simd::vector::{F64x, Isa, Kernel, Lanes, W};

/// Vectors per step of a wide block.
pub(super) const G: usize = 4;
/// Lanes of a wide block.
pub(super) const WIDE: usize = G * W;

/// The geometry of a block: series lengths, features, lanes and `γ`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Geom {
    pub n: usize,
    pub m: usize,
    pub d: usize,
    pub lanes: usize,
    pub gamma: f64,
    pub fma: bool,
}

impl Geom {
    /// `1/γ`, at most `f64::MAX` (so that `0 · 1/γ` is 0 for the tiniest `γ`).
    fn inv(&self) -> f64 {
        (1.0 / self.gamma).min(f64::MAX)
    }
}

/// `e^x` for `x <= 0`, flushed to 0 below `e^{-700}`: results that small change nothing they are
/// added to, and subnormal operands would cost microcode assists in the hot loops.
#[inline(always)]
fn exp_flushed<V: F64x>(x: V) -> V {
    let keep = V::splat(-700.0).lt(x);
    V::select(keep, exp_shifted_v(x), V::splat(0.0))
}

/// The soft-min weight with which the cell of `R = rn` (cost `cn`) read `R_ij = r`:
/// `e^{(rn − r − cn)/γ}`. (A function, not a closure: it must inline into the level's trampoline.)
#[inline(always)]
fn weight<V: F64x>(rn: V, r: V, cn: V, inv: V) -> V {
    exp_flushed(rn.sub(r).sub(cn).mul(inv))
}

/// `softmin_γ(a, b, c) = m − γ ln(1 + e^{(m−o₁)/γ} + e^{(m−o₂)/γ})` with `m` the smallest and
/// `o₁, o₂` the other two: two exponentials of non-positive arguments and one `ln` of `[1, 3]`.
#[inline(always)]
fn softmin<V: F64x>(a: V, b: V, c: V, gam: V, inv: V) -> V {
    let (lo, hi) = (a.min_with(b), a.max_with(b));
    let (m, o) = (lo.min_with(c), lo.max_with(c));
    let s = exp_flushed(m.sub(hi).mul(inv))
        .add(exp_flushed(m.sub(o).mul(inv)))
        .add(V::splat(1.0));
    gam.neg_mul_add(log_v(s), m)
}

/// Squared Euclidean distance of the rows `xi` and `yj` (each `d` vectors `L` apart) at lane
/// offset `o`.
#[inline(always)]
fn cost<V: F64x>(xi: &[f64], yj: &[f64], d: usize, l: usize, o: usize) -> V {
    let mut c = V::splat(0.0);
    for k in 0..d {
        let diff = V::load(&xi[k * l + o..]).sub(V::load(&yj[k * l + o..]));
        c = diff.mul_add(diff, c);
    }
    c
}

/// The forward table `R` (`(n+1) × (m+1)` rows of `L` lanes): all of it (`full`), or two rows
/// used in turn; `R[n, m]` is in the last row written, at `m L`.
pub(super) struct Forward<'a> {
    pub geom: Geom,
    pub xb: &'a [f64],
    pub yb: &'a [f64],
    pub table: &'a mut [f64],
    pub full: bool,
}

impl Kernel for Forward<'_> {
    type Output = ();
    #[inline(always)]
    fn run<S: Isa>(self) {
        match (self.geom.lanes, self.geom.fma) {
            (1, true) => self.body::<Lanes<1, true>, 1, 1>(),
            (1, false) => self.body::<Lanes<1, false>, 1, 1>(),
            _ => self.body::<S::F64, W, G>(),
        }
    }
}

impl Forward<'_> {
    #[inline(always)]
    fn body<V: F64x, const VW: usize, const NG: usize>(self) {
        let Geom {
            n,
            m,
            d,
            lanes: l,
            gamma,
            ..
        } = self.geom;
        debug_assert_eq!(l, VW * NG);
        let (gam, inv) = (V::splat(gamma), V::splat(self.geom.inv()));
        let stride = (m + 1) * l;
        let row0 = &mut self.table[..stride];
        row0[..l].fill(0.0);
        row0[l..].fill(f64::INFINITY);
        for i in 1..=n {
            let (pi, ci) = if self.full {
                (i - 1, i)
            } else {
                ((i - 1) & 1, i & 1)
            };
            let (prev, cur) = if pi < ci {
                let (a, b) = self.table.split_at_mut(ci * stride);
                (&a[pi * stride..], &mut b[..stride])
            } else {
                let (a, b) = self.table.split_at_mut(pi * stride);
                (&b[..stride], &mut a[ci * stride..ci * stride + stride])
            };
            cur[..l].fill(f64::INFINITY);
            let xi = &self.xb[(i - 1) * d * l..i * d * l];
            for j in 1..=m {
                let yj = &self.yb[(j - 1) * d * l..j * d * l];
                for g in 0..NG {
                    let o = g * VW;
                    let c = cost::<V>(xi, yj, d, l, o);
                    let a = V::load(&prev[(j - 1) * l + o..]);
                    let b = V::load(&prev[j * l + o..]);
                    let left = V::load(&cur[(j - 1) * l + o..]);
                    c.add(softmin(a, b, left, gam, inv))
                        .store(&mut cur[j * l + o..]);
                }
            }
        }
    }
}

/// The backward recursion of Cuturi & Blondel (Algorithm 2) from the full forward table: the
/// expected alignment `E` row by row from the last, accumulating `∂/∂x = Σ_j E_ij 2(x_i − y_j)`
/// into `gx` and `∂/∂y` into `gy` (both zeroed by the caller, lane layout), and writing `E` to
/// `align` (`n × m` rows of `L` lanes) if given. `rows` is scratch of `5 (m+2) L`.
pub(super) struct Backward<'a> {
    pub geom: Geom,
    pub xb: &'a [f64],
    pub yb: &'a [f64],
    pub table: &'a [f64],
    pub gx: &'a mut [f64],
    pub gy: &'a mut [f64],
    pub align: Option<&'a mut [f64]>,
    pub rows: &'a mut [f64],
}

impl Kernel for Backward<'_> {
    type Output = ();
    #[inline(always)]
    fn run<S: Isa>(self) {
        match (self.geom.lanes, self.geom.fma) {
            (1, true) => self.body::<Lanes<1, true>, 1, 1>(),
            (1, false) => self.body::<Lanes<1, false>, 1, 1>(),
            _ => self.body::<S::F64, W, G>(),
        }
    }
}

impl Backward<'_> {
    #[inline(always)]
    fn body<V: F64x, const VW: usize, const NG: usize>(self) {
        let Geom {
            n, m, d, lanes: l, ..
        } = self.geom;
        let inv = V::splat(self.geom.inv());
        let (zero, two, tiny) = (V::splat(0.0), V::splat(2.0), V::splat(1e-300));
        let w = (m + 2) * l;
        let (e_next, rest) = self.rows.split_at_mut(w);
        let (e_cur, rest) = rest.split_at_mut(w);
        let (c_next, rest) = rest.split_at_mut(w);
        let (c_cur, rest) = rest.split_at_mut(w);
        let (r_next, _) = rest.split_at_mut(w);
        let (mut e_next, mut e_cur, mut c_next, mut c_cur) = (e_next, e_cur, c_next, c_cur);
        let stride = (m + 1) * l;
        // The virtual row n+1: E = 0 and R = −∞ but for E = 1 and R = R[n, m] past the corner.
        e_next.fill(0.0);
        e_next[(m + 1) * l..].fill(1.0);
        e_cur.fill(0.0);
        c_next.fill(0.0);
        c_cur.fill(0.0);
        r_next.fill(f64::NEG_INFINITY);
        r_next[(m + 1) * l..].copy_from_slice(&self.table[n * stride + m * l..][..l]);
        let mut align = self.align;
        for i in (1..=n).rev() {
            let ri = &self.table[i * stride..(i + 1) * stride];
            let xi = &self.xb[(i - 1) * d * l..i * d * l];
            let gxi = &mut self.gx[(i - 1) * d * l..i * d * l];
            let mut e_right = [zero; NG];
            let mut r_right = [V::splat(f64::NEG_INFINITY); NG];
            let mut c_right = [zero; NG];
            for j in (1..=m).rev() {
                let yj = &self.yb[(j - 1) * d * l..j * d * l];
                let gyj = &mut self.gy[(j - 1) * d * l..j * d * l];
                for g in 0..NG {
                    let o = g * VW;
                    let r = V::load(&ri[j * l + o..]);
                    let c = cost::<V>(xi, yj, d, l, o);
                    c.store(&mut c_cur[j * l + o..]);
                    let a = weight(
                        V::load(&r_next[j * l + o..]),
                        r,
                        V::load(&c_next[j * l + o..]),
                        inv,
                    );
                    let b = weight(r_right[g], r, c_right[g], inv);
                    let dg = weight(
                        V::load(&r_next[(j + 1) * l + o..]),
                        r,
                        V::load(&c_next[(j + 1) * l + o..]),
                        inv,
                    );
                    // The chain through E[i, j+1] is one fused multiply-add.
                    let s = V::load(&e_next[j * l + o..])
                        .mul_add(a, V::load(&e_next[(j + 1) * l + o..]).mul(dg));
                    let e = e_right[g].mul_add(b, s);
                    // Far from the soft path E decays geometrically: flush it before it turns
                    // subnormal (its contributions are below 1e-300 anyway).
                    let e = V::select(e.lt(tiny), zero, e);
                    e.store(&mut e_cur[j * l + o..]);
                    let e2 = e.mul(two);
                    for k in 0..d {
                        let (xs, ys) = (&xi[k * l + o..], &yj[k * l + o..]);
                        let t = e2.mul(V::load(xs).sub(V::load(ys)));
                        V::load(&gxi[k * l + o..])
                            .add(t)
                            .store(&mut gxi[k * l + o..]);
                        V::load(&gyj[k * l + o..])
                            .sub(t)
                            .store(&mut gyj[k * l + o..]);
                    }
                    (e_right[g], r_right[g], c_right[g]) = (e, r, c);
                }
            }
            if let Some(al) = align.as_deref_mut() {
                al[(i - 1) * m * l..i * m * l].copy_from_slice(&e_cur[l..(m + 1) * l]);
            }
            std::mem::swap(&mut e_next, &mut e_cur);
            e_cur[(m + 1) * l..].fill(0.0);
            std::mem::swap(&mut c_next, &mut c_cur);
            r_next[..stride].copy_from_slice(ri);
            r_next[stride..].fill(f64::NEG_INFINITY);
        }
    }
}
