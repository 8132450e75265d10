//! The estimate from the values of `f`: one derivative entry per coordinate and output, with the
//! fall-backs of `nan_policy="omit"` when some values are not finite.

use super::{richardson, stencil, Method, Plan, Side, RATIO};
use crate::error::{Error, Result};

impl Plan {
    /// The `m × n` Jacobian (row-major) into `jac` and an estimate of each entry's error into `err`,
    /// from `values` (`n_points × m`, row-major: the outputs of `f` at each point; imaginary parts
    /// for the complex step) and `f0` (the `m` outputs at `x`, needed if [`Plan::needs_center`]).
    ///
    /// The error estimate is Ridders' for Richardson extrapolation; otherwise the rounding error
    /// `max(eps·|f|, noise) · Σ|w|` of the stencil (`eps·|d|` for the complex step), which the
    /// automatic step makes of the order of the truncation error, which is not estimated.
    ///
    /// Errors: [`Error::Shape`] for lengths that disagree; [`Error::InvalidParameter`] (naming
    /// `nan_policy`) if a value the estimate needs is not finite (see [`Plan::assemble_omitting`]).
    pub fn assemble(
        &self,
        f0: Option<&[f64]>,
        values: &[f64],
        m: usize,
        jac: &mut [f64],
        err: &mut [f64],
    ) -> Result<()> {
        self.assemble_dense(f0, values, m, jac, err, false)
    }

    /// [`Plan::assemble`] where values that are not finite are left out (`nan_policy="omit"`):
    /// an entry whose stencil has such a value takes Fornberg's weights on the nodes whose values
    /// are finite, with `f(x)` among them when `f0` is given (the order drops by one per node
    /// left out: a central difference becomes one-sided); Richardson extrapolation keeps the
    /// longest run of consecutive steps whose stencils are whole, and only if none is whole falls
    /// back to Fornberg's weights on every finite node of every step. An entry left with fewer than two
    /// nodes is an [`Error::InvalidParameter`] naming `nan_policy`, the coordinate and the output.
    pub fn assemble_omitting(
        &self,
        f0: Option<&[f64]>,
        values: &[f64],
        m: usize,
        jac: &mut [f64],
        err: &mut [f64],
    ) -> Result<()> {
        self.assemble_dense(f0, values, m, jac, err, true)
    }

    fn assemble_dense(
        &self,
        f0: Option<&[f64]>,
        values: &[f64],
        m: usize,
        jac: &mut [f64],
        err: &mut [f64],
        omit: bool,
    ) -> Result<()> {
        const F: &str = "assemble";
        Error::check_len(F, "values", values.len(), self.n_points() * m)?;
        Error::check_len(F, "jac", jac.len(), self.n * m)?;
        Error::check_len(F, "err", err.len(), self.n * m)?;
        let f0 = self.check_center(F, f0, m)?;
        let block = self.levels * self.per;
        for i in 0..self.n {
            for j in 0..m {
                let v = |t: usize| values[(i * block + t) * m + j];
                let (e, r) = self.entry(i, j, v, f0.map(|f| f[j]), omit)?;
                jac[j * self.n + i] = e;
                err[j * self.n + i] = r;
            }
        }
        Ok(())
    }

    pub(super) fn check_center<'a>(
        &self,
        func: &'static str,
        f0: Option<&'a [f64]>,
        m: usize,
    ) -> Result<Option<&'a [f64]>> {
        match f0 {
            Some(f) => {
                Error::check_len(func, "f0", f.len(), m)?;
                Ok(Some(f))
            }
            None if self.needs_center() => {
                Err(Error::param(func, "f0", "is needed by a one-sided stencil"))
            }
            None => Ok(None),
        }
    }

    /// The derivative of output `j` in coordinate `i` and its error estimate, from `v(l * per + k)`,
    /// the value at node `k` of level `l` of coordinate `i`'s stencil, and `center = f_j(x)`.
    pub(super) fn entry(
        &self,
        i: usize,
        j: usize,
        v: impl Fn(usize) -> f64,
        center: Option<f64>,
        omit: bool,
    ) -> Result<(f64, f64)> {
        let (levels, per) = (self.levels, self.per);
        let uses_center = self.sides[i].uses_center() && self.method != Method::Complex;
        let whole = |l: usize| {
            (0..per).all(|k| v(l * per + k).is_finite())
                && (!uses_center || center.is_some_and(f64::is_finite))
        };
        // One level (all but Richardson), every value finite: the common case, without the tableau.
        if levels == 1 && whole(0) {
            return Ok(self.level(i, 0, &v, center.unwrap_or(0.0)));
        }
        let mut d = [0.0; richardson::MAX_LEVELS];
        let mut floor = [0.0; richardson::MAX_LEVELS];
        let mut ok = [false; richardson::MAX_LEVELS];
        for l in 0..levels {
            ok[l] = whole(l);
            if ok[l] {
                (d[l], floor[l]) = self.level(i, l, &v, center.unwrap_or(0.0));
            }
        }
        // The longest run of consecutive whole levels (all of them, normally).
        let (mut best, mut run) = ((0, 0), 0);
        for (l, &whole_l) in ok[..levels].iter().enumerate() {
            run = if whole_l { run + 1 } else { 0 };
            if run > best.1 - best.0 {
                best = (l + 1 - run, l + 1);
            }
        }
        if best.1 - best.0 < levels && !omit {
            return Err(self.not_finite(i, j, "raise"));
        }
        let (a, b) = best;
        if b > a {
            return Ok(if self.method == Method::Richardson && b - a > 1 {
                let (p0, dp) = match self.sides[i] {
                    Side::Central => (self.order as f64, 2.0),
                    _ => (self.order as f64, 1.0),
                };
                richardson::extrapolate(&d[a..b], RATIO, p0, dp, &floor[a..b])
            } else {
                (d[a], floor[a])
            });
        }
        if self.method == Method::Complex {
            return Err(self.not_finite(i, j, "omit"));
        }
        // No whole stencil: Fornberg's weights on every finite node of every level (and f(x)).
        let xf = self.x[i];
        let mut nodes = Vec::with_capacity(levels * per + 1);
        let mut vals = Vec::with_capacity(levels * per + 1);
        if let Some(c) = center.filter(|c| c.is_finite()) {
            nodes.push(xf);
            vals.push(c);
        }
        for t in 0..levels * per {
            let (val, node) = (v(t), self.nodes[i * levels * per + t]);
            if val.is_finite() && !nodes.contains(&node) {
                nodes.push(node);
                vals.push(val);
            }
        }
        if nodes.len() < 2 {
            return Err(self.not_finite(i, j, "omit"));
        }
        let mut w = vec![0.0; nodes.len()];
        stencil::fornberg(xf, &nodes, 1, &mut w);
        let reference = vals[0];
        let (mut s, mut big, mut wsum) = (0.0, 0.0_f64, 0.0);
        for (wk, val) in w.iter().zip(&vals) {
            s += wk * (val - reference);
            big = big.max(val.abs());
            wsum += wk.abs();
        }
        Ok((s, (self.eps * big).max(self.noise) * wsum))
    }

    /// The estimate of level `l` of coordinate `i` (all values finite) and its rounding error.
    fn level(&self, i: usize, l: usize, v: &impl Fn(usize) -> f64, center: f64) -> (f64, f64) {
        let (levels, per) = (self.levels, self.per);
        let w = &self.weights[((i * levels + l) * (per + 1))..][..per + 1];
        let uses_center = self.sides[i].uses_center();
        // Σ w_k (v_k − ref): the weights of a real stencil sum to zero, so the differences (exact
        // for close values) carry no rounding of their own.
        let reference = match (self.method, uses_center) {
            (Method::Complex, _) => 0.0,
            (_, true) => center,
            (_, false) => v(l * per),
        };
        let (mut s, mut big, mut wsum) = (0.0, 0.0_f64, 0.0);
        if uses_center {
            big = center.abs();
            wsum = w[0].abs();
        }
        for (k, wk) in w[1..].iter().enumerate() {
            let val = v(l * per + k);
            s += wk * (val - reference);
            big = big.max(val.abs());
            wsum += wk.abs();
        }
        let floor = if self.method == Method::Complex {
            self.eps * s.abs()
        } else {
            (self.eps * big).max(self.noise) * wsum
        };
        (s, floor)
    }

    fn not_finite(&self, i: usize, j: usize, policy: &str) -> Error {
        let what = if policy == "raise" {
            "'raise': a value of f is not finite".to_string()
        } else {
            format!(
                "'omit' leaves fewer than two finite values of f{} for coordinate {i}",
                if self.method == Method::Complex {
                    " (the complex step has one)"
                } else {
                    ""
                }
            )
        };
        Error::param(
            self.func,
            "nan_policy",
            format!("{what} (output {j}, coordinate {i})"),
        )
    }
}
