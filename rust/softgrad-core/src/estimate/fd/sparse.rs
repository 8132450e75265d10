//! Sparse Jacobians (and Hessians from a gradient) by colouring: every column of one colour is
//! moved at once, by its own step and stencil node, so one evaluation serves the whole colour.
//!
//! With a column colouring ([`colour::column_colouring`]) no two columns of a colour share a row, so
//! the change of output `r` at the points of colour `c` comes from the one column `j` of colour `c`
//! in row `r`: entry `(r, j)` is assembled from those values with column `j`'s weights, exactly as
//! a dense [`Plan`] assembles it from the points of coordinate `j` (a column at a bound may take a
//! one-sided stencil while the others of its colour are central: each column's nodes are its own).
//!
//! For the Hessian `H = ∇g` of a gradient `g`, a star colouring ([`colour::star_colouring`]) of the
//! symmetric pattern reads every entry directly (Coleman and Moré's direct method, after Powell
//! and Toint): entry `(i, j)` from row `i` of colour `c(j)` when `j` is the only neighbour of `i`
//! with that colour, else from row `j` of colour `c(i)`; when both are possible the two estimates
//! are averaged. Entries `(i, j)` and `(j, i)` get the same value: the result is symmetric.

use super::{Dtype, Options, Plan};
use crate::error::{Error, Result};
use crate::estimate::colour::{self, Ordering, Pattern};
use crate::real::Real;

const NONE: u32 = u32::MAX;

/// The points of a sparse estimate and how to assemble it (see the module docs).
#[derive(Debug, Clone)]
pub struct SparsePlan {
    plan: Plan,
    pattern: Pattern,
    colour: Vec<u32>,
    n_colours: usize,
    ordering: Ordering,
    /// Columns of each colour (CSR by colour).
    member_ptr: Vec<usize>,
    members: Vec<u32>,
    /// Per pattern entry (CSR order): the (output row, column) read, and a second one to average
    /// with (`NONE` if none).
    sources: Vec<[u32; 4]>,
}

impl SparsePlan {
    /// The plan of the sparse Jacobian of `f` at `x` with the `m × n` pattern `pattern`, its
    /// columns coloured in `ordering` (`None`: the fewest colours of the three orderings).
    ///
    /// Errors: those of [`Plan::new`]; [`Error::InvalidParameter`] naming `sparsity` if the
    /// pattern has not `n = x.len()` columns.
    pub fn jacobian<T: Dtype>(
        x: &[T],
        options: &Options<'_>,
        pattern: Pattern,
        ordering: Option<Ordering>,
    ) -> Result<Self> {
        check_columns(options.func, &pattern, x.len())?;
        let plan = Plan::new(x, options)?;
        let (colour, k, o) = match ordering {
            Some(o) => {
                let (c, k) = colour::column_colouring(&pattern, o);
                (c, k, o)
            }
            None => colour::best_column_colouring(&pattern),
        };
        let mut sources = Vec::with_capacity(pattern.nnz());
        for r in 0..pattern.m() {
            for &j in pattern.row(r) {
                sources.push([r as u32, j, NONE, NONE]);
            }
        }
        Ok(Self::with(plan, pattern, colour, k, o, sources))
    }

    /// The plan of the sparse Hessian `∇g` at `x` from a gradient `g`, with the pattern of
    /// `pattern + patternᵀ + I` (`n × n`) and a star colouring in `ordering` (`None`: the fewest
    /// colours of the three orderings).
    ///
    /// Errors: those of [`Plan::new`]; [`Error::InvalidParameter`] naming `sparsity` if the
    /// pattern is not `n × n`.
    pub fn hessian<T: Dtype>(
        x: &[T],
        options: &Options<'_>,
        pattern: Pattern,
        ordering: Option<Ordering>,
    ) -> Result<Self> {
        check_columns(options.func, &pattern, x.len())?;
        let f = options.func;
        let pattern = pattern.symmetrised(f)?;
        let (colour, k, o) = match ordering {
            Some(o) => {
                let (c, k) = colour::star_colouring(f, &pattern, o)?;
                (c, k, o)
            }
            None => colour::best_star_colouring(f, &pattern)?,
        };
        let plan = Plan::new(x, options)?;
        let mut sources = Vec::with_capacity(pattern.nnz());
        for i in 0..pattern.n() {
            for &j in pattern.row(i) {
                let (a, b) = (i.min(j as usize), i.max(j as usize));
                let direct = |row: usize, col: usize| {
                    pattern
                        .row(row)
                        .iter()
                        .all(|&k| k as usize == col || colour[k as usize] != colour[col])
                };
                // Same sources, in the same order, for (i, j) and (j, i): a symmetric result.
                let mut s = [NONE; 4];
                let mut w = 0;
                for (row, col) in [(a, b), (b, a)] {
                    if direct(row, col) && (w == 0 || a != b) {
                        s[w] = row as u32;
                        s[w + 1] = col as u32;
                        w += 2;
                    }
                }
                if w == 0 {
                    return Err(Error::param(
                        f,
                        "colouring",
                        format!("does not give entry ({a}, {b}) directly (not a star colouring)"),
                    ));
                }
                sources.push(s);
            }
        }
        Ok(Self::with(plan, pattern, colour, k, o, sources))
    }

    fn with(
        plan: Plan,
        pattern: Pattern,
        colour: Vec<u32>,
        n_colours: usize,
        ordering: Ordering,
        sources: Vec<[u32; 4]>,
    ) -> Self {
        let mut member_ptr = vec![0usize; n_colours + 1];
        for &c in &colour {
            member_ptr[c as usize + 1] += 1;
        }
        for c in 0..n_colours {
            member_ptr[c + 1] += member_ptr[c];
        }
        let mut next = member_ptr.clone();
        let mut members = vec![0u32; colour.len()];
        for (j, &c) in colour.iter().enumerate() {
            members[next[c as usize]] = j as u32;
            next[c as usize] += 1;
        }
        SparsePlan {
            plan,
            pattern,
            colour,
            n_colours,
            ordering,
            member_ptr,
            members,
            sources,
        }
    }

    /// The dense plan of the columns (steps, stencils).
    pub fn plan(&self) -> &Plan {
        &self.plan
    }
    /// The pattern.
    pub fn pattern(&self) -> &Pattern {
        &self.pattern
    }
    /// The colour of each column.
    pub fn colours(&self) -> &[u32] {
        &self.colour
    }
    /// The number of colours.
    pub fn n_colours(&self) -> usize {
        self.n_colours
    }
    /// The ordering that gave the colouring.
    pub fn ordering(&self) -> Ordering {
        self.ordering
    }
    /// The columns of colour `c`.
    pub fn members(&self, c: usize) -> &[u32] {
        &self.members[self.member_ptr[c]..self.member_ptr[c + 1]]
    }
    /// Points per colour.
    fn block(&self) -> usize {
        self.plan.levels * self.plan.per
    }
    /// Number of evaluation points, not counting `x`: colours × levels × nodes per level.
    pub fn n_points(&self) -> usize {
        self.n_colours * self.block()
    }

    /// Writes points `start..start + out.len() / n` (rows of `n`) into `out`: point `(c, l, k)`
    /// moves every column of colour `c` to its node `k` of level `l`. For the complex step these are
    /// copies of `x`: the caller adds `i h_j` to the columns of the colour.
    pub fn points<T: Real>(&self, start: usize, out: &mut [T]) -> Result<()> {
        let n = self.plan.n.max(1);
        let rows = out.len() / n;
        if !out.len().is_multiple_of(n) || start + rows > self.n_points() {
            return Err(Error::param(
                "points",
                "out",
                format!(
                    "must hold whole rows of {n} within {} points, got {} elements from point {start}",
                    self.n_points(),
                    out.len()
                ),
            ));
        }
        let (block, p) = (self.block(), &self.plan);
        let complex = p.method == super::Method::Complex;
        for (r, row) in out.chunks_exact_mut(n).enumerate() {
            let q = start + r;
            let (c, t) = (q / block, q % block);
            for (o, &v) in row.iter_mut().zip(&p.x) {
                *o = T::from_f64(v);
            }
            if !complex {
                for &j in self.members(c) {
                    row[j as usize] = T::from_f64(p.nodes[j as usize * block + t]);
                }
            }
        }
        Ok(())
    }

    /// The entries of the sparse result in the pattern's CSR order into `data` and their error
    /// estimates into `err`, from `values` (`n_points × m` outputs, `m` the pattern's rows) and
    /// `f0` (needed if the plan [`Plan::needs_center`]); `omit` as
    /// [`Plan::assemble_omitting`].
    pub fn assemble(
        &self,
        f0: Option<&[f64]>,
        values: &[f64],
        data: &mut [f64],
        err: &mut [f64],
        omit: bool,
    ) -> Result<()> {
        const F: &str = "assemble";
        let m = self.pattern.m();
        Error::check_len(F, "values", values.len(), self.n_points() * m)?;
        Error::check_len(F, "data", data.len(), self.pattern.nnz())?;
        Error::check_len(F, "err", err.len(), self.pattern.nnz())?;
        let f0 = self.plan.check_center(F, f0, m)?;
        let block = self.block();
        let one = |row: u32, col: u32| {
            let (row, col) = (row as usize, col as usize);
            let c = self.colour[col] as usize;
            let v = |t: usize| values[(c * block + t) * m + row];
            self.plan.entry(col, row, v, f0.map(|f| f[row]), omit)
        };
        for (e, s) in self.sources.iter().enumerate() {
            let (v, r) = one(s[0], s[1])?;
            (data[e], err[e]) = if s[2] == NONE {
                (v, r)
            } else {
                let (v2, r2) = one(s[2], s[3])?;
                (0.5 * (v + v2), 0.5 * (r + r2) + 0.5 * (v - v2).abs())
            };
        }
        Ok(())
    }
}

fn check_columns(func: &'static str, p: &Pattern, n: usize) -> Result<()> {
    if p.n() != n {
        return Err(Error::param(
            func,
            "sparsity",
            format!(
                "must have {n} columns (x.size), got shape ({}, {})",
                p.m(),
                p.n()
            ),
        ));
    }
    Ok(())
}
