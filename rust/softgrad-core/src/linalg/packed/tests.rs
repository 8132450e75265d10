//! The packed scaled matrix against the CSR product, in both forms; CG through it against the
//! unscaled Jacobi-PCG loop.

use super::Packed;
use crate::linalg::cg::{cg, CgOptions, CgStatus, MatDot, Pre};
use crate::linalg::csr::Csr;
use crate::linalg::jacobi::Jacobi;
use crate::linalg::tests::poisson;
use crate::linalg::vec::{cg_update_scaled, dot, xpby, Step};
use crate::par::Par;

/// The CSR matrix without its packed form: conjugate gradients runs the unscaled loop.
struct Unscaled<'a>(Csr<'a, i32, f64>);

impl MatDot for Unscaled<'_> {
    fn dim(&self) -> usize {
        self.0.n()
    }
    fn apply_dot(&self, x: &[f64], y: &mut [f64], p: &[f64], par: Par) -> crate::Result<f64> {
        self.0.apply_dot(x, y, p, par)
    }
}

/// `(indptr, indices, data)`.
type Arrays = (Vec<i32>, Vec<i32>, Vec<f64>);

fn xs(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| ((i * 7919) % 1000) as f64 / 500.0 - 1.0)
        .collect()
}

/// `S = diag(d)^{1/2}` (Jacobi's).
fn sq(d: &[f64]) -> Vec<f64> {
    d.iter().map(|v| v.sqrt()).collect()
}

/// `S A S x` with `S = diag(d)^{1/2}`, entry by entry.
fn reference(a: &Csr<'_, i32, f64>, d: &[f64], x: &[f64]) -> Vec<f64> {
    (0..a.n())
        .map(|i| {
            a.row(i)
                .map(|k| {
                    let j = a.indices()[k] as usize;
                    d[i].sqrt() * a.data()[k] * d[j].sqrt() * x[j]
                })
                .sum()
        })
        .collect()
}

fn close(a: &[f64], b: &[f64], tol: f64) {
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= tol * (1.0 + y.abs()), "{i}: {x} vs {y}");
    }
}

/// A symmetric matrix with a random pattern and distinct values (no two rows alike), diagonally
/// dominant: `n` rows, about `per_row` off-diagonal entries a row.
fn scattered(n: usize, per_row: usize) -> Arrays {
    let mut rows = vec![std::collections::BTreeMap::new(); n];
    let mut state = 12345u64;
    for i in 0..n {
        for _ in 0..per_row / 2 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let j = (state >> 33) as usize % n;
            let v = -(((state >> 11) % 1000) as f64) / 997.0 - 0.01;
            if j != i {
                rows[i].insert(j, v);
                rows[j].insert(i, v);
            }
        }
    }
    let (mut ip, mut ix, mut vv) = (vec![0i32], Vec::new(), Vec::new());
    for (i, row) in rows.iter_mut().enumerate() {
        let off: f64 = row.values().map(|v: &f64| v.abs()).sum();
        row.insert(i, off + 1.0 + i as f64 / n as f64);
        for (&j, &v) in row.iter() {
            ix.push(j as i32);
            vv.push(v);
        }
        ip.push(ix.len() as i32);
    }
    (ip, ix, vv)
}

/// The Poisson matrix plus `0, 1, 2, 0, ...` on the diagonal of successive grid lines: the
/// scaling is not constant, the runs are still grid lines.
fn poisson_bumped(m: usize) -> Arrays {
    let (ip, ix, mut v) = poisson(m, 0.4);
    for i in 0..m * m {
        for k in ip[i] as usize..ip[i + 1] as usize {
            if ix[k] as usize == i {
                v[k] += ((i / m) % 3) as f64;
            }
        }
    }
    (ip, ix, v)
}

/// Past [`PAR_MIN_ELEMS`](crate::par::PAR_MIN_ELEMS) rows, so that two threads split the work.
const N: usize = 190 * 190;

#[test]
fn both_forms_match_the_scaled_product_for_any_thread_count() {
    let cases: [(&str, Arrays, bool); 3] = [
        ("poisson", poisson(190, 0.3), true),
        ("bumped", poisson_bumped(190), true),
        ("scattered", scattered(N, 6), false),
    ];
    for (name, (ip, ix, v), runs) in cases {
        let a = Csr::new("t", N, &ip, &ix, &v).unwrap();
        let d = Jacobi::new(&a).unwrap().inv_diag().to_vec();
        let pk = Packed::scaled("t", &a, sq(&d)).unwrap().unwrap();
        assert_eq!(pk.is_runs(), runs, "{name}");
        let x = xs(N);
        let p: Vec<f64> = x.iter().map(|v| v * 0.5 + 0.25).collect();
        let want = reference(&a, &d, &x);
        let mut y1 = vec![0.0; N];
        let dot1 = pk.apply_dot(&x, &mut y1, &p, Par::Seq).unwrap();
        close(&y1, &want, 1e-14);
        let wd: f64 = want.iter().zip(&p).map(|(a, b)| a * b).sum();
        assert!(
            (dot1 - wd).abs() <= 1e-12 * wd.abs().max(1.0),
            "{name}: {dot1} vs {wd}"
        );
        for t in [2, 3] {
            let mut y = vec![0.0; N];
            let dot = pk.apply_dot(&x, &mut y, &p, Par::Rayon(t)).unwrap();
            assert_eq!(y, y1, "{name}");
            assert_eq!(dot.to_bits(), dot1.to_bits(), "{name}");
        }
    }
}

#[test]
fn runs_cover_empty_and_single_entry_rows_and_refuse_bad_scalings() {
    // Rows: [2 at 0], [], [1 at 0, 3 at 2], [] , then 20 rows of the same 1-entry template.
    let mut ip = vec![0, 1, 1, 3, 3];
    let mut ix = vec![0, 0, 2];
    let mut v = vec![2.0, 1.0, 3.0];
    for i in 4..24 {
        ix.push(i);
        v.push(5.0);
        ip.push(ix.len() as i32);
    }
    let a = Csr::new("t", 24, &ip, &ix, &v).unwrap();
    let d = vec![1.0; 24];
    let x = xs(24);
    let mut y = vec![7.0; 24];
    let pk = Packed::scaled("t", &a, sq(&d)).unwrap().unwrap();
    pk.apply_dot(&x, &mut y, &x, Par::Seq).unwrap();
    close(&y, &reference(&a, &d, &x), 1e-15);
    assert_eq!((y[1], y[3]), (0.0, 0.0));
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let mut d = d.clone();
        d[5] = bad;
        assert!(Packed::scaled("t", &a, sq(&d)).unwrap().is_none(), "{bad}");
    }
    assert!(Packed::scaled("t", &a, sq(&d[1..])).unwrap().is_none());
    // Dense rows without runs: no packed copy.
    let (ip, ix, v) = scattered(400, 40);
    let a = Csr::new("t", 400, &ip, &ix, &v).unwrap();
    assert!(a.nnz() > 16 * 400);
    assert!(Packed::scaled("t", &a, sq(&vec![1.0; 400]))
        .unwrap()
        .is_none());
}

#[test]
fn scaled_cg_follows_unscaled_jacobi_pcg() {
    let opts = CgOptions {
        rtol: 1e-10,
        atol: 0.0,
        maxiter: 2000,
        x0: false,
    };
    for (ip, ix, v) in [poisson(40, 0.2), poisson_bumped(40)] {
        let a = Csr::new("t", 1600, &ip, &ix, &v).unwrap();
        let jac = Jacobi::new(&a).unwrap();
        let b = xs(1600);
        let run = |m: &dyn MatDot, x0: Option<&[f64]>| {
            let mut x = x0.map_or(vec![0.0; 1600], <[f64]>::to_vec);
            let mut seen = Vec::new();
            let mut cb = |it: usize, xk: &[f64]| {
                if it == 3 {
                    seen = xk.to_vec();
                }
                Ok(true)
            };
            let o = CgOptions {
                x0: x0.is_some(),
                ..opts
            };
            let rep = cg(
                m,
                &b,
                &mut x,
                Pre::Diag(jac.inv_diag()),
                o,
                Some(&mut cb),
                Par::Seq,
            )
            .unwrap();
            (x, rep, seen)
        };
        let (x1, r1, s1) = run(&a, None);
        let (x2, r2, s2) = run(&Unscaled(a), None);
        assert_eq!(r1.status, CgStatus::Converged);
        assert!(
            r1.iterations.abs_diff(r2.iterations) <= 1,
            "{} vs {}",
            r1.iterations,
            r2.iterations
        );
        assert_eq!((r1.matvecs, r1.psolves), (r1.iterations, r1.iterations));
        close(&x1, &x2, 1e-8);
        close(&s1, &s2, 1e-12);
        // The reported residuals are the unscaled system's.
        close(&r1.residuals[..20], &r2.residuals[..20], 1e-9);
        let mut ax = vec![0.0; 1600];
        a.apply_dot(&x1, &mut ax, &x1, Par::Seq).unwrap();
        let res: f64 = ax
            .iter()
            .zip(&b)
            .map(|(p, q)| (p - q) * (p - q))
            .sum::<f64>()
            .sqrt();
        assert!(res <= 1.5 * r1.tol, "{res} vs {}", r1.tol);
        // A starting point is scaled in and the solution scaled out.
        let (x3, r3, _) = run(&a, Some(&x1));
        assert_eq!(r3.status, CgStatus::Converged);
        assert!(r3.iterations <= 2 && r3.matvecs == r3.iterations + 1);
        assert!(
            (r3.residuals[0] - res).abs() <= 1e-3 * res,
            "{} vs {res}",
            r3.residuals[0]
        );
        close(&x3, &x1, 1e-9);
    }
}

#[test]
fn scaled_cg_gives_the_same_bits_for_any_thread_count() {
    let (ip, ix, v) = poisson_bumped(190);
    let a = Csr::new("t", N, &ip, &ix, &v).unwrap();
    let jac = Jacobi::new(&a).unwrap();
    let b = xs(N);
    let opts = CgOptions {
        rtol: 1e-6,
        atol: 0.0,
        maxiter: 2000,
        x0: false,
    };
    let solve = |par| {
        let mut x = vec![0.0; N];
        let rep = cg(&a, &b, &mut x, Pre::Diag(jac.inv_diag()), opts, None, par).unwrap();
        assert_eq!(rep.status, CgStatus::Converged);
        (x, rep.residuals)
    };
    let one = solve(Par::Seq);
    for t in [2, 3] {
        assert_eq!(solve(Par::Rayon(t)), one);
    }
}

/// `cargo test --release -p softgrad-core --lib packed::tests::timing -- --ignored --nocapture`.
#[test]
#[ignore]
fn timing() {
    let (ip, ix, v) = poisson(500, 1.0);
    let n = 250_000;
    let ms = |t: std::time::Instant| t.elapsed().as_secs_f64() * 1e3;
    let t = std::time::Instant::now();
    let a = Csr::new("t", n, &ip, &ix, &v).unwrap();
    let t1 = std::time::Instant::now();
    a.check_symmetric("t").unwrap();
    let t2 = std::time::Instant::now();
    let jac = Jacobi::new(&a).unwrap();
    let t3 = std::time::Instant::now();
    let pk = Packed::scaled("t", &a, sq(jac.inv_diag()))
        .unwrap()
        .unwrap();
    println!(
        "check {:.3} ms, symmetric {:.3} ms, jacobi {:.3} ms, pack {:.3} ms (runs form {})",
        ms(t) - ms(t1),
        ms(t1) - ms(t2),
        ms(t2) - ms(t3),
        ms(t3),
        pk.is_runs()
    );
    let x = xs(n);
    let mut q = vec![0.0; n];
    let opts = CgOptions {
        rtol: 1e-8,
        atol: 0.0,
        maxiter: 20000,
        x0: false,
    };
    for _ in 0..2 {
        for par in [Par::Seq, Par::Rayon(2)] {
            let mut best = [f64::MAX; 2];
            for _ in 0..20 {
                let t = std::time::Instant::now();
                let _ = a.apply_dot(&x, &mut q, &x, par).unwrap();
                best[0] = best[0].min(t.elapsed().as_secs_f64());
                let t = std::time::Instant::now();
                let _ = pk.apply_dot(&x, &mut q, &x, par).unwrap();
                best[1] = best[1].min(t.elapsed().as_secs_f64());
            }
            println!(
                "{par:?} spmv csr {:.3} ms, packed {:.3} ms",
                best[0] * 1e3,
                best[1] * 1e3
            );
            let (mut xx, mut rr, mut pp) = (x.clone(), x.clone(), x.clone());
            let mut best = [f64::MAX; 3];
            for _ in 0..20 {
                let t = std::time::Instant::now();
                let step = Step {
                    alpha: 0.0,
                    p: &x,
                    q: &q,
                    x: &mut xx,
                    r: &mut rr,
                };
                let _ = cg_update_scaled("t", step, pk.unscale(), par);
                best[0] = best[0].min(t.elapsed().as_secs_f64());
                let t = std::time::Instant::now();
                xpby("t", &rr, 0.5, &mut pp, par).unwrap();
                best[1] = best[1].min(t.elapsed().as_secs_f64());
                let t = std::time::Instant::now();
                let _ = dot("t", &rr, &pp, par).unwrap();
                best[2] = best[2].min(t.elapsed().as_secs_f64());
            }
            println!(
                "{par:?} update {:.3} ms, xpby {:.3} ms, dot {:.3} ms",
                best[0] * 1e3,
                best[1] * 1e3,
                best[2] * 1e3
            );
            for (name, m) in [("unscaled", &Unscaled(a) as &dyn MatDot), ("scaled", &a)] {
                let mut sol = vec![0.0; n];
                let t = std::time::Instant::now();
                let rep = cg(m, &x, &mut sol, Pre::Diag(jac.inv_diag()), opts, None, par).unwrap();
                let dt = t.elapsed().as_secs_f64();
                println!(
                    "{par:?} cg {name}: {:.3} s, {} it, {:.3} ms/it, {:?}",
                    dt,
                    rep.iterations,
                    dt * 1e3 / rep.iterations as f64,
                    rep.status
                );
                assert_eq!(rep.status, CgStatus::Converged);
            }
        }
    }
}

#[test]
fn the_plain_copy_is_a_itself_in_runs_only() {
    let (ip, ix, v) = poisson(190, 0.3);
    let a = Csr::new("t", N, &ip, &ix, &v).unwrap();
    let pk = Packed::plain(&a).unwrap();
    assert!(pk.is_runs() && pk.scale().is_empty());
    let x = xs(N);
    let mut want = vec![0.0; N];
    a.apply_dot(&x, &mut want, &x, Par::Seq).unwrap();
    let mut y1 = vec![0.0; N];
    let d1 = pk.apply_dot(&x, &mut y1, &x, Par::Seq).unwrap();
    close(&y1, &want, 1e-15);
    for t in [2, 3] {
        let mut y = vec![0.0; N];
        let d = pk.apply_dot(&x, &mut y, &x, Par::Rayon(t)).unwrap();
        assert_eq!((y, d.to_bits()), (y1.clone(), d1.to_bits()));
    }
    // No runs: no plain copy (the rows form would not be smaller than the caller's arrays).
    let (ip, ix, v) = scattered(N, 6);
    let a = Csr::new("t", N, &ip, &ix, &v).unwrap();
    assert!(Packed::plain(&a).is_none());
}
