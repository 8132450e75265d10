//! The narrow-row path (`narrow.rs` over `simd::rows`) against the strided path on the transposed
//! data (an independent implementation of the same semantics), the direct formula, and itself at
//! every SIMD level and thread count: widths around every block boundary and the threshold, row
//! counts past every block, special values in chosen rows (NaN, ±inf, all -inf, ties at the
//! maximum), weights with zeros, negative signs and empty rows.

use super::narrow;
use super::*;
use crate::relax::testutil::uniform;
use crate::simd::rows::{self as krows, LseLanes, MAX_N};

const PARS: [Par; 3] = [Par::Seq, Par::Rayon(2), Par::Rayon(3)];
const WIDTHS: [usize; 14] = [1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 50, 63, 64];
const ROWS: [usize; 6] = [1, 2, 7, 8, 9, 19];

/// `rows × n` values in [-5, 5) with special values in chosen rows, and weights in [0.1, 2) with
/// zeros, a row of negative weights and an empty row.
fn data(rows: usize, n: usize, seed: u64) -> (Vec<f64>, Vec<f64>) {
    let mut x = uniform(rows * n, seed, -5.0, 5.0);
    let mut b = uniform(rows * n, seed + 1, 0.1, 2.0);
    for r in 0..rows {
        let row = &mut x[r * n..(r + 1) * n];
        let p = r % n;
        match r % 11 {
            3 => row[p] = f64::NAN,
            5 => row[p] = f64::INFINITY,
            7 => row.fill(f64::NEG_INFINITY),
            9 => row[p] = f64::NEG_INFINITY,
            10 if n > 1 => {
                // A tie at the maximum.
                let m = row[0].max(row[1]);
                row[..2].fill(m);
            }
            _ => {}
        }
        let w = &mut b[r * n..(r + 1) * n];
        match r % 6 {
            1 => w.iter_mut().step_by(2).for_each(|v| *v = 0.0),
            2 => w.iter_mut().for_each(|v| *v = -*v),
            4 => w.fill(0.0),
            _ => {}
        }
        // Sums of the uncommon kinds, each with one maximum at 10: weights cancelling there
        // (sw = 0), a negative rest smaller or larger than the weight at the maximum (s < 0,
        // sign +1 or -1), and a weight at the maximum negligible next to the rest (s / sw = inf).
        match r % 7 {
            3 if n > 1 => {
                row[..2].fill(10.0);
                w[..2].copy_from_slice(&[1.0, -1.0]);
            }
            5 => {
                row[0] = 10.0;
                w.fill(-0.01);
                w[0] = 1.0;
            }
            6 => {
                row[0] = 10.0;
                w.fill(-1e6);
                w[0] = 1.0;
            }
            2 => {
                row[0] = 10.0;
                w.fill(1.0);
                w[0] = 1e-300;
            }
            _ => {}
        }
    }
    (x, b)
}

/// `rows × n` row-major to `n × rows`.
fn transpose<T: Copy>(x: &[T], rows: usize, n: usize) -> Vec<T> {
    (0..n * rows)
        .map(|k| x[(k % rows) * n + k / rows])
        .collect()
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        a.is_nan() && b.is_nan()
    } else if a.is_infinite() || b.is_infinite() {
        a == b
    } else {
        (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
    }
}

fn assert_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len());
    for (k, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(close(g, w, tol), "{what}[{k}]: {g} vs {w}");
    }
}

/// Log-sum-exp of `layout` (values, signs, residuals).
fn lse_of(x: &[f64], b: Option<&[f64]>, l: Layout, t: f64, par: Par) -> [Vec<f64>; 3] {
    let k = l.outputs();
    let (mut o, mut s, mut r) = (vec![0.0; k], vec![0.0; k], vec![0.0; k]);
    logsumexp(x, b, l, t, &mut o, Some(&mut s), Some(&mut r), par).unwrap();
    [o, s, r]
}

#[test]
fn logsumexp_matches_the_strided_path() {
    for &n in &WIDTHS {
        for &rows in &ROWS[1..] {
            let (x, b) = data(rows, n, n as u64);
            let l = Layout::new(rows, n, 1);
            assert!(narrow::applies(l));
            let (xt, bt) = (transpose(&x, rows, n), transpose(&b, rows, n));
            let lt = Layout::new(1, n, rows);
            for t in [1.0, 0.3, 4.0] {
                for (bb, bbt) in [(None, None), (Some(&b[..]), Some(&bt[..]))] {
                    let got = lse_of(&x, bb, l, t, Par::Seq);
                    let want = lse_of(&xt, bbt, lt, t, Par::Seq);
                    let what = format!("{rows}x{n} t={t} weighted={}", bb.is_some());
                    assert_close(&got[0], &want[0], 1e-13, &format!("{what} value"));
                    assert_close(&got[1], &want[1], 0.0, &format!("{what} sign"));
                    // Without a sign, rows with a negative sum are NaN.
                    let mut o = vec![0.0; rows];
                    logsumexp(&x, bb, l, t, &mut o, None, None, Par::Seq).unwrap();
                    for (k, &v) in o.iter().enumerate() {
                        let w = if want[1][k] < 0.0 {
                            f64::NAN
                        } else {
                            want[0][k]
                        };
                        assert!(close(v, w, 1e-13), "{what} unsigned[{k}]: {v} vs {w}");
                    }
                }
            }
        }
    }
}

#[test]
fn single_rows_match_the_direct_sum_and_the_threshold_splits_paths() {
    for n in [1, 2, 9, MAX_N - 1, MAX_N, MAX_N + 1, 2 * MAX_N] {
        let l = Layout::new(1, n, 1);
        assert_eq!(narrow::applies(l), n <= MAX_N);
        let x = uniform(n, 3, -3.0, 3.0);
        let [o, s, _] = lse_of(&x, None, l, 0.7, Par::Seq);
        let want = crate::relax::testutil::direct(&x, None, 0, 1, n, 0.7);
        assert!(close(o[0], want, 1e-14), "n={n}: {} vs {want}", o[0]);
        assert_eq!(s[0], 1.0);
    }
    assert!(!narrow::applies(Layout::new(5, 0, 1)));
    assert!(!narrow::applies(Layout::new(5, 3, 2)));
}

#[test]
fn softmax_matches_the_strided_path() {
    for &n in &WIDTHS {
        for &rows in &ROWS[1..] {
            let (x, _) = data(rows, n, 10 + n as u64);
            let (l, lt) = (Layout::new(rows, n, 1), Layout::new(1, n, rows));
            let xt = transpose(&x, rows, n);
            for kind in [Kind::Softmax, Kind::LogSoftmax] {
                for t in [1.0, 0.25] {
                    let (mut y, mut r) = (vec![0.0; x.len()], vec![0.0; rows]);
                    softmax(&x, l, t, kind, &mut y, Some(&mut r), Par::Seq).unwrap();
                    let (mut yt, mut rt) = (vec![0.0; x.len()], vec![0.0; rows]);
                    softmax(&xt, lt, t, kind, &mut yt, Some(&mut rt), Par::Seq).unwrap();
                    let what = format!("{kind:?} {rows}x{n} t={t}");
                    assert_close(&y, &transpose(&yt, n, rows), 1e-13, &what);
                    assert_close(&r, &rt, 1e-13, &format!("{what} lse"));
                }
            }
        }
    }
}

#[test]
fn pullbacks_match_the_strided_path() {
    for &n in &WIDTHS {
        for &rows in &ROWS[1..] {
            let (x, b) = data(rows, n, 20 + n as u64);
            let g = uniform(x.len(), 5, -1.0, 1.0);
            let ct = uniform(rows, 6, -2.0, 2.0);
            let (l, lt) = (Layout::new(rows, n, 1), Layout::new(1, n, rows));
            let tr = |v: &[f64]| transpose(v, rows, n);
            let (xt, bt, gt) = (tr(&x), tr(&b), tr(&g));
            let t = 0.8;
            for kind in [Kind::Softmax, Kind::LogSoftmax] {
                let mut y = vec![0.0; x.len()];
                softmax(&x, l, t, kind, &mut y, None, Par::Seq).unwrap();
                let mut dx = vec![0.0; x.len()];
                let dt = softmax_vjp(&y, &g, l, t, kind, &mut dx, Par::Seq).unwrap();
                let mut dxt = vec![0.0; x.len()];
                let dtt = softmax_vjp(&tr(&y), &gt, lt, t, kind, &mut dxt, Par::Seq).unwrap();
                let what = format!("{kind:?} vjp {rows}x{n}");
                assert_close(&dx, &transpose(&dxt, n, rows), 1e-12, &what);
                assert!(close(dt, dtt, 1e-11), "{what} dt: {dt} vs {dtt}");
            }
            for (bb, bbt) in [(None, None), (Some(&b[..]), Some(&bt[..]))] {
                let [_, sign, lse] = lse_of(&x, bb, l, t, Par::Seq);
                let sg = bb.map(|_| &sign[..]);
                let mut da = vec![0.0; x.len()];
                let mut db = bb.map(|_| vec![0.0; x.len()]);
                let dt = logsumexp_vjp(
                    &x,
                    bb,
                    &lse,
                    sg,
                    &ct,
                    l,
                    t,
                    &mut da,
                    db.as_deref_mut(),
                    Par::Seq,
                )
                .unwrap();
                let mut dat = vec![0.0; x.len()];
                let mut dbt = bb.map(|_| vec![0.0; x.len()]);
                let dtt = logsumexp_vjp(
                    &xt,
                    bbt,
                    &lse,
                    sg,
                    &ct,
                    lt,
                    t,
                    &mut dat,
                    dbt.as_deref_mut(),
                    Par::Seq,
                )
                .unwrap();
                let what = format!("logsumexp vjp {rows}x{n} weighted={}", bb.is_some());
                assert_close(&da, &transpose(&dat, n, rows), 1e-12, &what);
                if let (Some(db), Some(dbt)) = (db, dbt) {
                    assert_close(&db, &transpose(&dbt, n, rows), 1e-12, &format!("{what} db"));
                }
                assert!(close(dt, dtt, 1e-11), "{what} dt: {dt} vs {dtt}");
            }
        }
    }
}

#[test]
fn float32_rows_are_computed_in_float64() {
    let (rows, n) = (37, 10);
    let (x, b) = data(rows, n, 40);
    let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
    let b32: Vec<f32> = b.iter().map(|&v| v as f32).collect();
    let (xw, bw): (Vec<f64>, Vec<f64>) = (
        x32.iter().map(|&v| v as f64).collect(),
        b32.iter().map(|&v| v as f64).collect(),
    );
    let l = Layout::new(rows, n, 1);
    let mut o32 = vec![0.0f32; rows];
    let mut s32 = vec![0.0f32; rows];
    logsumexp(
        &x32,
        Some(&b32),
        l,
        1.0,
        &mut o32,
        Some(&mut s32),
        None,
        Par::Seq,
    )
    .unwrap();
    let [o, s, _] = lse_of(&xw, Some(&bw), l, 1.0, Par::Seq);
    for k in 0..rows {
        assert!(close(o32[k] as f64, (o[k] as f32) as f64, 0.0), "{k}");
        assert!(close(s32[k] as f64, s[k], 0.0), "{k}");
    }
    let mut y32 = vec![0.0f32; x.len()];
    softmax(&x32, l, 1.0, Kind::Softmax, &mut y32, None, Par::Seq).unwrap();
    let mut y = vec![0.0; x.len()];
    softmax(&xw, l, 1.0, Kind::Softmax, &mut y, None, Par::Seq).unwrap();
    for (a, w) in y32.iter().zip(&y) {
        assert!(close(*a as f64, (*w as f32) as f64, 0.0), "{a} vs {w}");
    }
}

#[test]
fn every_level_agrees_with_the_scalar_level() {
    let (rows, n) = (21, 13);
    let (x, b) = data(rows, n, 50);
    let g = uniform(x.len(), 51, -1.0, 1.0);
    let t = 0.9;
    let run = |level: Level| {
        let mut res: Vec<Vec<f64>> = Vec::new();
        for bb in [None, Some(&b[..])] {
            let (mut o, mut s, mut r) = (vec![0.0; rows], vec![0.0; rows], vec![0.0; rows]);
            let slow = |_: usize, _: f64, _: f64, _: f64| (-7.0, 9.0);
            krows::logsumexp(
                level,
                &x,
                bb,
                n,
                t,
                &mut o,
                Some(&mut s),
                Some(&mut r),
                slow,
            );
            res.extend([o, s, r]);
        }
        for log in [false, true] {
            let (mut y, mut r) = (vec![0.0; x.len()], vec![0.0; rows]);
            let slow = |_: &[f64], o: &mut [f64]| {
                o.fill(-3.0);
                -5.0
            };
            krows::softmax(level, &x, n, t, log, &mut y, Some(&mut r), slow);
            let mut dx = vec![0.0; x.len()];
            let dt = krows::softmax_vjp(level, &y, &g, n, 1.0 / t, log, &mut dx);
            res.extend([y, r, dx, vec![dt]]);
        }
        let (lse, ct) = (uniform(rows, 52, 4.0, 6.0), uniform(rows, 53, -1.0, 1.0));
        let sign: Vec<f64> = (0..rows).map(|k| [1.0, -1.0, 0.0][k % 3]).collect();
        for bb in [None, Some(&b[..])] {
            let lanes = LseLanes {
                lse: &lse,
                sign: bb.map(|_| &sign[..]),
                ct: &ct,
            };
            let mut da = vec![0.0; x.len()];
            let mut db = bb.map(|_| vec![0.0; x.len()]);
            let dt =
                krows::logsumexp_vjp(level, &x, bb, lanes, n, t, &mut da, db.as_deref_mut(), None);
            res.extend([da, db.unwrap_or_default(), vec![dt]]);
        }
        res
    };
    let want = run(Level::Scalar);
    for level in crate::simd::available() {
        for (k, (got, want)) in run(level).iter().zip(&want).enumerate() {
            assert_close(got, want, 1e-13, &format!("{level:?} output {k}"));
        }
    }
}

#[test]
fn bits_do_not_depend_on_thread_count() {
    let (rows, n) = (6007, 10);
    let (x, b) = data(rows, n, 60);
    let g = uniform(x.len(), 61, -1.0, 1.0);
    let ct = uniform(rows, 62, -1.0, 1.0);
    let l = Layout::new(rows, n, 1);
    let run = |par: Par| {
        let mut res: Vec<u64> = Vec::new();
        let mut bits = |v: &[f64]| res.extend(v.iter().map(|v| v.to_bits()));
        let [o, s, r] = lse_of(&x, Some(&b), l, 0.6, par);
        bits(&o);
        let (mut da, mut db) = (vec![0.0; x.len()], vec![0.0; x.len()]);
        let dt = logsumexp_vjp(
            &x,
            Some(&b),
            &r,
            Some(&s),
            &ct,
            l,
            0.6,
            &mut da,
            Some(&mut db),
            par,
        )
        .unwrap();
        bits(&da);
        bits(&db);
        bits(&[dt]);
        for kind in [Kind::Softmax, Kind::LogSoftmax] {
            let mut y = vec![0.0; x.len()];
            softmax(&x, l, 0.6, kind, &mut y, None, par).unwrap();
            let mut dx = vec![0.0; x.len()];
            let dt = softmax_vjp(&y, &g, l, 0.6, kind, &mut dx, par).unwrap();
            bits(&y);
            bits(&dx);
            bits(&[dt]);
        }
        res
    };
    let want = run(PARS[0]);
    for par in &PARS[1..] {
        assert!(run(*par) == want, "{par:?}");
    }
}

#[test]
fn subnormal_temperature_softmax_is_the_argmax() {
    let t = 1e-309;
    for l in [Layout::new(2, 3, 1), Layout::new(1, 3, 2)] {
        // Lanes [0, 1, 2] and [2, 0, 2] in either layout.
        let lane = [[0.0, 1.0, 2.0], [2.0, 0.0, 2.0]];
        let mut x = vec![0.0; 6];
        for (k, v) in lane.iter().enumerate() {
            for i in 0..3 {
                x[grad_tests::at(l, k, i)] = v[i];
            }
        }
        let (mut y, mut z, mut r) = (vec![0.0; 6], vec![0.0; 6], vec![0.0; 2]);
        softmax(&x, l, t, Kind::Softmax, &mut y, Some(&mut r), Par::Seq).unwrap();
        softmax(&x, l, t, Kind::LogSoftmax, &mut z, None, Par::Seq).unwrap();
        let want: [[f64; 3]; 2] = [[0.0, 0.0, 1.0], [0.5, 0.0, 0.5]];
        for k in 0..2 {
            for i in 0..3 {
                let (yk, zk) = (y[grad_tests::at(l, k, i)], z[grad_tests::at(l, k, i)]);
                assert_eq!(yk, want[k][i], "{l:?} softmax lane {k}");
                assert_eq!(zk, want[k][i].ln(), "{l:?} log_softmax lane {k}");
            }
            assert_eq!(r[k], 2.0, "{l:?} lse lane {k}");
        }
        // As t -> 0 the log-sum-exp tends to the maximum too.
        let [o, _, _] = lse_of(&x, None, l, t, Par::Seq);
        assert_eq!(o, [2.0, 2.0]);
    }
}

/// The residual alone (the value-only cross-entropy takes it) has the bits of softmax's, at every
/// level, special rows included.
#[test]
fn softmax_lse_gives_the_bits_of_the_softmax_residual() {
    let (rows, n) = (37, 11);
    let (mut x, _) = data(rows, n, 60);
    x[..n].fill(f64::NEG_INFINITY);
    x[n + 3] = f64::NAN;
    x[2 * n] = f64::INFINITY;
    for level in crate::simd::available() {
        for t in [1.0, 0.6] {
            let (mut y, mut want) = (vec![0.0; x.len()], vec![0.0; rows]);
            let slow =
                |xr: &[f64], o: &mut [f64]| super::softmax::nonfinite_row(xr, t, Kind::Softmax, o);
            krows::softmax(level, &x, n, t, false, &mut y, Some(&mut want), slow);
            let mut got = vec![0.0; rows];
            let slow = |xr: &[f64]| super::softmax::nonfinite_row(xr, t, Kind::Softmax, &mut []);
            krows::softmax_lse(level, &x, n, t, &mut got, slow);
            for (j, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!(
                    g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()),
                    "{level:?} row {j}: {g} vs {w}"
                );
            }
        }
    }
}
