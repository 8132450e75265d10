//! Closed-form values and gradients of small soft-DTW pairs, pinned where the tests in `tests.rs`
//! (against the plain DP, by central differences with a unit cotangent, batch against one by
//! one) cannot see a change: the scaling by the cotangent, the alignments of each pair of a wide
//! block, a NaN in `y` alone.

use super::*;

/// Forward (with the residual) and pullback of a batch: values, `∂/∂x`, `∂/∂y`, alignments.
fn run(
    x: &[f64],
    y: &[f64],
    b: &Batch<'_>,
    gamma: f64,
    g: &[f64],
) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut res = vec![0.0; residual_len(b).unwrap()];
    let mut out = vec![0.0; b.pairs()];
    forward(x, y, b, gamma, &mut out, Some(&mut res), Par::Seq).unwrap();
    let (mut gx, mut gy) = (vec![0.0; x.len()], vec![0.0; y.len()]);
    let mut al = vec![0.0; alignment_len(b).unwrap()];
    vjp(
        x,
        y,
        b,
        gamma,
        &res,
        g,
        &mut gx,
        &mut gy,
        Some(&mut al),
        Par::Seq,
    )
    .unwrap();
    (out, gx, gy, al)
}

fn close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        assert!(
            (a - b).abs() <= tol * (1.0 + b.abs()),
            "{what} {i}: {a} vs {b}"
        );
    }
}

/// A 2 × 2 pair in one feature: `R = C₁₁ + C₂₂ − γ ln(1 + e^{−C₁₂/γ} + e^{−C₂₁/γ})`, and the
/// alignment is `[[1, p₁₂], [p₂₁, 1]]` with `p = e^{−C/γ} / (1 + e^{−C₁₂/γ} + e^{−C₂₁/γ})`.
/// Returns the value, the alignment, `∂/∂x` and `∂/∂y` (for a unit cotangent).
fn two_by_two(x: [f64; 2], y: [f64; 2], gamma: f64) -> (f64, [f64; 4], [f64; 2], [f64; 2]) {
    let c = |i: usize, j: usize| (x[i] - y[j]).powi(2);
    let (e12, e21) = ((-c(0, 1) / gamma).exp(), (-c(1, 0) / gamma).exp());
    let s = 1.0 + e12 + e21;
    let value = c(0, 0) + c(1, 1) - gamma * s.ln();
    let e = [1.0, e12 / s, e21 / s, 1.0];
    let mut gx = [0.0; 2];
    let mut gy = [0.0; 2];
    for i in 0..2 {
        for j in 0..2 {
            let t = e[2 * i + j] * 2.0 * (x[i] - y[j]);
            gx[i] += t;
            gy[j] -= t;
        }
    }
    (value, e, gx, gy)
}

#[test]
fn a_two_by_two_pair_is_the_closed_form_and_scales_with_its_cotangent() {
    let b = Batch {
        lens: Lens::Ragged { n: &[2], m: &[2] },
        d: 1,
    };
    for (x, y, gamma) in [
        ([0.3, -1.1], [0.5, 0.9], 1.0),
        ([2.0, 0.0], [0.0, 1.5], 0.25),
        ([0.1, 0.2], [0.2, 0.1], 3.0),
    ] {
        let (v, e, wx, wy) = two_by_two(x, y, gamma);
        for g in [1.0, -2.0, 0.375] {
            let (out, gx, gy, al) = run(&x, &y, &b, gamma, &[g]);
            close(&out, &[v], 1e-14, "value");
            close(&al, &e, 1e-14, "alignment (unscaled)");
            close(&gx, &wx.map(|w| g * w), 1e-14, "dx");
            close(&gy, &wy.map(|w| g * w), 1e-14, "dy");
        }
    }
}

/// One step against `m`: every cell is reached from its left only, so the value is the sum of the
/// costs to the last bit and the alignment is all ones, whatever `γ`.
#[test]
fn one_step_against_many_is_the_sum_of_the_costs() {
    let (x, y): ([f64; 2], [f64; 10]) = (
        [0.5, -0.25],
        [1.0, 0.0, -1.0, 2.0, 0.5, 0.25, -0.5, 3.0, 0.0, 1.0],
    );
    let d = 2;
    let m = y.len() / d;
    let b = Batch {
        lens: Lens::Ragged { n: &[1], m: &[m] },
        d,
    };
    let cost = |j: usize| (0..d).map(|k| (x[k] - y[j * d + k]).powi(2)).sum::<f64>();
    let want = (0..m).fold(0.0, |acc, j| acc + cost(j));
    for gamma in [0.01, 1.0, 100.0] {
        let (out, gx, gy, al) = run(&x, &y, &b, gamma, &[3.0]);
        assert_eq!(out[0], want, "γ = {gamma}");
        close(&al, &vec![1.0; m], 0.0, "alignment");
        let wx: Vec<f64> = (0..d)
            .map(|k| (0..m).map(|j| 6.0 * (x[k] - y[j * d + k])).sum())
            .collect();
        close(&gx, &wx, 1e-14, "dx");
        let wy: Vec<f64> = (0..m * d).map(|e| 6.0 * (y[e] - x[e % d])).collect();
        close(&gy, &wy, 1e-14, "dy");
    }
}

/// A wide block (more pairs than `MIN_WIDE`, fewer than its lanes) of 2 × 2 pairs, each with its
/// own cotangent, a NaN in one `x` and one in another `y`: each pair is its closed form, the NaN
/// pairs alone are NaN.
#[test]
fn each_pair_of_a_wide_block_is_its_closed_form_and_a_nan_stays_in_its_pair() {
    let pairs = MIN_WIDE + 3;
    let gamma = 0.5;
    let mut x: Vec<f64> = (0..2 * pairs).map(|e| (e as f64 * 0.37).sin()).collect();
    let mut y: Vec<f64> = (0..2 * pairs).map(|e| (e as f64 * 0.61).cos()).collect();
    let g: Vec<f64> = (0..pairs).map(|p| p as f64 - 4.0).collect();
    let (nan_x, nan_y) = (2, 5);
    x[2 * nan_x] = f64::NAN;
    y[2 * nan_y + 1] = f64::NAN;
    for lens in [
        Lens::Uniform { pairs, n: 2, m: 2 },
        Lens::Ragged {
            n: &[2; MIN_WIDE + 3],
            m: &[2; MIN_WIDE + 3],
        },
    ] {
        let b = Batch { lens, d: 1 };
        let (out, gx, gy, al) = run(&x, &y, &b, gamma, &g);
        for p in 0..pairs {
            let (xp, yp) = ([x[2 * p], x[2 * p + 1]], [y[2 * p], y[2 * p + 1]]);
            let s = &format!("{lens:?} pair {p}");
            let (gxp, gyp) = (&gx[2 * p..2 * p + 2], &gy[2 * p..2 * p + 2]);
            if p == nan_x || p == nan_y {
                assert!(out[p].is_nan(), "{s}");
                assert!(gxp.iter().chain(gyp).all(|v| v.is_nan()), "{s}");
                continue;
            }
            let (v, e, wx, wy) = two_by_two(xp, yp, gamma);
            close(&out[p..p + 1], &[v], 1e-14, s);
            close(&al[4 * p..4 * p + 4], &e, 1e-14, s);
            close(gxp, &wx.map(|w| g[p] * w), 1e-14, s);
            close(gyp, &wy.map(|w| g[p] * w), 1e-14, s);
        }
    }
}

/// An empty `x` against a non-empty `y`: no path, so the value is `+∞` and the gradients are 0.
#[test]
fn an_empty_series_has_an_infinite_value_and_zero_gradients() {
    let b = Batch {
        lens: Lens::Ragged { n: &[0], m: &[2] },
        d: 1,
    };
    let (out, gx, gy, al) = run(&[], &[1.0, 2.0], &b, 1.0, &[2.0]);
    assert_eq!(out, [f64::INFINITY]);
    assert!(gx.is_empty() && al.is_empty());
    assert_eq!(gy, [0.0, 0.0]);
}
