//! Criterion benches of the log-sum-exp family (`softgrad_core::relax::logsumexp`): the forwards and
//! the pullbacks, over contiguous rows (wide and narrow) and over a strided axis.
//!
//! `cargo bench -p softgrad-core --bench relax_logsumexp`; `SOFTGRAD_SIMD=scalar|avx2` pins a lower
//! level.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use softgrad_core::relax::logsumexp::{
    logsumexp, logsumexp_vjp, logsumexp_vjp_weights, logsumexp_weights, softmax, softmax_vjp, Kind,
};
use softgrad_core::{Layout, Par};

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

/// The forward's residual, as the pullbacks take it.
fn lse_of(x: &[f64], b: Option<&[f64]>, l: Layout) -> (Vec<f64>, Vec<f64>) {
    let (mut out, mut sign, mut lse) = (
        vec![0.0; l.outputs()],
        vec![0.0; l.outputs()],
        vec![0.0; l.outputs()],
    );
    let s = b.map(|_| &mut sign[..]);
    logsumexp(x, b, l, 1.0, &mut out, s, Some(&mut lse), Par::Seq).unwrap();
    (lse, sign)
}

fn bench_logsumexp(c: &mut Criterion) {
    let mut g = c.benchmark_group("logsumexp");
    g.sample_size(20);
    for (outer, n) in [
        (1usize, 10_000_000usize),
        (10_000, 1000),
        (200_000, 10),
        (200_000, 50),
    ] {
        let x = data(outer * n);
        let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let l = Layout::new(outer, n, 1);
        g.throughput(Throughput::Elements(x.len() as u64));
        for (name, par) in pars() {
            let id = format!("{outer}x{n}/f64/{name}");
            g.bench_function(BenchmarkId::from_parameter(id), |bch| {
                let mut out = vec![0.0; outer];
                bch.iter(|| logsumexp(&x, None, l, 1.0, &mut out, None, None, par).unwrap())
            });
            let id = format!("{outer}x{n}/f32/{name}");
            g.bench_function(BenchmarkId::from_parameter(id), |bch| {
                let mut out = vec![0.0f32; outer];
                bch.iter(|| logsumexp(&x32, None, l, 1.0, &mut out, None, None, par).unwrap())
            });
        }
    }
    // Narrow rows with weights (zeros among them) and signs.
    for (outer, n) in [(200_000usize, 10usize), (200_000, 50)] {
        let x = data(outer * n);
        let b: Vec<f64> = x.iter().map(|v| (v.abs() - 2.0).max(0.0)).collect();
        let l = Layout::new(outer, n, 1);
        g.throughput(Throughput::Elements(x.len() as u64));
        for (name, par) in pars() {
            let id = format!("weighted_{outer}x{n}/f64/{name}");
            g.bench_function(BenchmarkId::from_parameter(id), |bch| {
                let (mut out, mut sign) = (vec![0.0; outer], vec![0.0; outer]);
                bch.iter(|| {
                    let s = Some(&mut sign[..]);
                    logsumexp(&x, Some(&b), l, 1.0, &mut out, s, None, par).unwrap()
                })
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
                bch.iter(|| logsumexp(&x, None, l, 1.0, &mut out, None, None, par).unwrap())
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
    let kinds = [
        (Kind::Softmax, "softmax"),
        (Kind::LogSoftmax, "log_softmax"),
    ];
    for (kind, kname) in kinds {
        for (name, par) in pars() {
            let l = Layout::new(10_000, 1000, 1);
            g.bench_function(
                BenchmarkId::from_parameter(format!("{kname}/10000x1000/{name}")),
                |bch| {
                    let mut out = vec![0.0; x.len()];
                    bch.iter(|| softmax(&x, l, 1.0, kind, &mut out, None, par).unwrap())
                },
            );
        }
    }
    // Narrow rows, f64 and f32.
    for (outer, n) in [(200_000usize, 10usize), (200_000, 50)] {
        let x = data(outer * n);
        let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let l = Layout::new(outer, n, 1);
        g.throughput(Throughput::Elements(x.len() as u64));
        for (kind, kname) in kinds {
            for (name, par) in pars() {
                let id = format!("{kname}/{outer}x{n}/f64/{name}");
                g.bench_function(BenchmarkId::from_parameter(id), |bch| {
                    let mut out = vec![0.0; x.len()];
                    bch.iter(|| softmax(&x, l, 1.0, kind, &mut out, None, par).unwrap())
                });
                let id = format!("{kname}/{outer}x{n}/f32/{name}");
                g.bench_function(BenchmarkId::from_parameter(id), |bch| {
                    let mut out = vec![0.0f32; x.len()];
                    bch.iter(|| softmax(&x32, l, 1.0, kind, &mut out, None, par).unwrap())
                });
            }
        }
    }
    g.finish();
}

/// The pullbacks, each from its forward's residual (computed once, outside the timing).
fn bench_pullbacks(c: &mut Criterion) {
    let mut g = c.benchmark_group("softmax");
    g.sample_size(20);
    let x = data(10_000_000);
    let ct = data(10_000_000);
    let b: Vec<f64> = data(10_000_000).iter().map(|v| v.abs() - 1.0).collect();
    let shapes = [
        ("10000x1000", Layout::new(10_000, 1000, 1)),
        ("200000x10", Layout::new(200_000, 10, 1)),
        ("200000x50", Layout::new(200_000, 50, 1)),
        ("axis0_1000x10000", Layout::new(1, 1000, 10_000)),
    ];
    let kinds = [
        (Kind::Softmax, "softmax_vjp"),
        (Kind::LogSoftmax, "log_softmax_vjp"),
    ];
    for (shape, l) in shapes {
        let len = l.len("bench").unwrap();
        let (x, ct, b) = (&x[..len], &ct[..len], &b[..len]);
        g.throughput(Throughput::Elements(len as u64));
        let (lse, _) = lse_of(x, None, l);
        for (kind, kname) in kinds {
            // The pullback starts from the forward's output.
            let mut y = vec![0.0; len];
            softmax(x, l, 1.0, kind, &mut y, None, Par::Seq).unwrap();
            for (name, par) in pars() {
                g.bench_function(
                    BenchmarkId::from_parameter(format!("{kname}/{shape}/{name}")),
                    |bch| {
                        let mut dx = vec![0.0; x.len()];
                        bch.iter(|| softmax_vjp(&y, ct, l, 1.0, kind, &mut dx, par).unwrap())
                    },
                );
            }
        }
        let ct_lanes = data(l.outputs());
        for (name, par) in pars() {
            g.bench_function(
                BenchmarkId::from_parameter(format!("logsumexp_vjp/{shape}/{name}")),
                |bch| {
                    let mut da = vec![0.0; x.len()];
                    bch.iter(|| {
                        logsumexp_vjp(x, None, &lse, None, &ct_lanes, l, 1.0, &mut da, None, par)
                            .unwrap()
                    })
                },
            );
        }
        // Weighted, with sign: ā and b̄.
        let (lse_b, sign) = lse_of(x, Some(b), l);
        for (name, par) in pars() {
            g.bench_function(
                BenchmarkId::from_parameter(format!("logsumexp_vjp_weighted/{shape}/{name}")),
                |bch| {
                    let (mut da, mut db) = (vec![0.0; x.len()], vec![0.0; x.len()]);
                    bch.iter(|| {
                        logsumexp_vjp(
                            x,
                            Some(b),
                            &lse_b,
                            Some(&sign),
                            &ct_lanes,
                            l,
                            1.0,
                            &mut da,
                            Some(&mut db),
                            par,
                        )
                        .unwrap()
                    })
                },
            );
        }
    }
    g.finish();
}

/// Value and pullback together on narrow f32 rows (the forward, then its pullback); for
/// log-sum-exp also the reverse-mode pair `vjp` runs on rows (`logsumexp_weights`, then
/// `logsumexp_vjp_weights`), at f32 and f64 and on wide rows too.
fn bench_narrow_f32_value_and_vjp(c: &mut Criterion) {
    let mut g = c.benchmark_group("value_and_vjp");
    g.sample_size(20);
    for (outer, n) in [(200_000usize, 10usize), (200_000, 50), (10_000, 1000)] {
        let x = data(outer * n);
        let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let ct = data(outer);
        let l = Layout::new(outer, n, 1);
        g.throughput(Throughput::Elements(x.len() as u64));
        for (name, par) in pars() {
            let id = format!("logsumexp_weights/{outer}x{n}/f64/{name}");
            g.bench_function(BenchmarkId::from_parameter(id), |bch| {
                let (mut out, mut h) = (vec![0.0; outer], vec![0.0; outer]);
                let (mut p, mut da) = (vec![0.0; x.len()], vec![0.0; x.len()]);
                bch.iter(|| {
                    logsumexp_weights(&x, l, 1.0, &mut out, None, &mut p, &mut h, par).unwrap();
                    logsumexp_vjp_weights(&p, &h, &ct, l, 1.0, &mut da, par).unwrap()
                })
            });
            let id = format!("logsumexp_weights/{outer}x{n}/f32/{name}");
            g.bench_function(BenchmarkId::from_parameter(id), |bch| {
                let (mut out, mut h) = (vec![0.0f32; outer], vec![0.0; outer]);
                let (mut p, mut da) = (vec![0.0f32; x.len()], vec![0.0f32; x.len()]);
                bch.iter(|| {
                    logsumexp_weights(&x32, l, 1.0, &mut out, None, &mut p, &mut h, par).unwrap();
                    logsumexp_vjp_weights(&p, &h, &ct, l, 1.0, &mut da, par).unwrap()
                })
            });
            // The f32 forwards alone: the value (`simd::rows` f32 lanes for narrow rows) and the
            // value with the weights (one exponential per entry, narrow and wide).
            let id = format!("logsumexp_value/{outer}x{n}/f32/{name}");
            g.bench_function(BenchmarkId::from_parameter(id), |bch| {
                let mut out = vec![0.0f32; outer];
                bch.iter(|| logsumexp(&x32, None, l, 1.0, &mut out, None, None, par).unwrap())
            });
            let id = format!("logsumexp_weights_fwd/{outer}x{n}/f32/{name}");
            g.bench_function(BenchmarkId::from_parameter(id), |bch| {
                let (mut out, mut h) = (vec![0.0f32; outer], vec![0.0; outer]);
                let mut p = vec![0.0f32; x.len()];
                bch.iter(|| {
                    logsumexp_weights(&x32, l, 1.0, &mut out, None, &mut p, &mut h, par).unwrap()
                })
            });
        }
        if n > 50 {
            continue;
        }
        let x: Vec<f32> = data(outer * n).iter().map(|&v| v as f32).collect();
        let gy: Vec<f32> = data(outer * n).iter().map(|&v| v as f32 / 10.0).collect();
        let ct = data(outer);
        let l = Layout::new(outer, n, 1);
        g.throughput(Throughput::Elements(x.len() as u64));
        for (name, par) in pars() {
            let id = format!("logsumexp/{outer}x{n}/f32/{name}");
            g.bench_function(BenchmarkId::from_parameter(id), |bch| {
                let (mut out, mut lse) = (vec![0.0f32; outer], vec![0.0; outer]);
                let mut da = vec![0.0f32; x.len()];
                bch.iter(|| {
                    logsumexp(&x, None, l, 1.0, &mut out, None, Some(&mut lse), par).unwrap();
                    logsumexp_vjp(&x, None, &lse, None, &ct, l, 1.0, &mut da, None, par).unwrap()
                })
            });
            let id = format!("softmax/{outer}x{n}/f32/{name}");
            g.bench_function(BenchmarkId::from_parameter(id), |bch| {
                let (mut y, mut dx) = (vec![0.0f32; x.len()], vec![0.0f32; x.len()]);
                bch.iter(|| {
                    softmax(&x, l, 1.0, Kind::Softmax, &mut y, None, par).unwrap();
                    softmax_vjp(&y, &gy, l, 1.0, Kind::Softmax, &mut dx, par).unwrap()
                })
            });
        }
    }
    g.finish();
}

/// f32 data (exponentials in f32 lanes): softmax, log-softmax and the softmax pullback.
fn bench_softmax_f32(c: &mut Criterion) {
    let mut g = c.benchmark_group("softmax_f32");
    g.sample_size(20);
    let x: Vec<f32> = data(10_000_000).iter().map(|&v| v as f32).collect();
    let ct: Vec<f32> = data(10_000_000).iter().rev().map(|&v| v as f32).collect();
    g.throughput(Throughput::Elements(x.len() as u64));
    let l = Layout::new(10_000, 1000, 1);
    for (kind, kname) in [
        (Kind::Softmax, "softmax"),
        (Kind::LogSoftmax, "log_softmax"),
    ] {
        let mut y = vec![0.0f32; x.len()];
        softmax(&x, l, 1.0, kind, &mut y, None, Par::Seq).unwrap();
        for (name, par) in pars() {
            g.bench_function(
                BenchmarkId::from_parameter(format!("{kname}/10000x1000/f32/{name}")),
                |bch| {
                    let mut out = vec![0.0f32; x.len()];
                    bch.iter(|| softmax(&x, l, 1.0, kind, &mut out, None, par).unwrap())
                },
            );
            g.bench_function(
                BenchmarkId::from_parameter(format!("{kname}_vjp/10000x1000/f32/{name}")),
                |bch| {
                    let mut dx = vec![0.0f32; x.len()];
                    bch.iter(|| softmax_vjp(&y, &ct, l, 1.0, kind, &mut dx, par).unwrap())
                },
            );
        }
    }
    g.finish();
}

criterion_group!(
    benches,
    bench_logsumexp,
    bench_softmax,
    bench_pullbacks,
    bench_narrow_f32_value_and_vjp,
    bench_softmax_f32
);
criterion_main!(benches);
