//! The table of a pass (`m` by binade, and the small values' constants) and the scalar lanes:
//! the step ([`forward`]) and the undoing ([`undo`]) of one value, whose arithmetic the vector
//! lanes of `x86.rs` repeat. The argument is in the [module documentation](super).

use super::super::lanes::{inv_q, rne, HIDDEN, MARGIN, M_MAX, S_MIN};
use super::super::step_r;

/// `m = round(|C| / q(e))` by binade `e`, for one coefficient `C` of a pass.
#[derive(Debug, Clone, Copy)]
pub(super) struct Table {
    /// The least biased exponent the lanes take: `|C| / q(e) ≤ 2²⁴` from it on, and `≥ 26`.
    pub(super) lo: u32,
    /// `m(lo + j)`; `0` from `j = 25` on (so for every `e ≥ lo + 31`, as `j` is clamped to 31).
    pub(super) m: [i32; 32],
    /// `C`.
    pub(super) c: f64,
    /// The bits of `2^⌊log₂|C|⌋` as `f32`: an undoing whose `|c₀|` lies below is in the small
    /// region ([`undo_one`](super::undo_one)).
    pub(super) small: u32,
    /// The bits of the step of `0` by `C` and by `−C` (the small region's `0`).
    pub(super) y0: [u32; 2],
}

/// The binades below `C`'s that [`Table::step_small`] takes.
const J_MAX: usize = 24;

impl Table {
    /// The table of `c`, or `None` where the pass keeps the general path (`c` zero, tiny, huge
    /// or not finite).
    pub(super) fn new(c: f64) -> Option<Self> {
        let a = c.abs();
        if !(1e-30..=1e30).contains(&a) {
            return None;
        }
        // The lanes' expressions, binade by binade (monotone in e: exact power-of-two scalings).
        let t = |e: u32| a * inv_q(e);
        let fit = (0..=255u32).find(|&e| t(e) <= M_MAX)?;
        let lo = fit.max(26);
        if lo > 252 {
            return None;
        }
        let m = std::array::from_fn(|j| {
            let e = lo + j as u32;
            if e > 255 {
                0
            } else {
                rne(t(e)) & 0x1ff_ffff
            }
        });
        let small = (((c.to_bits() >> 52) & 0x7ff) as u32 + 127 - 1023) << 23;
        let y0 = [step_r(0.0f32, c).to_bits(), step_r(0.0f32, -c).to_bits()];
        (m[25..].iter().all(|&v| v == 0)).then_some(Table {
            lo,
            m,
            c,
            small,
            y0,
        })
    }

    /// A table whose lanes are not used (a pass without an undoing or without a step).
    #[cfg(target_arch = "x86_64")]
    pub(super) fn unused() -> Self {
        Table {
            lo: 26,
            m: [0; 32],
            c: 1.0,
            small: 0,
            y0: [0; 2],
        }
    }

    /// The recorded step of a small `x⁰` (bits `xb`; `|x⁰| < 2^⌊log₂|C|⌋`, `j` binades below
    /// `C`'s, `1 ≤ j ≤` [`J_MAX`]) by `d = C (−1)^zbit`, as [`step_r`] and the solve's bit make
    /// it: `(y bits, bit, ok)`; not `ok` (another value): the solve's.
    ///
    /// With `x⁰ = ±M q` (`q = 2^(e − 150)`), `step_r` adds the snap `±m q`, `m = round(|C| / q)`
    /// (an integer below `2⁵¹`, exact in `f64`), so the sum is `σ N q` with
    /// the integer `N = m ± M` (`+` where `x⁰` has `d`'s sign), exact in `f64`, and `σ` the sign
    /// of `d` (`N > 0`: `M q < 2^⌊log₂|C|⌋ ≤ |C|`). Its rounding to `f32` (ties toward zero)
    /// is `N`'s, scaled by `q` (a power of two; checked to leave the result normal). The
    /// neighbours `x⁰ ± q` (in the binade: `M` is not at its edge) sum to `N ± 1` in the order
    /// of their values along `σ`, so the bit (`x⁰` the farther one, along `y`'s sign, of two or
    /// more that end together with no next one) is whether `N − 1` rounds with `N` and `N + 1`
    /// does not.
    #[inline(always)]
    pub(super) fn step_small(&self, xb: u32, zbit: bool) -> (u32, u8, bool) {
        let e = (xb >> 23) & 0xff;
        let mant = xb & 0x7f_ffff;
        let j = (self.small >> 23).wrapping_sub(e);
        let fits = j.wrapping_sub(1) < J_MAX as u32;
        // m = round(|C| / q) as the snap rounds it (by 2^52, ties to even), an integer below 2^51
        // for j <= J_MAX.
        let m = {
            const SHIFTER: f64 = 4_503_599_627_370_496.0;
            let t = self.c.abs() * inv_q(e);
            (t + SHIFTER) - SHIFTER
        };
        let neg_d = (self.c < 0.0) != zbit;
        let same = (xb >> 31 == 1) == neg_d;
        let big = f64::from(mant | HIDDEN as u32);
        let n = if same { m + big } else { m - big };
        // Ties toward zero on a positive integer: down where RNE went up by exactly half a gap.
        let tz = |v: f64| {
            let r = v as f32;
            let low = f32::from_bits(r.to_bits().wrapping_sub(1));
            let (rf, lf) = (f64::from(r), f64::from(low));
            let tie = (rf > v) & (rf - v == 0.5 * (rf - lf));
            if tie {
                low
            } else {
                r
            }
        };
        let (r, rd, ru) = (tz(n), tz(n - 1.0), tz(n + 1.0));
        let bit = u8::from((rd == r) & (ru != r));
        let scale = (e as i32 - 150) << 23;
        let y = (r.to_bits() as i32).wrapping_add(scale) as u32 | (u32::from(neg_d) << 31);
        // The scaling by q keeps the result normal (N below 2^24: the sum is exact, finer).
        let ok = fits
            & (e >= 1)
            & (mant.wrapping_sub(1) < 0x7f_fffe)
            & (n >= 2.0)
            & ((r.to_bits() >> 23) + e > 150);
        (y, bit, ok)
    }

    #[inline(always)]
    pub(super) fn m(&self, e: u32) -> i32 {
        self.m[e.wrapping_sub(self.lo).min(31) as usize]
    }

    /// `e` in `lo..=252`: the lanes' limit on `|d| / q` and their range of binades.
    #[inline(always)]
    pub(super) fn window(&self, e: u32) -> bool {
        e.wrapping_sub(self.lo) <= 252 - self.lo
    }

    /// The sign bit of `C`.
    #[inline(always)]
    pub(super) fn neg(&self) -> u32 {
        u32::from(self.c < 0.0)
    }
}

/// The significand bits `mant` lie [`MARGIN`] floats inside the binade.
#[inline(always)]
fn inside(mant: u32) -> bool {
    mant.wrapping_sub(MARGIN as u32) < (HIDDEN - 2 * MARGIN) as u32
}

/// [`lanes::forward`](super::lanes::forward) of `x⁰` (bits `xb`) by `d = C (−1)^zbit`:
/// `(y bits, bit, ok)`.
#[inline(always)]
pub(super) fn forward(t: &Table, xb: u32, zbit: u32) -> (u32, u32, bool) {
    let e = (xb >> 23) & 0xff;
    let mant = xb & 0x7f_ffff;
    let big = mant as i32 | HIDDEN;
    let m = t.m(e);
    let sx = xb >> 31;
    let s = if sx == t.neg() ^ zbit {
        big.wrapping_add(m)
    } else {
        big.wrapping_sub(m)
    };
    let up = s >= 2 * HIDDEN;
    let r = if up { s & !1 } else { s };
    let q = f32::from_bits(e.wrapping_sub(23) << 23);
    // Across zero (S < 0): the sign of d (module documentation).
    let sy = sx ^ u32::from(s < 0);
    let y = (r.unsigned_abs() as f32 * q).to_bits() | (sy << 31);
    let bit = u32::from(up) & (s & 1) as u32;
    (
        y,
        bit,
        t.window(e) & inside(mant) & (s.unsigned_abs() >= S_MIN as u32),
    )
}

/// [`lanes::undo`](super::lanes::undo) of `y` (bits `yb`) by `d = C (−1)^zbit`, with `c₀` in `f32`
/// (module documentation): `(x⁰ bits, ok)`.
#[inline(always)]
pub(super) fn undo(t: &Table, yb: u32, zbit: u32, bit: u32, has_bit: bool) -> (u32, bool) {
    // c0 within a float of y - d, in f32 (module documentation).
    let c32 = t.c as f32;
    let d = if zbit != 0 { -c32 } else { c32 };
    let cb = (f32::from_bits(yb) - d).to_bits();
    let e = (cb >> 23) & 0xff;
    let mant = cb & 0x7f_ffff;
    let m = t.m(e);
    // |y| / q(e) for a normal y: its significand shifted by e_y - e (left at most 1: < 2^25).
    let ye = (yb >> 23) & 0xff;
    let ybig = (yb & 0x7f_ffff) | HIDDEN as u32;
    let sh = ye as i32 - e as i32;
    let (shl, shr) = (sh.max(0) as u32, (-sh).max(0) as u32);
    let yi = ybig
        .checked_shl(shl)
        .unwrap_or(0)
        .checked_shr(shr)
        .unwrap_or(0) as i32;
    let low = 1u32.checked_shl(shr).unwrap_or(0).wrapping_sub(1);
    let integral = ybig & low == 0;
    let sx = cb >> 31;
    let base = if sx == t.neg() ^ zbit {
        yi.wrapping_sub(m)
    } else {
        yi.wrapping_add(m)
    };
    let two = yi >= 2 * HIDDEN;
    let mm = base.wrapping_add(i32::from(two & (bit != 0)));
    let ok = t.window(e)
        & inside(mant)
        & (sh <= 1)
        & integral
        & (ye.wrapping_sub(1) < 254)
        & (sx == yb >> 31)
        & (!two | ((yi & 1 == 0) & has_bit))
        & (base >= HIDDEN)
        & (base.wrapping_add(i32::from(two)) < 2 * HIDDEN);
    let x0 = (cb & 0xff80_0000) | (mm as u32 & 0x7f_ffff);
    // The small region: `0` if it steps to `y`, else `c₀` (in `f32`, as here).
    let sm = cb & 0x7fff_ffff < t.small;
    let r0 = if yb == t.y0[zbit as usize] { 0 } else { cb };
    (if sm { r0 } else { x0 }, ok | sm)
}
