use super::*;

#[test]
fn rne_shift_rounds_to_nearest_even() {
    for p in [
        0u32,
        1,
        2,
        3,
        4,
        5,
        6,
        7,
        8,
        12,
        13,
        14,
        0x7fff_ffff,
        0x8000_0001,
        1 << 30,
    ] {
        for s in 2..=31u32 {
            let exact = f64::from(p) / 2f64.powi(s as i32);
            assert_eq!(
                f64::from(rne_shift(p, s)),
                exact.round_ties_even(),
                "{p} >> {s}"
            );
        }
    }
}

/// Every binade, both signs, both zeros, the edges of each binade, against the scalar step.
#[test]
fn lanes_equal_the_scalar_step_on_every_binade() {
    for c in [
        1e-3,
        -2e-3,
        0.3,
        7.5e-8,
        -1.0,
        3.0e5,
        2f64.powi(-20),
        1.5 * 2f64.powi(-40),
    ] {
        let s = Shift::new(c).expect("a plain coefficient");
        for e in 0..=255u32 {
            for mant in [
                0u32, 1, 2, 7, 8, 9, 0x40_0000, 0x7f_fff7, 0x7f_fff8, 0x7f_ffff, 12345,
            ] {
                for sign in [0u32, 1 << 31] {
                    let x = f32::from_bits(sign | e << 23 | mant);
                    for bit in [0u32, 1] {
                        let (y, slow) = s.one(x, bit);
                        let want = step(x, if bit == 1 { -c } else { c });
                        if slow {
                            assert_eq!(y.to_bits(), x.to_bits());
                        } else {
                            assert_eq!(y.to_bits(), want.to_bits(), "c {c} x {x:e} bit {bit}");
                        }
                    }
                }
            }
        }
    }
}

/// Whole and partial groups at every SIMD level against the scalar step with the stream's
/// Rademacher values: weights of several scales, zeros of both signs, subnormals, the edges
/// of binades, infinities and NaNs.
#[test]
fn groups_equal_the_scalar_step_at_every_level() {
    let n = 2 * GROUP + 77;
    let u = crate::rng::uniform_vec(n, 4, -1.0, 1.0);
    let x0: Vec<f32> = u
        .iter()
        .enumerate()
        .map(|(i, &v)| match i % 13 {
            0 => 0.0,
            1 => -0.0,
            2 => f32::from_bits(1 + i as u32),
            3 => f32::from_bits(((i as u32 % 200) + 30) << 23) * v.signum() as f32,
            4 => f32::INFINITY,
            5 => f32::NAN,
            6 => (v * 1e-6) as f32,
            7 => (v * 1e30) as f32,
            _ => (v * 0.05) as f32,
        })
        .collect();
    let stream = Stream::new(21, 0);
    let mut z = vec![0.0f64; n];
    stream.fill_rademacher(0, &mut z);
    for c in [1e-3, -2e-3, 0.7, 3e-9] {
        let s = Shift::new(c).unwrap();
        let want: Vec<f32> = x0.iter().zip(&z).map(|(&v, &zi)| step(v, c * zi)).collect();
        for level in simd::available() {
            let mut x = x0.clone();
            for (g, xs) in x.chunks_mut(GROUP).enumerate() {
                s.group(level, &stream, (g * GROUP) as u64, xs, c);
            }
            for i in 0..n {
                assert_eq!(
                    x[i].to_bits(),
                    want[i].to_bits(),
                    "{level:?} c {c} i {i} x {:e}",
                    x0[i]
                );
            }
        }
    }
}

/// The Gaussian lanes against the scalar step at every level, on the same hostile values.
#[test]
fn gaussian_groups_equal_the_scalar_step_at_every_level() {
    let n = GROUP + 77;
    let u = crate::rng::uniform_vec(n, 4, -1.0, 1.0);
    let x0: Vec<f32> = u
        .iter()
        .enumerate()
        .map(|(i, &v)| match i % 11 {
            0 => 0.0,
            1 => -0.0,
            2 => f32::from_bits(1 + i as u32),
            3 => f32::from_bits(((i as u32 % 220) + 25) << 23) * v.signum() as f32,
            4 => f32::INFINITY,
            5 => f32::NAN,
            6 => (v * 1e-6) as f32,
            _ => (v * 0.05) as f32,
        })
        .collect();
    let mut z = vec![0.0f64; n];
    Stream::new(3, 0).fill_normal(0, &mut z);
    z[9] = 0.0;
    for c in [1e-3, -2e-3, 0.7, 3e-9, 1e-30, 0.0] {
        let want: Vec<f32> = x0.iter().zip(&z).map(|(&v, &zi)| step(v, c * zi)).collect();
        for level in simd::available() {
            let mut x = x0.clone();
            for (xs, zs) in x.chunks_mut(GROUP).zip(z.chunks(GROUP)) {
                gauss_group(level, xs, zs, c);
            }
            for i in 0..n {
                assert_eq!(
                    x[i].to_bits(),
                    want[i].to_bits(),
                    "{level:?} c {c} i {i} x {:e}",
                    x0[i]
                );
            }
        }
    }
}

#[test]
fn odd_coefficients_fall_back() {
    for c in [0.0, -0.0, 1e-30, f64::INFINITY, f64::NAN, 1e30] {
        assert!(Shift::new(c).is_none(), "{c}");
    }
}
