//! The pullbacks on special lanes (NaN, `±inf`, all `-inf`, empty sums, negative sums), empty
//! layouts and bad arguments; and a check that the determinism data of [`super::grad_tests`] shows
//! a reordering.

use super::grad_tests::{at, check_lse, check_softmax, inputs};
use super::*;
use crate::relax::testutil::uniform;

#[test]
fn nonfinite_and_empty_lanes_follow_the_rules() {
    let (inf, nan) = (f64::INFINITY, f64::NAN);
    // Rows: a NaN row, a +inf row, an all -inf row, a row with one -inf, a plain row.
    let x = [
        1.0, nan, 2.0, //
        inf, 0.0, 1.0, //
        -inf, -inf, -inf, //
        -inf, 3.0, 1.0, //
        0.5, -0.5, 2.0,
    ];
    let g = [
        0.3, -1.0, 2.0, 1.0, 0.5, -0.25, 1.0, 1.0, 1.0, 4.0, -2.0, 0.5, 1.0, -1.0, 0.1,
    ];
    let rows = Layout::new(5, 3, 1);
    // The same numbers as columns of a (3, 5) array: a strided axis.
    let xt: Vec<f64> = (0..15).map(|k| x[(k % 5) * 3 + k / 5]).collect();
    let gt: Vec<f64> = (0..15).map(|k| g[(k % 5) * 3 + k / 5]).collect();
    let cols = Layout::new(1, 3, 5);
    for kind in [Kind::Softmax, Kind::LogSoftmax] {
        for (x, g, l) in [(&x[..], &g[..], rows), (&xt[..], &gt[..], cols)] {
            check_softmax::<f64>(x, g, l, 0.8, kind, 1e-13);
            check_softmax::<f32>(x, g, l, 0.8, kind, 2e-6);
            let mut y = vec![0.0; 15];
            let mut lse = vec![0.0; 5];
            softmax(x, l, 0.8, kind, &mut y, Some(&mut lse), Par::Seq).unwrap();
            assert!(lse[0].is_nan() && lse[1] == inf && lse[2] == -inf && lse[3].is_finite());
            let mut dx = vec![0.0; 15];
            let dt = softmax_vjp(&y, g, l, 0.8, kind, &mut dx, Par::Seq).unwrap();
            assert!(dt.is_nan(), "a lane with no finite maximum makes t̄ NaN");
            let lane_dx = |k: usize| (0..3).map(|i| dx[at(l, k, i)]).collect::<Vec<f64>>();
            assert!((0..3).all(|k| lane_dx(k).iter().all(|v| v.is_nan())));
            assert!((3..5).all(|k| lane_dx(k).iter().all(|v| v.is_finite())));
            // The -inf entry carries no weight.
            assert_eq!(
                lane_dx(3)[0],
                if kind == Kind::Softmax {
                    0.0
                } else {
                    4.0 / 0.8
                }
            );
        }
    }
    // Log-sum-exp: a NaN lane, a +inf lane, an all -inf lane (empty: zero derivatives), weights that
    // cancel (sign 0: empty), a negative sum (sign -1), a plain lane.
    let a = [
        1.0, nan, //
        inf, 0.0, //
        -inf, -inf, //
        2.0, 2.0, //
        1.0, 2.0, //
        0.0, 1.0,
    ];
    let b = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, -1.0, 1.0, -1.0, 2.0, 0.5];
    let ct = [1.0, 2.0, 3.0, 4.0, -5.0, 6.0];
    let rows = Layout::new(6, 2, 1);
    let at_ = |k: usize| (k % 6) * 2 + k / 6;
    let a_t: Vec<f64> = (0..12).map(|k| a[at_(k)]).collect();
    let b_t: Vec<f64> = (0..12).map(|k| b[at_(k)]).collect();
    let cols = Layout::new(1, 2, 6);
    for (a, b, l) in [(&a[..], &b[..], rows), (&a_t[..], &b_t[..], cols)] {
        check_lse::<f64>(a, Some(b), &ct, l, 1.1, 1e-13);
        check_lse::<f32>(a, Some(b), &ct, l, 1.1, 2e-6);
        let (mut out, mut sign, mut lse) = ([0.0; 6], [0.0; 6], [0.0; 6]);
        logsumexp(
            a,
            Some(b),
            l,
            1.1,
            &mut out,
            Some(&mut sign),
            Some(&mut lse),
            Par::Seq,
        )
        .unwrap();
        assert_eq!(&sign[2..5], &[0.0, 0.0, -1.0]);
        let (mut da, mut db) = ([9.0; 12], [9.0; 12]);
        let dt = logsumexp_vjp(
            a,
            Some(b),
            &lse,
            Some(&sign),
            &ct,
            l,
            1.1,
            &mut da,
            Some(&mut db),
            Par::Seq,
        )
        .unwrap();
        assert!(dt.is_nan(), "the NaN lane makes t̄ NaN");
        let lane = |v: &[f64], k: usize| (0..2).map(|i| v[at(l, k, i)]).collect::<Vec<f64>>();
        for k in [2, 3] {
            assert_eq!(lane(&da, k), vec![0.0, 0.0], "empty lane {k}");
            assert_eq!(lane(&db, k), vec![0.0, 0.0], "empty lane {k}");
        }
        // Negative sum: w = σ b e keeps the sign: d/da of ln|e^1 - e^2| at a=2 is positive.
        assert!(lane(&da, 4)[1] < 0.0 && lane(&da, 4)[0] > 0.0);
    }
}

#[test]
fn empty_layouts_give_zero_temperature_cotangents() {
    for l in [
        Layout::new(0, 3, 2),
        Layout::new(2, 0, 3),
        Layout::new(2, 0, 1),
        Layout::new(2, 3, 0),
    ] {
        let len = l.len("t").unwrap();
        let x = vec![1.0; len];
        let mut y = vec![0.0; len];
        let mut lse = vec![7.0; l.outputs()];
        softmax(
            &x,
            l,
            1.0,
            Kind::Softmax,
            &mut y,
            Some(&mut lse),
            Par::Rayon(2),
        )
        .unwrap();
        // No entries: the sum is empty, L = -inf.
        assert!(
            lse.iter().all(|&v| v == f64::NEG_INFINITY),
            "{l:?}: {lse:?}"
        );
        let mut dx = vec![0.0; len];
        let dt = softmax_vjp(&y, &x, l, 1.0, Kind::Softmax, &mut dx, Par::Rayon(2)).unwrap();
        assert_eq!(dt, 0.0, "{l:?}");
        let ct = vec![1.5; l.outputs()];
        let mut da = vec![0.0; len];
        let dt = logsumexp_vjp(
            &x,
            None,
            &lse,
            None,
            &ct,
            l,
            1.0,
            &mut da,
            None,
            Par::Rayon(3),
        )
        .unwrap();
        assert_eq!(dt, 0.0, "{l:?}");
    }
}

#[test]
fn pullbacks_reject_inconsistent_arguments() {
    let l = Layout::new(2, 3, 1);
    let (x, lse, ct) = ([0.0; 6], [0.0; 2], [1.0; 2]);
    let mut d = [0.0; 6];
    let e = softmax_vjp(&x[..5], &x, l, 1.0, Kind::Softmax, &mut d, Par::Seq).unwrap_err();
    assert!(matches!(e, Error::Shape { name: "out", .. }), "{e}");
    let e = softmax_vjp(&x, &x[..5], l, 1.0, Kind::LogSoftmax, &mut d, Par::Seq).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Shape {
                func: "log_softmax",
                name: "cotangent",
                ..
            }
        ),
        "{e}"
    );
    let e = softmax_vjp(&x, &x, l, 0.0, Kind::Softmax, &mut d, Par::Seq).unwrap_err();
    assert!(e.to_string().contains("temperature"), "{e}");
    let mut db = [0.0; 6];
    let e = logsumexp_vjp(
        &x,
        None,
        &lse,
        None,
        &ct,
        l,
        1.0,
        &mut d,
        Some(&mut db),
        Par::Seq,
    )
    .unwrap_err();
    assert!(
        matches!(e, Error::InvalidParameter { name: "db", .. }),
        "{e}"
    );
    let e = logsumexp_vjp(
        &x,
        Some(&x),
        &lse,
        None,
        &ct,
        l,
        1.0,
        &mut d,
        None,
        Par::Seq,
    )
    .unwrap_err();
    assert!(
        matches!(e, Error::InvalidParameter { name: "db", .. }),
        "{e}"
    );
    let e = logsumexp_vjp(
        &x,
        None,
        &lse,
        None,
        &ct[..1],
        l,
        1.0,
        &mut d,
        None,
        Par::Seq,
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Shape {
                name: "cotangent",
                ..
            }
        ),
        "{e}"
    );
    let e = logsumexp_vjp(
        &x,
        None,
        &lse,
        Some(&x[..1]),
        &ct,
        l,
        1.0,
        &mut d,
        None,
        Par::Seq,
    )
    .unwrap_err();
    assert!(matches!(e, Error::Shape { name: "sign", .. }), "{e}");
}

/// Per-lane temperature cotangents of these inputs span so many magnitudes that adding them in
/// another grouping changes the bits: so the thread-count checks above can see a reordering.
#[test]
fn the_determinism_data_reveals_a_reordering() {
    for l in [
        Layout::new(3000, 10, 1),
        Layout::new(2, 70, 512),
        Layout::new(1, 11_000, 3),
    ] {
        let (x, _) = inputs(l, 47);
        let ct: Vec<f64> = uniform(l.outputs(), 48, -2.0, 2.0)
            .iter()
            .enumerate()
            .map(|(k, v)| v * 10f64.powi((k % 21) as i32 - 10))
            .collect();
        let mut lse = vec![0.0; l.outputs()];
        let mut out = vec![0.0; l.outputs()];
        logsumexp(&x, None, l, 0.7, &mut out, None, Some(&mut lse), Par::Seq).unwrap();
        let lanes: Vec<f64> = (0..l.outputs())
            .map(|k| {
                let one = Layout::new(1, l.n, 1);
                let xs: Vec<f64> = (0..l.n).map(|i| x[at(l, k, i)]).collect();
                let mut d = vec![0.0; l.n];
                logsumexp_vjp(
                    &xs,
                    None,
                    &lse[k..k + 1],
                    None,
                    &ct[k..k + 1],
                    one,
                    0.7,
                    &mut d,
                    None,
                    Par::Seq,
                )
                .unwrap()
            })
            .collect();
        let fwd = lanes.iter().fold(0.0, |a, b| a + b);
        let half = lanes.len() / 2;
        let split = lanes[..half].iter().fold(0.0, |a, b| a + b)
            + lanes[half..].iter().fold(0.0, |a, b| a + b);
        let rev = lanes.iter().rev().fold(0.0, |a, b| a + b);
        assert!(
            fwd != split || fwd != rev,
            "{l:?}: order does not show in {fwd}"
        );
    }
}
