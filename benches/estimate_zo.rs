//! Criterion benches of the randomized estimators (`softgrad_core::estimate::zo`) and the
//! counter-based generator (`softgrad_core::rng`): the bulk fills, MeZO's in-place perturbation
//! and restoration passes (the memory-bound loop of `spsa_inplace`), and a plan's points and
//! assembly.
//!
//! `cargo bench -p softgrad-core --bench estimate_zo`. Throughput is in elements (values written,
//! or coordinates × points).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use softgrad_core::estimate::zo::inplace::{apply, bits_len, restore, Dist, Record};
use softgrad_core::estimate::zo::{Method, Options, Plan};
use softgrad_core::rng::{uniform_vec, Stream};
use softgrad_core::Par;

fn bench_rng(c: &mut Criterion) {
    let mut g = c.benchmark_group("rng");
    g.sample_size(20);
    let n = 1 << 20;
    g.throughput(Throughput::Elements(n as u64));
    let s = Stream::new(7, 3);
    let mut out64 = vec![0.0f64; n];
    let mut out32 = vec![0.0f32; n];
    g.bench_function("rademacher/f64", |b| {
        b.iter(|| s.fill_rademacher(0, &mut out64))
    });
    g.bench_function("normal/f64", |b| b.iter(|| s.fill_normal(0, &mut out64)));
    g.bench_function("uniform/f64", |b| b.iter(|| s.fill_uniform(0, &mut out64)));
    g.bench_function("normal/f32", |b| b.iter(|| s.fill_normal(0, &mut out32)));
    g.finish();
}

fn bench_inplace(c: &mut Criterion) {
    let mut g = c.benchmark_group("zo_inplace");
    g.sample_size(10);
    let n = 1 << 22;
    let mut x: Vec<f32> = uniform_vec(n, 1, -0.05, 0.05)
        .iter()
        .map(|v| *v as f32)
        .collect();
    // ~ N(0, 0.02²), as bench_zo.py's weights.
    let mut w = vec![0.0f64; n];
    Stream::new(5, 1).fill_normal(0, &mut w);
    let mut w: Vec<f32> = w.iter().map(|v| (0.02 * v) as f32).collect();
    g.throughput(Throughput::Elements(n as u64));
    for (name, dist) in [
        ("rademacher", Dist::Rademacher),
        ("gaussian", Dist::Gaussian),
    ] {
        for threads in [1usize, 2] {
            let par = Par::from_threads(Some(threads)).unwrap();
            let id = format!("{name}/f32/t{threads}");
            g.bench_function(BenchmarkId::new("apply", &id), |b| {
                b.iter(|| apply(&mut x, 3, dist, 1e-3, None, par).unwrap())
            });
            // The three recorded passes of one spsa_inplace sample (+eps, -2 eps, restore), on
            // weights like a layer's: x comes back to its value after each iteration. eps = 1e-3
            // as spsa_inplace perturbs by it: rounded to 8 significant bits with Rademacher z.
            let eps = if dist == Dist::Rademacher {
                131.0 / 131_072.0
            } else {
                1e-3
            };
            let mut bits = vec![0u8; bits_len(n)];
            g.throughput(Throughput::Elements(3 * n as u64));
            g.bench_function(BenchmarkId::new("sample_3_passes", &id), |b| {
                b.iter(|| {
                    let record = Record {
                        bits: &mut bits,
                        prior: &[],
                    };
                    apply(&mut w, 3, dist, eps, Some(record), par).unwrap();
                    let record = Record {
                        bits: &mut bits,
                        prior: &[eps],
                    };
                    apply(&mut w, 3, dist, -2.0 * eps, Some(record), par).unwrap();
                    restore(&mut w, 3, dist, &[eps, -2.0 * eps], Some(&mut bits), par).unwrap()
                })
            });
            g.throughput(Throughput::Elements(n as u64));
        }
    }
    g.finish();
}

fn bench_plan(c: &mut Criterion) {
    let mut g = c.benchmark_group("zo");
    g.sample_size(20);
    let n = 1000;
    let x = uniform_vec(n, 2, -1.0, 1.0);
    for (name, method) in [
        ("spsa", Method::Spsa),
        ("gaussian", Method::Gaussian),
        ("sphere", Method::Sphere),
        ("coordinate", Method::Coordinate),
    ] {
        let o = Options {
            func: "gradient",
            method,
            n_samples: 16,
            sides: 2,
            antithetic: false,
            seed: 1,
            step: None,
            mask: &[],
            eps: f64::EPSILON,
        };
        let plan = Plan::new(&x, &o, Par::Seq).unwrap();
        let k = plan.n_points();
        g.throughput(Throughput::Elements((k * n) as u64));
        let mut pts = vec![0.0f64; k * n];
        g.bench_function(BenchmarkId::new("points", format!("{name}/n{n}")), |b| {
            b.iter(|| plan.points(0, &mut pts, Par::Seq).unwrap())
        });
        let values: Vec<f64> = (0..k).map(|q| (q as f64).cos()).collect();
        let (mut grad, mut var) = (vec![0.0; n], vec![0.0; n]);
        g.bench_function(BenchmarkId::new("assemble", format!("{name}/n{n}")), |b| {
            b.iter(|| {
                plan.assemble(None, &values, &mut grad, &mut var, Par::Seq)
                    .unwrap()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench_rng, bench_inplace, bench_plan);
criterion_main!(benches);
