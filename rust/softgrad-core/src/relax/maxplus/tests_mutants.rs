//! Tests for `cargo mutants` survivors in `gemv.rs`: matrix-vector products (`n = 1`, contiguous
//! rows of `A`) long enough for the four-accumulator vector loop (`k ≥ 4 · LANES` at every level,
//! up to 16 f32 lanes), with `k` at, just under and past its multiples, and past one 64-row task,
//! against the triple loop.

use super::tests::{check, contiguous, floats};
use super::*;

#[test]
fn a_matvec_takes_the_vector_loop_at_every_level() {
    // 70 rows of 130: tasks of 64 rows (8192 / 130 rounded up to 64), so one starts at row 64.
    for &(m, k) in &[(3, 63), (3, 64), (2, 65), (2, 128), (3, 300), (70, 130)] {
        let s = Shape {
            batch: 1,
            m,
            k,
            n: 1,
        };
        for sr in [Semiring::MaxPlus, Semiring::MinPlus] {
            let a = floats(m * k, 11, |v| v);
            let x = floats(k, 12, |v| v);
            check(sr, contiguous(&a, &[0], k), contiguous(&x, &[0], 1), s);
            let a32 = floats(m * k, 13, |v| v as f32);
            let x32 = floats(k, 14, |v| v as f32);
            check(sr, contiguous(&a32, &[0], k), contiguous(&x32, &[0], 1), s);
        }
    }
}
