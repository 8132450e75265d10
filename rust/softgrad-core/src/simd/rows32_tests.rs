//! The `f32`-lane narrow-row kernels against an `f64` reference (accuracy), against themselves at
//! every level (bits), the cut of [`exp_at`] against the uncut exponential (bits), special rows
//! handed to `slow`, and the values of [`weights`] and [`softmax_lse`] against that of [`logsumexp`]
//! (bits).

use super::*;
use crate::relax::testutil::uniform;
use crate::simd::available;

/// `rows × n` f32 values of spread `spread`, with special rows: NaN, `+inf`, all `-inf`, a `-inf`
/// entry, a tie at the maximum, a far outlier (an exponent below the cut).
fn data(rows: usize, n: usize, seed: u64, spread: f64) -> Vec<f32> {
    let mut x: Vec<f32> = uniform(rows * n, seed, -spread, spread)
        .into_iter()
        .map(|v| v as f32)
        .collect();
    for r in 0..rows {
        let row = &mut x[r * n..(r + 1) * n];
        let p = r % n;
        match r % 13 {
            3 => row[p] = f32::NAN,
            5 => row[p] = f32::INFINITY,
            7 => row.fill(f32::NEG_INFINITY),
            9 => row[p] = f32::NEG_INFINITY,
            10 if n > 1 => {
                let m = row[0].max(row[1]);
                row[..2].fill(m);
            }
            11 => row[p] = -300.0,
            _ => {}
        }
    }
    x
}

/// Whether row `r` of [`data`] (`n` wide) is of the common kind.
fn common(r: usize, n: usize) -> bool {
    !(matches!(r % 13, 3 | 5 | 7) || (n == 1 && r % 13 == 9))
}

/// `(value, m, s, sw)` of a row in f64 from the f32 data: the reference.
fn reference(row: &[f32], t: f64) -> (f64, Vec<f64>, f64) {
    let x: Vec<f64> = row.iter().map(|&v| v as f64).collect();
    let m = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = x.iter().map(|&v| ((v - m) / t).exp()).collect();
    let s: f64 = e.iter().sum();
    let value = m + t * s.ln();
    let p: Vec<f64> = e.iter().map(|e| e / s).collect();
    let h = (value
        - x.iter()
            .zip(&p)
            .map(|(x, p)| if *p == 0.0 { 0.0 } else { x * p })
            .sum::<f64>())
        / t;
    (value, p, h)
}

type Outs = (Vec<f32>, Vec<f32>, Vec<f64>, Vec<f32>, Vec<f64>);

/// `(out, sign, lse)` of [`logsumexp`] and `(p, h)` of [`weights`], whose value must have the
/// same bits; slow rows get marker values.
fn run(level: Level, x: &[f32], n: usize, t: f64) -> Outs {
    let rows = x.len() / n;
    let (mut o, mut s, mut l) = (vec![0.0f32; rows], vec![0.0f32; rows], vec![0.0; rows]);
    let slow = |r: usize, _: f64, _: f64, _: f64| (-7.0 - r as f64, 9.0);
    logsumexp(level, x, n, t, &mut o, Some(&mut s), Some(&mut l), slow);
    let (mut o2, mut p, mut h) = (vec![0.0f32; rows], vec![0.0f32; x.len()], vec![0.0; rows]);
    let slow = |r: usize, _: f64, _: f64, _: f64, pr: &mut [f32]| {
        pr.fill(-2.0);
        (-7.0 - r as f64, 9.0, 3.0)
    };
    weights(level, x, n, t, &mut o2, None, &mut p, &mut h, slow);
    let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(
        bits(&o),
        bits(&o2),
        "{level:?}: the values of logsumexp and weights"
    );
    // The softmax's residual, with and without the softmax: logsumexp's lse and weights' p.
    let (mut l2, mut l3, mut p2) = (vec![0.0; rows], vec![0.0; rows], vec![0.0f32; x.len()]);
    let slow = |r: usize, pr: Option<&mut [f32]>| {
        if let Some(pr) = pr {
            pr.fill(-2.0);
        }
        -7.0 - r as f64
    };
    softmax_lse(level, x, n, t, Some(&mut p2), &mut l2, slow);
    softmax_lse(level, x, n, t, None, &mut l3, slow);
    let bits64 = |v: &[f64]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits64(&l2), bits64(&l), "{level:?}: softmax_lse with p");
    assert_eq!(bits64(&l3), bits64(&l), "{level:?}: softmax_lse without p");
    assert_eq!(bits(&p2), bits(&p), "{level:?}: softmax_lse's p");
    (o, s, l, p, h)
}

const WIDTHS: [usize; 9] = [1, 2, 3, 7, 10, 16, 17, 50, 64];
const ROWS: [usize; 6] = [1, 2, 15, 16, 17, 40];

#[test]
fn rows_are_accurate_and_special_rows_go_to_slow() {
    for n in WIDTHS {
        for rows in ROWS {
            for (t, spread) in [(1.0, 5.0), (0.7, 30.0), (3.0, 2.0)] {
                let x = data(rows, n, (n * 100 + rows) as u64, spread);
                let (o, s, l, p, h) = run(Level::Scalar, &x, n, t);
                for r in 0..rows {
                    let ctx = format!("n={n} rows={rows} t={t} row {r}");
                    let row = &x[r * n..(r + 1) * n];
                    if !common(r, n) {
                        assert_eq!(
                            (o[r], s[r], l[r]),
                            (-7.0 - r as f32, 9.0, -7.0 - r as f64),
                            "{ctx}"
                        );
                        assert!(p[r * n..(r + 1) * n].iter().all(|&v| v == -2.0), "{ctx}");
                        assert_eq!(h[r], 3.0, "{ctx}");
                        continue;
                    }
                    let (value, pw, hw) = reference(row, t);
                    assert_eq!(s[r], 1.0, "{ctx}");
                    // Each f32 exponential within about an ulp, summed in f64: the value within
                    // an f32 ulp of `t ln S` and of `m` (as the wide f32 kernels).
                    let tol = 2.0 * f32::EPSILON as f64 * (value.abs() + t);
                    assert!(
                        (o[r] as f64 - value).abs() <= tol,
                        "{ctx}: value {} vs {value}",
                        o[r]
                    );
                    assert!(
                        (l[r] - value).abs() <= tol,
                        "{ctx}: lse {} vs {value}",
                        l[r]
                    );
                    assert!(
                        (h[r] - hw).abs() <= 1e-6 * (1.0 + hw.abs()),
                        "{ctx}: h {} vs {hw}",
                        h[r]
                    );
                    for (i, (&g, &w)) in p[r * n..(r + 1) * n].iter().zip(&pw).enumerate() {
                        let tol = 2.5 * f32::EPSILON as f64 * w + 1e-44;
                        assert!((g as f64 - w).abs() <= tol, "{ctx}: p[{i}] {g:e} vs {w:e}");
                    }
                }
            }
        }
    }
}

#[test]
fn every_level_gives_the_scalar_level_bits() {
    let (rows, n) = (53, 10);
    let x = data(rows, n, 7, 6.0);
    for t in [1.0, 0.6] {
        let want = run(Level::Scalar, &x, n, t);
        for level in available() {
            let got = run(level, &x, n, t);
            // The f32 exponentials, sums and weights are the same bits at every level; the
            // value's f64 `log` may differ in the last bit (fused or not).
            assert_eq!(
                got.3.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                want.3.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                "{level:?} t={t}: p"
            );
            for (g, w) in got.2.iter().zip(&want.2).chain(got.4.iter().zip(&want.4)) {
                assert!(
                    (g - w).abs() <= 1e-14 * (1.0 + w.abs()),
                    "{level:?} t={t}: {g} vs {w}"
                );
            }
            for (g, w) in got.0.iter().zip(&want.0) {
                let (g, w) = (*g as f64, *w as f64);
                assert!(
                    (g - w).abs() <= f32::EPSILON as f64 * w.abs(),
                    "{level:?} t={t}: {g} vs {w}"
                );
            }
        }
    }
}

/// `exp_at` with and without the cut, as bits, on every `W32`-long chunk of `x` (at `m = 0`).
struct Both<'a>(&'a [f32], f64);

impl Kernel for Both<'_> {
    type Output = Vec<(u32, u32)>;
    #[inline(always)]
    fn run<S: Isa>(self) -> Self::Output {
        let (t, t_lo) = split(self.1);
        let (m, t, t_lo) = (S::F32::splat(0.0), S::F32::splat(t), S::F32::splat(t_lo));
        let mut out = Vec::new();
        for c in self.0.chunks_exact(W32) {
            let v = S::F32::load(c);
            let (mut a, mut b) = ([0.0f32; W32], [0.0f32; W32]);
            exp_at::<S::F32, false, true>(v, m, t, t_lo).store(&mut a);
            exp_at::<S::F32, false, false>(v, m, t, t_lo).store(&mut b);
            out.extend(a.iter().zip(&b).map(|(a, b)| (a.to_bits(), b.to_bits())));
        }
        out
    }
}

#[test]
fn the_cut_gives_the_bits_of_the_uncut_exponential() {
    let mut x: Vec<f32> = (0..24_000).map(|i| -120.0 + i as f32 * 0.005).collect();
    x.extend([
        f32::NEG_INFINITY,
        f32::NAN,
        -104.0,
        -103.99,
        -104.01,
        -103.97,
        -87.3,
        0.0,
    ]);
    x.resize(x.len().next_multiple_of(W32), -1.0);
    for inv_t in [1.0, 1.0 / 0.7, 0.999_999_9] {
        for level in available() {
            for (k, (a, b)) in vectorize(level, Both(&x, inv_t)).into_iter().enumerate() {
                let same = a == b || (f32::from_bits(a).is_nan() && f32::from_bits(b).is_nan());
                assert!(
                    same,
                    "{level:?} x = {} inv_t = {inv_t}: {a:x} vs {b:x}",
                    x[k]
                );
            }
        }
    }
}

/// `ln 1` at a level, as bits.
struct LnOne;

impl Kernel for LnOne {
    type Output = [u64; W];
    #[inline(always)]
    fn run<S: Isa>(self) -> Self::Output {
        log_v(<S::F64 as F64x>::splat(1.0))
            .to_array()
            .map(f64::to_bits)
    }
}

#[test]
fn ln_one_is_plus_zero_so_a_single_maximum_may_skip_it() {
    // `value_of` leaves out `ln sw` where every `sw` is 1: the same bits only if it is +0.
    for level in available() {
        assert_eq!(vectorize(level, LnOne), [0u64; W], "{level:?}");
    }
}
