//! Criterion benches of soft sorting and ranking (`softgrad_core::relax::sort`): the forward with and
//! without residuals, the forward with its pullback, and the pullback alone (one block / many blocks),
//! on many short rows, many tiny rows and one long row.
//!
//! `cargo bench -p softgrad-core --bench relax_sort`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use softgrad_core::relax::sort::{forward, vjp, Op, Reg, Res, ResMut, Spec};
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

fn spec(op: Op, reg: Reg) -> Spec {
    Spec {
        op,
        reg,
        strength: 1.0,
        descending: false,
    }
}

fn bench_sort(c: &mut Criterion) {
    let mut g = c.benchmark_group("sort");
    g.sample_size(10);
    for (outer, n) in [(1000usize, 1000usize), (100_000, 32), (1, 1_000_000)] {
        let x = data(outer * n);
        let l = Layout::new(outer, n, 1);
        g.throughput(Throughput::Elements(x.len() as u64));
        let mut out = vec![0.0; x.len()];
        let (mut perm, mut z, mut start) = (
            vec![0u32; x.len()],
            vec![0.0; x.len()],
            vec![false; x.len()],
        );
        for (name, par) in pars() {
            for (op, opname) in [(Op::Rank, "rank"), (Op::Sort, "sort")] {
                for (reg, rname) in [(Reg::L2, "l2"), (Reg::Kl, "kl")] {
                    let s = spec(op, reg);
                    let id = format!("{opname}/{rname}/{outer}x{n}/{name}");
                    g.bench_function(BenchmarkId::from_parameter(id), |b| {
                        b.iter(|| forward(&x, l, s, &mut out, None, None, par).unwrap())
                    });
                }
            }
            let s = spec(Op::Rank, Reg::L2);
            let id = format!("rank/l2+residuals+vjp/{outer}x{n}/{name}");
            let mut gx = vec![0.0; x.len()];
            g.bench_function(BenchmarkId::from_parameter(id), |b| {
                b.iter(|| {
                    let r = ResMut {
                        perm: &mut perm,
                        z: &mut z,
                        start: &mut start,
                    };
                    forward(&x, l, s, &mut out, Some(r), None, par).unwrap();
                    let r = Res {
                        perm: &perm,
                        z: &z,
                        start: &start,
                        lengths: None,
                    };
                    vjp(r, &x, l, s, &mut gx, par).unwrap()
                })
            });
            // the pullback alone, of a lane that is one block (strength 1: lane order, no
            // permutation) and of one cut into many blocks (strength 1e-3: gathers and scatters)
            for strength in [1.0, 1e-3] {
                let s = Spec { strength, ..s };
                let r = ResMut {
                    perm: &mut perm,
                    z: &mut z,
                    start: &mut start,
                };
                forward(&x, l, s, &mut out, Some(r), None, par).unwrap();
                let id = format!("rank/l2/vjp/strength{strength}/{outer}x{n}/{name}");
                g.bench_function(BenchmarkId::from_parameter(id), |b| {
                    b.iter(|| {
                        let r = Res {
                            perm: &perm,
                            z: &z,
                            start: &start,
                            lengths: None,
                        };
                        vjp(r, &x, l, s, &mut gx, par).unwrap()
                    })
                });
            }
        }
    }
    g.finish();
}

criterion_group!(benches, bench_sort);
criterion_main!(benches);
