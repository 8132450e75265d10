//! Every dispatched kernel at every supported level against its scalar reference.
use super::*;
use crate::relax::testutil::uniform;

fn ulp_close(a: f64, b: f64, ulps: f64) -> bool {
    a == b || (a - b).abs() <= ulps * f64::EPSILON * a.abs().max(b.abs())
}

fn data(n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut x = uniform(n, 21, -40.0, 10.0);
    let mut b = uniform(n, 22, -1.0, 2.0);
    for i in (0..n).step_by(7) {
        b[i] = 0.0;
        x[i] = f64::NAN; // masked by its zero weight
    }
    if n > 3 {
        x[3] = f64::NEG_INFINITY;
        b[3] = 1.0;
    }
    (x, b)
}

#[test]
fn reduce_kernels_match_reference() {
    for n in [0, 1, 15, 16, 17, 100, 1000, 4099] {
        let (x, b) = data(n);
        let x_plain: Vec<f64> = x
            .iter()
            .map(|v| if v.is_nan() { -3.0 } else { *v })
            .collect();
        for level in available() {
            assert_eq!(
                contiguous::max(level, &x, Some(&b)),
                reference::max(&x, Some(&b))
            );
            assert_eq!(
                contiguous::max(level, &x_plain, None),
                reference::max(&x_plain, None)
            );
            assert!(
                contiguous::max(level, &x, None).is_nan()
                    || n == 0
                    || x.iter().all(|v| !v.is_nan())
            );
            let m = reference::max(&x, Some(&b));
            for inv_t in [1.0, 0.37] {
                let (s, w) = contiguous::sum_exp_excl(level, &x, Some(&b), m, inv_t);
                let (rs, rw) = reference::sum_exp_excl(&x, Some(&b), m, inv_t);
                assert!(
                    ulp_close(w, rw, 8.0) && (s - rs).abs() <= 1e-13 * (1.0 + rs.abs()),
                    "{level:?} n={n}: {s} vs {rs}"
                );
                let mp = reference::max(&x_plain, None);
                let mut o1 = vec![0.0; n];
                let mut o2 = vec![0.0; n];
                let s1 = contiguous::exp_store(level, &x_plain, mp, inv_t, &mut o1);
                let s2 = reference::exp_store(&x_plain, mp, inv_t, &mut o2);
                assert!((s1 - s2).abs() <= 1e-13 * s2.abs());
                assert!(o1.iter().zip(&o2).all(|(a, b)| ulp_close(*a, *b, 2.0)));
            }
        }
    }
}

#[test]
fn lane_kernels_match_reference() {
    let (x, b) = data(300);
    let m: Vec<f64> = (0..300)
        .map(|j| if x[j].is_finite() { x[j] + 1.0 } else { 0.0 })
        .collect();
    for level in available() {
        let mut acc = vec![f64::NEG_INFINITY; 300];
        strided::max_into(level, &x, Some(&b), &mut acc);
        for j in 0..300 {
            assert_eq!(
                acc[j].to_bits(),
                reference::max(&x[j..=j], Some(&b[j..=j])).to_bits()
            );
        }
        let (mut s, mut w) = (vec![0.0; 300], vec![0.0; 300]);
        strided::sum_exp_excl_into(level, &x, Some(&b), &m, 0.5, &mut s, &mut w);
        for j in 0..300 {
            let (rs, rw) = reference::sum_exp_excl(&x[j..=j], Some(&b[j..=j]), m[j], 0.5);
            assert!(ulp_close(s[j], rs, 2.0) && w[j] == rw, "{level:?} lane {j}");
        }
        let xs: Vec<f64> = x
            .iter()
            .map(|v| if v.is_nan() { 0.5 } else { *v })
            .collect();
        let (mut out, mut s) = (vec![0.0; 300], vec![0.0; 300]);
        strided::exp_store_into(level, &xs, &m, 1.0, &mut out, &mut s);
        for j in 0..300 {
            assert!(ulp_close(out[j], (xs[j] - m[j]).exp(), 2.0) && s[j] == out[j]);
        }
    }
}

#[test]
fn float32_kernels_widen_before_arithmetic() {
    let x: Vec<f32> = uniform(1000, 3, -5.0, 5.0)
        .iter()
        .map(|&v| v as f32)
        .collect();
    for level in available() {
        let m = contiguous::max(level, &x, None);
        assert_eq!(m, reference::max(&x, None));
        let (s, w) = contiguous::sum_exp_excl(level, &x, None, m, 1.0);
        let (rs, rw) = reference::sum_exp_excl(&x, None, m, 1.0);
        assert!(ulp_close(s, rs, 8.0) && w == rw);
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn avx512_exp_is_within_two_ulp_of_libm() {
    if level() < Level::Avx512 {
        return; // nothing to compare on this CPU; the portable kernels are covered above
    }
    let mut x = -745.0;
    while x < 709.7 {
        let xs: [f64; 8] = std::array::from_fn(|i| x + i as f64 * 0.0011);
        let got = avx512::exp8_array(xs);
        for (g, &v) in got.iter().zip(&xs) {
            let want = v.exp();
            if want >= f64::MIN_POSITIVE {
                assert!(ulp_close(*g, want, 2.0), "exp({v}) = {g}, want {want}");
            } else {
                assert!(
                    (g - want).abs() <= 2.0 * f64::from_bits(1),
                    "exp({v}) = {g}, want {want}"
                );
            }
        }
        x += 0.0173;
    }
    let special = avx512::exp8_array([
        f64::NAN,
        f64::NEG_INFINITY,
        f64::INFINITY,
        0.0,
        710.0,
        -800.0,
        1.0,
        -1.0,
    ]);
    assert!(special[0].is_nan());
    assert_eq!(
        &special[1..6],
        &[0.0, f64::INFINITY, 1.0, f64::INFINITY, 0.0]
    );
}

#[test]
fn every_tail_length_matches_reference_and_stays_in_bounds() {
    for n in 0..=40 {
        let (x, b) = data(n);
        let x_plain: Vec<f64> = x
            .iter()
            .map(|v| if v.is_nan() { -2.0 } else { *v })
            .collect();
        let x32: Vec<f32> = x_plain.iter().map(|&v| v as f32).collect();
        let m: Vec<f64> = x_plain
            .iter()
            .map(|v| if v.is_finite() { v + 0.5 } else { 0.0 })
            .collect();
        for level in available() {
            // Guard values after the end catch any write past `n`.
            let mut out = vec![7.0; n + 9];
            let (mut s, mut w) = (vec![0.0; n + 9], vec![0.0; n + 9]);
            strided::exp_store_into(level, &x_plain, &m, 1.0, &mut out[..n], &mut s[..n]);
            strided::sum_exp_excl_into(
                level,
                &x,
                Some(&b),
                &m,
                1.0,
                &mut w.clone()[..n],
                &mut w[..n],
            );
            assert!(out[n..].iter().all(|&v| v == 7.0) && s[n..].iter().all(|&v| v == 0.0));
            for j in 0..n {
                assert!(
                    ulp_close(out[j], (x_plain[j] - m[j]).exp(), 2.0),
                    "{level:?} n={n} j={j}"
                );
            }
            let mut o32 = vec![7.0f32; n + 9];
            let s32 = contiguous::exp_store(level, &x32, 0.0, 1.0, &mut o32[..n]);
            assert!(o32[n..].iter().all(|&v| v == 7.0));
            let r32: f64 = x32.iter().map(|&v| (v as f64).exp()).sum();
            assert!((s32 - r32).abs() <= 1e-13 * r32.max(1e-300));
            let mp = reference::max(&x, Some(&b));
            if mp.is_finite() {
                let (got_s, got_w) = contiguous::sum_exp_excl(level, &x, Some(&b), mp, 0.5);
                let (ref_s, ref_w) = reference::sum_exp_excl(&x, Some(&b), mp, 0.5);
                assert!(
                    (got_s - ref_s).abs() <= 1e-13 * (1.0 + ref_s.abs()) && got_w == ref_w,
                    "{level:?} n={n}"
                );
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn avx2_exp_is_within_two_ulp_of_libm() {
    if level() < Level::Avx2 {
        return; // nothing to compare on this CPU; the portable kernels are covered above
    }
    let mut x = -745.0;
    while x < 709.7 {
        let xs: [f64; 4] = std::array::from_fn(|i| x + i as f64 * 0.0011);
        for (g, &v) in avx2::exp4_array(xs).iter().zip(&xs) {
            let want = v.exp();
            if want >= f64::MIN_POSITIVE {
                assert!(ulp_close(*g, want, 2.0), "exp({v}) = {g}, want {want}");
            } else {
                assert!(
                    (g - want).abs() <= 2.0 * f64::from_bits(1),
                    "exp({v}) = {g}, want {want}"
                );
            }
        }
        x += 0.0173;
    }
    let special = avx2::exp4_array([f64::NAN, f64::NEG_INFINITY, f64::INFINITY, 710.0]);
    assert!(special[0].is_nan());
    assert_eq!(&special[1..], &[0.0, f64::INFINITY, f64::INFINITY]);
}

#[test]
fn streaming_passes_match_plain_ones_at_every_offset() {
    let src = uniform(200, 31, -3.0, 3.0);
    let x32: Vec<f32> = src.iter().map(|&v| v as f32).collect();
    for level in available() {
        for start in 0..9 {
            for len in [0, 1, 5, 17, 64, 150] {
                let s = &src[start..start + len];
                let (mut a, mut b) = (vec![0.0; len], vec![0.0; len]);
                contiguous::scale_from(level, s, 0.37, &mut a, true);
                contiguous::scale_from(level, s, 0.37, &mut b, false);
                contiguous::store_fence();
                assert_eq!(a, b, "{level:?} start={start} len={len}");
                let (mut c, mut d) = (vec![0.0f32; len], vec![0.0f32; len]);
                contiguous::shift_sub(
                    level,
                    &x32[start..start + len],
                    0.5,
                    2.0,
                    0.25,
                    &mut c,
                    true,
                );
                contiguous::shift_sub(
                    level,
                    &x32[start..start + len],
                    0.5,
                    2.0,
                    0.25,
                    &mut d,
                    false,
                );
                contiguous::store_fence();
                assert_eq!(c, d, "{level:?} start={start} len={len}");
            }
        }
    }
}

/// Reports (with `--nocapture`) the worst error of every `exp` over a dense grid; asserts <= 2 ulp.
#[test]
fn worst_exp_error_over_a_dense_grid() {
    let xs: Vec<f64> = (0..400_000)
        .map(|i| -708.0 + 1417.0 * (i as f64 + 0.37) / 400_000.0)
        .collect();
    let worst = |f: &dyn Fn(f64) -> f64| {
        xs.iter()
            .map(|&x| {
                let (g, w) = (f(x), x.exp());
                ((g - w) / (f64::EPSILON * w)).abs()
            })
            .fold(0.0f64, f64::max)
    };
    let portable = worst(&|x| exp::exp::<false>(x));
    let portable_fma = worst(&|x| exp::exp::<true>(x));
    println!("portable {portable:.3} ulp, portable+fma {portable_fma:.3} ulp");
    assert!(portable <= 2.0 && portable_fma <= 2.0);
    #[cfg(target_arch = "x86_64")]
    {
        if level() >= Level::Avx2 {
            let a2 = worst(&|x| avx2::exp4_array([x; 4])[0]);
            println!("avx2 {a2:.3} ulp");
            assert!(a2 <= 2.0);
        }
        if level() >= Level::Avx512 {
            let a5 = worst(&|x| avx512::exp8_array([x; 8])[0]);
            println!("avx512 {a5:.3} ulp");
            assert!(a5 <= 2.0);
        }
    }
}
