//! Extreme eigenpairs of a symmetric operator by the Lanczos process.
//!
//! **The process** (Lanczos 1950; Golub & Van Loan §10.1): from a random unit `v₁`, each step
//! multiplies `w = A v_j`, orthogonalises `w` against *all* the basis vectors so far (full
//! reorthogonalisation, classical Gram–Schmidt twice: [`blas::orthogonalise`]) and appends
//! `v_{j+1} = w / β_j`. Then `Vᵀ A V = T_m` is tridiagonal with diagonal `α_j = v_jᵀ A v_j` and
//! off-diagonal `β_j`, and `A V = V T_m + β_m v_{m+1} e_mᵀ`. The eigenpairs `(θ_i, s_i)` of `T_m`
//! ([`tridiag::ql`]) give Ritz pairs `(θ_i, V s_i)` whose residual is exactly `β_m |s_{m,i}|`:
//! after every step the last components of the `s_i` decide convergence, in `O(m²)`.
//!
//! Full rather than selective reorthogonalisation (Parlett & Scott 1979): it costs `O(n m)` per
//! step, the same order as the three-term recurrence's bookkeeping for the `m` of interest here, is
//! simple to make deterministic and parallel (one sweep of `V` per pass), and keeps the basis
//! orthogonal to working precision, so no spurious copies of converged eigenvalues appear.
//!
//! **Multiple eigenvalues.** A single-vector Krylov space holds one direction of each eigenspace,
//! so Lanczos alone finds each multiple eigenvalue once (the 2-D Poisson matrix has many double
//! ones). Converged pairs are therefore *locked*: a further run, orthogonal to every vector found,
//! looks for a more extreme eigenvalue than the last one kept, and runs repeat until none is found
//! (explicit deflation, Saad 2011 §4.2). A verification run costs about as much as the first.
//!
//! Convergence: a Ritz pair is accepted when `‖A x − θ x‖ ≤ tol · max|θ|`.

pub mod blas;
#[cfg(test)]
pub(crate) mod tests;
pub mod tridiag;

use crate::linalg::hutchinson::{probe, Distribution};
use crate::linalg::LinOp;
use crate::par::scratch;
use crate::{Error, Par, Result};

/// The name errors carry.
const F: &str = "lanczos";

/// Which end(s) of the spectrum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// The `k` largest (algebraic) eigenvalues.
    Largest,
    /// The `k` smallest.
    Smallest,
    /// `⌈k/2⌉` largest and `⌊k/2⌋` smallest (ARPACK's `"BE"`).
    Both,
}

/// The problem and the stopping rule.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Eigenpairs wanted (`1..=n`).
    pub k: usize,
    /// Which end(s) of the spectrum.
    pub which: Which,
    /// Products with `A` allowed in all (`None`: `max(20 k, 200)` capped by a few times `n`).
    pub maxiter: Option<usize>,
    /// Relative residual accepted (`0`: a few units of roundoff).
    pub tol: f64,
    /// Seed of the random start vectors.
    pub seed: u64,
}

/// Eigenpairs found, eigenvalues ascending.
#[derive(Debug, Clone, PartialEq)]
pub struct Eigen {
    /// The eigenvalues, ascending.
    pub values: Vec<f64>,
    /// The unit eigenvectors, row-major `k × n` (vector `i` is row `i`).
    pub vectors: Vec<f64>,
    /// `‖A x_i − θ_i x_i‖` from the Lanczos relation.
    pub residuals: Vec<f64>,
    /// Products with `A` made.
    pub matvecs: usize,
    /// Lanczos runs (1 + the deflated runs that checked for missing copies).
    pub runs: usize,
    /// Whether every pair met the tolerance, and no deflated run was cut short.
    pub converged: bool,
}

/// One Ritz pair.
#[derive(Debug, Clone)]
struct Pair {
    value: f64,
    residual: f64,
    vector: Vec<f64>,
}

/// What one run returns.
struct Run {
    pairs: Vec<Pair>,
    matvecs: usize,
    converged: bool,
}

fn check(n: usize, o: &Options) -> Result<()> {
    if o.k < 1 || o.k > n {
        return Err(Error::param(
            F,
            "k",
            format!("must be in 1..=n (n = {n}), got {}", o.k),
        ));
    }
    if !(o.tol >= 0.0 && o.tol < 1.0) {
        return Err(Error::param(
            F,
            "tol",
            format!("must be in [0, 1), got {}", o.tol),
        ));
    }
    if o.maxiter == Some(0) {
        return Err(Error::param(F, "maxiter", "must be >= 1, got 0"));
    }
    Ok(())
}

/// `(largest, smallest)` wanted.
fn split(o: &Options) -> (usize, usize) {
    match o.which {
        Which::Largest => (o.k, 0),
        Which::Smallest => (0, o.k),
        Which::Both => (o.k - o.k / 2, o.k / 2),
    }
}

/// The `k` extreme eigenpairs of the symmetric `op` (symmetry is assumed, not checked).
pub fn lanczos(op: &dyn LinOp, o: &Options, par: Par) -> Result<Eigen> {
    let n = op.dim();
    check(n, o)?;
    let tol = if o.tol == 0.0 {
        64.0 * f64::EPSILON
    } else {
        o.tol
    };
    let budget = o
        .maxiter
        .unwrap_or_else(|| (20 * o.k).max(200).min(4 * n + 20));
    let (hi, lo) = split(o);
    let mut seen: Vec<Pair> = Vec::new(); // every pair found, kept or not (the deflation set)
    let mut kept: Vec<usize> = Vec::new(); // indices into `seen`
    let (mut matvecs, mut runs, mut converged, mut starts) = (0usize, 0usize, true, 0u64);
    loop {
        let want = if runs == 0 {
            (hi, lo)
        } else {
            (hi.min(1), lo.min(1))
        };
        let room = n - seen.len();
        if room == 0 {
            break;
        }
        if matvecs >= budget {
            converged = false; // the deflated check could not run
            break;
        }
        let lock: Vec<f64> = seen.iter().flat_map(|p| p.vector.iter().copied()).collect();
        let run = run(
            op,
            &lock,
            want,
            budget - matvecs,
            tol,
            o.seed,
            &mut starts,
            par,
        )?;
        runs += 1;
        matvecs += run.matvecs;
        converged &= run.converged;
        let first = seen.len();
        seen.extend(run.pairs);
        kept = select(&seen, hi, lo);
        if !run.converged || kept.iter().all(|&i| i < first) {
            break; // out of budget, or nothing new entered: no copy was missing
        }
    }
    let mut kept: Vec<&Pair> = kept.iter().map(|&i| &seen[i]).collect();
    kept.sort_by(|a, b| a.value.total_cmp(&b.value));
    Ok(Eigen {
        values: kept.iter().map(|p| p.value).collect(),
        vectors: kept.iter().flat_map(|p| p.vector.iter().copied()).collect(),
        residuals: kept.iter().map(|p| p.residual).collect(),
        matvecs,
        runs,
        converged,
    })
}

/// The indices of the `hi` largest and `lo` smallest values of `pairs` (disjoint; sorted).
fn select(pairs: &[Pair], hi: usize, lo: usize) -> Vec<usize> {
    let values: Vec<f64> = pairs.iter().map(|p| p.value).collect();
    let order = tridiag::ascending(&values);
    let hi = hi.min(order.len());
    let lo = lo.min(order.len() - hi);
    let mut out: Vec<usize> = order[..lo]
        .iter()
        .chain(&order[order.len() - hi..])
        .copied()
        .collect();
    out.sort_unstable();
    out
}

/// A unit start vector orthogonal to `lock` and to `basis` (random, from the seed and the count of
/// starts so far), or `None` if none is left (their span is the whole space, numerically).
fn start(
    lock: &[f64],
    basis: &[f64],
    n: usize,
    seed: u64,
    starts: &mut u64,
    par: Par,
) -> Result<Option<Vec<f64>>> {
    for _ in 0..3 {
        let mut v = scratch(F, n, 0.0)?;
        probe(seed, 3, *starts, Distribution::Gaussian, 0, &mut v);
        *starts += 1;
        let before = blas::norm(F, &v, par)?;
        blas::orthogonalise(F, lock, lock.len() / n, &mut v, par)?;
        blas::orthogonalise(F, basis, basis.len() / n, &mut v, par)?;
        let after = blas::norm(F, &v, par)?;
        if after > 1e-8 * before {
            v.iter_mut().for_each(|x| *x /= after);
            return Ok(Some(v));
        }
    }
    Ok(None)
}

/// One Lanczos run on `A` restricted to the complement of `lock` (orthonormal rows), until the
/// `want.0` largest and `want.1` smallest Ritz pairs converge or `budget` products are spent.
#[allow(clippy::too_many_arguments)]
fn run(
    op: &dyn LinOp,
    lock: &[f64],
    want: (usize, usize),
    budget: usize,
    tol: f64,
    seed: u64,
    starts: &mut u64,
    par: Par,
) -> Result<Run> {
    let n = op.dim();
    let room = n - lock.len() / n;
    let need = (want.0 + want.1).min(room);
    let mut basis: Vec<f64> = Vec::new();
    let (mut alpha, mut beta) = (Vec::<f64>::new(), Vec::<f64>::new());
    let Some(v) = start(lock, &basis, n, seed, starts, par)? else {
        return Ok(Run {
            pairs: Vec::new(),
            matvecs: 0,
            converged: true,
        });
    };
    grow(&mut basis, &v)?;
    let mut w = scratch(F, n, 0.0)?;
    let mut converged = false;
    let mut last; // β_m, the coupling to the next vector
    loop {
        let m = alpha.len() + 1;
        blas::apply(F, "matvec", op, &basis[(m - 1) * n..m * n], &mut w, par)?;
        blas::orthogonalise(F, lock, lock.len() / n, &mut w, par)?;
        let h = blas::orthogonalise(F, &basis, m, &mut w, par)?;
        alpha.push(h[m - 1]);
        last = blas::norm(F, &w, par)?;
        // Convergence from the last row of T_m's eigenvectors.
        let (theta, zlast) = ritz_last_row(&alpha, &beta)?;
        let scale = theta
            .iter()
            .fold(0.0f64, |a, t| a.max(t.abs()))
            .max(f64::MIN_POSITIVE);
        let idx = wanted(&theta, want);
        let full = m >= need;
        let ok = full && idx.iter().all(|&i| last * zlast[i].abs() <= tol * scale);
        let exhausted = m == room;
        if ok || exhausted {
            converged = true;
            break;
        }
        if m >= budget {
            break;
        }
        if last <= 1e-12 * scale {
            // An invariant subspace: continue from a fresh direction (T decouples).
            match start(lock, &basis, n, seed, starts, par)? {
                Some(v) => {
                    beta.push(0.0);
                    grow(&mut basis, &v)?;
                }
                None => {
                    converged = true;
                    last = 0.0;
                    break;
                }
            }
        } else {
            beta.push(last);
            w.iter_mut().for_each(|x| *x /= last);
            grow(&mut basis, &w)?;
        }
    }
    let m = alpha.len();
    // The wanted eigenvectors of T_m, then the Ritz vectors V s_i.
    let mut d = alpha.clone();
    let mut z = scratch(F, m * m, 0.0)?;
    (0..m).for_each(|i| z[i * m + i] = 1.0);
    tridiag::ql(F, &mut d, &beta, &mut z, m)?;
    let idx = wanted(&d, want);
    let mut pairs = Vec::with_capacity(idx.len());
    for &i in &idx {
        let s: Vec<f64> = (0..m).map(|r| z[r * m + i]).collect();
        let mut x = scratch(F, n, 0.0)?;
        for (r, sr) in s.iter().enumerate() {
            blas::axpby(F, *sr, &basis[r * n..(r + 1) * n], 1.0, &mut x, par)?;
        }
        pairs.push(Pair {
            value: d[i],
            residual: last * s[m - 1].abs(),
            vector: x,
        });
    }
    Ok(Run {
        pairs,
        matvecs: m,
        converged,
    })
}

/// Appends `v` to the basis (fallibly).
fn grow(basis: &mut Vec<f64>, v: &[f64]) -> Result<()> {
    basis.try_reserve(v.len()).map_err(|_| Error::Alloc {
        func: F,
        bytes: (basis.len() + v.len()) * 8,
    })?;
    basis.extend_from_slice(v);
    Ok(())
}

/// The eigenvalues of `T_m` and the last components of its eigenvectors.
fn ritz_last_row(alpha: &[f64], beta: &[f64]) -> Result<(Vec<f64>, Vec<f64>)> {
    let m = alpha.len();
    let mut d = alpha.to_vec();
    let mut z = vec![0.0; m];
    z[m - 1] = 1.0;
    tridiag::ql(F, &mut d, beta, &mut z, 1)?;
    Ok((d, z))
}

/// The indices (into `theta`) of the `want.0` largest and `want.1` smallest values.
fn wanted(theta: &[f64], want: (usize, usize)) -> Vec<usize> {
    let order = tridiag::ascending(theta);
    let hi = want.0.min(order.len());
    let lo = want.1.min(order.len() - hi);
    order[..lo]
        .iter()
        .chain(&order[order.len() - hi..])
        .copied()
        .collect()
}
