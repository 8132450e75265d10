//! Criterion benches of finite differences (`softgrad_core::estimate::fd`): the core's share of a
//! gradient estimate, i.e. everything but the calls of `f`: building the plan (steps, rounded
//! nodes, Fornberg's weights), writing the points and assembling the estimate.
//!
//! `cargo bench -p softgrad-core --bench estimate_fd`. Throughput is in evaluation points.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use softgrad_core::estimate::fd::{Method, Options, Plan};

fn opts(method: Method, order: usize) -> Options<'static> {
    Options {
        func: "gradient",
        method,
        order,
        step: &[],
        lower: &[],
        upper: &[],
        noise: 0.0,
        levels: 6,
        eps: f64::EPSILON,
    }
}

fn bench_fd(c: &mut Criterion) {
    let mut g = c.benchmark_group("fd");
    g.sample_size(20);
    for n in [100usize, 1000] {
        let x: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin() * 3.0).collect();
        for (name, method, order) in [
            ("forward1", Method::Forward, 1),
            ("central2", Method::Central, 2),
            ("central8", Method::Central, 8),
            ("richardson2x6", Method::Richardson, 2),
        ] {
            let o = opts(method, order);
            let plan = Plan::new(&x, &o).unwrap();
            let k = plan.n_points();
            g.throughput(Throughput::Elements(k as u64));
            g.bench_function(BenchmarkId::new("plan", format!("{name}/n{n}")), |b| {
                b.iter(|| Plan::new(&x, &o).unwrap())
            });
            // Points in batches of 64 rows, as the facade writes them for a scalar f.
            let mut pts = vec![0.0f64; 64 * n];
            g.bench_function(BenchmarkId::new("points", format!("{name}/n{n}")), |b| {
                b.iter(|| {
                    for start in (0..k).step_by(64) {
                        let rows = 64.min(k - start);
                        plan.points(start, &mut pts[..rows * n]).unwrap();
                    }
                })
            });
            let values: Vec<f64> = (0..k).map(|q| (q as f64).cos()).collect();
            let (mut jac, mut err) = (vec![0.0; n], vec![0.0; n]);
            g.bench_function(BenchmarkId::new("assemble", format!("{name}/n{n}")), |b| {
                b.iter(|| {
                    plan.assemble(Some(&[0.5]), &values, 1, &mut jac, &mut err)
                        .unwrap()
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench_fd);
criterion_main!(benches);
