//! Finite-difference weights (Fornberg's algorithm), the node sets of the stencils and the
//! automatic step rule.

/// Weights of the `deriv`-th derivative at `z` from values at `nodes` (distinct), written into
/// `out` (`nodes.len()` entries): `f^(deriv)(z) ≈ Σ_k out[k] f(nodes[k])`, exact for polynomials of
/// degree `< nodes.len()`.
///
/// B. Fornberg, "Generation of finite difference formulas on arbitrarily spaced grids",
/// *Math. Comp.* 51 (1988) 699–706: the recurrence over nodes and derivative orders, in `O(n² deriv)`
/// operations, stable for any spacing (which is why it is applied to the nodes as rounded to the
/// dtype of `x`, not to the ideal multiples of the step).
///
/// # Panics
/// If `out.len() != nodes.len()` or `nodes` is empty.
pub fn fornberg(z: f64, nodes: &[f64], deriv: usize, out: &mut [f64]) {
    let n = nodes.len();
    assert!(
        n > 0 && out.len() == n,
        "fornberg: {n} nodes, {} weights",
        out.len()
    );
    let w = deriv + 1;
    // c[j * w + k]: weight of node j for the k-th derivative, over the nodes seen so far.
    let mut c = vec![0.0; n * w];
    c[0] = 1.0;
    let (mut c1, mut c4) = (1.0, nodes[0] - z);
    for i in 1..n {
        let mn = i.min(deriv);
        let (mut c2, c5) = (1.0, c4);
        c4 = nodes[i] - z;
        for j in 0..i {
            let c3 = nodes[i] - nodes[j];
            c2 *= c3;
            if j == i - 1 {
                for k in (1..=mn).rev() {
                    c[i * w + k] =
                        c1 * (k as f64 * c[(i - 1) * w + k - 1] - c5 * c[(i - 1) * w + k]) / c2;
                }
                c[i * w] = -c1 * c5 * c[(i - 1) * w] / c2;
            }
            for k in (1..=mn).rev() {
                c[j * w + k] = (c4 * c[j * w + k] - k as f64 * c[j * w + k - 1]) / c3;
            }
            c[j * w] = c4 * c[j * w] / c3;
        }
        c1 = c2;
    }
    for (o, j) in out.iter_mut().zip(0..n) {
        *o = c[j * w + deriv];
    }
}

/// Which stencil a coordinate uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Nodes `±1, …, ±order/2` (in units of the step): no value at `x` needed.
    Central,
    /// Nodes `0, 1, …, order`.
    Forward,
    /// Nodes `0, −1, …, −order`.
    Backward,
}

impl Side {
    /// The nodes other than `0`, in units of the step, for a stencil of accuracy order `order`.
    pub fn multiples(self, order: usize) -> Vec<f64> {
        match self {
            Side::Central => {
                let k = (order / 2) as i32;
                (1..=k).flat_map(|j| [-j as f64, j as f64]).collect()
            }
            Side::Forward => (1..=order).map(|j| j as f64).collect(),
            Side::Backward => (1..=order).map(|j| -(j as f64)).collect(),
        }
    }

    /// Whether the stencil uses the value at `x` (the one-sided ones do).
    pub fn uses_center(self) -> bool {
        self != Side::Central
    }

    /// How far the stencil reaches, in units of the step.
    pub fn reach(self, order: usize) -> f64 {
        match self {
            Side::Central => (order / 2) as f64,
            _ => order as f64,
        }
    }
}

/// The automatic step for coordinate value `x`: `r^(1/(q+1)) · max(1, |x|)`, with `r = max(eps, noise)`
/// the relative error of the values of `f` and `q` the accuracy order of the estimate.
///
/// Balances the truncation error (`∝ h^q`) against the rounding error (`∝ r/h`) for `f` and its
/// derivatives of order 1 at the scale of `x`: `q = 1` gives the forward-difference rule
/// `√eps · max(1, |x|)` and `q = 2` the central rule `eps^(1/3) · max(1, |x|)`, both scipy's
/// (`approx_derivative`); see J. J. Moré and S. M. Wild, "Estimating derivatives of noisy
/// simulations", *ACM TOMS* 38 (2012) for the rule with noise.
pub fn auto_step(x: f64, eps: f64, noise: f64, q: usize) -> f64 {
    eps.max(noise).powf(1.0 / (q as f64 + 1.0)) * x.abs().max(1.0)
}
