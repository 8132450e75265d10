//! Sparse Jacobians, Hessians from a gradient and from values, and `nan_policy="omit"`.

use super::hessian::HessianPlan;
use super::sparse::SparsePlan;
use super::*;
use crate::estimate::colour::{Ordering, Pattern};

fn opts(method: Method, order: usize) -> Options<'static> {
    Options {
        func: "jacobian",
        method,
        order,
        step: &[],
        lower: &[],
        upper: &[],
        noise: 0.0,
        levels: 4,
        eps: f64::EPSILON,
    }
}

fn pattern(n: usize, entries: impl IntoIterator<Item = (usize, usize)>) -> Pattern {
    let mut rows = vec![Vec::new(); n];
    for (i, j) in entries {
        rows[i].push(j as i64);
    }
    let mut indptr = vec![0i64];
    let mut indices = Vec::new();
    for r in rows {
        indices.extend(r);
        indptr.push(indices.len() as i64);
    }
    Pattern::from_csr("jacobian", n, n, &indptr, &indices).unwrap()
}

fn tridiagonal(n: usize) -> Pattern {
    pattern(
        n,
        (0..n).flat_map(|i| (i.saturating_sub(1)..(i + 2).min(n)).map(move |j| (i, j))),
    )
}

/// `f_r(x) = x_r² e^{x_{r+1}} + sin(x_{r-1})`: a tridiagonal Jacobian.
fn f(x: &[f64]) -> Vec<f64> {
    let n = x.len();
    (0..n)
        .map(|r| {
            let up = if r + 1 < n { x[r + 1].exp() } else { 1.0 };
            let down = if r > 0 { x[r - 1].sin() } else { 0.0 };
            x[r] * x[r] * up + down
        })
        .collect()
}

fn values(pts: &[f64], n: usize, g: impl Fn(&[f64]) -> Vec<f64>) -> Vec<f64> {
    pts.chunks_exact(n).flat_map(g).collect()
}

#[test]
fn a_sparse_jacobian_equals_the_dense_one_on_its_pattern_bit_for_bit() {
    let n = 40;
    let x: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin()).collect();
    let (lo, hi): (Vec<f64>, Vec<f64>) = (
        vec![-10.0; n],
        x.iter()
            .enumerate()
            .map(|(i, v)| if i % 7 == 0 { *v } else { 10.0 })
            .collect(),
    );
    for (method, order) in [
        (Method::Central, 2),
        (Method::Forward, 1),
        (Method::Central, 4),
        (Method::Richardson, 2),
    ] {
        let o = Options {
            lower: &lo,
            upper: &hi,
            ..opts(method, order)
        };
        let sp = SparsePlan::jacobian(&x, &o, tridiagonal(n), None).unwrap();
        assert_eq!(sp.n_colours(), 3);
        let dense = Plan::new(&x, &o).unwrap();
        assert!(sp.plan().needs_center()); // the columns at their upper bound are one-sided
        let mut pts = vec![0.0; sp.n_points() * n];
        sp.points(0, &mut pts).unwrap();
        let vals = values(&pts, n, f);
        let f0 = f(&x);
        let p = sp.pattern();
        let (mut data, mut err) = (vec![0.0; p.nnz()], vec![0.0; p.nnz()]);
        sp.assemble(Some(&f0), &vals, &mut data, &mut err, false)
            .unwrap();
        let mut dpts = vec![0.0; dense.n_points() * n];
        dense.points(0, &mut dpts).unwrap();
        let dvals = values(&dpts, n, f);
        let (mut jac, mut derr) = (vec![0.0; n * n], vec![0.0; n * n]);
        dense
            .assemble(Some(&f0), &dvals, n, &mut jac, &mut derr)
            .unwrap();
        let mut e = 0;
        for r in 0..n {
            for &j in p.row(r) {
                assert_eq!(data[e], jac[r * n + j as usize], "{method:?} ({r}, {j})");
                assert_eq!(err[e], derr[r * n + j as usize]);
                e += 1;
            }
        }
        // 3 colours of `per` points each: 6 evaluations for central differences
        assert_eq!(sp.n_points(), 3 * dense.n_points() / n);
    }
}

/// Rosenbrock's function, gradient and Hessian.
fn rosen(x: &[f64]) -> f64 {
    (0..x.len() - 1)
        .map(|i| 100.0 * (x[i + 1] - x[i] * x[i]).powi(2) + (1.0 - x[i]).powi(2))
        .sum()
}

fn rosen_grad(x: &[f64]) -> Vec<f64> {
    let n = x.len();
    let mut g = vec![0.0; n];
    for i in 0..n - 1 {
        let t = x[i + 1] - x[i] * x[i];
        g[i] += -400.0 * x[i] * t - 2.0 * (1.0 - x[i]);
        g[i + 1] += 200.0 * t;
    }
    g
}

fn rosen_hess(x: &[f64]) -> Vec<f64> {
    let n = x.len();
    let mut h = vec![0.0; n * n];
    for i in 0..n - 1 {
        h[i * n + i] += 1200.0 * x[i] * x[i] - 400.0 * x[i + 1] + 2.0;
        h[(i + 1) * n + i + 1] += 200.0;
        h[i * n + i + 1] = -400.0 * x[i];
        h[(i + 1) * n + i] = -400.0 * x[i];
    }
    h
}

#[test]
fn a_sparse_hessian_from_the_gradient_is_symmetric_and_accurate() {
    let n = 30;
    let x: Vec<f64> = (0..n).map(|i| 0.5 + 0.3 * (i as f64).cos()).collect();
    let want = rosen_hess(&x);
    for ordering in [None, Some(Ordering::Natural)] {
        let sp =
            SparsePlan::hessian(&x, &opts(Method::Central, 2), tridiagonal(n), ordering).unwrap();
        assert_eq!(sp.n_colours(), 3);
        let mut pts = vec![0.0; sp.n_points() * n];
        sp.points(0, &mut pts).unwrap();
        let vals = values(&pts, n, rosen_grad);
        let p = sp.pattern();
        let (mut data, mut err) = (vec![0.0; p.nnz()], vec![0.0; p.nnz()]);
        sp.assemble(None, &vals, &mut data, &mut err, false)
            .unwrap();
        let mut e = 0;
        let mut got = vec![f64::NAN; n * n];
        for i in 0..n {
            for &j in p.row(i) {
                got[i * n + j as usize] = data[e];
                let w = want[i * n + j as usize];
                assert!(
                    (data[e] - w).abs() <= 1e-7 * w.abs().max(1.0),
                    "({i}, {j}): {} vs {w}",
                    data[e]
                );
                e += 1;
            }
        }
        for i in 0..n {
            for j in 0..n {
                assert_eq!(got[i * n + j].to_bits(), got[j * n + i].to_bits());
            }
        }
    }
}

#[test]
fn a_hessian_from_values_is_accurate_and_its_sparse_form_is_the_dense_one() {
    let n = 8;
    let x: Vec<f64> = (0..n).map(|i| 0.5 + 0.3 * (i as f64).cos()).collect();
    let want = rosen_hess(&x);
    let dense = HessianPlan::new("hessian", &x, &[], 0.0, f64::EPSILON, None).unwrap();
    assert_eq!(dense.n_points(), 2 * n + n * (n - 1));
    let mut pts = vec![0.0; dense.n_points() * n];
    dense.points(0, &mut pts).unwrap();
    let vals: Vec<f64> = pts.chunks_exact(n).map(rosen).collect();
    let (mut h, mut e) = (vec![0.0; n * n], vec![0.0; n * n]);
    dense.assemble(rosen(&x), &vals, &mut h, &mut e).unwrap();
    for k in 0..n * n {
        assert!(
            (h[k] - want[k]).abs() <= 1e-5 * want[k].abs().max(1.0),
            "{k}: {} vs {}",
            h[k],
            want[k]
        );
        assert_eq!(h[k], h[(k % n) * n + k / n]);
    }
    let p = tridiagonal(n);
    let sparse = HessianPlan::new("hessian", &x, &[], 0.0, f64::EPSILON, Some(&p)).unwrap();
    assert_eq!(sparse.n_points(), 2 * n + 2 * (n - 1));
    let mut pts = vec![0.0; sparse.n_points() * n];
    sparse.points(0, &mut pts).unwrap();
    let vals: Vec<f64> = pts.chunks_exact(n).map(rosen).collect();
    let (mut d, mut de) = (vec![0.0; p.nnz()], vec![0.0; p.nnz()]);
    sparse.assemble(rosen(&x), &vals, &mut d, &mut de).unwrap();
    let mut k = 0;
    for i in 0..n {
        for &j in p.row(i) {
            assert_eq!(d[k], h[i * n + j as usize]);
            k += 1;
        }
    }
    // f32 x: nodes in f32, the exact moves used
    let x32: Vec<f32> = x.iter().map(|v| *v as f32).collect();
    let p32 = HessianPlan::new("hessian", &x32, &[], 0.0, f32::EPSILON as f64, None).unwrap();
    let mut pts = vec![0.0f32; p32.n_points() * n];
    p32.points(0, &mut pts).unwrap();
    let vals: Vec<f64> = pts
        .chunks_exact(n)
        .map(|r| rosen(&r.iter().map(|v| *v as f64).collect::<Vec<_>>()))
        .collect();
    let x64: Vec<f64> = x32.iter().map(|v| *v as f64).collect();
    p32.assemble(rosen(&x64), &vals, &mut h, &mut e).unwrap();
    let want = rosen_hess(&x64);
    for k in 0..n * n {
        assert!(
            (h[k] - want[k]).abs() <= 1e-3 * want[k].abs().max(1.0) + 1e-2,
            "{k}: {} vs {}",
            h[k],
            want[k]
        );
    }
    assert!(HessianPlan::new("hessian", &x, &[0.0], 0.0, f64::EPSILON, None).is_err());
    assert!(HessianPlan::new("hessian", &x, &[1e-300], 0.0, f64::EPSILON, None).is_err());
}

#[test]
fn omit_falls_back_to_the_finite_values() {
    let x = [0.3f64, -0.7];
    let g = |v: &[f64]| (v[0].sin() + v[1].exp(), 2.0 * v[0] + v[1] * v[1]);
    for (method, order) in [
        (Method::Central, 2),
        (Method::Central, 4),
        (Method::Richardson, 2),
        (Method::Forward, 2),
    ] {
        let plan = Plan::new(&x, &opts(method, order)).unwrap();
        let mut pts = vec![0.0; plan.n_points() * 2];
        plan.points(0, &mut pts).unwrap();
        let mut vals: Vec<f64> = pts
            .chunks_exact(2)
            .flat_map(|p| {
                let (a, b) = g(p);
                [a, b]
            })
            .collect();
        vals[0] = f64::NAN; // output 0 at the first node of coordinate 0
        let f0 = {
            let (a, b) = g(&x);
            [a, b]
        };
        let (mut j, mut e) = (vec![0.0; 4], vec![0.0; 4]);
        let err = plan
            .assemble(Some(&f0), &vals, 2, &mut j, &mut e)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("jacobian: nan_policy 'raise'"), "{err}");
        plan.assemble_omitting(Some(&f0), &vals, 2, &mut j, &mut e)
            .unwrap();
        let want = [x[0].cos(), x[1].exp(), 2.0, 2.0 * x[1]];
        for k in 0..4 {
            let tol = if k == 0 && method != Method::Richardson {
                1e-4
            } else {
                1e-8
            };
            assert!(
                (j[k] - want[k]).abs() < tol,
                "{method:?} {order} {k}: {} vs {}",
                j[k],
                want[k]
            );
        }
        // no f(x) and a central order 2 stencil with a NaN: one node left, refused
        if method == Method::Central && order == 2 {
            let err = plan
                .assemble_omitting(None, &vals, 2, &mut j, &mut e)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("'omit' leaves fewer than two finite values"),
                "{err}"
            );
        }
    }
}
