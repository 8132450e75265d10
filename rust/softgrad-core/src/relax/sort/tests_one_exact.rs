//! The one-block path of l2 lanes (`one.rs`) on exact cases: the pass that checks a lane against a
//! brute-force re-implementation (finiteness in any piece, the OR of the key differences, `σ x + 0`
//! written with no `-0`), the margins of both tests at lanes of two values where every quantity is
//! exact (one ulp past a test the lane is two blocks, and the closed form says so), a subnormal
//! strength, and the lanes the path must leave alone.

use super::one::{scan, try_one, MAP_PIECE};
use super::pav::{desc_key, forward_in, forward_lane};
use super::work::with_work;
use super::work::PAR_SORT_MIN;
use super::*;
use crate::relax::testutil::uniform;

/// An l2 (quadratic) lane's spec.
fn l2(op: Op, strength: f64, descending: bool) -> Spec {
    let reg = Reg::L2;
    Spec {
        op,
        reg,
        strength,
        descending,
    }
}

const PARS: [Par; 3] = [Par::Seq, Par::Rayon(2), Par::Rayon(3)];

/// `OR_i desc_key(σ x_i + 0) ^ desc_key(σ x_0 + 0)`, the long way.
fn diff_ref(x: &[f64], sign: f64) -> u64 {
    let k0 = desc_key(sign * x[0] + 0.0);
    x.iter()
        .fold(0, |d, &v| d | (desc_key(sign * v + 0.0) ^ k0))
}

#[test]
fn the_scan_rejects_a_non_finite_value_in_any_piece() {
    // one piece; two pieces (parallel from PAR_SORT_MIN); four pieces, the last of one value
    for n in [3, PAR_SORT_MIN, 3 * MAP_PIECE + 1] {
        let base = uniform(n, 11, -2.0, 2.0);
        for at in [0, 1, n - 1, MAP_PIECE + 3, 2 * MAP_PIECE + 7] {
            if at >= n {
                continue;
            }
            for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                let mut x = base.clone();
                x[at] = bad;
                for par in PARS {
                    for sign in [1.0, -1.0] {
                        let mut zx = vec![0.0; n];
                        let what = format!("n {n} at {at} {bad} {par:?} {sign}");
                        let r = scan::<true>(par, &x, sign, Some(&mut zx), "f");
                        assert!(matches!(r, Err(Error::InvalidParameter { .. })), "{what}");
                        let r = scan::<false>(par, &x, sign, None, "f");
                        assert!(matches!(r, Err(Error::InvalidParameter { .. })), "{what}");
                    }
                }
            }
        }
        for par in PARS {
            assert!(scan::<true>(par, &base, 1.0, None, "f").is_ok());
        }
    }
}

#[test]
fn the_scan_finds_the_or_of_the_key_differences_and_writes_sigma_x_plus_zero() {
    for n in [5, 2 * MAP_PIECE, 4 * MAP_PIECE, 3 * MAP_PIECE + 1] {
        let random = uniform(n, n as u64, -3.0, 3.0);
        // signed zeros (equal keys: no difference at all)
        let zeros: Vec<f64> = (0..n)
            .map(|i| if i % 3 == 1 { 0.0 } else { -0.0 })
            .collect();
        // every value after the first equal: each difference is the same, so an XOR of them
        // (within a piece or across an even number of pieces) would cancel
        let mut same = vec![2.0; n];
        same[0] = 1.0;
        // zeros of both signs among values of both signs
        let mut mixed = uniform(n, 3, -1.0, 1.0);
        for i in (0..n).step_by(4) {
            mixed[i] = if i % 8 == 0 { -0.0 } else { 0.0 };
        }
        for (name, x) in [
            ("random", &random),
            ("zeros", &zeros),
            ("same", &same),
            ("mixed", &mixed),
        ] {
            for sign in [1.0, -1.0] {
                let want = diff_ref(x, sign);
                if name == "zeros" {
                    assert_eq!(want, 0);
                }
                if name == "same" {
                    assert_ne!(want, 0);
                }
                for par in PARS {
                    let what = format!("{name} n {n} {sign} {par:?}");
                    let mut zx = vec![f64::NAN; n];
                    let sc = scan::<true>(par, x, sign, Some(&mut zx), "f").unwrap();
                    assert_eq!(sc.diff, want, "{what}");
                    assert_eq!(scan::<false>(par, x, sign, None, "f").unwrap().diff, want);
                    for (i, (&z, &v)) in zx.iter().zip(x.iter()).enumerate() {
                        let z_ref = sign * v + 0.0;
                        assert_eq!(z.to_bits(), z_ref.to_bits(), "{what} at {i}");
                        assert!(z != 0.0 || z.is_sign_positive(), "{what} at {i}");
                    }
                }
            }
        }
    }
}

/// The l2 forward of one lane with its residuals; `perm` starts as `u32::MAX`, which only the sort
/// + PAV path overwrites: `(out, one block by one.rs, residual z)`.
fn run(x: &[f64], sp: Spec, par: Par) -> (Vec<f64>, bool, Vec<f64>) {
    let n = x.len();
    let mut out = vec![0.0; n];
    let mut perm = vec![u32::MAX; n];
    let (mut z, mut start) = (vec![0.0; n], vec![false; n]);
    let res = (&mut perm[..], &mut z[..], &mut start[..]);
    forward_lane(&sp, x, &mut out, Some(res), par).unwrap();
    (out, perm.iter().all(|&p| p == u32::MAX), z)
}

#[test]
fn the_range_test_takes_two_values_at_most_n_over_two_apart_less_its_margin() {
    // Ranks of x = (0, r), ε = 1, n = 2 (ascending; descending is the mirror image): sorted
    // descending z = (r, 0), y = z - ρ = (r - 2, -1) is decreasing iff r > 1, when the solution
    // is two blocks and the ranks are exactly ρ, (1, 2). For r <= 1 it is one block: the ranks
    // are 3/2 ∓ r/2. The path takes the lane iff r <= 1 - 2^-48 (its margin).
    let d = 2f64.powi(-49);
    for (r, one, want) in [
        // two blocks one ulp-pair past the test: exactly (1, 2), not (1 - 2^-50, 2 + 2^-50)
        (1.0 + d, false, [1.0, 2.0]),
        (1.0 + 8.0 * d, false, [1.0, 2.0]),
        // at the test: one block, found by PAV (equality pools)
        (1.0, false, [1.0, 2.0]),
        // inside the margin, at its edge (taken: the test is `>`), then inside the test
        (1.0 - d, false, [1.0 + d / 2.0, 2.0 - d / 2.0]),
        (1.0 - 2.0 * d, true, [1.0 + d, 2.0 - d]),
        (1.0 - 4.0 * d, true, [1.0 + 2.0 * d, 2.0 - 2.0 * d]),
        (0.5, true, [1.25, 1.75]),
        (0.0, true, [1.5, 1.5]),
    ] {
        for desc in [false, true] {
            for par in PARS {
                let (out, got_one, _) = run(&[0.0, r], l2(Op::Rank, 1.0, desc), par);
                let want = if desc { [want[1], want[0]] } else { want };
                assert_eq!(out, want, "r {r} desc {desc}");
                assert_eq!(got_one, one, "r {r} desc {desc}");
            }
        }
    }
    // the same lane scaled by 2^40 with ε = 2^40: the same bits
    let s = 2f64.powi(40);
    let (out, one, _) = run(&[0.0, (1.0 + d) * s], l2(Op::Rank, s, false), Par::Seq);
    assert_eq!((out, one), (vec![1.0, 2.0], false));
}

#[test]
fn the_spread_test_takes_two_values_at_most_one_over_eps_apart_less_its_margin() {
    // Sort of x = (0, 1) ascending (σ = -1, z = (0, -1), D = 1/2), n = 2: y = ρ/ε - z =
    // (2/ε, 1/ε + 1) is decreasing iff ε < 1, when the solution is two blocks and the sort is
    // the hard one, (0, 1); for ε >= 1 it is one block: 1/2 ∓ 1/(2ε). The path takes the lane iff
    // 2 ε D (1 - (n + 16) 2^-51) >= (n - 1)², i.e. ε (1 - 18 · 2^-51) >= 1.
    let d = 2f64.powi(-51);
    for (e, one) in [
        (1.0 - 2.0 * d, false),
        (1.0 - 64.0 * d, false),
        // at the margin's edge (ε (1 - 18 · 2^-51) rounds to 1: taken, the test is `<`), above it
        (1.0 + 18.0 * d, true),
        (1.0 + 25.0 * d, true),
        (2.0, true),
        (4.0, true),
    ] {
        // the closed form: (0, 1) below ε = 1, (1/2 - 1/(2ε), 1/2 + 1/(2ε)) from it on
        let want = if e < 1.0 {
            [0.0, 1.0]
        } else {
            [0.5 - 0.5 / e, 0.5 + 0.5 / e]
        };
        for desc in [false, true] {
            for par in PARS {
                let (out, got_one, _) = run(&[0.0, 1.0], l2(Op::Sort, e, desc), par);
                let want = if desc { [want[1], want[0]] } else { want };
                let what = format!("ε {e} desc {desc}");
                assert_eq!(out, want, "{what}");
                assert_eq!(got_one, one, "{what}");
            }
        }
    }
    // below the test: exactly the hard sort, never 1/2 ∓ 1/(2ε) (which is -2^-51, 1 + 2^-51 at
    // ε = 1 - 2^-50)
    let (out, _, _) = run(&[1.0, 0.0], l2(Op::Sort, 1.0 - 2.0 * d, false), Par::Seq);
    assert_eq!(out, [0.0, 1.0]);
}

#[test]
fn a_one_block_sort_writes_no_negative_zero() {
    // x = (-1, 0, 1) sorted ascending at ε = 4: 2 ε D = 8 >= 4, one block with mean 0; the
    // middle value is -((2 - 2)/4 + 0) + 0 = +0.
    for par in PARS {
        let (out, one, _) = run(&[1.0, -1.0, 0.0], l2(Op::Sort, 4.0, false), par);
        assert!(one);
        assert_eq!(out, [-0.25, 0.0, 0.25]);
        assert_eq!(out[1].to_bits(), 0, "{out:?}");
        let (out, one, _) = run(&[1.0, -1.0, 0.0], l2(Op::Sort, 4.0, true), par);
        assert!(one);
        assert_eq!(out, [0.25, 0.0, -0.25]);
        assert_eq!(out[1].to_bits(), 0, "{out:?}");
    }
}

#[test]
fn ranks_at_a_subnormal_strength_divide_by_it() {
    // ε = 2^-1070 (1/ε overflows), x = (0, 2^-1071): range/ε = 1/2 <= 1, one block, ranks
    // 3/2 ∓ 1/4, exact.
    let e = f64::from_bits(16); // 16 · 2^-1074
    assert!(e > 0.0 && (1.0 / e).is_infinite());
    let x = [0.0, f64::from_bits(8)];
    for par in PARS {
        let (out, one, z) = run(&x, l2(Op::Rank, e, false), par);
        assert!(one);
        assert_eq!(out, [1.25, 1.75]);
        assert_eq!(z, x);
        let (out, one, _) = run(&x, l2(Op::Rank, e, true), par);
        assert!(one);
        assert_eq!(out, [1.75, 1.25]);
    }
}

#[test]
fn lanes_the_path_does_not_take_are_left_untouched() {
    let x = [0.1, 0.2, 0.15, 0.12];
    let strong = 1e6; // every test above passes at this strength
    for sp in [
        Spec {
            op: Op::TopK(2),
            ..l2(Op::Rank, strong, false)
        },
        Spec {
            reg: Reg::Kl,
            ..l2(Op::Rank, strong, false)
        },
        Spec {
            reg: Reg::Kl,
            ..l2(Op::Sort, strong, true)
        },
    ] {
        let sc = scan::<true>(Par::Seq, &x, sp.sign(), None, "f").unwrap();
        let mut out = [f64::NAN; 4];
        let mut start = [false, true, true, true];
        let took = try_one(&sp, &x, &mut out, Some(&mut start), &sc, Par::Seq).unwrap();
        assert!(!took, "{sp:?}");
        assert!(out.iter().all(|v| v.is_nan()), "{sp:?}");
        assert_eq!(start, [false, true, true, true]);
    }
    // a lane of one value: left to the general path
    for op in [Op::Rank, Op::Sort] {
        let sp = l2(op, strong, false);
        let sc = scan::<true>(Par::Seq, &x[..1], sp.sign(), None, "f").unwrap();
        let mut out = [f64::NAN];
        assert!(!try_one(&sp, &x[..1], &mut out, None, &sc, Par::Seq).unwrap());
        assert!(out[0].is_nan());
    }
    // and a lane the path takes writes its start marks: one block
    let sp = l2(Op::Rank, strong, false);
    let sc = scan::<true>(Par::Seq, &x, sp.sign(), None, "f").unwrap();
    let (mut out, mut start) = ([f64::NAN; 4], [false, true, true, true]);
    assert!(try_one(&sp, &x, &mut out, Some(&mut start), &sc, Par::Seq).unwrap());
    assert_eq!(start, [true, false, false, false]);
    assert!(out.iter().all(|v| (v - 2.5).abs() < 1e-6), "{out:?}");
}

#[test]
fn the_spread_test_bounds_d_below_at_a_rounded_mean() {
    // x = (a, b), b = a + u one ulp up (a = 10^6, u = 2^-33, an even mantissa): the computed mean
    // a + u/2 rounds to a, so Σ (z - m)₊ = u overstates D = u/2 and Σ (m - z)₊ = 0 understates it;
    // the test takes the smaller (0) and leaves the lane to the sort. The truth (n = 2: one block
    // iff ε u >= 1): at ε = 0.75 / u two blocks, the hard sort, exactly; a test that took the lane
    // as one block would give a ∓ 2u/3 rounded, (a - u, b).
    let (a, u) = (1e6, 2f64.powi(-33));
    let b = a + u;
    assert_eq!((a + u / 2.0, b - a), (a, u));
    for par in PARS {
        let (out, one, _) = run(&[a, b], l2(Op::Sort, 0.75 / u, true), par);
        assert_eq!((out, one), (vec![b, a], false));
        let (out, one, _) = run(&[b, a], l2(Op::Sort, 0.75 / u, false), par);
        assert_eq!((out, one), (vec![a, b], false));
    }
}

#[test]
fn a_lane_near_the_float_limit_below_the_spread_test_is_left_to_the_sort() {
    // z̄ = 2e307, D = 2.3e308: at ε = 1e-308, 2 ε D = 4.6 < (n - 1)² = 16, so the test must not
    // take the lane (its sums are scaled by 2^-8: unscaled they overflow to inf, "larger").
    let x = [1.7e308, -1.7e308, 0.0, 1e308, -3.0];
    for desc in [false, true] {
        let sp = l2(Op::Sort, 1e-308, desc);
        let mut want = vec![0.0; 5];
        with_work(|w| forward_in(&sp, &x, &mut want, None, Par::Seq, w, false)).unwrap();
        for par in PARS {
            let (out, one, _) = run(&x, sp, par);
            assert!(!one, "{desc}");
            assert_eq!(out, want, "{desc}");
        }
    }
}

#[test]
fn a_scaled_lane_of_several_pieces_sums_every_piece() {
    // Values near the float limit take the lane's 2^-k scaling, whose sum (`scaled_sum`) joins
    // MAP_PIECE pieces: the ranks must be (x - mean)/ε + (n + 1)/2 with the mean of all of them.
    let n = 3 * MAP_PIECE + 7;
    // an uneven lane, so a piece left out or subtracted moves the mean
    let x: Vec<f64> = uniform(n, 41, -0.4, 1.0)
        .iter()
        .map(|&v| v * 1.7e308)
        .collect();
    let e = 1e305; // range/ε <= 3.4e3, far below n/2: one block
    let scale = 2f64.powi(-20);
    let mean = x.iter().map(|&v| v * scale).sum::<f64>() / n as f64 / scale;
    for desc in [false, true] {
        let sign = if desc { -1.0 } else { 1.0 };
        let sp = l2(Op::Rank, e, desc);
        for par in PARS {
            let (out, one, _) = run(&x, sp, par);
            assert!(one, "{desc} {par:?}");
            for (i, (&r, &v)) in out.iter().zip(&x).enumerate() {
                let want = sign * (v - mean) / e + (n as f64 + 1.0) * 0.5;
                assert!((r - want).abs() < 1e-6, "{desc} {par:?} {i}: {r} vs {want}");
            }
        }
    }
}
