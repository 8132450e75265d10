//! Exact colourings against brute-force twins: the greedy colourings vertex by vertex, the three
//! orders, the sources of a star colouring and the pattern's own accessors, each pinned where the
//! validity checks in `tests.rs` (any proper colouring passes them) cannot see a change.

use super::*;

/// The pattern of the `(i, j)` pairs, `m × n`.
fn pattern(m: usize, n: usize, entries: impl IntoIterator<Item = (usize, usize)>) -> Pattern {
    let mut rows = vec![Vec::new(); m];
    for (i, j) in entries {
        rows[i].push(j as i64);
    }
    let mut indptr = vec![0i64];
    let mut indices = Vec::new();
    for r in rows {
        indices.extend(r);
        indptr.push(indices.len() as i64);
    }
    Pattern::from_csr("test", m, n, &indptr, &indices).unwrap()
}

/// splitmix64 of the index: a deterministic stand-in for random entries.
fn mix(i: u64) -> u64 {
    let mut z = i.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn random(m: usize, n: usize, per_row: usize, seed: u64) -> Pattern {
    pattern(
        m,
        n,
        (0..m * per_row).map(|e| (e / per_row, (mix(seed + e as u64) % n as u64) as usize)),
    )
}

/// The pattern plus its transpose plus the diagonal (built entry by entry, not by `symmetrised`).
fn symmetric(p: &Pattern) -> Pattern {
    let n = p.n();
    let mut e: Vec<(usize, usize)> = (0..n).map(|i| (i, i)).collect();
    for i in 0..n {
        for &j in p.row(i) {
            e.extend([(i, j as usize), (j as usize, i)]);
        }
    }
    pattern(n, n, e)
}

/// Dense adjacency of the graph: columns sharing a row, or off-diagonal entries.
fn adjacency(p: &Pattern, columns: bool) -> Vec<Vec<bool>> {
    let n = p.n();
    let mut a = vec![vec![false; n]; n];
    for r in 0..p.m() {
        for &u in p.row(r) {
            if columns {
                for &v in p.row(r) {
                    a[u as usize][v as usize] = true;
                }
            } else {
                a[r][u as usize] = true;
            }
        }
    }
    for (v, row) in a.iter_mut().enumerate() {
        row[v] = false;
    }
    a
}

fn degree(a: &[Vec<bool>], v: usize, alive: &[bool]) -> usize {
    (0..a.len()).filter(|&u| alive[u] && a[v][u]).count()
}

/// The order's definition, checked step by step: a permutation whose reverse removes, each time,
/// a vertex of smallest degree among those left (the first one the lowest such index).
fn assert_smallest_last(a: &[Vec<bool>], order: &[usize]) {
    let n = a.len();
    assert_eq!(order.len(), n);
    let mut alive = vec![true; n];
    for (step, &v) in order.iter().rev().enumerate() {
        assert!(alive[v], "{v} removed twice");
        let low = (0..n)
            .filter(|&u| alive[u])
            .map(|u| degree(a, u, &alive))
            .min()
            .unwrap();
        assert_eq!(
            degree(a, v, &alive),
            low,
            "step {step}: {v} is not of least degree"
        );
        if step == 0 {
            assert_eq!(
                Some(v),
                (0..n).find(|&u| degree(a, u, &alive) == low),
                "ties go to the lowest index"
            );
        }
        alive[v] = false;
    }
}

/// Greedy distance-1 colouring of the graph `a` in `order`.
fn greedy(a: &[Vec<bool>], order: &[usize]) -> (Vec<u32>, usize) {
    let mut c = vec![NONE; a.len()];
    for &v in order {
        c[v] = (0..)
            .find(|&k| (0..a.len()).all(|u| !a[v][u] || c[u] != k))
            .unwrap();
    }
    let k = c.iter().map(|&x| x as usize + 1).max().unwrap_or(0);
    (c, k)
}

/// Whether some path on four vertices through `v` (among coloured ones) has only two colours.
fn two_coloured_p4(a: &[Vec<bool>], c: &[u32], v: usize) -> bool {
    let n = a.len();
    let ok = |u: usize| c[u] != NONE;
    let nb = |u: usize| (0..n).filter(move |&w| a[u][w] && ok(w));
    let mut paths = Vec::new();
    for w in nb(v) {
        for x in nb(w).filter(|&x| x != v) {
            for y in nb(x).filter(|&y| y != v && y != w) {
                paths.push([v, w, x, y]); // v at an end
            }
            for u in nb(v).filter(|&u| u != w && u != x) {
                paths.push([u, v, w, x]); // v inside
            }
        }
    }
    paths
        .iter()
        .any(|p| c[p[0]] == c[p[2]] && c[p[1]] == c[p[3]])
}

/// Greedy star colouring in `order`: each vertex takes the smallest colour that differs from its
/// neighbours' and leaves no two-coloured path on four coloured vertices.
fn greedy_star(a: &[Vec<bool>], order: &[usize]) -> (Vec<u32>, usize) {
    let mut c = vec![NONE; a.len()];
    for &v in order {
        c[v] = (0..)
            .find(|&k| {
                c[v] = k;
                (0..a.len()).all(|u| !a[v][u] || c[u] != k) && !two_coloured_p4(a, &c, v)
            })
            .unwrap();
    }
    let k = c.iter().map(|&x| x as usize + 1).max().unwrap_or(0);
    (c, k)
}

fn orders(g: Graph<'_>) -> [Vec<usize>; 3] {
    let (mut mark, mut tag) = (vec![0u32; g.len()], 0u32);
    [
        Ordering::Natural,
        Ordering::LargestFirst,
        Ordering::SmallestLast,
    ]
    .map(|o| g.order(o, &mut mark, &mut tag))
}

fn patterns() -> Vec<Pattern> {
    let mut v = vec![
        // a crown: columns 2i and 2j + 1 share a row iff i != j
        pattern(
            12,
            8,
            (0..4)
                .flat_map(|i| (0..4).filter(move |&j| j != i).map(move |j| (i, j)))
                .enumerate()
                .flat_map(|(r, (i, j))| [(r, 2 * i), (r, 2 * j + 1)]),
        ),
        pattern(3, 5, [(0, 4), (1, 4), (2, 0)]),
        pattern(0, 0, []),
    ];
    for seed in 0..12u64 {
        let (m, n) = (
            4 + (mix(seed) % 25) as usize,
            3 + (mix(seed + 7) % 25) as usize,
        );
        v.push(random(m, n, 1 + (seed % 3) as usize, seed * 131));
    }
    v
}

#[test]
fn degrees_and_the_three_orders_follow_their_definitions() {
    for p in patterns() {
        let s = symmetric(&p_square(&p));
        for (g, columns) in [(Graph::Columns(&p), true), (Graph::Adjacency(&s), false)] {
            let a = adjacency(if columns { &p } else { &s }, columns);
            let n = a.len();
            let all = vec![true; n];
            let (mut mark, mut tag) = (vec![0u32; n], 0u32);
            let deg: Vec<usize> = (0..n).map(|v| degree(&a, v, &all)).collect();
            assert_eq!(g.degrees(&mut mark, &mut tag), deg);
            let [natural, largest, smallest] = orders(g);
            assert_eq!(natural, (0..n).collect::<Vec<_>>());
            let mut want: Vec<usize> = (0..n).collect();
            want.sort_by(|&u, &v| deg[v].cmp(&deg[u]).then(u.cmp(&v)));
            assert_eq!(largest, want);
            assert_smallest_last(&a, &smallest);
        }
    }
}

#[test]
fn greedy_colourings_are_the_brute_force_greedy_in_each_order() {
    for p in patterns() {
        let a = adjacency(&p, true);
        for (o, order) in ORDERINGS.iter().zip(orders(Graph::Columns(&p))) {
            assert_eq!(column_colouring(&p, *o), greedy(&a, &order), "{o:?}");
        }
        let s = symmetric(&p_square(&p));
        let a = adjacency(&s, false);
        for (o, order) in ORDERINGS.iter().zip(orders(Graph::Adjacency(&s))) {
            assert_eq!(
                star_colouring("t", &s, *o).unwrap(),
                greedy_star(&a, &order),
                "{o:?}"
            );
        }
    }
}

const ORDERINGS: [Ordering; 3] = [
    Ordering::Natural,
    Ordering::LargestFirst,
    Ordering::SmallestLast,
];

/// The square pattern on the columns of `p`: `(r mod n, j)` for each entry `(r, j)`.
fn p_square(p: &Pattern) -> Pattern {
    let n = p.n();
    pattern(
        n,
        n,
        (0..p.m()).flat_map(|r| p.row(r).iter().map(move |&j| (r % n.max(1), j as usize))),
    )
}

#[test]
fn the_best_colouring_is_the_first_ordering_with_the_fewest_colours() {
    let tri = pattern(
        10,
        10,
        (0..10usize).flat_map(|i| (i.saturating_sub(1)..(i + 2).min(10)).map(move |j| (i, j))),
    );
    // every order takes three colours: the tie keeps the first tried
    assert_eq!(best_column_colouring(&tri).2, Ordering::SmallestLast);
    let (c, k) = column_colouring(&tri, Ordering::SmallestLast);
    assert_eq!(best_column_colouring(&tri), (c, k, Ordering::SmallestLast));
    let (c, k) = star_colouring("t", &tri, Ordering::SmallestLast).unwrap();
    assert_eq!(
        best_star_colouring("t", &tri).unwrap(),
        (c, k, Ordering::SmallestLast)
    );
    for p in patterns() {
        let counts = ORDERINGS.map(|o| column_colouring(&p, o).1);
        let k = *counts.iter().min().unwrap();
        let first = [2, 1, 0].into_iter().find(|&i| counts[i] == k).unwrap();
        assert_eq!(best_column_colouring(&p).1, k);
        assert_eq!(best_column_colouring(&p).2, ORDERINGS[first]);
        let s = symmetric(&p_square(&p));
        let counts = ORDERINGS.map(|o| star_colouring("t", &s, o).unwrap().1);
        let k = *counts.iter().min().unwrap();
        let first = [2, 1, 0].into_iter().find(|&i| counts[i] == k).unwrap();
        let best = best_star_colouring("t", &s).unwrap();
        assert_eq!((best.1, best.2), (k, ORDERINGS[first]));
    }
}

#[test]
fn star_sources_are_the_rows_where_the_entry_is_alone_in_its_colour() {
    // star colourings and then deliberately bad ones (all one colour, two colours alternating)
    for p in patterns() {
        let s = symmetric(&p_square(&p));
        let n = s.n();
        let (star, _) = star_colouring("t", &s, Ordering::Natural).unwrap();
        let alternating: Vec<u32> = (0..n as u32).map(|v| v % 2).collect();
        for colour in [star, vec![0; n], alternating] {
            let alone = |row: usize, col: usize| {
                s.row(row)
                    .iter()
                    .filter(|&&k| k as usize != col)
                    .all(|&k| colour[k as usize] != colour[col])
            };
            for i in 0..n {
                for j in 0..n {
                    let want = if alone(i, j) {
                        Some(false)
                    } else if alone(j, i) {
                        Some(true)
                    } else {
                        None
                    };
                    assert_eq!(star_source(&s, &colour, i, j), want, "({i}, {j})");
                }
            }
        }
    }
    // an arrowhead: the hub's entries are read from the leaves' rows, the leaves' from the hub's
    let arrow = pattern(4, 4, (0..4).flat_map(|i| [(0, i), (i, 0), (i, i)]));
    let c = [0, 1, 1, 1];
    assert_eq!(star_source(&arrow, &c, 0, 2), Some(true));
    assert_eq!(star_source(&arrow, &c, 2, 0), Some(false));
    assert_eq!(star_source(&arrow, &c, 0, 0), Some(false));
    assert_eq!(star_source(&arrow, &[0, 0, 0, 0], 1, 2), None);
}

#[test]
fn the_pattern_accessors_give_its_csr_and_its_symmetrisation() {
    let p = Pattern::from_csr("t", 3, 4, &[0, 3, 3, 5], &[3, 1, 3, 0, 2]).unwrap();
    assert_eq!((p.m(), p.n(), p.nnz()), (3, 4, 4));
    assert_eq!(p.row_ptr(), &[0, 2, 2, 4]);
    assert_eq!(p.col_idx(), &[1, 3, 0, 2]);
    assert_eq!(p.max_row_len(), 2);
    assert_eq!(
        [p.col(0), p.col(1), p.col(2), p.col(3)],
        [&[2][..], &[0], &[2], &[0]]
    );
    assert!(!p.is_symmetric());
    assert_eq!(pattern(0, 3, []).max_row_len(), 0);
    let e = p.symmetrised("hessian").unwrap_err().to_string();
    assert!(
        e.contains("hessian: sparsity must be square, got shape (3, 4)"),
        "{e}"
    );
    // A + Aᵀ + I of an upper bidiagonal 3 × 3 pattern is tridiagonal
    let q = pattern(3, 3, [(0, 1), (1, 2)]);
    assert!(!q.is_symmetric());
    let s = q.symmetrised("hessian").unwrap();
    assert!(s.is_symmetric());
    assert_eq!(s.row_ptr(), &[0, 2, 5, 7]);
    assert_eq!(s.col_idx(), &[0, 1, 0, 1, 2, 1, 2]);
    assert_eq!(s.symmetrised("hessian").unwrap(), s);
    assert!(pattern(2, 2, [(0, 1), (1, 0)]).is_symmetric());
    // equal index arrays (`[0]` by rows and by columns) but a 1 × 2 shape: not symmetric
    assert!(!pattern(1, 2, [(0, 0)]).is_symmetric());
}

#[test]
fn each_check_of_the_csr_arrays_names_its_fault() {
    let e = |m, n, indptr: &[i64], indices: &[i64]| {
        Pattern::from_csr("jacobian", m, n, indptr, indices)
            .unwrap_err()
            .to_string()
    };
    let big = u32::MAX as usize;
    // the size check comes first, for either dimension, and u32::MAX itself is allowed (the
    // offsets are short, so that a size check that let a huge `n` through fails on them before
    // allocating `n` column offsets)
    assert!(e(big + 1, 1, &[0], &[]).contains("too large: shape (4294967296, 1)"));
    assert!(e(1, big + 1, &[0], &[]).contains("too large: shape (1, 4294967296)"));
    assert!(e(big, 1, &[0], &[]).contains("sparsity indptr has length 1"));
    assert!(e(1, big, &[0], &[]).contains("sparsity indptr has length 1"));
    assert!(e(1, 2, &[0, 0], &[1]).contains("offsets must run from 0 to 1, got 0 to 0"));
    assert!(e(1, 2, &[1, 1], &[1]).contains("offsets must run from 0 to 1, got 1 to 1"));
    assert!(e(3, 2, &[0, 1, 0, 1], &[0]).contains("must not decrease nor pass 1, got 1 then 0"));
    assert!(e(3, 2, &[0, 3, 1, 2], &[0, 1]).contains("got 0 then 3"));
    assert!(e(1, 2, &[0, 1], &[-1]).contains("column index -1 is outside 0..2"));
    // a full last row and empty rows are fine
    let p = Pattern::from_csr("jacobian", 3, 2, &[0, 0, 2, 2], &[1, 0]).unwrap();
    assert_eq!(
        (p.row(0), p.row(1), p.row(2)),
        (&[][..], &[0, 1][..], &[][..])
    );
}
