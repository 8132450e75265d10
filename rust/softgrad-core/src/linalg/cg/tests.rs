//! [`prepare`] then [`Prepared::solve`] against [`cg`]: one set-up serves several right-hand sides
//! with the bits of separate calls, in every form (plain, packed, scaled Jacobi, scaled IC(0)).

use super::{cg, prepare, CgOptions, CgStatus, Pre, Run};
use crate::linalg::csr::Csr;
use crate::linalg::ilu::{Incomplete, OnBreakdown};
use crate::linalg::jacobi::Jacobi;
use crate::linalg::tests::poisson;
use crate::par::Par;

#[test]
fn one_setup_solves_several_right_hand_sides_with_the_bits_of_cg() {
    let m = 150; // runs of identical rows long enough for the packed and scaled forms
    let n = m * m;
    let (ip, ix, v) = poisson(m, 0.3);
    let a = Csr::new("t", n, &ip, &ix, &v).unwrap();
    let jac = Jacobi::new(&a).unwrap();
    let ic = Incomplete::ic0(&a, 0.0, OnBreakdown::Raise).unwrap();
    let (s, unit) = ic.unit().unwrap();
    let forms = [
        (Pre::None, false),
        (Pre::Diag(jac.inv_diag()), true),
        (Pre::Op(&ic), false),
        (
            Pre::Scaled {
                s,
                unit,
                plain: &ic,
            },
            true,
        ),
    ];
    let bs: Vec<Vec<f64>> = (0..2)
        .map(|k| (0..n).map(|i| ((i * (k + 3)) % 11) as f64 - 5.0).collect())
        .collect();
    for (pre, scaled) in forms {
        for par in [Par::Seq, Par::Rayon(2)] {
            let p = prepare(&a, pre).unwrap();
            assert_eq!((p.dim(), p.is_scaled()), (n, scaled), "{pre:?}");
            for (k, b) in bs.iter().enumerate() {
                let opts = CgOptions {
                    rtol: 1e-8,
                    atol: 0.0,
                    maxiter: 2000,
                    x0: k == 1,
                };
                let x0 = vec![0.25; n];
                let (mut x1, mut x2) = (x0.clone(), x0.clone());
                let r1 = cg(&a, b, &mut x1, pre, opts, None, par).unwrap();
                let run = Run {
                    b,
                    x: &mut x2,
                    opts,
                    callback: None,
                    par,
                };
                let r2 = p.solve(run).unwrap();
                assert_eq!(r1.status, CgStatus::Converged);
                assert_eq!(
                    (r1.iterations, &r1.residuals),
                    (r2.iterations, &r2.residuals)
                );
                assert_eq!(x1, x2, "{pre:?} b{k}");
                // A x = b to the tolerance.
                let mut ax = vec![0.0; n];
                a.apply_dot(&x2, &mut ax, &x2, par).unwrap();
                let res: f64 = ax.iter().zip(b).map(|(y, b)| (y - b) * (y - b)).sum();
                let bn: f64 = b.iter().map(|b| b * b).sum();
                assert!(res.sqrt() <= 1e-7 * bn.sqrt(), "{pre:?} b{k}: {res}");
            }
            // Wrong lengths are refused by the solve as by cg.
            let mut short = vec![0.0; n - 1];
            let run = Run {
                b: &bs[0],
                x: &mut short,
                opts: CgOptions {
                    rtol: 1e-8,
                    atol: 0.0,
                    maxiter: 5,
                    x0: false,
                },
                callback: None,
                par,
            };
            assert!(p.solve(run).is_err());
        }
    }
}
