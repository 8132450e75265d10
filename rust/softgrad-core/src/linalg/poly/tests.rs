use super::*;
use crate::linalg::lanczos::tests::{with_spectrum, Poisson};

/// `T_m(x)` for `|x| >= 1`.
fn cheb(m: usize, x: f64) -> f64 {
    (m as f64 * x.abs().acosh()).cosh()
}

#[test]
fn the_chebyshev_residual_meets_its_minimax_bound() {
    let eig: Vec<f64> = (0..40)
        .map(|i| 1.0 + 99.0 * (i as f64 / 39.0).powi(2))
        .collect();
    let a = with_spectrum(&eig);
    for degree in [0, 1, 4, 9] {
        let p = Poly::new(
            &a,
            Kind::Chebyshev,
            degree,
            Some((1.0, 100.0)),
            None,
            0,
            Par::Seq,
        )
        .unwrap();
        // On eigenvector e_k of A: p(A) v_k = p(λ_k) v_k; compute p(λ) via a 1-D operator.
        let bound = 1.0 / cheb(degree + 1, 101.0 / 99.0);
        for &l in &eig {
            let one = with_spectrum(&[l]);
            let q = Poly::new(
                &one,
                Kind::Chebyshev,
                degree,
                Some((1.0, 100.0)),
                None,
                0,
                Par::Seq,
            )
            .unwrap();
            let mut y = [0.0];
            q.apply(&[1.0], &mut y, Par::Seq).unwrap();
            assert!(
                (1.0 - l * y[0]).abs() <= bound * (1.0 + 1e-9),
                "{degree} {l}"
            );
        }
        let _ = p;
    }
}

#[test]
fn neumann_is_its_series_and_estimated_bounds_enclose_the_spectrum() {
    let p = Poisson { nx: 20, ny: 20 };
    let spec = p.spectrum();
    let (lo, hi) = estimate_bounds(&p, None, 0, Par::Seq).unwrap();
    assert!(
        hi >= spec[spec.len() - 1] && lo >= spec[0] && lo < hi,
        "{lo} {hi}"
    );
    // Jacobi scaling of Poisson is A/4.
    let inv = vec![0.25; 400];
    let q = Poly::new(&p, Kind::Neumann, 3, None, Some(inv), 0, Par::Seq).unwrap();
    let (a, b) = q.bounds();
    assert!(b >= spec[spec.len() - 1] / 4.0 && a > 0.0);
    let mut r = vec![0.0; 400];
    r[17] = 1.0;
    let mut y = vec![0.0; 400];
    q.apply(&r, &mut y, Par::Seq).unwrap();
    // ω Σ_{k≤3} (I − ωA/4)^k r/4 by hand
    let w = 2.0 / (a + b);
    let c: Vec<f64> = r.iter().map(|v| v / 4.0).collect();
    let (mut term, mut sum) = (c.clone(), c.clone());
    let mut t = vec![0.0; 400];
    for _ in 0..3 {
        p.apply(&term, &mut t, Par::Seq).unwrap();
        term = term
            .iter()
            .zip(&t)
            .map(|(x, ax)| x - w * ax / 4.0)
            .collect();
        sum.iter_mut().zip(&term).for_each(|(s, x)| *s += x);
    }
    for (g, s) in y.iter().zip(&sum) {
        assert!((g - w * s).abs() < 1e-13);
    }
}

#[test]
fn bad_bounds_are_refused() {
    let a = with_spectrum(&[1.0, 2.0]);
    for b in [(0.0, 1.0), (2.0, 1.0), (1.0, 1.0), (f64::NAN, 1.0)] {
        assert!(Poly::new(&a, Kind::Chebyshev, 2, Some(b), None, 0, Par::Seq).is_err());
    }
    let neg = with_spectrum(&[-1.0, 2.0, 3.0]);
    assert!(Poly::new(&neg, Kind::Chebyshev, 2, None, None, 0, Par::Seq).is_err());
}
