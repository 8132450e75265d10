//! The output formulas of a lane from its blocks ([`Out`]): values, block by block or for a lane
//! that is one block, scattered through the permutation.

use super::super::one::each_piece;
use super::super::{Op, Reg, Spec};
use super::{diff_over, Block};
use crate::error::Result;
use crate::par::Par;

/// `out_j = f(σ x_j + 0)` in lane order (the values of a lane that is one block), in pieces on
/// the threads for a long lane.
#[inline(always)]
fn put(
    x: &[f64],
    sign: f64,
    par: Par,
    out: &mut [f64],
    f: impl Fn(f64) -> f64 + Send + Sync,
) -> Result<()> {
    each_piece(par, out, |at, o| {
        for (o, &v) in o.iter_mut().zip(&x[at..]) {
            *o = f(sign * v + 0.0);
        }
    })
}

/// What the output formulas of a lane need besides its blocks.
pub(crate) struct Out<'a> {
    pub(super) spec: &'a Spec,
    n: usize,
    sign: f64,
    e: f64,
    inv_e: f64,
    pub(super) s: f64,
    inv_s: f64,
}

impl<'a> Out<'a> {
    pub(super) fn new(spec: &'a Spec, n: usize, (s, inv_s): (f64, f64)) -> Self {
        let e = spec.strength;
        Out {
            spec,
            n,
            sign: spec.sign(),
            e,
            inv_e: 1.0 / e,
            s,
            inv_s,
        }
    }

    /// `d/ε` as a product with 1/ε, except for a subnormal ε, where 1/ε is inf and 0 · inf (a
    /// singleton block's offset) would be NaN.
    #[inline(always)]
    fn over_e(&self, d: f64) -> f64 {
        if self.inv_e.is_finite() {
            d * self.inv_e
        } else {
            d / self.e
        }
    }

    /// The outputs of the block `blk` ending before `hi` (with `z`, `perm` the lane's), written
    /// through `set(position in the lane, value)`. Per block, the output is an affine function of
    /// `z_i` (ranks) or of `ρ_i` (sorts).
    #[inline(always)]
    pub(super) fn block(
        &self,
        blk: &Block,
        hi: usize,
        (z, perm): (&[f64], &[u32]),
        set: &mut impl FnMut(usize, f64),
    ) {
        let (spec, n, sign, e, s, inv_s) =
            (self.spec, self.n, self.sign, self.e, self.s, self.inv_s);
        let Block {
            lo,
            z0,
            r0,
            c,
            a,
            b,
            ..
        } = *blk;
        let (zs, ps) = (&z[lo..hi], &perm[lo..hi]);
        match (spec.op, spec.reg) {
            (Op::Rank | Op::TopK(_), Reg::L2) if hi == lo + 1 => {
                // a singleton: (z - z)/ε + w is w, bit for bit (the formula below gives 0 + w)
                set(perm[lo] as usize, b);
            }
            (Op::Rank | Op::TopK(_), Reg::L2) => {
                // (z_i - mean z)/ε taken on z 2^-k, then scaled back: |z_i - mean z| can overflow
                let (shift, mean_w) = (z0 * s + a / c, b / c);
                for (&zi, &p) in zs.iter().zip(ps) {
                    set(p as usize, self.over_e(zi * s - shift) * inv_s + mean_w);
                }
            }
            (Op::Rank | Op::TopK(_), Reg::Kl) => {
                for (&zi, &p) in zs.iter().zip(ps) {
                    set(p as usize, (diff_over(zi, z0, e) - a).exp() * b);
                }
            }
            (Op::Sort, Reg::L2) => {
                // a singleton gives its z exactly (even where z 2^-k is subnormal)
                let mean_z = if c == 1.0 { z0 } else { a / c * inv_s };
                let mean_w = b / c;
                for i in lo..hi {
                    set(
                        i,
                        sign * (self.over_e(spec.w(n, i) - mean_w) + mean_z) + 0.0,
                    );
                }
            }
            (Op::Sort, Reg::Kl) => {
                for i in lo..hi {
                    set(i, sign * (self.over_e(spec.w(n, i) - r0) - b + a) + 0.0);
                }
            }
        }
    }

    /// The outputs of a lane that is one block `blk`: a rank is written in lane order from `x`
    /// (`z_i` is `σ x_perm(i) + 0`, bit for bit) instead of scattered; a sort as [`Out::block`].
    pub(super) fn whole(
        &self,
        blk: &Block,
        x: &[f64],
        (z, perm): (&[f64], &[u32]),
        out: &mut [f64],
        par: Par,
    ) -> Result<()> {
        let (spec, sign, e, s, inv_s) = (self.spec, self.sign, self.e, self.s, self.inv_s);
        let Block { z0, c, a, b, .. } = *blk;
        match (spec.op, spec.reg) {
            (Op::Rank | Op::TopK(_), Reg::L2) => {
                let (shift, mean_w) = (z0 * s + a / c, b / c);
                put(x, sign, par, out, |zi| {
                    self.over_e(zi * s - shift) * inv_s + mean_w
                })
            }
            (Op::Rank | Op::TopK(_), Reg::Kl) => {
                put(x, sign, par, out, |zi| (diff_over(zi, z0, e) - a).exp() * b)
            }
            (Op::Sort, _) => {
                self.block(blk, self.n, (z, perm), &mut |i, v| out[i] = v);
                Ok(())
            }
        }
    }
}
