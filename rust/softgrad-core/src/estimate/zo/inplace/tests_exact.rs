//! Exact restoration: the tie-toward-zero step, the two-to-one lemma and the restore of every
//! covered coordinate (module documentation of `inplace.rs`), at every level and thread count.

use super::tests::data32;
use super::*;
use crate::par::REDUCE_PIECE;
use crate::rng::uniform_vec;

/// Whether `x0` lies where the restore is promised exact for a recorded step `d`:
/// `|x0| > |d| + 4 ulp` (module documentation).
fn covered<T: Float>(x0: T, d: f64) -> bool {
    x0.to_f64().abs() > d.abs() + 4.0 * x0.quantum()
}

#[test]
fn add_tz_breaks_ties_toward_zero() {
    fn check<T: Float>() {
        for k in [-3, 0, 1, 7] {
            let p = T::from_f64(2f64.powi(k));
            let q = p.down().quantum(); // the ulp just below p; p's is 2q
            for sign in [1.0, -1.0] {
                let x = T::from_f64(sign * (p.to_f64() - q));
                let at = |v: f64| T::from_f64(sign * v).to_f64();
                let pf = p.to_f64();
                // p - q + 2q = p + q: a tie between p and p + 2q, toward zero: p (even: p too).
                assert_eq!(x.add_tz(sign * 2.0 * q).to_f64(), at(pf));
                // p + 3q: a tie between p + 2q and p + 4q: p + 2q (ties to even: p + 4q).
                assert_eq!(x.add_tz(sign * 4.0 * q).to_f64(), at(pf + 2.0 * q));
                assert_eq!(
                    T::from_f64(x.to_f64() + sign * 4.0 * q).to_f64(),
                    at(pf + 4.0 * q)
                );
                // Not ties: nearest.
                assert_eq!(x.add_tz(sign * 1.0 * q).to_f64(), at(pf));
                assert_eq!(x.add_tz(sign * 3.0 * q).to_f64(), at(pf + 2.0 * q));
                assert_eq!(x.add_tz(sign * 3.5 * q).to_f64(), at(pf + 2.0 * q));
                assert_eq!(x.add_tz(sign * 4.25 * q).to_f64(), at(pf + 4.0 * q));
                // Exact sums stay exact; zero stays zero.
                assert_eq!(x.add_tz(-sign * q).to_f64(), at(pf - 2.0 * q));
            }
        }
        let z = T::from_f64(0.0);
        assert_eq!(z.add_tz(0.0).to_f64().to_bits(), 0);
        assert_eq!(z.add_tz(1.5).to_f64(), 1.5);
    }
    check::<f32>();
    check::<f64>();
    // Against a reference on random f32 sums (exact in f64): the nearer of the two floats around
    // the sum, the one nearer zero at a tie.
    let u = uniform_vec(20_000, 8, -1.0, 1.0);
    for w in u.chunks_exact(2) {
        let x = (w[0] * 4.0) as f32;
        let d = (w[1] * 16.0).round() * x.quantum() * 0.5;
        let s = x as f64 + d;
        let a = s as f32;
        let b = if (a as f64) < s { a.up() } else { a.down() };
        let (da, db) = ((a as f64 - s).abs(), (b as f64 - s).abs());
        let want = if da < db || (da == db && a.abs() < b.abs()) {
            a
        } else {
            b
        };
        assert_eq!(x.add_tz(d).to_bits(), want.to_bits(), "{x} {d}");
    }
}

/// Floats around `±2^k` (k in -6..3): every float within `w` of the power, both signs.
fn around_powers<T: Float>(w: usize) -> Vec<T> {
    let mut v = vec![];
    for k in -6..3 {
        let p = T::from_f64(2f64.powi(k));
        let (mut lo, mut hi) = (p, p.up());
        for _ in 0..w {
            v.extend([lo, hi, T::from_f64(-lo.to_f64()), T::from_f64(-hi.to_f64())]);
            lo = lo.down();
            hi = hi.up();
        }
    }
    v
}

#[test]
fn a_recorded_step_is_at_most_two_to_one_where_covered() {
    // The lemma of the module documentation, by brute force: around every power of two, for
    // increments from far below to near the ulp, no value is the image of three floats.
    fn check<T: Float>() {
        let xs = around_powers::<T>(40);
        let u = uniform_vec(400, 5, -1.0, 1.0);
        let mut pairs = 0;
        for &x0 in &xs {
            let q = x0.quantum();
            for (j, &r) in u.iter().enumerate() {
                let d = match j % 4 {
                    0 => r * 1e-3,
                    1 => r * 40.0 * q,
                    2 => (r * 80.0).round() * 0.5 * q, // multiples of q/2: ties
                    _ => (r * 30.0).round() * q,
                };
                if !covered(x0, d) {
                    continue;
                }
                let y = step_r(x0, d);
                let (mut lo, mut hi, mut n) = (x0, x0, 1);
                for _ in 0..8 {
                    lo = lo.down();
                    hi = hi.up();
                    n += usize::from(step_r(lo, d) == y) + usize::from(step_r(hi, d) == y);
                }
                assert!(n <= 2, "x0 = {:e}, d = {d:e}: {n}", x0.to_f64());
                pairs += usize::from(n == 2);
                // And the scalar undo finds it with the bit apply would keep.
                let up = step_r(x0.up(), d) == y;
                let down = step_r(x0.down(), d) == y;
                let outer = if y.to_f64() < 0.0 {
                    up && !down
                } else {
                    down && !up
                };
                assert_eq!(
                    undo_one(y, d, Some(outer)).to_f64().to_bits(),
                    x0.to_f64().to_bits()
                );
            }
        }
        assert!(pairs > 1000, "{pairs}"); // the bit is needed, often
    }
    check::<f32>();
    check::<f64>();
}

/// `spsa_inplace`'s passes at `level` with `par`: per sample (seed), `+eps z`, `-2 eps z` with
/// the one bitmap (never cleared), then the restore. Checks that every covered coordinate comes
/// back bit for bit after every sample and that exact zeros come back `+0.0`; returns the values
/// after each pass (for comparisons across levels and threads) and the count of covered ones.
fn spsa_samples<T: Float>(
    level: Level,
    par: Par,
    x0: &[T],
    eps: f64,
    dist: Dist,
    samples: usize,
) -> (Vec<Vec<u64>>, usize) {
    let mut x = x0.to_vec();
    let mut bits = vec![0u8; bits_len(x.len())];
    let steps = [eps, -2.0 * eps];
    let mut z = vec![0.0; x0.len()];
    let mut seen = vec![];
    let mut checked = 0;
    let key = |x: &[T]| x.iter().map(|v| v.to_f64().to_bits()).collect::<Vec<_>>();
    for seed in [3u64, 17, 40].into_iter().take(samples) {
        let start = x.clone();
        for k in 0..2 {
            let rec = Record {
                bits: &mut bits[..],
                prior: &steps[..k],
            };
            apply_at(level, &mut x, seed, dist, steps[k], Some(rec), par).unwrap();
            seen.push(key(&x));
        }
        restore_at(level, &mut x, seed, dist, &steps, Some(&mut bits[..]), par).unwrap();
        seen.push(key(&x));
        fill_z(seed, dist, 0, &mut z);
        for i in 0..x0.len() {
            let d = eps * z[i];
            if covered(start[i], d) {
                checked += 1;
                assert_eq!(
                    x[i].to_f64().to_bits(),
                    start[i].to_f64().to_bits(),
                    "{dist:?} eps {eps} seed {seed} i {i}: {:e} came back {:e} (z = {})",
                    start[i].to_f64(),
                    x[i].to_f64(),
                    z[i]
                );
                // The perturbations themselves: within half an ulp of x ± eps z rounded to x's
                // grid (the snapped sum, ties toward zero).
                let plus = T::from_f64(f64::from_bits(seen[seen.len() - 3][i]));
                assert_eq!(
                    plus.to_f64().to_bits(),
                    step_r(start[i], d).to_f64().to_bits()
                );
                let minus = T::from_f64(f64::from_bits(seen[seen.len() - 2][i]));
                assert_eq!(
                    minus.to_f64().to_bits(),
                    step_r(start[i], -d).to_f64().to_bits()
                );
            } else if start[i].to_f64() == 0.0 {
                assert_eq!(x[i].to_f64().to_bits(), 0, "i {i}");
            }
        }
    }
    (seen, checked)
}

/// Test arrays: exactly ±1, ±2^k, floats just below powers of two, floats around them, layer-like
/// weights (std 0.02, 0.5) and zeros, past piece boundaries.
fn hostile<T: Float>() -> Vec<Vec<T>> {
    let n = 2 * REDUCE_PIECE + 77;
    let g = uniform_vec(n, 31, -1.0, 1.0);
    let mut normal = vec![0.0; n];
    fill_z(4, Dist::Gaussian, 0, &mut normal);
    let pw: Vec<T> = (0..n)
        .map(|i| {
            let v = T::from_f64(2f64.powi(i as i32 % 9 - 6));
            let v = match (i / 9) % 3 {
                0 => v,
                1 => v.down(),
                _ => v.down().down(),
            };
            if (i / 27) % 2 == 0 {
                v
            } else {
                T::from_f64(-v.to_f64())
            }
        })
        .collect();
    let mut weights: Vec<T> = normal.iter().map(|v| T::from_f64(v * 0.02)).collect();
    weights
        .iter_mut()
        .step_by(13)
        .for_each(|v| *v = T::from_f64(0.0));
    vec![
        vec![T::from_f64(1.0); n],
        vec![T::from_f64(-1.0); n],
        pw,
        around_powers::<T>(n / 36 + 1),
        weights,
        normal.iter().map(|v| T::from_f64(v * 0.5)).collect(),
        g.iter().map(|v| T::from_f64(v * 3.0)).collect(),
    ]
}

fn restore_exact<T: Float>() {
    for (a, x0) in hostile::<T>().iter().enumerate() {
        for dist in [Dist::Rademacher, Dist::Gaussian] {
            for eps in [1e-3, 2f64.powi(-11), 3e-2] {
                let (want, checked) = spsa_samples(Level::Scalar, Par::Seq, x0, eps, dist, 3);
                assert!(checked > 0, "{a}");
                for level in crate::simd::available() {
                    for par in [Par::Seq, Par::Rayon(2), Par::Rayon(3)] {
                        if (level, par) == (Level::Scalar, Par::Seq) {
                            continue;
                        }
                        let got = spsa_samples(level, par, x0, eps, dist, 3);
                        assert!(
                            got == (want.clone(), checked),
                            "{a} {dist:?} {level:?} {par:?}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn restore_is_exact_where_covered_f32() {
    restore_exact::<f32>();
}

#[test]
fn restore_is_exact_where_covered_f64() {
    restore_exact::<f64>();
}

#[test]
fn one_two_and_five_steps_undo_exactly() {
    // A single step, and five recorded steps (the state is one step of their total).
    let x0 = data32(5000);
    for steps in [&[1e-3][..], &[1e-3, -2e-3, 1e-3, 5e-4, -5e-4]] {
        let mut x = x0.clone();
        let mut bits = vec![0u8; bits_len(x.len())];
        for k in 0..steps.len() {
            let rec = Record {
                bits: &mut bits[..],
                prior: &steps[..k],
            };
            apply(&mut x, 2, Dist::Gaussian, steps[k], Some(rec), Par::Seq).unwrap();
        }
        restore(
            &mut x,
            2,
            Dist::Gaussian,
            steps,
            Some(&mut bits[..]),
            Par::Seq,
        )
        .unwrap();
        let mut z = vec![0.0; x0.len()];
        fill_z(2, Dist::Gaussian, 0, &mut z);
        // Every partial total is at most 1e-3 in magnitude.
        for i in 0..x0.len() {
            if covered(x0[i], 1e-3 * z[i]) {
                assert_eq!(x[i], x0[i], "i = {i}");
            }
        }
    }
}

#[test]
fn restore_is_symmetric_under_negation() {
    // -x with -z is x with z negated, bit for bit, bits included.
    fn check<T: Float>() {
        let n = 2 * REDUCE_PIECE + 77;
        for dist in [Dist::Rademacher, Dist::Gaussian] {
            for v in [1.0, 0.5, 2.0, 0.75] {
                let pos = vec![T::from_f64(v).down(); n];
                let neg: Vec<T> = pos.iter().map(|p| T::from_f64(-p.to_f64())).collect();
                for level in crate::simd::available() {
                    let run = |x0: &[T], s: f64| {
                        let mut x = x0.to_vec();
                        let mut bits = vec![0u8; bits_len(n)];
                        let steps = [s * 1e-3, -2.0 * s * 1e-3];
                        let mut seen = vec![];
                        for k in 0..2 {
                            let rec = Record {
                                bits: &mut bits[..],
                                prior: &steps[..k],
                            };
                            apply_at(level, &mut x, 5, dist, steps[k], Some(rec), Par::Seq)
                                .unwrap();
                            seen.push(x.iter().map(|v| v.to_f64()).collect::<Vec<_>>());
                        }
                        (seen, bits)
                    };
                    let (sp, bp) = run(&pos, 1.0);
                    let (sn, bn) = run(&neg, -1.0);
                    assert_eq!(bp, bn, "{dist:?} {v} {level:?}");
                    for (a, b) in sp.iter().zip(&sn) {
                        assert!(a.iter().zip(b).all(|(p, q)| *p == -*q));
                    }
                }
            }
        }
    }
    check::<f32>();
    check::<f64>();
}

#[test]
fn the_branch_free_solve_is_undo_one() {
    // Values and steps where paths leave their binade, near edges and zeros: every case of the
    // candidate analysis, with and without the kept bit.
    let mut x32 = data32(4000);
    x32.extend([
        0.0,
        -0.0,
        1e-3,
        -1e-3,
        2f32.powi(-10),
        2f32.powi(-10).next_down(),
    ]);
    x32.extend(around_powers::<f32>(20));
    let mut z = vec![0.0; x32.len()];
    fill_z(3, Dist::Gaussian, 0, &mut z);
    for (i, (&x, &zi)) in x32.iter().zip(&z).enumerate() {
        for eps in [1e-3, 3e-2, 2f64.powi(-11), 2f64.powi(-24)] {
            let d = eps * zi;
            let y = step_r(x, d);
            let y64 = step_r(x as f64 * 1.3, d);
            for y in [y, y.up(), y.down()] {
                for bit in [None, Some(false), Some(true)] {
                    let want = undo_one(y, d, bit);
                    let got = solve::undo(y, d, bit.is_some(), bit == Some(true));
                    assert_eq!(got.to_bits(), want.to_bits(), "i = {i}, eps = {eps}");
                }
            }
            for y in [y64, y64.up(), y64.down()] {
                for bit in [None, Some(false), Some(true)] {
                    let want = undo_one(y, d, bit);
                    let got = solve::undo(y, d, bit.is_some(), bit == Some(true));
                    assert_eq!(got.to_bits(), want.to_bits(), "f64 i = {i}, eps = {eps}");
                }
            }
        }
    }
}
