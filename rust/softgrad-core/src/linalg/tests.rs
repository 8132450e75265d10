//! Unit tests of the sparse substrate, the preconditioners and CG against dense references.

use super::cg::{cg, CgOptions, CgStatus, Plain, Pre};
use super::csr::Csr;
use super::ilu::{Incomplete, OnBreakdown};
use super::jacobi::{BlockJacobi, Jacobi};
use super::op::LinOp;
use super::ssor::Ssor;
use crate::error::Error;
use crate::par::Par;

/// The 5-point Laplacian on an `m × m` grid (CSR, i32 indices), optionally anisotropic (`eps`
/// weights the y-direction).
pub(super) fn poisson(m: usize, eps: f64) -> (Vec<i32>, Vec<i32>, Vec<f64>) {
    let (mut ip, mut ix, mut v) = (vec![0i32], Vec::new(), Vec::new());
    for i in 0..m {
        for j in 0..m {
            let r = i * m + j;
            let mut push = |c: usize, x: f64| {
                ix.push(c as i32);
                v.push(x);
            };
            if i > 0 {
                push(r - m, -eps);
            }
            if j > 0 {
                push(r - 1, -1.0);
            }
            push(r, 2.0 + 2.0 * eps);
            if j + 1 < m {
                push(r + 1, -1.0);
            }
            if i + 1 < m {
                push(r + m, -eps);
            }
            ip.push(ix.len() as i32);
        }
    }
    (ip, ix, v)
}

fn dense(a: &Csr<'_, i32, f64>) -> Vec<Vec<f64>> {
    let n = a.n();
    let mut d = vec![vec![0.0; n]; n];
    for (i, row) in d.iter_mut().enumerate() {
        for k in a.row(i) {
            row[a.indices()[k] as usize] = a.data()[k];
        }
    }
    d
}

fn apply(op: &dyn LinOp, x: &[f64], par: Par) -> Vec<f64> {
    let mut y = vec![0.0; x.len()];
    op.apply(x, &mut y, par).unwrap();
    y
}

fn matvec(d: &[Vec<f64>], x: &[f64]) -> Vec<f64> {
    d.iter()
        .map(|r| r.iter().zip(x).map(|(a, b)| a * b).sum())
        .collect()
}

fn close(a: &[f64], b: &[f64], tol: f64) {
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= tol * (1.0 + y.abs()), "{i}: {x} vs {y}");
    }
}

fn xs(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| ((i * 7919) % 13) as f64 / 13.0 - 0.4)
        .collect()
}

#[test]
fn csr_checks_its_arrays() {
    let (ip, ix, v) = poisson(3, 1.0);
    assert!(Csr::new("t", 9, &ip, &ix, &v).is_ok());
    let mut bad = ix.clone();
    bad.swap(0, 1);
    let e = Csr::new("t", 9, &ip, &bad, &v).unwrap_err();
    assert!(e.to_string().contains("unsorted"), "{e}");
    let mut nan = v.clone();
    nan[4] = f64::NAN;
    let e = Csr::new("t", 9, &ip, &ix, &nan).unwrap_err();
    assert!(e.to_string().contains("non-finite"), "{e}");
    let mut oob = ix.clone();
    oob[2] = 9;
    assert!(Csr::new("t", 9, &ip, &oob, &v).is_err());
    assert!(Csr::new("t", 8, &ip, &ix, &v).is_err());
}

#[test]
fn spmv_matches_dense_and_threads_agree() {
    let (ip, ix, v) = poisson(70, 0.3);
    let a = Csr::new("t", 4900, &ip, &ix, &v).unwrap();
    let x = xs(4900);
    let want = matvec(&dense(&a), &x);
    let y1 = apply(&a, &x, Par::Seq);
    close(&y1, &want, 1e-14);
    for t in [2, 3] {
        assert_eq!(apply(&a, &x, Par::Rayon(t)), y1);
    }
    a.check_symmetric("t").unwrap();
}

#[test]
fn symmetry_check_names_the_entry() {
    let (ip, ix, mut v) = poisson(3, 1.0);
    v[1] = -0.5; // row 0, column 1
    let a = Csr::new("t", 9, &ip, &ix, &v).unwrap();
    let e = a.check_symmetric("ic0").unwrap_err().to_string();
    assert!(e.contains("A[0, 1]"), "{e}");
    // An explicit zero with no mirror is symmetric; a non-zero one is not, from either side.
    let (ip, ix, v) = (vec![0, 2, 3, 4], vec![0, 2, 1, 2], vec![1.0, 0.0, 1.0, 1.0]);
    Csr::new("t", 3, &ip, &ix, &v)
        .unwrap()
        .check_symmetric("t")
        .unwrap();
    for (ip, ix, v, at) in [
        (
            vec![0, 2, 3, 4],
            vec![0, 2, 1, 2],
            vec![1.0, 0.5, 1.0, 1.0],
            "A[0, 2] = 0.5",
        ),
        (
            vec![0, 1, 2, 4],
            vec![0, 1, 0, 2],
            vec![1.0, 1.0, 0.5, 1.0],
            "A[2, 0] = 0.5",
        ),
    ] {
        let e = Csr::new("t", 3, &ip, &ix, &v)
            .unwrap()
            .check_symmetric("t")
            .unwrap_err();
        assert!(e.to_string().contains(at), "{e}");
    }
}

#[test]
fn jacobi_and_block_jacobi_match_dense() {
    let (ip, ix, v) = poisson(9, 0.5);
    let a = Csr::new("t", 81, &ip, &ix, &v).unwrap();
    let x = xs(81);
    let j = Jacobi::new(&a).unwrap();
    let want: Vec<f64> = x.iter().map(|xi| xi / 3.0).collect();
    close(&apply(&j, &x, Par::Seq), &want, 1e-15);
    // Blocks of 9 rows are grid lines: each inverse applied to its slice.
    let bj = BlockJacobi::new(&a, 9).unwrap();
    let y = apply(&bj, &x, Par::Seq);
    let d = dense(&a);
    for b in 0..9 {
        let blk: Vec<Vec<f64>> = (0..9)
            .map(|i| d[b * 9 + i][b * 9..b * 9 + 9].to_vec())
            .collect();
        close(
            &matvec(&blk, &y[b * 9..b * 9 + 9]),
            &x[b * 9..b * 9 + 9],
            1e-12,
        );
    }
    // A ragged last block.
    let bj = BlockJacobi::new(&a, 10).unwrap();
    let y = apply(&bj, &x, Par::Seq);
    assert!(y.iter().all(|v| v.is_finite()));
}

#[test]
fn ssor_matches_its_dense_formula() {
    let (ip, ix, v) = poisson(6, 0.7);
    let n = 36;
    let a = Csr::new("t", n, &ip, &ix, &v).unwrap();
    let d = dense(&a);
    let w = 1.3;
    let s = Ssor::new(&a, w).unwrap();
    let x = xs(n);
    let y = apply(&s, &x, Par::Seq);
    // M y = (D + wL) D^-1 (D + wU) y / (w (2 - w)) must equal x.
    let u: Vec<f64> = (0..n)
        .map(|i| d[i][i] * y[i] + (i + 1..n).map(|j| w * d[i][j] * y[j]).sum::<f64>())
        .collect();
    let u: Vec<f64> = (0..n).map(|i| u[i] / d[i][i]).collect();
    let my: Vec<f64> = (0..n)
        .map(|i| {
            (d[i][i] * u[i] + (0..i).map(|j| w * d[i][j] * u[j]).sum::<f64>()) / (w * (2.0 - w))
        })
        .collect();
    close(&my, &x, 1e-12);
}

#[allow(clippy::needless_range_loop)]
fn lu_product_on_pattern(a: &Csr<'_, i32, f64>, vals: &[f64], ic: bool) {
    let n = a.n();
    let mut l = vec![vec![0.0; n]; n];
    let mut u = vec![vec![0.0; n]; n];
    for i in 0..n {
        for k in a.row(i) {
            let j = a.indices()[k] as usize;
            if j < i {
                l[i][j] = vals[k];
            } else {
                u[i][j] = vals[k];
                if j == i {
                    l[i][i] = if ic { vals[k] } else { 1.0 };
                }
            }
        }
    }
    if ic {
        // U = Lᵀ
        for (i, ui) in u.iter_mut().enumerate() {
            for (j, uij) in ui.iter_mut().enumerate() {
                *uij = if j >= i { l[j][i] } else { 0.0 };
            }
        }
    }
    for i in 0..n {
        for k in a.row(i) {
            let j = a.indices()[k] as usize;
            let p: f64 = (0..n).map(|m| l[i][m] * u[m][j]).sum();
            assert!(
                (p - a.data()[k]).abs() < 1e-12,
                "({i},{j}): {p} vs {}",
                a.data()[k]
            );
        }
    }
}

#[test]
fn ilu0_and_ic0_reproduce_a_on_its_pattern() {
    let (ip, ix, v) = poisson(7, 0.4);
    let a = Csr::new("t", 49, &ip, &ix, &v).unwrap();
    let ilu = Incomplete::ilu0(&a).unwrap();
    lu_product_on_pattern(&a, ilu.tri().values(), false);
    let ic = Incomplete::ic0(&a, 0.0, OnBreakdown::Raise).unwrap();
    lu_product_on_pattern(&a, ic.tri().values(), true);
    assert_eq!(ic.shift(), 0.0);
}

#[test]
fn ic0_breakdown_raises_or_shifts() {
    // SPD but not an H-matrix: IC(0) of the pattern breaks down without a shift.
    let ip = [0i32, 3, 6, 9];
    let ix = [0i32, 1, 2, 0, 1, 2, 0, 1, 2];
    let v = [1.0, 0.9, 0.9, 0.9, 1.0, 0.9, 0.9, 0.9, 1.0];
    // Drop (2,0)/(0,2) from the pattern: only a chain 0-1-2 of strong couplings.
    let a = Csr::new("t", 3, &ip, &ix, &v).unwrap();
    let _ = Incomplete::ic0(&a, 0.0, OnBreakdown::Raise); // SPD? may factor; the next one cannot
    let v2 = [1.0, 2.0, 0.0, 2.0, 1.0, 0.0, 0.0, 0.0, 1.0];
    let a2 = Csr::new("t", 3, &ip, &ix, &v2).unwrap();
    match Incomplete::ic0(&a2, 0.0, OnBreakdown::Raise) {
        Err(Error::Breakdown { row: 1, .. }) => {}
        other => panic!("{other:?}"),
    }
    let s = Incomplete::ic0(&a2, 0.0, OnBreakdown::Shift).unwrap();
    assert!(s.shift() >= 1.0, "{}", s.shift());
}

#[test]
fn triangular_solves_are_identical_for_any_schedule_and_threads() {
    let (ip, ix, v) = poisson(60, 0.5);
    let n = 3600;
    let a = Csr::new("t", n, &ip, &ix, &v).unwrap();
    let x = xs(n);
    let mut ic = Incomplete::ic0(&a, 0.0, OnBreakdown::Raise).unwrap();
    assert_eq!(ic.tri().levels(), (119, 119));
    let seq = apply(&ic, &x, Par::Seq);
    ic.tri_mut().set_min_level_work(0);
    for t in [1, 2, 3] {
        assert_eq!(apply(&ic, &x, Par::Rayon(t)), seq);
    }
    let mut s = Ssor::new(&a, 1.2).unwrap();
    let seq = apply(&s, &x, Par::Seq);
    s.tri_mut().set_min_level_work(0);
    assert_eq!(apply(&s, &x, Par::Rayon(2)), seq);
}

fn solve(a: &Csr<'_, i32, f64>, m: Pre<'_>, par: Par) -> (Vec<f64>, super::cg::CgReport) {
    let n = a.n();
    let b = xs(n);
    let mut x = vec![0.0; n];
    let opts = CgOptions {
        rtol: 1e-10,
        atol: 0.0,
        maxiter: 10 * n,
        x0: false,
    };
    let rep = cg(a, &b, &mut x, m, opts, None, par).unwrap();
    (x, rep)
}

#[test]
fn pcg_solves_and_preconditioning_cuts_iterations() {
    let (ip, ix, v) = poisson(40, 0.05);
    let n = 1600;
    let a = Csr::new("t", n, &ip, &ix, &v).unwrap();
    let b = xs(n);
    let (x0, r0) = solve(&a, Pre::None, Par::Seq);
    assert_eq!(r0.status, CgStatus::Converged);
    let res = |x: &[f64]| {
        let ax = apply(&a, x, Par::Seq);
        ax.iter()
            .zip(&b)
            .map(|(p, q)| (p - q).powi(2))
            .sum::<f64>()
            .sqrt()
    };
    assert!(res(&x0) < 1e-9 * 10.0);
    let j = Jacobi::new(&a).unwrap();
    let ic = Incomplete::ic0(&a, 0.0, OnBreakdown::Raise).unwrap();
    let s = Ssor::new(&a, 1.5).unwrap();
    let bj = BlockJacobi::new(&a, 40).unwrap();
    let (xj, rj) = solve(&a, Pre::Diag(j.inv_diag()), Par::Seq);
    let (xo, ro) = solve(&a, Pre::Op(&j), Par::Seq);
    // Jacobi on a CSR matrix runs CG on the scaled system: the same iterates up to rounding.
    close(&xj, &xo, 1e-9);
    assert!(rj.iterations.abs_diff(ro.iterations) <= 1);
    for m in [Pre::Op(&ic), Pre::Op(&s), Pre::Op(&bj)] {
        let (x, r) = solve(&a, m, Par::Seq);
        assert_eq!(r.status, CgStatus::Converged);
        assert!(
            r.iterations < r0.iterations,
            "{m:?}: {} vs {}",
            r.iterations,
            r0.iterations
        );
        assert!(res(&x) < 1e-8);
        assert_eq!(r.residuals.len(), r.iterations + 1);
        let (x2, _) = solve(&a, m, Par::Rayon(2));
        assert_eq!(x, x2);
    }
    assert!(res(&xj) < 1e-8);
}

#[test]
fn cg_reports_non_convergence_and_indefinite_matrices() {
    let (ip, ix, v) = poisson(20, 1.0);
    let a = Csr::new("t", 400, &ip, &ix, &v).unwrap();
    let b = xs(400);
    let mut x = vec![0.0; 400];
    let opts = CgOptions {
        rtol: 1e-12,
        atol: 0.0,
        maxiter: 3,
        x0: false,
    };
    let r = cg(&a, &b, &mut x, Pre::None, opts, None, Par::Seq).unwrap();
    assert_eq!((r.status, r.iterations), (CgStatus::MaxIter, 3));
    let neg: Vec<f64> = v.iter().map(|x| -x).collect();
    let a = Csr::new("t", 400, &ip, &ix, &neg).unwrap();
    let r = cg(&Plain(&a), &b, &mut x, Pre::None, opts, None, Par::Seq).unwrap();
    assert_eq!(r.status, CgStatus::NotPositiveDefinite);
    // b = 0: x = 0 at once.
    let r = cg(&a, &[0.0; 400], &mut x, Pre::None, opts, None, Par::Seq).unwrap();
    assert_eq!((r.status, r.iterations), (CgStatus::Converged, 0));
    assert!(x.iter().all(|&v| v == 0.0));
}

#[test]
fn an_owned_copy_applies_the_same_product() {
    let (ip, ix, v) = poisson(30, 0.2);
    let a = Csr::new("t", 900, &ip, &ix, &v).unwrap();
    let b = super::csr::CsrBuf::of("t", &a).unwrap();
    let x = xs(900);
    assert_eq!(apply(&b, &x, Par::Rayon(2)), apply(&a, &x, Par::Seq));
}
