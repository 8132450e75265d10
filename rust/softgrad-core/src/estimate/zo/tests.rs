use super::*;
use crate::rng::uniform_vec;

fn opts(method: Method, n_samples: usize, sides: usize, antithetic: bool) -> Options<'static> {
    Options {
        func: "gradient",
        method,
        n_samples,
        sides,
        antithetic,
        seed: 17,
        step: Some(1e-3),
        mask: &[],
        eps: f64::EPSILON,
    }
}

/// `f(x) = Σ a_i x_i² / 2 + b·x` and its gradient.
fn quad(a: &[f64], b: &[f64], x: &[f64]) -> f64 {
    x.iter()
        .zip(a)
        .zip(b)
        .map(|((x, a), b)| 0.5 * a * x * x + b * x)
        .sum()
}

fn estimate(plan: &Plan, x: &[f64], f: impl Fn(&[f64]) -> f64, par: Par) -> (Vec<f64>, Vec<f64>) {
    let n = x.len();
    let mut pts = vec![0.0; plan.n_points() * n];
    plan.points(0, &mut pts, par).unwrap();
    let values: Vec<f64> = pts.chunks_exact(n).map(&f).collect();
    let f0 = plan.needs_center().then(|| f(x));
    let (mut g, mut v) = (vec![0.0; n], vec![0.0; n]);
    plan.assemble(f0, &values, &mut g, &mut v, par).unwrap();
    (g, v)
}

#[test]
fn points_move_x_along_the_direction() {
    let x = uniform_vec(37, 1, -1.0, 1.0);
    let plan = Plan::new(&x, &opts(Method::Spsa, 3, 2, false), Par::Seq).unwrap();
    let mut pts = vec![0.0; 6 * 37];
    plan.points(0, &mut pts, Par::Seq).unwrap();
    let mut u = vec![0.0; 37];
    plan.direction(1, 0, &mut u);
    for i in 0..37 {
        assert_eq!(pts[2 * 37 + i], x[i] + 1e-3 * u[i]);
        assert_eq!(pts[3 * 37 + i], x[i] - 1e-3 * u[i]);
        assert_eq!(u[i].abs(), 1.0);
    }
}

#[test]
fn points_and_estimates_are_bit_identical_across_threads_and_batches() {
    let n = 5000;
    let x = uniform_vec(n, 2, -1.0, 1.0);
    let a = uniform_vec(n, 3, 0.5, 2.0);
    let b = uniform_vec(n, 4, -1.0, 1.0);
    for method in [
        Method::Spsa,
        Method::Gaussian,
        Method::Sphere,
        Method::Coordinate,
    ] {
        let mut results = vec![];
        for par in [Par::Seq, Par::Rayon(2), Par::Rayon(3)] {
            let plan = Plan::new(&x, &opts(method, 8, 2, false), par).unwrap();
            let mut whole = vec![0.0; plan.n_points() * n];
            plan.points(0, &mut whole, par).unwrap();
            let mut batched = vec![0.0; plan.n_points() * n];
            for q in 0..plan.n_points() {
                plan.points(q, &mut batched[q * n..(q + 1) * n], par)
                    .unwrap();
            }
            assert_eq!(whole, batched);
            results.push(estimate(&plan, &x, |p| quad(&a, &b, p), par));
        }
        assert_eq!(results[0], results[1]);
        assert_eq!(results[0], results[2]);
    }
}

#[test]
fn mean_over_seeds_is_the_gradient_of_a_quadratic() {
    let n = 20;
    let x = uniform_vec(n, 5, -1.0, 1.0);
    let a = uniform_vec(n, 6, 0.5, 2.0);
    let b = uniform_vec(n, 7, -1.0, 1.0);
    let truth: Vec<f64> = (0..n).map(|i| a[i] * x[i] + b[i]).collect();
    for (method, sides, anti) in [
        (Method::Spsa, 2, false),
        (Method::Gaussian, 2, false),
        (Method::Sphere, 2, false),
        (Method::Coordinate, 2, false),
        (Method::Spsa, 1, true),
        (Method::Gaussian, 1, false),
    ] {
        let reps = 400;
        let mut sum = vec![0.0; n];
        let mut sq = vec![0.0; n];
        for s in 0..reps {
            let mut o = opts(method, 4, sides, anti);
            o.seed = s;
            o.step = Some(1e-4);
            let plan = Plan::new(&x, &o, Par::Seq).unwrap();
            let (g, _) = estimate(&plan, &x, |p| quad(&a, &b, p), Par::Seq);
            for i in 0..n {
                sum[i] += g[i];
                sq[i] += g[i] * g[i];
            }
        }
        for i in 0..n {
            let m = sum[i] / reps as f64;
            let sd = ((sq[i] / reps as f64 - m * m) / reps as f64).sqrt();
            // One-sided: the curvature term c/2 u'Au u has mean O(c).
            assert!(
                (m - truth[i]).abs() <= 5.0 * sd + 1e-3,
                "{method:?} {sides} {i}: {m} vs {} (sd {sd})",
                truth[i]
            );
        }
    }
}

#[test]
fn variance_is_the_sample_variance_over_n() {
    let n = 50;
    let x = uniform_vec(n, 8, -1.0, 1.0);
    let plan = Plan::new(&x, &opts(Method::Gaussian, 6, 2, false), Par::Seq).unwrap();
    let f = |p: &[f64]| p.iter().map(|v| v * v).sum::<f64>();
    let (g, v) = estimate(&plan, &x, f, Par::Seq);
    // Recompute from the per-sample estimates.
    let mut u = vec![0.0; n];
    for i in [0usize, 17, 49] {
        let mut s: Vec<f64> = vec![];
        for k in 0..6 {
            plan.direction(k, 0, &mut u);
            let xp: Vec<f64> = (0..n).map(|j| x[j] + plan.step() * u[j]).collect();
            let xm: Vec<f64> = (0..n).map(|j| x[j] - plan.step() * u[j]).collect();
            s.push((f(&xp) - f(&xm)) / (2.0 * plan.step()) * u[i]);
        }
        let m = s.iter().sum::<f64>() / 6.0;
        let var = s.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / 5.0 / 6.0;
        assert!((g[i] - m).abs() < 1e-9 * m.abs().max(1.0));
        assert!((v[i] - var).abs() < 1e-9 * var.max(1.0));
    }
}

#[test]
fn mask_is_respected_and_coordinates_are_distinct() {
    let n = 30;
    let x = uniform_vec(n, 9, -1.0, 1.0);
    let mask: Vec<bool> = (0..n).map(|i| i % 3 == 0).collect();
    for method in [
        Method::Spsa,
        Method::Gaussian,
        Method::Sphere,
        Method::Coordinate,
    ] {
        let mut o = opts(method, 5, 2, false);
        o.mask = &mask;
        let plan = Plan::new(&x, &o, Par::Seq).unwrap();
        assert_eq!(plan.dim(), 10);
        let (g, v) = estimate(&plan, &x, |p| p.iter().sum(), Par::Seq);
        for i in 0..n {
            if !mask[i] {
                assert_eq!((g[i], v[i]), (0.0, 0.0));
            }
        }
        if method == Method::Coordinate {
            let mut c = plan.coords().to_vec();
            c.sort();
            c.dedup();
            assert_eq!(c.len(), 5);
            assert!(c.iter().all(|&i| mask[i]));
        }
        if method == Method::Sphere {
            let mut u = vec![0.0; n];
            plan.direction(2, 0, &mut u);
            let norm: f64 = u.iter().map(|v| v * v).sum();
            assert!((norm - 1.0).abs() < 1e-12);
        }
    }
}

#[test]
fn bad_options_are_refused() {
    let x = [1.0, 2.0];
    let bad = |o: Options<'_>| Plan::new(&x, &o, Par::Seq).unwrap_err().to_string();
    assert!(bad(opts(Method::Spsa, 0, 2, false)).contains("n_samples"));
    assert!(bad(opts(Method::Spsa, 3, 1, true)).contains("n_samples"));
    assert!(bad(opts(Method::Spsa, 2, 2, true)).contains("antithetic"));
    assert!(bad(opts(Method::Spsa, 2, 3, false)).contains("sides"));
    assert!(bad(opts(Method::Coordinate, 3, 2, false)).contains("distinct"));
    let mut o = opts(Method::Spsa, 2, 2, false);
    o.step = Some(-1.0);
    assert!(bad(o).contains("step"));
    let mut o = opts(Method::Spsa, 2, 2, false);
    o.mask = &[false, false];
    assert!(bad(o).contains("mask"));
    let e = Plan::new(&[f64::NAN], &opts(Method::Spsa, 2, 2, false), Par::Seq).unwrap_err();
    assert!(e.to_string().contains("finite"));
}
