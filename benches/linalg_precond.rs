//! Criterion benches of the sparse substrate (`softgrad_core::linalg`) on the 5-point Poisson matrix
//! of a 500 x 500 grid (250 000 rows, 1.25 M entries): the fused product `y = A x, pᵀy` over the
//! caller's CSR arrays and over the packed copy (runs of identical rows: `A` itself and Jacobi's
//! `S A S`), the IC(0) triangular solves in row order, level-scheduled (the levels are the grid's
//! 999 anti-diagonals) and as the unit sweeps of the scaled form, and ten Jacobi-PCG and IC(0)-PCG
//! iterations (IC(0) unscaled and scaled). The set-up of a solve (the packing of `S A S`, or of
//! `A`: [`prepare`]) is timed apart from the iterations (`pcg_setup`), as are the checks of the
//! input (`csr_new`: the arrays, `check_symmetric`: `A = Aᵀ`).
//!
//! `cargo bench -p softgrad-core --bench linalg_precond`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use softgrad_core::linalg::cg::{prepare, CgOptions, Pre, Run};
use softgrad_core::linalg::ilu::{Incomplete, OnBreakdown};
use softgrad_core::linalg::jacobi::Jacobi;
use softgrad_core::linalg::packed::Packed;
use softgrad_core::linalg::{Csr, LinOp};
use softgrad_core::Par;

fn poisson(m: usize) -> (Vec<i32>, Vec<i32>, Vec<f64>) {
    let (mut ip, mut ix, mut v) = (vec![0i32], Vec::new(), Vec::new());
    for i in 0..m {
        for j in 0..m {
            let r = i * m + j;
            let mut push = |c: usize, x: f64| {
                ix.push(c as i32);
                v.push(x);
            };
            if i > 0 {
                push(r - m, -1.0);
            }
            if j > 0 {
                push(r - 1, -1.0);
            }
            push(r, 4.0);
            if j + 1 < m {
                push(r + 1, -1.0);
            }
            if i + 1 < m {
                push(r + m, -1.0);
            }
            ip.push(ix.len() as i32);
        }
    }
    (ip, ix, v)
}

fn pars() -> [(&'static str, Par); 2] {
    [("1thread", Par::Seq), ("2threads", Par::Rayon(2))]
}

fn bench(c: &mut Criterion) {
    let m = 500;
    let n = m * m;
    let (ip, ix, v) = poisson(m);
    let a = Csr::new("bench", n, &ip, &ix, &v).unwrap();
    let x: Vec<f64> = (0..n).map(|i| (i % 13) as f64 * 0.1 - 0.6).collect();
    let mut y = vec![0.0; n];
    let mut g = c.benchmark_group("linalg");
    g.sample_size(20);
    g.throughput(Throughput::Elements(a.nnz() as u64));
    g.bench_function("csr_new/poisson500", |bch| {
        bch.iter(|| Csr::new("bench", n, &ip, &ix, &v).unwrap())
    });
    g.bench_function("check_symmetric/poisson500", |bch| {
        bch.iter(|| a.check_symmetric("bench").unwrap())
    });
    for (name, par) in pars() {
        g.bench_function(format!("spmv_dot/poisson500/{name}"), |bch| {
            bch.iter(|| a.apply_dot(&x, &mut y, &x, par).unwrap())
        });
    }
    let j = Jacobi::new(&a).unwrap();
    let s: Vec<f64> = j.inv_diag().iter().map(|d| d.sqrt()).collect();
    let packed = [
        ("plain", Packed::plain(&a).unwrap()),
        ("scaled", Packed::scaled("bench", &a, s).unwrap().unwrap()),
    ];
    for (form, pk) in &packed {
        for (name, par) in pars() {
            g.bench_function(format!("packed_spmv_dot/{form}/poisson500/{name}"), |bch| {
                bch.iter(|| pk.apply_dot(&x, &mut y, &x, par).unwrap())
            });
        }
    }
    let mut ic = Incomplete::ic0(&a, 0.0, OnBreakdown::Raise).unwrap();
    let (_, unit) = ic.unit().unwrap();
    g.bench_function("ic0_solve/unit_runs/1thread", |bch| {
        bch.iter(|| unit.apply(&x, &mut y, Par::Seq).unwrap())
    });
    for (name, par) in pars() {
        g.bench_function(format!("ic0_solve/rows/{name}"), |bch| {
            bch.iter(|| ic.apply(&x, &mut y, par).unwrap())
        });
    }
    ic.tri_mut().set_min_level_work(0);
    for (name, par) in pars() {
        g.bench_function(format!("ic0_solve/levels/{name}"), |bch| {
            bch.iter(|| ic.apply(&x, &mut y, par).unwrap())
        });
    }
    let ic = Incomplete::ic0(&a, 0.0, OnBreakdown::Raise).unwrap();
    let (s, unit) = ic.unit().unwrap();
    let opts = CgOptions {
        rtol: 0.0,
        atol: 0.0,
        maxiter: 10,
        x0: false,
    };
    for (name, par) in pars() {
        let pres = [
            ("jacobi", Pre::Diag(j.inv_diag())),
            ("ic0", Pre::Op(&ic)),
            (
                "ic0_scaled",
                Pre::Scaled {
                    s,
                    unit,
                    plain: &ic,
                },
            ),
        ];
        for (pname, pre) in pres {
            g.throughput(Throughput::Elements(a.nnz() as u64));
            g.bench_function(format!("pcg_setup/{pname}/{name}"), |bch| {
                bch.iter(|| prepare(&a, pre).unwrap())
            });
            let prepared = prepare(&a, pre).unwrap();
            let mut xs = vec![0.0; n];
            g.throughput(Throughput::Elements(10));
            g.bench_function(format!("pcg_10_iterations/{pname}/{name}"), |bch| {
                bch.iter(|| {
                    prepared
                        .solve(Run {
                            b: &x,
                            x: &mut xs,
                            opts,
                            callback: None,
                            par,
                        })
                        .unwrap()
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
