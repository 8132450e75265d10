use super::*;
use crate::par::REDUCE_PIECE;
use crate::rng::uniform_vec;

/// The biased exponent of `v` as an `f64` (the binade; a larger one has a coarser grid).
#[inline(always)]
fn binade<T: Real>(v: T) -> u64 {
    (v.to_f64().to_bits() >> 52) & 0x7ff
}

pub(super) fn data32(n: usize) -> Vec<f32> {
    uniform_vec(n, 11, -1.0, 1.0)
        .iter()
        .map(|v| (v * 0.05) as f32)
        .collect()
}

#[test]
fn apply_adds_coeff_times_z() {
    let x0 = data32(5000);
    let mut x = x0.clone();
    apply(&mut x, 7, Dist::Gaussian, 1e-3, None, Par::Seq).unwrap();
    let mut z = vec![0.0; 5000];
    fill_z(7, Dist::Gaussian, 0, &mut z);
    for i in 0..5000 {
        // round(x + d) where the sum stays in x's binade (ties apart: none in these data);
        // within an ulp of x or of the sum elsewhere (on x's grid, or rounded twice).
        let plain = (x0[i] as f64 + 1e-3 * z[i]) as f32;
        if binade(plain) == binade(x0[i]) {
            assert_eq!(x[i], plain);
        } else {
            let ulp = x0[i].quantum().max(plain.quantum());
            assert!(((x[i] - plain).abs() as f64) <= ulp);
        }
    }
}

#[test]
fn passes_are_bit_identical_across_threads() {
    let n = 3 * PIECE + 17;
    let x0: Vec<f64> = uniform_vec(n, 3, -2.0, 2.0);
    let mut outs = vec![];
    for par in [Par::Seq, Par::Rayon(2), Par::Rayon(3)] {
        let mut x = x0.clone();
        apply(&mut x, 99, Dist::Gaussian, 0.3, None, par).unwrap();
        apply(&mut x, 99, Dist::Gaussian, -0.6, None, par).unwrap();
        outs.push(x.clone());
        restore(&mut x, 99, Dist::Gaussian, &[0.3, -0.6], None, par).unwrap();
        outs.push(x);
    }
    assert_eq!(outs[0], outs[2]);
    assert_eq!(outs[0], outs[4]);
    assert_eq!(outs[1], outs[3]);
    assert_eq!(outs[1], outs[5]);
}

#[test]
fn restore_handles_zero_and_specials() {
    let mut x = vec![0.0f32, -0.0, f32::INFINITY, 1e-30, 3.0];
    let x0 = x.clone();
    apply(&mut x, 1, Dist::Rademacher, 1e-3, None, Par::Seq).unwrap();
    restore(&mut x, 1, Dist::Rademacher, &[1e-3], None, Par::Seq).unwrap();
    // 0 and 1e-30 are not the only floats that map to ±1e-3: zeros are preferred (-0.0
    // comes back as +0.0), 1e-30 comes back as 0.
    assert_eq!((x[0].to_bits(), x[1].to_bits(), x[3]), (0, 0, 0.0));
    assert_eq!(x[2], f32::INFINITY);
    assert_eq!(x[4], x0[4]);
}

/// The recorded passes of one `spsa_inplace` sample (+eps, -2 eps, restore) at `level`: the
/// values after each pass and the bitmap.
fn sample_at<T: Float>(level: Level, x0: &[T], eps: f64, dist: Dist) -> Vec<Vec<u64>> {
    let mut x = x0.to_vec();
    let mut bits = vec![0u8; bits_len(x.len())];
    let steps = [eps, -2.0 * eps];
    let mut seen = vec![];
    let key = |x: &[T]| x.iter().map(|v| v.to_f64().to_bits()).collect::<Vec<_>>();
    for k in 0..2 {
        let rec = Record {
            bits: &mut bits[..],
            prior: &steps[..k],
        };
        apply_at(level, &mut x, 9, dist, steps[k], Some(rec), Par::Seq).unwrap();
        seen.push(key(&x));
    }
    restore_at(
        level,
        &mut x,
        9,
        dist,
        &steps,
        Some(&mut bits[..]),
        Par::Seq,
    )
    .unwrap();
    seen.push(key(&x));
    seen.push(bits.iter().map(|b| u64::from(*b)).collect());
    apply_at(level, &mut x, 4, dist, 0.5 * eps, None, Par::Seq).unwrap();
    seen.push(key(&x));
    seen
}

#[test]
fn passes_give_the_same_bits_at_every_simd_level() {
    // Layer-like weights with zeros and binade edges mixed in: fast and slow coordinates.
    let mut x32 = data32(3 * REDUCE_PIECE + 5);
    for (k, v) in x32.iter_mut().enumerate().step_by(7) {
        *v = [0.0, 2f32.powi(-6), 2f32.powi(-5).next_down(), -0.0][k % 4];
    }
    let x64: Vec<f64> = x32.iter().map(|v| *v as f64 * 1.1).collect();
    for dist in [Dist::Gaussian, Dist::Rademacher] {
        for eps in [1e-3, 1e-6] {
            let want32 = sample_at(Level::Scalar, &x32, eps, dist);
            let want64 = sample_at(Level::Scalar, &x64, eps, dist);
            for level in crate::simd::available() {
                assert_eq!(sample_at(level, &x32, eps, dist), want32, "{level:?}");
                assert_eq!(sample_at(level, &x64, eps, dist), want64, "{level:?}");
            }
        }
    }
}

#[test]
fn neighbours_are_the_standard_librarys() {
    let mut v32 = vec![
        0.0f32,
        -0.0,
        1.0,
        -1.0,
        f32::MIN_POSITIVE,
        1e-45,
        -1e-45,
        f32::MAX,
        -f32::MAX,
    ];
    v32.extend([
        f32::INFINITY,
        f32::NEG_INFINITY,
        2f32.powi(-3),
        -2f32.powi(7),
    ]);
    v32.extend(data32(1000));
    for v in v32 {
        assert_eq!(v.up().to_bits(), v.next_up().to_bits(), "{v}");
        assert_eq!(v.down().to_bits(), v.next_down().to_bits(), "{v}");
        let w = v as f64 * 3.0;
        assert_eq!(w.up().to_bits(), w.next_up().to_bits(), "{w}");
        assert_eq!(w.down().to_bits(), w.next_down().to_bits(), "{w}");
    }
    for w in [
        0.0f64,
        -0.0,
        5e-324,
        -5e-324,
        f64::MAX,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ] {
        assert_eq!(w.up().to_bits(), w.next_up().to_bits(), "{w}");
        assert_eq!(w.down().to_bits(), w.next_down().to_bits(), "{w}");
    }
    assert!(f32::NAN.up().is_nan() && f64::NAN.down().is_nan());
}
