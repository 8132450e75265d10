//! Colourings of sparsity patterns, so that one evaluation of `f` (or of its gradient) serves many
//! columns of a sparse Jacobian or Hessian at once.
//!
//! - [`column_colouring`]: columns that share no row get the same colour (Curtis, Powell and Reid,
//!   "On the estimation of sparse Jacobian matrices", *J. Inst. Math. Appl.* 13 (1974)): a
//!   distance-1 colouring of the column intersection graph, greedy in a chosen [`Ordering`].
//!   Perturbing all columns of one colour at once changes each row through at most one of them.
//! - [`star_colouring`]: a colouring of the adjacency graph of a symmetric pattern in which
//!   neighbours differ and every path on four vertices uses at least three colours (Coleman and
//!   Moré, "Estimation of sparse Hessian matrices and graph coloring problems", *Math. Prog.* 28
//!   (1984)); with it every entry of a symmetric matrix is read directly from the products with
//!   the colours ([`star_source`]), with fewer colours than a column colouring (two for an
//!   arrowhead, where columns need `n`).
//!
//! The greedy colourings take vertices in an [`Ordering`]; [`Ordering::SmallestLast`] (Matula and
//! Beck, *J. ACM* 30 (1983)) and [`Ordering::LargestFirst`] (Welsh and Powell, 1967) usually need
//! fewer colours than the natural order; [`best_column_colouring`] tries each and keeps the fewest
//! (A. H. Gebremedhin, F. Manne and A. Pothen, "What color is your Jacobian? Graph coloring for
//! computing derivatives", *SIAM Review* 47 (2005), the survey these algorithms follow).
//!
//! Every algorithm here is sequential and deterministic; the cost of each is
//! `O(Σ_rows |row|²)` (the edges of the column intersection graph, enumerated on the fly: nothing
//! of that size is stored).

use crate::error::{Error, Result};

mod star;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_values;

pub use star::{best_star_colouring, star_colouring, star_source};

/// A sparsity pattern of an `m × n` matrix, held by rows and by columns (sorted, no duplicates).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    m: usize,
    n: usize,
    row_ptr: Vec<usize>,
    col_idx: Vec<u32>,
    col_ptr: Vec<usize>,
    row_idx: Vec<u32>,
}

impl Pattern {
    /// The pattern of the CSR arrays `indptr` (`m + 1` offsets) and `indices` (column of each
    /// entry, in `0..n`); entries of a row may be unsorted or repeated.
    ///
    /// Errors ([`Error::InvalidParameter`] naming `func` and `sparsity`): offsets that do not
    /// start at 0, decrease or do not end at `indices.len()`, a column index outside `0..n`, or a
    /// dimension above `u32::MAX`.
    pub fn from_csr(
        func: &'static str,
        m: usize,
        n: usize,
        indptr: &[i64],
        indices: &[i64],
    ) -> Result<Self> {
        let bad = |msg: String| Error::param(func, "sparsity", msg);
        if m > u32::MAX as usize || n > u32::MAX as usize {
            return Err(bad(format!("is too large: shape ({m}, {n})")));
        }
        Error::check_len(func, "sparsity indptr", indptr.len(), m + 1)?;
        if indptr[0] != 0 || indptr[m] != indices.len() as i64 {
            return Err(bad(format!(
                "offsets must run from 0 to {}, got {} to {}",
                indices.len(),
                indptr[0],
                indptr[m]
            )));
        }
        let mut row_ptr = Vec::with_capacity(m + 1);
        let mut col_idx: Vec<u32> = Vec::with_capacity(indices.len());
        row_ptr.push(0);
        for r in 0..m {
            let (a, b) = (indptr[r], indptr[r + 1]);
            if b < a || b > indices.len() as i64 {
                return Err(bad(format!(
                    "offsets must not decrease nor pass {}, got {a} then {b}",
                    indices.len()
                )));
            }
            let start = col_idx.len();
            for &j in &indices[a as usize..b as usize] {
                if !(0..n as i64).contains(&j) {
                    return Err(bad(format!("column index {j} is outside 0..{n}")));
                }
                col_idx.push(j as u32);
            }
            col_idx[start..].sort_unstable();
            let mut w = start;
            for k in start..col_idx.len() {
                if k == start || col_idx[k] != col_idx[w - 1] {
                    col_idx[w] = col_idx[k];
                    w += 1;
                }
            }
            col_idx.truncate(w);
            row_ptr.push(col_idx.len());
        }
        // Transpose: rows of each column, sorted since rows are visited in order.
        let mut col_ptr = vec![0usize; n + 1];
        for &j in &col_idx {
            col_ptr[j as usize + 1] += 1;
        }
        for j in 0..n {
            col_ptr[j + 1] += col_ptr[j];
        }
        let mut next = col_ptr.clone();
        let mut row_idx = vec![0u32; col_idx.len()];
        for r in 0..m {
            for &j in &col_idx[row_ptr[r]..row_ptr[r + 1]] {
                row_idx[next[j as usize]] = r as u32;
                next[j as usize] += 1;
            }
        }
        Ok(Pattern {
            m,
            n,
            row_ptr,
            col_idx,
            col_ptr,
            row_idx,
        })
    }

    /// Rows.
    pub fn m(&self) -> usize {
        self.m
    }
    /// Columns.
    pub fn n(&self) -> usize {
        self.n
    }
    /// Entries.
    pub fn nnz(&self) -> usize {
        self.col_idx.len()
    }
    /// The columns of row `r`, sorted.
    pub fn row(&self, r: usize) -> &[u32] {
        &self.col_idx[self.row_ptr[r]..self.row_ptr[r + 1]]
    }
    /// The rows of column `j`, sorted.
    pub fn col(&self, j: usize) -> &[u32] {
        &self.row_idx[self.col_ptr[j]..self.col_ptr[j + 1]]
    }
    /// CSR offsets (`m + 1`).
    pub fn row_ptr(&self) -> &[usize] {
        &self.row_ptr
    }
    /// CSR column indices, row by row, sorted within each row.
    pub fn col_idx(&self) -> &[u32] {
        &self.col_idx
    }
    /// Whether the pattern is square and equal to its transpose.
    pub fn is_symmetric(&self) -> bool {
        self.m == self.n && self.row_ptr == self.col_ptr && self.col_idx == self.row_idx
    }
    /// The pattern of `A + Aᵀ + I` (square only): what a Hessian's pattern must be.
    ///
    /// Errors: [`Error::InvalidParameter`] naming `func` and `sparsity` if the pattern is not square.
    pub fn symmetrised(&self, func: &'static str) -> Result<Pattern> {
        if self.m != self.n {
            return Err(Error::param(
                func,
                "sparsity",
                format!("must be square, got shape ({}, {})", self.m, self.n),
            ));
        }
        let n = self.n;
        let mut indptr = Vec::with_capacity(n + 1);
        let mut indices = Vec::with_capacity(2 * self.nnz() + n);
        indptr.push(0i64);
        for i in 0..n {
            indices.push(i as i64);
            indices.extend(self.row(i).iter().map(|&j| i64::from(j)));
            indices.extend(self.col(i).iter().map(|&r| i64::from(r)));
            indptr.push(indices.len() as i64);
        }
        Pattern::from_csr(func, n, n, &indptr, &indices)
    }

    /// The largest number of entries in a row: a lower bound on the colours of any column
    /// colouring.
    pub fn max_row_len(&self) -> usize {
        (0..self.m).map(|r| self.row(r).len()).max().unwrap_or(0)
    }
}

/// The order in which a greedy colouring takes the vertices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ordering {
    /// Index order: what scipy's `group_columns` does.
    Natural,
    /// Decreasing degree (ties by index).
    LargestFirst,
    /// Repeatedly remove a vertex of smallest degree in what remains; colour in the reverse order
    /// of removal. Never needs more than one colour more than the degeneracy of the graph.
    SmallestLast,
}

/// The graph whose vertices are coloured: columns adjacent if they share a row, or (for a
/// symmetric pattern) the adjacency graph `i ~ j` iff entry `(i, j)` is in the pattern, `i != j`.
#[derive(Clone, Copy)]
enum Graph<'a> {
    Columns(&'a Pattern),
    Adjacency(&'a Pattern),
}

impl Graph<'_> {
    fn len(&self) -> usize {
        match self {
            Graph::Columns(p) | Graph::Adjacency(p) => p.n,
        }
    }

    /// Calls `visit` once per neighbour of `v` (the `stamp` array deduplicates: `mark[u] == tag`).
    fn neighbours(&self, v: usize, mark: &mut [u32], tag: u32, mut visit: impl FnMut(usize)) {
        mark[v] = tag;
        match self {
            Graph::Columns(p) => {
                for &r in p.col(v) {
                    for &u in p.row(r as usize) {
                        if mark[u as usize] != tag {
                            mark[u as usize] = tag;
                            visit(u as usize);
                        }
                    }
                }
            }
            Graph::Adjacency(p) => {
                for &u in p.row(v) {
                    if mark[u as usize] != tag {
                        mark[u as usize] = tag;
                        visit(u as usize);
                    }
                }
            }
        }
    }

    fn degrees(&self, mark: &mut [u32], tag: &mut u32) -> Vec<usize> {
        (0..self.len())
            .map(|v| {
                *tag = tag.wrapping_add(1);
                let mut d = 0;
                self.neighbours(v, mark, *tag, |_| d += 1);
                d
            })
            .collect()
    }

    fn order(&self, ordering: Ordering, mark: &mut [u32], tag: &mut u32) -> Vec<usize> {
        let n = self.len();
        match ordering {
            Ordering::Natural => (0..n).collect(),
            Ordering::LargestFirst => {
                let deg = self.degrees(mark, tag);
                let mut o: Vec<usize> = (0..n).collect();
                o.sort_by_key(|&v| std::cmp::Reverse(deg[v]));
                o
            }
            Ordering::SmallestLast => self.smallest_last(mark, tag),
        }
    }

    /// Matula and Beck's smallest-last order with a bucket queue (doubly linked lists by degree).
    fn smallest_last(&self, mark: &mut [u32], tag: &mut u32) -> Vec<usize> {
        const NIL: usize = usize::MAX;
        let n = self.len();
        let mut deg = self.degrees(mark, tag);
        let mut head = vec![NIL; n + 1];
        let (mut next, mut prev) = (vec![NIL; n], vec![NIL; n]);
        let push =
            |v: usize, d: usize, head: &mut [usize], next: &mut [usize], prev: &mut [usize]| {
                next[v] = head[d];
                prev[v] = NIL;
                if head[d] != NIL {
                    prev[head[d]] = v;
                }
                head[d] = v;
            };
        let unlink =
            |v: usize, d: usize, head: &mut [usize], next: &mut [usize], prev: &mut [usize]| {
                if prev[v] != NIL {
                    next[prev[v]] = next[v];
                } else {
                    head[d] = next[v];
                }
                if next[v] != NIL {
                    prev[next[v]] = prev[v];
                }
            };
        // Pushed in reverse so that, among equal degrees, lower indices come out first.
        for v in (0..n).rev() {
            push(v, deg[v], &mut head, &mut next, &mut prev);
        }
        let mut removed = vec![false; n];
        let mut order = Vec::with_capacity(n);
        let mut low = 0;
        let mut touched = Vec::new();
        for _ in 0..n {
            while head[low] == NIL {
                low += 1;
            }
            let v = head[low];
            unlink(v, low, &mut head, &mut next, &mut prev);
            removed[v] = true;
            order.push(v);
            *tag = tag.wrapping_add(1);
            touched.clear();
            self.neighbours(v, mark, *tag, |u| touched.push(u));
            for &u in &touched {
                if !removed[u] {
                    unlink(u, deg[u], &mut head, &mut next, &mut prev);
                    deg[u] -= 1;
                    push(u, deg[u], &mut head, &mut next, &mut prev);
                    low = low.min(deg[u]);
                }
            }
        }
        order.reverse();
        order
    }
}

const NONE: u32 = u32::MAX;

/// A greedy column colouring of `p` in `ordering`: `colours[j]` in `0..n_colours`, and no two
/// columns of one colour share a row. Returns the colours and their number.
pub fn column_colouring(p: &Pattern, ordering: Ordering) -> (Vec<u32>, usize) {
    let g = Graph::Columns(p);
    let n = p.n;
    let (mut mark, mut tag) = (vec![0u32; n], 0u32);
    let order = g.order(ordering, &mut mark, &mut tag);
    let mut colour = vec![NONE; n];
    // forbidden[c] == v + 1: colour c is taken by a neighbour of v.
    let mut forbidden = vec![0usize; n + 1];
    let mut count = 0;
    for &v in &order {
        for &r in p.col(v) {
            for &u in p.row(r as usize) {
                if colour[u as usize] != NONE {
                    forbidden[colour[u as usize] as usize] = v + 1;
                }
            }
        }
        let c = (0..).find(|&c| forbidden[c] != v + 1).unwrap_or(0);
        colour[v] = c as u32;
        count = count.max(c + 1);
    }
    (colour, count)
}

/// The fewest colours of [`column_colouring`] over smallest-last, largest-first and natural
/// orders (tried in that order; ties keep the first): colours, their number and the ordering.
pub fn best_column_colouring(p: &Pattern) -> (Vec<u32>, usize, Ordering) {
    best(|o| column_colouring(p, o))
}

fn best(f: impl Fn(Ordering) -> (Vec<u32>, usize)) -> (Vec<u32>, usize, Ordering) {
    let mut out: Option<(Vec<u32>, usize, Ordering)> = None;
    for o in [
        Ordering::SmallestLast,
        Ordering::LargestFirst,
        Ordering::Natural,
    ] {
        let (c, k) = f(o);
        if out.as_ref().is_none_or(|b| k < b.1) {
            out = Some((c, k, o));
        }
    }
    out.expect("three orderings tried")
}
