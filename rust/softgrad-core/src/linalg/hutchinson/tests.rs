use super::*;
use crate::linalg::lanczos::tests::{with_spectrum, Dense, Poisson};

fn opts(n_samples: usize) -> Options {
    Options {
        n_samples,
        seed: 5,
        distribution: Distribution::Rademacher,
        batch: 7,
        trace: true,
        diagonal: true,
        hutchpp: false,
    }
}

fn matrix() -> Dense {
    let n = 40;
    let mut a = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            a[i * n + j] =
                1.0 / (1.0 + (i as f64 - j as f64).abs()) + if i == j { i as f64 } else { 0.0 };
        }
    }
    Dense { n, a }
}

#[test]
fn probes_do_not_depend_on_pieces() {
    for dist in [Distribution::Rademacher, Distribution::Gaussian] {
        let mut whole = vec![0.0; 5000];
        probe(1, 0, 3, dist, 0, &mut whole);
        let mut part = vec![0.0; 1001];
        probe(1, 0, 3, dist, 1999, &mut part);
        assert_eq!(&whole[1999..3000], &part[..]);
        let mut other = vec![0.0; 5000];
        probe(1, 0, 4, dist, 0, &mut other);
        assert_ne!(whole, other);
    }
    let mut g = vec![0.0; 100_000];
    probe(9, 0, 0, Distribution::Gaussian, 0, &mut g);
    let mean = g.iter().sum::<f64>() / g.len() as f64;
    let var = g.iter().map(|v| v * v).sum::<f64>() / g.len() as f64;
    assert!(
        mean.abs() < 0.02 && (var - 1.0).abs() < 0.02,
        "{mean} {var}"
    );
}

#[test]
fn the_estimates_are_within_a_few_standard_errors() {
    let a = matrix();
    let n = a.n;
    let tr: f64 = (0..n).map(|i| a.a[i * n + i]).sum();
    for dist in [Distribution::Rademacher, Distribution::Gaussian] {
        let e = hutchinson(
            &Each(&a),
            &Options {
                distribution: dist,
                ..opts(400)
            },
            Par::Seq,
        )
        .unwrap();
        assert!(
            (e.trace - tr).abs() < 4.0 * e.trace_se,
            "{} vs {tr} ± {}",
            e.trace,
            e.trace_se
        );
        for i in 0..n {
            let d = a.a[i * n + i];
            assert!((e.diagonal[i] - d).abs() < 5.0 * e.diagonal_se[i] + 1e-12);
        }
    }
}

#[test]
fn batches_and_threads_do_not_change_the_bits() {
    let a = matrix();
    let e1 = hutchinson(
        &Each(&a),
        &Options {
            batch: 1,
            ..opts(33)
        },
        Par::Seq,
    )
    .unwrap();
    for (batch, par) in [(5, Par::Seq), (33, Par::Rayon(2)), (100, Par::Rayon(3))] {
        let e = hutchinson(&Each(&a), &Options { batch, ..opts(33) }, par).unwrap();
        assert_eq!(e, e1);
    }
    // Past PAR_MIN_ELEMS, so the pieces really spread over the threads.
    let p = Poisson { nx: 40_000, ny: 1 };
    let o = Options {
        distribution: Distribution::Gaussian,
        ..opts(3)
    };
    let e1 = hutchinson(&Each(&p), &o, Par::Seq).unwrap();
    for t in [2, 3] {
        assert_eq!(
            hutchinson(&Each(&p), &Options { batch: t, ..o }, Par::Rayon(t)).unwrap(),
            e1
        );
    }
}

#[test]
fn hutchpp_is_exact_for_low_rank_and_accurate_for_decaying_spectra() {
    let mut eig = vec![0.0; 30];
    eig[..3].copy_from_slice(&[5.0, -2.0, 1.0]);
    let a = with_spectrum(&eig);
    let o = Options {
        hutchpp: true,
        diagonal: false,
        ..opts(12)
    };
    let e = hutchinson(&Each(&a), &o, Par::Seq).unwrap();
    assert!((e.trace - 4.0).abs() < 1e-10, "{}", e.trace);
    assert!(e.trace_se < 1e-10);
    let eig: Vec<f64> = (0..30).map(|i| 0.5f64.powi(i)).collect();
    let a = with_spectrum(&eig);
    let e = hutchinson(&Each(&a), &Options { n_samples: 30, ..o }, Par::Seq).unwrap();
    assert!((e.trace - 2.0).abs() < 1e-3, "{}", e.trace);
}

#[test]
fn bad_parameters_are_refused() {
    let a = matrix();
    for o in [
        opts(0),
        Options {
            batch: 0,
            ..opts(3)
        },
        Options {
            hutchpp: true,
            ..opts(9)
        },
        Options {
            hutchpp: true,
            diagonal: false,
            ..opts(2)
        },
    ] {
        assert!(matches!(
            hutchinson(&Each(&a), &o, Par::Seq),
            Err(Error::InvalidParameter { .. })
        ));
    }
}

#[test]
fn each_applies_the_operator_one_vector_and_one_block_at_a_time() {
    let a = matrix();
    let n = a.n;
    let e = Each(&a);
    assert_eq!(e.dim(), n);
    let x: Vec<f64> = (0..3 * n).map(|k| ((k * 5 + 2) % 9) as f64 - 4.0).collect();
    let mut want = vec![0.0; 3 * n];
    for j in 0..3 {
        a.apply(
            &x[j * n..(j + 1) * n],
            &mut want[j * n..(j + 1) * n],
            Par::Seq,
        )
        .unwrap();
    }
    let mut one = vec![f64::NAN; n];
    e.apply(&x[n..2 * n], &mut one, Par::Seq).unwrap();
    assert_eq!(one, want[n..2 * n]);
    let mut block = vec![f64::NAN; 3 * n];
    e.apply_block(&x, &mut block, 3, Par::Rayon(2)).unwrap();
    assert_eq!(block, want);
}

#[test]
fn probes_longer_than_a_piece_match_the_probe_of_the_whole_row() {
    let n = 2 * REDUCE_PIECE + 3;
    for dist in [Distribution::Rademacher, Distribution::Gaussian] {
        let mut got = vec![0.0; 2 * n];
        probes(9, 1, 4, dist, n, &mut got, Par::Rayon(2)).unwrap();
        for j in 0..2 {
            let mut want = vec![0.0; n];
            probe(9, 1, 4 + j as u64, dist, 0, &mut want);
            assert_eq!(got[j * n..(j + 1) * n], want[..], "{dist:?} row {j}");
        }
    }
}

#[test]
fn the_standard_error_is_the_sample_deviation_over_root_n() {
    let mut r = Running::default();
    for (k, x) in [1.0, 2.0, 3.0, 4.0, 10.0].into_iter().enumerate() {
        r.push(x, k + 1);
    }
    // mean 4, sample variance (9 + 4 + 1 + 0 + 36) / 4 = 12.5, se = sqrt(12.5 / 5).
    assert!((r.mean - 4.0).abs() <= 1e-15);
    assert!((r.se(5) - 2.5f64.sqrt()).abs() <= 1e-15, "{}", r.se(5));
    let mut two = Running::default();
    two.push(1.0, 1);
    assert!(two.se(1).is_nan());
    two.push(3.0, 2);
    assert!((two.se(2) - 1.0).abs() <= 1e-15); // sd sqrt(2), over sqrt(2)
    assert!(Running::default().se(0).is_nan());
}

#[test]
fn the_least_sample_counts_are_accepted() {
    let a = matrix();
    let one = Options {
        diagonal: false,
        ..opts(1)
    };
    let e = hutchinson(&Each(&a), &one, Par::Seq).unwrap();
    assert!(e.trace.is_finite() && e.trace_se.is_nan());
    let pp = |n_samples| Options {
        diagonal: false,
        hutchpp: true,
        ..opts(n_samples)
    };
    assert!(hutchinson(&Each(&a), &pp(3), Par::Seq)
        .unwrap()
        .trace
        .is_finite());
    assert!(hutchinson(&Each(&a), &pp(2), Par::Seq).is_err());
    assert!(hutchinson(&Each(&a), &opts(0), Par::Seq).is_err());
}

#[test]
fn the_products_spent_are_reported() {
    let a = matrix(); // 40 × 40, full rank: Hutch++ keeps the whole sketch
    let e = hutchinson(&Each(&a), &opts(11), Par::Seq).unwrap();
    assert_eq!(e.matvecs, 11);
    for m in [9, 10, 11] {
        let pp = Options {
            diagonal: false,
            hutchpp: true,
            ..opts(m)
        };
        // ⌊m/3⌋ sketch + as many for tr(QᵀAQ) + the rest for the remainder = m.
        assert_eq!(hutchinson(&Each(&a), &pp, Par::Seq).unwrap().matvecs, m);
    }
}
