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

fn banded(n: usize, b: usize) -> Pattern {
    pattern(
        n,
        n,
        (0..n).flat_map(|i| (i.saturating_sub(b)..(i + b + 1).min(n)).map(move |j| (i, j))),
    )
}

/// A deterministic stand-in for random entries (splitmix64 of the index).
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
        (0..m).flat_map(|i| {
            (0..per_row).map(move |k| {
                (
                    i,
                    (mix(seed + (i * per_row + k) as u64) % n as u64) as usize,
                )
            })
        }),
    )
}

fn symmetric(p: &Pattern) -> Pattern {
    let n = p.n();
    pattern(
        n,
        n,
        (0..n)
            .flat_map(|i| {
                p.row(i)
                    .iter()
                    .flat_map(move |&j| [(i, j as usize), (j as usize, i)])
            })
            .chain((0..n).map(|i| (i, i))),
    )
}

fn assert_column_colouring(p: &Pattern, colour: &[u32], k: usize) {
    assert!(colour.iter().all(|&c| (c as usize) < k));
    for r in 0..p.m() {
        let mut seen = std::collections::HashSet::new();
        for &j in p.row(r) {
            assert!(
                seen.insert(colour[j as usize]),
                "row {r} has two columns of colour {}",
                colour[j as usize]
            );
        }
    }
    assert!(k >= p.max_row_len());
}

fn assert_star_colouring(p: &Pattern, colour: &[u32]) {
    let n = p.n();
    let adj = |v: usize| {
        p.row(v)
            .iter()
            .map(|&u| u as usize)
            .filter(move |&u| u != v)
    };
    for v in 0..n {
        for w in adj(v) {
            assert_ne!(colour[v], colour[w], "neighbours {v}, {w}");
            for x in adj(w).filter(|&x| x != v) {
                for y in adj(x).filter(|&y| y != w && y != v) {
                    let two = colour[v] == colour[x] && colour[w] == colour[y];
                    assert!(!two, "path {v}-{w}-{x}-{y} has two colours");
                }
            }
        }
        for &j in p.row(v) {
            assert!(
                star_source(p, colour, v, j as usize).is_some(),
                "entry ({v}, {j})"
            );
        }
    }
}

const ORDERINGS: [Ordering; 3] = [
    Ordering::Natural,
    Ordering::LargestFirst,
    Ordering::SmallestLast,
];

#[test]
fn a_tridiagonal_pattern_takes_three_colours_at_any_size() {
    for n in [3, 4, 10, 10_000] {
        let p = banded(n, 1);
        for o in ORDERINGS {
            let (c, k) = column_colouring(&p, o);
            assert_eq!(k, 3, "{o:?} n={n}");
            assert_column_colouring(&p, &c, k);
        }
        let (c, k) = star_colouring("t", &p, Ordering::SmallestLast).unwrap();
        assert_eq!(k, if n == 3 { 2 } else { 3 }); // a path of three needs only two
        if n <= 10 {
            assert_star_colouring(&p, &c);
        }
    }
}

#[test]
fn banded_patterns_take_their_width_in_colours() {
    for b in [2, 3, 5] {
        let p = banded(200, b);
        let (c, k, _) = best_column_colouring(&p);
        assert_eq!(k, 2 * b + 1);
        assert_column_colouring(&p, &c, k);
        let (c, _, _) = best_star_colouring("t", &p).unwrap();
        assert_star_colouring(&p, &c);
    }
}

#[test]
fn arrowheads_take_n_column_colours_but_two_star_colours() {
    let n = 50;
    // dense first row and column plus the diagonal
    let arrow = pattern(n, n, (0..n).flat_map(|i| [(0, i), (i, 0), (i, i)]));
    let (_, k, _) = best_column_colouring(&arrow);
    assert_eq!(k, n);
    for o in ORDERINGS {
        let (c, k) = star_colouring("t", &arrow, o).unwrap();
        assert_eq!(k, 2, "{o:?}");
        assert_star_colouring(&arrow, &c);
    }
    // only the dense column (a Jacobian): two colours
    let col = pattern(n, n, (0..n).flat_map(|i| [(i, 0), (i, i)]));
    assert_eq!(best_column_colouring(&col).1, 2);
}

#[test]
fn smallest_last_beats_the_natural_order_on_a_crown() {
    // Columns a_i = 2i and b_i = 2i + 1 share a row iff i != j: greedy in index order needs k colours.
    let k = 8;
    let entries: Vec<(usize, usize)> = (0..k)
        .flat_map(|i| (0..k).filter(move |&j| j != i).map(move |j| (i, j)))
        .enumerate()
        .flat_map(|(r, (i, j))| [(r, 2 * i), (r, 2 * j + 1)])
        .collect();
    let p = pattern(k * (k - 1), 2 * k, entries);
    assert_eq!(column_colouring(&p, Ordering::Natural).1, k);
    let (c, best, _) = best_column_colouring(&p);
    assert_eq!(best, 2);
    assert_column_colouring(&p, &c, best);
}

#[test]
fn random_patterns_give_valid_colourings_in_every_ordering() {
    for seed in 0..20u64 {
        let (m, n) = (
            5 + (mix(seed) % 40) as usize,
            3 + (mix(seed + 99) % 40) as usize,
        );
        let p = random(m, n, 1 + (seed % 4) as usize, seed * 1000);
        for o in ORDERINGS {
            let (c, k) = column_colouring(&p, o);
            assert_column_colouring(&p, &c, k);
        }
        let s = symmetric(&random(n, n, 1 + (seed % 3) as usize, seed * 7777));
        for o in ORDERINGS {
            let (c, _) = star_colouring("t", &s, o).unwrap();
            assert_star_colouring(&s, &c);
        }
        // A star colouring never needs more colours than a column colouring of the same pattern.
        assert!(best_star_colouring("t", &s).unwrap().1 <= best_column_colouring(&s).1);
    }
}

#[test]
fn patterns_are_checked() {
    let e = |r: Result<Pattern>| r.unwrap_err().to_string();
    assert!(e(Pattern::from_csr("jacobian", 2, 2, &[0, 1], &[0]))
        .contains("sparsity indptr has length 2"));
    assert!(e(Pattern::from_csr("jacobian", 1, 2, &[0, 1], &[2]))
        .contains("column index 2 is outside 0..2"));
    assert!(
        e(Pattern::from_csr("jacobian", 1, 2, &[1, 1], &[0])).contains("offsets must run from 0")
    );
    assert!(e(Pattern::from_csr("jacobian", 2, 2, &[0, 2, 1], &[0])).contains("offsets must"));
    // unsorted, repeated entries are fine
    let p = Pattern::from_csr("jacobian", 1, 3, &[0, 4], &[2, 0, 2, 1]).unwrap();
    assert_eq!(p.row(0), &[0, 1, 2]);
    assert_eq!(p.col(2), &[0]);
    let q = pattern(2, 2, [(0, 1)]);
    assert!(star_colouring("hessian", &q, Ordering::Natural)
        .unwrap_err()
        .to_string()
        .starts_with("hessian: sparsity must be a symmetric pattern"));
    // empty patterns
    let z = pattern(0, 0, []);
    assert_eq!(best_column_colouring(&z).1, 0);
    let z = pattern(3, 4, []);
    let (c, k, _) = best_column_colouring(&z);
    assert_eq!((k, c.len()), (1, 4));
}
