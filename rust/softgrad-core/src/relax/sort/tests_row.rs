//! The row kernels of short l2 ranks and top-k (`work/row.rs`, the pullback in `grad.rs`): the same
//! bits as `pav.rs`'s PAV and scatter and the general pullback, on lanes of many blocks, of one,
//! with ties, near the float limit, at a subnormal strength; the same bits on 1/2/3 threads.

use super::tests_one::spec;
use super::work::row::OLD;
use super::*;
use crate::relax::testutil::uniform;

/// Standard normals (Box-Muller over `uniform`).
fn normal(n: usize, seed: u64) -> Vec<f64> {
    let u = uniform(2 * n, seed, 0.0, 1.0);
    (0..n)
        .map(|i| {
            let (a, b) = (1.0 - u[2 * i], u[2 * i + 1]);
            (-2.0 * a.ln()).sqrt() * (std::f64::consts::TAU * b).cos()
        })
        .collect()
}

/// `(out, perm, z, start, gx, strength cotangent)` of the forward with residuals and the pullback
/// of `g`, through the row kernels unless `old`.
type Run = (Vec<f64>, Vec<u32>, Vec<f64>, Vec<bool>, Vec<f64>, f64);

fn run(x: &[f64], g: &[f64], l: Layout, sp: Spec, par: Par, old: bool) -> Run {
    OLD.with(|o| o.set(old));
    super::grad::OLD_VJP.with(|o| o.set(old));
    let len = x.len();
    let (mut out, mut perm, mut z, mut start) = (
        vec![0.0; len],
        vec![0u32; len],
        vec![0.0; len],
        vec![false; len],
    );
    // without residuals first: the same values
    let mut bare = vec![0.0; len];
    forward(x, l, sp, &mut bare, None, None, par).unwrap();
    let r = ResMut {
        perm: &mut perm,
        z: &mut z,
        start: &mut start,
    };
    forward(x, l, sp, &mut out, Some(r), None, par).unwrap();
    assert!(bits(&bare) == bits(&out));
    let mut gx = vec![0.0; len];
    let r = Res {
        perm: &perm,
        z: &z,
        start: &start,
        lengths: None,
    };
    let de = vjp(r, g, l, sp, &mut gx, par).unwrap();
    OLD.with(|o| o.set(false));
    super::grad::OLD_VJP.with(|o| o.set(false));
    (out, perm, z, start, gx, de)
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|v| v.to_bits()).collect()
}

fn same(a: &Run, b: &Run, what: &str) {
    assert!(bits(&a.0) == bits(&b.0), "out {what}");
    assert!(a.1 == b.1 && bits(&a.2) == bits(&b.2), "perm, z {what}");
    assert!(a.3 == b.3, "start {what}");
    assert!(bits(&a.4) == bits(&b.4), "gx {what}");
    assert_eq!(a.5.to_bits(), b.5.to_bits(), "strength cotangent {what}");
}

/// Every lane of `x` (rows of `n`) through the row kernels and through `pav.rs`: the same bits,
/// and the same on 1/2/3 threads.
fn check(x: &[f64], n: usize, sp: Spec, what: &str) {
    check_with(x, &normal(x.len(), 99), n, sp, what);
}

fn check_with(x: &[f64], g: &[f64], n: usize, sp: Spec, what: &str) {
    let l = Layout::new(x.len() / n, n, 1);
    let want = run(x, g, l, sp, Par::Seq, true);
    for par in [Par::Seq, Par::Rayon(2), Par::Rayon(3)] {
        let got = run(x, g, l, sp, par, false);
        same(&got, &want, &format!("{what} {par:?}"));
    }
}

#[test]
fn many_blocks_one_block_and_ties_give_the_bits_of_pav() {
    for &n in &[1usize, 2, 3, 4, 5, 7, 9, 64, 255, 256, 1000, 4097] {
        let rows = (3000 / n).clamp(1, 8);
        let x = normal(rows * n, n as u64);
        // ties: values on a coarse grid
        let t: Vec<f64> = x.iter().map(|v| (v * 8.0).round() / 8.0).collect();
        for strength in [1e-9, 1e-6, 1e-3, 0.05, 1.0, 30.0, 1e5] {
            for desc in [false, true] {
                for op in [Op::Rank, Op::TopK(n / 3), Op::TopK(n)] {
                    let sp = spec(op, strength, desc);
                    check(&x, n, sp, &format!("n {n} ε {strength} {op:?} {desc}"));
                    check(&t, n, sp, &format!("ties n {n} ε {strength} {op:?} {desc}"));
                }
            }
        }
    }
}

#[test]
fn values_near_the_float_limit_and_a_subnormal_strength_give_the_bits_of_pav() {
    let n = 300;
    let x = normal(2 * n, 5);
    let big: Vec<f64> = x.iter().map(|v| v * 4e307).collect();
    let tiny: Vec<f64> = x.iter().map(|v| v * 1e-310).collect();
    let mixed: Vec<f64> = x
        .iter()
        .enumerate()
        .map(|(i, v)| if i % 3 == 0 { v * 1e300 } else { *v })
        .collect();
    for (x, name) in [(&big, "big"), (&tiny, "tiny"), (&mixed, "mixed")] {
        for strength in [5e-324, 1e-300, 1e-3, 1.0, 1e300, f64::MAX] {
            for op in [Op::Rank, Op::TopK(7)] {
                check(
                    x,
                    n,
                    spec(op, strength, false),
                    &format!("{name} ε {strength}"),
                );
            }
        }
    }
}

#[test]
fn a_cotangent_that_is_not_finite_gives_the_bits_of_the_general_pullback() {
    let n = 500;
    let x = normal(3 * n, 11);
    let mut g = normal(3 * n, 12);
    g[7] = f64::INFINITY;
    g[n + 300] = f64::NAN;
    g[2 * n + 499] = -0.0;
    for strength in [1e-6, 1e-3, 0.1] {
        check_with(
            &x,
            &g,
            n,
            spec(Op::Rank, strength, false),
            &format!("ε {strength}"),
        );
    }
}
