//! The forward with the pullback's weights against `logsumexp` then `logsumexp_vjp`: the same
//! value bits and `ā`, `t̄` to rounding (they are taken by other formulas); on narrow and wide rows, rows past `REDUCE_PIECE`, multi-row tasks and
//! every special kind of row; bit-identity for 1, 2 and 3 threads.

use super::*;
use crate::relax::logsumexp::grad_tests::PARS;
use crate::relax::logsumexp::{logsumexp, logsumexp_vjp};
use crate::relax::testutil::uniform;

/// Rows of spread magnitudes with, past the first rows, an all `-inf` row, a `NaN`, a `+inf` row,
/// a row with `-inf` entries and one with two entries at the maximum.
fn data(rows: usize, n: usize) -> Vec<f64> {
    let mut x: Vec<f64> = uniform(rows * n, 11 + n as u64, -8.0, 8.0);
    if rows >= 6 {
        x[..n].fill(f64::NEG_INFINITY);
        x[n + n / 2] = f64::NAN;
        x[2 * n] = f64::INFINITY;
        x[3 * n] = f64::NEG_INFINITY;
        x[4 * n + n - 1] = 20.0;
        x[4 * n] = 20.0;
    }
    x
}

/// The pair of calls the fused forward replaces: `(value, sign, da, dt)`.
#[allow(clippy::type_complexity)]
fn two_calls<T: Real>(
    x: &[T],
    l: Layout,
    t: f64,
    ct: &[f64],
    par: Par,
) -> (Vec<T>, Vec<T>, Vec<T>, f64) {
    let k = l.outputs();
    let (mut out, mut sign, mut lse) = (
        vec![T::from_f64(0.0); k],
        vec![T::from_f64(0.0); k],
        vec![0.0; k],
    );
    logsumexp(
        x,
        None,
        l,
        t,
        &mut out,
        Some(&mut sign),
        Some(&mut lse),
        par,
    )
    .unwrap();
    let mut da = vec![T::from_f64(0.0); x.len()];
    let dt = logsumexp_vjp(x, None, &lse, None, ct, l, t, &mut da, None, par).unwrap();
    (out, sign, da, dt)
}

fn fused<T: Real>(
    x: &[T],
    l: Layout,
    t: f64,
    ct: &[f64],
    par: Par,
) -> (Vec<T>, Vec<T>, Vec<T>, f64) {
    let k = l.outputs();
    let (mut out, mut sign, mut h) = (
        vec![T::from_f64(0.0); k],
        vec![T::from_f64(0.0); k],
        vec![0.0; k],
    );
    let mut p = vec![T::from_f64(0.0); x.len()];
    logsumexp_weights(x, l, t, &mut out, Some(&mut sign), &mut p, &mut h, par).unwrap();
    let mut out2 = vec![T::from_f64(0.0); k];
    let mut p2 = vec![T::from_f64(0.0); x.len()];
    logsumexp_weights(x, l, t, &mut out2, None, &mut p2, &mut h, par).unwrap();
    assert!(
        same(&out, &out2),
        "the value does not depend on the sign being asked for"
    );
    let mut da = vec![T::from_f64(0.0); x.len()];
    let dt = logsumexp_vjp_weights(&p, &h, ct, l, t, &mut da, par).unwrap();
    (out, sign, da, dt)
}

fn same<T: Real>(a: &[T], b: &[T]) -> bool {
    a.iter().zip(b).all(|(u, v)| {
        u.to_f64().to_bits() == v.to_f64().to_bits() || (u.to_f64().is_nan() && v.to_f64().is_nan())
    })
}

fn same_f(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

const SHAPES: [(usize, usize); 9] = [
    (1, 1),
    (7, 3),
    (40, 10),
    (3001, 10),
    (17, 64),
    (9, 65),
    (12, 1000),
    (3, 5000),
    (900, 50),
];

/// `got` within `rtol` of `want` (relative, or absolute below `atol`), NaN where it is NaN.
fn close<T: Real>(got: &[T], want: &[T], rtol: f64, atol: f64, ctx: &str) {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let (g, w) = (g.to_f64(), w.to_f64());
        let ok = same_f(g, w) || (g - w).abs() <= rtol * w.abs() + atol;
        assert!(ok, "{ctx} i={i}: {g:e} vs {w:e}");
    }
}

fn check<T: Real>(rtol: f64, conv: impl Fn(f64) -> T) {
    for (rows, n) in SHAPES {
        let l = Layout::new(rows, n, 1);
        let x: Vec<T> = data(rows, n).into_iter().map(&conv).collect();
        let mut ct = uniform(rows, 5, -2.0, 2.0);
        if rows > 6 {
            ct[5] = 0.0;
        }
        for t in [1.0, 0.7] {
            let want = two_calls(&x, l, t, &ct, Par::Seq);
            let seq = fused(&x, l, t, &ct, Par::Seq);
            for par in PARS {
                let got = fused(&x, l, t, &ct, par);
                let ctx = format!("({rows}, {n}) t={t} {par:?}");
                assert!(same(&got.0, &want.0), "{ctx}: value");
                assert!(same(&got.1, &want.1), "{ctx}: sign");
                assert!(
                    same(&got.2, &seq.2) && same_f(got.3, seq.3),
                    "{ctx}: threads"
                );
                close(&got.2, &want.2, rtol, 1e-40, &ctx);
                let (g, w) = (got.3, want.3);
                let ok = same_f(g, w) || (g - w).abs() <= 1e3 * rtol * (1.0 + w.abs());
                assert!(ok, "{ctx}: dt {g:e} vs {w:e}");
            }
        }
    }
}

#[test]
fn f64_gives_the_results_of_logsumexp_then_its_pullback() {
    // The reference's `e^{(a - L)/t}` is itself off by up to `|a - L|/t` (here 25) ulps.
    check::<f64>(64.0 * f64::EPSILON, |v| v);
}

#[test]
fn f32_gives_the_results_of_logsumexp_then_its_pullback() {
    check::<f32>(3.0 * f32::EPSILON as f64, |v| v as f32);
}

#[test]
fn strided_layouts_and_bad_lengths_are_errors() {
    let x = vec![0.0; 12];
    let (mut out, mut p, mut h) = (vec![0.0; 6], vec![0.0; 12], vec![0.0; 6]);
    let l = Layout::new(3, 2, 2);
    let e = logsumexp_weights(&x, l, 1.0, &mut out, None, &mut p, &mut h, Par::Seq).unwrap_err();
    assert!(matches!(e, Error::InvalidParameter { .. }), "{e:?}");
    let mut da = vec![0.0; 12];
    assert!(logsumexp_vjp_weights(&p, &h, &h, l, 1.0, &mut da, Par::Seq).is_err());
    let l = Layout::new(6, 2, 1);
    assert!(logsumexp_weights(&x, l, 1.0, &mut out, None, &mut p[..11], &mut h, Par::Seq).is_err());
    assert!(logsumexp_weights(&x, l, 0.0, &mut out, None, &mut p, &mut h, Par::Seq).is_err());
    assert!(logsumexp_vjp_weights(&p, &h[..5], &h, l, 1.0, &mut da, Par::Seq).is_err());
}

/// The row-block kernel (and the per-row temperature terms of the pullback kernel) at every SIMD
/// level against the scalar level.
#[test]
fn every_level_agrees_with_the_scalar_level() {
    use crate::simd::{available, rows as krows, Level};
    let (rows, n) = (29, 13);
    let x = data(rows, n);
    let run = |level: Level| {
        let (mut o, mut s, mut h) = (vec![0.0; rows], vec![0.0; rows], vec![0.0; rows]);
        let mut p = vec![0.0; x.len()];
        let slow = |_: usize, _: f64, _: f64, _: f64, pr: &mut [f64]| {
            pr.fill(-2.0);
            (-7.0, 9.0, 3.0)
        };
        krows::logsumexp_weights(
            level,
            &x,
            n,
            0.9,
            &mut o,
            Some(&mut s),
            &mut p,
            &mut h,
            slow,
        );
        let (lse, ct) = (uniform(rows, 52, 4.0, 6.0), uniform(rows, 53, -1.0, 1.0));
        let lanes = krows::LseLanes {
            lse: &lse,
            sign: None,
            ct: &ct,
        };
        let (mut da, mut dts) = (vec![0.0; x.len()], vec![0.0; rows]);
        let dt = krows::logsumexp_vjp(
            level,
            &x,
            None,
            lanes,
            n,
            0.9,
            &mut da,
            None,
            Some(&mut dts),
        );
        assert!(
            same_f(dt, dts.iter().fold(0.0, |a, b| a + b)),
            "{level:?}: dt_rows"
        );
        [o, s, h, p, da, dts]
    };
    let want = run(Level::Scalar);
    for level in available() {
        for (k, (got, want)) in run(level).iter().zip(&want).enumerate() {
            close(got, want, 1e-13, 1e-300, &format!("{level:?} output {k}"));
        }
    }
}
