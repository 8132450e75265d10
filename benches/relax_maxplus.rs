//! Criterion benches of the tropical products (`softgrad_core::relax::maxplus`): max-plus `n³`
//! products in f32 and f64, with and without the argmax, on one and two threads, and int32.
//! Throughput is in multiply-adds (`m k n`).
//!
//! `cargo bench -p softgrad-core --bench relax_maxplus`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use softgrad_core::relax::maxplus::{matmul, Matrices, Semiring, Shape, Tropical};
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

fn run<T: Tropical>(
    c: &mut Criterion,
    name: &str,
    sizes: &[usize],
    conv: impl Fn(f64) -> T,
    argmax: bool,
) {
    let mut g = c.benchmark_group("maxplus");
    g.sample_size(10);
    for &n in sizes {
        let a: Vec<T> = data(n * n).into_iter().map(&conv).collect();
        let b: Vec<T> = data(n * n).into_iter().rev().map(&conv).collect();
        let shape = Shape {
            batch: 1,
            m: n,
            k: n,
            n,
        };
        g.throughput(Throughput::Elements((n * n * n) as u64));
        let mut out = vec![a[0]; n * n];
        let mut arg = vec![0i64; n * n];
        for (pn, par) in pars() {
            let id = format!("{name}{}/{n}^3/{pn}", if argmax { "+argmax" } else { "" });
            g.bench_function(BenchmarkId::from_parameter(id), |bch| {
                bch.iter(|| {
                    let am = Matrices {
                        data: &a,
                        offsets: &[0],
                        row_stride: n,
                        col_stride: 1,
                    };
                    let bm = Matrices {
                        data: &b,
                        offsets: &[0],
                        row_stride: n,
                        col_stride: 1,
                    };
                    let g = if argmax { Some(&mut arg[..]) } else { None };
                    matmul(Semiring::MaxPlus, am, bm, shape, &mut out, g, par).unwrap()
                })
            });
        }
    }
    g.finish();
}

fn bench_maxplus(c: &mut Criterion) {
    run(c, "f32", &[256, 512, 1024], |v| v as f32, false);
    run(c, "f64", &[256, 512, 1024], |v| v, false);
    run(c, "f32", &[512], |v| v as f32, true);
    run(c, "f64", &[512], |v| v, true);
    run(c, "i32", &[512], |v| v as i32, false);
}

criterion_group!(benches, bench_maxplus);
criterion_main!(benches);
