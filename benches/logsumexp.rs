//! Criterion benches of the log-sum-exp family kernels (`softgrad_core::relax`).
//!
//! `cargo bench -p softgrad-core --bench logsumexp`; `SOFTGRAD_SIMD=scalar|avx2` pins a lower level.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use softgrad_core::relax::logsumexp::logsumexp;
use softgrad_core::relax::softmax::{softmax, Kind};
use softgrad_core::relax::softmax_grad::{logsumexp_vjp_rows, softmax_vjp_rows};
use softgrad_core::relax::Layout;
use softgrad_core::Par;

fn data(n: usize) -> Vec<f64> {
    let mut z = 0x1234_5678_u64;
    (0..n)
        .map(|_| {
            z ^= z << 13;
            z ^= z >> 7;
            z ^= z << 17;
            (z >> 11) as f64 / (1u64 << 53) as f64 * 20.0 - 10.0
        })
        .collect()
}

fn pars() -> [(&'static str, Par); 2] {
    [("1thread", Par::Seq), ("2threads", Par::Rayon(2))]
}

fn bench_logsumexp(c: &mut Criterion) {
    let mut g = c.benchmark_group("logsumexp");
    g.sample_size(20);
    for (outer, n) in [(1usize, 10_000_000usize), (10_000, 1000)] {
        let x = data(outer * n);
        let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let l = Layout::new(outer, n, 1);
        g.throughput(Throughput::Elements(x.len() as u64));
        for (name, par) in pars() {
            let id = format!("{outer}x{n}/f64/{name}");
            g.bench_function(BenchmarkId::from_parameter(id), |bch| {
                let mut out = vec![0.0; outer];
                bch.iter(|| logsumexp(&x, None, l, 1.0, &mut out, None, par).unwrap())
            });
            let id = format!("{outer}x{n}/f32/{name}");
            g.bench_function(BenchmarkId::from_parameter(id), |bch| {
                let mut out = vec![0.0f32; outer];
                bch.iter(|| logsumexp(&x32, None, l, 1.0, &mut out, None, par).unwrap())
            });
        }
    }
    // Reduction over a strided axis: (1000, 10000) along axis 0.
    let x = data(10_000_000);
    let l = Layout::new(1, 1000, 10_000);
    g.throughput(Throughput::Elements(x.len() as u64));
    for (name, par) in pars() {
        g.bench_function(
            BenchmarkId::from_parameter(format!("axis0_1000x10000/f64/{name}")),
            |bch| {
                let mut out = vec![0.0; 10_000];
                bch.iter(|| logsumexp(&x, None, l, 1.0, &mut out, None, par).unwrap())
            },
        );
    }
    g.finish();
}

fn bench_softmax(c: &mut Criterion) {
    let mut g = c.benchmark_group("softmax");
    g.sample_size(20);
    let x = data(10_000_000);
    g.throughput(Throughput::Elements(x.len() as u64));
    for (kind, kname) in [
        (Kind::Softmax, "softmax"),
        (Kind::LogSoftmax, "log_softmax"),
    ] {
        for (name, par) in pars() {
            let l = Layout::new(10_000, 1000, 1);
            g.bench_function(
                BenchmarkId::from_parameter(format!("{kname}/10000x1000/{name}")),
                |bch| {
                    let mut out = vec![0.0; x.len()];
                    bch.iter(|| softmax(&x, l, 1.0, kind, &mut out, par).unwrap())
                },
            );
        }
    }
    // The fused pullback (x̄ and t̄) over the same rows.
    let ct = data(10_000_000);
    for (kind, kname) in [
        (Kind::Softmax, "softmax_vjp"),
        (Kind::LogSoftmax, "log_softmax_vjp"),
    ] {
        for (name, par) in pars() {
            g.bench_function(
                BenchmarkId::from_parameter(format!("{kname}/10000x1000/{name}")),
                |bch| {
                    let mut dx = vec![0.0; x.len()];
                    bch.iter(|| softmax_vjp_rows(&x, &ct, 1000, 1.0, kind, &mut dx, par).unwrap())
                },
            );
        }
    }
    let ct_rows = data(10_000);
    for (name, par) in pars() {
        g.bench_function(
            BenchmarkId::from_parameter(format!("logsumexp_vjp/10000x1000/{name}")),
            |bch| {
                let mut da = vec![0.0; x.len()];
                bch.iter(|| logsumexp_vjp_rows(&x, &ct_rows, 1000, 1.0, &mut da, par).unwrap())
            },
        );
    }
    g.finish();
}

criterion_group!(benches, bench_logsumexp, bench_softmax);
criterion_main!(benches);
