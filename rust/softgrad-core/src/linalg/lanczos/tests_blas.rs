//! The block kernels of `blas.rs` on vectors of several reduction pieces, against plain sums:
//! integer-valued data, so every sum is exact and the pieces' combination must give the same
//! bits as one left-to-right sum, for any thread count.

use super::blas::{dot, orthogonalise, project, subtract};
use crate::par::{Par, REDUCE_PIECE};

/// `rows` positive vectors of length `n` (row-major) and a vector `w`, small integers.
fn data(rows: usize, n: usize) -> (Vec<f64>, Vec<f64>) {
    let b = (0..rows * n)
        .map(|k| ((k * 7 + 3) % 13) as f64 + 1.0)
        .collect();
    let w = (0..n).map(|i| ((i * 5 + 1) % 11) as f64 + 1.0).collect();
    (b, w)
}

#[test]
fn project_and_subtract_over_several_pieces_are_exact() {
    let n = 3 * REDUCE_PIECE + 5;
    let rows = 3;
    let (b, w) = data(rows, n);
    let want: Vec<f64> = (0..rows)
        .map(|j| (0..n).map(|i| b[j * n + i] * w[i]).sum())
        .collect();
    assert!(want.iter().all(|v| *v != 0.0));
    for par in [Par::Seq, Par::Rayon(2), Par::Rayon(3)] {
        assert_eq!(project("t", &b, rows, &w, par).unwrap(), want);
        assert_eq!(dot("t", &b[n..2 * n], &w, par).unwrap(), want[1]);
        let h = [2.0, -1.0, 3.0];
        let mut got = w.clone();
        subtract("t", &b, &h, &mut got, par).unwrap();
        for (i, g) in got.iter().enumerate() {
            let e = w[i] - (0..rows).map(|j| h[j] * b[j * n + i]).sum::<f64>();
            assert_eq!(*g, e, "{i}");
        }
    }
    assert!(project("t", &b, 0, &w, Par::Seq).unwrap().is_empty());
}

#[test]
fn orthogonalise_over_several_pieces_leaves_w_orthogonal_to_the_rows() {
    let n = 2 * REDUCE_PIECE + 3;
    // Two orthonormal rows: scaled indicator vectors of the even and of the odd coordinates.
    let (ne, no) = (n.div_ceil(2) as f64, (n / 2) as f64);
    let mut b = vec![0.0; 2 * n];
    for i in 0..n {
        b[(i % 2) * n + i] = 1.0 / if i % 2 == 0 { ne } else { no }.sqrt();
    }
    let w0: Vec<f64> = (0..n)
        .map(|i| (i % 5) as f64 + 0.5 * (i % 2) as f64)
        .collect();
    for par in [Par::Seq, Par::Rayon(2)] {
        let mut w = w0.clone();
        let h = orthogonalise("t", &b, 2, &mut w, par).unwrap();
        // The coefficients are Bᵀw0; what is left has zero mean on the evens and on the odds.
        let (se, so): (f64, f64) = (
            (0..n).step_by(2).map(|i| w0[i]).sum(),
            (1..n).step_by(2).map(|i| w0[i]).sum(),
        );
        assert!((h[0] - se / ne.sqrt()).abs() <= 1e-9 * se.abs());
        assert!((h[1] - so / no.sqrt()).abs() <= 1e-9 * so.abs());
        for i in 0..n {
            let mean = if i % 2 == 0 { se / ne } else { so / no };
            assert!((w[i] - (w0[i] - mean)).abs() <= 1e-9, "{i}");
        }
    }
}

#[test]
fn orthogonalise_returns_the_coefficients_of_both_passes() {
    // Rows slightly off orthonormal (as a Lanczos basis drifts): the second pass then removes a
    // part of size ~1e-3, and only the sum of both passes' coefficients reproduces w.
    let n = REDUCE_PIECE + 7;
    let mut b = vec![0.0; 2 * n];
    b[0] = 1.0;
    b[n + 1] = 1.0;
    b[n] = 1e-3; // row 1 leans towards row 0
    let w0: Vec<f64> = (0..n).map(|i| 1.0 + (i % 3) as f64).collect();
    for par in [Par::Seq, Par::Rayon(2)] {
        let mut w = w0.clone();
        let h = orthogonalise("t", &b, 2, &mut w, par).unwrap();
        for i in 0..n {
            let back = w[i] + h[0] * b[i] + h[1] * b[n + i];
            assert!((back - w0[i]).abs() <= 1e-12, "{i}: {back} vs {}", w0[i]);
        }
    }
}
