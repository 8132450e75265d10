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
