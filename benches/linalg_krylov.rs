//! Criterion benches of the Krylov kernels (`softgrad_core::linalg`): the symmetric tridiagonal
//! eigensolver (implicit QL, with the last row of the eigenvectors only, as each convergence check
//! needs, and with all of them) and the projected matrix's full eigen-decomposition of a thick
//! restart; the reorthogonalisation (classical Gram–Schmidt twice against `m` basis vectors of
//! length `n`); and a whole Lanczos solve on the matrix-free 2-D Poisson operator.
//!
//! `cargo bench -p softgrad-core --bench linalg_krylov`. Throughput: matrix entries (`m²` for the
//! eigensolvers), basis entries (`m · n`) for the reorthogonalisation, products for Lanczos.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use softgrad_core::linalg::lanczos::{blas, lanczos, tridiag, Options, Which};
use softgrad_core::linalg::LinOp;
use softgrad_core::{Par, Result};

fn bench_tridiag(c: &mut Criterion) {
    let mut g = c.benchmark_group("tridiag");
    for m in [24usize, 100, 400] {
        let d: Vec<f64> = (0..m).map(|i| 2.0 + (i as f64 * 0.7).sin()).collect();
        let e: Vec<f64> = (0..m - 1).map(|i| 1.0 + 0.3 * (i as f64).cos()).collect();
        g.throughput(Throughput::Elements((m * m) as u64));
        g.bench_function(BenchmarkId::new("ql_last_row", m), |b| {
            b.iter(|| {
                let (mut dd, mut z) = (d.clone(), vec![0.0; m]);
                z[m - 1] = 1.0;
                tridiag::ql("bench", &mut dd, &e, &mut z, 1).unwrap();
                dd
            })
        });
        g.bench_function(BenchmarkId::new("ql_vectors", m), |b| {
            b.iter(|| {
                let (mut dd, mut z) = (d.clone(), vec![0.0; m * m]);
                (0..m).for_each(|i| z[i * m + i] = 1.0);
                tridiag::ql("bench", &mut dd, &e, &mut z, m).unwrap();
                dd
            })
        });
        if m <= 100 {
            let mut a = vec![0.0; m * m];
            for i in 0..m {
                a[i * m + i] = d[i];
                if i + 1 < m {
                    a[i * m + i + 1] = e[i];
                    a[(i + 1) * m + i] = e[i];
                }
                a[i * m] += 0.1; // a bordered (arrowhead) row and column, as after a restart
                a[i] += 0.1;
            }
            g.bench_function(BenchmarkId::new("sym_eig", m), |b| {
                b.iter(|| tridiag::sym_eig("bench", &mut a.clone(), m).unwrap())
            });
        }
    }
    g.finish();
}

fn bench_reorth(c: &mut Criterion) {
    let mut g = c.benchmark_group("reorth");
    g.sample_size(20);
    for (n, m) in [(10_000usize, 24usize), (40_000, 24), (40_000, 64)] {
        let basis: Vec<f64> = (0..n * m)
            .map(|i| ((i * 7919) % 1013) as f64 / 1013.0)
            .collect();
        let w0: Vec<f64> = (0..n).map(|i| (i as f64 * 0.01).cos()).collect();
        g.throughput(Throughput::Elements((n * m) as u64));
        for (name, par) in [("seq", Par::Seq), ("2threads", Par::Rayon(2))] {
            g.bench_function(
                BenchmarkId::new(format!("cgs2/{name}"), format!("n{n}/m{m}")),
                |b| {
                    b.iter(|| {
                        let mut w = w0.clone();
                        blas::orthogonalise("bench", &basis, m, &mut w, par).unwrap()
                    })
                },
            );
        }
    }
    g.finish();
}

/// The 2-D Poisson matrix (5-point stencil), matrix-free.
struct Poisson(usize);

impl LinOp for Poisson {
    fn dim(&self) -> usize {
        self.0 * self.0
    }
    fn apply(&self, x: &[f64], y: &mut [f64], _par: Par) -> Result<()> {
        let n = self.0;
        for j in 0..n {
            for i in 0..n {
                let k = j * n + i;
                let mut v = 4.0 * x[k];
                if i > 0 {
                    v -= x[k - 1];
                }
                if i + 1 < n {
                    v -= x[k + 1];
                }
                if j > 0 {
                    v -= x[k - n];
                }
                if j + 1 < n {
                    v -= x[k + n];
                }
                y[k] = v;
            }
        }
        Ok(())
    }
}

fn bench_lanczos(c: &mut Criterion) {
    let mut g = c.benchmark_group("lanczos");
    g.sample_size(10);
    let p = Poisson(100);
    let o = Options {
        k: 6,
        which: Which::Largest,
        maxiter: None,
        tol: 1e-8,
        seed: 0,
    };
    let matvecs = lanczos(&p, &o, Par::Seq).unwrap().matvecs;
    g.throughput(Throughput::Elements(matvecs as u64));
    g.bench_function("poisson100x100/k6_largest", |b| {
        b.iter(|| lanczos(&p, &o, Par::Seq).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench_tridiag, bench_reorth, bench_lanczos);
criterion_main!(benches);
