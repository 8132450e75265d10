//! The one-block path of l2 lanes (`one.rs`): taken just inside its tests and not past them, and
//! equal (values, both derivatives, the strength derivative) to the sort + PAV path and to the
//! brute-force projection there; the same bits on 1/2/3 threads.

use super::pav::{forward_in, forward_lane};
use super::tests_values::brute_force;
use super::work::with_work;
use super::work::PAR_SORT_MIN;
use super::*;
use crate::relax::testutil::uniform;

pub(super) fn spec(op: Op, strength: f64, descending: bool) -> Spec {
    Spec {
        op,
        reg: Reg::L2,
        strength,
        descending,
    }
}

/// A lane's forward (through the one-block path when `fast` and its test passes) and residuals;
/// `perm` starts as `u32::MAX`, which only the sort overwrites.
struct Lane {
    out: Vec<f64>,
    perm: Vec<u32>,
    z: Vec<f64>,
    start: Vec<bool>,
}

impl Lane {
    fn run(x: &[f64], sp: Spec, par: Par, fast: bool) -> Lane {
        let n = x.len();
        let (mut out, mut perm, mut z, mut start) = (
            vec![0.0; n],
            vec![u32::MAX; n],
            vec![0.0; n],
            vec![false; n],
        );
        let res = Some((&mut perm[..], &mut z[..], &mut start[..]));
        if fast {
            forward_lane(&sp, x, &mut out, res, par).unwrap();
        } else {
            with_work(|w| forward_in(&sp, x, &mut out, res, par, w, false)).unwrap();
        }
        Lane {
            out,
            perm,
            z,
            start,
        }
    }

    /// Whether the one-block path did it (no permutation written).
    fn one(&self) -> bool {
        self.perm.iter().all(|&p| p == u32::MAX)
    }

    /// `(x̄, ε̄)` for the cotangent `g`, and the tangent for `(u, dε)`.
    fn derivatives(
        &self,
        sp: Spec,
        g: &[f64],
        u: &[f64],
        de: f64,
        par: Par,
    ) -> (Vec<f64>, f64, Vec<f64>) {
        let n = g.len();
        let res = Res {
            perm: &self.perm,
            z: &self.z,
            start: &self.start,
            lengths: None,
        };
        let l = Layout::new(1, n, 1);
        let mut gx = vec![0.0; n];
        let ge = vjp(res, g, l, sp, &mut gx, par).unwrap();
        let mut tan = vec![0.0; n];
        jvp(res, u, de, l, sp, &mut tan, par).unwrap();
        (gx, ge, tan)
    }
}

/// `|a_i - b_i| <= rel max|b|` for every `i`.
fn close(a: &[f64], b: &[f64], rel: f64, what: &str) {
    let scale = b
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs()))
        .max(f64::MIN_POSITIVE);
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= rel * scale,
            "{what} at {i}: {x} vs {y} (scale {scale})"
        );
    }
}

/// The one-block solution, its mean by a compensated (Neumaier) sum: ranks `(σ x - z̄)/ε +
/// (n + 1)/2`, sorts `σ((ρ_i - (n + 1)/2)/ε + z̄)`.
fn affine(x: &[f64], sp: Spec) -> Vec<f64> {
    let (n, e, sg) = (x.len(), sp.strength, sp.sign());
    let (mut s, mut c) = (0.0f64, 0.0f64);
    for &v in x {
        let t = s + sg * v;
        c += if s.abs() >= v.abs() {
            (s - t) + sg * v
        } else {
            (sg * v - t) + s
        };
        s = t;
    }
    let mean = (s + c) / n as f64;
    let mid = (n as f64 + 1.0) / 2.0;
    (0..n)
        .map(|i| match sp.op {
            Op::Sort => sg * ((sp.w(n, i) - mid) / e + mean),
            _ => (sg * x[i] - mean) / e + mid,
        })
        .collect()
}

/// Test lanes of length `n`: uniform values, and one value apart from `n - 1` equal ones (where
/// both tests are tight: just past them the solution is two blocks).
fn lanes(n: usize) -> Vec<Vec<f64>> {
    let mut apart = vec![0.25; n];
    apart[n / 3] = 1.25;
    vec![uniform(n, n as u64 + 5, -0.5, 0.5), apart]
}

/// Forward and derivatives through `one.rs` (if its test passes) against sort + PAV, and (short
/// lanes) the brute-force projection; returns whether `one.rs` did it.
fn compare(x: &[f64], sp: Spec, what: &str) -> bool {
    let n = x.len();
    let (g, u) = (uniform(n, 7, -1.0, 1.0), uniform(n, 8, -1.0, 1.0));
    let fast = Lane::run(x, sp, Par::Seq, true);
    let pav = Lane::run(x, sp, Par::Seq, false);
    assert!(!pav.one(), "{what}");
    // (PAV sums a block sequentially, ~n ulps; the one-block path in pieces)
    let rel = 1e-15 * (4.0 + n as f64 / 64.0);
    close(&fast.out, &pav.out, rel, what);
    if fast.one() {
        close(&fast.out, &affine(x, sp), 1e-14, what);
    }
    if n <= 12 {
        // (the brute force compares objectives: it cannot tell blocks whose values differ by
        // less than ~1e-8 apart, as just past the tests)
        close(&fast.out, &brute_force(x, sp), 1e-8, what);
    }
    if fast.one() {
        // the PAV path finds the one block too
        assert_eq!(fast.start, pav.start, "{what}");
    }
    let (gx, ge, tan) = fast.derivatives(sp, &g, &u, 0.3, Par::Seq);
    let (gx_p, ge_p, tan_p) = pav.derivatives(sp, &g, &u, 0.3, Par::Seq);
    close(&gx, &gx_p, rel, what);
    close(&tan, &tan_p, rel, what);
    // ε̄ is a sum with cancellation: against the sum of its terms' sizes
    let e = sp.strength;
    let size: f64 = x
        .iter()
        .map(|v| (v.abs() / e + 1.0 / e) * (n as f64 / e))
        .sum();
    assert!((ge - ge_p).abs() <= 1e-15 * size, "{what}: {ge} vs {ge_p}");
    fast.one()
}

#[test]
fn l2_ranks_are_one_block_just_inside_the_range_test_and_equal_pav_at_and_past_it() {
    for n in [2, 7, 12, 1000, PAR_SORT_MIN + 5] {
        for (k, base) in lanes(n).into_iter().enumerate() {
            let (lo, hi) = base
                .iter()
                .fold((f64::MAX, f64::MIN), |(l, h), &v| (l.min(v), h.max(v)));
            for e in [0.37, 3.0] {
                // the lane rescaled to a range of f ε n/2 (the test: range/ε <= n/2)
                for f in [0.5, 1.0 - 1e-9, 1.0, 1.0 + 1e-9, 1.5] {
                    let w = f * e * n as f64 / 2.0;
                    let x: Vec<f64> = base
                        .iter()
                        .map(|v| (v - lo) / (hi - lo) * w - 1.5)
                        .collect();
                    for desc in [false, true] {
                        let what = format!("rank n {n} lane {k} ε {e} f {f} desc {desc}");
                        let one = compare(&x, spec(Op::Rank, e, desc), &what);
                        if f < 1.0 {
                            assert!(one, "{what}");
                        } else if f > 1.0 {
                            assert!(!one, "{what}");
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn l2_sorts_are_one_block_just_inside_the_spread_test_and_equal_pav_at_and_past_it() {
    for n in [2, 7, 12, 1000, PAR_SORT_MIN + 5] {
        for (k, x) in lanes(n).into_iter().enumerate() {
            let mean = x.iter().sum::<f64>() / n as f64;
            let d: f64 = x.iter().map(|v| (v - mean).max(0.0)).sum();
            let nf = n as f64 - 1.0;
            // the strength at which 2 ε D = (n - 1)²: one block at any larger one
            let e0 = nf * nf / (2.0 * d);
            for f in [2.0, 1.0 + 1e-9, 1.0, 1.0 - 1e-9, 0.5] {
                for desc in [false, true] {
                    let what = format!("sort n {n} lane {k} f {f} desc {desc}");
                    let one = compare(&x, spec(Op::Sort, f * e0, desc), &what);
                    if f > 1.0 {
                        assert!(one, "{what}");
                    } else if f < 1.0 {
                        assert!(!one, "{what}");
                    }
                }
            }
        }
    }
}

#[test]
fn the_one_block_path_gives_the_same_bits_on_any_threads() {
    let n = 3 * PAR_SORT_MIN / 2 + 7; // pieces of 2^15: several, the last short
    let (x, g, u) = (
        uniform(n, 31, -3.0, 3.0),
        uniform(n, 32, -1.0, 1.0),
        uniform(n, 33, -1.0, 1.0),
    );
    for sp in [spec(Op::Rank, 1.0, false), spec(Op::Sort, 1e6, true)] {
        let a = Lane::run(&x, sp, Par::Seq, true);
        assert!(a.one(), "{sp:?}");
        let (gx, ge, tan) = a.derivatives(sp, &g, &u, -0.7, Par::Seq);
        for t in [2, 3] {
            let b = Lane::run(&x, sp, Par::Rayon(t), true);
            assert_eq!(
                (&b.out, &b.z, &b.start),
                (&a.out, &a.z, &a.start),
                "{sp:?} {t}"
            );
            let (gx_t, ge_t, tan_t) = b.derivatives(sp, &g, &u, -0.7, Par::Rayon(t));
            assert_eq!(
                (gx_t, ge_t.to_bits(), tan_t),
                (gx.clone(), ge.to_bits(), tan.clone())
            );
        }
        // and through the public driver, in rows of any count
        let mut out = vec![0.0; n];
        forward(
            &x,
            Layout::new(1, n, 1),
            sp,
            &mut out,
            None,
            None,
            Par::Rayon(2),
        )
        .unwrap();
        assert_eq!(out, a.out);
    }
}

/// Values near the float limit: the range test does not overflow, and the sums are scaled.
#[test]
fn lanes_near_the_float_limit_take_the_one_block_path_safely() {
    let x = [1.7e308, -1.7e308, 0.0, 1e308, -3.0];
    for desc in [false, true] {
        let rank = spec(Op::Rank, 1.5e308, desc);
        let sort = spec(Op::Sort, 1e308, desc);
        for sp in [rank, sort] {
            let a = Lane::run(&x, sp, Par::Seq, true);
            assert!(a.one(), "{sp:?}");
            assert!(a.out.iter().all(|v| v.is_finite()), "{sp:?} {:?}", a.out);
            compare(&x, sp, &format!("{sp:?}"));
        }
    }
}
