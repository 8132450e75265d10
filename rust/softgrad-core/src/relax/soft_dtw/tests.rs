use super::*;
use crate::relax::testutil::uniform;

/// The plain O(nm) dynamic program in f64 with std `exp`/`ln`: the value and the table.
fn oracle(x: &[f64], y: &[f64], d: usize, gamma: f64) -> (f64, Vec<Vec<f64>>) {
    let (n, m) = (x.len() / d, y.len() / d);
    let mut r = vec![vec![f64::INFINITY; m + 1]; n + 1];
    r[0][0] = 0.0;
    for i in 1..=n {
        for j in 1..=m {
            let c: f64 = (0..d)
                .map(|k| (x[(i - 1) * d + k] - y[(j - 1) * d + k]).powi(2))
                .sum();
            let v = [r[i - 1][j - 1], r[i - 1][j], r[i][j - 1]];
            let mn = v.iter().cloned().fold(f64::INFINITY, f64::min);
            let s: f64 = v.iter().map(|a| (-(a - mn) / gamma).exp()).sum();
            r[i][j] = c + mn - gamma * s.ln();
        }
    }
    (r[n][m], r)
}

fn one(x: &[f64], y: &[f64], d: usize, gamma: f64) -> f64 {
    let b = Batch {
        lens: Lens::Ragged {
            n: &[x.len() / d],
            m: &[y.len() / d],
        },
        d,
    };
    let mut out = [0.0];
    forward(x, y, &b, gamma, &mut out, None, Par::Seq).unwrap();
    out[0]
}

#[test]
fn values_match_the_plain_dynamic_program_at_every_level() {
    for &(n, m, d, gamma) in &[
        (1, 1, 1, 1.0),
        (5, 7, 1, 0.1),
        (13, 9, 3, 1.0),
        (40, 33, 2, 0.01),
    ] {
        for pairs in [1, 3, 9, 40] {
            let x = uniform(pairs * n * d, 1 + n as u64, -1.0, 1.0);
            let y = uniform(pairs * m * d, 2 + m as u64, -1.0, 1.0);
            let b = Batch {
                lens: Lens::Uniform { pairs, n, m },
                d,
            };
            for lvl in crate::simd::available() {
                let mut out = vec![0.0; pairs];
                forward_at(lvl, &x, &y, &b, gamma, &mut out, None, Par::Seq).unwrap();
                for p in 0..pairs {
                    let (want, _) =
                        oracle(&x[p * n * d..][..n * d], &y[p * m * d..][..m * d], d, gamma);
                    assert!(
                        (out[p] - want).abs() <= 1e-12 * (1.0 + want.abs()),
                        "{lvl:?} {p}: {} vs {want}",
                        out[p]
                    );
                }
            }
        }
    }
}

#[test]
fn a_batch_gives_the_bits_of_its_pairs_one_by_one_and_of_any_thread_count() {
    let (pairs, n, m, d) = (45, 17, 23, 2);
    let x = uniform(pairs * n * d, 5, -2.0, 2.0);
    let y = uniform(pairs * m * d, 6, -2.0, 2.0);
    let b = Batch {
        lens: Lens::Uniform { pairs, n, m },
        d,
    };
    let rl = residual_len(&b).unwrap();
    let g = uniform(pairs, 9, -1.0, 1.0);
    let mut want = None;
    for par in [Par::Seq, Par::Rayon(2), Par::Rayon(3)] {
        let mut out = vec![0.0; pairs];
        let mut res = vec![0.0; rl];
        forward(&x, &y, &b, 0.3, &mut out, Some(&mut res), par).unwrap();
        let (mut gx, mut gy) = (vec![0.0; x.len()], vec![0.0; y.len()]);
        vjp(&x, &y, &b, 0.3, &res, &g, &mut gx, &mut gy, None, par).unwrap();
        match &want {
            None => want = Some((out, gx, gy)),
            Some(w) => assert!(w.0 == out && w.1 == gx && w.2 == gy, "{par:?}"),
        }
    }
    let (out, gx, gy) = want.unwrap();
    for p in 0..pairs {
        let (xp, yp) = (&x[p * n * d..][..n * d], &y[p * m * d..][..m * d]);
        assert_eq!(one(xp, yp, d, 0.3).to_bits(), out[p].to_bits(), "pair {p}");
        let (gxp, gyp) = grad_one(xp, yp, d, 0.3, g[p]);
        assert_eq!(&gxp[..], &gx[p * n * d..][..n * d], "pair {p}");
        assert_eq!(&gyp[..], &gy[p * m * d..][..m * d], "pair {p}");
    }
}

fn grad_one(x: &[f64], y: &[f64], d: usize, gamma: f64, g: f64) -> (Vec<f64>, Vec<f64>) {
    let (nn, mm) = ([x.len() / d], [y.len() / d]);
    let b = Batch {
        lens: Lens::Ragged { n: &nn, m: &mm },
        d,
    };
    let mut res = vec![0.0; residual_len(&b).unwrap()];
    let mut out = [0.0];
    forward(x, y, &b, gamma, &mut out, Some(&mut res), Par::Seq).unwrap();
    let (mut gx, mut gy) = (vec![0.0; x.len()], vec![0.0; y.len()]);
    vjp(
        x,
        y,
        &b,
        gamma,
        &res,
        &[g],
        &mut gx,
        &mut gy,
        None,
        Par::Seq,
    )
    .unwrap();
    (gx, gy)
}

#[test]
fn gradients_match_central_differences() {
    for &(n, m, d, gamma) in &[(1, 1, 1, 1.0), (6, 4, 1, 0.5), (9, 11, 3, 0.2)] {
        let x = uniform(n * d, 11, -1.0, 1.0);
        let y = uniform(m * d, 12, -1.0, 1.0);
        let (gx, gy) = grad_one(&x, &y, d, gamma, 1.0);
        let h = 1e-6;
        for k in 0..x.len() {
            let (mut a, mut b) = (x.clone(), x.clone());
            a[k] += h;
            b[k] -= h;
            let fd = (one(&a, &y, d, gamma) - one(&b, &y, d, gamma)) / (2.0 * h);
            assert!(
                (fd - gx[k]).abs() < 1e-6 * (1.0 + fd.abs()),
                "x {k}: {fd} vs {}",
                gx[k]
            );
        }
        for k in 0..y.len() {
            let (mut a, mut b) = (y.clone(), y.clone());
            a[k] += h;
            b[k] -= h;
            let fd = (one(&x, &a, d, gamma) - one(&x, &b, d, gamma)) / (2.0 * h);
            assert!(
                (fd - gy[k]).abs() < 1e-6 * (1.0 + fd.abs()),
                "y {k}: {fd} vs {}",
                gy[k]
            );
        }
    }
}

#[test]
fn alignments_sum_along_paths_and_wide_blocks_agree() {
    let (pairs, n, m, d) = (10, 6, 8, 1);
    let x = uniform(pairs * n * d, 21, -1.0, 1.0);
    let y = uniform(pairs * m * d, 22, -1.0, 1.0);
    let b = Batch {
        lens: Lens::Uniform { pairs, n, m },
        d,
    };
    let mut res = vec![0.0; residual_len(&b).unwrap()];
    let mut out = vec![0.0; pairs];
    forward(&x, &y, &b, 1.0, &mut out, Some(&mut res), Par::Seq).unwrap();
    let (mut gx, mut gy) = (vec![0.0; x.len()], vec![0.0; y.len()]);
    let mut al = vec![0.0; alignment_len(&b).unwrap()];
    vjp(
        &x,
        &y,
        &b,
        1.0,
        &res,
        &vec![1.0; pairs],
        &mut gx,
        &mut gy,
        Some(&mut al),
        Par::Seq,
    )
    .unwrap();
    for p in 0..pairs {
        let a = &al[p * n * m..][..n * m];
        assert!((a[0] - 1.0).abs() < 1e-12 && (a[n * m - 1] - 1.0).abs() < 1e-12);
        assert!(a.iter().all(|&v| (0.0..=1.0 + 1e-12).contains(&v)));
        // dR/dx_i = Σ_j E_ij 2 (x_i - y_j)
        for i in 0..n {
            let want: f64 = (0..m)
                .map(|j| a[i * m + j] * 2.0 * (x[p * n + i] - y[p * m + j]))
                .sum();
            assert!((want - gx[p * n + i]).abs() < 1e-12);
        }
    }
}

#[test]
fn tiny_gamma_is_dtw_and_nan_propagates_and_empty_series_are_handled() {
    let x = uniform(30, 31, -1.0, 1.0);
    let y = uniform(20, 32, -1.0, 1.0);
    let (n, m) = (30, 20);
    let mut r = vec![vec![f64::INFINITY; m + 1]; n + 1];
    r[0][0] = 0.0;
    for i in 1..=n {
        for j in 1..=m {
            r[i][j] =
                (x[i - 1] - y[j - 1]).powi(2) + r[i - 1][j - 1].min(r[i - 1][j]).min(r[i][j - 1]);
        }
    }
    for gamma in [1e-10, 1e-300, f64::MIN_POSITIVE / 4.0] {
        assert!((one(&x, &y, 1, gamma) - r[n][m]).abs() < 1e-9);
    }
    let mut xn = x.clone();
    xn[7] = f64::NAN;
    assert!(one(&xn, &y, 1, 1.0).is_nan());
    let (gx, gy) = grad_one(&xn, &y, 1, 1.0, 1.0);
    assert!(gx.iter().chain(&gy).all(|v| v.is_nan()));
    assert_eq!(one(&[], &[], 1, 1.0), 0.0);
    assert_eq!(one(&x, &[], 1, 1.0), f64::INFINITY);
    let (gx, _) = grad_one(&x, &[], 1, 1.0, 1.0);
    assert!(gx.iter().all(|&v| v == 0.0));
    // huge values: no overflow in the soft-min
    let big: Vec<f64> = x.iter().map(|v| v * 1e100).collect();
    assert!(one(&big, &y, 1, 1.0).is_finite());
}

#[test]
fn bad_arguments_are_errors() {
    let b = Batch {
        lens: Lens::Uniform {
            pairs: 1,
            n: 2,
            m: 2,
        },
        d: 1,
    };
    let mut out = [0.0];
    for g in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let e = forward(&[0.0; 2], &[0.0; 2], &b, g, &mut out, None, Par::Seq).unwrap_err();
        assert!(matches!(e, Error::InvalidParameter { name: "gamma", .. }));
    }
    let e = forward(&[0.0; 3], &[0.0; 2], &b, 1.0, &mut out, None, Par::Seq).unwrap_err();
    assert!(matches!(e, Error::Shape { name: "x", .. }));
    let r = Batch {
        lens: Lens::Ragged {
            n: &[1, 2],
            m: &[1],
        },
        d: 1,
    };
    assert!(residual_len(&r).is_err());
}

#[test]
fn ragged_pairs_match_one_by_one() {
    let n = [3usize, 0, 17, 40, 1];
    let m = [5usize, 2, 1, 33, 9];
    let d = 2;
    let x = uniform(n.iter().sum::<usize>() * d, 41, -1.0, 1.0);
    let y = uniform(m.iter().sum::<usize>() * d, 42, -1.0, 1.0);
    let b = Batch {
        lens: Lens::Ragged { n: &n, m: &m },
        d,
    };
    let mut out = vec![0.0; 5];
    forward(&x, &y, &b, 0.7, &mut out, None, Par::Rayon(2)).unwrap();
    let (mut xo, mut yo) = (0, 0);
    for p in 0..5 {
        let want = one(&x[xo..xo + n[p] * d], &y[yo..yo + m[p] * d], d, 0.7);
        assert_eq!(want.to_bits(), out[p].to_bits());
        xo += n[p] * d;
        yo += m[p] * d;
    }
}
