use super::*;
use crate::linalg::lanczos::tests::{with_spectrum, Dense};

fn opts(radius: f64) -> Options {
    Options {
        radius,
        rtol: 1e-12,
        maxiter: 200,
    }
}

fn model(a: &Dense, g: &[f64], p: &[f64]) -> f64 {
    let mut ap = vec![0.0; a.n];
    a.apply(p, &mut ap, Par::Seq).unwrap();
    (0..a.n).map(|i| g[i] * p[i] + 0.5 * p[i] * ap[i]).sum()
}

fn norm(p: &[f64]) -> f64 {
    p.iter().map(|v| v * v).sum::<f64>().sqrt()
}

#[test]
fn inside_the_region_it_is_the_newton_step() {
    let eig: Vec<f64> = (1..=20).map(|i| i as f64).collect();
    let a = with_spectrum(&eig);
    let g: Vec<f64> = (0..20).map(|i| (i as f64 * 0.7).sin()).collect();
    let s = steihaug(&a, &g, None, &opts(1e6), Par::Seq).unwrap();
    assert_eq!(s.reason, Reason::Converged);
    let mut ap = vec![0.0; 20];
    a.apply(&s.p, &mut ap, Par::Seq).unwrap();
    assert!(ap.iter().zip(&g).all(|(x, y)| (x + y).abs() < 1e-10));
    assert!((s.decrease + model(&a, &g, &s.p)).abs() < 1e-12);
}

#[test]
fn a_small_region_stops_on_its_boundary_with_at_least_the_cauchy_decrease() {
    let eig: Vec<f64> = (1..=20).map(|i| i as f64).collect();
    let a = with_spectrum(&eig);
    let g: Vec<f64> = (0..20).map(|i| (i as f64 * 0.7).sin()).collect();
    let s = steihaug(&a, &g, None, &opts(0.05), Par::Seq).unwrap();
    assert_eq!(s.reason, Reason::Boundary);
    assert!((norm(&s.p) - 0.05).abs() < 1e-12);
    let gn = norm(&g);
    let gc: Vec<f64> = g.iter().map(|v| -v * 0.05 / gn).collect();
    assert!(s.decrease >= -model(&a, &g, &gc) - 1e-14);
}

#[test]
fn negative_curvature_is_followed_to_the_boundary() {
    let mut eig: Vec<f64> = (1..=10).map(|i| i as f64).collect();
    eig[3] = -2.0;
    let a = with_spectrum(&eig);
    let g = vec![1.0; 10];
    let s = steihaug(&a, &g, None, &opts(3.0), Par::Seq).unwrap();
    assert_eq!(s.reason, Reason::NegativeCurvature);
    assert!((norm(&s.p) - 3.0).abs() < 1e-12);
    let d = s.direction.as_ref().unwrap();
    let mut ad = vec![0.0; 10];
    a.apply(d, &mut ad, Par::Seq).unwrap();
    assert!(d.iter().zip(&ad).map(|(x, y)| x * y).sum::<f64>() <= 0.0);
    assert!((s.decrease + model(&a, &g, &s.p)).abs() < 1e-10);
    assert!(s.decrease > 0.0);
}

#[test]
fn bad_parameters_are_refused() {
    let a = with_spectrum(&[1.0, 2.0]);
    for r in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(steihaug(&a, &[1.0, 1.0], None, &opts(r), Par::Seq).is_err());
    }
    assert!(steihaug(&a, &[1.0], None, &opts(1.0), Par::Seq).is_err());
    let s = steihaug(&a, &[0.0, 0.0], None, &opts(1.0), Par::Seq).unwrap();
    assert_eq!(
        (s.reason, s.iterations, s.decrease),
        (Reason::Converged, 0, 0.0)
    );
}
