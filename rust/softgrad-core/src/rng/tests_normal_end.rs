//! The normal stream at the end of the index range: value `i` is value `i mod 4` of block
//! `i / 4` for the last indices too (`normal.rs` reads only the low two bits of `i mod 4`), and a
//! fill that ends there gives the same bits.

use super::normal::pair;
use super::*;

#[test]
fn the_last_normal_values_are_the_last_blocks_words_in_pairs() {
    let s = Stream::new(0x0123_4567_89ab_cdef, 3);
    for i in (u64::MAX - 11)..=u64::MAX {
        let w = s.block(i / 4);
        let (c0, s0) = pair(w[0], w[1]);
        let (c1, s1) = pair(w[2], w[3]);
        let want = [c0, s0, c1, s1][(i % 4) as usize];
        assert_eq!(s.normal32(i).to_bits(), want.to_bits(), "{i}");
    }
    // the stream's last block is 2^62 - 1
    assert_eq!(u64::MAX / 4, (1 << 62) - 1);
    let mut fill = [0.0f32; 11];
    s.fill_normal(u64::MAX - 11, &mut fill);
    for (k, v) in fill.iter().enumerate() {
        let i = u64::MAX - 11 + k as u64;
        assert_eq!(v.to_bits(), s.normal32(i).to_bits(), "{i}");
    }
}

#[test]
fn fills_that_end_at_the_last_index_do_not_overflow() {
    let s = Stream::new(7, 1);
    let mut n32 = [0.0f32; 12];
    s.fill_normal(u64::MAX - 11, &mut n32);
    for (k, v) in n32.iter().enumerate() {
        assert_eq!(
            v.to_bits(),
            s.normal32(u64::MAX - 11 + k as u64).to_bits(),
            "{k}"
        );
    }
    let mut r = [0.0f64; 5];
    s.fill_rademacher(u64::MAX - 4, &mut r);
    assert!(r.iter().all(|v| v.abs() == 1.0));
    let mut u = [0.0f64; 3];
    s.fill_uniform(u64::MAX - 2, &mut u);
    assert!(u.iter().all(|v| (0.0..1.0).contains(v)));
}
