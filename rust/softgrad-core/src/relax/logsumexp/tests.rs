use super::*;
use crate::par::REDUCE_PIECE;
use crate::relax::testutil::{direct, uniform};

fn lse(x: &[f64], b: Option<&[f64]>, l: Layout, t: f64, par: Par) -> (Vec<f64>, Vec<f64>) {
    let mut out = vec![0.0; l.outputs()];
    let mut sign = vec![0.0; l.outputs()];
    let mut res = vec![0.0; l.outputs()];
    logsumexp(x, b, l, t, &mut out, Some(&mut sign), Some(&mut res), par).unwrap();
    // The residual is the value, in f64.
    assert!(out
        .iter()
        .zip(&res)
        .all(|(o, r)| o.to_bits() == r.to_bits()));
    (out, sign)
}

fn close(a: f64, b: f64, rtol: f64) -> bool {
    (a - b).abs() <= rtol * b.abs().max(1e-300)
}

#[test]
fn matches_direct_sum_for_every_layout() {
    for &(outer, n, inner) in &[
        (1, 1, 1),
        (3, 17, 1),
        (2, 5000, 1),
        (4, 33, 5),
        (2, 7, 130),
        (1, 3000, 3),
        (2, 2000, 40),
    ] {
        let l = Layout::new(outer, n, inner);
        let x = uniform(l.len("t").unwrap(), 7, -5.0, 5.0);
        let b = uniform(x.len(), 8, 0.1, 2.0);
        for t in [1.0, 0.5, 3.0] {
            for bb in [None, Some(&b[..])] {
                let (out, sign) = lse(&x, bb, l, t, Par::Seq);
                for o in 0..outer {
                    for j in 0..inner {
                        let want = direct(&x, bb, o * n * inner + j, inner, n, t);
                        let got = out[o * inner + j];
                        assert!(
                            close(got, want, 1e-13),
                            "{outer}x{n}x{inner} t={t}: {got} vs {want}"
                        );
                        assert_eq!(sign[o * inner + j], 1.0);
                    }
                }
            }
        }
    }
}

#[test]
fn float32_is_accumulated_in_float64() {
    let x64 = uniform(10_000, 3, -3.0, 3.0);
    let x32: Vec<f32> = x64.iter().map(|&v| v as f32).collect();
    let xr: Vec<f64> = x32.iter().map(|&v| v as f64).collect();
    let mut out = [0.0f32];
    logsumexp(
        &x32,
        None,
        Layout::new(1, x32.len(), 1),
        1.0,
        &mut out,
        None,
        None,
        Par::Seq,
    )
    .unwrap();
    let want = direct(&xr, None, 0, 1, xr.len(), 1.0);
    assert_eq!(out[0], want as f32);
}

#[test]
fn tiny_terms_survive_log1p() {
    let (out, _) = lse(&[0.0, -50.0], None, Layout::new(1, 2, 1), 1.0, Par::Seq);
    assert!(close(out[0], (-50.0f64).exp().ln_1p(), 1e-15), "{}", out[0]);
    assert!(out[0] > 0.0);
}

#[test]
fn large_values_do_not_overflow() {
    let (out, _) = lse(&[1000.0, 1000.0], None, Layout::new(1, 2, 1), 1.0, Par::Seq);
    assert!(close(out[0], 1000.0 + 2f64.ln(), 1e-15));
    let (out, _) = lse(&[1e300, 1e300], None, Layout::new(1, 2, 1), 1e-10, Par::Seq);
    assert!(close(out[0], 1e300, 1e-15));
}

#[test]
fn special_values_follow_scipy() {
    let l2 = Layout::new(1, 2, 1);
    let inf = f64::INFINITY;
    let (o, s) = lse(&[-inf, -inf], None, l2, 1.0, Par::Seq);
    assert_eq!((o[0], s[0]), (-inf, 0.0));
    let (o, s) = lse(&[], None, Layout::new(1, 0, 1), 1.0, Par::Seq);
    assert_eq!((o[0], s[0]), (-inf, 0.0));
    let (o, _) = lse(&[1.0, f64::NAN], None, l2, 1.0, Par::Seq);
    assert!(o[0].is_nan());
    let (o, s) = lse(&[1.0, inf], None, l2, 1.0, Par::Seq);
    assert_eq!((o[0], s[0]), (inf, 1.0));
    let (o, _): (Vec<f64>, _) = lse(&[inf, inf], Some(&[1.0, -1.0]), l2, 1.0, Par::Seq);
    assert!(o[0].is_nan());
    // A zero weight masks whatever sits under it.
    let (o, _) = lse(&[f64::NAN, 2.0], Some(&[0.0, 1.0]), l2, 1.0, Par::Seq);
    assert_eq!(o[0], 2.0);
    // Negative sums: sign -1, NaN without sign.
    let (o, s) = lse(&[1.0, 2.0], Some(&[1.0, -1.0]), l2, 1.0, Par::Seq);
    assert!(close(o[0], (2f64.exp() - 1f64.exp()).ln(), 1e-14) && s[0] == -1.0);
    let mut out = [0.0f64];
    logsumexp(
        &[1.0, 2.0],
        Some(&[1.0, -1.0]),
        l2,
        1.0,
        &mut out,
        None,
        None,
        Par::Seq,
    )
    .unwrap();
    assert!(out[0].is_nan());
    // Weights cancelling at the maximum.
    let (o, s) = lse(
        &[1.0, 1.0, 0.0],
        Some(&[1.0, -1.0, 1.0]),
        Layout::new(1, 3, 1),
        1.0,
        Par::Seq,
    );
    assert_eq!((o[0], s[0]), (0.0, 1.0));
    let (o, s) = lse(&[1.0, 1.0], Some(&[1.0, -1.0]), l2, 1.0, Par::Seq);
    assert_eq!((o[0], s[0]), (-inf, 0.0));
}

#[test]
fn negligible_weight_at_the_maximum_does_not_overflow() {
    let l2 = Layout::new(1, 2, 1);
    for (b0, want) in [
        (1e-200, 200.0 * 10f64.ln()),
        (5e-324, 0.0),
        (-1e-200, 200.0 * 10f64.ln()),
    ] {
        let (o, s) = lse(
            &[1.0, 0.0],
            Some(&[b0, if want == 0.0 { 1.0 } else { 1e200 }]),
            l2,
            1.0,
            Par::Seq,
        );
        assert!(
            (o[0] - want).abs() <= 1e-13 * want.abs().max(1.0),
            "b0={b0}: {} vs {want}",
            o[0]
        );
        assert_eq!(s[0], 1.0);
    }
}

#[test]
fn bits_do_not_depend_on_thread_count() {
    for &(outer, n, inner) in &[(1, (1 << 17) + 5, 1), (300, 200, 1), (3, 500, 300)] {
        let l = Layout::new(outer, n, inner);
        let x = uniform(l.len("t").unwrap(), 11, -20.0, 20.0);
        let b = uniform(x.len(), 12, -1.0, 2.0);
        let base = lse(&x, Some(&b), l, 0.7, Par::Seq);
        for par in [Par::Rayon(2), Par::Rayon(3)] {
            let got = lse(&x, Some(&b), l, 0.7, par);
            assert!(base
                .0
                .iter()
                .zip(&got.0)
                .all(|(a, b)| a.to_bits() == b.to_bits()));
            assert_eq!(base.1, got.1);
        }
    }
}

#[test]
fn empty_layouts_are_fine() {
    for l in [
        Layout::new(0, 3, 2),
        Layout::new(2, 3, 0),
        Layout::new(0, 0, 0),
    ] {
        // No outputs: the call succeeds, and still checks its lengths.
        let mut none: [f64; 0] = [];
        logsumexp(&[], None, l, 1.0, &mut none, None, None, Par::Rayon(2)).unwrap();
        let e = logsumexp(&[], None, l, 1.0, &mut [0.0], None, None, Par::Seq).unwrap_err();
        assert!(matches!(e, Error::Shape { name: "out", .. }), "{e}");
    }
    // Empty sums: -inf with sign 0, kept in the residual too.
    for (l, par) in [
        (Layout::new(2, 0, 3), Par::Seq),
        (Layout::new(4, 0, 1), Par::Rayon(2)),
    ] {
        let (mut out, mut sign, mut lse) = ([1.0; 6], [1.0; 6], [1.0; 6]);
        let k = l.outputs();
        logsumexp(
            &[],
            None,
            l,
            1.0,
            &mut out[..k],
            Some(&mut sign[..k]),
            Some(&mut lse[..k]),
            par,
        )
        .unwrap();
        assert!(out[..k].iter().all(|&v| v == f64::NEG_INFINITY));
        assert!(sign[..k].iter().all(|&s| s == 0.0));
        assert!(lse[..k].iter().all(|&v| v == f64::NEG_INFINITY));
    }
}

#[test]
fn row_pieces_combine_left_to_right() {
    let (level, inv_t) = (simd::level(), 1.0 / 0.7);
    let x = uniform(40 * REDUCE_PIECE + 5, 15, -20.0, 20.0);
    let b = uniform(x.len(), 16, -1.0, 2.0);
    let pieces: Vec<Partial> = x
        .chunks(REDUCE_PIECE)
        .zip(b.chunks(REDUCE_PIECE))
        .map(|(x, b)| Partial::of_slice(level, x, Some(b), inv_t))
        .collect();
    let fold = |ps: &mut dyn Iterator<Item = &Partial>| {
        ps.fold(Partial::EMPTY, |a, p| a.combine(*p, inv_t))
    };
    let key = |p: Partial| (p.max.to_bits(), p.w.to_bits(), p.s.to_bits());
    let fwd = fold(&mut pieces.iter());
    let rev = fold(&mut pieces.iter().rev());
    assert_ne!(key(fwd), key(rev), "the data cannot reveal a reordering");
    for par in [Par::Seq, Par::Rayon(2), Par::Rayon(3)] {
        let got = reduce_row(level, &x, Some(&b), inv_t, par).unwrap();
        assert_eq!(key(got), key(fwd), "{par:?}");
    }
}

#[test]
fn plus_inf_in_a_lane_past_the_first_block_reads_that_lane() {
    // logsumexp over axis 0 of a (3, 600) array: two lane blocks (512 + 88).
    let l = Layout::new(1, 3, 600);
    let inf = f64::INFINITY;
    let mut x = uniform(1800, 3, -1.0, 1.0);
    let mut b = uniform(1800, 4, 0.5, 1.5);
    x[600 + 550] = inf; // lane 550, in the second block
    x[2 * 600 + 10] = inf; // lane 10, weighted -1: the direct sum is -inf
    b[2 * 600 + 10] = -1.0;
    x[200] = inf; // lane 200: +inf and -inf terms: NaN
    x[600 + 200] = inf;
    b[600 + 200] = -1.0;
    for par in [Par::Seq, Par::Rayon(2), Par::Rayon(3)] {
        let (out, _) = lse(&x, None, l, 1.0, par);
        assert_eq!(out[550], inf, "{par:?}");
        let (out, sign) = lse(&x, Some(&b), l, 1.0, par);
        assert_eq!((out[550], sign[550]), (inf, 1.0), "{par:?}");
        assert_eq!((out[10], sign[10]), (inf, -1.0), "{par:?}");
        assert!(out[200].is_nan() && sign[200].is_nan(), "{par:?}");
        for j in [0, 11, 511, 512, 549, 551, 599] {
            let want = direct(&x, Some(&b), j, 600, 3, 1.0);
            assert!(close(out[j], want, 1e-13), "lane {j}: {} vs {want}", out[j]);
        }
    }
}

#[test]
fn all_neg_inf_strided_pieces_are_skipped_not_nan() {
    // (1, 3000, 40): 819 rows per piece. Lane 0: the first piece all -inf; lane 1: all -inf.
    let l = Layout::new(1, 3000, 40);
    let mut x = uniform(3000 * 40, 23, -30.0, 30.0);
    for i in 0..1000 {
        x[i * 40] = f64::NEG_INFINITY;
    }
    for i in 0..3000 {
        x[i * 40 + 1] = f64::NEG_INFINITY;
    }
    for par in [Par::Seq, Par::Rayon(2)] {
        let (out, sign) = lse(&x, None, l, 0.9, par);
        let want = direct(&x, None, 0, 40, 3000, 0.9);
        assert!(close(out[0], want, 1e-13), "{} vs {want}", out[0]);
        assert_eq!((out[1], sign[1]), (f64::NEG_INFINITY, 0.0));
    }
}

#[test]
fn rejects_bad_temperature_and_lengths() {
    let mut out = [0.0];
    for t in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let e = logsumexp(
            &[1.0],
            None,
            Layout::new(1, 1, 1),
            t,
            &mut out,
            None,
            None,
            Par::Seq,
        )
        .unwrap_err();
        assert!(e.to_string().contains("temperature"), "{e}");
    }
    let e = logsumexp(
        &[1.0, 2.0],
        None,
        Layout::new(1, 3, 1),
        1.0,
        &mut out,
        None,
        None,
        Par::Seq,
    )
    .unwrap_err();
    assert!(matches!(e, Error::Shape { name: "a", .. }));
    let e = logsumexp(
        &[1.0],
        Some(&[1.0, 2.0]),
        Layout::new(1, 1, 1),
        1.0,
        &mut out,
        None,
        None,
        Par::Seq,
    )
    .unwrap_err();
    assert!(matches!(e, Error::Shape { name: "b", .. }));
}
