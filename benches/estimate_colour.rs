//! Criterion benches of the colourings (`softgrad_core::estimate::colour`) and of the core's share of
//! a sparse Jacobian (`estimate::fd::sparse`): colouring a large pattern in each ordering, the star
//! colouring of a symmetric one, and the points and assembly of a tridiagonal Jacobian.
//!
//! `cargo bench -p softgrad-core --bench estimate_colour`. Throughput is in pattern entries.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use softgrad_core::estimate::colour::{
    best_column_colouring, column_colouring, star_colouring, Ordering, Pattern,
};
use softgrad_core::estimate::fd::sparse::SparsePlan;
use softgrad_core::estimate::fd::{Method, Options};

fn csr(m: usize, n: usize, rows: impl Fn(usize) -> Vec<usize>) -> Pattern {
    let (mut indptr, mut indices) = (vec![0i64], Vec::new());
    for r in 0..m {
        indices.extend(rows(r).into_iter().map(|j| j as i64));
        indptr.push(indices.len() as i64);
    }
    Pattern::from_csr("bench", m, n, &indptr, &indices).unwrap()
}

fn mix(i: u64) -> u64 {
    let mut z = i.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn banded(n: usize, b: usize) -> Pattern {
    csr(n, n, |i| {
        (i.saturating_sub(b)..(i + b + 1).min(n)).collect()
    })
}

fn bench_colour(c: &mut Criterion) {
    let mut g = c.benchmark_group("colour");
    g.sample_size(10);
    let n = 100_000;
    let random = csr(n, n, |i| {
        (0..5)
            .map(|k| (mix((i * 5 + k) as u64) % n as u64) as usize)
            .collect()
    });
    let patterns = [
        ("tridiagonal", banded(n, 1)),
        ("band5", banded(n, 5)),
        ("random5", random),
    ];
    for (name, p) in &patterns {
        g.throughput(Throughput::Elements(p.nnz() as u64));
        for (oname, o) in [
            ("natural", Ordering::Natural),
            ("largest_first", Ordering::LargestFirst),
            ("smallest_last", Ordering::SmallestLast),
        ] {
            g.bench_function(BenchmarkId::new(format!("columns/{oname}"), name), |b| {
                b.iter(|| column_colouring(p, o))
            });
        }
        g.bench_function(BenchmarkId::new("columns/auto", name), |b| {
            b.iter(|| best_column_colouring(p))
        });
    }
    // star colouring of a symmetric pattern: band 5 and a random symmetric one
    let sym = |p: &Pattern| {
        let mut rows = vec![Vec::new(); p.n()];
        for i in 0..p.n() {
            rows[i].push(i);
            for &j in p.row(i) {
                rows[i].push(j as usize);
                rows[j as usize].push(i);
            }
        }
        csr(p.n(), p.n(), |i| rows[i].clone())
    };
    let small = csr(20_000, 20_000, |i| {
        (0..2)
            .map(|k| (mix((i * 2 + k) as u64 + 7) % 20_000) as usize)
            .collect()
    });
    for (name, p) in [("band5", banded(n, 5)), ("random2-sym-20k", sym(&small))] {
        g.throughput(Throughput::Elements(p.nnz() as u64));
        g.bench_function(BenchmarkId::new("star/smallest_last", name), |b| {
            b.iter(|| star_colouring("bench", &p, Ordering::SmallestLast).unwrap())
        });
    }
    // the core's share of a tridiagonal sparse Jacobian: plan (with colouring), points, assembly
    let x: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin()).collect();
    let o = Options {
        func: "jacobian",
        method: Method::Central,
        order: 2,
        step: &[],
        lower: &[],
        upper: &[],
        noise: 0.0,
        levels: 6,
        eps: f64::EPSILON,
    };
    let p = banded(n, 1);
    g.throughput(Throughput::Elements(p.nnz() as u64));
    g.bench_function("sparse_jacobian/plan/tridiagonal", |b| {
        b.iter(|| SparsePlan::jacobian(&x, &o, p.clone(), None).unwrap())
    });
    let plan = SparsePlan::jacobian(&x, &o, p.clone(), None).unwrap();
    let mut pts = vec![0.0; plan.n_points() * n];
    g.bench_function("sparse_jacobian/points/tridiagonal", |b| {
        b.iter(|| plan.points(0, &mut pts).unwrap())
    });
    let values: Vec<f64> = (0..plan.n_points() * n).map(|q| (q as f64).cos()).collect();
    let (mut data, mut err) = (vec![0.0; p.nnz()], vec![0.0; p.nnz()]);
    g.bench_function("sparse_jacobian/assemble/tridiagonal", |b| {
        b.iter(|| {
            plan.assemble(None, &values, &mut data, &mut err, false)
                .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench_colour);
criterion_main!(benches);
