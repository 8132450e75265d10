//! Richardson extrapolation over a sequence of steps, with Ridders' error estimate.

/// The most levels a tableau may have.
pub const MAX_LEVELS: usize = 16;

/// Extrapolates `d[l]`, estimates of a limit from steps `h0 / ratio^l`, whose errors are
/// `Σ_c a_c h^(p0 + c·dp)`, to step zero: the entry of the Neville tableau with the smallest error
/// estimate, and that estimate.
///
/// Column `c` removes the term `h^(p0 + (c-1)·dp)`: `T[l][c] = T[l][c-1] + (T[l][c-1] − T[l-1][c-1]) /
/// (ratio^(p0+(c-1)dp) − 1)`. The error of an entry is estimated as in C. J. F. Ridders, "Accurate
/// computation of F'(x) and F'(x)F''(x)", *Adv. Eng. Software* 4 (1982) 75–76 (Numerical Recipes'
/// `dfridr`): the larger of its distances to its two parents, never below `floor[l]` (the rounding
/// error of the level's own estimate, amplified by the extrapolation).
///
/// # Panics
/// If `d` is empty, longer than [`MAX_LEVELS`] or `floor` has another length.
pub fn extrapolate(d: &[f64], ratio: f64, p0: f64, dp: f64, floor: &[f64]) -> (f64, f64) {
    let levels = d.len();
    assert!((1..=MAX_LEVELS).contains(&levels) && floor.len() == levels);
    let mut prev = [0.0; MAX_LEVELS];
    let mut cur = [0.0; MAX_LEVELS];
    let (mut best, mut err) = (d[0], f64::INFINITY);
    for l in 0..levels {
        cur[0] = d[l];
        // The rounding error of column c grows with the extrapolation's amplification
        // Π (f + 1)/(f − 1) over its factors f.
        let mut amp = 1.0;
        for c in 1..=l {
            let f = ratio.powf(p0 + (c - 1) as f64 * dp);
            cur[c] = cur[c - 1] + (cur[c - 1] - prev[c - 1]) / (f - 1.0);
            amp *= (f + 1.0) / (f - 1.0);
            let e = (cur[c] - cur[c - 1])
                .abs()
                .max((cur[c] - prev[c - 1]).abs())
                .max(floor[l] * amp);
            if e <= err {
                (best, err) = (cur[c], e);
            }
        }
        if l == 0 && levels == 1 {
            (best, err) = (d[0], floor[0]);
        }
        prev[..=l].copy_from_slice(&cur[..=l]);
    }
    (best, err)
}
