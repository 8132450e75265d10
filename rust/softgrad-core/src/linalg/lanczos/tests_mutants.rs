//! Tests for `cargo mutants` survivors in `lanczos.rs`: the product budget is shared by every
//! run (measured against the first run alone); a run over the whole space ends in exactly n
//! products even at a tolerance no residual meets, and an invariant Krylov space short of it is
//! not convergence; `Both` on A and −A with a symmetric spectrum mirror each other (the restart
//! keeps as many Ritz vectors at each end); `tol = 1` is refused, `tol = 0` is 64 ε; start `i` is
//! sample `i`; a cycle of 2k + 1 vectors is the whole space when n = 2k + 1.

use super::tests::{with_spectrum, Poisson};
use super::*;

/// Options with no iteration budget and seed 0.
fn opts(k: usize, which: Which, tol: f64) -> Options {
    Options {
        k,
        which,
        maxiter: None,
        tol,
        seed: 0,
    }
}

/// The matvecs the first run of `lanczos(op, o)` makes on its own (same seed, same starts).
fn first_run_matvecs(op: &dyn LinOp, o: &Options) -> usize {
    let (hi, lo) = split(o);
    let mut starts = 0;
    let r = run(
        op,
        &[],
        (hi, lo),
        usize::MAX,
        o.tol,
        o.seed,
        &mut starts,
        Par::Seq,
    )
    .unwrap();
    assert!(r.converged);
    r.matvecs
}

#[test]
fn the_budget_is_shared_by_the_deflated_runs() {
    // 12 × 12 Poisson: its double eigenvalues make `lanczos` run again after the first run.
    let p = Poisson { nx: 12, ny: 12 };
    let o = opts(6, Which::Largest, 1e-10);
    let first = first_run_matvecs(&p, &o);
    let spare = 3;
    let o = Options {
        maxiter: Some(first + spare),
        ..o
    };
    let e = lanczos(&p, &o, Par::Seq).unwrap();
    assert_eq!(e.runs, 2, "{e:?}");
    assert!(
        e.matvecs <= first + spare,
        "{} > {}",
        e.matvecs,
        first + spare
    );
    assert!(
        !e.converged,
        "a deflated run of {spare} products cannot confirm"
    );
}

#[test]
fn the_whole_space_ends_a_run_even_below_roundoff() {
    // k = n: the first cycle's basis spans the space, so β is roundoff (relative to max|θ|, at
    // any scale) and the run is done after exactly n products, whatever the tolerance (1e-300
    // is never met by a residual β |s_m|).
    for scale in [1.0, 1e6] {
        let eig: Vec<f64> = [3.0, -1.0, 2.0, 0.5, 7.0]
            .iter()
            .map(|x| x * scale)
            .collect();
        let a = with_spectrum(&eig);
        let o = opts(eig.len(), Which::Largest, 1e-300);
        let e = lanczos(&a, &o, Par::Seq).unwrap();
        assert!(e.converged, "{e:?}");
        assert_eq!((e.matvecs, e.runs), (eig.len(), 1));
        let mut want = eig.to_vec();
        want.sort_by(f64::total_cmp);
        for (g, w) in e.values.iter().zip(&want) {
            assert!((g - w).abs() < 1e-12 * scale, "{g} vs {w}");
        }
    }
}

#[test]
fn an_invariant_krylov_space_short_of_the_whole_space_is_not_convergence() {
    // 10 × 10 with 3 distinct eigenvalues: the Krylov space closes (β ≈ 0) at the 3rd vector,
    // where a budget of 3 products also ends the run. With a tolerance no residual can meet, that
    // is not convergence: only the whole space (or the residuals) would be.
    let eig: Vec<f64> = (0..10).map(|i| (i % 3) as f64 + 1.0).collect();
    let a = with_spectrum(&eig);
    let mut starts = 0;
    let r = run(&a, &[], (1, 0), 3, 1e-300, 0, &mut starts, Par::Seq).unwrap();
    assert_eq!((r.matvecs, r.pairs.len()), (3, 1));
    assert!(
        (r.pairs[0].value - 3.0).abs() < 1e-12,
        "{}",
        r.pairs[0].value
    );
    assert!(
        r.pairs[0].residual < 1e-12,
        "β ≈ 0: {}",
        r.pairs[0].residual
    );
    assert!(!r.converged);
}

#[test]
fn a_symmetric_spectrum_gives_mirrored_results_at_both_ends() {
    // A and −A with a spectrum symmetric about 0: negation is exact in every product, sum and
    // norm, so the runs on −A are the runs on A mirrored (up to the QL's roundoff), and a thick restart keeps as many
    // Ritz vectors at each end (`Both`, k = 4: 5 and 5). A restart happens: 60 evenly spaced
    // values do not converge to 1e-10 within one 24-vector cycle.
    let eig: Vec<f64> = (0..60).map(|i| (i as f64 - 29.5) * 0.37).collect();
    let a = with_spectrum(&eig);
    let neg = super::tests::Dense {
        n: a.n,
        a: a.a.iter().map(|x| -x).collect(),
    };
    let o = opts(4, Which::Both, 1e-10);
    let (e, f) = (
        lanczos(&a, &o, Par::Seq).unwrap(),
        lanczos(&neg, &o, Par::Seq).unwrap(),
    );
    assert!(e.converged && f.converged);
    assert_eq!((e.values.len(), f.values.len()), (4, 4));
    assert!(e.matvecs > NCV_MIN, "no restart: {}", e.matvecs);
    assert_eq!((e.matvecs, e.runs), (f.matvecs, f.runs));
    for (g, h) in e.values.iter().zip(f.values.iter().rev()) {
        assert!((g + h).abs() < 1e-9, "{g} vs {h}");
    }
}

#[test]
fn a_tolerance_of_one_is_refused() {
    let a = with_spectrum(&[1.0, 2.0]);
    let o = opts(1, Which::Largest, 1.0);
    assert!(matches!(
        lanczos(&a, &o, Par::Seq),
        Err(Error::InvalidParameter { .. })
    ));
}

#[test]
fn each_start_draws_the_next_sample_of_the_seed() {
    // With nothing to orthogonalise against, start `i` is Gaussian sample `i` of stream 3,
    // normalised: the counter advances once per draw.
    let (n, seed) = (7, 5);
    let mut starts = 0;
    for i in 0..3u64 {
        let v = start(&[], &[], n, seed, &mut starts, Par::Seq)
            .unwrap()
            .unwrap();
        assert_eq!(starts, i + 1);
        let mut g = vec![0.0; n];
        probe(seed, 3, i, Distribution::Gaussian, 0, &mut g);
        let norm = blas::norm(F, &g, Par::Seq).unwrap();
        let want: Vec<f64> = g.iter().map(|x| x / norm).collect();
        assert_eq!(v, want, "start {i}");
    }
}

#[test]
fn a_tolerance_of_zero_means_a_few_units_of_roundoff() {
    // tol = 0 is not "exact": residuals down to 64 ε max|θ| are accepted, so a well-separated
    // spectrum converges, to its closed form.
    let eig: Vec<f64> = (0..40).map(|i| (i as f64).powi(2) / 40.0).collect();
    let a = with_spectrum(&eig);
    let o = opts(2, Which::Largest, 0.0);
    let e = lanczos(&a, &o, Par::Seq).unwrap();
    assert!(e.converged, "{e:?}");
    for (g, w) in e.values.iter().zip(&eig[38..]) {
        assert!((g - w).abs() < 1e-12, "{g} vs {w}");
    }
    let bound = 64.0 * f64::EPSILON * eig[39];
    assert!(e.residuals.iter().all(|&r| r <= bound), "{:?}", e.residuals);
}

#[test]
fn a_cycle_of_2k_plus_1_vectors_spans_a_space_of_that_size() {
    // k = 12 of n = 25 = 2k + 1: the first cycle is the whole space (n products), the deflated
    // run the whole complement of the 12 found (n − k more), even at a tolerance no residual
    // meets.
    let (n, k) = (25, 12);
    let eig: Vec<f64> = (0..n).map(|i| i as f64 * 0.5 - 3.0).collect();
    let a = with_spectrum(&eig);
    let o = opts(k, Which::Largest, 1e-300);
    let e = lanczos(&a, &o, Par::Seq).unwrap();
    assert!(e.converged, "{e:?}");
    assert_eq!((e.matvecs, e.runs), (n + (n - k), 2));
    for (g, w) in e.values.iter().zip(&eig[n - k..]) {
        assert!((g - w).abs() < 1e-12, "{g} vs {w}");
    }
}
