//! Randomized (zeroth-order) gradient estimators: the evaluation points along random directions
//! and the estimate, with its per-coordinate variance, assembled from the values of `f` there.
//!
//! Direction `j` is stream `(seed, j)` of [`crate::rng`], so it is the same whatever the thread
//! count, batch size or executor, and is regenerated rather than stored. With step `c`, per sample
//! `k` along direction `u` (the estimators of J. C. Spall, "Multivariate stochastic approximation
//! using a simultaneous perturbation gradient approximation", IEEE TAC 37 (1992); Y. Nesterov and
//! V. Spokoiny, "Random gradient-free minimization of convex functions", FoCM 17 (2017); A. D.
//! Flaxman, A. T. Kalai and H. B. McMahan, SODA 2005; DeepZero, A. Chen et al., ICLR 2024):
//!
//! - [`Method::Spsa`]: `u` Rademacher (`u⁻¹ = u`), `g_k = (f(x + c u) − f(x − c u)) / (2c) · u`;
//! - [`Method::Gaussian`]: `u ~ N(0, I)`, the same formula (Gaussian smoothing);
//! - [`Method::Sphere`]: `u` uniform on the unit sphere, `g_k = d (f(x + c u) − f(x − c u)) / (2c) · u`;
//! - [`Method::Coordinate`]: `u = e_i` for coordinates drawn without replacement, `g_k = d ∂̂_i e_i`,
//!   so the mean over `q` samples is the `d/q`-scaled sum of `q` partial differences;
//!
//! `d` is the number of coordinates in the mask (all by default); directions are zero outside it.
//! One-sided (`sides = 1`) uses `(f(x + c u) − f(x)) / c`; antithetic one-sided samples come in
//! pairs `±u`. The estimate is the mean of the `n_samples` per-sample vectors, each unbiased for a
//! quadratic `f`; [`Plan::assemble`] also returns their sample variance divided by `n_samples`.

pub mod inplace;
#[cfg(test)]
mod tests;

use crate::error::{Error, Result};
use crate::par::{with_piece_scratch, Par, REDUCE_PIECE};
use crate::real::Real;
use crate::rng::Stream;

/// The distribution of the directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Rademacher directions (simultaneous perturbation).
    Spsa,
    /// Standard normal directions (Gaussian smoothing).
    Gaussian,
    /// Directions uniform on the unit sphere (normalized normal values), scaled by `d`.
    Sphere,
    /// Random coordinates without replacement, scaled by `d`.
    Coordinate,
}

/// What to estimate and how.
#[derive(Debug, Clone)]
pub struct Options<'a> {
    /// The public function, for messages.
    pub func: &'static str,
    /// The estimator.
    pub method: Method,
    /// Samples averaged (per-sample estimates; with `sides = 1` and `antithetic` in `±u` pairs).
    pub n_samples: usize,
    /// 1 (one-sided, needs `f(x)`) or 2 (two-sided).
    pub sides: usize,
    /// One-sided samples in antithetic pairs `u, −u` (`n_samples` even; needs `sides = 1`).
    pub antithetic: bool,
    /// The seed of the directions.
    pub seed: u64,
    /// The step `c` (positive, finite); `None`: `ε^{1/(sides+1)} max(1, max |x_i|)`.
    pub step: Option<f64>,
    /// Coordinates to estimate (`true`), one per coordinate, or empty (all).
    pub mask: &'a [bool],
    /// Relative precision of the dtype of `x`.
    pub eps: f64,
}

/// The evaluation points of one randomized estimate and how to combine the values there.
#[derive(Debug, Clone)]
pub struct Plan {
    method: Method,
    n: usize,
    n_samples: usize,
    sides: usize,
    antithetic: bool,
    seed: u64,
    step: f64,
    x: Vec<f64>,
    mask: Vec<bool>,
    /// Coordinates in the mask.
    d: usize,
    /// Coordinate method: the coordinate of each direction.
    coords: Vec<usize>,
    /// Sphere: `1 / |g_j|` of each direction's normal values.
    inv_norm: Vec<f64>,
}

impl Plan {
    /// The plan for `x` (float32 or float64): checks the options and draws what the directions
    /// need (the coordinates; the norms of the sphere's directions, a deterministic reduction).
    ///
    /// Errors ([`Error::InvalidParameter`] naming `options.func`): `n_samples` zero (or odd with
    /// `antithetic`, or more coordinates than the mask has for `coordinate`), `sides` not 1 or 2,
    /// `antithetic` with two sides, a step not positive and finite (or too small to move `x`), `x`
    /// not finite, an empty mask; [`Error::Shape`] for a mask of the wrong length.
    pub fn new<T: Real>(x: &[T], o: &Options<'_>, par: Par) -> Result<Self> {
        let n = x.len();
        let bad = |name, msg: String| Err(Error::param(o.func, name, msg));
        if !(o.sides == 1 || o.sides == 2) {
            return bad("sides", format!("must be 1 or 2, got {}", o.sides));
        }
        if o.antithetic && o.sides == 2 {
            return bad(
                "antithetic",
                "needs one-sided differences (sides=1): two-sided samples are antithetic already"
                    .into(),
            );
        }
        if o.n_samples == 0 || (o.antithetic && !o.n_samples.is_multiple_of(2)) {
            let want = if o.antithetic {
                "even and >= 2"
            } else {
                ">= 1"
            };
            return bad("n_samples", format!("must be {want}, got {}", o.n_samples));
        }
        if !o.mask.is_empty() {
            Error::check_len(o.func, "mask", o.mask.len(), n)?;
        }
        if let Some((i, v)) = x.iter().enumerate().find(|(_, v)| !v.to_f64().is_finite()) {
            return bad(
                "x",
                format!("must be finite, got {} at index {i}", v.to_f64()),
            );
        }
        let d = if o.mask.is_empty() {
            n
        } else {
            o.mask.iter().filter(|m| **m).count()
        };
        if d == 0 && n > 0 {
            return bad("mask", "must select at least one coordinate".into());
        }
        let scale = x.iter().fold(1.0f64, |a, v| a.max(v.to_f64().abs()));
        let step = match o.step {
            Some(c) if !(c.is_finite() && c > 0.0) => {
                return bad("step", format!("must be finite and > 0, got {c}"))
            }
            Some(c) => c,
            None => o.eps.powf(1.0 / (o.sides as f64 + 1.0)) * scale,
        };
        if step < 4.0 * o.eps * scale && n > 0 {
            return bad(
                "step",
                format!("{step:e} is too small to move x (max |x| = {scale}) in its dtype"),
            );
        }
        let mut plan = Plan {
            method: o.method,
            n,
            n_samples: o.n_samples,
            sides: o.sides,
            antithetic: o.antithetic,
            seed: o.seed,
            step,
            x: x.iter().map(|v| v.to_f64()).collect(),
            mask: o.mask.to_vec(),
            d,
            coords: Vec::new(),
            inv_norm: Vec::new(),
        };
        let dirs = plan.n_dirs();
        match o.method {
            Method::Coordinate => {
                if dirs > d {
                    return bad(
                        "n_samples",
                        format!(
                            "asks for {dirs} distinct coordinates, but only {d} are in the mask"
                        ),
                    );
                }
                plan.coords = plan.draw_coords(dirs);
            }
            Method::Sphere => {
                plan.inv_norm = (0..dirs)
                    .map(|j| plan.sphere_norm(j, par).map(|s| 1.0 / s))
                    .collect::<Result<_>>()?;
            }
            _ => {}
        }
        Ok(plan)
    }

    /// Directions drawn (one per two-sided sample, per one-sided sample, per antithetic pair).
    pub fn n_dirs(&self) -> usize {
        if self.antithetic {
            self.n_samples / 2
        } else {
            self.n_samples
        }
    }

    /// Number of coordinates.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Number of evaluation points (not counting `x` itself).
    pub fn n_points(&self) -> usize {
        self.n_samples * if self.sides == 2 { 2 } else { 1 }
    }

    /// Whether the estimate also needs `f(x)` (one-sided).
    pub fn needs_center(&self) -> bool {
        self.sides == 1
    }

    /// The step `c` taken.
    pub fn step(&self) -> f64 {
        self.step
    }

    /// Coordinates in the mask.
    pub fn dim(&self) -> usize {
        self.d
    }

    /// Coordinate method: the coordinate of each direction.
    pub fn coords(&self) -> &[usize] {
        &self.coords
    }

    /// `q` distinct coordinates of the mask: a partial Fisher–Yates shuffle driven by stream
    /// `(seed, u64::MAX)`.
    fn draw_coords(&self, q: usize) -> Vec<usize> {
        let mut pool: Vec<usize> = (0..self.n).filter(|&i| self.active(i)).collect();
        let s = Stream::new(self.seed, u64::MAX);
        for t in 0..q {
            let left = pool.len() - t;
            let k = t + ((s.uniform(t as u64) * left as f64) as usize).min(left - 1);
            pool.swap(t, k);
        }
        pool.truncate(q);
        pool
    }

    #[inline]
    fn active(&self, i: usize) -> bool {
        self.mask.is_empty() || self.mask[i]
    }

    /// `|g_j|` over the mask, in fixed pieces combined left to right.
    fn sphere_norm(&self, j: usize, par: Par) -> Result<f64> {
        let s = Stream::new(self.seed, j as u64);
        let sq = par.fold_pieces(
            "gradient",
            self.n,
            |r| {
                with_piece_scratch(r.len(), |buf| {
                    s.fill_normal(r.start as u64, buf);
                    r.zip(buf.iter())
                        .filter(|(i, _)| self.active(*i))
                        .map(|(_, g)| g * g)
                        .sum::<f64>()
                })
            },
            |a, b| a + b,
            0.0,
        )?;
        Ok(sq.sqrt())
    }

    /// Values `start..start + out.len()` of direction `j` (zero outside the mask).
    pub fn direction(&self, j: usize, start: usize, out: &mut [f64]) {
        let s = Stream::new(self.seed, j as u64);
        match self.method {
            Method::Spsa => s.fill_rademacher(start as u64, out),
            Method::Gaussian => s.fill_normal(start as u64, out),
            Method::Sphere => {
                s.fill_normal(start as u64, out);
                out.iter_mut().for_each(|v| *v *= self.inv_norm[j]);
            }
            Method::Coordinate => {
                out.fill(0.0);
                let c = self.coords[j];
                if (start..start + out.len()).contains(&c) {
                    out[c - start] = 1.0;
                }
                return;
            }
        }
        if !self.mask.is_empty() {
            for (v, m) in out.iter_mut().zip(&self.mask[start..]) {
                if !*m {
                    *v = 0.0;
                }
            }
        }
    }

    /// Point `q`: its direction and the sign of the step along it.
    fn point(&self, q: usize) -> (usize, f64) {
        if self.sides == 2 || self.antithetic {
            (q / 2, if q.is_multiple_of(2) { 1.0 } else { -1.0 })
        } else {
            (q, 1.0)
        }
    }

    /// Writes points `start..start + out.len() / n` (rows of `n`, row-major, `x + sign · c · u`
    /// rounded to `T`) into `out`. Values do not depend on how the rows are batched or split.
    pub fn points<T: Real>(&self, start: usize, out: &mut [T], par: Par) -> Result<()> {
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
        // Each value is a pure function of (point, coordinate): the pieces (which may cut rows)
        // change no bit.
        let piece = REDUCE_PIECE;
        par.map_chunks_mut("points", out, piece, |k, chunk| {
            let first = k * piece;
            with_piece_scratch(chunk.len().min(REDUCE_PIECE), |buf| {
                let mut at = 0;
                while at < chunk.len() {
                    let flat = first + at;
                    let (row, col) = (flat / n, flat % n);
                    let len = (n - col).min(chunk.len() - at).min(buf.len());
                    let (j, sign) = self.point(start + row);
                    let u = &mut buf[..len];
                    self.direction(j, col, u);
                    let c = sign * self.step;
                    for ((o, ui), xi) in chunk[at..at + len]
                        .iter_mut()
                        .zip(u.iter())
                        .zip(&self.x[col..])
                    {
                        *o = T::from_f64(xi + c * ui);
                    }
                    at += len;
                }
            })
        })?;
        Ok(())
    }

    /// Per sample `k`: the direction and the weight `w_k` of its estimate `w_k u`.
    fn weights(&self, f0: Option<f64>, values: &[f64]) -> Vec<(usize, f64)> {
        let scale = match self.method {
            Method::Spsa | Method::Gaussian => 1.0,
            Method::Sphere | Method::Coordinate => self.d as f64,
        };
        let c = self.step;
        (0..self.n_samples)
            .map(|k| {
                if self.sides == 2 {
                    (k, scale * (values[2 * k] - values[2 * k + 1]) / (2.0 * c))
                } else {
                    let (j, sign) = self.point(k);
                    let f0 = f0.unwrap_or(0.0);
                    (j, scale * sign * (values[k] - f0) / c)
                }
            })
            .collect()
    }

    /// The gradient estimate into `grad` (the mean of the per-sample estimates) and the variance of
    /// that mean into `var` (per coordinate: the samples' variance over `n_samples`; NaN with one
    /// sample), from `values` (one per point) and `f0` (`f(x)`, needed one-sided). Coordinates
    /// outside the mask get 0 and variance 0.
    pub fn assemble(
        &self,
        f0: Option<f64>,
        values: &[f64],
        grad: &mut [f64],
        var: &mut [f64],
        par: Par,
    ) -> Result<()> {
        const F: &str = "assemble";
        Error::check_len(F, "values", values.len(), self.n_points())?;
        Error::check_len(F, "grad", grad.len(), self.n)?;
        Error::check_len(F, "var", var.len(), self.n)?;
        if self.needs_center() && f0.is_none() {
            return Err(Error::param(F, "f0", "is needed by one-sided differences"));
        }
        let w = self.weights(f0, values);
        let ns = self.n_samples as f64;
        let denom = if self.n_samples > 1 {
            (ns - 1.0) * ns
        } else {
            f64::NAN
        };
        if self.method == Method::Coordinate {
            return self.assemble_coords(&w, grad, var, denom);
        }
        par.map_chunks(
            F,
            self.n,
            REDUCE_PIECE,
            (
                crate::par::Rows::of_mut(grad, 1),
                crate::par::Rows::of_mut(var, 1),
            ),
            |r, (g, v)| {
                with_piece_scratch(r.len(), |u| {
                    g.fill(0.0);
                    v.fill(0.0);
                    for &(j, wk) in &w {
                        self.direction(j, r.start, u);
                        g.iter_mut().zip(u.iter()).for_each(|(a, b)| *a += wk * b);
                    }
                    g.iter_mut().for_each(|a| *a /= ns);
                    for &(j, wk) in &w {
                        self.direction(j, r.start, u);
                        for ((s, m), b) in v.iter_mut().zip(g.iter()).zip(u.iter()) {
                            let e = wk * b - m;
                            *s += e * e;
                        }
                    }
                    for (i, s) in r.zip(v.iter_mut()) {
                        *s = if self.active(i) { *s / denom } else { 0.0 };
                    }
                })
            },
        )?;
        Ok(())
    }

    /// [`Plan::assemble`] for coordinate samples: each touches one coordinate.
    fn assemble_coords(
        &self,
        w: &[(usize, f64)],
        grad: &mut [f64],
        var: &mut [f64],
        denom: f64,
    ) -> Result<()> {
        let ns = self.n_samples as f64;
        grad.fill(0.0);
        var.fill(0.0);
        for &(j, wk) in w {
            grad[self.coords[j]] += wk;
        }
        grad.iter_mut().for_each(|g| *g /= ns);
        // Σ_k (s_k − m)² = Σ_hits (w − m)² + (ns − hits) m²; `var` counts the hits first.
        let mut hits = crate::par::scratch("gradient", self.n, 0u32)?;
        for &(j, wk) in w {
            let c = self.coords[j];
            hits[c] += 1;
            let e = wk - grad[c];
            var[c] += e * e;
        }
        for i in 0..self.n {
            if self.active(i) {
                let m = grad[i];
                var[i] = (var[i] + (ns - hits[i] as f64) * m * m) / denom;
            }
        }
        Ok(())
    }
}
