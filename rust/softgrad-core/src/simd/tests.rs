//! Every dispatched kernel at every supported level against its scalar twin in [`reference`], over
//! lengths past every block and tail boundary and with special values in every position.
use super::math_tests::{ulps, ulps32};
use super::vector::{F32x, F64x, Isa, Kernel, W32};
use super::*;
use crate::real::Real;
use crate::relax::testutil::uniform;

/// Inputs with special values where blocks and tails can see them.
fn data(n: usize, seed: u64) -> (Vec<f64>, Vec<f64>) {
    let mut x = uniform(n, seed, -40.0, 10.0);
    let mut b = uniform(n, seed + 1, -1.0, 2.0);
    for i in (0..n).step_by(7) {
        b[i] = 0.0;
        x[i] = f64::NAN; // masked by its zero weight
    }
    for i in (3..n).step_by(11) {
        x[i] = f64::NEG_INFINITY;
    }
    for i in (5..n).step_by(13) {
        x[i] = -745.0 + 1e-3 * i as f64; // subnormal or zero exponentials
        b[i] = 5e-324; // a subnormal weight
    }
    if n > 9 {
        x[9] = 10.0; // ties with the maximum
        b[9] = 1.0;
        x[n - 1] = 10.0;
        b[n - 1] = 2.0;
    }
    (x, b)
}

fn lengths() -> Vec<usize> {
    (0..=70)
        .chain([127, 128, 129, 999, 1000, 1001, 4099])
        .collect()
}

fn close(got: f64, want: f64, scale: f64) -> bool {
    got == want || (got.is_nan() && want.is_nan()) || (got - want).abs() <= 4e-16 * scale
}

#[test]
fn contiguous_kernels_match_reference_at_every_level() {
    for n in lengths() {
        let (x, b) = data(n, 21);
        let plain: Vec<f64> = x
            .iter()
            .map(|v| if v.is_nan() { -3.0 } else { *v })
            .collect();
        let x32: Vec<f32> = plain.iter().map(|&v| v as f32).collect();
        for level in available() {
            let ctx = format!("{level:?} n={n}");
            // max: the same bits, NaN included.
            let got = contiguous::max(level, &x, Some(&b));
            assert_eq!(
                got.to_bits(),
                reference::max(&x, Some(&b)).to_bits(),
                "{ctx}"
            );
            let got = contiguous::max(level, &x, None);
            assert_eq!(got.to_bits(), reference::max(&x, None).to_bits(), "{ctx}");
            let got = contiguous::max(level, &x32, None);
            assert_eq!(got.to_bits(), reference::max(&x32, None).to_bits(), "{ctx}");
            for inv_t in [1.0, 0.37] {
                for (xs, bs) in [(&x, Some(&b[..])), (&plain, None)] {
                    let m = reference::max(xs, bs);
                    let (s, w) = contiguous::sum_exp_excl(level, xs, bs, m, inv_t);
                    let (rs, rw) = reference::sum_exp_excl(xs, bs, m, inv_t);
                    let mass: f64 =
                        reference::sum_exp_excl(&abs(xs), bs.map(abs).as_deref(), m, inv_t).0;
                    assert!(close(s, rs, n as f64 * mass), "{ctx}: {s} vs {rs}");
                    assert!(close(w, rw, n as f64 * rw.abs()), "{ctx}: {w} vs {rw}");
                }
                let m = reference::max(&plain, None);
                let (mut o, mut r) = (vec![7.0; n + 9], vec![0.0; n]);
                let s = contiguous::exp_store(level, &plain, m, inv_t, &mut o[..n]);
                let rs = reference::exp_store(&plain, m, inv_t, &mut r);
                assert!(close(s, rs, n as f64 * rs), "{ctx}: {s} vs {rs}");
                assert!(
                    o[n..].iter().all(|&v| v == 7.0),
                    "{ctx}: wrote past the end"
                );
                let e = o[..n]
                    .iter()
                    .zip(&r)
                    .map(|(&g, &w)| ulps(g, w))
                    .fold(0.0, f64::max);
                assert!(e <= 1.0, "{ctx}: exp_store off by {e} ulp");
                // f32 data: exponentials in f32 lanes, checked in `tests32`.
                // Element-wise passes: the same bits.
                let (mut a, mut r) = (plain.clone(), plain.clone());
                contiguous::scale(level, &mut a, inv_t);
                reference::scale(&mut r, inv_t);
                assert_eq!(a, r, "{ctx}");
            }
        }
    }
}

fn abs(x: &[f64]) -> Vec<f64> {
    x.iter()
        .map(|v| if v.is_nan() { *v } else { v.abs() })
        .collect()
}

#[test]
fn streaming_passes_match_reference_at_every_offset() {
    let src = uniform(300, 31, -3.0, 3.0);
    let x32: Vec<f32> = src.iter().map(|&v| v as f32).collect();
    for level in available() {
        for start in 0..17 {
            for len in [0, 1, 5, 8, 17, 64, 150, 283] {
                let ctx = format!("{level:?} start={start} len={len}");
                let s = &src[start..start + len];
                for stream in [true, false] {
                    // Guards before and after: nothing outside `out` is written.
                    let mut a = vec![9.0; len + 18];
                    let mut r = vec![0.0; len];
                    contiguous::scale_from(level, s, 0.37, &mut a[start..start + len], stream);
                    contiguous::store_fence();
                    reference::scale_from(s, 0.37, &mut r);
                    assert_eq!(a[start..start + len], r[..], "{ctx}");
                    assert!(a[..start]
                        .iter()
                        .chain(&a[start + len..])
                        .all(|&v| v == 9.0));
                    let x = &x32[start..start + len];
                    let mut c = vec![9.0f32; len + 18];
                    let mut r = vec![0.0f32; len];
                    let out = &mut c[start..start + len];
                    contiguous::shift_sub(level, x, 0.5, 2.0, 0.25, out, stream);
                    contiguous::store_fence();
                    reference::shift_sub(x, 0.5, 2.0, 0.25, &mut r);
                    assert_eq!(c[start..start + len], r[..], "{ctx}");
                    assert!(c[..start]
                        .iter()
                        .chain(&c[start + len..])
                        .all(|&v| v == 9.0));
                }
            }
        }
    }
}

#[test]
fn strided_kernels_match_reference_at_every_level() {
    for n in lengths() {
        let (x, b) = data(n, 41);
        // m_j: the lane maximum or above, as the drivers pass it (-inf for an empty lane).
        let m: Vec<f64> = (0..n)
            .map(|j| match j % 5 {
                _ if x[j] == f64::NEG_INFINITY => f64::NEG_INFINITY,
                0 => x[j], // at the maximum
                _ if x[j].is_finite() => x[j] + 1.0,
                _ => 0.5,
            })
            .collect();
        let init = uniform(n, 43, 0.0, 3.0);
        for level in available() {
            let ctx = format!("{level:?} n={n}");
            let (mut acc, mut racc) = (init.clone(), init.clone());
            acc[0..n.min(2)].fill(f64::NAN);
            racc[0..n.min(2)].fill(f64::NAN);
            strided::max_into(level, &x, Some(&b), &mut acc);
            reference::max_into(&x, Some(&b), &mut racc);
            assert_eq!(bits(&acc), bits(&racc), "{ctx}");
            for (bw, inv_t) in [(Some(&b[..]), 0.5), (None, 1.0)] {
                let (mut s, mut sw) = (init.clone(), init.clone());
                let (mut rs, mut rsw) = (init.clone(), init.clone());
                s.push(-7.0);
                sw.push(-7.0);
                strided::sum_exp_excl_into(level, &x, bw, &m, inv_t, &mut s[..n], &mut sw[..n]);
                reference::sum_exp_excl_into(&x, bw, &m, inv_t, &mut rs, &mut rsw);
                assert_eq!((s[n], sw[n]), (-7.0, -7.0), "{ctx}: wrote past the end");
                for j in 0..n {
                    assert!(
                        close(s[j], rs[j], rs[j].abs() + 4.0),
                        "{ctx} j={j}: {} vs {}",
                        s[j],
                        rs[j]
                    );
                    assert_eq!(sw[j].to_bits(), rsw[j].to_bits(), "{ctx} j={j}");
                }
            }
            let xs: Vec<f64> = x
                .iter()
                .map(|v| if v.is_nan() { 0.5 } else { *v })
                .collect();
            let (mut out, mut s) = (vec![7.0; n + 1], init.clone());
            let (mut rout, mut rs) = (vec![0.0; n], init.clone());
            strided::exp_store_into(level, &xs, &m, 0.8, &mut out[..n], &mut s);
            reference::exp_store_into(&xs, &m, 0.8, &mut rout, &mut rs);
            assert_eq!(out[n], 7.0, "{ctx}: wrote past the end");
            for j in 0..n {
                assert!(
                    ulps(out[j], rout[j]) <= 1.0,
                    "{ctx} j={j}: {} vs {}",
                    out[j],
                    rout[j]
                );
                assert!(close(s[j], rs[j], rs[j].abs() + 4.0), "{ctx} j={j}");
            }
            let c = uniform(n, 44, 0.5, 2.0);
            let (mut a, mut r) = (xs.clone(), xs.clone());
            strided::scale_by(level, &mut a, &c);
            reference::scale_by(&mut r, &c);
            assert_eq!(bits(&a), bits(&r), "{ctx}");
            strided::shift_sub_by(level, &xs, &m, 0.8, &c, &mut a);
            reference::shift_sub_by(&xs, &m, 0.8, &c, &mut r);
            assert_eq!(bits(&a), bits(&r), "{ctx}");
        }
    }
}

fn bits(x: &[f64]) -> Vec<u64> {
    x.iter()
        .map(|v| if v.is_nan() { u64::MAX } else { v.to_bits() })
        .collect()
}

/// Levels with FMA run the same operations in the same order: the same bits.
#[test]
fn fma_levels_give_the_same_bits() {
    let levels: Vec<Level> = available().into_iter().filter(|l| l.fma()).collect();
    let (x, b) = data(4099, 51);
    let plain: Vec<f64> = x
        .iter()
        .map(|v| if v.is_nan() { 1.0 } else { *v })
        .collect();
    let run = |level| {
        let m = contiguous::max(level, &x, Some(&b));
        let s = contiguous::sum_exp_excl(level, &x, Some(&b), m, 0.7);
        let mut out = vec![0.0; plain.len()];
        let e = contiguous::exp_store(level, &plain, 10.0, 0.7, &mut out);
        (
            m.to_bits(),
            s.0.to_bits(),
            s.1.to_bits(),
            e.to_bits(),
            bits(&out),
        )
    };
    for pair in levels.windows(2) {
        assert!(
            run(pair[0]) == run(pair[1]),
            "{:?} and {:?} differ",
            pair[0],
            pair[1]
        );
    }
}

/// `max_j (a_j + b_j)` in f32 lanes (exact: one rounding of each sum, as a max-plus product needs)
/// and `Σ a_j` accumulated in f64 lanes from the widened f32 values.
struct MaxPlus<'a> {
    a: &'a [f32],
    b: &'a [f32],
}

impl Kernel for MaxPlus<'_> {
    type Output = (f32, f64);
    #[inline(always)]
    fn run<S: Isa>(self) -> (f32, f64) {
        let mut mx = S::F32::splat(f32::NEG_INFINITY);
        let mut sum = [S::F64::splat(0.0); 2];
        for (a, b) in self.a.chunks(W32).zip(self.b.chunks(W32)) {
            let (va, vb) = (
                S::F32::load_partial(a, f32::NEG_INFINITY),
                S::F32::load_partial(b, 0.0),
            );
            mx = mx.pmax(va.add(vb));
            let (lo, hi) = S::F32::load_partial(a, 0.0).widen();
            sum = [sum[0].add(lo), sum[1].add(hi)];
        }
        let mut out = [f32::NEG_INFINITY; W32];
        mx.store(&mut out);
        let m = out.iter().fold(
            f32::NEG_INFINITY,
            |m, &v| {
                if v > m || v.is_nan() {
                    v
                } else {
                    m
                }
            },
        );
        let (lo, hi) = (sum[0].to_array(), sum[1].to_array());
        (m, lo.iter().chain(&hi).sum())
    }
}

#[test]
fn f32_lanes_compute_in_f32_and_widen_for_sums() {
    for n in [0, 1, 15, 16, 17, 40, 1001] {
        let a: Vec<f32> = uniform(n, 61, -1e6, 1e6)
            .iter()
            .map(|&v| v as f32)
            .collect();
        let b: Vec<f32> = uniform(n, 62, -1.0, 1.0)
            .iter()
            .map(|&v| v as f32)
            .collect();
        let want_max = a
            .iter()
            .zip(&b)
            .map(|(x, y)| x + y)
            .fold(f32::NEG_INFINITY, f32::max);
        let want_sum: f64 = a.iter().map(|&v| v as f64).sum();
        for level in available() {
            let (m, s) = vectorize(level, MaxPlus { a: &a, b: &b });
            assert_eq!(m, want_max, "{level:?} n={n}");
            assert!(
                (s - want_sum).abs() <= 1e-9 * (1.0 + want_sum.abs()),
                "{level:?} n={n}"
            );
        }
    }
    let mut a = vec![1.0f32; 40];
    a[33] = f32::NAN;
    for level in available() {
        let (m, _) = vectorize(level, MaxPlus { a: &a, b: &a });
        assert!(m.is_nan(), "{level:?}: NaN must propagate");
    }
}

/// A `Real` other than f32/f64 goes through `to_f64`/`from_f64` lane by lane.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Half(f32);

impl Real for Half {
    fn to_f64(self) -> f64 {
        self.0 as f64
    }
    fn from_f64(v: f64) -> Self {
        Half(v as f32)
    }
}

#[test]
fn other_element_types_use_the_conversions() {
    let x: Vec<Half> = uniform(37, 71, -5.0, 5.0)
        .iter()
        .map(|&v| Half(v as f32))
        .collect();
    for level in available() {
        let m = contiguous::max(level, &x, None);
        let (mut o, mut r) = (vec![Half(0.0); 37], vec![Half(0.0); 37]);
        let s = contiguous::exp_store(level, &x, m, 1.0, &mut o);
        let rs = reference::exp_store(&x, m, 1.0, &mut r);
        assert!(close(s, rs, 37.0 * rs), "{level:?}");
        assert!(
            o.iter().zip(&r).all(|(g, w)| ulps32(g.0, w.0) <= 1.0),
            "{level:?}"
        );
    }
}

/// `contiguous::log_store` against its scalar twin `math::log`: the same bits at every level, for
/// every tail length, special values included; f32 input and output through the conversions.
#[test]
fn log_store_matches_the_scalar_log() {
    let mut x = uniform(203, 5, 0.0, 3.0);
    x.extend([
        0.0,
        -0.0,
        -1.0,
        5e-324,
        f64::MIN_POSITIVE,
        1.0,
        f64::INFINITY,
        f64::NAN,
    ]);
    x.extend(uniform(29, 6, 1e-300, 1e-290));
    let scalar: Vec<f64> = x.iter().map(|&v| math::log(v)).collect();
    for level in available() {
        for n in [0, 1, 7, 8, 9, 16, 17, x.len()] {
            let mut out = vec![0.0; n];
            contiguous::log_store(level, &x[..n], &mut out);
            assert_eq!(bits(&out), bits(&scalar[..n]), "{level:?}, n = {n}");
        }
        // f32 data: the f32 log, stored into f32 or widened into f64.
        let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        for n in [0, 1, 15, 16, 17, 33, x.len()] {
            let (mut o32, mut o64) = (vec![7.0f32; n + 3], vec![7.0f64; n + 3]);
            contiguous::log_store(level, &x32[..n], &mut o32[..n]);
            contiguous::log_store(level, &x32[..n], &mut o64[..n]);
            for (i, &v) in x32[..n].iter().enumerate() {
                let w = math32::log32(v);
                assert_eq!(o32[i].to_bits(), w.to_bits(), "{level:?}: f32 log at {i}");
                assert_eq!(o64[i].to_bits(), (w as f64).to_bits(), "{level:?}: at {i}");
            }
            assert!(o32[n..].iter().all(|&v| v == 7.0) && o64[n..].iter().all(|&v| v == 7.0));
        }
    }
}
