//! The derivatives of the soft max-plus product: the pullback ([`vjp`]) and the tangent ([`jvp`]),
//! from the residual [`Res`] the forward leaves (see the parent module for the formulas).

use super::*;

/// The residual of the derivatives: the inputs (private f64 copies, as given: not negated) and
/// the forward's f64 products.
#[derive(Debug, Clone, Copy)]
pub struct Res<'a> {
    /// The `A` stack.
    pub a: &'a [f64],
    /// The `B` stack.
    pub b: &'a [f64],
    /// The products, `batch × m × n`.
    pub c: &'a [f64],
}

/// What a batch product's derivatives share: the factors, and per entry the class.
struct Prod<'a> {
    s: Spec,
    am: &'a [f64],
    bm: &'a [f64],
    chat: &'a [f64],
    ea: &'a [f64],
    eb: &'a [f64],
    amax: &'a [f64],
    bmax: &'a [f64],
}

impl Prod<'_> {
    /// `Ĉ_ij` and, for an entry of the factorised path, `S_ij`; `None` for a non-finite value.
    fn entry(&self, i: usize, j: usize) -> Option<(f64, Option<f64>)> {
        let c = self.chat[i * self.s.n + j];
        if !c.is_finite() {
            return None;
        }
        let sij = ((c - self.amax[i] - self.bmax[j]) / self.s.temperature).exp();
        Some((c, (sij >= THRESH).then_some(sij)))
    }

    /// `P_ikj` directly.
    fn p(&self, i: usize, kk: usize, j: usize, c: f64) -> f64 {
        let (k, n, sg) = (self.s.k, self.s.n, self.s.sign());
        let z = sg * self.am[i * k + kk] + sg * self.bm[kk * n + j];
        ((z - c) / self.s.temperature).exp()
    }
}

/// Pullback of [`forward`] for the cotangent `g` (`batch × m × n`): writes the cotangent of each
/// product's `A` to `ga` (`batch × m × k`) and of its `B` to `gb` (`batch × k × n`) (the caller sums
/// over broadcast copies), and returns the temperature cotangent.
///
/// # Errors
/// As [`forward`], and [`Error::Shape`] for a residual of the wrong length.
#[allow(clippy::too_many_arguments)]
pub fn vjp<T: Real>(
    res: Res<'_>,
    pairs: Pairs<'_>,
    spec: Spec,
    g: &[T],
    ga: &mut [T],
    gb: &mut [T],
    par: Par,
) -> Result<f64> {
    vjp_at(level(), res, pairs, spec, g, ga, gb, par)
}

#[allow(clippy::too_many_arguments)]
fn vjp_at<T: Real>(
    lvl: Level,
    res: Res<'_>,
    pairs: Pairs<'_>,
    s: Spec,
    g: &[T],
    ga: &mut [T],
    gb: &mut [T],
    par: Par,
) -> Result<f64> {
    let func = s.name();
    let (m, k, n, t, sg) = (s.m, s.k, s.n, s.temperature, s.sign());
    let na = stack_len(func, "a", res.a.len(), m * k)?;
    let nb = stack_len(func, "b", res.b.len(), k * n)?;
    let batch = check(func, &s, &pairs, na, nb)?;
    Error::check_len(func, "c", res.c.len(), batch * m * n)?;
    Error::check_len(func, "g", g.len(), batch * m * n)?;
    Error::check_len(func, "ga", ga.len(), batch * m * k)?;
    Error::check_len(func, "gb", gb.len(), batch * k * n)?;
    ga.fill(T::from_f64(0.0));
    gb.fill(T::from_f64(0.0));
    if m * n * k == 0 {
        return Ok(0.0);
    }
    let (pa, pb) = (prep_a(func, res.a, na, &s)?, prep_b(func, res.b, nb, &s)?);
    let (np, kp) = (padded(n), padded(k));
    // E^A transposed (k × m) and E^B transposed (np × kp), per stack matrix.
    let mut eat = scratch(func, na * k * m, 0.0)?;
    for c in 0..na {
        for i in 0..m {
            for kk in 0..k {
                eat[c * k * m + kk * m + i] = pa.e[c * m * k + i * k + kk];
            }
        }
    }
    let mut ebt = scratch(func, nb * np * kp, 0.0)?;
    for c in 0..nb {
        for kk in 0..k {
            for j in 0..n {
                ebt[c * np * kp + j * kp + kk] = pb.e[c * k * np + kk * np + j];
            }
        }
    }
    let mut h = scratch(func, m * np, 0.0)?;
    let mut u = scratch(func, m * kp, 0.0)?;
    let mut v = scratch(func, k * np, 0.0)?;
    let mut chat = scratch(func, m * n, 0.0)?;
    let mut dt = 0.0;
    for p in 0..batch {
        let (ia, ib) = (pairs.a[p], pairs.b[p]);
        chat.iter_mut()
            .zip(&res.c[p * m * n..][..m * n])
            .for_each(|(o, c)| *o = sg * c);
        let pr = Prod {
            s,
            am: &res.a[ia * m * k..][..m * k],
            bm: &res.b[ib * k * n..][..k * n],
            chat: &chat,
            ea: &pa.e[ia * m * k..][..m * k],
            eb: &pb.e[ib * k * np..][..k * np],
            amax: &pa.mx[ia * m..][..m],
            bmax: &pb.mx[ib * n..][..n],
        };
        let gp = &g[p * m * n..][..m * n];
        // H = Ĝ/S on the factorised entries; the exact ones listed (in row order).
        let mut exact_entries = Vec::new();
        let mut dt_c = 0.0;
        h.fill(0.0);
        for i in 0..m {
            for j in 0..n {
                let gij = sg * gp[i * n + j].to_f64();
                if let Some((c, sij)) = pr.entry(i, j) {
                    dt_c += gij * (c - pr.amax[i] - pr.bmax[j]);
                    match sij {
                        Some(sij) => h[i * np + j] = gij / sij,
                        None => exact_entries.push((i, j, gij, c)),
                    }
                }
            }
        }
        let exact_entries = &exact_entries;
        let pr = &pr;
        // ∂L/∂Â = E^A ⊙ (H E^Bᵀ), plus the exact entries of each row.
        let gap = &mut ga[p * m * k..][..m * k];
        gemm::rows(
            func,
            lvl,
            par,
            &h,
            np,
            &ebt[ib * np * kp..][..np * kp],
            kp,
            &mut u,
            Rows::of_mut(gap, k),
            |r0, urows, garows| {
                for (ii, (urow, grow)) in urows.chunks(kp).zip(garows.chunks_mut(k)).enumerate() {
                    let i = r0 + ii;
                    let lo = exact_entries.partition_point(|e| e.0 < i);
                    let mine = &exact_entries[lo..];
                    for kk in 0..k {
                        let mut d = pr.ea[i * k + kk] * urow[kk];
                        for &(_, j, gij, c) in mine.iter().take_while(|e| e.0 == i) {
                            d += gij * pr.p(i, kk, j, c);
                        }
                        grow[kk] = T::from_f64(d);
                    }
                }
                Ok(())
            },
        )?;
        // ∂L/∂B̂ = E^B ⊙ (E^Aᵀ H), plus the exact entries.
        let gbp = &mut gb[p * k * n..][..k * n];
        gemm::rows(
            func,
            lvl,
            par,
            &eat[ia * k * m..][..k * m],
            m,
            &h,
            np,
            &mut v,
            Rows::of_mut(gbp, n),
            |r0, vrows, gbrows| {
                // f64 accumulators for the exact entries' terms (only when there are any).
                let mut acc = scratch(func, if exact_entries.is_empty() { 0 } else { n }, 0.0)?;
                for (kr, (vrow, grow)) in vrows.chunks(np).zip(gbrows.chunks_mut(n)).enumerate() {
                    let kk = r0 + kr;
                    if exact_entries.is_empty() {
                        for j in 0..n {
                            grow[j] = T::from_f64(pr.eb[kk * np + j] * vrow[j]);
                        }
                        continue;
                    }
                    for j in 0..n {
                        acc[j] = pr.eb[kk * np + j] * vrow[j];
                    }
                    for &(i, j, gij, c) in exact_entries {
                        acc[j] += gij * pr.p(i, kk, j, c);
                    }
                    for (o, v) in grow.iter_mut().zip(acc.iter()) {
                        *o = T::from_f64(*v);
                    }
                }
                Ok(())
            },
        )?;
        // t ∂L/∂t = Σ Ĝ (Ĉ − α − β) − Σ ∂L/∂Â (Â − α) − Σ ∂L/∂B̂ (B̂ − β), in f64 from the
        // cotangents as computed (before narrowing they are f64 only for f64 data).
        let mut da_term = 0.0;
        for i in 0..m {
            for kk in 0..k {
                let d = gap[i * k + kk].to_f64();
                if d != 0.0 {
                    da_term += d * (sg * pr.am[i * k + kk] - pr.amax[i]);
                }
            }
        }
        let mut db_term = 0.0;
        for kk in 0..k {
            for j in 0..n {
                let d = gbp[kk * n + j].to_f64();
                if d != 0.0 {
                    db_term += d * (sg * pr.bm[kk * n + j] - pr.bmax[j]);
                }
            }
        }
        dt += (dt_c - da_term - db_term) / t;
        // The cotangents of A and B themselves: σ ∂L/∂Â.
        if s.min {
            gap.iter_mut().for_each(|v| *v = T::from_f64(-v.to_f64()));
            gbp.iter_mut().for_each(|v| *v = T::from_f64(-v.to_f64()));
        }
    }
    Ok(dt)
}

/// Tangent of [`forward`] for the tangents `da` (the `A` stack's length), `db` (the `B` stack's)
/// and `dt`, written to `out` (`batch × m × n`).
///
/// # Errors
/// As [`vjp`].
#[allow(clippy::too_many_arguments)]
pub fn jvp<T: Real>(
    res: Res<'_>,
    pairs: Pairs<'_>,
    spec: Spec,
    da: &[T],
    db: &[T],
    dt: f64,
    out: &mut [T],
    par: Par,
) -> Result<()> {
    jvp_at(level(), res, pairs, spec, da, db, dt, out, par)
}

#[allow(clippy::too_many_arguments)]
fn jvp_at<T: Real>(
    lvl: Level,
    res: Res<'_>,
    pairs: Pairs<'_>,
    s: Spec,
    da: &[T],
    db: &[T],
    dt: f64,
    out: &mut [T],
    par: Par,
) -> Result<()> {
    let func = s.name();
    let (m, k, n, t, sg) = (s.m, s.k, s.n, s.temperature, s.sign());
    let na = stack_len(func, "a", res.a.len(), m * k)?;
    let nb = stack_len(func, "b", res.b.len(), k * n)?;
    let batch = check(func, &s, &pairs, na, nb)?;
    Error::check_len(func, "c", res.c.len(), batch * m * n)?;
    Error::check_len(func, "da", da.len(), res.a.len())?;
    Error::check_len(func, "db", db.len(), res.b.len())?;
    Error::check_len(func, "out", out.len(), batch * m * n)?;
    if !dt.is_finite() {
        return Err(Error::param(
            func,
            "dt",
            format!("must be finite, got {dt}"),
        ));
    }
    if m * n == 0 {
        return Ok(());
    }
    if k == 0 {
        out.fill(T::from_f64(0.0));
        return Ok(());
    }
    let (pa, pb) = (prep_a(func, res.a, na, &s)?, prep_b(func, res.b, nb, &s)?);
    let np = padded(n);
    let tau = dt / t;
    let mut left = scratch(func, m * 2 * k, 0.0)?;
    let mut right = scratch(func, 2 * k * np, 0.0)?;
    let mut q = scratch(func, m * np, 0.0)?;
    let mut chat = scratch(func, m * n, 0.0)?;
    for p in 0..batch {
        let (ia, ib) = (pairs.a[p], pairs.b[p]);
        chat.iter_mut()
            .zip(&res.c[p * m * n..][..m * n])
            .for_each(|(o, c)| *o = sg * c);
        let pr = Prod {
            s,
            am: &res.a[ia * m * k..][..m * k],
            bm: &res.b[ib * k * n..][..k * n],
            chat: &chat,
            ea: &pa.e[ia * m * k..][..m * k],
            eb: &pb.e[ib * k * np..][..k * np],
            amax: &pa.mx[ia * m..][..m],
            bmax: &pb.mx[ib * n..][..n],
        };
        let (dam, dbm) = (&da[ia * m * k..][..m * k], &db[ib * k * n..][..k * n]);
        // [X^A | E^A] and [E^B ; X^B]
        for i in 0..m {
            for kk in 0..k {
                let e = pr.ea[i * k + kk];
                let x = if e == 0.0 {
                    0.0
                } else {
                    e * (sg * dam[i * k + kk].to_f64()
                        - tau * (sg * pr.am[i * k + kk] - pr.amax[i]))
                };
                left[i * 2 * k + kk] = x;
                left[i * 2 * k + k + kk] = e;
            }
        }
        right[..k * np].copy_from_slice(pr.eb);
        for kk in 0..k {
            for j in 0..n {
                let e = pr.eb[kk * np + j];
                right[(k + kk) * np + j] = if e == 0.0 {
                    0.0
                } else {
                    e * (sg * dbm[kk * n + j].to_f64()
                        - tau * (sg * pr.bm[kk * n + j] - pr.bmax[j]))
                };
            }
        }
        let pr = &pr;
        let ob = &mut out[p * m * n..][..m * n];
        gemm::rows(
            func,
            lvl,
            par,
            &left,
            2 * k,
            &right,
            np,
            &mut q,
            Rows::of_mut(ob, n),
            |r0, qrows, orows| {
                for (ii, (qrow, orow)) in qrows.chunks(np).zip(orows.chunks_mut(n)).enumerate() {
                    let i = r0 + ii;
                    for j in 0..n {
                        let d = match pr.entry(i, j) {
                            None if pr.chat[i * n + j].is_nan() => f64::NAN,
                            None => 0.0,
                            Some((c, Some(sij))) => {
                                qrow[j] / sij + tau * (c - pr.amax[i] - pr.bmax[j])
                            }
                            Some((c, None)) => {
                                let mut acc = tau * c;
                                for kk in 0..k {
                                    let pk = pr.p(i, kk, j, c);
                                    let z = sg * pr.am[i * k + kk] + sg * pr.bm[kk * n + j];
                                    let dz = sg * dam[i * k + kk].to_f64()
                                        + sg * dbm[kk * n + j].to_f64();
                                    acc += pk * (dz - tau * z);
                                }
                                acc
                            }
                        };
                        orow[j] = T::from_f64(sg * d);
                    }
                }
                Ok(())
            },
        )?;
    }
    Ok(())
}
