//! Finite differences: the evaluation points of a dense gradient or Jacobian estimate and the
//! estimate assembled from the values of `f` there.
//!
//! A [`Plan`] is built from `x` and the [`Options`]: per coordinate `i` a step `h_i` (automatic,
//! [`stencil::auto_step`], or given), a stencil ([`Side`]: central, or one-sided where `bounds` leave
//! no room) and, per level (one, or several for Richardson extrapolation), the nodes `x_i + c h_i`
//! rounded to the dtype of `x` and their weights computed by [`stencil::fornberg`] *on the rounded
//! nodes*, so the rounding of `x + h` never biases the estimate. Every node lies inside the bounds.
//!
//! The points are numbered coordinate-major (`i`, then level, then node); with
//! [`Plan::needs_center`] the caller also evaluates `f(x)`. [`Plan::assemble`] turns the values
//! (one row of `m` outputs per point) into the `m × n` Jacobian and an error estimate per entry.
//! [`noise::ecnoise`] measures the noise of `f` for the step rule.

mod assemble;
pub mod hessian;
mod nodes;
pub mod noise;
pub mod richardson;
pub mod sparse;
pub mod stencil;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_sparse;

use crate::error::{Error, Result};
use crate::real::Real;
pub use nodes::Dtype;
use nodes::{choose_side, place};
pub use stencil::Side;

/// Ratio of consecutive steps in Richardson extrapolation.
pub const RATIO: f64 = 2.0;

/// The estimator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// One-sided differences forward, backward at an upper bound; accuracy order `order` (1..=8).
    Forward,
    /// One-sided differences backward, forward at a lower bound.
    Backward,
    /// Central differences of even accuracy order `order` (2..=8), one-sided of the same order at
    /// bounds.
    Central,
    /// Complex step: `Im f(x + i h e_i) / h`, exact up to `O(h²)` with no cancellation. The caller
    /// adds `i h_i` to the real points and passes the imaginary parts of the values.
    Complex,
    /// Central differences (one-sided at bounds) of order `order` at `levels` steps `h, h/2, …`,
    /// extrapolated to zero step ([`richardson::extrapolate`]).
    Richardson,
}

/// What to estimate and how.
#[derive(Debug, Clone)]
pub struct Options<'a> {
    /// The public function, for messages.
    pub func: &'static str,
    /// The estimator.
    pub method: Method,
    /// Accuracy order of the stencil (of the base stencil for Richardson).
    pub order: usize,
    /// Steps (one, or one per coordinate; positive and finite); empty: the automatic rule.
    pub step: &'a [f64],
    /// Lower bounds (one per coordinate) or empty (none).
    pub lower: &'a [f64],
    /// Upper bounds (one per coordinate) or empty (none).
    pub upper: &'a [f64],
    /// Absolute noise of `f`'s values (0: rounding only), raises the automatic step and the error.
    pub noise: f64,
    /// Levels of the Richardson tableau (2..=16); ignored by the other methods.
    pub levels: usize,
    /// Relative precision of the dtype of `x` (and of `f`'s values).
    pub eps: f64,
}

/// The evaluation points of one estimate and how to combine the values there.
#[derive(Debug, Clone)]
pub struct Plan {
    func: &'static str,
    method: Method,
    order: usize,
    n: usize,
    levels: usize,
    /// Nodes per level other than `x` itself.
    per: usize,
    x: Vec<f64>,
    /// Per coordinate: the stencil and the (largest) step actually taken.
    sides: Vec<Side>,
    steps: Vec<f64>,
    /// `n × levels × per` node positions (values of the dtype of `x`).
    nodes: Vec<f64>,
    /// `n × levels × (per + 1)` weights, the one of `f(x)` first.
    weights: Vec<f64>,
    noise: f64,
    eps: f64,
}

fn check_order(o: &Options<'_>) -> Result<()> {
    let ok = match o.method {
        Method::Central | Method::Richardson => matches!(o.order, 2 | 4 | 6 | 8),
        Method::Forward | Method::Backward => (1..=8).contains(&o.order),
        Method::Complex => o.order == 2,
    };
    if !ok {
        let want = match o.method {
            Method::Forward | Method::Backward => "one of 1, ..., 8",
            Method::Complex => "2 (the complex step is of order 2)",
            _ => "one of 2, 4, 6, 8",
        };
        return Err(Error::param(
            o.func,
            "order",
            format!("must be {want} for this method, got {}", o.order),
        ));
    }
    if o.method == Method::Richardson && !(2..=richardson::MAX_LEVELS).contains(&o.levels) {
        return Err(Error::param(
            o.func,
            "n_steps",
            format!(
                "must be in 2..={}, got {}",
                richardson::MAX_LEVELS,
                o.levels
            ),
        ));
    }
    if !(o.noise.is_finite() && o.noise >= 0.0) {
        return Err(Error::param(
            o.func,
            "noise",
            format!("must be finite and >= 0, got {}", o.noise),
        ));
    }
    Ok(())
}

fn check_inputs<T: Real>(x: &[T], o: &Options<'_>) -> Result<()> {
    let n = x.len();
    for (name, a) in [("lower", o.lower), ("upper", o.upper)] {
        if !a.is_empty() {
            Error::check_len(o.func, name, a.len(), n)?;
        }
    }
    if !(o.step.is_empty() || o.step.len() == 1 || o.step.len() == n) {
        return Err(Error::Shape {
            func: o.func,
            name: "step",
            got: o.step.len(),
            expected: n,
        });
    }
    if let Some(h) = o.step.iter().find(|h| !(h.is_finite() && **h > 0.0)) {
        return Err(Error::param(
            o.func,
            "step",
            format!("must be finite and > 0, got {h}"),
        ));
    }
    for (i, v) in x.iter().enumerate() {
        let v = v.to_f64();
        let (lo, hi) = bounds_of(o, i);
        if !v.is_finite() {
            return Err(Error::param(
                o.func,
                "x",
                format!("must be finite, got {v} at index {i}"),
            ));
        }
        if lo.is_nan() || hi.is_nan() || lo >= hi || v < lo || v > hi {
            return Err(Error::param(
                o.func,
                "bounds",
                format!("must satisfy lower <= x <= upper with lower < upper, got {lo} <= {v} <= {hi} at index {i}"),
            ));
        }
    }
    Ok(())
}

fn bounds_of(o: &Options<'_>, i: usize) -> (f64, f64) {
    (
        o.lower.get(i).copied().unwrap_or(f64::NEG_INFINITY),
        o.upper.get(i).copied().unwrap_or(f64::INFINITY),
    )
}

impl Plan {
    /// The plan for `x` (float32 or float64): checks the options and places every node.
    ///
    /// Errors ([`Error::InvalidParameter`] naming `options.func`): an order the method does not
    /// have, a step that is not positive and finite (or too small to move `x`), `x` not finite,
    /// bounds that do not contain `x` or are empty, noise negative; [`Error::Shape`] for bounds or
    /// steps of the wrong length.
    pub fn new<T: Dtype>(x: &[T], options: &Options<'_>) -> Result<Self> {
        let o = options;
        check_order(o)?;
        check_inputs(x, o)?;
        let (n, levels) = (
            x.len(),
            if o.method == Method::Richardson {
                o.levels
            } else {
                1
            },
        );
        let per = if o.method == Method::Complex {
            1
        } else {
            o.order
        };
        // The accuracy order whose optimal step is taken: of the extrapolated estimate for
        // Richardson (its largest step), of the stencil otherwise.
        let q = match o.method {
            Method::Richardson => o.order + 2 * (levels - 1),
            _ => o.order,
        };
        let mut plan = Plan {
            func: o.func,
            method: o.method,
            order: o.order,
            n,
            levels,
            per,
            x: x.iter().map(|v| v.to_f64()).collect(),
            sides: Vec::with_capacity(n),
            steps: Vec::with_capacity(n),
            nodes: Vec::with_capacity(n * levels * per),
            weights: Vec::with_capacity(n * levels * (per + 1)),
            noise: o.noise,
            eps: o.eps,
        };
        let mut buf_nodes = vec![0.0; per + 1];
        let mut buf_w = vec![0.0; per + 1];
        for (i, &xi) in x.iter().enumerate() {
            let xf = xi.to_f64();
            let h = match o.step.len() {
                0 if o.method == Method::Complex => o.eps * xf.abs().max(1.0),
                0 => stencil::auto_step(xf, o.eps, o.noise, q),
                1 => o.step[0],
                _ => o.step[i],
            };
            if o.method == Method::Complex {
                plan.sides.push(Side::Central);
                plan.steps.push(h);
                plan.nodes.push(xf);
                plan.weights.extend([0.0, 1.0 / h]);
                continue;
            }
            let (lo, hi) = bounds_of(o, i);
            let (side, h) = choose_side(o.method, o.order, xf, h, lo, hi);
            plan.sides.push(side);
            plan.steps.push(h);
            let mult = side.multiples(o.order);
            for l in 0..levels {
                let hl = h / RATIO.powi(l as i32);
                buf_nodes[0] = xf;
                for (k, c) in mult.iter().enumerate() {
                    let v = place(xi, c * hl, lo, hi).to_f64();
                    if v == xf {
                        return Err(Error::param(
                            o.func,
                            "step",
                            format!("{hl:e} is too small to move x[{i}] = {xf} in its dtype"),
                        ));
                    }
                    buf_nodes[k + 1] = v;
                }
                if side.uses_center() {
                    stencil::fornberg(xf, &buf_nodes, 1, &mut buf_w);
                } else {
                    buf_w[0] = 0.0;
                    stencil::fornberg(xf, &buf_nodes[1..], 1, &mut buf_w[1..]);
                }
                plan.nodes.extend_from_slice(&buf_nodes[1..]);
                plan.weights.extend_from_slice(&buf_w);
            }
        }
        Ok(plan)
    }

    /// Number of coordinates.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Number of evaluation points (not counting `x` itself).
    pub fn n_points(&self) -> usize {
        self.n * self.levels * self.per
    }

    /// Whether the estimate also needs `f(x)` (some coordinate uses a one-sided stencil).
    pub fn needs_center(&self) -> bool {
        self.sides.iter().any(|s| s.uses_center())
    }

    /// Per coordinate, the (largest) step taken.
    pub fn steps(&self) -> &[f64] {
        &self.steps
    }

    /// Per coordinate, the stencil used.
    pub fn sides(&self) -> &[Side] {
        &self.sides
    }

    /// Writes points `start..start + out.len() / n` (rows of `n`, row-major) into `out`. For the
    /// complex step these are copies of `x`: the caller adds `i h_i` at `(point i, coordinate i)`.
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
        let block = self.levels * self.per;
        for (r, row) in out.chunks_exact_mut(n).enumerate() {
            let q = start + r;
            for (o, &v) in row.iter_mut().zip(&self.x) {
                *o = T::from_f64(v);
            }
            row[q / block] = T::from_f64(self.nodes[q]);
        }
        Ok(())
    }
}
