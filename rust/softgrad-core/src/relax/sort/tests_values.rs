//! Closed-form values of small soft sorts and ranks, and the guards against overflow, each pinned
//! where the invariant tests in `tests.rs` (sums, limits, finiteness, threads) cannot see a change.

use super::pav::lane_scale;
use super::*;

fn spec(op: Op, reg: Reg, strength: f64, descending: bool) -> Spec {
    Spec {
        op,
        reg,
        strength,
        descending,
    }
}

fn run(x: &[f64], s: Spec) -> Vec<f64> {
    let mut out = vec![0.0; x.len()];
    forward(
        x,
        Layout::new(1, x.len(), 1),
        s,
        &mut out,
        None,
        None,
        Par::Seq,
    )
    .unwrap();
    out
}

fn close(got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len());
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        assert!(
            (a - b).abs() <= tol * (1.0 + b.abs()),
            "{i}: {a} vs {b} ({got:?} vs {want:?})"
        );
    }
}

/// `ln(e^a + e^b)`, the long way round for `a >= b`.
fn lse2(a: f64, b: f64) -> f64 {
    a + (b - a).exp().ln_1p()
}

/// KL soft sort of two values pooled into one block, with `z` far apart (their `e^z` overflow):
/// `s_i = ρ_i/ε − LSE(ρ/ε) + LSE(z)`, and `LSE(z)` is the larger `z` to the last bit.
#[test]
fn kl_sort_of_a_pooled_pair_far_apart_is_the_closed_form() {
    for (hi, lo) in [(1000.0, 0.0), (0.0, -5000.0), (800.0, -800.0)] {
        let e = 1e6;
        let l = lse2(2.0 / e, 1.0 / e);
        let lz = lse2(hi, lo);
        assert_eq!(lz, hi);
        let want = [2.0 / e - l + lz, 1.0 / e - l + lz];
        // descending sorts keep the order; ascending ones reverse it, with σ = -1 on the values
        close(
            &run(&[lo, hi], spec(Op::Sort, Reg::Kl, e, true)),
            &want,
            1e-15,
        );
        close(
            &run(&[hi, lo], spec(Op::Sort, Reg::Kl, e, true)),
            &want,
            1e-15,
        );
        let asc = run(&[-hi, -lo], spec(Op::Sort, Reg::Kl, e, false));
        close(&asc, &[-want[0], -want[1]], 1e-15);
    }
}

/// The lane scale keeps `2 n max|z| 2^-k` below `2^1020`, and is exactly 1 well inside.
#[test]
fn lane_scale_bounds_the_block_sums_of_long_lanes() {
    for n in [1usize, 2, 6, 100, 5000, 70_000] {
        for m in [1e300, 1e306, 1e307, 1.7e308, f64::MAX] {
            let z = vec![m; n];
            let (s, inv) = lane_scale(&z);
            assert_eq!(s * inv, 1.0, "{n} {m}");
            assert!(s <= 1.0, "{n} {m}");
            let bound = 2.0 * n as f64 * (m * s);
            assert!(bound < 2f64.powi(1020), "{n} {m}: {s} gives {bound:e}");
            // and no smaller than needed but for the bound's slack (m and n rounded up to powers
            // of two)
            if s < 1.0 {
                assert!(bound >= 2f64.powi(1018), "{n} {m}: {s} gives {bound:e}");
            }
        }
    }
    // a lane sorted descending: the largest magnitude is at either end
    assert_eq!(lane_scale(&[1.0, -1.7e308]), lane_scale(&[1.7e308, 1.0]));
}

/// At huge strength an l2 soft sort pools the whole lane: every value is the mean, even where the
/// plain sum of the values overflows many times over.
#[test]
fn l2_sort_of_a_long_lane_near_the_float_limit_is_its_mean() {
    let n = 5000;
    let x: Vec<f64> = (0..n)
        .map(|i| if i % 2 == 0 { 1.7e308 } else { 1.6e308 })
        .collect();
    let s = run(&x, spec(Op::Sort, Reg::L2, 1.7e308, false));
    assert!(
        s.iter().all(|v| (v - 1.65e308).abs() <= 1e-12 * 1.65e308),
        "{:?}",
        &s[..4]
    );
}

/// A strength so small that `x/ε` overflows is still the hard sort and rank: pooling compares
/// `λ v` with `λ = min(ε, 1)`, which stays finite.
#[test]
fn the_tiniest_strengths_give_the_hard_sort_and_rank_of_large_values() {
    let x = [3e10, -1e10, 2e10, 5e9];
    for e in [1e-300, 5e-324] {
        for reg in [Reg::L2, Reg::Kl] {
            let r = run(&x, spec(Op::Rank, reg, e, false));
            assert_eq!(r, [4.0, 1.0, 3.0, 2.0], "{reg:?} {e}");
            let r = run(&x, spec(Op::Rank, reg, e, true));
            assert_eq!(r, [1.0, 4.0, 2.0, 3.0], "{reg:?} {e}");
            let s = run(&x, spec(Op::Sort, reg, e, false));
            assert_eq!(s, [-1e10, 5e9, 2e10, 3e10], "{reg:?} {e}");
        }
        let m = run(&x, spec(Op::TopK(2), Reg::L2, e, false));
        assert_eq!(m, [1.0, 0.0, 1.0, 0.0], "{e}");
    }
}

/// `-0.0` and `0.0` are the same key: tied, so ordered by position (the permutation is a function
/// of the values, whatever the sign of a zero).
#[test]
fn signed_zeros_tie_and_keep_their_positions() {
    let x = [-0.0, 0.0, -0.0, 0.0, 1.0];
    let n = x.len();
    for op in [Op::Rank, Op::Sort] {
        for desc in [false, true] {
            let mut perm = vec![0u32; n];
            let mut z = vec![0.0; n];
            let mut start = vec![false; n];
            let mut out = vec![0.0; n];
            let res = ResMut {
                perm: &mut perm,
                z: &mut z,
                start: &mut start,
            };
            let s = spec(op, Reg::L2, 1e-3, desc);
            forward(
                &x,
                Layout::new(1, n, 1),
                s,
                &mut out,
                Some(res),
                None,
                Par::Seq,
            )
            .unwrap();
            // σ x sorted descending: the 1.0 first when σ = +1, last when σ = -1
            let want = if s.sign() > 0.0 {
                [4, 0, 1, 2, 3]
            } else {
                [0, 1, 2, 3, 4]
            };
            assert_eq!(perm, want, "{op:?} {desc}");
            assert!(
                z.iter().all(|v| v.to_bits() != (-0.0f64).to_bits()),
                "{z:?}"
            );
        }
    }
}

/// `ln Σ e^{t_i}`.
fn lse(t: &[f64]) -> f64 {
    let m = t.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    m + t.iter().map(|v| (v - m).exp()).sum::<f64>().ln()
}

/// The soft sort or rank of `x` by brute force, independent of PAV: the decreasing isotonic
/// regression `min Σ_i f_i(v_i)` s.t. `v_1 ≥ … ≥ v_n` (on `z` sorted descending) is constant on
/// blocks, each at its own unconstrained minimum, so it is the best of the feasible partitions into
/// contiguous blocks. Per position, with `s = z/ε` and the target `w` (`ρ` or the top-k mask):
/// rank-l2 `f(v) = (v - s + w)²/2`, rank-kl `e^{s - v} + w v`, sort-l2 `(v - w/ε + z)²/2`,
/// sort-kl `e^{w/ε - v} + e^z v`.
pub(super) fn brute_force(x: &[f64], sp: Spec) -> Vec<f64> {
    let (n, e, sg) = (x.len(), sp.strength, sp.sign());
    let mut perm: Vec<usize> = (0..n).collect();
    perm.sort_by(|&i, &j| (sg * x[j]).total_cmp(&(sg * x[i])).then(i.cmp(&j)));
    let z: Vec<f64> = perm.iter().map(|&p| sg * x[p]).collect();
    let w: Vec<f64> = (0..n).map(|i| sp.w(n, i)).collect();
    let kind = (sp.op == Op::Sort, sp.reg == Reg::Kl);
    // a block's value and its objective
    let block = |lo: usize, hi: usize| -> (f64, f64) {
        let m = (hi - lo) as f64;
        let (zs, ws) = (&z[lo..hi], &w[lo..hi]);
        let v = match kind {
            (false, false) => zs.iter().zip(ws).map(|(z, w)| z / e - w).sum::<f64>() / m,
            (false, true) => {
                lse(&zs.iter().map(|z| z / e).collect::<Vec<_>>()) - ws.iter().sum::<f64>().ln()
            }
            (true, false) => zs.iter().zip(ws).map(|(z, w)| w / e - z).sum::<f64>() / m,
            (true, true) => lse(&ws.iter().map(|w| w / e).collect::<Vec<_>>()) - lse(zs),
        };
        let f: f64 = zs
            .iter()
            .zip(ws)
            .map(|(z, w)| match kind {
                (false, false) => (v - z / e + w).powi(2) / 2.0,
                (false, true) => (z / e - v).exp() + w * v,
                (true, false) => (v - w / e + z).powi(2) / 2.0,
                (true, true) => (w / e - v).exp() + z.exp() * v,
            })
            .sum();
        (v, f)
    };
    let mut best: Option<(f64, Vec<f64>)> = None;
    for cuts in 0u32..1 << (n - 1) {
        let mut v = vec![0.0; n];
        let (mut f, mut lo, mut prev) = (0.0, 0, f64::INFINITY);
        let mut feasible = true;
        for hi in 1..=n {
            if hi < n && cuts >> (hi - 1) & 1 == 0 {
                continue;
            }
            let (vb, fb) = block(lo, hi);
            feasible &= vb <= prev;
            prev = vb;
            f += fb;
            v[lo..hi].fill(vb);
            lo = hi;
        }
        if feasible && best.as_ref().is_none_or(|(bf, _)| f < *bf) {
            best = Some((f, v));
        }
    }
    let v = best.unwrap().1;
    let mut out = vec![0.0; n];
    for i in 0..n {
        match kind {
            (false, false) => out[perm[i]] = z[i] / e - v[i],
            (false, true) => out[perm[i]] = (z[i] / e - v[i]).exp(),
            (true, _) => out[i] = sg * (w[i] / e - v[i]),
        }
    }
    out
}

/// Every operation and regularization against the brute-force projection, at strengths from
/// nearly hard to nearly all pooled, on lanes with several blocks.
#[test]
fn soft_sorts_and_ranks_equal_the_brute_force_projection() {
    let ops = [
        (Op::Rank, Reg::L2),
        (Op::Rank, Reg::Kl),
        (Op::Sort, Reg::L2),
        (Op::Sort, Reg::Kl),
        (Op::TopK(2), Reg::L2),
        (Op::TopK(4), Reg::L2),
    ];
    // (the last: a kl sort at ε < 1 whose pooling weighs the targets' log-sum-exp by ε)
    let lanes: [&[f64]; 5] = [
        &[0.3, -1.2, 2.5, 0.7, 0.1, 1.9, -0.4],
        &[1.0, 1.1, 0.9, 1.05, -2.0, -2.1],
        &[-0.5, 3.0, 2.9, 2.95, 0.0],
        &[2.0, -3.0],
        &[1.75, -1.1, -1.35],
    ];
    for x in lanes {
        for (op, reg) in ops {
            if matches!(op, Op::TopK(k) if k > x.len()) {
                continue;
            }
            for e in [0.05, 0.3, 0.7, 1.0, 2.5, 20.0] {
                for desc in [false, true] {
                    let sp = spec(op, reg, e, desc);
                    let got = run(x, sp);
                    let want = brute_force(x, sp);
                    let what = format!("{op:?} {reg:?} {e} {desc} {x:?}");
                    for (a, b) in got.iter().zip(&want) {
                        assert!(
                            (a - b).abs() <= 1e-9 * (1.0 + b.abs()),
                            "{what}: {got:?} vs {want:?}"
                        );
                    }
                }
            }
        }
    }
}

/// On a lane scaled by `2^-k` (values near the float limit), pooling still weighs the targets
/// against the values as unscaled: `[1.7e308, 1e308]` sorted descending pools exactly when
/// `1/ε ≤ 0.7e308`, into `(ρ_i - 1.5)/ε + 1.35e308`.
#[test]
fn pooling_of_a_scaled_lane_is_that_of_the_unscaled_problem() {
    let x = [1.0e308, 1.7e308];
    assert!(lane_scale(&[1.7e308, 1.0e308]).0 < 1.0);
    // apart: the hard sort
    for e in [1e-308, 1.4e-308] {
        assert_eq!(
            run(&x, spec(Op::Sort, Reg::L2, e, true)),
            [1.7e308, 1.0e308],
            "{e}"
        );
    }
    // pooled
    for e in [1.5e-308, 1e-306, 1e-300, 1.0, 1e300] {
        let d: f64 = 0.5 / e;
        let want = [1.35e308 + d, 1.35e308 - d];
        let got = run(&x, spec(Op::Sort, Reg::L2, e, true));
        close(&got, &want, 1e-12);
    }
}

/// Adjacent blocks whose values tie exactly are pooled (so the blocks of the solution have strictly
/// decreasing values, and the derivatives average over the tie): `[0, 1]` ranked at `ε = 1` has
/// `v = z/ε - ρ = (-1, -1)`, sorted descending `v = ρ/ε - z = (1, 1)`.
#[test]
fn exactly_tied_block_values_are_pooled() {
    for (op, e, x) in [
        (Op::Rank, 1.0, [0.0, 1.0]),
        (Op::Rank, 0.5, [0.0, 0.5]),
        (Op::Sort, 1.0, [0.0, 1.0]),
        (Op::Sort, 4.0, [0.0, 0.25]),
    ] {
        let desc = op == Op::Sort;
        let (mut perm, mut z, mut start, mut out) = ([0u32; 2], [0.0; 2], [false; 2], [0.0; 2]);
        let res = ResMut {
            perm: &mut perm,
            z: &mut z,
            start: &mut start,
        };
        let s = spec(op, Reg::L2, e, desc);
        forward(
            &x,
            Layout::new(1, 2, 1),
            s,
            &mut out,
            Some(res),
            None,
            Par::Seq,
        )
        .unwrap();
        assert_eq!(start, [true, false], "{op:?} {e}");
        // the pooled block's output is unchanged by the tie: the hard values
        let hard = if op == Op::Sort {
            [x[1], x[0]]
        } else {
            [1.0, 2.0]
        };
        close(&out, &hard, 1e-15);
    }
}
