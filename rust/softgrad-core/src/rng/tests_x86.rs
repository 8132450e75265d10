//! The vector normal kernels (`normal_x86.rs`) against the definition, one value at a time.

use super::*;

#[test]
fn vector_normals_equal_the_definition_across_the_counter_high_word() {
    let levels = [Level::Scalar, Level::Avx2, Level::Avx512];
    for (seed, stream) in [
        (0u64, 0u64),
        (u64::MAX, u64::MAX),
        (0x0123_4567_89ab_cdef, 42),
    ] {
        let s = Stream::new(seed, stream);
        // From 259 values before block 2^32 (where the counter's high word changes) to past it,
        // starting off a group boundary and ending off one: head, groups and tail.
        let start = 4 * (1u64 << 32) - 1024 - 3;
        let n = 2048 + 7;
        for level in levels.into_iter().filter(|&l| l <= simd::level()) {
            let (mut a, mut b) = (vec![0.0f32; n], vec![0.0f64; n]);
            s.fill_normal_at(level, start, &mut a);
            s.fill_normal_at(level, start, &mut b);
            for k in 0..n {
                let want = s.normal32(start + k as u64);
                assert_eq!(a[k].to_bits(), want.to_bits(), "{level:?} {k}");
                assert_eq!(b[k].to_bits(), f64::from(want).to_bits(), "{level:?} {k}");
            }
        }
    }
}

#[test]
fn round_keys_are_the_key_bumped_by_the_weyl_constants() {
    let s = Stream::new(0xffff_fff0_ffff_fff0, 0);
    let k = s.round_keys();
    assert_eq!(k[0], [0xffff_fff0, 0xffff_fff0]);
    assert_eq!(k[9][0], 0xffff_fff0u32.wrapping_add(9u32.wrapping_mul(W0)));
    assert_eq!(k[9][1], 0xffff_fff0u32.wrapping_add(9u32.wrapping_mul(W1)));
}
