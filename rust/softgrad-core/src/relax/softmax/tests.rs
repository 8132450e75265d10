use super::*;
use crate::relax::testutil::{direct, uniform};

fn run(x: &[f64], l: Layout, t: f64, kind: Kind, par: Par) -> Vec<f64> {
    let mut out = vec![0.0; x.len()];
    softmax(x, l, t, kind, &mut out, par).unwrap();
    out
}

#[test]
fn matches_direct_formula_for_every_layout() {
    for &(outer, n, inner) in &[(1, 1, 1), (3, 17, 1), (2, 5000, 1), (4, 33, 5), (2, 7, 130)] {
        let l = Layout::new(outer, n, inner);
        let x = uniform(l.len("t").unwrap(), 5, -5.0, 5.0);
        for t in [1.0, 0.3] {
            let sm = run(&x, l, t, Kind::Softmax, Par::Seq);
            let lsm = run(&x, l, t, Kind::LogSoftmax, Par::Seq);
            for o in 0..outer {
                for j in 0..inner {
                    let lse = direct(&x, None, o * n * inner + j, inner, n, t);
                    for i in 0..n {
                        let k = o * n * inner + i * inner + j;
                        let want = (x[k] - lse) / t;
                        assert!(
                            (lsm[k] - want).abs() <= 1e-12 * want.abs().max(1.0),
                            "{} vs {want}",
                            lsm[k]
                        );
                        assert!(
                            (sm[k] - want.exp()).abs() <= 1e-13 * want.exp(),
                            "{} vs {}",
                            sm[k],
                            want.exp()
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn nonfinite_slices_follow_scipy() {
    let inf = f64::INFINITY;
    let l = Layout::new(1, 2, 1);
    assert!(run(&[-inf, -inf], l, 1.0, Kind::Softmax, Par::Seq)
        .iter()
        .all(|v| v.is_nan()));
    assert!(run(&[inf, 1.0], l, 1.0, Kind::Softmax, Par::Seq)
        .iter()
        .all(|v| v.is_nan()));
    let ls = run(&[inf, 1.0], l, 1.0, Kind::LogSoftmax, Par::Seq);
    assert!(ls[0].is_nan() && ls[1] == -inf);
    assert_eq!(
        run(&[-inf, 0.0], l, 1.0, Kind::Softmax, Par::Seq),
        vec![0.0, 1.0]
    );
    assert_eq!(
        run(&[-inf, 0.0], l, 1.0, Kind::LogSoftmax, Par::Seq),
        vec![-inf, 0.0]
    );
}

#[test]
fn bits_do_not_depend_on_thread_count() {
    for &(outer, n, inner) in &[(1, (1 << 17) + 9, 1), (300, 200, 1), (3, 500, 300)] {
        let l = Layout::new(outer, n, inner);
        let x = uniform(l.len("t").unwrap(), 13, -30.0, 30.0);
        for kind in [Kind::Softmax, Kind::LogSoftmax] {
            let base = run(&x, l, 1.3, kind, Par::Seq);
            for par in [Par::Rayon(2), Par::Rayon(3)] {
                let got = run(&x, l, 1.3, kind, par);
                assert!(base
                    .iter()
                    .zip(&got)
                    .all(|(a, b)| a.to_bits() == b.to_bits()));
            }
        }
    }
}
