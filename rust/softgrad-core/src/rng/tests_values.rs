//! Pinned values of the streams: each distribution's value `i` against its documented definition
//! on Random123's known-answer blocks (the tests in `rng.rs` check fills against single values and
//! moments, which a consistent change of the mapping from words to values would pass).

use super::*;

/// Random123's known-answer vectors for Philox4x32-10: `(counter, key, output)`.
const KAT: [([u32; 4], [u32; 2], [u32; 4]); 3] = [
    (
        [0, 0, 0, 0],
        [0, 0],
        [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8],
    ),
    (
        [0xffff_ffff; 4],
        [0xffff_ffff; 2],
        [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd],
    ),
    (
        [0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344],
        [0xa409_3822, 0x299f_31d0],
        [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1],
    ),
];

fn join(hi: u32, lo: u32) -> u64 {
    (u64::from(hi) << 32) + u64::from(lo)
}

/// The stream and block index whose block is the known-answer vector `k`.
fn kat_stream(k: usize) -> (Stream, u64, [u32; 4]) {
    let (c, key, out) = KAT[k];
    (
        Stream::new(join(key[1], key[0]), join(c[3], c[2])),
        join(c[1], c[0]),
        out,
    )
}

/// `u = (top 53 bits of the 64-bit word hi:lo) / 2^53`, from integers.
fn unit_ref(hi: u32, lo: u32) -> f64 {
    (join(hi, lo) / 2048) as f64 / 9_007_199_254_740_992.0
}

#[test]
fn seed_stream_and_block_index_map_to_key_and_counter_words() {
    for k in 0..KAT.len() {
        let (s, b, out) = kat_stream(k);
        assert_eq!(s.block(b), out, "vector {k}");
        // the bulk path, with the vector in lane 0 and in the last lane
        let c = s.blocks(b);
        assert_eq!([c[0][0], c[1][0], c[2][0], c[3][0]], out, "vector {k}");
        let c = s.blocks(b.wrapping_sub(LANES as u64 - 1));
        let l = LANES - 1;
        assert_eq!([c[0][l], c[1][l], c[2][l], c[3][l]], out, "vector {k}");
    }
}

#[test]
fn uniform_values_are_the_top_53_bits_of_each_half_block() {
    for k in 0..KAT.len() {
        let (s, b, w) = kat_stream(k);
        // block b holds values 2b (words 0-1) and 2b + 1 (words 2-3); 2b wraps for b >= 2^63
        let (i0, i1) = (b.wrapping_mul(2), b.wrapping_mul(2).wrapping_add(1));
        if b < 1 << 63 {
            assert_eq!(s.uniform(i0), unit_ref(w[0], w[1]), "vector {k}");
            assert_eq!(s.uniform(i1), unit_ref(w[2], w[3]), "vector {k}");
            let mut v = [0.0f64; 3];
            s.fill_uniform(i0, &mut v[..2]);
            assert_eq!(v[..2], [unit_ref(w[0], w[1]), unit_ref(w[2], w[3])]);
            s.fill_uniform(i1, &mut v[2..]);
            assert_eq!(v[2], unit_ref(w[2], w[3]));
        }
    }
    // extremes of the map: all-zero and all-one words
    assert_eq!(unit(0, 0), 0.0);
    assert_eq!(unit(0, 2047), 0.0);
    assert_eq!(unit(0, 2048), 2f64.powi(-53));
    assert_eq!(unit(u32::MAX, u32::MAX), 1.0 - 2f64.powi(-53));
    assert_eq!(unit(1 << 31, 0), 0.5);
}

/// Normal value `j` of a block of words `w` by its definition (`normal.rs`), evaluated in `f64`
/// with libm: `u = v / 2^31`, `v = f32(⌊w_r / 2⌋) + ½` rounded to `f32` as defined, `θ = 2π (w_a + ½) / 2^32`, `√(−2 ln u) · (cos θ, sin θ)`; and the radius.
fn normal_ref(w: [u32; 4], j: usize) -> (f64, f64) {
    let (rw, aw) = (w[j & 2], w[(j & 2) + 1]);
    let v = f64::from((rw >> 1) as f32 + 0.5); // v as defined, rounded to f32
    let u = v / 2f64.powi(31);
    let r = (-2.0 * u.ln()).sqrt();
    let t = 2.0 * std::f64::consts::PI * (f64::from(aw) + 0.5) / 2f64.powi(32);
    (if j & 1 == 0 { r * t.cos() } else { r * t.sin() }, r)
}

/// The error of `a` against the exact `(value, radius)`, in `f32` ulps of the radius (at least
/// 2^-8): the scale of the rounding errors of `r · cos θ` whatever the size of `cos θ`.
fn ulps(a: f32, (b, r): (f64, f64)) -> f64 {
    let ulp = 2f64.powi(r.max(2f64.powi(-8)).log2().floor() as i32 - 23);
    (f64::from(a) - b).abs() / ulp
}

#[test]
fn normal_values_are_box_muller_of_a_blocks_words_in_pairs() {
    // Values 4b..4b + 4 of the three known-answer blocks, against the definition in f64.
    for k in 0..KAT.len() {
        let (s, b, w) = kat_stream(k);
        if b >= 1 << 62 {
            continue; // 4b would wrap
        }
        let mut fill = [0.0f32; 4];
        s.fill_normal(4 * b, &mut fill);
        for (j, v) in fill.iter().enumerate() {
            let want = normal_ref(w, j);
            let got = s.normal32(4 * b + j as u64);
            assert_eq!(v.to_bits(), got.to_bits(), "vector {k}, value {j}");
            assert!(ulps(got, want) <= 4.0, "vector {k}, {j}: {got} vs {want:?}");
        }
    }
    // Pinned: values 0..4 of stream (0, 0) (block 0 is the first known-answer vector), the bits
    // of this implementation, within 4 f32 ulps of the f64 definition above.
    let s = Stream::new(0, 0);
    let pins: Vec<u32> = (0..4).map(|i| s.normal32(i).to_bits()).collect();
    assert_eq!(pins, PINS);
}

/// The bits of normal values `0..4` of seed 0, stream 0 (see the test above).
const PINS: [u32; 4] = [0x3f7d_bb31, 0xbf6c_b6b0, 0xbf1e_1ba0, 0xbef6_d1b3];

#[test]
fn normal_values_agree_with_the_definition_on_many_blocks_and_the_extreme_words() {
    let s = Stream::new(0x0123_4567_89ab_cdef, 3);
    let mut worst = 0.0f64;
    for b in 0..20_000u64 {
        let w = s.block(b);
        for j in 0..4 {
            let got = s.normal32(4 * b + j as u64);
            worst = worst.max(ulps(got, normal_ref(w, j)));
        }
    }
    assert!(worst <= 4.0, "{worst}");
    // The radius word's extremes: 0 and 1 give the largest radius √(−2 ln 2^-32) = 6.66,
    // all ones the smallest (u = 1: r = 0).
    let rmax = (64.0 * 2f64.ln()).sqrt();
    for w in [0u32, 1] {
        assert!((f64::from(normal::radius(w)) - rmax).abs() < 1e-6 * rmax);
    }
    assert_eq!(normal::radius(u32::MAX), 0.0);
    assert_eq!(normal::radius(u32::MAX - 1), 0.0);
    // and 2^31 - 2 → k = 2^30 - 1, v rounds to 2^30: u = 1/2, r = √(2 ln 2).
    let r = normal::radius(0x7fff_fffe);
    assert!(
        (f64::from(r) - (2.0 * 2f64.ln()).sqrt()).abs() < 2e-7,
        "{r}"
    );
    // The angle word's quarter turns: w = 0 is θ = π / 2^32 (cos 1, sin ~0, positive),
    // w = 2^30 a quarter turn on, w = 2^31 a half, w = 3 · 2^30 three quarters.
    let near = |(c, s): (f32, f32), (wc, ws): (f32, f32)| {
        (c - wc).abs() <= 1.2e-7 && (s - ws).abs() <= 1.2e-7
    };
    assert!(near(normal::turn(0), (1.0, 0.0)) && normal::turn(0).1 > 0.0);
    assert!(near(normal::turn(1 << 30), (0.0, 1.0)) && normal::turn(1 << 30).0 < 0.0);
    assert!(near(normal::turn(1 << 31), (-1.0, 0.0)) && normal::turn(1 << 31).1 < 0.0);
    assert!(near(normal::turn(3 << 30), (0.0, -1.0)) && normal::turn(3 << 30).0 > 0.0);
    assert!(near(normal::turn(u32::MAX), (1.0, 0.0)) && normal::turn(u32::MAX).1 < 0.0);
    // 1/8 turn: cos = sin = √2/2 (up to an ulp)
    let (c, s8) = normal::turn((1 << 29) - 1);
    let h = std::f32::consts::FRAC_1_SQRT_2;
    assert!(
        (c - h).abs() <= 1.2e-7 && (s8 - h).abs() <= 1.2e-7,
        "{c} {s8}"
    );
    // The turn is symmetric: w and -1 - w (θ and 2π - θ) give cos equal, sin opposite, exactly.
    for w in [0u32, 12345, 1 << 29, (1 << 30) + 7, 0x9e37_79b9] {
        let (a, b) = (normal::turn(w), normal::turn(u32::MAX - w));
        assert_eq!((a.0, a.1), (b.0, -b.1), "{w}");
    }
}

#[test]
fn rademacher_value_i_is_bit_i_mod_128_of_block_i_div_128() {
    let (s, _, w) = kat_stream(0);
    let next = philox([1, 0, 0, 0], [0, 0]);
    let mut fill = vec![0.0f64; 300];
    s.fill_rademacher(0, &mut fill);
    for i in 0..256u64 {
        let words = if i < 128 { w } else { next };
        let bit = (i % 128) as usize;
        let want = if (words[bit / 32] >> (bit % 32)) & 1 == 1 {
            -1.0
        } else {
            1.0
        };
        assert_eq!(s.rademacher(i), want, "{i}");
        assert_eq!(fill[i as usize], want, "{i}");
    }
    // value 0 is the lowest bit of word 0 (0x...d5: set), value 1 the next (clear)
    assert_eq!((s.rademacher(0), s.rademacher(1)), (-1.0, 1.0));
    // and the highest bit of word 3 (0x9b...: set)
    assert_eq!(s.rademacher(127), -1.0);
    // about half of each sign
    let minus = fill.iter().filter(|&&v| v == -1.0).count();
    assert!((100..200).contains(&minus), "{minus}");
}

#[test]
fn derived_seeds_are_the_first_two_words_of_the_last_block_under_the_offset_seed() {
    for (seed, k) in [
        (0u64, 0u64),
        (0xffff_ffff_ffff_ffff, 1),
        (0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210),
    ] {
        let mixed = seed ^ 0x5EED_0F5E_ED0F_5EED;
        let w = philox(
            [u32::MAX, u32::MAX, k as u32, (k >> 32) as u32],
            [mixed as u32, (mixed >> 32) as u32],
        );
        assert_eq!(derive_seed(seed, k), join(w[0], w[1]), "{seed:x} {k:x}");
    }
}

#[test]
fn uniform_vec_is_the_affine_image_of_stream_zero() {
    let v = uniform_vec(5, 11, -2.0, 5.0);
    let s = Stream::new(11, 0);
    for (i, x) in v.iter().enumerate() {
        assert_eq!(*x, -2.0 + 7.0 * s.uniform(i as u64));
    }
}
