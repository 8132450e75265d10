//! Unit tests of the soft sort and rank kernels: hard limits, invariants, layouts, threads, and the
//! derivatives against central differences.

use super::*;
use crate::relax::testutil::uniform;

const ALL: [(Op, Reg); 5] = [
    (Op::TopK(3), Reg::L2),
    (Op::Sort, Reg::L2),
    (Op::Sort, Reg::Kl),
    (Op::Rank, Reg::L2),
    (Op::Rank, Reg::Kl),
];

fn spec(op: Op, reg: Reg, strength: f64, descending: bool) -> Spec {
    Spec {
        op,
        reg,
        strength,
        descending,
    }
}

fn run(x: &[f64], l: Layout, s: Spec, par: Par) -> Vec<f64> {
    let mut out = vec![0.0; x.len()];
    forward(x, l, s, &mut out, None, None, par).unwrap();
    out
}

struct Owned {
    perm: Vec<u32>,
    z: Vec<f64>,
    start: Vec<bool>,
}

impl Owned {
    fn res(&self) -> Res<'_> {
        Res {
            perm: &self.perm,
            z: &self.z,
            start: &self.start,
            lengths: None,
        }
    }
}

fn run_res(x: &[f64], l: Layout, s: Spec, par: Par) -> (Vec<f64>, Owned) {
    let n = x.len();
    let mut o = Owned {
        perm: vec![0; n],
        z: vec![0.0; n],
        start: vec![false; n],
    };
    let mut out = vec![0.0; n];
    let r = ResMut {
        perm: &mut o.perm,
        z: &mut o.z,
        start: &mut o.start,
    };
    forward(x, l, s, &mut out, Some(r), None, par).unwrap();
    (out, o)
}

#[test]
fn tiny_strength_is_the_hard_sort_and_rank() {
    let x = [0.3, -1.0, 2.5, 0.7, 0.1];
    let l = Layout::new(1, 5, 1);
    for reg in [Reg::L2, Reg::Kl] {
        let s = run(&x, l, spec(Op::Sort, reg, 1e-6, false), Par::Seq);
        assert_eq!(s, vec![-1.0, 0.1, 0.3, 0.7, 2.5]);
        let s = run(&x, l, spec(Op::Sort, reg, 1e-6, true), Par::Seq);
        assert_eq!(s, vec![2.5, 0.7, 0.3, 0.1, -1.0]);
        let r = run(&x, l, spec(Op::Rank, reg, 1e-6, false), Par::Seq);
        assert_eq!(r, vec![3.0, 1.0, 5.0, 4.0, 2.0]);
        let r = run(&x, l, spec(Op::Rank, reg, 1e-6, true), Par::Seq);
        assert_eq!(r, vec![3.0, 5.0, 1.0, 2.0, 4.0]);
    }
}

#[test]
fn ties_get_average_ranks() {
    let x = [1.0, 2.0, 1.0, 1.0, 0.0];
    let r = run(
        &x,
        Layout::new(1, 5, 1),
        spec(Op::Rank, Reg::L2, 1e-3, false),
        Par::Seq,
    );
    assert_eq!(r, vec![3.0, 5.0, 3.0, 3.0, 1.0]);
}

#[test]
fn l2_preserves_sums_and_huge_strength_gives_the_mean() {
    let x = uniform(50, 3, -4.0, 4.0);
    let l = Layout::new(1, 50, 1);
    let mean = x.iter().sum::<f64>() / 50.0;
    for e in [0.01, 1.0, 30.0] {
        let s = run(&x, l, spec(Op::Sort, Reg::L2, e, false), Par::Seq);
        assert!((s.iter().sum::<f64>() - 50.0 * mean).abs() < 1e-10);
        assert!(s.windows(2).all(|w| w[0] <= w[1] + 1e-12));
        let r = run(&x, l, spec(Op::Rank, Reg::L2, e, false), Par::Seq);
        assert!((r.iter().sum::<f64>() - 1275.0).abs() < 1e-9);
    }
    let s = run(&x, l, spec(Op::Sort, Reg::L2, 1e6, false), Par::Seq);
    assert!(s.iter().all(|v| (v - mean).abs() < 1e-3));
    let r = run(&x, l, spec(Op::Rank, Reg::Kl, 1e9, false), Par::Seq);
    assert!(r.iter().all(|v| (v - 25.5).abs() < 1e-3), "{r:?}");
}

#[test]
fn kl_stays_finite_for_wild_scales() {
    let x = [1e300, -1e300, 0.0, 1e-300, 5.0, 5.0];
    let l = Layout::new(1, 6, 1);
    for (op, reg) in ALL {
        for e in [1e-300, 1e-8, 1.0, 1e8, 1e300] {
            let (out, o) = run_res(&x, l, spec(op, reg, e, false), Par::Seq);
            if op == Op::Rank {
                assert!(
                    out.iter().all(|v| v.is_finite()),
                    "{op:?} {reg:?} {e}: {out:?}"
                );
            }
            let g = [1.0, -2.0, 0.5, 0.3, 1.0, -1.0];
            let mut gx = vec![0.0f64; 6];
            let de = vjp(o.res(), &g, l, spec(op, reg, e, false), &mut gx, Par::Seq).unwrap();
            assert!(
                gx.iter().all(|v| !v.is_nan()) && !de.is_nan(),
                "{op:?} {reg:?} {e}"
            );
        }
    }
}

#[test]
fn strided_lanes_equal_contiguous_rows_and_threads_do_not_matter() {
    let (outer, n, inner) = (3, 700, 5);
    let x = uniform(outer * n * inner, 9, -3.0, 3.0);
    for (op, reg) in ALL {
        let s = spec(op, reg, 0.7, false);
        let got = run(&x, Layout::new(outer, n, inner), s, Par::Seq);
        for o in 0..outer {
            for j in 0..inner {
                let lane: Vec<f64> = (0..n).map(|i| x[(o * n + i) * inner + j]).collect();
                let want = run(&lane, Layout::new(1, n, 1), s, Par::Seq);
                for i in 0..n {
                    assert_eq!(got[(o * n + i) * inner + j], want[i]);
                }
            }
        }
        for t in [2, 3] {
            assert_eq!(run(&x, Layout::new(outer, n, inner), s, Par::Rayon(t)), got);
        }
        let wide = Layout::new(20, 40_000, 1);
        let y = uniform(wide.len("t").unwrap(), 4, -1.0, 1.0);
        let one = run(&y, wide, s, Par::Seq);
        assert_eq!(run(&y, wide, s, Par::Rayon(2)), one);
    }
}

#[test]
fn a_long_lane_gives_the_same_bits_on_any_threads_and_adjoint_derivatives() {
    // past the parallel sort's threshold; strength 1 makes the lane one block (pulled back in lane
    // order), 1e-6 cuts it into many (gathers and scatters)
    let n = super::work::PAR_SORT_MIN + 3;
    let l = Layout::new(1, n, 1);
    let (x, g, u) = (
        uniform(n, 21, -3.0, 3.0),
        uniform(n, 22, -1.0, 1.0),
        uniform(n, 23, -1.0, 1.0),
    );
    for e in [1.0, 1e-6] {
        for (op, reg) in ALL {
            let s = spec(op, reg, e, false);
            let (out, o) = run_res(&x, l, s, Par::Seq);
            let blocks = o.start.iter().filter(|&&b| b).count();
            if (op, reg) == (Op::Rank, Reg::L2) {
                assert_eq!(blocks == 1, e == 1.0, "{e}");
            }
            let mut gx = vec![0.0; n];
            let ge = vjp(o.res(), &g, l, s, &mut gx, Par::Seq).unwrap();
            let mut tan = vec![0.0; n];
            jvp(o.res(), &u, 0.3, l, s, &mut tan, Par::Seq).unwrap();
            for t in [2, 3] {
                let (out_t, o_t) = run_res(&x, l, s, Par::Rayon(t));
                assert_eq!(out_t, out);
                assert_eq!((&o_t.perm, &o_t.z, &o_t.start), (&o.perm, &o.z, &o.start));
                let mut gx_t = vec![0.0; n];
                assert_eq!(
                    vjp(o_t.res(), &g, l, s, &mut gx_t, Par::Rayon(t)).unwrap(),
                    ge
                );
                assert_eq!(gx_t, gx);
            }
            let lhs: f64 = g.iter().zip(&tan).map(|(a, b)| a * b).sum();
            let rhs: f64 = gx.iter().zip(&u).map(|(a, b)| a * b).sum::<f64>() + 0.3 * ge;
            let scale: f64 = g.iter().zip(&tan).map(|(a, b)| (a * b).abs()).sum();
            assert!(
                (lhs - rhs).abs() < 1e-10 * (1.0 + scale),
                "{op:?} {reg:?} {e}"
            );
        }
    }
}

#[test]
fn derivatives_match_central_differences_and_are_adjoint() {
    let (outer, n, inner) = (2, 9, 3);
    let l = Layout::new(outer, n, inner);
    let x = uniform(l.len("t").unwrap(), 5, -2.0, 2.0);
    let u = uniform(x.len(), 6, -1.0, 1.0);
    let g = uniform(x.len(), 7, -1.0, 1.0);
    for (op, reg) in ALL {
        for desc in [false, true] {
            let e = 0.6;
            let s = spec(op, reg, e, desc);
            let (_, o) = run_res(&x, l, s, Par::Seq);
            let mut tan = vec![0.0; x.len()];
            jvp(o.res(), &u, 0.3, l, s, &mut tan, Par::Seq).unwrap();
            let h = 1e-6;
            let xp: Vec<f64> = x.iter().zip(&u).map(|(a, b)| a + h * b).collect();
            let xm: Vec<f64> = x.iter().zip(&u).map(|(a, b)| a - h * b).collect();
            let fp = run(&xp, l, spec(op, reg, e + 0.3 * h, desc), Par::Seq);
            let fm = run(&xm, l, spec(op, reg, e - 0.3 * h, desc), Par::Seq);
            for k in 0..x.len() {
                let fd = (fp[k] - fm[k]) / (2.0 * h);
                assert!(
                    (fd - tan[k]).abs() < 1e-6 * (1.0 + fd.abs()),
                    "{op:?} {reg:?}"
                );
            }
            let mut gx = vec![0.0; x.len()];
            let ge = vjp(o.res(), &g, l, s, &mut gx, Par::Seq).unwrap();
            let lhs: f64 = g.iter().zip(&tan).map(|(a, b)| a * b).sum();
            let rhs: f64 = gx.iter().zip(&u).map(|(a, b)| a * b).sum::<f64>() + 0.3 * ge;
            assert!(
                (lhs - rhs).abs() < 1e-10 * (1.0 + lhs.abs()),
                "{op:?} {reg:?}"
            );
        }
    }
}

#[test]
fn bad_input_is_refused() {
    let l = Layout::new(1, 3, 1);
    let mut out = vec![0.0; 3];
    for e in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let err = forward(
            &[1.0, 2.0, 3.0],
            l,
            spec(Op::Rank, Reg::L2, e, false),
            &mut out,
            None,
            None,
            Par::Seq,
        );
        assert!(matches!(
            err,
            Err(Error::InvalidParameter {
                name: "strength",
                ..
            })
        ));
    }
    let err = forward(
        &[1.0, f64::NAN, 3.0],
        l,
        spec(Op::Sort, Reg::L2, 1.0, false),
        &mut out,
        None,
        None,
        Par::Seq,
    )
    .unwrap_err();
    assert!(err.to_string().contains("flat index 1"), "{err}");
    let err = forward(
        &[1.0, 2.0],
        l,
        spec(Op::Sort, Reg::L2, 1.0, false),
        &mut out,
        None,
        None,
        Par::Seq,
    );
    assert!(matches!(err, Err(Error::Shape { .. })));
    // empty lanes are fine
    forward::<f64>(
        &[],
        Layout::new(3, 0, 2),
        spec(Op::Rank, Reg::Kl, 1.0, false),
        &mut [],
        None,
        None,
        Par::Seq,
    )
    .unwrap();
}

#[test]
fn topk_is_a_capped_simplex_mask() {
    let x = [0.3, -1.0, 2.5, 0.7, 0.1, 0.7];
    let l = Layout::new(1, 6, 1);
    let m = run(&x, l, spec(Op::TopK(2), Reg::L2, 1e-6, false), Par::Seq);
    assert_eq!(m, vec![0.0, 0.0, 1.0, 0.5, 0.0, 0.5]); // the tie at 0.7 shares the second place
    for e in [0.1, 1.0, 10.0] {
        let m = run(&x, l, spec(Op::TopK(4), Reg::L2, e, false), Par::Seq);
        assert!((m.iter().sum::<f64>() - 4.0).abs() < 1e-12);
        assert!(m.iter().all(|&v| (0.0..=1.0).contains(&v)), "{m:?}");
    }
    let m = run(&x, l, spec(Op::TopK(4), Reg::L2, 1e9, false), Par::Seq);
    assert!(m.iter().all(|&v| (v - 4.0 / 6.0).abs() < 1e-6));
    let m = run(&x, l, spec(Op::TopK(0), Reg::L2, 1.0, false), Par::Seq);
    assert_eq!(m, vec![0.0; 6]);
    let mut out = vec![0.0; 6];
    let err = forward(
        &x,
        l,
        spec(Op::TopK(7), Reg::L2, 1.0, false),
        &mut out,
        None,
        None,
        Par::Seq,
    );
    assert!(matches!(
        err,
        Err(Error::InvalidParameter { name: "k", .. })
    ));
    let err = forward(
        &x,
        l,
        spec(Op::TopK(2), Reg::Kl, 1.0, false),
        &mut out,
        None,
        None,
        Par::Seq,
    );
    assert!(matches!(
        err,
        Err(Error::InvalidParameter {
            name: "regularization",
            ..
        })
    ));
}

#[test]
fn ragged_lanes_equal_truncated_rows_with_zero_padding() {
    let (outer, n, inner) = (2, 9, 3);
    let l = Layout::new(outer, n, inner);
    let x = uniform(l.len("t").unwrap(), 11, -2.0, 2.0);
    let lengths = [9usize, 0, 4, 1, 7, 2];
    let g = uniform(x.len(), 12, -1.0, 1.0);
    for (op, reg) in ALL {
        let s = spec(op, reg, 0.8, false);
        if matches!(op, Op::TopK(k) if k > 0) {
            let mut out = vec![0.0; x.len()];
            let err = forward(&x, l, s, &mut out, None, Some(&lengths), Par::Seq);
            assert!(matches!(
                err,
                Err(Error::InvalidParameter { name: "k", .. })
            ));
            continue;
        }
        let len = x.len();
        let (mut out, mut perm, mut z, mut start) = (
            vec![9.0; len],
            vec![0; len],
            vec![0.0; len],
            vec![false; len],
        );
        let r = ResMut {
            perm: &mut perm,
            z: &mut z,
            start: &mut start,
        };
        forward(&x, l, s, &mut out, Some(r), Some(&lengths), Par::Rayon(2)).unwrap();
        let res = Res {
            perm: &perm,
            z: &z,
            start: &start,
            lengths: Some(&lengths),
        };
        let mut gx = vec![9.0; len];
        let ge = vjp(res, &g, l, s, &mut gx, Par::Seq).unwrap();
        let mut want_ge = 0.0;
        for o in 0..outer {
            for j in 0..inner {
                let m = lengths[o * inner + j];
                let at = |i: usize| (o * n + i) * inner + j;
                let lane: Vec<f64> = (0..m).map(|i| x[at(i)]).collect();
                let gl: Vec<f64> = (0..m).map(|i| g[at(i)]).collect();
                let lm = Layout::new(1, m, 1);
                let (want, own) = run_res(&lane, lm, s, Par::Seq);
                let mut gw = vec![0.0; m];
                want_ge += vjp(own.res(), &gl, lm, s, &mut gw, Par::Seq).unwrap();
                for i in 0..n {
                    let (o_want, g_want) = if i < m { (want[i], gw[i]) } else { (0.0, 0.0) };
                    assert_eq!(out[at(i)], o_want, "{op:?} {reg:?}");
                    assert_eq!(gx[at(i)], g_want, "{op:?} {reg:?}");
                }
            }
        }
        assert!((ge - want_ge).abs() < 1e-12 * (1.0 + want_ge.abs()));
    }
    let mut out = vec![0.0; x.len()];
    let bad = [10usize, 0, 0, 0, 0, 0];
    let err = forward(
        &x,
        l,
        spec(Op::Rank, Reg::L2, 1.0, false),
        &mut out,
        None,
        Some(&bad),
        Par::Seq,
    );
    assert!(matches!(
        err,
        Err(Error::InvalidParameter {
            name: "lengths",
            ..
        })
    ));
}

#[test]
fn l2_blocks_of_values_near_the_float_limit_equal_the_scaled_problem() {
    use super::pav::lane_scale;
    // ordinary lanes are not scaled (every result keeps its bits)
    assert_eq!(lane_scale(&[1e300, 0.0, -1e300]), (1.0, 1.0));
    assert_eq!(lane_scale(&vec![-1e300; 5000]), (1.0, 1.0));
    assert_eq!(lane_scale(&[]), (1.0, 1.0));
    let (s, inv) = lane_scale(&[1e308, -1e308]);
    assert!(s < 1.0 && s * inv == 1.0);
    // The same problem 2^64 times smaller (exactly) is far from the limit: a rank is that of
    // (x c, ε c), a sort 1/c times that of (x c, ε / c); their derivatives follow.
    let c = 2f64.powi(-64);
    let x = [1e308, -1e308, 0.0, 1e308, 3.0, 1e308];
    let xc: Vec<f64> = x.iter().map(|v| v * c).collect();
    let (g, u) = (
        [1.0, -2.0, 0.5, 0.3, 1.0, -1.5],
        [0.5, 1.0, -1.0, 2.0, 0.0, -0.5],
    );
    let uc: Vec<f64> = u.iter().map(|v| v * c).collect();
    let l = Layout::new(1, 6, 1);
    // (both infinite only where the exact value is beyond any float: see below)
    let close = |a: f64, b: f64, what: &str| {
        assert!(
            a == b || (a - b).abs() <= 1e-12 * b.abs(),
            "{what}: {a} vs {b}"
        );
    };
    for op in [Op::Rank, Op::Sort, Op::TopK(2)] {
        for desc in [false, true] {
            for e in [1e-300, 1.0, 1e200, 1.7e308] {
                let sp = spec(op, Reg::L2, e, desc);
                let (out, o) = run_res(&x, l, sp, Par::Seq);
                let what = format!("{op:?} {desc} {e}");
                // Finite, with a constant cotangent and no strength tangent: a sort's derivative in
                // the strength, -σ(ρ_i - mean_B ρ)/ε² in a block, is ~1e600 at ε = 1e-300 (beyond
                // any float) but sums to 0 over a block.
                let mut gx = vec![0.0; 6];
                let de = vjp(o.res(), &[1.0; 6], l, sp, &mut gx, Par::Seq).unwrap();
                let mut tan = vec![0.0; 6];
                jvp(o.res(), &u, 0.0, l, sp, &mut tan, Par::Seq).unwrap();
                assert!(
                    out.iter().chain(&gx).chain(&tan).all(|v| v.is_finite()) && de.is_finite(),
                    "{what}: {out:?} {gx:?} {de} {tan:?}"
                );
                let de = vjp(o.res(), &g, l, sp, &mut gx, Par::Seq).unwrap();
                jvp(o.res(), &u, 0.3, l, sp, &mut tan, Par::Seq).unwrap();
                // (the scaled strength must stay a normal float for the identity to be exact)
                let (ec, back, de_back, de_tan) = match op {
                    Op::Sort if e / c < f64::MAX => (e / c, 1.0 / c, 1.0 / (c * c), 1.0 / c),
                    Op::Rank | Op::TopK(_) if e * c > 1e-300 => (e * c, 1.0, c, c),
                    _ => continue,
                };
                let spc = spec(op, Reg::L2, ec, desc);
                let (outc, oc) = run_res(&xc, l, spc, Par::Seq);
                let mut gxc = vec![0.0; 6];
                let dec = vjp(oc.res(), &g, l, spc, &mut gxc, Par::Seq).unwrap();
                let mut tanc = vec![0.0; 6];
                jvp(oc.res(), &uc, 0.3 * de_tan, l, spc, &mut tanc, Par::Seq).unwrap();
                assert_eq!(o.start, oc.start, "{what}");
                for i in 0..6 {
                    close(out[i], outc[i] * back, &what);
                    close(gx[i], gxc[i] * c * back, &what);
                    close(tan[i], tanc[i] * back, &what);
                }
                close(de, dec * de_back, &what);
            }
        }
    }
    // at huge strength a sort pools everything: the mean (which no sum of x can hold)
    let s = run(&x, l, spec(Op::Sort, Reg::L2, 1.7e308, false), Par::Seq);
    let mean = 1e308 / 3.0 + 0.5;
    assert!(s.iter().all(|v| (v - mean).abs() <= 1e-15 * mean), "{s:?}");
}
