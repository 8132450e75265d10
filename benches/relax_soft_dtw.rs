//! Criterion benches of soft-DTW (`softgrad_core::relax::soft_dtw`): the value, and the value with
//! the tables kept followed by the pullback, on a batch of pairs (SIMD lanes across pairs) and on
//! pairs one at a time (ragged lengths).
//!
//! `cargo bench -p softgrad-core --bench relax_soft_dtw`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use softgrad_core::relax::soft_dtw::{forward, residual_len, vjp, Batch, Lens};
use softgrad_core::Par;

fn data(n: usize, seed: u64) -> Vec<f64> {
    let mut z = 0x1234_5678_u64 ^ seed;
    (0..n)
        .map(|_| {
            z ^= z << 13;
            z ^= z >> 7;
            z ^= z << 17;
            (z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        })
        .collect()
}

fn bench_soft_dtw(c: &mut Criterion) {
    let mut g = c.benchmark_group("soft_dtw");
    g.sample_size(10);
    let (n, m, d) = (256usize, 256usize, 1usize);
    let nn = vec![n; 64];
    let mm = vec![m; 64];
    for (label, pairs, ragged) in [("batch", 512usize, false), ("one-by-one", 64, true)] {
        let b = Batch {
            lens: if ragged {
                Lens::Ragged {
                    n: &nn[..pairs],
                    m: &mm[..pairs],
                }
            } else {
                Lens::Uniform { pairs, n, m }
            },
            d,
        };
        let x = data(pairs * n * d, 1);
        let y = data(pairs * m * d, 2);
        let mut out = vec![0.0; pairs];
        let mut res = vec![0.0; residual_len(&b).unwrap()];
        let ones = vec![1.0; pairs];
        let (mut gx, mut gy) = (vec![0.0; x.len()], vec![0.0; y.len()]);
        g.throughput(Throughput::Elements((pairs * n * m) as u64));
        for (name, par) in [("1thread", Par::Seq), ("2threads", Par::Rayon(2))] {
            let id = format!("value/{label}/{pairs}x{n}x{m}/{name}");
            g.bench_function(BenchmarkId::from_parameter(id), |bch| {
                bch.iter(|| forward(&x, &y, &b, 1.0, &mut out, None, par).unwrap())
            });
            let id = format!("value+grad/{label}/{pairs}x{n}x{m}/{name}");
            g.bench_function(BenchmarkId::from_parameter(id), |bch| {
                bch.iter(|| {
                    forward(&x, &y, &b, 1.0, &mut out, Some(&mut res), par).unwrap();
                    vjp(&x, &y, &b, 1.0, &res, &ones, &mut gx, &mut gy, None, par).unwrap()
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench_soft_dtw);
criterion_main!(benches);
