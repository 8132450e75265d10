//! Criterion benches of the log-semiring product (`softgrad_core::relax::soft_maxplus`): the value
//! and the value with the pullback, square f32 and f64 products.
//!
//! `cargo bench -p softgrad-core --bench relax_soft_maxplus`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use softgrad_core::relax::soft_maxplus::{forward, vjp, Pairs, Res, Spec};
use softgrad_core::Par;

fn data(n: usize, seed: u64) -> Vec<f64> {
    let mut z = 0x1234_5678_u64 ^ seed;
    (0..n)
        .map(|_| {
            z ^= z << 13;
            z ^= z >> 7;
            z ^= z << 17;
            (z >> 11) as f64 / (1u64 << 53) as f64 * 4.0 - 2.0
        })
        .collect()
}

fn bench_soft_maxplus(c: &mut Criterion) {
    let mut g = c.benchmark_group("soft_maxplus");
    g.sample_size(10);
    for size in [256usize, 512] {
        let spec = Spec {
            m: size,
            k: size,
            n: size,
            temperature: 1.0,
            min: false,
        };
        let pairs = Pairs { a: &[0], b: &[0] };
        let (a, b) = (data(size * size, 1), data(size * size, 2));
        let (a32, b32): (Vec<f32>, Vec<f32>) = (
            a.iter().map(|&v| v as f32).collect(),
            b.iter().map(|&v| v as f32).collect(),
        );
        g.throughput(Throughput::Elements((size * size * size) as u64));
        for (name, par) in [("1thread", Par::Seq), ("2threads", Par::Rayon(2))] {
            let mut out = vec![0.0; size * size];
            let mut out32 = vec![0.0f32; size * size];
            g.bench_function(
                BenchmarkId::from_parameter(format!("value/f64/{size}/{name}")),
                |bch| bch.iter(|| forward(&a, &b, pairs, spec, &mut out, None, par).unwrap()),
            );
            g.bench_function(
                BenchmarkId::from_parameter(format!("value/f32/{size}/{name}")),
                |bch| bch.iter(|| forward(&a32, &b32, pairs, spec, &mut out32, None, par).unwrap()),
            );
            let mut cres = vec![0.0; size * size];
            let ones = vec![1.0; size * size];
            let (mut ga, mut gb) = (vec![0.0; size * size], vec![0.0; size * size]);
            g.bench_function(
                BenchmarkId::from_parameter(format!("value+grad/f64/{size}/{name}")),
                |bch| {
                    bch.iter(|| {
                        forward(&a, &b, pairs, spec, &mut out, Some(&mut cres), par).unwrap();
                        let r = Res {
                            a: &a,
                            b: &b,
                            c: &cres,
                        };
                        vjp(r, pairs, spec, &ones, &mut ga, &mut gb, par).unwrap()
                    })
                },
            );
        }
    }
    g.finish();
}

criterion_group!(benches, bench_soft_maxplus);
criterion_main!(benches);
