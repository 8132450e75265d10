//! `tridiag.rs`'s QL: a NaN in the matrix is refused after `MAX_SWEEPS` sweeps (no endless loop),
//! and a long 1D Laplacian (eigenvalues `2 − 2 cos(jπ/(m+1))`, clustered at both ends) converges
//! to its closed form within the sweep limit, whether all of `Q` or its last row is carried.

use super::tridiag::ql;

#[test]
fn a_nan_in_the_matrix_is_an_error_not_an_endless_loop() {
    for (d, e) in [
        (vec![1.0, f64::NAN, 2.0], vec![1.0, 1.0]),
        (vec![1.0, 3.0, 2.0], vec![f64::NAN, 1.0]),
        (vec![f64::NAN, 3.0], vec![0.5]),
    ] {
        let mut d = d;
        let mut z = vec![0.0; d.len()];
        let err = ql("test", &mut d, &e, &mut z, 1).unwrap_err();
        assert!(err.to_string().contains("did not converge"), "{err}");
    }
}

#[test]
fn a_long_laplacian_converges_to_its_closed_form() {
    let m = 300;
    let want =
        |j: usize| 2.0 - 2.0 * ((j + 1) as f64 * std::f64::consts::PI / (m + 1) as f64).cos();
    let e = vec![-1.0; m - 1];
    let mut d = vec![2.0; m];
    let mut last = vec![0.0; m];
    last[m - 1] = 1.0;
    ql("test", &mut d, &e, &mut last, 1).unwrap();
    let mut got = d.clone();
    got.sort_by(f64::total_cmp);
    for (j, g) in got.iter().enumerate() {
        assert!((g - want(j)).abs() < 1e-12, "{j}: {g} vs {}", want(j));
    }
    // the last components of the eigenvectors: |q_m(j)| = sqrt(2/(m+1)) sin(jπ/(m+1))
    let mut lastsq: Vec<f64> = last.iter().map(|v| v * v).collect();
    lastsq.sort_by(f64::total_cmp);
    let mut wantsq: Vec<f64> = (1..=m)
        .map(|j| {
            let s = (j as f64 * std::f64::consts::PI / (m + 1) as f64).sin();
            2.0 / (m + 1) as f64 * s * s
        })
        .collect();
    wantsq.sort_by(f64::total_cmp);
    for (a, b) in lastsq.iter().zip(&wantsq) {
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }
}
