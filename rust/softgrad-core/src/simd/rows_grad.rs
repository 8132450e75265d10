//! The pullbacks of the log-sum-exp family over blocks of short rows in SIMD lanes (see
//! [`rows`](super)): from the forward's output (softmax, log-softmax) or its residual
//! (log-sum-exp), with the formulas of `relax::logsumexp::grad`, one lane per row.

use super::{at, cut_needed, exp_cut, exp_if, gather, lanes, put, scatter, MAX_N};
use crate::real::Real;
use crate::simd::math::log_v;
use crate::simd::vector::{F64x, Isa, Kernel, W};
use crate::simd::{vectorize, Level};

/// The softmax pullback of each row of a task; see [`softmax_vjp`].
struct SoftmaxVjp<'a, T> {
    y: &'a [T],
    g: &'a [T],
    n: usize,
    inv_t: f64,
    log: bool,
    dx: &'a mut [T],
}

impl<T: Real> Kernel for SoftmaxVjp<'_, T> {
    type Output = f64;
    #[inline(always)]
    fn run<S: Isa>(self) -> f64 {
        if self.log {
            self.body::<S::F64, true>()
        } else {
            self.body::<S::F64, false>()
        }
    }
}

impl<T: Real> SoftmaxVjp<'_, T> {
    #[inline(always)]
    fn body<V: F64x, const LOG: bool>(self) -> f64 {
        let n = self.n;
        let rows = self.dx.len() / n;
        let (zero, ninf, nan) = (
            V::splat(0.0),
            V::splat(f64::NEG_INFINITY),
            V::splat(f64::NAN),
        );
        let (inv_t, neg_inv_t) = (V::splat(self.inv_t), V::splat(-self.inv_t));
        let (mut yt, mut gt) = ([0.0; MAX_N * W], [0.0; MAX_N * W]);
        let mut dt = 0.0;
        for r0 in (0..rows).step_by(W) {
            let k = (rows - r0).min(W);
            gather(&self.y[r0 * n..], n, k, 0.0, &mut yt);
            gather(&self.g[r0 * n..], n, k, 0.0, &mut gt);
            let lane_dt = if LOG {
                // From z = log_softmax: y = e^z, z̃ = z except 0 where y = 0, and the sums
                // <y, z̃>, Σg, Σ_f g z, Σ_f g over the entries with finite z.
                let (mut yz, mut sg, mut sgz, mut sgf) = (zero, zero, zero, zero);
                for i in 0..n {
                    let (z, g): (V, V) = (at(&yt, i), at(&gt, i));
                    // z <= 0 (up to rounding), so the unclamped exp is right; NaN stays NaN.
                    let y = exp_cut(z);
                    put(y, &mut yt, i);
                    let finite = ninf.lt(z);
                    yz = yz.add(y.mul(V::select(y.eq(zero), zero, z)));
                    sg = sg.add(g);
                    sgz = sgz.add(V::select(finite, g.mul(z), zero));
                    sgf = sgf.add(V::select(finite, g, zero));
                }
                let coef = V::select(yz.eq(yz), sg, nan);
                for i in 0..n {
                    let (y, g): (V, V) = (at(&yt, i), at(&gt, i));
                    put(g.sub(y.mul(coef)).mul(inv_t), &mut yt, i);
                }
                sgz.sub(yz.mul(sgf)).mul(neg_inv_t)
            } else {
                // From y = softmax: ℓ̃ = ln y except 0 where y = 0, and <y, ℓ̃>, <y, g>, <y⊙g, ℓ̃>.
                let (mut yl, mut yg, mut ygl) = (zero, zero, zero);
                for i in 0..n {
                    let (y, g): (V, V) = (at(&yt, i), at(&gt, i));
                    let l = V::select(y.eq(zero), zero, log_v(y));
                    let yg_i = y.mul(g);
                    yl = yl.add(y.mul(l));
                    yg = yg.add(yg_i);
                    ygl = ygl.add(yg_i.mul(l));
                }
                for i in 0..n {
                    let (y, g): (V, V) = (at(&yt, i), at(&gt, i));
                    put(y.mul(g.sub(yg)).mul(inv_t), &mut yt, i);
                }
                ygl.sub(yg.mul(yl)).mul(neg_inv_t)
            };
            scatter(&yt, n, k, &mut self.dx[r0 * n..]);
            dt = lane_dt.to_array()[..k].iter().fold(dt, |a, &v| a + v);
        }
        dt
    }
}

/// The softmax (or, with `log`, log-softmax) pullback of each `n`-long row: from the forward's
/// output `y` and the cotangent `g`, writes `dx` and returns the sum over the rows, in order, of
/// their temperature cotangents (the formulas of `relax::logsumexp::grad`). `n` must be in
/// `1..=MAX_N`.
pub(crate) fn softmax_vjp<T: Real>(
    level: Level,
    y: &[T],
    g: &[T],
    n: usize,
    inv_t: f64,
    log: bool,
    dx: &mut [T],
) -> f64 {
    assert!((1..=MAX_N).contains(&n), "rows::softmax_vjp: n = {n}");
    assert!(
        y.len() == dx.len() && g.len() == dx.len() && dx.len().is_multiple_of(n),
        "rows::softmax_vjp: length mismatch"
    );
    vectorize(
        level,
        SoftmaxVjp {
            y,
            g,
            n,
            inv_t,
            log,
            dx,
        },
    )
}

/// The per-row inputs of the log-sum-exp pullback: residual `L`, sign `σ` and cotangent `c`.
pub(crate) struct LseLanes<'a, T> {
    /// `L` per row.
    pub(crate) lse: &'a [f64],
    /// `σ` per row (`None`: +1).
    pub(crate) sign: Option<&'a [T]>,
    /// `c` per row.
    pub(crate) ct: &'a [f64],
}

/// The log-sum-exp pullback of each row of a task; see [`logsumexp_vjp`].
struct LseVjp<'a, T> {
    a: &'a [T],
    b: Option<&'a [T]>,
    lanes: LseLanes<'a, T>,
    n: usize,
    t: f64,
    da: &'a mut [T],
    db: Option<&'a mut [T]>,
    dt_rows: Option<&'a mut [f64]>,
}

impl<T: Real> Kernel for LseVjp<'_, T> {
    type Output = f64;
    #[inline(always)]
    fn run<S: Isa>(self) -> f64 {
        if self.b.is_some() {
            self.body::<S::F64, true>()
        } else {
            self.body::<S::F64, false>()
        }
    }
}

impl<T: Real> LseVjp<'_, T> {
    #[inline(always)]
    fn body<V: F64x, const WEIGHTED: bool>(mut self) -> f64 {
        let (n, t) = (self.n, self.t);
        let rows = self.lanes.lse.len();
        let (zero, ninf) = (V::splat(0.0), V::splat(f64::NEG_INFINITY));
        let (vt, inv_t) = (V::splat(t), V::splat(1.0 / t));
        let (mut at_, mut bt) = ([0.0; MAX_N * W], [0.0; MAX_N * W]);
        let mut dt = 0.0;
        for r0 in (0..rows).step_by(W) {
            let k = (rows - r0).min(W);
            gather(&self.a[r0 * n..], n, k, 0.0, &mut at_);
            if WEIGHTED {
                if let Some(b) = self.b {
                    gather(&b[r0 * n..], n, k, 0.0, &mut bt);
                }
            }
            let r = r0..r0 + k;
            let l: V = lanes(&self.lanes.lse[r.clone()], 0.0);
            let sigma: V = self
                .lanes
                .sign
                .map_or(V::splat(1.0), |s| lanes(&s[r.clone()], 1.0));
            let c: V = lanes(&self.lanes.ct[r], 0.0);
            // A lane whose sum is empty (σ = 0 or L = -inf) has every derivative c · 0.
            let empty = V::select(l.eq(ninf), zero, sigma).eq(zero);
            let c0 = c.mul(zero);
            let (st, sig_t) = (sigma.mul(vt), sigma);
            let lo = (0..n).fold(V::splat(f64::INFINITY), |lo, i| lo.min_with(at(&at_, i)));
            let lane = LseLane {
                l,
                c,
                empty,
                st,
                sig_t,
            };
            let wa = if cut_needed(lo, l, inv_t) {
                lse_pass::<V, WEIGHTED, true>(&mut at_, &mut bt, n, inv_t, lane)
            } else {
                lse_pass::<V, WEIGHTED, false>(&mut at_, &mut bt, n, inv_t, lane)
            };
            scatter(&at_, n, k, &mut self.da[r0 * n..]);
            if WEIGHTED {
                if let Some(db) = self.db.as_deref_mut() {
                    scatter(&bt, n, k, &mut db[r0 * n..]);
                }
            }
            let lane_dt = V::select(empty, c0, c.mul(l.sub(wa).div(vt)));
            if let Some(d) = self.dt_rows.as_deref_mut() {
                let la = lane_dt.to_array();
                d[r0..r0 + k].copy_from_slice(&la[..k]);
            }
            dt = lane_dt.to_array()[..k].iter().fold(dt, |a, &v| a + v);
        }
        dt
    }
}

/// One block's per-lane `L`, `c`, emptiness, `σ t` and `σ`.
#[derive(Clone, Copy)]
struct LseLane<V: F64x> {
    l: V,
    c: V,
    empty: V::M,
    st: V,
    sig_t: V,
}

/// One block of the log-sum-exp pullback: `ā` over `a` (and `b̄` over `b`) in place; returns
/// `Σ w a` per lane.
#[inline(always)]
fn lse_pass<V: F64x, const WEIGHTED: bool, const CUT: bool>(
    at_: &mut [f64; MAX_N * W],
    bt: &mut [f64; MAX_N * W],
    n: usize,
    inv_t: V,
    lane: LseLane<V>,
) -> V {
    let LseLane {
        l,
        c,
        empty,
        st,
        sig_t,
    } = lane;
    let zero = V::splat(0.0);
    let c0 = c.mul(zero);
    let mut wa = zero;
    for i in 0..n {
        let a: V = at(at_, i);
        // An entry of zero weight may lie above `L` (it is not part of the sum): clamp.
        let e = exp_if::<V, CUT>(a.sub(l).mul(inv_t).min_with(V::splat(720.0)));
        let w = if WEIGHTED {
            let b: V = at(bt, i);
            let db = c.mul(st.mul(e));
            put(V::select(empty, c0, db), bt, i);
            V::select(b.eq(zero), zero, sig_t.mul(b).mul(e))
        } else {
            e
        };
        put(V::select(empty, c0, c.mul(w)), at_, i);
        wa = wa.add(V::select(w.eq(zero), zero, w.mul(a)));
    }
    wa
}

/// The log-sum-exp pullback of each `n`-long row of `a` (weights `b`), from each row's residual,
/// sign and cotangent in `lanes`: writes `da` (and `db` iff `b` is given) and returns the sum over
/// the rows, in order, of their temperature cotangents (the formulas of
/// `relax::logsumexp::grad`). `n` must be in `1..=MAX_N`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn logsumexp_vjp<T: Real>(
    level: Level,
    a: &[T],
    b: Option<&[T]>,
    lanes: LseLanes<'_, T>,
    n: usize,
    t: f64,
    da: &mut [T],
    db: Option<&mut [T]>,
    dt_rows: Option<&mut [f64]>,
) -> f64 {
    assert!((1..=MAX_N).contains(&n), "rows::logsumexp_vjp: n = {n}");
    assert_eq!(
        a.len(),
        n * lanes.lse.len(),
        "rows::logsumexp_vjp: length mismatch"
    );
    assert_eq!(b.is_some(), db.is_some(), "rows::logsumexp_vjp: b and db");
    if let (Some(b), Some(db)) = (b, db.as_deref()) {
        assert!(
            b.len() == a.len() && db.len() == a.len(),
            "rows::logsumexp_vjp: length mismatch"
        );
    }
    assert_eq!(da.len(), a.len(), "rows::logsumexp_vjp: length mismatch");
    if let Some(d) = dt_rows.as_deref() {
        assert_eq!(
            d.len(),
            lanes.lse.len(),
            "rows::logsumexp_vjp: length mismatch"
        );
    }
    vectorize(
        level,
        LseVjp {
            a,
            b,
            lanes,
            n,
            t,
            da,
            db,
            dt_rows,
        },
    )
}
