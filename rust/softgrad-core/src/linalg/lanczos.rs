//! Extreme eigenpairs of a symmetric operator by the Lanczos process.
//!
//! **The process** (Lanczos 1950; Golub & Van Loan §10.1): from a random unit `v₁`, each step
//! multiplies `w = A v_j`, orthogonalises `w` against *all* the basis vectors so far (full
//! reorthogonalisation, classical Gram–Schmidt twice: [`blas::orthogonalise`]) and appends
//! `v_{j+1} = w / β_j`. Then `H = Vᵀ A V` (tridiagonal in a first cycle) satisfies
//! `A V = V H + β_m v_{m+1} e_mᵀ`, and the eigenpairs `(θ_i, s_i)` of `H` ([`tridiag::sym_eig`]:
//! Householder to tridiagonal, then implicit QL) give Ritz pairs `(θ_i, V s_i)` whose residual is
//! exactly `β_m |s_{m,i}|`.
//!
//! **Thick restart** (Wu & Simon 2000, the symmetric form of Krylov–Schur): the basis is capped
//! at `ncv = max(2k + 1, `[`NCV_MIN`]`)` vectors; when full, it is replaced by the most wanted Ritz
//! vectors plus the residual direction, so memory is `ncv · n` and each step costs `O(n · ncv)`.
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
#[cfg(test)]
mod tests_blas;
#[cfg(test)]
mod tests_mutants;
#[cfg(test)]
mod tests_tridiag;
pub mod tridiag;

use crate::linalg::hutchinson::{probe, Distribution};
use crate::linalg::LinOp;
use crate::par::scratch;
use crate::{Error, Par, Result};

/// The name errors carry.
const F: &str = "lanczos";

/// The least basis size of a thick-restart cycle (ARPACK's default `ncv` is `max(2k + 1, 20)`).
pub const NCV_MIN: usize = 24;

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
    /// Products with `A` allowed in all (`None`: `10 max(n, 100)`).
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
    let budget = o.maxiter.unwrap_or(10 * n.max(100));
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

/// One thick-restarted Lanczos run on `A` restricted to the complement of `lock` (orthonormal
/// rows), until the `want.0` largest and `want.1` smallest Ritz pairs converge or `budget`
/// products are spent.
///
/// The basis grows to `ncv` vectors; the projected matrix `H = Vᵀ A V` is filled column by column
/// from the orthogonalisation coefficients. At `ncv` (Wu & Simon 2000) the `keep` most wanted Ritz
/// vectors `Y = V S` replace the basis, followed by the last residual direction `v_{m+1}`: then
/// `H = diag(θ)` bordered by the couplings `β_m s_{m,i}`, and the relation
/// `A V = V H + β v_{m+1} e_mᵀ` holds again, so the residual of a Ritz pair stays `β |s_m|`.
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
    let ncv = (2 * need + 1).max(NCV_MIN).min(room);
    let keep = (need + (ncv - need) / 3)
        .min(ncv.saturating_sub(1))
        .max(need.min(ncv - 1));
    let mut basis: Vec<f64> = Vec::new();
    let Some(v) = start(lock, &basis, n, seed, starts, par)? else {
        return Ok(Run {
            pairs: Vec::new(),
            matvecs: 0,
            converged: true,
        });
    };
    grow(&mut basis, &v)?;
    let mut h = scratch(F, ncv * ncv, 0.0)?; // H, row-major ncv × ncv (the leading m × m used)
    let mut w = scratch(F, n, 0.0)?;
    let mut matvecs = 0;
    loop {
        // Extend the basis to ncv vectors (or until the budget or the space runs out).
        let mut m = basis.len() / n;
        let mut beta;
        let mut exhausted = false;
        loop {
            blas::apply(F, "matvec", op, &basis[(m - 1) * n..m * n], &mut w, par)?;
            matvecs += 1;
            blas::orthogonalise(F, lock, lock.len() / n, &mut w, par)?;
            let c = blas::orthogonalise(F, &basis, m, &mut w, par)?;
            // Again: the basis vectors' roundoff components along the locked vectors would
            // otherwise grow from cycle to cycle (they are the most wanted directions).
            blas::orthogonalise(F, lock, lock.len() / n, &mut w, par)?;
            for (i, ci) in c.iter().enumerate() {
                h[i * ncv + m - 1] = *ci;
                h[(m - 1) * ncv + i] = *ci;
            }
            beta = blas::norm(F, &w, par)?;
            if m == ncv || matvecs >= budget {
                break;
            }
            let scale = (0..m).fold(0.0f64, |a, i| a.max(h[i * ncv + i].abs()));
            if beta <= 1e-12 * scale.max(f64::MIN_POSITIVE) {
                // An invariant subspace: continue from a fresh direction (no coupling).
                match start(lock, &basis, n, seed, starts, par)? {
                    Some(v) => {
                        (0..=m).for_each(|i| {
                            h[i * ncv + m] = 0.0;
                            h[m * ncv + i] = 0.0;
                        });
                        grow(&mut basis, &v)?;
                    }
                    None => {
                        exhausted = true;
                        beta = 0.0;
                        break;
                    }
                }
            } else {
                w.iter_mut().for_each(|x| *x /= beta);
                grow(&mut basis, &w)?;
                (0..=m).for_each(|i| {
                    h[i * ncv + m] = 0.0;
                    h[m * ncv + i] = 0.0;
                });
            }
            m += 1;
        }
        // Rayleigh–Ritz on H.
        let mut hm: Vec<f64> = (0..m * m).map(|t| h[(t / m) * ncv + t % m]).collect();
        let (theta, s) = tridiag::sym_eig(F, &mut hm, m)?;
        let scale = theta
            .iter()
            .fold(0.0f64, |a, t| a.max(t.abs()))
            .max(f64::MIN_POSITIVE);
        let res = |i: usize| beta * s[(m - 1) * m + i].abs();
        let idx = wanted(&theta, want);
        let full = idx.len() >= need;
        let ok = full && idx.iter().all(|&i| res(i) <= tol * scale);
        let space_done = exhausted || m + lock.len() / n >= n && beta <= 1e-12 * scale;
        let out_of_budget = matvecs >= budget;
        if ok || space_done || out_of_budget || m < ncv {
            let mut pairs = Vec::with_capacity(idx.len());
            for &i in &idx {
                pairs.push(Pair {
                    value: theta[i],
                    residual: res(i),
                    vector: combine(&basis, &s, m, i, n, par)?,
                });
            }
            return Ok(Run {
                pairs,
                matvecs,
                converged: ok || space_done,
            });
        }
        // Thick restart: the `keep` most wanted Ritz vectors, then the residual direction.
        let share = |x: usize| x * keep / need.max(1);
        let (khi, klo) = if want.1 == 0 {
            (keep, 0)
        } else if want.0 == 0 {
            (0, keep)
        } else {
            (share(want.0), keep - share(want.0))
        };
        let kept = wanted(&theta, (khi, klo));
        let mut next: Vec<f64> = Vec::new();
        for &i in &kept {
            let mut y = combine(&basis, &s, m, i, n, par)?;
            blas::orthogonalise(F, lock, lock.len() / n, &mut y, par)?;
            grow(&mut next, &y)?;
        }
        w.iter_mut().for_each(|x| *x /= beta);
        grow(&mut next, &w)?;
        basis = next;
        let p = kept.len();
        h.iter_mut().for_each(|x| *x = 0.0);
        for (j, &i) in kept.iter().enumerate() {
            h[j * ncv + j] = theta[i];
            h[j * ncv + p] = beta * s[(m - 1) * m + i];
            h[p * ncv + j] = h[j * ncv + p];
        }
    }
}

/// The Ritz vector `V s_i` (column `i` of the row-major `m × m` matrix `s`).
fn combine(basis: &[f64], s: &[f64], m: usize, i: usize, n: usize, par: Par) -> Result<Vec<f64>> {
    let mut x = scratch(F, n, 0.0)?;
    for r in 0..m {
        blas::axpby(
            F,
            s[r * m + i],
            &basis[r * n..(r + 1) * n],
            1.0,
            &mut x,
            par,
        )?;
    }
    Ok(x)
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
