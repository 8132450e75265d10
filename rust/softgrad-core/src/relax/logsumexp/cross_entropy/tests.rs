//! Cross-entropy against a direct f64 reference, over contiguous and strided layouts, thread counts,
//! special values and bad arguments.

use super::*;
use crate::relax::testutil::uniform;

/// Per-sample `(loss, grad row, dot)` computed the long way for a row of logits and its targets.
fn reference(x: &[f64], y: &[f64], t: f64) -> (f64, Vec<f64>, f64) {
    let m = x.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let s: f64 = x.iter().map(|v| ((v - m) / t).exp()).sum();
    let lse = m + t * s.ln();
    let sy: f64 = y.iter().sum();
    let mut loss = 0.0;
    let mut dot = 0.0;
    let mut g = vec![0.0; x.len()];
    for j in 0..x.len() {
        let logp = (x[j] - lse) / t;
        if y[j] != 0.0 {
            loss -= y[j] * logp;
        }
        let d = sy * logp.exp() - y[j];
        g[j] = d / t;
        if d != 0.0 {
            dot += d * (x[j] - lse);
        }
    }
    (loss, g, dot)
}

/// Smoothed targets of classes `c` (`k` classes).
fn onehot(c: &[i64], k: usize, eps: f64) -> Vec<f64> {
    let mut y = vec![eps / k as f64; c.len() * k];
    for (r, &v) in c.iter().enumerate() {
        y[r * k + v as usize] += 1.0 - eps;
    }
    y
}

fn classes(n: usize, k: usize, seed: u64) -> Vec<i64> {
    uniform(n, seed, 0.0, k as f64)
        .iter()
        .map(|v| (*v as i64).min(k as i64 - 1))
        .collect()
}

struct Run {
    total: f64,
    losses: Vec<f64>,
    dots: Vec<f64>,
    grad: Vec<f64>,
}

fn run(
    x: &[f64],
    targets: Targets<'_, f64>,
    w: Option<&[f64]>,
    l: Layout,
    opts: Options,
    par: Par,
) -> Run {
    let mut r = Run {
        total: 0.0,
        losses: vec![0.0; l.outputs()],
        dots: vec![0.0; l.outputs()],
        grad: vec![0.0; x.len()],
    };
    let out = Outputs {
        losses: Some(&mut r.losses),
        dots: Some(&mut r.dots),
        grad: Some(&mut r.grad),
    };
    r.total = softmax_cross_entropy(x, targets, w, l, opts, out, par).unwrap();
    r
}

fn opts(t: f64, eps: f64, scale: f64) -> Options {
    Options {
        temperature: t,
        label_smoothing: eps,
        grad_scale: scale,
    }
}

/// `(outer, k, inner)` → the lanes as rows (`outer * inner` rows of `k`).
fn to_rows(x: &[f64], l: Layout) -> Vec<f64> {
    let mut out = Vec::with_capacity(x.len());
    for o in 0..l.outer {
        for j in 0..l.inner {
            for i in 0..l.n {
                out.push(x[(o * l.n + i) * l.inner + j]);
            }
        }
    }
    out
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
}

fn check_against_reference(l: Layout, probs: bool, eps: f64, t: f64, weighted: bool) {
    let (n, k) = (l.outputs(), l.n);
    let x = uniform(l.outer * k * l.inner, 1, -8.0, 8.0);
    let cls = classes(n, k, 2);
    let q = uniform(x.len(), 3, 0.0, 1.0);
    let w = uniform(n, 4, 0.0, 2.0);
    let targets = if probs {
        Targets::Probs(&q)
    } else {
        Targets::Classes(&cls)
    };
    let wv = weighted.then_some(&w[..]);
    let got = run(&x, targets, wv, l, opts(t, eps, 0.5), Par::Seq);
    let xr = to_rows(&x, l);
    let yr = if probs {
        let qr = to_rows(&q, l);
        qr.iter()
            .map(|v| (1.0 - eps) * v + eps / k as f64)
            .collect()
    } else {
        onehot(&cls, k, eps)
    };
    let gr = to_rows(&got.grad, l);
    let mut total = 0.0;
    for s in 0..n {
        let (loss, g, dot) = reference(&xr[s * k..(s + 1) * k], &yr[s * k..(s + 1) * k], t);
        let ws = if weighted { w[s] } else { 1.0 };
        total += ws * loss;
        assert!(
            close(got.losses[s], loss, 1e-12),
            "{l:?} {s}: {} {loss}",
            got.losses[s]
        );
        assert!(
            close(got.dots[s], dot, 1e-10),
            "{l:?} {s}: {} {dot}",
            got.dots[s]
        );
        for j in 0..k {
            let want = 0.5 * ws * g[j];
            assert!(close(gr[s * k + j], want, 1e-12), "{l:?} {s} {j}");
        }
    }
    assert!(close(got.total, total, 1e-12), "{} {total}", got.total);
}

#[test]
fn matches_the_reference_for_every_option() {
    for l in [
        Layout::new(7, 5, 1),
        Layout::new(3, 4100, 1), // a row wider than a piece
        Layout::new(1500, 3, 1), // several pieces
        Layout::new(2, 6, 3),
        Layout::new(3, 40, 600), // lane blocks wider than 512
    ] {
        for probs in [false, true] {
            for eps in [0.0, 0.1, 1.0] {
                for (t, weighted) in [(1.0, false), (0.7, true)] {
                    check_against_reference(l, probs, eps, t, weighted);
                }
            }
        }
    }
}

#[test]
fn thread_counts_give_the_same_bits() {
    for l in [
        Layout::new(40_000, 10, 1),
        Layout::new(5, 40_000, 1),
        Layout::new(30, 50, 300),
    ] {
        let x: Vec<f64> = uniform(l.outer * l.n * l.inner, 5, -1.0, 1.0)
            .iter()
            .enumerate()
            .map(|(i, v)| v * (2.0f64).powi((i % 41) as i32 - 20))
            .collect();
        let cls = classes(l.outputs(), l.n, 6);
        let w = uniform(l.outputs(), 7, 0.0, 3.0);
        let one = run(
            &x,
            Targets::Classes(&cls),
            Some(&w),
            l,
            opts(0.9, 0.1, 1.0),
            Par::Seq,
        );
        for n in [2, 3] {
            let r = run(
                &x,
                Targets::Classes(&cls),
                Some(&w),
                l,
                opts(0.9, 0.1, 1.0),
                Par::Rayon(n),
            );
            assert_eq!(one.total.to_bits(), r.total.to_bits(), "{l:?} {n}");
            assert_eq!(one.losses, r.losses);
            assert_eq!(one.dots, r.dots);
            assert_eq!(one.grad, r.grad);
        }
    }
}

#[test]
fn the_plain_call_gives_the_same_total_and_losses() {
    for l in [Layout::new(900, 7, 1), Layout::new(4, 9, 5)] {
        let x = uniform(l.outer * l.n * l.inner, 8, -3.0, 3.0);
        let q = uniform(x.len(), 9, 0.0, 1.0);
        let full = run(
            &x,
            Targets::Probs(&q),
            None,
            l,
            opts(1.3, 0.2, 1.0),
            Par::Seq,
        );
        let mut losses = vec![0.0; l.outputs()];
        let out = Outputs {
            losses: Some(&mut losses),
            ..Outputs::none()
        };
        let total = softmax_cross_entropy(
            &x,
            Targets::Probs(&q),
            None,
            l,
            opts(1.3, 0.2, 1.0),
            out,
            Par::Seq,
        )
        .unwrap();
        assert_eq!(total.to_bits(), full.total.to_bits());
        assert_eq!(losses, full.losses);
    }
}

#[test]
fn f32_is_accumulated_in_f64() {
    // Narrow f32 rows take each exponential in f32 lanes (within about an f32 ulp), so a loss is
    // within about 1e-7 of the f64 one; the losses and the total are summed in f64, which over
    // 20000 rows f32 sums would miss by some 1e-6.
    let l = Layout::new(20_000, 30, 1);
    let x = uniform(l.len("").unwrap(), 10, -5.0, 5.0);
    let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
    let xr: Vec<f64> = x32.iter().map(|&v| v as f64).collect();
    let cls = classes(l.outer, l.n, 11);
    let mut g32 = vec![0.0f32; x.len()];
    let mut l32 = vec![0.0; l.outer];
    let out = Outputs {
        grad: Some(&mut g32),
        losses: Some(&mut l32),
        ..Outputs::none()
    };
    let o = opts(1.0, 0.0, 1.0);
    let t32 =
        softmax_cross_entropy(&x32, Targets::Classes(&cls), None, l, o, out, Par::Seq).unwrap();
    let r = run(&xr, Targets::Classes(&cls), None, l, o, Par::Seq);
    assert!(close(t32, r.total, 1e-7), "{t32} {}", r.total);
    for (a, b) in l32.iter().zip(&r.losses) {
        assert!((a - b).abs() <= 1e-7 * (1.0 + b.abs()), "{a} {b}");
    }
    for (a, b) in g32.iter().zip(&r.grad) {
        assert!((*a as f64 - b).abs() <= 1e-6, "{a} {b}");
    }
}

#[test]
fn special_values() {
    let ninf = f64::NEG_INFINITY;
    // -inf logits without target mass cost nothing; with smoothing they cost +inf.
    for l in [Layout::new(4, 3, 1), Layout::new(1, 3, 4)] {
        let rows = [
            [0.0, ninf, 1.0],
            [f64::NAN, 0.0, 1.0],
            [f64::INFINITY, 0.0, 1.0],
            [ninf, ninf, ninf],
        ];
        let flat: Vec<f64> = rows.iter().flatten().cloned().collect();
        let x = if l.inner == 1 {
            flat.clone()
        } else {
            (0..12).map(|f| flat[(f % 4) * 3 + f / 4]).collect()
        };
        let cls = [2i64, 0, 1, 0];
        let r = run(
            &x,
            Targets::Classes(&cls),
            None,
            l,
            opts(1.0, 0.0, 1.0),
            Par::Seq,
        );
        let (want, _, _) = reference(&[0.0, ninf, 1.0], &[0.0, 0.0, 1.0], 1.0);
        assert!(close(r.losses[0], want, 1e-15), "{l:?} {:?}", r.losses);
        let g0 = to_rows(&r.grad, l);
        assert_eq!(g0[1], 0.0);
        assert!(r.losses[1..].iter().all(|v| v.is_nan()), "{:?}", r.losses);
        assert!(g0[3..].iter().all(|v| v.is_nan()));
        assert!(r.total.is_nan());
        let r = run(
            &x,
            Targets::Classes(&cls),
            None,
            l,
            opts(1.0, 0.1, 1.0),
            Par::Seq,
        );
        assert_eq!(r.losses[0], f64::INFINITY);
        // zero weights mask samples, even NaN ones
        let w = [1.0, 0.0, 0.0, 0.0];
        let r = run(
            &x,
            Targets::Classes(&cls),
            Some(&w),
            l,
            opts(1.0, 0.0, 1.0),
            Par::Seq,
        );
        assert!(close(r.total, want, 1e-15));
        let g = to_rows(&r.grad, l);
        assert!(g[3..].iter().all(|v| *v == 0.0));
        assert_eq!(&r.dots[1..], &[0.0, 0.0, 0.0]);
    }
}

#[test]
fn bad_arguments_are_errors_naming_them() {
    let x = [0.0; 6];
    let l = Layout::new(2, 3, 1);
    let call = |c: &[i64], o: Options, l: Layout| {
        softmax_cross_entropy(
            &x,
            Targets::Classes(c),
            None,
            l,
            o,
            Outputs::none(),
            Par::Seq,
        )
    };
    let ok = opts(1.0, 0.0, 1.0);
    for (c, l) in [(3i64, l), (-1, l), (3, Layout::new(1, 3, 2))] {
        match call(&[0, c], ok, l) {
            Err(Error::InvalidParameter {
                name: "labels",
                msg,
                ..
            }) => {
                assert!(msg.contains(&c.to_string()), "{msg}")
            }
            other => panic!("{other:?}"),
        }
    }
    for eps in [-0.1, 1.5, f64::NAN] {
        assert!(matches!(
            call(&[0, 1], opts(1.0, eps, 1.0), l),
            Err(Error::InvalidParameter {
                name: "label_smoothing",
                ..
            })
        ));
    }
    assert!(matches!(
        call(&[0, 1], opts(0.0, 0.0, 1.0), l),
        Err(Error::InvalidParameter {
            name: "temperature",
            ..
        })
    ));
    assert!(matches!(
        call(&[0], ok, l),
        Err(Error::Shape { name: "labels", .. })
    ));
    assert!(matches!(
        call(&[0, 1], ok, Layout::new(2, 4, 1)),
        Err(Error::Shape { name: "logits", .. })
    ));
    let empty: [f64; 0] = [];
    assert!(matches!(
        softmax_cross_entropy(
            &empty,
            Targets::Classes(&[0, 0]),
            None,
            Layout::new(2, 0, 1),
            ok,
            Outputs::none(),
            Par::Seq
        ),
        Err(Error::InvalidParameter { name: "logits", .. })
    ));
    let none = softmax_cross_entropy(
        &empty,
        Targets::Classes(&[]),
        None,
        Layout::new(0, 3, 1),
        ok,
        Outputs::none(),
        Par::Seq,
    );
    assert_eq!(none, Ok(0.0));
}

#[test]
fn the_thread_scratch_serves_both_types_and_long_rows() {
    let total = |x: &[f64], l: Layout, f32_: bool| -> f64 {
        let cls = classes(l.outputs(), l.n, 12);
        let o = opts(0.8, 0.05, 1.0);
        if f32_ {
            let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
            softmax_cross_entropy(
                &x32,
                Targets::Classes(&cls),
                None,
                l,
                o,
                Outputs::none(),
                Par::Seq,
            )
        } else {
            softmax_cross_entropy(
                x,
                Targets::Classes(&cls),
                None,
                l,
                o,
                Outputs::none(),
                Par::Seq,
            )
        }
        .unwrap()
    };
    let (small, long) = (Layout::new(300, 7, 1), Layout::new(2, 5000, 1));
    let xs = uniform(2100, 13, -4.0, 4.0);
    let xl = uniform(10_000, 14, -4.0, 4.0);
    let first = [total(&xs, small, true), total(&xs, small, false)];
    for _ in 0..2 {
        assert_eq!(total(&xl, long, false), total(&xl, long, false));
        assert_eq!(total(&xs, small, false), first[1]);
        assert_eq!(total(&xs, small, true), first[0]);
    }
    let cls = classes(300, 7, 12);
    let r = run(
        &xs,
        Targets::Classes(&cls),
        None,
        small,
        opts(0.8, 0.05, 1.0),
        Par::Seq,
    );
    assert_eq!(r.total, first[1]);
}
