//! The triangular sweeps against a plain dense substitution, and the fused `solve_dot` against
//! the separate dot product, for every schedule and thread count.

use super::super::ilu::{Incomplete, OnBreakdown};
use super::super::op::LinOp;
use super::super::ssor::Ssor;
use super::super::tests::poisson;
use super::super::vec::dot;
use super::TriPair;
use crate::linalg::csr::Csr;
use crate::par::Par;

fn xs(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| ((i * 7919) % 101) as f64 / 50.0 - 1.0)
        .collect()
}

/// `s · U⁻¹ (m ⊙ L⁻¹ x)` by plain substitution over the full pattern, dividing by the diagonal.
fn reference(t: &TriPair, unit_lower: bool, mid: Option<&[f64]>, s: f64, x: &[f64]) -> Vec<f64> {
    let (p, v) = (t.pattern(), t.values());
    let n = p.n();
    let mut y = x.to_vec();
    for i in 0..n {
        let mut acc = y[i];
        for k in p.indptr[i]..p.diag[i] {
            acc -= v[k] * y[p.indices[k] as usize];
        }
        y[i] = if unit_lower { acc } else { acc / v[p.diag[i]] };
    }
    if let Some(m) = mid {
        for (yi, mi) in y.iter_mut().zip(m) {
            *yi *= mi;
        }
    }
    for i in (0..n).rev() {
        let mut acc = y[i];
        for k in p.diag[i] + 1..p.indptr[i + 1] {
            acc -= v[k] * y[p.indices[k] as usize];
        }
        y[i] = acc / v[p.diag[i]];
    }
    y.iter().map(|yi| yi * s).collect()
}

fn close(a: &[f64], b: &[f64]) {
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for (i, (p, q)) in a.iter().zip(b).enumerate() {
        assert!((p - q).abs() <= 1e-13 * scale, "row {i}: {p} vs {q}");
    }
}

#[test]
fn sweeps_match_plain_substitution() {
    // 45 x 45 = 2025 rows: pieces of REDUCE_PIECE = 2048 rows cut nothing, so also 70 x 70.
    for m in [45, 70] {
        let (ip, ix, v) = poisson(m, 0.3);
        let n = m * m;
        let a = Csr::new("t", n, &ip, &ix, &v).unwrap();
        let x = xs(n);
        let ic = Incomplete::ic0(&a, 0.0, OnBreakdown::Raise).unwrap();
        close(&apply(&ic, &x), &reference(ic.tri(), false, None, 1.0, &x));
        let ilu = Incomplete::ilu0(&a).unwrap();
        close(&apply(&ilu, &x), &reference(ilu.tri(), true, None, 1.0, &x));
        let om = 1.3;
        let s = Ssor::new(&a, om).unwrap();
        let d = a.diagonal();
        let scale = om * (2.0 - om);
        // SSOR's values are ω·A off the diagonal and A on it.
        close(
            &apply(&s, &x),
            &reference(s.tri(), false, Some(&d), scale, &x),
        );
    }
}

fn apply(op: &dyn LinOp, x: &[f64]) -> Vec<f64> {
    let mut y = vec![0.0; x.len()];
    op.apply(x, &mut y, Par::Seq).unwrap();
    y
}

#[test]
fn solve_dot_equals_solve_then_dot_for_any_schedule() {
    let (ip, ix, v) = poisson(70, 0.5);
    let n = 4900;
    let a = Csr::new("t", n, &ip, &ix, &v).unwrap();
    let x = xs(n);
    let mut ic = Incomplete::ic0(&a, 0.0, OnBreakdown::Raise).unwrap();
    let z = apply(&ic, &x);
    let want = dot("t", &x, &z, Par::Seq).unwrap();
    for forced in [false, true] {
        if forced {
            ic.tri_mut().set_min_level_work(0);
        }
        for par in [Par::Seq, Par::Rayon(1), Par::Rayon(2), Par::Rayon(3)] {
            let mut y = vec![0.0; n];
            let got = ic.apply_and_dot("t", &x, &mut y, par).unwrap();
            assert_eq!(y, z, "{par:?}, forced levels {forced}");
            assert_eq!(
                got.to_bits(),
                want.to_bits(),
                "{par:?}, forced levels {forced}"
            );
        }
    }
    let mut y = vec![0.0; n - 1];
    assert!(ic.apply_and_dot("t", &x, &mut y, Par::Seq).is_err());
}

/// The sweeps of the previous version (full pattern, `usize` positions, the previous row read back
/// from memory), for the timing below.
fn old_solve(t: &TriPair, x: &[f64], y: &mut [f64]) {
    let (p, v) = (t.pattern(), t.values());
    let n = p.n();
    let inv: Vec<f64> = p.diag.iter().map(|&d| 1.0 / v[d]).collect();
    y.copy_from_slice(x);
    for i in 0..n {
        let mut acc = y[i];
        for k in p.indptr[i]..p.diag[i] {
            acc -= v[k] * y[p.indices[k] as usize];
        }
        y[i] = acc * inv[i];
    }
    for i in (0..n).rev() {
        let mut acc = y[i];
        for k in p.diag[i] + 1..p.indptr[i + 1] {
            acc -= v[k] * y[p.indices[k] as usize];
        }
        y[i] = acc * inv[i];
    }
}

/// Times of one IC(0) solve on the 500 x 500 Poisson matrix, this version and the previous one:
/// `cargo test --release -p softgrad-core tri::tests::timing -- --ignored --nocapture`.
#[test]
#[ignore]
fn timing() {
    let (ip, ix, v) = poisson(500, 1.0);
    let n = 250_000;
    let a = Csr::new("t", n, &ip, &ix, &v).unwrap();
    let x = xs(n);
    let ic = Incomplete::ic0(&a, 0.0, OnBreakdown::Raise).unwrap();
    let mut y = vec![0.0; n];
    let mut q = vec![0.0; n];
    for _ in 0..3 {
        for name in [
            "ic0 solve+dot",
            "ic0 solve",
            "ic0 solve (previous)",
            "spmv 1 thread",
            "spmv 2 threads",
        ] {
            let mut best = f64::MAX;
            for _ in 0..30 {
                let t = std::time::Instant::now();
                match name {
                    "spmv 1 thread" => drop(a.apply_dot(&x, &mut q, &x, Par::Seq).unwrap()),
                    "spmv 2 threads" => drop(a.apply_dot(&x, &mut q, &x, Par::Rayon(2)).unwrap()),
                    "ic0 solve (previous)" => old_solve(ic.tri(), &x, &mut y),
                    "ic0 solve" => ic.tri().solve("t", &x, &mut y, Par::Seq).unwrap(),
                    _ => drop(ic.apply_and_dot("t", &x, &mut y, Par::Seq).unwrap()),
                }
                best = best.min(t.elapsed().as_secs_f64());
            }
            println!("{name}: best {:.3} ms", best * 1e3);
        }
    }
}
