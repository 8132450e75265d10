//! The noise level of a function from its values on a line: Moré and Wild's ECnoise.

/// What [`ecnoise`] found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Noise {
    /// The standard deviation of the noise of `f`'s values.
    Level(f64),
    /// The values hardly differ (half of the first differences are zero): take a larger spacing.
    SpacingTooSmall,
    /// The values vary too much, or no level is consistent: take a smaller spacing.
    SpacingTooLarge,
}

/// The noise of `f` from `values[i] = f(x + i h p)` at equally spaced points on a line (at least 4;
/// Moré and Wild use 9); `values` is overwritten (it becomes the difference table).
///
/// The `k`-th differences of a smooth function at a small spacing vanish like `h^k`, those of
/// noise of standard deviation `σ` have mean square `σ² (2k)! / (k!)²`: the level
/// `σ_k = sqrt(γ_k mean(Δ^k f)²)`, `γ_k = (k!)²/(2k)!`, is the noise estimate once three
/// consecutive levels agree within a factor 4 and the differences change sign (J. J. Moré and
/// S. M. Wild, "Estimating computational noise", *SIAM J. Sci. Comput.* 33 (2011) 1292–1314,
/// their `ECnoise`).
pub fn ecnoise(values: &mut [f64]) -> Noise {
    let nf = values.len();
    if nf < 4 {
        return Noise::SpacingTooLarge;
    }
    let (fmin, fmax) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    if (fmax - fmin) > 0.1 * fmax.abs().max(fmin.abs()) {
        return Noise::SpacingTooLarge;
    }
    let mut level = vec![0.0; nf - 1];
    let mut sign_change = vec![false; nf - 1];
    let mut gamma = 1.0;
    for j in 1..nf {
        for i in 0..nf - j {
            values[i] = values[i + 1] - values[i];
        }
        let d = &values[..nf - j];
        if j == 1 && 2 * d.iter().filter(|v| **v == 0.0).count() >= nf {
            return Noise::SpacingTooSmall;
        }
        gamma *= 0.5 * (j as f64 / (2 * j - 1) as f64);
        level[j - 1] = (gamma * d.iter().map(|v| v * v).sum::<f64>() / d.len() as f64).sqrt();
        let (emin, emax) = d
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        sign_change[j - 1] = emin * emax < 0.0;
    }
    for k in 0..nf - 3 {
        let l = &level[k..k + 3];
        let (lmin, lmax) = (
            l.iter().copied().fold(f64::INFINITY, f64::min),
            l.iter().copied().fold(0.0, f64::max),
        );
        if lmax <= 4.0 * lmin && sign_change[k] {
            return Noise::Level(level[k]);
        }
    }
    Noise::SpacingTooLarge
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic stand-in for noise of standard deviation about `s` (uniform on ±s√3).
    fn noise(i: usize, s: f64) -> f64 {
        let mut z = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        ((z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) * s * 3f64.sqrt()
    }

    #[test]
    fn finds_the_noise_of_a_smooth_function_plus_noise() {
        for s in [1e-3, 1e-6, 1e-9] {
            let mut v: Vec<f64> = (0..9)
                .map(|i| {
                    let t = 1.0 + (i as f64 - 4.0) * 1e-4;
                    t.exp() + noise(i + (s * 1e12) as usize, s)
                })
                .collect();
            match ecnoise(&mut v) {
                Noise::Level(l) => assert!(l > s / 4.0 && l < 4.0 * s, "{s}: {l}"),
                other => panic!("{s}: {other:?}"),
            }
        }
    }

    #[test]
    fn reports_a_spacing_too_small_or_too_large() {
        let mut flat = [1.0; 9];
        assert_eq!(ecnoise(&mut flat), Noise::SpacingTooSmall);
        let mut steep: Vec<f64> = (0..9).map(|i| (i as f64).exp()).collect();
        assert_eq!(ecnoise(&mut steep), Noise::SpacingTooLarge);
        // Smooth: what is left is the rounding of its values.
        let mut smooth: Vec<f64> = (0..9).map(|i| (1.0 + 1e-4 * i as f64).sin()).collect();
        if let Noise::Level(l) = ecnoise(&mut smooth) {
            assert!(l < 1e-15, "{l}");
        }
    }
}
