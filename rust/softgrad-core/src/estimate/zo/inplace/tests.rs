use super::*;
use crate::par::REDUCE_PIECE;
use crate::rng::uniform_vec;

/// The biased exponent of `v` as an `f64` (the binade; a larger one has a coarser grid).
#[inline(always)]
fn binade<T: Real>(v: T) -> u64 {
    (v.to_f64().to_bits() >> 52) & 0x7ff
}

fn data32(n: usize) -> Vec<f32> {
    uniform_vec(n, 11, -1.0, 1.0)
        .iter()
        .map(|v| (v * 0.05) as f32)
        .collect()
}

#[test]
fn apply_adds_coeff_times_z() {
    let x0 = data32(5000);
    let mut x = x0.clone();
    apply(&mut x, 7, Dist::Gaussian, 1e-3, None, Par::Seq).unwrap();
    let mut z = vec![0.0; 5000];
    fill_z(7, Dist::Gaussian, 0, &mut z);
    for i in 0..5000 {
        // round(x + d) where the sum stays in x's binade (ties apart: none in these data);
        // within an ulp of x or of the sum elsewhere (on x's grid, or rounded twice).
        let plain = (x0[i] as f64 + 1e-3 * z[i]) as f32;
        if binade(plain) == binade(x0[i]) {
            assert_eq!(x[i], plain);
        } else {
            let ulp = x0[i].quantum().max(plain.quantum());
            assert!(((x[i] - plain).abs() as f64) <= ulp);
        }
    }
}

#[test]
fn passes_are_bit_identical_across_threads() {
    let n = 3 * PIECE + 17;
    let x0: Vec<f64> = uniform_vec(n, 3, -2.0, 2.0);
    let mut outs = vec![];
    for par in [Par::Seq, Par::Rayon(2), Par::Rayon(3)] {
        let mut x = x0.clone();
        apply(&mut x, 99, Dist::Gaussian, 0.3, None, par).unwrap();
        apply(&mut x, 99, Dist::Gaussian, -0.6, None, par).unwrap();
        outs.push(x.clone());
        restore(&mut x, 99, Dist::Gaussian, &[0.3, -0.6], None, par).unwrap();
        outs.push(x);
    }
    assert_eq!(outs[0], outs[2]);
    assert_eq!(outs[0], outs[4]);
    assert_eq!(outs[1], outs[3]);
    assert_eq!(outs[1], outs[5]);
}

/// How many floats within 4 ulp of `x` (itself included) map to the same value as `x`.
fn preimages<T: Float>(x: T, d: &[f64]) -> usize {
    let img = |r: T| d.iter().fold(r, |v, &dk| step(v, dk));
    let y = img(x);
    let (mut lo, mut hi, mut count) = (x, x, 1);
    for _ in 0..4 {
        lo = lo.down();
        hi = hi.up();
        count += usize::from(img(lo) == y) + usize::from(img(hi) == y);
    }
    count
}

/// Perturbs by `+eps z`, `-2 eps z` and restores (recording bits or not); checks the promise
/// and returns (exact, lossy) counts.
fn round_trip<T: Float>(x0: &[T], eps: f64, dist: Dist, with_bits: bool) -> (usize, usize) {
    let mut x = x0.to_vec();
    let mut bits = vec![0u8; bits_len(x.len())];
    let steps = [eps, -2.0 * eps];
    for k in 0..2 {
        let rec = with_bits.then(|| Record {
            bits: &mut bits[..],
            prior: &steps[..k],
        });
        apply(&mut x, 5, dist, steps[k], rec, Par::Seq).unwrap();
    }
    let b = with_bits.then_some(&mut bits[..]);
    restore(&mut x, 5, dist, &steps, b, Par::Seq).unwrap();
    let mut z = vec![0.0; x0.len()];
    fill_z(5, dist, 0, &mut z);
    let (mut exact, mut lossy) = (0, 0);
    for i in 0..x0.len() {
        let d = [eps * z[i], -2.0 * eps * z[i]];
        let p = preimages(x0[i], &d);
        if p == 1 || (with_bits && p == 2) || x0[i].to_f64() == 0.0 {
            assert_eq!(x[i], x0[i], "i = {i}, z = {}, {p} preimages", z[i]);
        }
        if x[i] == x0[i] {
            exact += 1;
        } else {
            lossy += 1;
            // Within a few ulps of the larger of |x| and |eps z|.
            let big = x0[i].to_f64().abs().max((eps * z[i]).abs());
            let err = (x[i].to_f64() - x0[i].to_f64()).abs();
            let ulp = T::from_f64(big).up().to_f64() - big;
            assert!(err <= 4.0 * ulp, "i = {i}: {err} > 4 ulp {ulp}");
        }
    }
    (exact, lossy)
}

#[test]
fn restore_is_exact_wherever_the_steps_lose_at_most_the_recorded_bit_f32() {
    let mut x0 = data32(20_000);
    x0.iter_mut().step_by(50).for_each(|v| *v = 0.0);
    for eps in [1e-3, 1e-2, 1e-5] {
        for dist in [Dist::Gaussian, Dist::Rademacher] {
            let (_, lossy_plain) = round_trip(&x0, eps, dist, false);
            let (_, lossy_bits) = round_trip(&x0, eps, dist, true);
            assert!(lossy_bits <= lossy_plain);
        }
    }
}

#[test]
fn restore_is_exact_wherever_the_steps_lose_at_most_the_recorded_bit_f64() {
    let x0: Vec<f64> = uniform_vec(20_000, 12, -1.0, 1.0);
    for eps in [1e-3, 1.0, 1e-9] {
        round_trip(&x0, eps, Dist::Gaussian, false);
        round_trip(&x0, eps, Dist::Gaussian, true);
    }
}

#[test]
fn restore_is_exact_at_binade_edges() {
    // Powers of two and their neighbours, where neighbouring values can merge.
    let mut x0: Vec<f32> = vec![];
    for k in -12..3 {
        let p = 2f32.powi(k);
        let (mut lo, mut hi) = (p, p);
        for _ in 0..6 {
            x0.extend([lo, hi, -lo, -hi]);
            lo = lo.down();
            hi = hi.up();
        }
    }
    let x0: Vec<f32> = x0.iter().cycle().take(20_000).copied().collect();
    for eps in [1e-3, 1e-6, 2f64.powi(-20)] {
        for dist in [Dist::Gaussian, Dist::Rademacher] {
            round_trip(&x0, eps, dist, true);
            let x64: Vec<f64> = x0.iter().map(|v| *v as f64).collect();
            round_trip(&x64, eps, dist, true);
        }
    }
}

#[test]
fn restore_handles_zero_and_specials() {
    let mut x = vec![0.0f32, -0.0, f32::INFINITY, 1e-30, 3.0];
    let x0 = x.clone();
    apply(&mut x, 1, Dist::Rademacher, 1e-3, None, Par::Seq).unwrap();
    restore(&mut x, 1, Dist::Rademacher, &[1e-3], None, Par::Seq).unwrap();
    // 0 and 1e-30 are not the only floats that map to ±1e-3: zeros are preferred (-0.0
    // comes back as +0.0), 1e-30 comes back as 0.
    assert_eq!((x[0].to_bits(), x[1].to_bits(), x[3]), (0, 0, 0.0));
    assert_eq!(x[2], f32::INFINITY);
    assert_eq!(x[4], x0[4]);
}

/// The recorded passes of one `spsa_inplace` sample (+eps, -2 eps, restore) at `level`: the
/// values after each pass and the bitmap.
fn sample_at<T: Float>(level: Level, x0: &[T], eps: f64, dist: Dist) -> Vec<Vec<u64>> {
    let mut x = x0.to_vec();
    let mut bits = vec![0u8; bits_len(x.len())];
    let steps = [eps, -2.0 * eps];
    let mut seen = vec![];
    let key = |x: &[T]| x.iter().map(|v| v.to_f64().to_bits()).collect::<Vec<_>>();
    for k in 0..2 {
        let rec = Record {
            bits: &mut bits[..],
            prior: &steps[..k],
        };
        apply_at(level, &mut x, 9, dist, steps[k], Some(rec), Par::Seq).unwrap();
        seen.push(key(&x));
    }
    restore_at(
        level,
        &mut x,
        9,
        dist,
        &steps,
        Some(&mut bits[..]),
        Par::Seq,
    )
    .unwrap();
    seen.push(key(&x));
    seen.push(bits.iter().map(|b| u64::from(*b)).collect());
    apply_at(level, &mut x, 4, dist, 0.5 * eps, None, Par::Seq).unwrap();
    seen.push(key(&x));
    seen
}

#[test]
fn passes_give_the_same_bits_at_every_simd_level() {
    // Layer-like weights with zeros and binade edges mixed in: fast and slow coordinates.
    let mut x32 = data32(3 * REDUCE_PIECE + 5);
    for (k, v) in x32.iter_mut().enumerate().step_by(7) {
        *v = [0.0, 2f32.powi(-6), 2f32.powi(-5).next_down(), -0.0][k % 4];
    }
    let x64: Vec<f64> = x32.iter().map(|v| *v as f64 * 1.1).collect();
    for dist in [Dist::Gaussian, Dist::Rademacher] {
        for eps in [1e-3, 1e-6] {
            let want32 = sample_at(Level::Scalar, &x32, eps, dist);
            let want64 = sample_at(Level::Scalar, &x64, eps, dist);
            for level in crate::simd::available() {
                assert_eq!(sample_at(level, &x32, eps, dist), want32, "{level:?}");
                assert_eq!(sample_at(level, &x64, eps, dist), want64, "{level:?}");
            }
        }
    }
}

#[test]
fn more_steps_than_the_vector_loops_take_fall_back_to_the_solve() {
    // 5 recorded steps (past the 3 prior steps of `fast::apply_recorded`) undo like 2.
    let x0 = data32(5000);
    let mut x = x0.clone();
    let mut bits = vec![0u8; bits_len(x.len())];
    let steps = [1e-3, -2e-3, 1e-3, 5e-4, -5e-4];
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
        &steps,
        Some(&mut bits[..]),
        Par::Seq,
    )
    .unwrap();
    let exact = x.iter().zip(&x0).filter(|(a, b)| a == b).count();
    assert!(exact as f64 >= 0.85 * x0.len() as f64, "{exact}");
}

#[test]
fn neighbours_are_the_standard_librarys() {
    let mut v32 = vec![
        0.0f32,
        -0.0,
        1.0,
        -1.0,
        f32::MIN_POSITIVE,
        1e-45,
        -1e-45,
        f32::MAX,
        -f32::MAX,
    ];
    v32.extend([
        f32::INFINITY,
        f32::NEG_INFINITY,
        2f32.powi(-3),
        -2f32.powi(7),
    ]);
    v32.extend(data32(1000));
    for v in v32 {
        assert_eq!(v.up().to_bits(), v.next_up().to_bits(), "{v}");
        assert_eq!(v.down().to_bits(), v.next_down().to_bits(), "{v}");
        let w = v as f64 * 3.0;
        assert_eq!(w.up().to_bits(), w.next_up().to_bits(), "{w}");
        assert_eq!(w.down().to_bits(), w.next_down().to_bits(), "{w}");
    }
    for w in [
        0.0f64,
        -0.0,
        5e-324,
        -5e-324,
        f64::MAX,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ] {
        assert_eq!(w.up().to_bits(), w.next_up().to_bits(), "{w}");
        assert_eq!(w.down().to_bits(), w.next_down().to_bits(), "{w}");
    }
    assert!(f32::NAN.up().is_nan() && f64::NAN.down().is_nan());
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
    let mut z = vec![0.0; x32.len()];
    fill_z(3, Dist::Gaussian, 0, &mut z);
    for (i, (&x, &zi)) in x32.iter().zip(&z).enumerate() {
        for eps in [1e-3, 3e-2, 2f64.powi(-11)] {
            let d = [eps * zi, -2.0 * eps * zi, 0.5 * eps * zi];
            for m in 1..=3 {
                let y = d[..m].iter().fold(x, |v, &dk| step(v, dk));
                for bit in [None, Some(false), Some(true)] {
                    let want = undo_one(y, &d[..m], bit);
                    let got = solve::undo(y, &d[..m], bit.is_some(), bit == Some(true));
                    assert_eq!(
                        got.to_bits(),
                        want.to_bits(),
                        "i = {i}, eps = {eps}, m = {m}"
                    );
                    let y64 = d[..m].iter().fold(x as f64 * 1.3, |v, &dk| step(v, dk));
                    let want = undo_one(y64, &d[..m], bit);
                    let got = solve::undo(y64, &d[..m], bit.is_some(), bit == Some(true));
                    assert_eq!(
                        got.to_bits(),
                        want.to_bits(),
                        "f64 i = {i}, eps = {eps}, m = {m}"
                    );
                }
            }
        }
    }
}

/// Values just below, at and just above powers of two, both signs: below, at offsets up to
/// `3 eps` (so that `x ± eps z` often crosses the power of two upwards), and a few ulp around it.
fn edge_plants<T: Float>(eps: f64, n: usize) -> Vec<T> {
    let u = uniform_vec(n, 21, 0.0, 3.0);
    (0..n)
        .map(|i| {
            let p = 2f64.powi(i as i32 % 7 - 4); // 1/16 .. 4
            let v = match i % 5 {
                0 => T::from_f64(p).down(),
                1 => T::from_f64(p),
                2 => T::from_f64(p).up().up(),
                _ => T::from_f64(p - u[i] * eps),
            };
            if (i / 7) % 2 == 0 {
                v
            } else {
                T::from_f64(-v.to_f64())
            }
        })
        .collect()
}

/// `spsa_inplace`'s passes at `level`: per sample (seed), `+eps z`, `-2 eps z` with the one
/// bitmap (never cleared), then the restore; checks each sample's restore against `x0` and
/// returns (coordinates not restored, of them the ones at most two-to-one).
fn spsa_samples<T: Float>(level: Level, x0: &[T], eps: f64, dist: Dist) -> (usize, usize) {
    let mut x = x0.to_vec();
    let mut bits = vec![0u8; bits_len(x.len())];
    let steps = [eps, -2.0 * eps];
    let mut z = vec![0.0; x0.len()];
    let (mut lost, mut wrong) = (0, 0);
    for seed in [3u64, 17, 40] {
        for k in 0..2 {
            let rec = Record {
                bits: &mut bits[..],
                prior: &steps[..k],
            };
            apply_at(level, &mut x, seed, dist, steps[k], Some(rec), Par::Seq).unwrap();
        }
        restore_at(
            level,
            &mut x,
            seed,
            dist,
            &steps,
            Some(&mut bits[..]),
            Par::Seq,
        )
        .unwrap();
        fill_z(seed, dist, 0, &mut z);
        for i in 0..x0.len() {
            if x[i].to_f64().to_bits() == x0[i].to_f64().to_bits() {
                continue;
            }
            lost += 1;
            let d = [eps * z[i], -2.0 * eps * z[i]];
            wrong += usize::from(preimages(x0[i], &d) <= 2);
            // One of the floats that end where x0 ends, next to it (two ulp at a power of two).
            let y = d.iter().fold(x0[i], |v, &dk| step(v, dk));
            assert!(replay(x[i], &d, y), "i = {i}");
            let near = [
                x0[i].down(),
                x0[i].up(),
                x0[i].down().down(),
                x0[i].up().up(),
            ];
            assert!(near.contains(&x[i]) || x0[i].to_f64().abs() < 8.0 * d[0].abs());
            // At a run of three the bit names the outer (farther from zero) and the middle one:
            // only the inner one is lost (away from powers of two themselves, where the runs are
            // not plain ties).
            let ends = |r: T| replay(r, &d, y);
            let neg = y.to_f64() < 0.0;
            let out = |r: T| if neg { r.down() } else { r.up() };
            let inn = |r: T| if neg { r.up() } else { r.down() };
            let far = x0[i].to_f64().abs() >= 8.0 * d[0].abs();
            let pow2 = x0[i].to_f64().to_bits() & ((1 << 52) - 1) == 0;
            if ends(out(x0[i])) && !ends(inn(x0[i])) && !ends(out(out(out(x0[i])))) {
                assert!(ends(out(out(x0[i]))) || !far);
            } else if far && !pow2 {
                panic!(
                    "i = {i}: x0 = {:e}, not the inner one of a run of three",
                    x0[i].to_f64()
                );
            }
            x[i] = x0[i]; // the next sample starts clean
        }
    }
    (lost, wrong)
}

#[test]
fn restore_is_exact_below_and_at_powers_of_two_where_at_most_two_to_one() {
    // Where a perturbation carries x_i into a coarser binade the sum is rounded to nearest, ties
    // to even: a float of that binade with an even last bit is the image of three floats (the
    // two ties and itself), the others of one. The bitmap's one bit tells two apart, not three:
    // it names the outer and the middle one, and the inner one (a sixth of the crossings, at any
    // |x_i|) is the documented limit.
    for dist in [Dist::Rademacher, Dist::Gaussian] {
        for eps in [1e-3, 2f64.powi(-11)] {
            let x32 = edge_plants::<f32>(eps, 2 * REDUCE_PIECE + 77);
            let x64 = edge_plants::<f64>(eps, 2 * REDUCE_PIECE + 77);
            let mut seen = None;
            for level in crate::simd::available() {
                let r = (
                    spsa_samples(level, &x32, eps, dist),
                    spsa_samples(level, &x64, eps, dist),
                );
                assert_eq!((r.0 .1, r.1 .1), (0, 0), "{dist:?} {eps} {level:?}");
                // Three-to-one crossings exist among the planted values and come back next to
                // x0 (one of the three), at every level alike.
                assert!(r.0 .0 > 0 && r.1 .0 > 0);
                assert_eq!(*seen.get_or_insert(r), r, "{level:?}");
            }
        }
    }
}

/// One sample of `spsa_inplace`'s passes (`steps`, then the restore) at `level`: the restored
/// values and the bitmap.
fn one_sample<T: Float>(level: Level, x0: &[T], steps: &[f64], dist: Dist) -> (Vec<T>, Vec<u8>) {
    let mut x = x0.to_vec();
    let mut bits = vec![0u8; bits_len(x.len())];
    for k in 0..steps.len() {
        let rec = Record {
            bits: &mut bits[..],
            prior: &steps[..k],
        };
        apply_at(level, &mut x, 5, dist, steps[k], Some(rec), Par::Seq).unwrap();
    }
    let recorded = bits.clone();
    restore_at(level, &mut x, 5, dist, steps, Some(&mut bits[..]), Par::Seq).unwrap();
    (x, recorded)
}

fn mirrored<T: Float>(eps: f64) {
    let n = 2 * REDUCE_PIECE + 77;
    for dist in [Dist::Rademacher, Dist::Gaussian] {
        for v in [1.0, 0.5, 2.0] {
            let (pos, neg) = (vec![T::from_f64(v); n], vec![T::from_f64(-v); n]);
            let mut seen = None;
            for level in crate::simd::available() {
                // -x with -z is x with z negated, bit for bit (ties to even are odd under negation).
                let (xp, bp) = one_sample(level, &pos, &[eps, -2.0 * eps], dist);
                let (xn, bn) = one_sample(level, &neg, &[-eps, 2.0 * eps], dist);
                assert_eq!(bp, bn, "{dist:?} {v} {level:?}");
                for i in 0..n {
                    assert_eq!(
                        xp[i].to_f64(),
                        -xn[i].to_f64(),
                        "{dist:?} {v} {level:?} {i}"
                    );
                }
                // And with the same z, as exact at -v as at +v, and exact wherever documented.
                let (lp, wp) = spsa_samples(level, &pos, eps, dist);
                let (ln, wn) = spsa_samples(level, &neg, eps, dist);
                assert_eq!((wp, wn), (0, 0), "{dist:?} {v} {level:?}");
                let tol = n * 3 / 20 + 8; // Rademacher: same |z|, z and -z equally likely
                assert!(
                    lp.abs_diff(ln) <= tol,
                    "{dist:?} {v} {level:?}: {lp} vs {ln}"
                );
                let exact = |x: &[T], x0: &[T]| x.iter().zip(x0).filter(|(a, b)| a == b).count();
                let r = (exact(&xp, &pos), lp, ln);
                assert!(r.0 * 4 >= n * 3, "{dist:?} {v} {level:?}: {r:?}");
                assert_eq!(*seen.get_or_insert(r), r, "{level:?}");
            }
        }
    }
}

#[test]
fn restore_is_symmetric_under_negation_at_plus_minus_one_half_two() {
    mirrored::<f32>(1e-3);
    mirrored::<f64>(1e-3);
}
