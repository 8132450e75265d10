//! The symmetric tridiagonal eigenproblem, by implicit QL with Wilkinson shifts.
//!
//! Written here rather than taken from a crate: it is 60 lines (EISPACK's `tql2`, as in Numerical
//! Recipes' `tqli`), and the Lanczos driver needs a variant the crates do not offer: carrying only
//! *some rows* of the eigenvector matrix through the rotations. Lanczos checks convergence after
//! every step from the last components of the eigenvectors of `T_m` alone, which the rotations give
//! in `O(m)` each (`O(m²)` per check instead of `O(m³)`); the full eigenvectors are formed once, at
//! the end. (faer's or nalgebra's symmetric eigensolvers would add a large dependency and compute
//! the whole matrix every time.)

use crate::{Error, Result};

/// Sweeps allowed per eigenvalue: QL with Wilkinson shifts converges cubically (Wilkinson 1968), in
/// two or three sweeps in practice.
const MAX_SWEEPS: usize = 60;

/// Eigenvalues of the symmetric tridiagonal matrix with diagonal `d` (overwritten by them, in no
/// particular order) and off-diagonal `e` (`e[i]` couples `i` and `i + 1`; length `m - 1`).
///
/// `z` holds `rows` rows of length `m` (row-major); each is multiplied by the rotations, so a row
/// `uᵀ` becomes `uᵀ Q` where the columns of `Q` are the eigenvectors. Start from the identity for
/// the whole `Q`, or from `e_{m-1}ᵀ` for the last components only.
pub fn ql(func: &'static str, d: &mut [f64], e: &[f64], z: &mut [f64], rows: usize) -> Result<()> {
    let m = d.len();
    if m == 0 {
        return Ok(());
    }
    debug_assert_eq!(e.len(), m - 1);
    debug_assert_eq!(z.len(), rows * m);
    let mut e: Vec<f64> = e.iter().copied().chain([0.0]).collect();
    for l in 0..m {
        let mut sweeps = 0;
        loop {
            let mut k = l;
            while k + 1 < m {
                let dd = d[k].abs() + d[k + 1].abs();
                if e[k].abs() <= f64::EPSILON * dd {
                    break;
                }
                k += 1;
            }
            if k == l {
                break;
            }
            sweeps += 1;
            if sweeps > MAX_SWEEPS {
                return Err(Error::param(
                    func,
                    "matvec",
                    "gave a tridiagonal matrix whose eigenvalues did not converge (is it symmetric?)",
                ));
            }
            let mut g = (d[l + 1] - d[l]) / (2.0 * e[l]);
            let mut r = g.hypot(1.0);
            g = d[k] - d[l] + e[l] / (g + r.copysign(g));
            let (mut s, mut c, mut p) = (1.0f64, 1.0f64, 0.0f64);
            let mut underflow = false;
            for i in (l..k).rev() {
                let f = s * e[i];
                let b = c * e[i];
                r = f.hypot(g);
                e[i + 1] = r;
                if r == 0.0 {
                    d[i + 1] -= p;
                    e[k] = 0.0;
                    underflow = true;
                    break;
                }
                s = f / r;
                c = g / r;
                g = d[i + 1] - p;
                r = (d[i] - g) * s + 2.0 * c * b;
                p = s * r;
                d[i + 1] = g + p;
                g = c * r - b;
                for row in z.chunks_exact_mut(m) {
                    let f = row[i + 1];
                    row[i + 1] = s * row[i] + c * f;
                    row[i] = c * row[i] - s * f;
                }
            }
            if underflow {
                continue;
            }
            d[l] -= p;
            e[l] = g;
            e[k] = 0.0;
        }
    }
    Ok(())
}

/// Eigen-decomposition of the dense symmetric `m × m` matrix `a` (row-major; destroyed):
/// Householder reduction to tridiagonal form `a = Q T Qᵀ` (Golub & Van Loan, Algorithm 8.3.1), then
/// [`ql`] carrying the rows of `Q`. Returns the eigenvalues (unordered) and the row-major `m × m`
/// matrix whose column `i` is the eigenvector of eigenvalue `i`. For the small projected matrices
/// of thick-restarted Lanczos (`m` of a few tens), where `O(m³)` is negligible.
pub fn sym_eig(func: &'static str, a: &mut [f64], m: usize) -> Result<(Vec<f64>, Vec<f64>)> {
    let mut q = vec![0.0; m * m];
    (0..m).for_each(|i| q[i * m + i] = 1.0);
    let mut v = vec![0.0; m];
    for k in 0..m.saturating_sub(2) {
        let len = m - k - 1;
        let x: Vec<f64> = (0..len).map(|i| a[(k + 1 + i) * m + k]).collect();
        let xn = x.iter().map(|t| t * t).sum::<f64>().sqrt();
        if xn == 0.0 {
            continue;
        }
        let alpha = if x[0] > 0.0 { -xn } else { xn };
        v[..len].copy_from_slice(&x);
        v[0] -= alpha;
        let vv: f64 = v[..len].iter().map(|t| t * t).sum();
        if vv == 0.0 {
            continue;
        }
        let f = 2.0 / vv;
        // a ← H a (rows k+1..m), then a ← a H (columns k+1..m), then Q ← Q H.
        for c in 0..m {
            let s: f64 = (0..len).map(|i| v[i] * a[(k + 1 + i) * m + c]).sum();
            (0..len).for_each(|i| a[(k + 1 + i) * m + c] -= f * s * v[i]);
        }
        for mat in [&mut *a, &mut q] {
            for r in 0..m {
                let row = &mut mat[r * m + k + 1..(r + 1) * m];
                let s: f64 = row.iter().zip(&v[..len]).map(|(x, y)| x * y).sum();
                row.iter_mut()
                    .zip(&v[..len])
                    .for_each(|(x, y)| *x -= f * s * y);
            }
        }
    }
    let mut d: Vec<f64> = (0..m).map(|i| a[i * m + i]).collect();
    let e: Vec<f64> = (0..m.saturating_sub(1))
        .map(|i| a[(i + 1) * m + i])
        .collect();
    ql(func, &mut d, &e, &mut q, m)?;
    Ok((d, q))
}

/// The permutation sorting `d` ascending (ties by index, so it is deterministic).
pub fn ascending(d: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..d.len()).collect();
    idx.sort_by(|&a, &b| d[a].total_cmp(&d[b]).then(a.cmp(&b)));
    idx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_1d_laplacian_has_its_known_spectrum_and_orthonormal_vectors() {
        let m = 37;
        let mut d = vec![2.0; m];
        let e = vec![-1.0; m - 1];
        let mut z = vec![0.0; m * m];
        (0..m).for_each(|i| z[i * m + i] = 1.0);
        ql("test", &mut d, &e, &mut z, m).unwrap();
        let mut got = d.clone();
        got.sort_by(f64::total_cmp);
        for (j, g) in got.iter().enumerate() {
            let want = 2.0 - 2.0 * ((j + 1) as f64 * std::f64::consts::PI / (m + 1) as f64).cos();
            assert!((g - want).abs() < 1e-13, "{j}: {g} vs {want}");
        }
        // T q = λ q for each column q of Q, and QᵀQ = I.
        for c in 0..m {
            let q: Vec<f64> = (0..m).map(|r| z[r * m + c]).collect();
            for r in 0..m {
                let tq = 2.0 * q[r]
                    - if r > 0 { q[r - 1] } else { 0.0 }
                    - if r + 1 < m { q[r + 1] } else { 0.0 };
                assert!((tq - d[c] * q[r]).abs() < 1e-12);
            }
            let nrm: f64 = q.iter().map(|v| v * v).sum();
            assert!((nrm - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn the_last_row_alone_matches_the_full_matrix() {
        let m = 20;
        let d0: Vec<f64> = (0..m).map(|i| ((i * 7919) % 13) as f64 - 6.0).collect();
        let e: Vec<f64> = (0..m - 1).map(|i| 0.5 + ((i * 31) % 5) as f64).collect();
        let (mut d1, mut d2) = (d0.clone(), d0.clone());
        let mut full = vec![0.0; m * m];
        (0..m).for_each(|i| full[i * m + i] = 1.0);
        let mut last = vec![0.0; m];
        last[m - 1] = 1.0;
        ql("test", &mut d1, &e, &mut full, m).unwrap();
        ql("test", &mut d2, &e, &mut last, 1).unwrap();
        assert_eq!(d1, d2);
        assert_eq!(&full[(m - 1) * m..], &last[..]);
    }

    #[test]
    fn a_dense_symmetric_matrix_is_diagonalised() {
        let m = 9;
        let mut a = vec![0.0; m * m];
        for i in 0..m {
            for j in 0..m {
                a[i * m + j] =
                    1.0 / (1.0 + i as f64 + j as f64) + if i == j { i as f64 } else { 0.0 };
            }
        }
        let a0 = a.clone();
        let (d, q) = sym_eig("test", &mut a, m).unwrap();
        for c in 0..m {
            for r in 0..m {
                let aq: f64 = (0..m).map(|k| a0[r * m + k] * q[k * m + c]).sum();
                assert!((aq - d[c] * q[r * m + c]).abs() < 1e-12, "{r} {c}");
            }
            let nrm: f64 = (0..m).map(|r| q[r * m + c].powi(2)).sum();
            assert!((nrm - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn decoupled_and_trivial_matrices() {
        let mut d = vec![3.0, 1.0, 2.0];
        let mut z = vec![1.0, 0.0, 0.0];
        ql("test", &mut d, &[0.0, 0.0], &mut z, 1).unwrap();
        assert_eq!(d, vec![3.0, 1.0, 2.0]);
        let mut d = vec![5.0];
        ql("test", &mut d, &[], &mut [], 0).unwrap();
        assert_eq!(ascending(&[2.0, -1.0, 2.0]), vec![1, 0, 2]);
    }
}
