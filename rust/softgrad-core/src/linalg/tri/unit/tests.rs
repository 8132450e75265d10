//! The unit sweeps of the scaled form against the preconditioners' own sweeps, and conjugate
//! gradients through the scaled form against the unscaled loop.

use crate::linalg::cg::{cg, CgOptions, CgStatus, Pre};
use crate::linalg::csr::Csr;
use crate::linalg::ilu::{Incomplete, OnBreakdown};
use crate::linalg::op::LinOp;
use crate::linalg::ssor::Ssor;
use crate::linalg::tests::poisson;
use crate::linalg::vec::dot;
use crate::par::Par;

fn xs(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| ((i * 7919) % 101) as f64 / 50.0 - 1.0)
        .collect()
}

/// `c · S · unit(S x)`: `M⁻¹ x` from the scaled form.
fn unscaled(unit: &dyn LinOp, s: &[f64], c: f64, x: &[f64]) -> Vec<f64> {
    let sx: Vec<f64> = x.iter().zip(s).map(|(a, b)| a * b).collect();
    let mut z = vec![0.0; x.len()];
    unit.apply(&sx, &mut z, Par::Seq).unwrap();
    z.iter().zip(s).map(|(a, b)| c * a * b).collect()
}

fn close(a: &[f64], b: &[f64], tol: f64) {
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for (i, (p, q)) in a.iter().zip(b).enumerate() {
        assert!((p - q).abs() <= tol * scale, "row {i}: {p} vs {q}");
    }
}

#[test]
fn unit_forms_apply_the_preconditioners_inverse() {
    // Grids wide enough for runs (a grid row is at least three runs: first, interior, last).
    for (m, eps) in [(150, 1.0), (190, 0.3)] {
        let (ip, ix, v) = poisson(m, eps);
        let n = m * m;
        let a = Csr::new("t", n, &ip, &ix, &v).unwrap();
        let x = xs(n);
        let ic = Incomplete::ic0(&a, 0.0, OnBreakdown::Raise).unwrap();
        let (s, unit) = ic.unit().expect("IC(0) of a grid matrix has runs");
        let mut want = vec![0.0; n];
        ic.apply(&x, &mut want, Par::Seq).unwrap();
        close(&unscaled(unit, s, 1.0, &x), &want, 1e-13);
        for omega in [1.0, 1.5] {
            let ss = Ssor::new(&a, omega).unwrap();
            let (s, unit) = ss.unit().expect("SSOR of a grid matrix has runs");
            ss.apply(&x, &mut want, Par::Seq).unwrap();
            close(&unscaled(unit, s, omega * (2.0 - omega), &x), &want, 1e-13);
        }
        // The fused dot product equals the separate one bit for bit.
        let mut z = vec![0.0; n];
        let d = unit.apply_and_dot("t", &x, &mut z, Par::Seq).unwrap();
        assert_eq!(d.to_bits(), dot("t", &x, &z, Par::Seq).unwrap().to_bits());
    }
}

#[test]
fn scattered_matrices_have_no_unit_form() {
    // A tridiagonal matrix with values that change every row: no runs.
    let n: usize = 300;
    let (mut ip, mut ix, mut v) = (vec![0i32], Vec::new(), Vec::new());
    for i in 0..n {
        for j in i.saturating_sub(1)..(i + 2).min(n) {
            ix.push(j as i32);
            v.push(if i == j { 4.0 + (i % 7) as f64 } else { -1.0 });
        }
        ip.push(ix.len() as i32);
    }
    let a = Csr::new("t", n, &ip, &ix, &v).unwrap();
    assert!(Incomplete::ic0(&a, 0.0, OnBreakdown::Raise)
        .unwrap()
        .unit()
        .is_none());
    assert!(Ssor::new(&a, 1.2).unwrap().unit().is_none());
}

#[test]
fn cg_through_the_scaled_form_matches_the_unscaled_loop() {
    let m = 150;
    let (ip, ix, v) = poisson(m, 0.3);
    let n = m * m;
    let a = Csr::new("t", n, &ip, &ix, &v).unwrap();
    let b = xs(n);
    let opts = CgOptions {
        rtol: 1e-10,
        atol: 0.0,
        maxiter: 2000,
        x0: false,
    };
    let ic = Incomplete::ic0(&a, 0.0, OnBreakdown::Raise).unwrap();
    let ss = Ssor::new(&a, 1.5).unwrap();
    let (si, ui) = ic.unit().unwrap();
    let (sq, uq) = ss.unit().unwrap();
    let cases: [(&(dyn LinOp + Sync), &[f64], &(dyn LinOp + Sync)); 2] =
        [(&ic, si, ui), (&ss, sq, uq)];
    for (plain, s, unit) in cases {
        let mut x0 = vec![0.0; n];
        let r0 = cg(&a, &b, &mut x0, Pre::Op(plain), opts, None, Par::Seq).unwrap();
        let mut x1 = vec![0.0; n];
        let pre = Pre::Scaled { s, unit, plain };
        let r1 = cg(&a, &b, &mut x1, pre, opts, None, Par::Seq).unwrap();
        assert_eq!(
            (r0.status, r1.status),
            (CgStatus::Converged, CgStatus::Converged)
        );
        assert!(
            r0.iterations.abs_diff(r1.iterations) <= 1,
            "{} vs {}",
            r0.iterations,
            r1.iterations
        );
        assert_eq!(r1.psolves, r1.iterations);
        // The true residual meets the tolerance.
        let mut ax = vec![0.0; n];
        a.apply(&x1, &mut ax, Par::Seq).unwrap();
        let res: f64 = ax
            .iter()
            .zip(&b)
            .map(|(p, q)| (p - q) * (p - q))
            .sum::<f64>()
            .sqrt();
        let bn: f64 = b.iter().map(|v| v * v).sum::<f64>().sqrt();
        assert!(res <= 2e-10 * bn, "{res} vs {bn}");
        close(&x1, &x0, 1e-8);
        for t in [2, 3] {
            let mut xt = vec![0.0; n];
            let rt = cg(&a, &b, &mut xt, pre, opts, None, Par::Rayon(t)).unwrap();
            assert_eq!(xt, x1);
            assert_eq!(rt.residuals, r1.residuals);
        }
        // A starting point: the same solution.
        let mut xs0: Vec<f64> = x1.iter().map(|v| v * 0.9).collect();
        let o = CgOptions { x0: true, ..opts };
        let r2 = cg(&a, &b, &mut xs0, pre, o, None, Par::Seq).unwrap();
        assert_eq!(r2.status, CgStatus::Converged);
        close(&xs0, &x1, 1e-8);
    }
}
