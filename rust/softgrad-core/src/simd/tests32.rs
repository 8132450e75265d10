//! The `f32` bodies of the contiguous kernels at every supported level against their scalar twins in
//! [`reference32`] (the same bits, so the same results at every level) and against the `f64`
//! references with libm's `exp` (within `f32` accuracy), over lengths past every block and tail
//! boundary, with special values where blocks and tails can see them.
use super::math32_tests::ulps32_of;
use super::*;
use crate::relax::testutil::uniform;

/// `f32` inputs and weights: NaN with zero weight, `-inf`, subnormal exponentials and subnormal
/// weights, ties with the maximum.
fn data32(n: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let mut x: Vec<f32> = uniform(n, seed, -40.0, 10.0)
        .iter()
        .map(|&v| v as f32)
        .collect();
    let mut b: Vec<f32> = uniform(n, seed + 1, -1.0, 2.0)
        .iter()
        .map(|&v| v as f32)
        .collect();
    for i in (0..n).step_by(7) {
        b[i] = 0.0;
        x[i] = f32::NAN; // masked by its zero weight
    }
    for i in (3..n).step_by(11) {
        x[i] = f32::NEG_INFINITY;
    }
    for i in (5..n).step_by(13) {
        x[i] = -92.0 - 1e-3 * i as f32; // subnormal or zero exponentials
        b[i] = 1e-45; // a subnormal weight
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

/// Within `rel` of `want`, relative to `scale`.
fn near(got: f64, want: f64, rel: f64, scale: f64) -> bool {
    got == want || (got - want).abs() <= rel * scale
}

#[test]
fn f32_max_and_sums_match_their_twins_at_every_level() {
    for n in lengths() {
        let (x, b) = data32(n, 21);
        let plain: Vec<f32> = x
            .iter()
            .map(|v| if v.is_nan() { -3.0 } else { *v })
            .collect();
        let abs: Vec<f32> = b.iter().map(|v| v.abs()).collect();
        for level in available() {
            let ctx = format!("{level:?} n={n}");
            for (xs, bs) in [(&x, Some(&b[..])), (&plain, None)] {
                let m = contiguous::max(level, xs, bs);
                assert_eq!(m.to_bits(), reference::max(xs, bs).to_bits(), "{ctx}");
                if !m.is_finite() {
                    continue;
                }
                for inv_t in [1.0, 0.37] {
                    let (s, w) = contiguous::sum_exp_excl(level, xs, bs, m, inv_t);
                    if bs.is_none() {
                        let (ts, tw) = reference32::sum_exp_excl(xs, m as f32, inv_t as f32);
                        let want = (ts.to_bits(), tw.to_bits());
                        assert_eq!((s.to_bits(), w.to_bits()), want, "{ctx}");
                    }
                    let (rs, rw) = reference::sum_exp_excl(xs, bs, m, inv_t);
                    let mass = reference::sum_exp_excl(xs, bs.map(|_| &abs[..]), m, inv_t).0;
                    // Each exponential within an ulp and its exponent within 2 roundings (f64
                    // exponentials for weighted data).
                    let rel = match bs {
                        None => 4e-7 * (1.0 + 50.0 * inv_t),
                        Some(_) => 1e-15 * n as f64,
                    };
                    assert!(near(s, rs, rel, mass), "{ctx}: {s} vs {rs}");
                    assert!(near(w, rw, 1e-15, rw.abs()), "{ctx}: {w} vs {rw}");
                }
            }
            // The f32 maximum of a NaN-holding row is NaN.
            if n > 0 {
                assert!(contiguous::max(level, &x, None).is_nan(), "{ctx}");
            }
        }
    }
}

#[test]
fn f32_exp_store_matches_its_twin_at_every_level() {
    for n in lengths() {
        let (x, _) = data32(n, 31);
        let x: Vec<f32> = x
            .iter()
            .map(|v| if v.is_nan() { -3.0 } else { *v })
            .collect();
        let m0 = reference::max(&x, None);
        // The maximum, and a value above it, at unit and other temperatures.
        for (m, inv_t) in [
            (m0, 1.0),
            (m0, 1.0 / 1.3),
            (m0 + 0.25, 1.0),
            (m0 + 0.5, 1.7),
        ] {
            if !m.is_finite() {
                continue;
            }
            let (mut twin, mut r) = (vec![0.0f32; n], vec![0.0f32; n]);
            let ts = reference32::exp_store(&x, m as f32, inv_t, &mut twin);
            let rs = reference::exp_store(&x, m, inv_t, &mut r);
            for level in available() {
                let ctx = format!("{level:?} n={n} m={m} inv_t={inv_t}");
                let mut o = vec![7.0f32; n + 9];
                let s = contiguous::exp_store(level, &x, m, inv_t, &mut o[..n]);
                assert_eq!(s.to_bits(), ts.to_bits(), "{ctx}");
                assert_eq!(
                    o[..n].iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    twin.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    "{ctx}"
                );
                assert!(
                    o[n..].iter().all(|&v| v == 7.0),
                    "{ctx}: wrote past the end"
                );
                // Against libm: within an ulp and a bit, whatever |x - m| inv_t (the exponent is
                // carried in two parts).
                for (i, (&g, &v)) in o[..n].iter().zip(&x).enumerate() {
                    let want = ((v as f64 - m) * inv_t).exp();
                    let e = ulps32_of(g, want);
                    assert!(e <= 1.01, "{ctx} i={i}: {g:e} vs {want:e}: {e} ulp");
                }
                assert!(near(s, rs, 2e-7, rs), "{ctx}: {s} vs {rs}");
            }
        }
    }
}

/// NaN data gives NaN exponentials; `-inf` gives 0; the results below the normal range are the
/// subnormal values of the scalar twin.
#[test]
fn f32_exp_store_special_values() {
    let x = [f32::NAN, f32::NEG_INFINITY, -102.0, -90.0, -87.0, 0.0, 1.0];
    for level in available() {
        let mut o = [0.0f32; 7];
        let s = contiguous::exp_store(level, &x, 1.0, 1.0, &mut o);
        assert!(o[0].is_nan() && s.is_nan(), "{level:?}");
        assert_eq!(o[1], 0.0);
        assert!(
            o[2] > 0.0 && o[2] < f32::MIN_POSITIVE,
            "{level:?}: {}",
            o[2]
        );
        assert!(
            o[3] > 0.0 && o[3] < f32::MIN_POSITIVE,
            "{level:?}: {}",
            o[3]
        );
        assert_eq!(
            o[4..],
            [(-88.0f64).exp() as f32, (-1.0f64).exp() as f32, 1.0]
        );
        for (&g, &v) in o[1..].iter().zip(&x[1..]) {
            assert_eq!(g.to_bits(), math32::exp32(v - 1.0).to_bits(), "{level:?}");
        }
    }
}

/// The strided `f32` bodies against a per-lane scalar twin (the same bits at every level), lane
/// shifts at the maximum, above it, `-inf` and NaN; a chunk with a shift that is not an `f32`
/// value takes the `f64` body (checked against the `f64` reference).
#[test]
fn f32_strided_kernels_match_their_twins_at_every_level() {
    for n in lengths().into_iter().chain([511, 512, 513, 1100]) {
        let (x, b) = data32(n, 41);
        let m: Vec<f64> = (0..n)
            .map(|j| match j % 5 {
                _ if x[j] == f32::NEG_INFINITY => f64::NEG_INFINITY,
                _ if x[j].is_nan() => f64::NAN,
                0 => x[j] as f64,
                _ => (x[j] + 1.5) as f64,
            })
            .collect();
        let init = uniform(n, 43, 0.0, 3.0);
        for (bw, inv_t) in [(Some(&b[..]), 0.5), (None, 1.0), (None, 1.0 / 1.3)] {
            // The twin, lane by lane (weighted data: the f64 reference).
            let (mut ts, mut tsw) = (init.clone(), init.clone());
            if bw.is_some() {
                reference::sum_exp_excl_into(&x, bw, &m, inv_t, &mut ts, &mut tsw);
            }
            for j in (0..n).filter(|_| bw.is_none()) {
                let mj = m[j] as f32;
                if x[j] == mj {
                    tsw[j] += 1.0;
                } else {
                    let d = if inv_t == 1.0 {
                        x[j] - mj
                    } else {
                        (x[j] - mj) * inv_t as f32
                    };
                    ts[j] += math32::exp32(d) as f64;
                }
            }
            for level in available() {
                let ctx = format!("{level:?} n={n} inv_t={inv_t}");
                let (mut s, mut sw) = (init.clone(), init.clone());
                s.push(-7.0);
                sw.push(-7.0);
                strided::sum_exp_excl_into(level, &x, bw, &m, inv_t, &mut s[..n], &mut sw[..n]);
                assert_eq!((s[n], sw[n]), (-7.0, -7.0), "{ctx}: wrote past the end");
                for j in 0..n {
                    let close = s[j] == ts[j]
                        || (s[j].is_nan() && ts[j].is_nan())
                        || (bw.is_some() && (s[j] - ts[j]).abs() <= 1e-15 * (ts[j].abs() + 4.0));
                    assert!(close, "{ctx} j={j}: {} vs {}", s[j], ts[j]);
                    assert_eq!(sw[j].to_bits(), tsw[j].to_bits(), "{ctx} j={j}");
                }
            }
        }
        // exp_store_into: finite data, shifts at or above the lane.
        let xs: Vec<f32> = x
            .iter()
            .map(|v| if v.is_finite() { *v } else { -3.0 })
            .collect();
        let ms: Vec<f64> = xs
            .iter()
            .enumerate()
            .map(|(j, &v)| {
                if j % 3 == 0 {
                    v as f64
                } else {
                    (v + 2.0) as f64
                }
            })
            .collect();
        for inv_t in [1.0, 1.0 / 1.3] {
            let (t, t_lo) = (inv_t as f32, (inv_t - (inv_t as f32) as f64) as f32);
            let twin: Vec<f32> = (0..n)
                .map(|j| math32::exp32_shifted(xs[j], ms[j] as f32, t, t_lo))
                .collect();
            for level in available() {
                let ctx = format!("{level:?} n={n} inv_t={inv_t}");
                let (mut out, mut s) = (vec![7.0f32; n + 1], init.clone());
                strided::exp_store_into(level, &xs, &ms, inv_t, &mut out[..n], &mut s);
                assert_eq!(out[n], 7.0, "{ctx}: wrote past the end");
                for j in 0..n {
                    assert_eq!(out[j].to_bits(), twin[j].to_bits(), "{ctx} j={j}");
                    assert_eq!(
                        s[j].to_bits(),
                        (init[j] + twin[j] as f64).to_bits(),
                        "{ctx}"
                    );
                }
            }
        }
        // A shift that is not an f32 value: its chunk takes the f64 body.
        if n > 0 {
            let mut mx = ms.clone();
            mx[n - 1] += 1e-9;
            for level in available() {
                let (mut out, mut s) = (vec![0.0f32; n], vec![0.0; n]);
                let (mut rout, mut rs) = (vec![0.0f32; n], vec![0.0; n]);
                strided::exp_store_into(level, &xs, &mx, 1.0, &mut out, &mut s);
                reference::exp_store_into(&xs, &mx, 1.0, &mut rout, &mut rs);
                let last = n - 1;
                assert!(
                    (s[last] - rs[last]).abs() <= 1e-15 * rs[last],
                    "{level:?} n={n}"
                );
            }
        }
    }
}

/// The value's sums with the pullback's weights in one pass: the bits of `sum_exp_excl` (so the
/// value of `logsumexp`), each weight within about an ulp of libm whatever `|x - m| inv_t` (the
/// exponent's low part applied by a fused multiply-add), `Σ e d` to `f32` accuracy, and the same
/// bits at every level.
#[test]
fn f32_sum_exp_weights_keeps_the_sums_bits_and_exact_exponents() {
    for n in lengths() {
        let (x, _) = data32(n, 41);
        let x: Vec<f32> = x
            .iter()
            .map(|v| if v.is_nan() { -3.0 } else { *v })
            .collect();
        let m = reference::max(&x, None);
        if !m.is_finite() {
            continue;
        }
        for inv_t in [1.0, 1.0 / 0.7, 0.37] {
            let (s0, w0) = contiguous::sum_exp_excl(Level::Scalar, &x, None, m, inv_t);
            let terms = x.iter().map(|&v| {
                let d = (v as f64 - m) * inv_t;
                let e = d.exp();
                if e == 0.0 {
                    (0.0, 0.0)
                } else {
                    (e * d, (e * d).abs())
                }
            });
            let (rsd, mass) = terms.fold((0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
            let mut first: Option<(Vec<u32>, u64)> = None;
            for level in available() {
                let ctx = format!("{level:?} n={n} inv_t={inv_t}");
                let mut o = vec![7.0f32; n + 9];
                let (s, w, sd) =
                    contiguous::sum_exp_weights(level, &x, m as f32, inv_t, &mut o[..n]);
                assert_eq!(
                    (s.to_bits(), w.to_bits()),
                    (s0.to_bits(), w0.to_bits()),
                    "{ctx}"
                );
                assert!(
                    o[n..].iter().all(|&v| v == 7.0),
                    "{ctx}: wrote past the end"
                );
                for (i, (&g, &v)) in o[..n].iter().zip(&x).enumerate() {
                    let want = ((v as f64 - m) * inv_t).exp();
                    let e = ulps32_of(g, want);
                    assert!(e <= 1.6, "{ctx} i={i}: {g:e} vs {want:e}: {e} ulp");
                }
                assert!(
                    near(sd, rsd, 4e-7 * (1.0 + 50.0 * inv_t), mass),
                    "{ctx}: {sd} vs {rsd}"
                );
                let bits = (o.iter().map(|v| v.to_bits()).collect(), sd.to_bits());
                match &first {
                    Some(f) => assert!(*f == bits, "{ctx}: other bits than the first level"),
                    None => first = Some(bits),
                }
            }
        }
    }
}
