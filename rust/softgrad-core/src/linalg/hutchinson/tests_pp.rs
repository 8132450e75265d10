//! Hutch++ against closed forms: a sketch that is rank-deficient (the dropped images and the
//! products spent), and a 2 × 2 operator whose deflated remainder is a known rank-one form, so the
//! remainder's samples, their mean and their standard error are known from the probes' signs.

use super::*;
use crate::linalg::lanczos::tests::{with_spectrum, Dense};

fn pp(n_samples: usize, seed: u64) -> Options {
    Options {
        n_samples,
        seed,
        distribution: Distribution::Rademacher,
        batch: 1,
        trace: true,
        diagonal: false,
        hutchpp: true,
    }
}

#[test]
fn a_rank_deficient_sketch_drops_the_images_in_the_span_of_the_earlier_ones() {
    // rank 2 in a rotated basis (no zero in the images, so the residues of images 3 and 4 after
    // Gram-Schmidt are rounding-sized, ~1e-10 against norms ~1e6, and not exactly 0); the large
    // scale separates `1e-12 * before` from `1e-12 / before` and `1e-12 + before`.
    let mut eig = vec![0.0; 8];
    eig[..2].copy_from_slice(&[1.0e6, 3.0e5]);
    let a = with_spectrum(&eig);
    for seed in [1, 2, 3] {
        let e = hutchinson(&Each(&a), &pp(12, seed), Par::Seq).unwrap();
        // s = 4 sketch products, rank 2 kept (2 products for tr(QᵀAQ)), g = 12 - 8 = 4.
        assert_eq!(e.matvecs, 4 + 2 + 4, "seed {seed}");
        // Q spans the range of A: tr(QᵀAQ) is the trace, the remainder is rounding.
        assert!((e.trace - 1.3e6).abs() < 1e-6, "seed {seed}: {}", e.trace);
        assert!(e.trace_se < 1e-6, "seed {seed}: {}", e.trace_se);
    }
    // the zero operator: every image is 0, none is kept (0 > 1e-12 · 0 is false), trace 0.
    let z = Dense {
        n: 5,
        a: vec![0.0; 25],
    };
    let e = hutchinson(&Each(&z), &pp(9, 4), Par::Seq).unwrap();
    assert_eq!((e.matvecs, e.trace, e.trace_se), (3 + 3, 0.0, 0.0));
}

#[test]
fn a_two_by_two_remainder_has_the_closed_form_mean_and_standard_error() {
    // A = diag(1, 2), one sketch probe (a, b) (signs): q = (a, 2b)/√5, tr(qᵀAq) = 9/5. The
    // remainder (I − qqᵀ) A (I − qqᵀ) = (pᵀAp) p pᵀ with p = (2b, −a)/√5, pᵀAp = 6/5, so probe z
    // gives t = 6/5 (pᵀz)² = 6/25 (2b z₁ − a z₂)², which is 54/25 or 6/25.
    let a = Dense {
        n: 2,
        a: vec![1.0, 0.0, 0.0, 2.0],
    };
    let mut spread = 0;
    for seed in 0..6 {
        for m in 3..=5 {
            let e = hutchinson(&Each(&a), &pp(m, seed), Par::Seq).unwrap();
            let mut sk = [0.0; 2];
            probe(seed, 1, 0, Distribution::Rademacher, 0, &mut sk);
            let g = m - 2;
            let t: Vec<f64> = (0..g)
                .map(|j| {
                    let mut z = [0.0; 2];
                    probe(seed, 2, j as u64, Distribution::Rademacher, 0, &mut z);
                    let d = 2.0 * sk[1] * z[0] - sk[0] * z[1];
                    6.0 / 25.0 * d * d
                })
                .collect();
            let mean = t.iter().sum::<f64>() / g as f64;
            let want = 9.0 / 5.0 + mean;
            let what = format!("seed {seed}, m {m}");
            assert_eq!(e.matvecs, m, "{what}");
            assert!(
                (e.trace - want).abs() <= 1e-14,
                "{what}: {} vs {want}",
                e.trace
            );
            if g < 2 {
                assert!(e.trace_se.is_nan(), "{what}: {}", e.trace_se);
                continue;
            }
            let ss: f64 = t.iter().map(|v| (v - mean) * (v - mean)).sum();
            let se = (ss / (g - 1) as f64 / g as f64).sqrt();
            assert!(
                (e.trace_se - se).abs() <= 1e-14,
                "{what}: {} vs {se}",
                e.trace_se
            );
            spread += usize::from(se > 0.1);
        }
    }
    // some of these draws mix the two values, so their standard error is not 0
    assert!(spread > 0);
}
