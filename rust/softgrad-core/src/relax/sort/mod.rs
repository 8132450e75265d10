//! Soft sorting and ranking: projections onto the permutahedron, solved by isotonic regression.
//!
//! Blondel, Teboul, Berthet & Djolonga, "Fast Differentiable Sorting and Ranking", ICML 2020. For a
//! row `x` of length `n`, let `z = sort_desc(σ x)` (σ = ±1 picks the direction, `perm` the sorting
//! permutation) and `ρ = (n, n-1, …, 1)`. With strength `ε > 0`:
//!
//! - **soft rank** `r = P(θ, ρ)` with `θ = σ x / ε`: the projection of `θ` onto the permutahedron
//!   of `ρ`. With `v` the decreasing isotonic regression of the paper (`v₁ ≥ … ≥ vₙ`), per block `B`
//!   of its solution, `r_{perm i} = z_i/ε − v_B` with
//!   `v_B = mean_B(z/ε − ρ)` (quadratic, `l2`) or `v_B = LSE_B(z/ε) − ln Σ_B ρ` (entropic, `kl`,
//!   which then exponentiates: `r_{perm i} = e^{z_i/ε − v_B}`);
//! - **soft sort** `s = σ P(ρ/ε, z)`: the projection of `ρ/ε` onto the permutahedron of `z`,
//!   `s_i = σ (ρ_i/ε − v_B)` with `v_B = mean_B(ρ/ε − z)` (`l2`) or `LSE_B(ρ/ε) − LSE_B(z)` (`kl`).
//!
//! **Soft top-k** is the soft rank with the target `w = (1, …, 1, 0, …, 0)` (`k` ones) for `ρ`:
//! the projection of `x/ε` onto the capped simplex `{m ∈ [0, 1]ⁿ : Σ m = k}` (l2 only), a
//! membership mask of the `k` largest values; its derivatives are those of the rank with `w`.
//!
//! `σ = +1` ranks ascending (1 = smallest) and sorts descending; `descending` flips each. These are
//! the values of fast-soft-sort and torchsort for the same regularization and strength.
//!
//! An l2 rank or sort whose solution is provably one block (ranks: `(max x − min x)/ε ≤ n/2`;
//! the proofs in `one.rs`) is an affine map of `x` (ranks) or of `ρ` (sorts): it is computed in
//! `O(n)` without sorting. Otherwise
//! the isotonic regressions are solved by pool-adjacent-violators (`pav.rs`) in `O(n)` after the
//! `O(n log n)` sort; blocks are pooled while the earlier one's value is not larger, so adjacent
//! blocks of the solution have strictly decreasing values. Every formula is evaluated in a form
//! that stays finite for finite input: sums of `z` and of `ρ` are kept apart (so a singleton block
//! gives exactly `ρ_i` or `z_i`), log-sum-exps use temperatures (`ε LSE(z/ε)` never overflows),
//! comparisons are scaled by `min(ε, 1)`, and the l2 block sums of `z` (of `z - z_0` for ranks,
//! and the rank's strength cotangent) are kept times `2^-k`, with `k` per lane the least that keeps
//! `2 n max|z|` below the float limit (0, so no scaling at all, unless values near ±1e308 could
//! pool).
//!
//! # Derivatives (`O(n)` per row from the residuals `perm`, `σ x` and the block starts)
//! Within a block with weights `p` (`1/|B|` for `l2`; `softmax_B(z/ε)` for rank-`kl`,
//! `softmax_B(z)` for sort-`kl`):
//! - rank: `dr = f ⊙ (dθ − ⟨p, dθ_B⟩)` with `f = 1` (`l2`) or `r` (`kl`) and
//!   `dθ = σ dx/ε − θ dε/ε`; the pullback is `x̄ = σ k/ε` with `k = f ⊙ ḡ − p Σ_B f ⊙ ḡ` (in sorted
//!   order) and `ε̄ = −Σ k_i z_i / ε²`;
//! - sort: `ds_i = ⟨p, dx_B⟩ − σ dε (ρ_i − c_B)/ε²` with `c_B = mean_B ρ` (`l2`) or
//!   `⟨softmax_B(ρ/ε), ρ_B⟩` (`kl`); the pullback is `x̄_{perm j} = p_j Σ_B ḡ` and
//!   `ε̄ = −σ Σ_i ḡ_i (ρ_i − c_B)/ε²`.
//!
//! Rows are independent and deterministic; the strength cotangent sums per-row terms in row order,
//! so results do not depend on the thread count. A lane of at least 2^17 values runs its PAV, its
//! outputs and its l2 rank pullback in fixed pieces on the threads (`pav/long.rs`), so its bits do
//! not depend on the thread count either.

mod drive;
mod grad;
mod one;
mod pav;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_one;
#[cfg(test)]
mod tests_one_exact;
#[cfg(test)]
mod tests_paths;
#[cfg(test)]
mod tests_row;
#[cfg(test)]
mod tests_tiny_strength;
#[cfg(test)]
mod tests_values;
#[cfg(test)]
mod tests_vjp_blocks;
mod work;

use crate::error::{Error, Result};
use crate::par::{Layout, Par, Rows};
use crate::real::Real;

/// Which of the two operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `soft_sort`.
    Sort,
    /// `soft_rank`.
    Rank,
    /// `soft_topk` with this `k`: the rank of the paper with the target `(1, …, 1, 0, …, 0)`
    /// (`k` ones) instead of `ρ`, whose permutahedron is the capped simplex
    /// `{m ∈ [0, 1]ⁿ : Σ m = k}` (quadratic regularization only).
    TopK(usize),
}

/// The regularization of the projection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reg {
    /// Quadratic: Euclidean projection.
    L2,
    /// Entropic: KL projection (ranks are positive).
    Kl,
}

/// One soft sort or rank: the operation and its parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spec {
    /// Sort or rank.
    pub op: Op,
    /// Regularization.
    pub reg: Reg,
    /// The paper's `ε`: finite and `> 0`.
    pub strength: f64,
    /// Sort descending / rank the largest 1.
    pub descending: bool,
}

impl Spec {
    /// The public name of the operation.
    pub fn name(&self) -> &'static str {
        match self.op {
            Op::Sort => "soft_sort",
            Op::Rank => "soft_rank",
            Op::TopK(_) => "soft_topk",
        }
    }

    /// `σ`: the sign applied to `x` before sorting descending.
    pub(crate) fn sign(&self) -> f64 {
        match (self.op, self.descending) {
            (Op::Rank | Op::TopK(_), false) | (Op::Sort, true) => 1.0,
            _ => -1.0,
        }
    }

    /// The target of the projection at sorted position `i` of `n`: `ρ_i = n - i`, or for top-k
    /// `1` for the first `k` positions and `0` after.
    #[inline]
    pub(crate) fn w(&self, n: usize, i: usize) -> f64 {
        match self.op {
            Op::TopK(k) => f64::from(u8::from(i < k)),
            _ => (n - i) as f64,
        }
    }

    fn check(&self, func: &'static str, layout: Layout) -> Result<()> {
        if let Op::TopK(k) = self.op {
            if k > layout.n {
                return Err(Error::param(
                    func,
                    "k",
                    format!("must be in [0, n] = [0, {}], got {k}", layout.n),
                ));
            }
            if self.reg != Reg::L2 {
                return Err(Error::param(func, "regularization", "must be 'l2'"));
            }
        }
        let e = self.strength;
        if e.is_finite() && e > 0.0 {
            Ok(())
        } else {
            Err(Error::param(
                func,
                "strength",
                format!("must be finite and > 0, got {e}"),
            ))
        }
    }
}

/// The residuals a forward writes (one lane after another, each `n` long): the sorting permutation
/// and the block starts (in sorted order), and `σ x`.
#[derive(Debug)]
pub struct ResMut<'a> {
    /// Position within the lane of the `i`-th largest `σ x`. Not written for an l2 lane that is
    /// provably one block (ranks and sorts, see `one.rs`): its derivatives never read it.
    pub perm: &'a mut [u32],
    /// `σ x + 0`: sorted descending for [`Op::Sort`] (whose derivatives run in sorted order), in
    /// lane order for ranks and top-k (`z_i = zx[perm_i]`: the derivatives of a lane that is one
    /// block, l2, run in lane order without the permutation).
    pub z: &'a mut [f64],
    /// `true` where a block of the isotonic solution starts (in sorted order).
    pub start: &'a mut [bool],
}

/// The residuals, read by the derivatives.
#[derive(Debug, Clone, Copy)]
pub struct Res<'a> {
    /// See [`ResMut::perm`].
    pub perm: &'a [u32],
    /// See [`ResMut::z`].
    pub z: &'a [f64],
    /// See [`ResMut::start`].
    pub start: &'a [bool],
    /// The lanes' lengths given to [`forward`], if any.
    pub lengths: Option<&'a [usize]>,
}

fn check_layout(func: &'static str, layout: Layout) -> Result<usize> {
    let len = layout.len(func)?;
    if layout.n > u32::MAX as usize {
        return Err(Error::param(
            func,
            "x",
            format!(
                "has {} values along the axis, at most {}",
                layout.n,
                u32::MAX
            ),
        ));
    }
    Ok(len)
}

/// Ragged lanes: `lengths` (one per lane, `layout.outputs()` of them) must be at most `n` (and at
/// least `k` for top-k).
fn check_lengths(
    func: &'static str,
    spec: &Spec,
    layout: Layout,
    lengths: Option<&[usize]>,
) -> Result<()> {
    let Some(l) = lengths else { return Ok(()) };
    Error::check_len(func, "lengths", l.len(), layout.outputs())?;
    let lo = match spec.op {
        Op::TopK(k) => k,
        _ => 0,
    };
    match l.iter().position(|&m| m > layout.n || m < lo) {
        None => Ok(()),
        Some(i) if l[i] > layout.n => Err(Error::param(
            func,
            "lengths",
            format!(
                "must be in [0, n] = [0, {}], got {} at lane {i}",
                layout.n, l[i]
            ),
        )),
        Some(i) => Err(Error::param(
            func,
            "k",
            format!(
                "must be at most every length, got {lo} > {} at lane {i}",
                l[i]
            ),
        )),
    }
}

fn check_res(func: &'static str, len: usize, perm: usize, z: usize, start: usize) -> Result<()> {
    Error::check_len(func, "perm", perm, len)?;
    Error::check_len(func, "z", z, len)?;
    Error::check_len(func, "start", start, len)
}

/// Soft sort or rank of `x` along the middle axis of `layout`, written to `out` (same length).
/// `res`, if given, receives the residuals of [`vjp`] and [`jvp`] (each the length of `x`).
/// With `lengths` (one per lane), lane `j` is its first `lengths[j]` values only; the rest of it
/// is 0 in `out` (and in every derivative).
///
/// # Errors
/// [`Error::InvalidParameter`] for a bad strength, or a non-finite `x` (naming the flat position in
/// `x`); [`Error::Shape`], [`Error::Alloc`], [`Error::Interrupted`].
pub fn forward<T: Real>(
    x: &[T],
    layout: Layout,
    spec: Spec,
    out: &mut [T],
    res: Option<ResMut<'_>>,
    lengths: Option<&[usize]>,
    par: Par,
) -> Result<()> {
    let func = spec.name();
    spec.check(func, layout)?;
    check_lengths(func, &spec, layout, lengths)?;
    let len = check_layout(func, layout)?;
    Error::check_len(func, "x", x.len(), len)?;
    Error::check_len(func, "out", out.len(), len)?;
    let n = layout.n;
    let res = match res {
        Some(r) => {
            check_res(func, len, r.perm.len(), r.z.len(), r.start.len())?;
            Some((
                Rows::of_mut(r.perm, n),
                Rows::of_mut(r.z, n),
                Rows::of_mut(r.start, n),
            ))
        }
        None => None,
    };
    let data = (res, lengths.map(|l| Rows::of(l, 1)));
    let run = drive::each_lane(func, layout, x, out, data, par, |xs, os, (r, l), p| {
        let m = l.map_or(n, |l| l[0]);
        os[m..].fill(0.0);
        let r = r.map(|(p, z, s)| {
            p[m..].fill(0);
            z[m..].fill(0.0);
            s[m..].fill(false);
            (&mut p[..m], &mut z[..m], &mut s[..m])
        });
        pav::forward_lane(&spec, &xs[..m], &mut os[..m], r, p)
    });
    match run {
        Err(Error::InvalidParameter { name: "x", .. }) => {
            // Only on the error path: find the first non-finite value for the message.
            let (k, v) = x
                .iter()
                .enumerate()
                .find(|(_, v)| !v.to_f64().is_finite())
                .map_or((0, f64::NAN), |(k, v)| (k, v.to_f64()));
            Err(Error::param(
                func,
                "x",
                format!("must be finite, got {v} at flat index {k}"),
            ))
        }
        other => other,
    }
}

/// Pullback of [`forward`] for the cotangent `g` (length of `x`), from its residuals: writes the
/// `x` cotangent to `gx` and returns the strength cotangent.
///
/// # Errors
/// As [`forward`], and [`Error::Shape`] for residuals of the wrong length.
pub fn vjp<T: Real>(
    res: Res<'_>,
    g: &[T],
    layout: Layout,
    spec: Spec,
    gx: &mut [T],
    par: Par,
) -> Result<f64> {
    let func = spec.name();
    spec.check(func, layout)?;
    let len = check_layout(func, layout)?;
    Error::check_len(func, "g", g.len(), len)?;
    Error::check_len(func, "gx", gx.len(), len)?;
    check_res(func, len, res.perm.len(), res.z.len(), res.start.len())?;
    check_lengths(func, &spec, layout, res.lengths)?;
    let n = layout.n;
    let mut de = crate::par::scratch(func, layout.outputs(), 0.0)?;
    let data = (
        (
            Rows::of(res.perm, n),
            Rows::of(res.z, n),
            Rows::of(res.start, n),
        ),
        Rows::of_mut(&mut de[..], 1),
        res.lengths.map(|l| Rows::of(l, 1)),
    );
    drive::each_lane(
        func,
        layout,
        g,
        gx,
        data,
        par,
        |gs, os, ((p, z, s), d, l), par| {
            let m = l.map_or(n, |l| l[0]);
            os[m..].fill(0.0);
            let (res, g, gx) = ((&p[..m], &z[..m], &s[..m]), &gs[..m], &mut os[..m]);
            d[0] = if pav::long_vjp_takes(&spec, m) {
                pav::long_vjp(&spec, res, g, gx, par)?
            } else {
                grad::vjp_lane(&spec, res, g, gx)?
            };
            Ok(())
        },
    )?;
    Ok(de.iter().fold(0.0, |a, b| a + b))
}

/// Tangent of [`forward`] for the tangents `dx` (length of `x`) and `dstrength`, from its
/// residuals, written to `out`.
///
/// # Errors
/// As [`vjp`].
pub fn jvp<T: Real>(
    res: Res<'_>,
    dx: &[T],
    dstrength: f64,
    layout: Layout,
    spec: Spec,
    out: &mut [T],
    par: Par,
) -> Result<()> {
    let func = spec.name();
    spec.check(func, layout)?;
    let len = check_layout(func, layout)?;
    Error::check_len(func, "dx", dx.len(), len)?;
    Error::check_len(func, "out", out.len(), len)?;
    check_res(func, len, res.perm.len(), res.z.len(), res.start.len())?;
    check_lengths(func, &spec, layout, res.lengths)?;
    let n = layout.n;
    let data = (
        (
            Rows::of(res.perm, n),
            Rows::of(res.z, n),
            Rows::of(res.start, n),
        ),
        res.lengths.map(|l| Rows::of(l, 1)),
    );
    drive::each_lane(
        func,
        layout,
        dx,
        out,
        data,
        par,
        |us, os, ((p, z, s), l), _| {
            let m = l.map_or(n, |l| l[0]);
            os[m..].fill(0.0);
            grad::jvp_lane(
                &spec,
                (&p[..m], &z[..m], &s[..m]),
                &us[..m],
                dstrength,
                &mut os[..m],
            )
        },
    )
}
