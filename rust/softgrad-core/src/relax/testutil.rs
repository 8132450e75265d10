//! Deterministic test data (no RNG crate needed in the core).

/// SplitMix64 stream of uniforms in `[lo, hi)`.
pub(crate) fn uniform(n: usize, seed: u64, lo: f64, hi: f64) -> Vec<f64> {
    let mut z = seed;
    (0..n)
        .map(|_| {
            z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut v = z;
            v = (v ^ (v >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            v = (v ^ (v >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            v ^= v >> 31;
            lo + (hi - lo) * ((v >> 11) as f64 / (1u64 << 53) as f64)
        })
        .collect()
}

/// `ln Σ b e^{x/t}` computed the long way in f64 over a strided lane (no shift: keep |x/t| small).
pub(crate) fn direct(
    x: &[f64],
    b: Option<&[f64]>,
    start: usize,
    stride: usize,
    n: usize,
    t: f64,
) -> f64 {
    let s: f64 = (0..n)
        .map(|i| start + i * stride)
        .map(|k| b.map_or(1.0, |b| b[k]) * (x[k] / t).exp())
        .sum();
    t * s.ln()
}
