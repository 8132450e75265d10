//! Star colourings of symmetric patterns (Coleman and Moré): the colouring that reads every entry
//! of a symmetric matrix directly from its products with the colours.

use super::{Graph, Ordering, Pattern, NONE};
use crate::error::{Error, Result};

/// A greedy star colouring of the adjacency graph of the symmetric pattern `p` (the diagonal is
/// ignored) in `ordering`: neighbours get different colours and no path on four vertices is
/// coloured with two colours. Returns the colours and their number.
///
/// A vertex `v` is given the smallest colour that breaks no such path among the coloured vertices;
/// each path is checked when its last vertex is coloured, as an end (`v - w - x - y` with
/// `c(y) = c(w)` forbids `c(x)`) or inside (`u - v - w - x` with `c(u) = c(w)` forbids `c(x)`). The
/// first test counts, per vertex and colour, its coloured neighbours of that colour.
///
/// Errors: [`Error::InvalidParameter`] naming `func` and `sparsity` if `p` is not symmetric.
pub fn star_colouring(
    func: &'static str,
    p: &Pattern,
    ordering: Ordering,
) -> Result<(Vec<u32>, usize)> {
    if !p.is_symmetric() {
        return Err(Error::param(
            func,
            "sparsity",
            format!(
                "must be a symmetric pattern for a Hessian, got shape ({}, {}){}",
                p.m,
                p.n,
                if p.m == p.n {
                    " not equal to its transpose"
                } else {
                    ""
                }
            ),
        ));
    }
    let g = Graph::Adjacency(p);
    let n = p.n;
    let (mut mark, mut tag) = (vec![0u32; n], 0u32);
    let order = g.order(ordering, &mut mark, &mut tag);
    let mut colour = vec![NONE; n];
    // (vertex, colour) -> coloured neighbours of that colour.
    let mut near: std::collections::HashMap<u64, u32, BuildFx> = Default::default();
    let key = |v: usize, c: u32| ((v as u64) << 32) | u64::from(c);
    let mut forbidden = vec![0usize; n + 1];
    let mut seen = vec![0usize; n + 1]; // seen[c] == v + 1: some neighbour of v has colour c
    let mut twice = Vec::new();
    let mut count = 0;
    let adj = |v: usize| {
        p.row(v)
            .iter()
            .map(|&u| u as usize)
            .filter(move |&u| u != v)
    };
    for &v in &order {
        let stamp = v + 1;
        twice.clear();
        for w in adj(v) {
            let cw = colour[w];
            if cw == NONE {
                continue;
            }
            forbidden[cw as usize] = stamp;
            if seen[cw as usize] == stamp {
                twice.push(cw);
            }
            seen[cw as usize] = stamp;
        }
        for w in adj(v) {
            let cw = colour[w];
            if cw == NONE {
                continue;
            }
            let inner = twice.contains(&cw);
            for x in adj(w) {
                let cx = colour[x];
                if x == v || cx == NONE {
                    continue;
                }
                // v - w - x - y with c(y) = c(w), y != w: x has two neighbours of colour c(w).
                let end = near.get(&key(x, cw)).copied().unwrap_or(0) >= 2;
                if end || inner {
                    forbidden[cx as usize] = stamp;
                }
            }
        }
        let c = (0..).find(|&c| forbidden[c] != stamp).unwrap_or(0);
        colour[v] = c as u32;
        count = count.max(c + 1);
        for w in adj(v) {
            *near.entry(key(w, c as u32)).or_insert(0) += 1;
        }
    }
    Ok((colour, count))
}

/// [`star_colouring`] with the fewest colours over the three orderings.
pub fn best_star_colouring(func: &'static str, p: &Pattern) -> Result<(Vec<u32>, usize, Ordering)> {
    let mut out: Option<(Vec<u32>, usize, Ordering)> = None;
    for o in [
        Ordering::SmallestLast,
        Ordering::LargestFirst,
        Ordering::Natural,
    ] {
        let (c, k) = star_colouring(func, p, o)?;
        if out.as_ref().is_none_or(|b| k < b.1) {
            out = Some((c, k, o));
        }
    }
    Ok(out.expect("three orderings tried"))
}

/// A cheap hasher for the `u64` keys of the star colouring (SipHash costs more than the colouring
/// itself).
#[derive(Default, Clone, Copy)]
struct Fx(u64);

impl std::hash::Hasher for Fx {
    fn finish(&self) -> u64 {
        // splitmix64's finaliser: every bit of the key reaches the low bits the table indexes by.
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

type BuildFx = std::hash::BuildHasherDefault<Fx>;

/// Where entry `(i, j)` of a symmetric matrix can be read from its products with the colours of a
/// star colouring: `Some(false)` from row `i` of the product with colour `c(j)` (no other neighbour
/// of `i` has that colour), `Some(true)` from row `j` of the product with colour `c(i)`, `None` if
/// neither (the colouring is no star colouring).
pub fn star_source(p: &Pattern, colour: &[u32], i: usize, j: usize) -> Option<bool> {
    let alone = |row: usize, col: usize| {
        p.row(row)
            .iter()
            .all(|&k| k as usize == col || colour[k as usize] != colour[col])
    };
    if alone(i, j) {
        Some(false)
    } else if alone(j, i) {
        Some(true)
    } else {
        None
    }
}
