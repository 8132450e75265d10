use super::nodes::place;
use super::richardson::extrapolate;
use super::stencil::{auto_step, fornberg};
use super::*;

fn opts(method: Method, order: usize) -> Options<'static> {
    Options {
        func: "gradient",
        method,
        order,
        step: &[],
        lower: &[],
        upper: &[],
        noise: 0.0,
        levels: 6,
        eps: f64::EPSILON,
    }
}

/// Evaluates `f` at every point of `plan` (and at `x` if needed) and assembles the gradient.
fn estimate<T: Dtype>(
    x: &[T],
    o: &Options<'_>,
    f: impl Fn(&[f64]) -> f64,
    seen: &mut Vec<Vec<f64>>,
) -> (Vec<f64>, Vec<f64>, Plan) {
    let plan = Plan::new(x, o).unwrap();
    let n = x.len();
    let mut pts = vec![T::from_f64(0.0); plan.n_points() * n];
    plan.points(0, &mut pts).unwrap();
    let vals: Vec<f64> = pts
        .chunks_exact(n)
        .map(|r| {
            let r: Vec<f64> = r.iter().map(|v| v.to_f64()).collect();
            let v = f(&r);
            seen.push(r);
            v
        })
        .collect();
    let xf: Vec<f64> = x.iter().map(|v| v.to_f64()).collect();
    let f0 = [f(&xf)];
    let (mut g, mut e) = (vec![0.0; n], vec![0.0; n]);
    let c = plan.needs_center().then_some(&f0[..]);
    plan.assemble(c, &vals, 1, &mut g, &mut e).unwrap();
    (g, e, plan)
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * b.abs().max(1.0)
}

#[test]
fn fornberg_gives_the_classical_weights() {
    let mut w = [0.0; 4];
    fornberg(0.0, &[-2.0, -1.0, 1.0, 2.0], 1, &mut w);
    for (a, b) in w
        .iter()
        .zip([1.0 / 12.0, -2.0 / 3.0, 2.0 / 3.0, -1.0 / 12.0])
    {
        assert!((a - b).abs() < 1e-15, "{w:?}");
    }
    let mut w = [0.0; 3];
    fornberg(0.0, &[-1.0, 0.0, 1.0], 2, &mut w);
    assert_eq!(w, [1.0, -2.0, 1.0]);
    fornberg(0.0, &[0.0, 1.0, 2.0], 1, &mut w);
    assert_eq!(w, [-1.5, 2.0, -0.5]);
    let mut w = [0.0; 2];
    fornberg(0.0, &[-1.0, 1.0], 1, &mut w);
    assert_eq!(w, [-0.5, 0.5]);
}

#[test]
fn fornberg_is_exact_on_polynomials_of_degree_below_the_node_count() {
    let nodes = [0.3, -0.7, 1.1, 0.05, -0.2, 0.9];
    let z = 0.17;
    for deriv in 0..3 {
        let mut w = [0.0; 6];
        fornberg(z, &nodes, deriv, &mut w);
        for p in 0..6_i32 {
            let got: f64 = w.iter().zip(&nodes).map(|(w, x)| w * x.powi(p)).sum();
            // d^deriv/dz^deriv z^p
            let mut want = if p >= deriv as i32 {
                z.powi(p - deriv as i32)
            } else {
                0.0
            };
            for k in 0..deriv as i32 {
                want *= (p - k) as f64;
            }
            assert!(
                (got - want).abs() < 1e-11,
                "deriv {deriv} degree {p}: {got} vs {want}"
            );
        }
    }
}

#[test]
fn the_automatic_step_is_scipys_for_orders_one_and_two() {
    let eps = f64::EPSILON;
    assert_eq!(auto_step(3.0, eps, 0.0, 1), eps.sqrt() * 3.0);
    assert_eq!(auto_step(-0.5, eps, 0.0, 2), eps.powf(1.0 / 3.0));
    assert_eq!(auto_step(0.0, eps, 1e-6, 1), 1e-3);
}

#[test]
fn every_stencil_is_exact_on_polynomials_within_its_order() {
    // f = Σ_i c_i x_i^d with d <= order: exact up to rounding, at steps far above rounding.
    let x = [0.3f64, -1.2, 2.5];
    for (method, orders) in [
        (Method::Central, vec![2, 4, 6, 8]),
        (Method::Forward, vec![1, 2, 3, 4, 5]),
        (Method::Backward, vec![1, 3, 8]),
    ] {
        for order in orders {
            let d = order as i32;
            let f = |v: &[f64]| {
                v.iter()
                    .enumerate()
                    .map(|(i, v)| (i as f64 + 1.0) * v.powi(d))
                    .sum()
            };
            let step = [0.25];
            let o = Options {
                step: &step,
                ..opts(method, order)
            };
            let (g, e, _) = estimate(&x, &o, f, &mut vec![]);
            for (i, (gi, xi)) in g.iter().zip(x).enumerate() {
                let want = (i as f64 + 1.0) * d as f64 * xi.powi(d - 1);
                // No truncation error: what is left is rounding, which the estimate bounds.
                assert!(
                    (gi - want).abs() <= 4.0 * e[i],
                    "{method:?} {order}: {gi} vs {want}"
                );
            }
        }
    }
}

#[test]
fn the_automatic_step_reaches_the_accuracy_of_its_order() {
    // d/dx of sin(x) e^{x/2} at several points: errors of the order eps^(q/(q+1)).
    let f = |v: &[f64]| v.iter().map(|v| v.sin() * (0.5 * v).exp()).sum();
    let df = |v: f64| (v.cos() + 0.5 * v.sin()) * (0.5 * v).exp();
    let x = [0.0, 0.7, -2.0, 4.0];
    for (method, order, tol) in [
        (Method::Forward, 1, 1e-7),
        (Method::Backward, 1, 1e-7),
        (Method::Central, 2, 1e-9),
        (Method::Central, 4, 1e-11),
        (Method::Central, 8, 1e-11),
        (Method::Richardson, 2, 1e-12),
        (Method::Richardson, 4, 1e-12),
    ] {
        let (g, e, _) = estimate(&x, &opts(method, order), f, &mut vec![]);
        for (gi, xi) in g.iter().zip(x) {
            assert!(
                close(*gi, df(xi), tol),
                "{method:?} {order} at {xi}: {gi} vs {}",
                df(xi)
            );
        }
        if method == Method::Richardson {
            for ((gi, ei), xi) in g.iter().zip(&e).zip(x) {
                assert!(
                    (gi - df(xi)).abs() <= *ei,
                    "error estimate {ei} below the error"
                );
            }
        }
    }
}

#[test]
fn bounds_are_never_left_and_the_stencil_turns_at_them() {
    let x = [0.0f64, 1.0, 0.5, 1e-9];
    let (lo, hi) = ([0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.5 + 1e-12, 1.0]);
    let f = |v: &[f64]| v.iter().map(|v| v.exp()).sum();
    for method in [
        Method::Forward,
        Method::Backward,
        Method::Central,
        Method::Richardson,
    ] {
        for order in [2, 4, 8] {
            let o = Options {
                lower: &lo,
                upper: &hi,
                ..opts(method, order)
            };
            let mut seen = vec![];
            let (g, _, plan) = estimate(&x, &o, f, &mut seen);
            for p in &seen {
                for (i, v) in p.iter().enumerate() {
                    assert!(lo[i] <= *v && *v <= hi[i], "{method:?}: {v} outside at {i}");
                }
            }
            assert_eq!(plan.sides()[0], Side::Forward);
            assert_eq!(plan.sides()[1], Side::Backward);
            let tol = if method == Method::Forward || method == Method::Backward {
                1e-4
            } else {
                1e-7
            };
            for (gi, xi) in g.iter().zip(x) {
                assert!(
                    close(*gi, xi.exp(), tol),
                    "{method:?} {order}: {gi} vs {}",
                    xi.exp()
                );
            }
        }
    }
}

#[test]
fn float32_nodes_are_float32_values_and_the_weights_follow_them() {
    let x = [1.0f32, -3.0, 1e-3];
    let f = |v: &[f64]| v.iter().map(|v| v * v * v).sum();
    let mut o = opts(Method::Central, 2);
    o.eps = f32::EPSILON as f64;
    let mut seen = vec![];
    let (g, _, _) = estimate(&x, &o, f, &mut seen);
    for p in seen {
        for v in p {
            assert_eq!(v, v as f32 as f64);
        }
    }
    for (gi, xi) in g.iter().zip(x) {
        let want = 3.0 * (xi as f64).powi(2);
        assert!(close(*gi, want, 1e-4), "{gi} vs {want}");
    }
}

#[test]
fn the_complex_step_plan_takes_a_tiny_step_and_weight_one_over_it() {
    let plan = Plan::new(&[2.0, 0.0], &opts(Method::Complex, 2)).unwrap();
    assert_eq!(plan.n_points(), 2);
    assert!(!plan.needs_center());
    assert_eq!(plan.steps(), &[2.0 * f64::EPSILON, f64::EPSILON]);
    let (mut j, mut e) = ([0.0; 4], [0.0; 4]);
    // Two outputs per point: Im f(x + i h_0 e_0) = (4 eps, 0), Im f(x + i h_1 e_1) = (0, -eps).
    let im = [4.0 * f64::EPSILON, 0.0, 0.0, -f64::EPSILON];
    plan.assemble(None, &im, 2, &mut j, &mut e).unwrap();
    assert_eq!(j, [2.0, 0.0, 0.0, -1.0]);
}

#[test]
fn richardson_extrapolation_removes_the_even_powers() {
    // d(h) = 1 + h^2 + h^4: the tableau's third column is exact.
    let h0 = 0.5_f64;
    let d: Vec<f64> = (0..4)
        .map(|l| {
            let h = h0 / 2f64.powi(l);
            1.0 + h * h + h.powi(4)
        })
        .collect();
    let (v, e) = extrapolate(&d, 2.0, 2.0, 2.0, &[0.0; 4]);
    assert!((v - 1.0).abs() < 1e-15 && e < 1e-12, "{v} {e}");
}

#[test]
fn bad_options_are_refused_naming_the_argument() {
    let x = [1.0, 2.0];
    let err = |o: Options<'_>| match Plan::new(&x, &o) {
        Err(Error::InvalidParameter { name, .. }) => name,
        Err(Error::Shape { name, .. }) => name,
        other => panic!("{other:?}"),
    };
    assert_eq!(err(opts(Method::Central, 3)), "order");
    assert_eq!(err(opts(Method::Forward, 9)), "order");
    assert_eq!(err(opts(Method::Complex, 4)), "order");
    assert_eq!(
        err(Options {
            levels: 1,
            ..opts(Method::Richardson, 2)
        }),
        "n_steps"
    );
    assert_eq!(
        err(Options {
            step: &[0.0],
            ..opts(Method::Central, 2)
        }),
        "step"
    );
    assert_eq!(
        err(Options {
            step: &[1.0, f64::NAN],
            ..opts(Method::Central, 2)
        }),
        "step"
    );
    assert_eq!(
        err(Options {
            step: &[1.0; 3],
            ..opts(Method::Central, 2)
        }),
        "step"
    );
    assert_eq!(
        err(Options {
            step: &[1e-300],
            ..opts(Method::Central, 2)
        }),
        "step"
    );
    assert_eq!(
        err(Options {
            noise: -1.0,
            ..opts(Method::Central, 2)
        }),
        "noise"
    );
    assert_eq!(
        err(Options {
            lower: &[1.5, 0.0],
            ..opts(Method::Central, 2)
        }),
        "bounds"
    );
    assert_eq!(
        err(Options {
            lower: &[1.0, 2.0],
            upper: &[1.0, 3.0],
            ..opts(Method::Central, 2)
        }),
        "bounds"
    );
    assert_eq!(
        err(Options {
            upper: &[3.0],
            ..opts(Method::Central, 2)
        }),
        "upper"
    );
    assert!(matches!(
        Plan::new(&[f64::NAN], &opts(Method::Central, 2)),
        Err(Error::InvalidParameter { name: "x", .. })
    ));
}

#[test]
fn assemble_checks_its_arguments() {
    let plan = Plan::new(&[1.0, 2.0], &opts(Method::Forward, 1)).unwrap();
    let (mut g, mut e) = ([0.0; 2], [0.0; 2]);
    assert!(plan.assemble(None, &[0.0; 2], 1, &mut g, &mut e).is_err()); // f0 needed
    assert!(plan
        .assemble(Some(&[0.0]), &[0.0; 3], 1, &mut g, &mut e)
        .is_err());
    let mut pts = [0.0; 6];
    assert!(plan.points(1, &mut pts).is_err());
    assert!(plan.points(0, &mut pts[..3]).is_err());
}

#[test]
fn toward_steps_one_ulp_toward_x_on_either_side_of_zero() {
    let up = |v: f64| f64::from_bits(v.to_bits() + 1);
    assert_eq!(1.0f64.toward(0.0), 1.0 - f64::EPSILON / 2.0);
    assert_eq!(1.0f64.toward(2.0), up(1.0));
    assert_eq!((-1.0f64).toward(0.0), -(1.0 - f64::EPSILON / 2.0));
    assert_eq!((-1.0f64).toward(-2.0), -up(1.0));
    assert_eq!(0.0f64.toward(1.0), f64::from_bits(1));
    assert_eq!(0.0f64.toward(-1.0), -f64::from_bits(1));
    assert_eq!(1.0f32.toward(0.0), 1.0 - f32::EPSILON / 2.0);
    assert_eq!(
        (-2.0f32).toward(-3.0),
        -f32::from_bits(2.0f32.to_bits() + 1)
    );
}

#[test]
fn a_node_rounded_past_a_bound_the_dtype_cannot_hold_is_pulled_back_inside() {
    // 0.1 is not a float32: the nearest float32 is above it.
    assert!(0.1f32 as f64 > 0.1);
    let v = place(0.05f32, 0.05, 0.0, 0.1);
    assert!((v as f64) <= 0.1 && v > 0.09);
    assert_eq!(v, 0.1f32.toward(0.0));
    let v = place(-0.05f32, -0.05, -0.1, 0.0);
    assert!((v as f64) >= -0.1);
    // x at a float32 upper bound that is not exactly 0.1: forward steps go backward.
    let x = [0.1f32.toward(0.0)];
    let o = Options {
        eps: f32::EPSILON as f64,
        upper: &[0.1],
        ..opts(Method::Forward, 2)
    };
    let mut seen = vec![];
    let (g, _, plan) = estimate(&x, &o, |v: &[f64]| v[0] * v[0], &mut seen);
    assert_eq!(plan.sides(), &[Side::Backward]);
    assert!(seen.iter().all(|p| p[0] <= 0.1));
    assert!(close(g[0], 2.0 * x[0] as f64, 1e-4), "{g:?}");
}
