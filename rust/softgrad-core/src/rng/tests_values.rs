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

#[test]
fn normal_values_are_box_muller_of_the_two_uniforms_of_a_block() {
    let (s, b, w) = kat_stream(0);
    assert_eq!(b, 0);
    let (u0, u1) = (unit_ref(w[0], w[1]), unit_ref(w[2], w[3]));
    let r = (-2.0 * (1.0 - u0).ln()).sqrt();
    let t = 2.0 * std::f64::consts::PI * u1;
    let want = [r * t.cos(), r * t.sin()];
    let mut fill = [0.0f64; 2];
    s.fill_normal(0, &mut fill);
    for i in 0..2 {
        let got = s.normal(i as u64);
        assert!(
            (got - want[i]).abs() <= 1e-14 * want[i].abs(),
            "{i}: {got} vs {}",
            want[i]
        );
        assert_eq!(fill[i].to_bits(), got.to_bits());
    }
    // the radius branch: u0 = 0 gives r = 0, the largest u0 gives the largest radius
    // (box_muller takes ln(1 - u1) and u2)
    assert_eq!(box_muller(0.0, 0.0), (0.0, 0.0));
    let (c, z) = box_muller(2f64.powi(-53).ln(), 0.0);
    let rmax = (-2.0 * 2f64.powi(-53).ln()).sqrt();
    assert!((c - rmax).abs() < 1e-12 && z == 0.0, "{c} {z} {rmax}");
    // a quarter turn: u1 = 1/4
    let (c, z) = box_muller(0.5f64.ln(), 0.25);
    let r = (2.0 * 2f64.ln()).sqrt();
    assert!(c.abs() < 1e-15 && (z - r).abs() < 1e-15, "{c} {z} {r}");
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
