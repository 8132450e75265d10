//! Deterministic test data (from the core's counter-based generator, [`crate::rng`]).

/// `n` uniforms in `[lo, hi)`: the core's counter-based generator ([`crate::rng`]).
pub(crate) fn uniform(n: usize, seed: u64, lo: f64, hi: f64) -> Vec<f64> {
    crate::rng::uniform_vec(n, seed, lo, hi)
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
