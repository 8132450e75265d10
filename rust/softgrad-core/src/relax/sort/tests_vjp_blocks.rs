//! `work/row_vjp.rs`'s `rank_l2` called directly on lanes whose blocks are given, against the
//! closed form of the l2 rank pullback: `x̄_{π i} = σ (ḡ_{π i} − mean_B ḡ)/ε` for `i` in block `B`
//! and `Σ_B Σ_{i∈B} (ḡ_{π i} − mean_B ḡ)(z_{π i} − z_{π lo(B)}) s/2` for the strength. It must
//! answer (`Some`) for every finite cotangent and leave a non-finite one (in the lanes of eight or
//! in the tail) to the general pullback (`None`).

use super::work::row_vjp::rank_l2;
use super::work::Work;

/// A permutation of `0..n` that is not the identity (`11` is prime to every `n` used).
fn perm(n: usize) -> Vec<u32> {
    let p: Vec<u32> = (0..n).map(|i| ((i * 11 + 3) % n) as u32).collect();
    let mut seen = vec![false; n];
    p.iter().for_each(|&i| seen[i as usize] = true);
    assert!(seen.iter().all(|&s| s), "not a permutation of 0..{n}");
    p
}

/// The closed form of `(gx, de)` for the blocks starting where `start` is set.
fn want(
    (perm, zx, start): (&[u32], &[f64], &[bool]),
    g: &[f64],
    (sign, e, half): (f64, f64, f64),
) -> (Vec<f64>, f64) {
    let n = perm.len();
    let (mut gx, mut de) = (vec![f64::NAN; n], 0.0);
    let mut lo = 0;
    while lo < n {
        let hi = (lo + 1..n).find(|&i| start[i]).unwrap_or(n);
        let ps: Vec<usize> = perm[lo..hi].iter().map(|&p| p as usize).collect();
        let m = ps.iter().map(|&p| g[p]).sum::<f64>() / ps.len() as f64;
        for &p in &ps {
            gx[p] = sign * (g[p] - m) / e;
            de += (g[p] - m) * (zx[p] - zx[ps[0]]) * half;
        }
        lo = hi;
    }
    (gx, de)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * (1.0 + b.abs())
}

#[test]
fn blocks_of_every_length_give_the_closed_form_pullback() {
    // block lengths: singletons, 2 and 3 (the unrolled ones), 4, 5 and 9 (the general one), a lane
    // ending in a singleton and one ending in a long block, a lane of one block, one of one value
    let cases: [&[usize]; 7] = [
        &[1, 2, 3, 1, 4, 1, 1],
        &[2, 1, 5, 3, 2],
        &[9, 1, 1, 3],
        &[1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
        &[3, 3, 3, 3, 3, 3, 3, 3, 3],
        &[12],
        &[1],
    ];
    let mut w = Work::default();
    for (c, lens) in cases.iter().enumerate() {
        let n: usize = lens.iter().sum();
        let mut start = vec![false; n];
        let mut at = 0;
        for &l in lens.iter() {
            start[at] = true;
            at += l;
        }
        let p = perm(n);
        let zx: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin() * 3.0).collect();
        let g: Vec<f64> = (0..n).map(|i| (i as f64 * 1.3 + 0.2).cos() - 0.1).collect();
        for (sign, e, half) in [(1.0, 0.5, 0.25), (-1.0, 3.0, 2.0), (1.0, 1e-300, 0.5)] {
            let lane = (&p[..], &zx[..], &start[..]);
            let (gw, dw) = want(lane, &g, (sign, e, half));
            let mut gx = vec![f64::NAN; n];
            let de = rank_l2("soft_rank", lane, &g, &mut gx, (sign, e, half), &mut w)
                .unwrap()
                .expect("a finite cotangent is done here");
            let what = format!("case {c}, sign {sign}, e {e}");
            for i in 0..n {
                assert!(close(gx[i], gw[i]), "{what}, {i}: {} vs {}", gx[i], gw[i]);
            }
            assert!(close(de, dw), "{what}: de {de} vs {dw}");
        }
    }
}

#[test]
fn a_cotangent_that_is_not_finite_is_left_to_the_general_pullback() {
    let n = 21; // two lanes of eight and a tail of five
    let mut start = vec![false; n];
    for i in (0..n).step_by(3) {
        start[i] = true;
    }
    let (p, zx) = (perm(n), vec![1.0; n]);
    let mut w = Work::default();
    for bad in [0, 7, 8, 15, 16, 20] {
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let mut g = vec![0.5; n];
            g[bad] = v;
            let mut gx = vec![7.0; n];
            let got = rank_l2(
                "soft_rank",
                (&p, &zx, &start),
                &g,
                &mut gx,
                (1.0, 1.0, 0.5),
                &mut w,
            )
            .unwrap();
            // `None`; what `gx` holds then is of no use (the general pullback rewrites all of it,
            // which `tests_row` compares with the old code bit for bit on non-finite cotangents)
            assert!(got.is_none(), "{v} at {bad}");
        }
    }
}
