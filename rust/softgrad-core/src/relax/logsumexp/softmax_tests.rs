use super::*;
use crate::relax::testutil::{direct, uniform};

fn run(x: &[f64], l: Layout, t: f64, kind: Kind, par: Par) -> Vec<f64> {
    run_lse(x, l, t, kind, par).0
}

/// The output and the residual; without the residual the output has the same bits.
fn run_lse(x: &[f64], l: Layout, t: f64, kind: Kind, par: Par) -> (Vec<f64>, Vec<f64>) {
    let mut out = vec![0.0; x.len()];
    let mut lse = vec![0.0; l.outputs()];
    softmax(x, l, t, kind, &mut out, Some(&mut lse), par).unwrap();
    let mut plain = vec![0.0; x.len()];
    softmax(x, l, t, kind, &mut plain, None, par).unwrap();
    assert!(out
        .iter()
        .zip(&plain)
        .all(|(a, b)| a.to_bits() == b.to_bits()));
    (out, lse)
}

#[test]
fn matches_direct_formula_for_every_layout() {
    for &(outer, n, inner) in &[(1, 1, 1), (3, 17, 1), (2, 5000, 1), (4, 33, 5), (2, 7, 130)] {
        let l = Layout::new(outer, n, inner);
        let x = uniform(l.len("t").unwrap(), 5, -5.0, 5.0);
        for t in [1.0, 0.3] {
            let (sm, res) = run_lse(&x, l, t, Kind::Softmax, Par::Seq);
            let (lsm, res_log) = run_lse(&x, l, t, Kind::LogSoftmax, Par::Seq);
            for o in 0..outer {
                for j in 0..inner {
                    let lse = direct(&x, None, o * n * inner + j, inner, n, t);
                    for r in [res[o * inner + j], res_log[o * inner + j]] {
                        assert!(
                            (r - lse).abs() <= 1e-13 * lse.abs().max(1.0),
                            "{r} vs {lse}"
                        );
                    }
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

#[test]
fn large_outputs_stream_and_still_match() {
    // (1000, 1100) f64 is 8.8 MB: past STREAM_MIN_BYTES, so rows go through the streaming path.
    let l = Layout::new(1000, 1100, 1);
    let mut x = uniform(l.len("t").unwrap(), 17, -20.0, 20.0);
    x[5] = f64::NAN; // a NaN row
    for v in &mut x[1100..2200] {
        *v = f64::NEG_INFINITY; // an all -inf row
    }
    let seq = run(&x, l, 0.8, Kind::Softmax, Par::Seq);
    let par = run(&x, l, 0.8, Kind::Softmax, Par::Rayon(2));
    assert!(seq
        .iter()
        .zip(&par)
        .all(|(a, b)| a.to_bits() == b.to_bits()));
    assert!(seq[..1100].iter().all(|v| v.is_nan()) && seq[1100..2200].iter().all(|v| v.is_nan()));
    for r in [2usize, 500, 999] {
        let lse = direct(&x, None, r * 1100, 1, 1100, 0.8);
        for i in (0..1100).step_by(37) {
            let k = r * 1100 + i;
            let want = ((x[k] - lse) / 0.8).exp();
            assert!(
                (seq[k] - want).abs() <= 1e-13 * want,
                "{} vs {want}",
                seq[k]
            );
        }
        let total: f64 = seq[r * 1100..(r + 1) * 1100].iter().sum();
        assert!((total - 1.0).abs() < 1e-13);
    }
    // float32 takes the same path (2.2M values = 8.8 MB).
    let l32 = Layout::new(2000, 1100, 1);
    let x32: Vec<f32> = uniform(l32.len("t").unwrap(), 18, -5.0, 5.0)
        .iter()
        .map(|&v| v as f32)
        .collect();
    let mut out = vec![0.0f32; x32.len()];
    softmax(&x32, l32, 1.0, Kind::Softmax, &mut out, None, Par::Rayon(2)).unwrap();
    for r in [0usize, 1999] {
        let row = &out[r * 1100..(r + 1) * 1100];
        let total: f64 = row.iter().map(|&v| v as f64).sum();
        assert!((total - 1.0).abs() < 1e-5, "{total}");
    }
}

#[test]
fn large_log_softmax_streams_and_still_matches() {
    let l = Layout::new(1000, 1100, 1);
    let x = uniform(l.len("t").unwrap(), 19, -20.0, 20.0);
    let seq = run(&x, l, 1.7, Kind::LogSoftmax, Par::Seq);
    let par = run(&x, l, 1.7, Kind::LogSoftmax, Par::Rayon(2));
    assert!(seq
        .iter()
        .zip(&par)
        .all(|(a, b)| a.to_bits() == b.to_bits()));
    for r in [0usize, 640, 999] {
        let lse = direct(&x, None, r * 1100, 1, 1100, 1.7);
        for i in (0..1100).step_by(53) {
            let k = r * 1100 + i;
            let want = (x[k] - lse) / 1.7;
            assert!(
                (seq[k] - want).abs() <= 1e-12 * want.abs().max(1.0),
                "{} vs {want}",
                seq[k]
            );
        }
    }
}

#[test]
fn strided_pieces_handle_masked_and_nan_lanes() {
    // (1, 3000, 40): 819 rows per piece, so four pieces per lane.
    let (n, inner) = (3000, 40);
    let l = Layout::new(1, n, inner);
    let mut x = uniform(n * inner, 23, -30.0, 30.0);
    for i in 0..1000 {
        x[i * inner] = f64::NEG_INFINITY; // lane 0: first piece all -inf
    }
    x[1500 * inner + 1] = f64::NAN; // lane 1: NaN
    for kind in [Kind::Softmax, Kind::LogSoftmax] {
        let got = run(&x, l, 0.9, kind, Par::Seq);
        assert!(got
            .iter()
            .zip(&run(&x, l, 0.9, kind, Par::Rayon(3)))
            .all(|(a, b)| a.to_bits() == b.to_bits()));
        for j in [0usize, 2, 39] {
            let lse = direct(&x, None, j, inner, n, 0.9);
            for i in (0..n).step_by(97) {
                let k = i * inner + j;
                let z = (x[k] - lse) / 0.9;
                match kind {
                    Kind::Softmax => assert!(
                        (got[k] - z.exp()).abs() <= 1e-13 * z.exp(),
                        "{} vs {}",
                        got[k],
                        z.exp()
                    ),
                    Kind::LogSoftmax => {
                        assert!(got[k] == z || (got[k] - z).abs() <= 1e-12 * z.abs().max(1.0))
                    }
                }
            }
        }
        assert!((0..n).all(|i| got[i * inner + 1].is_nan()));
    }
}
