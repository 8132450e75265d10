//! Hessians from values of `f` only, dense or on a symmetric sparsity pattern.
//!
//! Per coordinate `i` the nodes `x_i + a_i` and `x_i − b_i` (the step `h_i` placed and rounded to
//! the dtype of `x`, so `a_i` and `b_i` are the exact moves); per off-diagonal pair `i < j` of the
//! pattern the points `x + a_i e_i + a_j e_j` and `x − b_i e_i − b_j e_j`. Then
//!
//! - `H_ii` from Fornberg's second-derivative weights on `x_i − b_i, x_i, x_i + a_i`;
//! - `H_ij = [f(x + a_i e_i + a_j e_j) + f(x − b_i e_i − b_j e_j) − f(x + a_i e_i) − f(x − b_i e_i)
//!   − f(x + a_j e_j) − f(x − b_j e_j) + 2 f(x)] / (a_i a_j + b_i b_j)`, the symmetric seven-point
//!   formula (Abramowitz and Stegun 25.3.27). Its first-order terms cancel for any `a, b` and its
//!   second-order terms leave `(a_i a_j + b_i b_j) H_ij`, so the rounding of the nodes biases
//!   nothing; the truncation error is `O(h²)`.
//!
//! `1 + 2n + 2p` evaluations for `p` off-diagonal pairs: `n² + n + 1` dense, about `4n` for a
//! tridiagonal pattern. No colouring can do with fewer: each value of `f` is one number, and the
//! `n + p` unknowns of `H` (with the gradient's `n` cancelled by symmetric pairs) need one pair of
//! values each. The automatic step is `max(eps, noise)^(1/4) max(1, |x_i|)`, which balances the
//! rounding error `∝ eps/h²` of a second difference against its truncation error `∝ h²`.

use super::nodes::place;
use super::{stencil, Dtype};
use crate::error::{Error, Result};
use crate::estimate::colour::Pattern;
use crate::real::Real;

/// The points of a Hessian estimate from values of `f` and how to assemble it.
#[derive(Debug, Clone)]
pub struct HessianPlan {
    n: usize,
    x: Vec<f64>,
    up: Vec<f64>,
    down: Vec<f64>,
    steps: Vec<f64>,
    /// Off-diagonal pairs `i < j`.
    pairs: Vec<(u32, u32)>,
    /// Per pattern entry (CSR order): its unknown (`i` for `H_ii`, `n + p` for pair `p`); empty
    /// for a dense result.
    slots: Vec<u32>,
    nnz: usize,
    dense: bool,
    /// The symmetrised pattern (sparse results).
    pattern: Option<Pattern>,
    eps: f64,
    noise: f64,
}

/// The automatic step of a second derivative: `max(eps, noise)^(1/4) max(1, |x|)`.
pub fn hessian_step(x: f64, eps: f64, noise: f64) -> f64 {
    eps.max(noise).powf(0.25) * x.abs().max(1.0)
}

impl HessianPlan {
    /// The plan at `x`: `step` one or one per coordinate (empty: automatic), `noise` the absolute
    /// noise of `f` (0: rounding only), `eps` the precision of the dtype; `pattern` an `n × n`
    /// pattern, made symmetric with its diagonal ([`Pattern::symmetrised`]), or `None` (dense).
    ///
    /// Errors ([`Error::InvalidParameter`] naming `func`): `x` not finite, a step not positive
    /// and finite or too small to move `x`, a negative noise, a pattern not symmetric or of the
    /// wrong shape; [`Error::Shape`] for steps of the wrong length.
    pub fn new<T: Dtype>(
        func: &'static str,
        x: &[T],
        step: &[f64],
        noise: f64,
        eps: f64,
        pattern: Option<&Pattern>,
    ) -> Result<Self> {
        let n = x.len();
        if !(step.is_empty() || step.len() == 1 || step.len() == n) {
            return Err(Error::Shape {
                func,
                name: "step",
                got: step.len(),
                expected: n,
            });
        }
        if let Some(h) = step.iter().find(|h| !(h.is_finite() && **h > 0.0)) {
            return Err(Error::param(
                func,
                "step",
                format!("must be finite and > 0, got {h}"),
            ));
        }
        if !(noise.is_finite() && noise >= 0.0) {
            return Err(Error::param(
                func,
                "noise",
                format!("must be finite and >= 0, got {noise}"),
            ));
        }
        let mut plan = HessianPlan {
            n,
            x: Vec::with_capacity(n),
            up: Vec::with_capacity(n),
            down: Vec::with_capacity(n),
            steps: Vec::with_capacity(n),
            pairs: Vec::new(),
            slots: Vec::new(),
            nnz: n * n,
            dense: pattern.is_none(),
            pattern: None,
            eps,
            noise,
        };
        for (i, &xi) in x.iter().enumerate() {
            let xf = xi.to_f64();
            if !xf.is_finite() {
                return Err(Error::param(
                    func,
                    "x",
                    format!("must be finite, got {xf} at index {i}"),
                ));
            }
            let h = match step.len() {
                0 => hessian_step(xf, eps, noise),
                1 => step[0],
                _ => step[i],
            };
            let (u, d) = (
                place(xi, h, f64::NEG_INFINITY, f64::INFINITY).to_f64(),
                place(xi, -h, f64::NEG_INFINITY, f64::INFINITY).to_f64(),
            );
            if u == xf || d == xf || !u.is_finite() || !d.is_finite() {
                return Err(Error::param(
                    func,
                    "step",
                    format!("{h:e} is too small to move x[{i}] = {xf} in its dtype (or too large)"),
                ));
            }
            plan.x.push(xf);
            plan.up.push(u);
            plan.down.push(d);
            plan.steps.push(h);
        }
        match pattern {
            None => {
                for i in 0..n {
                    for j in i + 1..n {
                        plan.pairs.push((i as u32, j as u32));
                    }
                }
            }
            Some(p) => {
                if p.m() != n || p.n() != n {
                    return Err(Error::param(
                        func,
                        "sparsity",
                        format!("must have shape ({n}, {n}), got ({}, {})", p.m(), p.n()),
                    ));
                }
                let p = &p.symmetrised(func)?;
                let mut index = std::collections::HashMap::new();
                for i in 0..n {
                    for &j in p.row(i) {
                        if (i as u32) < j {
                            index.insert((i as u32, j), plan.pairs.len());
                            plan.pairs.push((i as u32, j));
                        }
                    }
                }
                for i in 0..n {
                    for &j in p.row(i) {
                        let (a, b) = ((i as u32).min(j), (i as u32).max(j));
                        plan.slots.push(if a == b {
                            a
                        } else {
                            (n + index[&(a, b)]) as u32
                        });
                    }
                }
                plan.nnz = p.nnz();
                plan.pattern = Some(p.clone());
            }
        }
        Ok(plan)
    }

    /// Number of coordinates.
    pub fn n(&self) -> usize {
        self.n
    }
    /// Evaluation points, not counting `x` (whose value is always needed): `2n + 2p`.
    pub fn n_points(&self) -> usize {
        2 * self.n + 2 * self.pairs.len()
    }
    /// The step of each coordinate.
    pub fn steps(&self) -> &[f64] {
        &self.steps
    }
    /// The (symmetrised) pattern of a sparse result.
    pub fn pattern(&self) -> Option<&Pattern> {
        self.pattern.as_ref()
    }
    /// Entries of the result: `n²` dense, the pattern's otherwise.
    pub fn nnz(&self) -> usize {
        self.nnz
    }
    /// The coordinates moved at point `q`: `(i, None)` or `(i, Some(j))`.
    pub fn moved(&self, q: usize) -> (usize, Option<usize>) {
        if q < 2 * self.n {
            (q / 2, None)
        } else {
            let (i, j) = self.pairs[(q - 2 * self.n) / 2];
            (i as usize, Some(j as usize))
        }
    }

    /// Writes points `start..start + out.len() / n` (rows of `n`): `2i` is `x + a_i e_i`, `2i + 1`
    /// is `x − b_i e_i`, `2n + 2p` and `2n + 2p + 1` the two points of pair `p`.
    pub fn points<T: Real>(&self, start: usize, out: &mut [T]) -> Result<()> {
        let n = self.n.max(1);
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
        for (r, row) in out.chunks_exact_mut(n).enumerate() {
            let q = start + r;
            for (o, &v) in row.iter_mut().zip(&self.x) {
                *o = T::from_f64(v);
            }
            let side = if q.is_multiple_of(2) {
                &self.up
            } else {
                &self.down
            };
            let (i, j) = self.moved(q);
            row[i] = T::from_f64(side[i]);
            if let Some(j) = j {
                row[j] = T::from_f64(side[j]);
            }
        }
        Ok(())
    }

    /// The Hessian into `hess` (`n × n` row-major, or the pattern's entries in CSR order) and an
    /// estimate of each entry's rounding error `max(eps |f|, noise) Σ|w|` into `err`, from `f0 =
    /// f(x)` and `values` (one per point).
    ///
    /// Errors: [`Error::Shape`] for lengths that disagree; [`Error::InvalidParameter`] naming
    /// `values` if one is not finite.
    pub fn assemble(
        &self,
        f0: f64,
        values: &[f64],
        hess: &mut [f64],
        err: &mut [f64],
    ) -> Result<()> {
        const F: &str = "assemble";
        Error::check_len(F, "values", values.len(), self.n_points())?;
        Error::check_len(F, "hess", hess.len(), self.nnz)?;
        Error::check_len(F, "err", err.len(), self.nnz)?;
        if let Some(q) = values.iter().position(|v| !v.is_finite()) {
            return Err(Error::param(
                F,
                "values",
                format!("must be finite, got {} at {q}", values[q]),
            ));
        }
        let n = self.n;
        let mut unknown = vec![0.0; n + self.pairs.len()];
        let mut rounding = vec![0.0; n + self.pairs.len()];
        let floor = |big: f64, wsum: f64| (self.eps * big).max(self.noise) * wsum;
        let mut w = [0.0; 3];
        for i in 0..n {
            let (fu, fd) = (values[2 * i], values[2 * i + 1]);
            stencil::fornberg(self.x[i], &[self.down[i], self.x[i], self.up[i]], 2, &mut w);
            unknown[i] = w[0] * (fd - f0) + w[2] * (fu - f0);
            let big = f0.abs().max(fu.abs()).max(fd.abs());
            rounding[i] = floor(big, w.iter().map(|v| v.abs()).sum());
        }
        for (p, &(i, j)) in self.pairs.iter().enumerate() {
            let (i, j) = (i as usize, j as usize);
            let (a_i, b_i) = (self.up[i] - self.x[i], self.x[i] - self.down[i]);
            let (a_j, b_j) = (self.up[j] - self.x[j], self.x[j] - self.down[j]);
            let (fpp, fmm) = (values[2 * n + 2 * p], values[2 * n + 2 * p + 1]);
            let vals = [
                fpp,
                fmm,
                values[2 * i],
                values[2 * i + 1],
                values[2 * j],
                values[2 * j + 1],
            ];
            // Differences from f(x) first: exact for close values, no rounding of their own.
            let s = (fpp - f0) + (fmm - f0)
                - (values[2 * i] - f0)
                - (values[2 * i + 1] - f0)
                - (values[2 * j] - f0)
                - (values[2 * j + 1] - f0);
            let den = a_i * a_j + b_i * b_j;
            unknown[n + p] = s / den;
            let big = vals.iter().fold(f0.abs(), |b, v| b.max(v.abs()));
            rounding[n + p] = floor(big, 8.0 / den);
        }
        if self.dense {
            for i in 0..n {
                hess[i * n + i] = unknown[i];
                err[i * n + i] = rounding[i];
            }
            for (p, &(i, j)) in self.pairs.iter().enumerate() {
                let (i, j) = (i as usize, j as usize);
                (hess[i * n + j], hess[j * n + i]) = (unknown[n + p], unknown[n + p]);
                (err[i * n + j], err[j * n + i]) = (rounding[n + p], rounding[n + p]);
            }
        } else {
            for (e, &s) in self.slots.iter().enumerate() {
                hess[e] = unknown[s as usize];
                err[e] = rounding[s as usize];
            }
        }
        Ok(())
    }
}
