//! The pullbacks against the formulas written out with libm (the NumPy rules, now
//! `tests/oracles/logsumexp.py`), at f32 and f64, over every path: one row, many rows, rows
//! past the kept scratch and past `PAR_MIN_ELEMS`, multi-row tasks, strided lanes across block and
//! piece boundaries, weights with zeros and negative signs, non-finite lanes, empty layouts; and
//! bit-identity for 1, 2 and 3 threads with data where the order of combination shows.

use super::*;
use crate::par::PAR_MIN_ELEMS;
use crate::relax::testutil::uniform;

pub(super) const PARS: [Par; 3] = [Par::Seq, Par::Rayon(2), Par::Rayon(3)];

/// Flat index of entry `i` of output lane `k`.
pub(super) fn at(l: Layout, k: usize, i: usize) -> usize {
    (k / l.inner) * l.n * l.inner + i * l.inner + k % l.inner
}

/// A reference result: values, the scale of each value's rounding error, and the temperature
/// cotangent with its own scale (the sum of the magnitudes of its terms).
#[derive(Debug, Default)]
struct Want {
    d: Vec<f64>,
    scale: Vec<f64>,
    dt: f64,
    dt_scale: f64,
}

/// `x̄`, `t̄` of softmax / log-softmax, as the NumPy rules compute them.
fn ref_softmax_vjp(x: &[f64], lse: &[f64], g: &[f64], l: Layout, t: f64, kind: Kind) -> Want {
    let mut w = Want {
        d: vec![0.0; x.len()],
        scale: vec![0.0; x.len()],
        ..Want::default()
    };
    for (k, &lk) in lse.iter().enumerate() {
        let ix: Vec<usize> = (0..l.n).map(|i| at(l, k, i)).collect();
        if !lk.is_finite() {
            ix.iter().for_each(|&i| w.d[i] = f64::NAN);
            if l.n > 0 {
                w.dt += f64::NAN;
            }
            continue;
        }
        let y: Vec<f64> = ix.iter().map(|&i| ((x[i] - lk) / t).exp()).collect();
        let xt: Vec<f64> = ix
            .iter()
            .zip(&y)
            .map(|(&i, &y)| if y == 0.0 { 0.0 } else { x[i] })
            .collect();
        match kind {
            Kind::Softmax => {
                let yg: f64 = ix.iter().zip(&y).map(|(&i, y)| y * g[i]).sum();
                let yag: f64 = ix.iter().zip(&y).map(|(&i, y)| y * g[i].abs()).sum();
                for (q, &i) in ix.iter().enumerate() {
                    let gy = y[q] * (g[i] - yg);
                    w.d[i] = gy / t;
                    w.scale[i] = y[q] * (g[i].abs() + yag) / t;
                    w.dt -= gy * xt[q] / (t * t);
                    w.dt_scale += y[q] * (g[i].abs() + yag) * xt[q].abs() / (t * t);
                    // The kernel works from `ln y` of the rounded output.
                    let ly = if y[q] == 0.0 { 0.0 } else { (x[i] - lk) / t };
                    w.dt_scale += y[q] * (g[i].abs() + yag) * (1.0 + ly.abs()) / t;
                }
            }
            Kind::LogSoftmax => {
                let gs: f64 = ix.iter().map(|&i| g[i]).sum();
                let gas: f64 = ix.iter().map(|&i| g[i].abs()).sum();
                let xbar: f64 = y.iter().zip(&xt).map(|(y, x)| y * x).sum();
                let xabs: f64 = y.iter().zip(&xt).map(|(y, x)| y * x.abs()).sum();
                for (q, &i) in ix.iter().enumerate() {
                    w.d[i] = (g[i] - y[q] * gs) / t;
                    w.scale[i] = (g[i].abs() + y[q] * gas) / t;
                    if x[i] > f64::NEG_INFINITY {
                        w.dt -= g[i] * (x[i] - xbar) / (t * t);
                        w.dt_scale += g[i].abs() * (x[i].abs() + xabs) / (t * t);
                        // The kernel works from the rounded output `z`.
                        let z = (x[i] - lk) / t;
                        w.dt_scale += g[i].abs() * (1.0 + z.abs() + xabs / t) / t;
                    }
                }
            }
        }
    }
    w
}

/// `(ā, b̄)` and `t̄` of log-sum-exp, as `_Lse.of` and its pullback compute them.
#[allow(clippy::type_complexity)]
fn ref_lse_vjp(
    a: &[f64],
    b: Option<&[f64]>,
    lse: &[f64],
    sign: Option<&[f64]>,
    ct: &[f64],
    l: Layout,
    t: f64,
) -> (Want, Vec<f64>) {
    let mut w = Want {
        d: vec![0.0; a.len()],
        scale: vec![0.0; a.len()],
        ..Want::default()
    };
    let mut db = vec![0.0; a.len()];
    for (k, &lk) in lse.iter().enumerate() {
        let s = sign.map_or(1.0, |s| s[k]);
        let empty = s == 0.0 || lk == f64::NEG_INFINITY;
        let mut wa = 0.0;
        for i in (0..l.n).map(|i| at(l, k, i)) {
            let e = if empty { 0.0 } else { ((a[i] - lk) / t).exp() };
            let wi = match b {
                None => e,
                Some(b) if b[i] == 0.0 => 0.0,
                Some(b) => s * b[i] * e,
            };
            w.d[i] = ct[k] * wi;
            w.scale[i] = (ct[k] * wi).abs();
            db[i] = ct[k] * if empty { 0.0 } else { s * t * e };
            wa += if wi == 0.0 { 0.0 } else { wi * a[i] };
            if wi != 0.0 {
                w.dt_scale += (ct[k] * wi * a[i] / t).abs();
            }
        }
        let dldt = if empty { 0.0 } else { (lk - wa) / t };
        w.dt += ct[k] * dldt;
        w.dt_scale += (ct[k] * lk / t).abs();
    }
    (w, db)
}

/// `got` within `rtol` of `want` relative to each value's error scale; NaN where NaN is wanted.
fn assert_close<T: Real>(what: &str, got: &[T], want: &[f64], scale: &[f64], rtol: f64) {
    assert_eq!(got.len(), want.len(), "{what}");
    // Results below the normal range of `T` carry an absolute error.
    let tiny = if std::mem::size_of::<T>() == 4 {
        f32::MIN_POSITIVE as f64
    } else {
        f64::MIN_POSITIVE
    };
    for (i, ((g, &w), &s)) in got.iter().zip(want).zip(scale).enumerate() {
        let g = g.to_f64();
        let ok = if w.is_nan() {
            g.is_nan()
        } else {
            g == w || (g - w).abs() <= rtol * (s + w.abs()) + tiny
        };
        assert!(ok, "{what}[{i}]: got {g}, want {w} (scale {s})");
    }
}

fn assert_dt(what: &str, got: f64, w: &Want, rtol: f64) {
    let ok = if w.dt.is_nan() {
        got.is_nan()
    } else {
        got == w.dt || (got - w.dt).abs() <= rtol * (w.dt_scale + 1e-300)
    };
    assert!(ok, "{what}: dt {got}, want {} (scale {})", w.dt, w.dt_scale);
}

fn to<T: Real>(v: &[f64]) -> Vec<T> {
    v.iter().map(|&x| T::from_f64(x)).collect()
}

fn back<T: Real>(v: &[T]) -> Vec<f64> {
    v.iter().map(|x| x.to_f64()).collect()
}

fn bits<T: Real>(v: &[T]) -> Vec<u64> {
    v.iter().map(|x| x.to_f64().to_bits()).collect()
}

/// Softmax pullback of `x` (with cotangent `g`) at `T`, from the forward's output: every thread
/// count gives the same bits, and they match the reference (from `x`) within `rtol`.
pub(super) fn check_softmax<T: Real>(
    x: &[f64],
    g: &[f64],
    l: Layout,
    t: f64,
    kind: Kind,
    rtol: f64,
) {
    let (x, g): (Vec<T>, Vec<T>) = (to(x), to(g));
    let mut y = vec![T::from_f64(0.0); x.len()];
    let mut lse = vec![0.0; l.outputs()];
    softmax(&x, l, t, kind, &mut y, Some(&mut lse), Par::Seq).unwrap();
    let want = ref_softmax_vjp(&back(&x), &lse, &back(&g), l, t, kind);
    let mut first: Option<(Vec<u64>, u64)> = None;
    for par in PARS {
        let mut dx = vec![T::from_f64(0.0); x.len()];
        let dt = softmax_vjp(&y, &g, l, t, kind, &mut dx, par).unwrap();
        let what = format!("{kind:?} {l:?} t={t} {par:?}");
        assert_close(&what, &dx, &want.d, &want.scale, rtol);
        assert_dt(&what, dt, &want, rtol.max(1e-10));
        match &first {
            None => first = Some((bits(&dx), dt.to_bits())),
            Some((d0, t0)) => {
                assert!(*d0 == bits(&dx), "{what}: dx bits differ from Seq");
                assert_eq!(*t0, dt.to_bits(), "{what}: dt bits differ from Seq");
            }
        }
    }
}

/// Log-sum-exp pullback at `T`, weighted if `b` is given (with the sign from the forward).
pub(super) fn check_lse<T: Real>(
    a: &[f64],
    b: Option<&[f64]>,
    ct: &[f64],
    l: Layout,
    t: f64,
    rtol: f64,
) {
    let a: Vec<T> = to(a);
    let b: Option<Vec<T>> = b.map(to);
    let n_out = l.outputs();
    let (mut out, mut sign, mut lse) = (
        vec![T::from_f64(0.0); n_out],
        vec![T::from_f64(0.0); n_out],
        vec![0.0; n_out],
    );
    let s = b.as_ref().map(|_| &mut sign[..]);
    logsumexp(
        &a,
        b.as_deref(),
        l,
        t,
        &mut out,
        s,
        Some(&mut lse),
        Par::Seq,
    )
    .unwrap();
    // The residual is the value, in f64.
    assert!(out
        .iter()
        .zip(&lse)
        .all(|(o, &r)| o.to_f64().to_bits() == T::from_f64(r).to_f64().to_bits()));
    let sign = b.as_ref().map(|_| sign);
    let signf = sign.as_deref().map(back);
    let (want, want_db) = ref_lse_vjp(
        &back(&a),
        b.as_deref().map(back).as_deref(),
        &lse,
        signf.as_deref(),
        ct,
        l,
        t,
    );
    let mut first: Option<(Vec<u64>, Vec<u64>, u64)> = None;
    for par in PARS {
        let mut da = vec![T::from_f64(0.0); a.len()];
        let mut db = b.as_ref().map(|_| vec![T::from_f64(0.0); a.len()]);
        let dt = logsumexp_vjp(
            &a,
            b.as_deref(),
            &lse,
            sign.as_deref(),
            ct,
            l,
            t,
            &mut da,
            db.as_deref_mut(),
            par,
        )
        .unwrap();
        let what = format!("logsumexp {l:?} t={t} weighted={} {par:?}", b.is_some());
        assert_close(&what, &da, &want.d, &want.scale, rtol);
        if let Some(db) = &db {
            let scale: Vec<f64> = want_db.iter().map(|v| v.abs()).collect();
            assert_close(&format!("{what} db"), db, &want_db, &scale, rtol);
        }
        assert_dt(&what, dt, &want, 1e-10);
        let got = (bits(&da), db.as_deref().map_or(vec![], bits), dt.to_bits());
        match &first {
            None => first = Some(got),
            Some(f) => assert!(*f == got, "{what}: bits differ from Seq"),
        }
    }
}

/// Contiguous rows: one row, many rows, narrow rows (multi-row tasks), rows past the kept scratch
/// (`PAR_MIN_ELEMS`: a row cut into pieces on the threads) and past one `REDUCE_PIECE`.
const ROWS: [(usize, usize); 8] = [
    (1, 1),
    (1, 7),
    (1, 3000),
    (37, 129),
    (5000, 10),
    (5, 5000),
    (2, PAR_MIN_ELEMS + 3001),
    (1, 3 * PAR_MIN_ELEMS),
];

/// Strided: `inner` around the lane block (512), and `n` past a lane-block piece of rows
/// (`16 * 2048 / width` rows: 64 at width 512, 10922 at width 3).
const STRIDED: [(usize, usize, usize); 9] = [
    (2, 7, 3),
    (1, 11_000, 3),
    (3, 5, 511),
    (2, 70, 512),
    (2, 9, 513),
    (1, 130, 513),
    (2, 4, 1100),
    (1, 100, 2000),
    (1, 3, 600),
];

fn layouts() -> impl Iterator<Item = Layout> {
    ROWS.iter()
        .map(|&(o, n)| Layout::new(o, n, 1))
        .chain(STRIDED.iter().map(|&(o, n, i)| Layout::new(o, n, i)))
}

/// Inputs over several orders of magnitude, with `-inf` entries sprinkled in.
pub(super) fn inputs(l: Layout, seed: u64) -> (Vec<f64>, Vec<f64>) {
    let len = l.len("t").unwrap();
    let mut x = uniform(len, seed, -30.0, 30.0);
    for i in (3..len).step_by(17) {
        x[i] = f64::NEG_INFINITY;
    }
    let g: Vec<f64> = uniform(len, seed + 1, -1.0, 1.0)
        .iter()
        .enumerate()
        .map(|(i, v)| v * 10f64.powi((i % 13) as i32 - 6))
        .collect();
    (x, g)
}

#[test]
fn softmax_pullbacks_match_the_reference_on_every_path() {
    for l in layouts() {
        let (x, g) = inputs(l, 41);
        for kind in [Kind::Softmax, Kind::LogSoftmax] {
            check_softmax::<f64>(&x, &g, l, 0.7, kind, 1e-12);
            check_softmax::<f32>(&x, &g, l, 1.3, kind, 2e-6);
        }
    }
}

#[test]
fn logsumexp_pullbacks_match_the_reference_on_every_path() {
    for l in layouts() {
        let (x, _) = inputs(l, 43);
        let ct: Vec<f64> = uniform(l.outputs(), 44, -2.0, 2.0)
            .iter()
            .enumerate()
            .map(|(k, v)| v * 10f64.powi((k % 21) as i32 - 10))
            .collect();
        // Weights with zeros (masking NaN and +inf entries) and negative values.
        let mut b = uniform(x.len(), 45, -0.5, 2.0);
        let mut xb = x.clone();
        for i in (5..x.len()).step_by(11) {
            b[i] = 0.0;
            xb[i] = if i % 2 == 0 { f64::NAN } else { f64::INFINITY };
        }
        check_lse::<f64>(&x, None, &ct, l, 0.7, 1e-12);
        check_lse::<f32>(&x, None, &ct, l, 1.3, 2e-6);
        check_lse::<f64>(&xb, Some(&b), &ct, l, 0.9, 1e-12);
        check_lse::<f32>(&xb, Some(&b), &ct, l, 0.9, 2e-6);
    }
}
