use super::*;
use crate::Par;

/// A dense row-major symmetric test operator.
pub(crate) struct Dense {
    pub n: usize,
    pub a: Vec<f64>,
}

impl LinOp for Dense {
    fn dim(&self) -> usize {
        self.n
    }
    fn apply(&self, x: &[f64], y: &mut [f64], _par: Par) -> Result<()> {
        for (i, yi) in y.iter_mut().enumerate() {
            *yi = self.a[i * self.n..(i + 1) * self.n]
                .iter()
                .zip(x)
                .map(|(a, b)| a * b)
                .sum();
        }
        Ok(())
    }
}

/// The 2-D Poisson matrix (5-point stencil) on an `nx × ny` grid, matrix-free.
pub(crate) struct Poisson {
    pub nx: usize,
    pub ny: usize,
}

impl LinOp for Poisson {
    fn dim(&self) -> usize {
        self.nx * self.ny
    }
    fn apply(&self, x: &[f64], y: &mut [f64], _par: Par) -> Result<()> {
        let (nx, ny) = (self.nx, self.ny);
        for j in 0..ny {
            for i in 0..nx {
                let k = j * nx + i;
                let mut v = 4.0 * x[k];
                if i > 0 {
                    v -= x[k - 1];
                }
                if i + 1 < nx {
                    v -= x[k + 1];
                }
                if j > 0 {
                    v -= x[k - nx];
                }
                if j + 1 < ny {
                    v -= x[k + nx];
                }
                y[k] = v;
            }
        }
        Ok(())
    }
}

impl Poisson {
    /// Its eigenvalues, ascending.
    pub fn spectrum(&self) -> Vec<f64> {
        let pi = std::f64::consts::PI;
        let mut v = Vec::new();
        for i in 1..=self.nx {
            for j in 1..=self.ny {
                v.push(
                    4.0 - 2.0 * (i as f64 * pi / (self.nx + 1) as f64).cos()
                        - 2.0 * (j as f64 * pi / (self.ny + 1) as f64).cos(),
                );
            }
        }
        v.sort_by(f64::total_cmp);
        v
    }
}

/// A symmetric matrix `Q diag(eig) Qᵀ` with a Householder `Q` from a fixed vector.
pub(crate) fn with_spectrum(eig: &[f64]) -> Dense {
    let n = eig.len();
    let u: Vec<f64> = (0..n).map(|i| ((i * 37 + 11) % 17) as f64 - 8.0).collect();
    let uu: f64 = u.iter().map(|v| v * v).sum();
    let q = |i: usize, j: usize| (if i == j { 1.0 } else { 0.0 }) - 2.0 * u[i] * u[j] / uu;
    let mut a = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            a[i * n + j] = (0..n).map(|k| q(i, k) * eig[k] * q(j, k)).sum();
        }
    }
    Dense { n, a }
}

fn opts(k: usize, which: Which) -> Options {
    Options {
        k,
        which,
        maxiter: None,
        tol: 1e-10,
        seed: 0,
    }
}

fn check_pairs(op: &dyn LinOp, e: &Eigen, tol: f64) {
    let n = op.dim();
    let mut y = vec![0.0; n];
    for (i, &t) in e.values.iter().enumerate() {
        let x = &e.vectors[i * n..(i + 1) * n];
        op.apply(x, &mut y, Par::Seq).unwrap();
        let r: f64 = y
            .iter()
            .zip(x)
            .map(|(a, b)| (a - t * b).powi(2))
            .sum::<f64>()
            .sqrt();
        assert!(r <= tol, "pair {i}: residual {r}");
        assert!(
            (e.residuals[i] - r).abs() <= tol,
            "estimate {} vs {r}",
            e.residuals[i]
        );
        let nx: f64 = x.iter().map(|v| v * v).sum();
        assert!((nx - 1.0).abs() < 1e-10);
    }
}

#[test]
fn a_known_spectrum_is_found_at_both_ends() {
    let eig: Vec<f64> = (0..60).map(|i| (i as f64 - 20.0) * 0.37).collect();
    let a = with_spectrum(&eig);
    for (which, want) in [
        (Which::Largest, eig[56..].to_vec()),
        (Which::Smallest, eig[..4].to_vec()),
        (Which::Both, [&eig[..2], &eig[58..]].concat()),
    ] {
        let e = lanczos(&a, &opts(4, which), Par::Seq).unwrap();
        assert!(e.converged);
        for (g, w) in e.values.iter().zip(&want) {
            assert!((g - w).abs() < 1e-9, "{which:?}: {g} vs {w}");
        }
        check_pairs(&a, &e, 1e-8);
    }
}

#[test]
fn double_eigenvalues_of_the_poisson_matrix_are_found_twice() {
    let p = Poisson { nx: 12, ny: 12 };
    let want = p.spectrum();
    let e = lanczos(&p, &opts(6, Which::Largest), Par::Seq).unwrap();
    assert!(e.converged && e.runs >= 2, "{e:?}");
    for (g, w) in e.values.iter().zip(&want[want.len() - 6..]) {
        assert!((g - w).abs() < 1e-8, "{g} vs {w}");
    }
    check_pairs(&p, &e, 1e-7);
    // The smallest end: the locked pairs are then the most wanted directions of every later
    // run, so their roundoff components must be removed at each step (they grew before).
    let e = lanczos(&p, &opts(5, Which::Smallest), Par::Seq).unwrap();
    assert!(e.converged, "{e:?}");
    for (g, w) in e.values.iter().zip(&want[..5]) {
        assert!((g - w).abs() < 1e-8, "{g} vs {w}");
    }
    check_pairs(&p, &e, 1e-7);
}

#[test]
fn k_equal_n_and_the_identity_terminate() {
    let eig = [3.0, -1.0, 2.0, 0.5, 7.0];
    let a = with_spectrum(&eig);
    let e = lanczos(&a, &opts(5, Which::Largest), Par::Seq).unwrap();
    let mut want = eig.to_vec();
    want.sort_by(f64::total_cmp);
    for (g, w) in e.values.iter().zip(&want) {
        assert!((g - w).abs() < 1e-10);
    }
    let id = with_spectrum(&[1.0; 7]);
    let e = lanczos(&id, &opts(3, Which::Smallest), Par::Seq).unwrap();
    assert!(e.converged);
    assert!(e.values.iter().all(|v| (v - 1.0).abs() < 1e-12));
    check_pairs(&id, &e, 1e-10);
}

#[test]
fn one_two_and_three_threads_give_the_same_bits() {
    // Past PAR_MIN_ELEMS, so the pieces really spread over the threads; a short budget.
    let p = Poisson { nx: 40_000, ny: 1 };
    let o = Options {
        maxiter: Some(12),
        ..opts(3, Which::Both)
    };
    let e1 = lanczos(&p, &o, Par::Seq).unwrap();
    for t in [2, 3] {
        assert_eq!(lanczos(&p, &o, Par::Rayon(t)).unwrap(), e1);
    }
}

#[test]
fn bad_parameters_are_refused() {
    let a = with_spectrum(&[1.0, 2.0]);
    for (k, tol, maxiter) in [
        (0, 1e-8, None),
        (3, 1e-8, None),
        (1, -1.0, None),
        (1, 1e-8, Some(0)),
    ] {
        let o = Options {
            k,
            which: Which::Largest,
            maxiter,
            tol,
            seed: 0,
        };
        assert!(matches!(
            lanczos(&a, &o, Par::Seq),
            Err(Error::InvalidParameter { .. })
        ));
    }
}

#[test]
fn a_small_budget_reports_no_convergence() {
    let p = Poisson { nx: 30, ny: 30 };
    let o = Options {
        maxiter: Some(10),
        ..opts(2, Which::Largest)
    };
    let e = lanczos(&p, &o, Par::Seq).unwrap();
    assert!(!e.converged);
    assert_eq!(e.values.len(), 2);
    assert!(e.matvecs <= 10);
}
