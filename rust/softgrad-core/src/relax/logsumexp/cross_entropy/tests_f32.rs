//! float32 logits: narrow rows run in f32 lanes (`simd::rows::softmax_lse32`), with and without the
//! gradient; the value-only call must give the bits of the call with a gradient, for every option,
//! special rows, sizes past a piece and a 16-row block, and any thread count.

use super::*;
use crate::relax::testutil::uniform;

/// `rows × k` f32 logits with special rows (NaN, `+inf`, all `-inf`, one `-inf`, a far outlier).
fn logits(rows: usize, k: usize, seed: u64) -> Vec<f32> {
    let mut x: Vec<f32> = uniform(rows * k, seed, -6.0, 6.0)
        .into_iter()
        .map(|v| v as f32)
        .collect();
    for r in 0..rows {
        let row = &mut x[r * k..(r + 1) * k];
        let j = r % k;
        match r % 29 {
            3 => row[j] = f32::NAN,
            5 => row[j] = f32::INFINITY,
            7 => row.fill(f32::NEG_INFINITY),
            9 => row[j] = f32::NEG_INFINITY,
            11 => row[j] = -400.0,
            _ => {}
        }
    }
    x
}

struct Got {
    total: f64,
    losses: Vec<f64>,
}

/// The total and the losses, with or without the gradient (and dots).
fn call(
    x: &[f32],
    targets: Targets<'_, f32>,
    w: Option<&[f32]>,
    l: Layout,
    o: Options,
    grad: bool,
    par: Par,
) -> Got {
    let mut losses = vec![0.0; l.outputs()];
    let (mut dots, mut g) = (vec![0.0; l.outputs()], vec![0.0f32; x.len()]);
    let out = if grad {
        Outputs {
            losses: Some(&mut losses),
            dots: Some(&mut dots),
            grad: Some(&mut g),
        }
    } else {
        Outputs {
            losses: Some(&mut losses),
            ..Outputs::none()
        }
    };
    let total = softmax_cross_entropy(x, targets, w, l, o, out, par).unwrap();
    Got { total, losses }
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn the_value_only_call_gives_the_bits_of_the_call_with_a_gradient() {
    // 409 rows of 10 make a piece: 1000 rows cross pieces and 16-row blocks.
    for (rows, k) in [(1000, 10), (300, 7), (37, 64), (50, 1)] {
        let l = Layout::new(rows, k, 1);
        let x = logits(rows, k, (rows + k) as u64);
        let cls: Vec<i64> = uniform(rows, 2, 0.0, k as f64)
            .iter()
            .map(|v| (*v as i64).min(k as i64 - 1))
            .collect();
        let q: Vec<f32> = uniform(x.len(), 3, 0.0, 1.0)
            .iter()
            .map(|&v| v as f32)
            .collect();
        let w: Vec<f32> = uniform(rows, 4, 0.0, 2.0)
            .iter()
            .map(|&v| v as f32)
            .collect();
        for targets in [Targets::Classes(&cls), Targets::Probs(&q)] {
            // t = 1 and not (the f32 lanes' two exponent forms); 1e-30: the f64 lanes' fallback.
            for (t, eps, wv) in [
                (1.0, 0.0, None),
                (0.7, 0.0, Some(&w[..])),
                (0.7, 0.1, Some(&w[..])),
                (2.5, 1.0, None),
                (1e-30, 0.0, None),
            ] {
                let o = Options {
                    temperature: t,
                    label_smoothing: eps,
                    grad_scale: 0.5,
                };
                let full = call(&x, targets, wv, l, o, true, Par::Seq);
                let ctx = format!("{l:?} t={t} eps={eps}");
                assert!(full.losses.iter().any(|v| v.is_finite()), "{ctx}");
                for par in [Par::Seq, Par::Rayon(2), Par::Rayon(3)] {
                    for grad in [false, true] {
                        let got = call(&x, targets, wv, l, o, grad, par);
                        assert_eq!(
                            got.total.to_bits(),
                            full.total.to_bits(),
                            "{ctx} {par:?} {grad}"
                        );
                        assert_eq!(bits(&got.losses), bits(&full.losses), "{ctx} {par:?}");
                    }
                }
            }
        }
    }
}

#[test]
fn f32_lanes_match_the_f64_call_within_f32_accuracy() {
    // Smoothing, probabilities, weights and a temperature: losses, dots and the gradient against
    // the f64 call on the same (widened) logits.
    let (rows, k) = (500, 12);
    let l = Layout::new(rows, k, 1);
    let x32: Vec<f32> = uniform(rows * k, 5, -8.0, 8.0)
        .iter()
        .map(|&v| v as f32)
        .collect();
    let x64: Vec<f64> = x32.iter().map(|&v| v as f64).collect();
    let q32: Vec<f32> = uniform(x32.len(), 6, 0.0, 1.0)
        .iter()
        .map(|&v| v as f32)
        .collect();
    let q64: Vec<f64> = q32.iter().map(|&v| v as f64).collect();
    let o = Options {
        temperature: 0.8,
        label_smoothing: 0.1,
        grad_scale: 1.0,
    };
    let run32 = || {
        let (mut ls, mut ds, mut g) = (vec![0.0; rows], vec![0.0; rows], vec![0.0f32; x32.len()]);
        let out = Outputs {
            losses: Some(&mut ls),
            dots: Some(&mut ds),
            grad: Some(&mut g),
        };
        let t = softmax_cross_entropy(&x32, Targets::Probs(&q32), None, l, o, out, Par::Seq);
        (t.unwrap(), ls, ds, g)
    };
    let (mut ls, mut ds, mut g) = (vec![0.0; rows], vec![0.0; rows], vec![0.0; x64.len()]);
    let out = Outputs {
        losses: Some(&mut ls),
        dots: Some(&mut ds),
        grad: Some(&mut g),
    };
    let t64 = softmax_cross_entropy(&x64, Targets::Probs(&q64), None, l, o, out, Par::Seq).unwrap();
    let (t32, ls32, ds32, g32) = run32();
    assert!((t32 - t64).abs() <= 1e-7 * t64.abs(), "{t32} {t64}");
    for r in 0..rows {
        // The losses' scale: Σ y |x - L| / t.
        assert!(
            (ls32[r] - ls[r]).abs() <= 1e-6 * (1.0 + ls[r].abs()),
            "{r}: {} {}",
            ls32[r],
            ls[r]
        );
        assert!(
            (ds32[r] - ds[r]).abs() <= 1e-5 * (1.0 + ds[r].abs()),
            "{r}: {} {}",
            ds32[r],
            ds[r]
        );
    }
    for (a, b) in g32.iter().zip(&g) {
        assert!((*a as f64 - b).abs() <= 1e-6 * (1.0 + b.abs()), "{a} {b}");
    }
}
