//! The blocked kernel against the triple loop, at every SIMD level and thread count: sizes past the
//! tile and block boundaries, strided and broadcast operands, infinities, NaN, saturating integers,
//! the argmax and its ties.

use super::*;
use crate::relax::testutil::uniform;
use crate::simd::{available, Level};

/// The definition, entry by entry (NaN rule and `-∞ + +∞` as documented).
fn naive<T: Tropical>(
    sr: Semiring,
    a: &Matrices<'_, T>,
    b: &Matrices<'_, T>,
    s: Shape,
) -> (Vec<T>, Vec<i64>) {
    let max = sr == Semiring::MaxPlus;
    let zero = if max { T::LOWEST } else { T::HIGHEST };
    let mut c = vec![zero; s.batch * s.m * s.n];
    let mut g = vec![if s.k == 0 { -1 } else { 0 }; c.len()];
    for bi in 0..s.batch {
        for i in 0..s.m {
            for j in 0..s.n {
                let o = (bi * s.m + i) * s.n + j;
                let mut nan = false;
                for p in 0..s.k {
                    let x = a.data[a.offsets[bi] + i * a.row_stride + p * a.col_stride];
                    let y = b.data[b.offsets[bi] + p * b.row_stride + j * b.col_stride];
                    nan |= x.is_nan() || y.is_nan();
                    let v = x.times(y);
                    let wins = if max { v > c[o] } else { v < c[o] };
                    if wins {
                        c[o] = v;
                        g[o] = p as i64;
                    }
                }
                if nan {
                    c[o] = T::nan();
                }
            }
        }
    }
    (c, g)
}

fn same<T: Tropical>(x: &[T], y: &[T]) -> bool {
    x.len() == y.len()
        && x.iter()
            .zip(y)
            .all(|(p, q)| p == q || (p.is_nan() && q.is_nan()))
}

/// Every level and thread count, with and without the argmax, against [`naive`].
pub(super) fn check<T: Tropical>(sr: Semiring, a: Matrices<'_, T>, b: Matrices<'_, T>, s: Shape) {
    let (want, want_arg) = naive(sr, &a, &b, s);
    for level in available() {
        for par in [Par::Seq, Par::Rayon(2), Par::Rayon(3)] {
            let mut c = vec![T::LOWEST; want.len()];
            matmul_at(level, sr, a, b, s, &mut c, None, par).unwrap();
            assert!(same(&c, &want), "{level:?} {par:?} {s:?}");
            let mut c2 = vec![T::HIGHEST; want.len()];
            let mut g = vec![7; want.len()];
            matmul_at(level, sr, a, b, s, &mut c2, Some(&mut g), par).unwrap();
            assert!(same(&c2, &want), "argmax {level:?} {par:?} {s:?}");
            for (o, (&x, &y)) in g.iter().zip(&want_arg).enumerate() {
                assert!(
                    want[o].is_nan() || x == y,
                    "argmax {level:?} {par:?} {s:?} at {o}: {x} vs {y}"
                );
            }
        }
    }
}

pub(super) fn contiguous<T>(data: &[T], offsets: &[usize], cols: usize) -> Matrices<'static, T>
where
    T: Clone + 'static,
{
    Matrices {
        data: Vec::leak(data.to_vec()),
        offsets: Vec::leak(offsets.to_vec()),
        row_stride: cols,
        col_stride: 1,
    }
}

pub(super) fn floats<T: Tropical>(n: usize, seed: u64, conv: impl Fn(f64) -> T) -> Vec<T> {
    uniform(n, seed, -4.0, 4.0).into_iter().map(conv).collect()
}

#[test]
fn matches_the_definition_past_every_boundary() {
    // m past MR and the 64-row tasks, k past KC, n past NR and NC; the last `B` is too large to be
    // packed once for all tasks (`k * n > 2^17`), so each task packs its own blocks.
    for &(m, k, n) in &[
        (1, 1, 1),
        (3, 5, 7),
        (9, 17, 33),
        (70, 260, 40),
        (13, 3, 530),
        (5, 600, 3),
        (3, 300, 440),
    ] {
        let s = Shape { batch: 1, m, k, n };
        for sr in [Semiring::MaxPlus, Semiring::MinPlus] {
            let a = floats(m * k, 1, |v| v);
            let b = floats(k * n, 2, |v| v);
            check(sr, contiguous(&a, &[0], k), contiguous(&b, &[0], n), s);
            let a32 = floats(m * k, 3, |v| v as f32);
            let b32 = floats(k * n, 4, |v| v as f32);
            check(sr, contiguous(&a32, &[0], k), contiguous(&b32, &[0], n), s);
        }
    }
}

#[test]
fn ties_keep_the_smallest_k() {
    // Small integers: many ties in every entry.
    let (m, k, n) = (11, 300, 37);
    let s = Shape { batch: 1, m, k, n };
    let a: Vec<f64> = uniform(m * k, 5, 0.0, 3.0)
        .iter()
        .map(|v| v.floor())
        .collect();
    let b: Vec<f64> = uniform(k * n, 6, 0.0, 3.0)
        .iter()
        .map(|v| v.floor())
        .collect();
    for sr in [Semiring::MaxPlus, Semiring::MinPlus] {
        check(sr, contiguous(&a, &[0], k), contiguous(&b, &[0], n), s);
        let ai: Vec<i32> = a.iter().map(|&v| v as i32).collect();
        let bi: Vec<i32> = b.iter().map(|&v| v as i32).collect();
        check(sr, contiguous(&ai, &[0], k), contiguous(&bi, &[0], n), s);
    }
}

#[test]
fn infinities_are_the_semiring_zero_and_nan_propagates() {
    let (m, k, n) = (9, 6, 20);
    let s = Shape { batch: 1, m, k, n };
    let pick = [f64::NEG_INFINITY, f64::INFINITY, 1.0, -2.0, 0.5];
    let a: Vec<f64> = uniform(m * k, 7, 0.0, 5.0)
        .iter()
        .map(|&v| pick[v as usize])
        .collect();
    let mut b: Vec<f64> = uniform(k * n, 8, 0.0, 5.0)
        .iter()
        .map(|&v| pick[v as usize])
        .collect();
    for sr in [Semiring::MaxPlus, Semiring::MinPlus] {
        check(sr, contiguous(&a, &[0], k), contiguous(&b, &[0], n), s);
    }
    // -inf + inf is never NaN: a row of -inf against a column of +inf gives -inf (max-plus).
    let mut c = vec![0.0; 1];
    let one = Shape {
        batch: 1,
        m: 1,
        k: 2,
        n: 1,
    };
    let (x, y) = (
        [f64::NEG_INFINITY, f64::INFINITY],
        [f64::INFINITY, f64::NEG_INFINITY],
    );
    matmul(
        Semiring::MaxPlus,
        contiguous(&x, &[0], 2),
        contiguous(&y, &[0], 1),
        one,
        &mut c,
        None,
        Par::Seq,
    )
    .unwrap();
    assert_eq!(c[0], f64::NEG_INFINITY);
    matmul(
        Semiring::MinPlus,
        contiguous(&x, &[0], 2),
        contiguous(&y, &[0], 1),
        one,
        &mut c,
        None,
        Par::Seq,
    )
    .unwrap();
    assert_eq!(c[0], f64::INFINITY);
    // NaN in A's row 2 and B's column 5.
    let mut a2 = a.clone();
    a2[2 * k + 3] = f64::NAN;
    b[4 * n + 5] = f64::NAN;
    check(
        Semiring::MaxPlus,
        contiguous(&a2, &[0], k),
        contiguous(&b, &[0], n),
        s,
    );
}

#[test]
fn integers_saturate() {
    let (m, k, n) = (7, 9, 19);
    let s = Shape { batch: 1, m, k, n };
    let big = [i64::MAX, i64::MIN, i64::MAX - 3, i64::MIN + 2, 5, -7, 0];
    let a: Vec<i64> = uniform(m * k, 9, 0.0, 7.0)
        .iter()
        .map(|&v| big[v as usize])
        .collect();
    let b: Vec<i64> = uniform(k * n, 10, 0.0, 7.0)
        .iter()
        .map(|&v| big[v as usize])
        .collect();
    for sr in [Semiring::MaxPlus, Semiring::MinPlus] {
        check(sr, contiguous(&a, &[0], k), contiguous(&b, &[0], n), s);
    }
    let mut c = vec![0i64; 1];
    let one = Shape {
        batch: 1,
        m: 1,
        k: 1,
        n: 1,
    };
    matmul(
        Semiring::MaxPlus,
        contiguous(&[i64::MAX], &[0], 1),
        contiguous(&[5], &[0], 1),
        one,
        &mut c,
        None,
        Par::Seq,
    )
    .unwrap();
    assert_eq!(c[0], i64::MAX);
    let mut c = vec![0i32; 1];
    matmul(
        Semiring::MinPlus,
        contiguous(&[i32::MIN], &[0], 1),
        contiguous(&[-5], &[0], 1),
        one,
        &mut c,
        None,
        Par::Seq,
    )
    .unwrap();
    assert_eq!(c[0], i32::MIN);
}

#[test]
fn strided_and_broadcast_operands() {
    // A transposed (column-major), B shared by three products, A's two matrices used as 0,1,0.
    let (m, k, n) = (10, 21, 35);
    let at = floats(2 * k * m, 11, |v| v);
    let a = Matrices {
        data: &at[..],
        offsets: &[0, k * m, 0],
        row_stride: 1,
        col_stride: m,
    };
    let b = floats(k * n, 12, |v| v);
    let b = contiguous(&b, &[0, 0, 0], n);
    check(Semiring::MaxPlus, a, b, Shape { batch: 3, m, k, n });
    // Matrix-vector products: A transposed (the blocked kernel), A contiguous (the row kernel),
    // with a strided vector.
    let x = floats(3 * k, 13, |v| v);
    let x = Matrices {
        data: &x[..],
        offsets: &[0, 0, 0],
        row_stride: 3,
        col_stride: 1,
    };
    check(
        Semiring::MinPlus,
        a,
        x,
        Shape {
            batch: 3,
            m,
            k,
            n: 1,
        },
    );
    let ac = floats(2 * m * k, 14, |v| v as f32);
    let ac = contiguous(&ac, &[m * k, 0, m * k], k);
    let x32 = floats(3 * k, 15, |v| v as f32);
    let x32 = Matrices {
        data: &x32[..],
        offsets: &[0, 1, 2],
        row_stride: 3,
        col_stride: 1,
    };
    check(
        Semiring::MaxPlus,
        ac,
        x32,
        Shape {
            batch: 3,
            m,
            k,
            n: 1,
        },
    );
}

#[test]
fn empty_inner_dimension_gives_the_zero() {
    let s = Shape {
        batch: 2,
        m: 3,
        k: 0,
        n: 4,
    };
    let mut c = vec![0.0f32; 24];
    let mut g = vec![5i64; 24];
    let e = Matrices {
        data: &[][..],
        offsets: &[0, 0],
        row_stride: 0,
        col_stride: 1,
    };
    matmul(Semiring::MaxPlus, e, e, s, &mut c, Some(&mut g), Par::Seq).unwrap();
    assert!(c.iter().all(|&v| v == f32::NEG_INFINITY) && g.iter().all(|&v| v == -1));
    matmul(Semiring::MinPlus, e, e, s, &mut c, None, Par::Seq).unwrap();
    assert!(c.iter().all(|&v| v == f32::INFINITY));
}

#[test]
fn bad_shapes_are_errors() {
    let a = [0.0; 6];
    let s = Shape {
        batch: 1,
        m: 2,
        k: 3,
        n: 2,
    };
    let mut c = [0.0; 4];
    let ok = Matrices {
        data: &a[..],
        offsets: &[0],
        row_stride: 3,
        col_stride: 1,
    };
    let short = Matrices {
        data: &a[..5],
        ..ok
    };
    let bm = Matrices {
        data: &a[..],
        offsets: &[0],
        row_stride: 2,
        col_stride: 1,
    };
    assert!(matmul(Semiring::MaxPlus, short, bm, s, &mut c, None, Par::Seq).is_err());
    assert!(matmul(Semiring::MaxPlus, ok, bm, s, &mut c[..3], None, Par::Seq).is_err());
    let two = Matrices {
        offsets: &[0, 0],
        ..ok
    };
    assert!(matmul(Semiring::MaxPlus, two, bm, s, &mut c, None, Par::Seq).is_err());
    assert!(matmul(Semiring::MaxPlus, ok, bm, s, &mut c, None, Par::Seq).is_ok());
    let _ = Level::Scalar;
}
