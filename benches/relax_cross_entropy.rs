//! Criterion benches of the fused softmax cross-entropy
//! (`softgrad_core::relax::logsumexp::cross_entropy`): the loss alone and the loss with its
//! gradient, over the narrow rows of classification ((200000, 10), (200000, 50)), wide rows
//! (10000, 1000) and a strided class axis, f64 and f32, 1 and 2 threads. Outputs are reused, so no
//! page faults are timed.
//!
//! `cargo bench -p softgrad-core --bench relax_cross_entropy`; `SOFTGRAD_SIMD=scalar|avx2` pins a
//! lower level.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use softgrad_core::relax::logsumexp::cross_entropy::{
    softmax_cross_entropy, Options, Outputs, Targets,
};
use softgrad_core::{Layout, Par, Real};

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

const OPTS: Options = Options {
    temperature: 1.0,
    label_smoothing: 0.0,
    grad_scale: 1.0,
};

fn bench_one<T: Real>(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    id: &str,
    x: &[T],
    classes: &[i64],
    l: Layout,
) {
    for (name, par) in [("1thread", Par::Seq), ("2threads", Par::Rayon(2))] {
        g.bench_function(BenchmarkId::new("value", format!("{id}/{name}")), |b| {
            b.iter(|| {
                softmax_cross_entropy(
                    x,
                    Targets::Classes(classes),
                    None,
                    l,
                    OPTS,
                    Outputs::none(),
                    par,
                )
                .unwrap()
            })
        });
        g.bench_function(
            BenchmarkId::new("value_grad", format!("{id}/{name}")),
            |b| {
                let mut grad = vec![T::from_f64(0.0); x.len()];
                b.iter(|| {
                    let out = Outputs {
                        grad: Some(&mut grad),
                        ..Outputs::none()
                    };
                    softmax_cross_entropy(x, Targets::Classes(classes), None, l, OPTS, out, par)
                        .unwrap()
                })
            },
        );
    }
}

fn bench_cross_entropy(c: &mut Criterion) {
    let mut g = c.benchmark_group("cross_entropy");
    g.sample_size(20);
    for (outer, n, inner) in [
        (200_000usize, 10usize, 1usize),
        (200_000, 50, 1),
        (10_000, 1000, 1),
        (1, 50, 200_000),
    ] {
        let l = Layout::new(outer, n, inner);
        let x = data(outer * n * inner);
        let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let classes: Vec<i64> = data(l.outputs())
            .iter()
            .map(|v| ((v + 10.0) / 20.0 * n as f64) as i64 % n as i64)
            .collect();
        g.throughput(Throughput::Elements(x.len() as u64));
        let shape = if inner == 1 {
            format!("{outer}x{n}")
        } else {
            format!("axis0_{n}x{inner}")
        };
        bench_one(&mut g, &format!("{shape}/f64"), &x, &classes, l);
        bench_one(&mut g, &format!("{shape}/f32"), &x32, &classes, l);
    }
    g.finish();
}

criterion_group!(benches, bench_cross_entropy);
criterion_main!(benches);
