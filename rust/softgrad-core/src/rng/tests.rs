use super::*;

/// Random123's published known-answer vectors for Philox4x32-10 (`kat_vectors`).
#[test]
fn known_answers() {
    assert_eq!(
        philox([0, 0, 0, 0], [0, 0]),
        [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8]
    );
    assert_eq!(
        philox([0xffff_ffff; 4], [0xffff_ffff; 2]),
        [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd]
    );
    assert_eq!(
        philox(
            [0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344],
            [0xa409_3822, 0x299f_31d0]
        ),
        [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1]
    );
}

#[test]
fn lanes_equal_single_blocks() {
    let s = Stream::new(0x1234_5678_9abc_def0, 77);
    let c = s.blocks(u64::MAX - 5); // wraps around
    for (l, b) in (0..LANES as u64).map(|l| (l as usize, (u64::MAX - 5).wrapping_add(l))) {
        let w = s.block(b);
        assert_eq!([c[0][l], c[1][l], c[2][l], c[3][l]], w);
    }
}

#[test]
fn fills_equal_values_one_at_a_time_from_any_start() {
    let s = Stream::new(42, 3);
    for start in [0u64, 1, 2, 127, 128, 129, 1000, 2047, 4095] {
        for len in [0usize, 1, 2, 3, 31, 33, 200, 2049, 5000] {
            let mut r = vec![0.0f64; len];
            let mut u = vec![0.0f64; len];
            let mut g = vec![0.0f64; len];
            let mut g32 = vec![0.0f32; len];
            s.fill_rademacher(start, &mut r);
            s.fill_uniform(start, &mut u);
            s.fill_normal(start, &mut g);
            s.fill_normal(start, &mut g32);
            for k in 0..len {
                let i = start + k as u64;
                assert_eq!(r[k], s.rademacher(i));
                assert_eq!(u[k].to_bits(), s.uniform(i).to_bits());
                assert_eq!(g[k].to_bits(), s.normal(i).to_bits());
                assert_eq!(g32[k].to_bits(), (s.normal(i) as f32).to_bits());
            }
        }
    }
}

#[test]
fn fills_give_the_same_bits_at_every_simd_level() {
    let s = Stream::new(0xDEAD_BEEF_0123_4567, 5);
    let n = 3 * LANES * RADEMACHER_PER_BLOCK + 77;
    for start in [0u64, 1, 2047, (1 << 40) + 3] {
        let mut want = (vec![0.0f64; n], vec![0.0f64; n], vec![0.0f64; n]);
        for (k, v) in (start..).take(n).enumerate() {
            want.0[k] = s.rademacher(v);
            want.1[k] = s.uniform(v);
            want.2[k] = s.normal(v);
        }
        for level in simd::available() {
            let mut got = (vec![0.0f64; n], vec![0.0f64; n], vec![0.0f64; n]);
            let mut g32 = vec![0.0f32; n];
            s.fill_rademacher_at(level, start, &mut got.0);
            s.fill_uniform_at(level, start, &mut got.1);
            s.fill_normal_at(level, start, &mut got.2);
            s.fill_normal_at(level, start, &mut g32);
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got.0), bits(&want.0), "{level:?}");
            assert_eq!(bits(&got.1), bits(&want.1), "{level:?}");
            assert_eq!(bits(&got.2), bits(&want.2), "{level:?}");
            let w32: Vec<f32> = want.2.iter().map(|v| *v as f32).collect();
            assert_eq!(g32, w32, "{level:?}");
        }
    }
}

#[test]
fn unit_is_the_top_53_bits() {
    let s = Stream::new(3, 4);
    let mut words: Vec<(u32, u32)> = vec![(0, 0), (u32::MAX, u32::MAX), (1 << 31, 0), (0, 1 << 11)];
    words.extend((0..1000).map(|b| {
        let w = s.block(b);
        (w[0], w[1])
    }));
    for (hi, lo) in words {
        let v = ((u64::from(hi) << 32) | u64::from(lo)) >> 11;
        assert_eq!(unit(hi, lo), v as f64 / (1u64 << 53) as f64);
    }
}

#[test]
fn fills_cut_anywhere_give_the_same_bits() {
    let s = Stream::new(9, 0);
    let n = 3001;
    let (mut whole, mut cut) = (vec![0.0f64; n], vec![0.0f64; n]);
    s.fill_normal(0, &mut whole);
    let mut at = 0;
    for len in [1usize, 7, 128, 999, 5, 2000] {
        let stop = (at + len).min(n);
        s.fill_normal(at as u64, &mut cut[at..stop]);
        at = stop;
    }
    assert_eq!(whole, cut);
}

#[test]
fn streams_and_seeds_differ() {
    let a = Stream::new(1, 0);
    assert_ne!(a.block(0), Stream::new(1, 1).block(0));
    assert_ne!(a.block(0), Stream::new(2, 0).block(0));
    assert_ne!(derive_seed(1, 0), derive_seed(1, 1));
    assert_ne!(derive_seed(1, 0), derive_seed(2, 0));
}

#[test]
fn moments_are_right() {
    let n = 200_000;
    let s = Stream::new(5, 0);
    let (mut r, mut u, mut g) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    s.fill_rademacher(0, &mut r);
    s.fill_uniform(0, &mut u);
    s.fill_normal(0, &mut g);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let m2 = |v: &[f64]| v.iter().map(|a| a * a).sum::<f64>() / v.len() as f64;
    let tol = 5.0 / (n as f64).sqrt();
    assert!(mean(&r).abs() < tol);
    assert!((mean(&u) - 0.5).abs() < tol);
    assert!((m2(&u) - 1.0 / 3.0).abs() < tol);
    assert!(mean(&g).abs() < tol);
    assert!((m2(&g) - 1.0).abs() < 3.0 * tol);
    // Even and odd normals (cosine and sine branches) are uncorrelated.
    let c: f64 = g.chunks_exact(2).map(|p| p[0] * p[1]).sum::<f64>() / (n / 2) as f64;
    assert!(c.abs() < 2.0 * tol);
    assert!(u.iter().all(|v| (0.0..1.0).contains(v)));
}

#[test]
fn uniform_vec_is_in_range() {
    let v = uniform_vec(1000, 3, -2.0, 5.0);
    assert!(v.iter().all(|x| (-2.0..5.0).contains(x)));
}
