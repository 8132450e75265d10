//! The long-lane path against the one-pass PAV of a whole lane: the same blocks and (to rounding)
//! the same values, the same bits on 1, 2 and 3 threads, and the pullback against `grad.rs`.

use super::super::{desc_key, lane_scale, pav, pav_at, Block, Out};
use super::*;
use crate::par::Layout;
use crate::relax::sort::{forward, vjp, Res, ResMut};
use crate::relax::testutil::uniform;

/// Every operation with every regularization it has (top-k is l2 only).
fn all() -> impl Iterator<Item = (Op, Reg)> {
    [Op::TopK(3), Op::Sort, Op::Rank]
        .into_iter()
        .flat_map(|op| [(op, Reg::L2), (op, Reg::Kl)])
        .filter(|&(op, reg)| !matches!((op, reg), (Op::TopK(_), Reg::Kl)))
}

fn spec(op: Op, reg: Reg, strength: f64) -> Spec {
    Spec {
        op,
        reg,
        strength,
        descending: false,
    }
}

/// Lanes past several seams: standard-ish noise (many small blocks at a small strength), clusters
/// of 100 000 near-equal values (blocks spanning whole pieces at strength 1), and a slow ramp with
/// noise (blocks of every size).
fn lanes(n: usize) -> Vec<(&'static str, Vec<f64>)> {
    let u = uniform(n, 7, -1.0, 1.0);
    vec![
        ("noise", u.iter().map(|v| v * 3.0).collect()),
        (
            "clusters",
            u.iter()
                .enumerate()
                .map(|(i, v)| (i / 100_000) as f64 * 1e3 + v * 1e-3)
                .collect(),
        ),
        (
            "ramp",
            u.iter()
                .enumerate()
                .map(|(i, v)| i as f64 * 1e-5 + v * 0.3)
                .collect(),
        ),
    ]
}

/// `σ x` sorted descending.
fn sorted(s: &Spec, x: &[f64]) -> Vec<f64> {
    let mut z: Vec<f64> = x.iter().map(|v| s.sign() * v + 0.0).collect();
    z.sort_by_key(|&v| desc_key(v));
    z
}

/// The lane's blocks by pieces and seams, in order.
fn by_pieces(s: &Spec, z: &[f64]) -> Vec<Block> {
    let (n, sc) = (z.len(), lane_scale(z).0);
    let mut stack = vec![Block::default(); n];
    let counts: Vec<usize> = stack
        .chunks_mut(PIECE)
        .zip(z.chunks(PIECE))
        .enumerate()
        .map(|(k, (buf, zc))| {
            let mut st = SliceStack { buf, len: 0 };
            pav_at(s, zc, k * PIECE, n, sc, &mut st);
            st.len
        })
        .collect();
    let live = seams(s, &mut stack, &counts, sc);
    live.iter()
        .flat_map(|&(b, e)| stack[b..e].to_vec())
        .collect()
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
}

#[test]
fn pieces_and_seams_give_the_blocks_of_one_pass() {
    let n = 3 * PIECE + 17;
    for (name, x) in lanes(n) {
        // ranks and top-k sort `x`, sorts `-x`
        let (up, down) = (
            sorted(&spec(Op::Rank, Reg::L2, 1.0), &x),
            sorted(&spec(Op::Sort, Reg::L2, 1.0), &x),
        );
        for e in [1e-6, 1e-2, 1.0, 1e3] {
            for (op, reg) in all() {
                let s = spec(op, reg, e);
                let z = if op == Op::Sort { &down } else { &up };
                let mut one = Vec::new();
                pav(&s, z, lane_scale(z).0, &mut one);
                let got = by_pieces(&s, z);
                let los = |b: &[Block]| b.iter().map(|b| b.lo).collect::<Vec<_>>();
                assert_eq!(los(&got), los(&one), "{name} {e} {op:?} {reg:?}");
                for (g, w) in got.iter().zip(&one) {
                    assert_eq!((g.z0, g.r0, g.c), (w.z0, w.r0, w.c));
                    assert!(close(g.key, w.key, 1e-12), "{name} {e} {op:?} {reg:?}");
                    assert!(close(g.a, w.a, 1e-12) && close(g.b, w.b, 1e-12));
                }
            }
        }
    }
}

/// The forward and its residuals on `par`.
fn fwd(x: &[f64], s: Spec, par: Par) -> (Vec<f64>, Vec<u32>, Vec<f64>, Vec<bool>) {
    let n = x.len();
    let (mut out, mut perm, mut z, mut start) =
        (vec![0.0; n], vec![0; n], vec![0.0; n], vec![false; n]);
    let r = ResMut {
        perm: &mut perm,
        z: &mut z,
        start: &mut start,
    };
    forward(x, Layout::new(1, n, 1), s, &mut out, Some(r), None, par).unwrap();
    (out, perm, z, start)
}

#[test]
fn long_lanes_equal_the_one_pass_outputs_and_threads_do_not_matter() {
    let n = 2 * PIECE + 5;
    for (name, x) in lanes(n) {
        for e in [1e-6, 1.0] {
            for (op, reg) in all() {
                let s = spec(op, reg, e);
                let (out, perm, zr, start) = fwd(&x, s, Par::Seq);
                // the reference: one pass of PAV, each block written by the same formulas
                let z = sorted(&s, &x);
                let mut blocks = Vec::new();
                pav(&s, &z, lane_scale(&z).0, &mut blocks);
                let o = Out::new(&s, n, lane_scale(&z));
                // (the forward leaves `perm` unwritten for an l2 lane that is one block)
                let mut p: Vec<u32> = (0..n as u32).collect();
                p.sort_by_key(|&i| (desc_key(s.sign() * x[i as usize] + 0.0), i));
                let mut want = vec![0.0; n];
                let ends: Vec<usize> = blocks.iter().skip(1).map(|b| b.lo).chain([n]).collect();
                let mut starts = vec![false; n];
                for (b, &hi) in blocks.iter().zip(&ends) {
                    starts[b.lo] = true;
                    o.block(b, hi, (&z, &p), &mut |p, v| want[p] = v);
                }
                assert_eq!(start, starts, "{name} {e} {op:?} {reg:?}");
                if blocks.len() > 1 || reg == Reg::Kl {
                    assert_eq!(perm, p);
                }
                for (a, b) in out.iter().zip(&want) {
                    assert!(close(*a, *b, 1e-9), "{name} {e} {op:?} {reg:?}: {a} {b}");
                }
                for t in [2, 3] {
                    let got = fwd(&x, s, Par::Rayon(t));
                    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&got.0), bits(&out), "{name} {e} {op:?} {reg:?} {t}");
                    assert_eq!((&got.1, &got.3), (&perm, &start));
                    assert_eq!(bits(&got.2), bits(&zr));
                }
            }
        }
    }
}

#[test]
fn the_long_pullback_equals_grad_rs_and_threads_do_not_matter() {
    let n = 3 * PIECE + 1;
    let g0 = uniform(n, 9, -1.0, 1.0);
    // -0.0 and inf cotangents take the path through the permutation for singletons too
    let mut g1 = g0.clone();
    g1.iter_mut().step_by(7).for_each(|v| *v = -0.0);
    let mut g2 = g0.clone();
    g2[n / 2] = f64::INFINITY;
    for ((name, x), g) in lanes(n).into_iter().zip([g0, g1, g2].iter().cycle()) {
        for e in [1e-6, 1e-2, 1.0] {
            for op in [Op::Rank, Op::TopK(1000)] {
                let s = spec(op, Reg::L2, e);
                assert!(takes(&s, n) && !takes(&s, LONG_MIN - 1));
                let (_, perm, z, start) = fwd(&x, s, Par::Seq);
                let res = (&perm[..], &z[..], &start[..]);
                let mut want = vec![0.0; n];
                let de = crate::relax::sort::grad::vjp_lane(&s, res, g, &mut want).unwrap();
                let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                let mut first = None;
                for par in [Par::Seq, Par::Rayon(2), Par::Rayon(3)] {
                    let mut gx = vec![f64::NAN; n];
                    let r = Res {
                        perm: &perm,
                        z: &z,
                        start: &start,
                        lengths: None,
                    };
                    let got = vjp(r, g, Layout::new(1, n, 1), s, &mut gx, par).unwrap();
                    assert_eq!(bits(&gx), bits(&want), "{name} {e} {op:?}");
                    assert!(
                        close(got, de, 1e-10) || got.to_bits() == de.to_bits(),
                        "{name} {e} {op:?}: {got} {de}"
                    );
                    let f = *first.get_or_insert(got);
                    assert_eq!(got.to_bits(), f.to_bits(), "{name} {e} {op:?} {par:?}");
                }
            }
        }
    }
}
