use super::*;
use crate::relax::testutil::uniform;

/// `C_ij = σ t ln Σ_k e^{σ(A_ik + B_kj)/t}` the long way (max-shifted, f64, std exp/ln).
fn oracle(a: &[f64], b: &[f64], s: &Spec) -> Vec<f64> {
    let (m, k, n, t, sg) = (s.m, s.k, s.n, s.temperature, s.sign());
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            let z: Vec<f64> = (0..k)
                .map(|kk| sg * (a[i * k + kk] + b[kk * n + j]))
                .collect();
            let mx = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            c[i * n + j] = if mx.is_finite() {
                sg * (mx + t * z.iter().map(|v| ((v - mx) / t).exp()).sum::<f64>().ln())
            } else {
                sg * mx
            };
        }
    }
    c
}

fn spec(m: usize, k: usize, n: usize, t: f64, min: bool) -> Spec {
    Spec {
        m,
        k,
        n,
        temperature: t,
        min,
    }
}

fn run(a: &[f64], b: &[f64], s: Spec, par: Par, lvl: Level) -> Vec<f64> {
    let mut out = vec![0.0; s.m * s.n];
    let pairs = Pairs { a: &[0], b: &[0] };
    forward_at(lvl, a, b, pairs, s, &mut out, None, par).unwrap();
    out
}

#[test]
fn values_match_the_direct_log_sum_exp_at_every_level() {
    for &(m, k, n) in &[(1, 1, 1), (3, 5, 2), (9, 17, 33), (21, 40, 16), (4, 0, 3)] {
        for &(t, min) in &[(1.0, false), (0.3, true), (1e-3, false), (50.0, true)] {
            let s = spec(m, k, n, t, min);
            let a = uniform(m * k, 1, -3.0, 3.0);
            let b = uniform(k * n, 2, -3.0, 3.0);
            let want = oracle(&a, &b, &s);
            for lvl in crate::simd::available() {
                let got = run(&a, &b, s, Par::Seq, lvl);
                for (g, w) in got.iter().zip(&want) {
                    assert!(
                        g == w || (g - w).abs() <= 1e-12 * (1.0 + w.abs()),
                        "{m}x{k}x{n} t={t} {lvl:?}: {g} vs {w}"
                    );
                }
            }
        }
    }
}

#[test]
fn semiring_zeros_nan_and_huge_values() {
    let s = spec(3, 4, 2, 0.5, false);
    let mut a = uniform(12, 3, -1.0, 1.0);
    let b = uniform(8, 4, -1.0, 1.0);
    a[..4].fill(f64::NEG_INFINITY); // row 0: the semiring zero
    a[5] = f64::NEG_INFINITY; // one zero entry in row 1
    a[10] = f64::NAN; // row 2 has a NaN
    let c = run(&a, &b, s, Par::Seq, level());
    assert_eq!(&c[..2], &[f64::NEG_INFINITY; 2]);
    let want = oracle(&a, &b, &s);
    assert!((c[2] - want[2]).abs() < 1e-12 && (c[3] - want[3]).abs() < 1e-12);
    assert!(c[4].is_nan() && c[5].is_nan());
    let big: Vec<f64> = uniform(12, 5, -1e300, 1e300);
    let c = run(&big, &b, s, Par::Seq, level());
    assert!(c.iter().all(|v| v.is_finite()));
}

#[test]
fn small_temperatures_give_the_hard_product() {
    let (m, k, n) = (7, 13, 9);
    let a = uniform(m * k, 6, -5.0, 5.0);
    let b = uniform(k * n, 7, -5.0, 5.0);
    for min in [false, true] {
        let c = run(&a, &b, spec(m, k, n, 1e-9, min), Par::Seq, level());
        for i in 0..m {
            for j in 0..n {
                let z = (0..k).map(|kk| a[i * k + kk] + b[kk * n + j]);
                let h = if min {
                    z.fold(f64::INFINITY, f64::min)
                } else {
                    z.fold(f64::NEG_INFINITY, f64::max)
                };
                assert!((c[i * n + j] - h).abs() < 1e-7);
            }
        }
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count_and_batches_broadcast() {
    let (m, k, n) = (70, 33, 45);
    let a = uniform(2 * m * k, 8, -2.0, 2.0);
    let b = uniform(3 * k * n, 9, -2.0, 2.0);
    let s = spec(m, k, n, 0.7, false);
    let (ai, bi) = ([0usize, 1, 1, 0], [2usize, 0, 1, 2]);
    let pairs = Pairs { a: &ai, b: &bi };
    let g = uniform(4 * m * n, 10, -1.0, 1.0);
    type Results = (Vec<f64>, Vec<f64>, Vec<f64>, f64);
    let mut want: Option<Results> = None;
    for par in [Par::Seq, Par::Rayon(2), Par::Rayon(3)] {
        let mut out = vec![0.0; 4 * m * n];
        let mut c = vec![0.0; 4 * m * n];
        forward(&a, &b, pairs, s, &mut out, Some(&mut c), par).unwrap();
        let (mut ga, mut gb) = (vec![0.0; 4 * m * k], vec![0.0; 4 * k * n]);
        let r = Res {
            a: &a,
            b: &b,
            c: &c,
        };
        let dt = vjp(r, pairs, s, &g, &mut ga, &mut gb, par).unwrap();
        match &want {
            None => want = Some((out, ga, gb, dt)),
            Some(w) => assert!(
                w.0 == out && w.1 == ga && w.2 == gb && w.3.to_bits() == dt.to_bits(),
                "{par:?}"
            ),
        }
    }
    let out = want.unwrap().0;
    for p in 0..4 {
        let one = run(
            &a[ai[p] * m * k..][..m * k],
            &b[bi[p] * k * n..][..k * n],
            s,
            Par::Seq,
            level(),
        );
        assert_eq!(&one[..], &out[p * m * n..][..m * n]);
    }
}

/// `<g, C>` as a function of everything, for finite differences.
fn loss(a: &[f64], b: &[f64], s: Spec, g: &[f64]) -> f64 {
    run(a, b, s, Par::Seq, level())
        .iter()
        .zip(g)
        .map(|(c, g)| c * g)
        .sum()
}

#[test]
fn vjp_and_jvp_match_central_differences_on_both_paths() {
    // t = 0.05 with values of unit scale sends many entries to the exact path; t = 1 none.
    for &(t, min, scale) in &[
        (1.0, false, 1.0),
        (0.7, true, 1.0),
        (0.05, false, 8.0),
        (0.05, true, 8.0),
    ] {
        let (m, k, n) = (5, 6, 19);
        let s = spec(m, k, n, t, min);
        let a = uniform(m * k, 11, -scale, scale);
        let b = uniform(k * n, 12, -scale, scale);
        let g = uniform(m * n, 13, -1.0, 1.0);
        let mut c = vec![0.0; m * n];
        let mut out = vec![0.0; m * n];
        let pairs = Pairs { a: &[0], b: &[0] };
        forward(&a, &b, pairs, s, &mut out, Some(&mut c), Par::Seq).unwrap();
        let (mut ga, mut gb) = (vec![0.0; m * k], vec![0.0; k * n]);
        let r = Res {
            a: &a,
            b: &b,
            c: &c,
        };
        let dt = vjp(r, pairs, s, &g, &mut ga, &mut gb, Par::Seq).unwrap();
        let h = 1e-6;
        let tol = |fd: f64, got: f64| (fd - got).abs() < 1e-6 * (1.0 + fd.abs());
        for kk in 0..a.len() {
            let (mut p, mut q) = (a.clone(), a.clone());
            p[kk] += h;
            q[kk] -= h;
            let fd = (loss(&p, &b, s, &g) - loss(&q, &b, s, &g)) / (2.0 * h);
            assert!(
                tol(fd, ga[kk]),
                "t={t} min={min} a {kk}: {fd} vs {}",
                ga[kk]
            );
        }
        for kk in 0..b.len() {
            let (mut p, mut q) = (b.clone(), b.clone());
            p[kk] += h;
            q[kk] -= h;
            let fd = (loss(&a, &p, s, &g) - loss(&a, &q, s, &g)) / (2.0 * h);
            assert!(
                tol(fd, gb[kk]),
                "t={t} min={min} b {kk}: {fd} vs {}",
                gb[kk]
            );
        }
        let ht = 1e-6 * t;
        let (sp, sm) = (spec(m, k, n, t + ht, min), spec(m, k, n, t - ht, min));
        let fd = (loss(&a, &b, sp, &g) - loss(&a, &b, sm, &g)) / (2.0 * ht);
        assert!(tol(fd, dt), "t={t} min={min} dt: {fd} vs {dt}");
        // jvp: <g, J v> = <J^T g, v>
        let (da, db) = (uniform(m * k, 14, -1.0, 1.0), uniform(k * n, 15, -1.0, 1.0));
        let mut tan = vec![0.0; m * n];
        jvp(r, pairs, s, &da, &db, 0.3, &mut tan, Par::Seq).unwrap();
        let lhs: f64 = tan.iter().zip(&g).map(|(x, y)| x * y).sum();
        let rhs: f64 = ga.iter().zip(&da).map(|(x, y)| x * y).sum::<f64>()
            + gb.iter().zip(&db).map(|(x, y)| x * y).sum::<f64>()
            + dt * 0.3;
        assert!(
            (lhs - rhs).abs() < 1e-9 * (1.0 + rhs.abs()),
            "t={t} min={min} jvp: {lhs} vs {rhs}"
        );
    }
}

#[test]
fn bad_arguments_are_errors() {
    let s = spec(2, 2, 2, 1.0, false);
    let mut out = [0.0; 4];
    for t in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let e = forward(
            &[0.0; 4],
            &[0.0; 4],
            Pairs { a: &[0], b: &[0] },
            Spec {
                temperature: t,
                ..s
            },
            &mut out,
            None,
            Par::Seq,
        );
        assert!(matches!(
            e,
            Err(Error::InvalidParameter {
                name: "temperature",
                ..
            })
        ));
    }
    let e = forward(
        &[0.0; 4],
        &[0.0; 4],
        Pairs { a: &[1], b: &[0] },
        s,
        &mut out,
        None,
        Par::Seq,
    );
    assert!(matches!(
        e,
        Err(Error::InvalidParameter {
            name: "a_index",
            ..
        })
    ));
    let e = forward(
        &[0.0; 5],
        &[0.0; 4],
        Pairs { a: &[0], b: &[0] },
        s,
        &mut out,
        None,
        Par::Seq,
    );
    assert!(e.is_err());
}

#[test]
fn gemm_is_one_fused_chain_per_entry_across_inner_blocks_and_threads() {
    // Three inner blocks (the last partial), two panels, a remainder row tile.
    let (m, k, n) = (131, 2 * 256 + 37, 2 * gemm::TILE_COLS);
    let a = uniform(m * k, 11, 0.0, 1.0);
    let b = uniform(k * n, 12, 0.0, 1.0);
    // The portable level fuses only where the baseline has FMA (aarch64).
    let fused = level() != Level::Scalar || cfg!(target_arch = "aarch64");
    let fma = |x: f64, y: f64, s: f64| if fused { x.mul_add(y, s) } else { x * y + s };
    let want: Vec<f64> = (0..m * n)
        .map(|e| (0..k).fold(0.0, |s, kk| fma(a[e / n * k + kk], b[kk * n + e % n], s)))
        .collect();
    for par in [Par::Seq, Par::Rayon(2), Par::Rayon(3)] {
        let mut out = vec![f64::NAN; m * n];
        gemm::rows(
            "test",
            level(),
            par,
            &a,
            k,
            &b,
            n,
            &mut out,
            (),
            |_, _, _| Ok(()),
        )
        .unwrap();
        assert!(out
            .iter()
            .zip(&want)
            .all(|(o, w)| o.to_bits() == w.to_bits()));
    }
}
