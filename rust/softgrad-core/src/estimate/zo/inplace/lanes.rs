//! The recorded passes of `f32` data in integer lanes: the recorded step [`step_r`](super::step_r)
//! and its undoing ([`undo_one`](super::undo_one) with a bit) as integer arithmetic on the bits,
//! for every coordinate whose original lies well inside its binade and farther from zero than
//! `|d|` (with MeZO's `eps = 1e-3` on weights ~ N(0, 0.02²): about 96 % of them, including the
//! ones whose step leaves the binade, where the bit matters). The others are flagged for the solve
//! ([`solve`](super::solve)). Branch-free, so LLVM vectorizes the loops at the level
//! `simd::dispatch` compiles them for; plain IEEE conversions and integer operations only, so the
//! bits do not depend on the level.
//!
//! **The step.** For `x⁰ = ±M q` (`M ∈ [2²³, 2²⁴)` the significand with its hidden bit, `q` the
//! quantum of its binade `B`) and `m = round(|d| / q)` (ties to even: the snap), the sum before
//! rounding is `±S q` with the integer `S = M ± m` (`+` where `d` has `x⁰`'s sign). With
//! `m ≤ 2²⁴` and `S ≥ 16`, `S ∈ [16, 2²⁵)`: below `2²⁴` the value `S q` is a float (in `B` or
//! finer: normal, as `q ≥ 2⁻¹²⁴` in the lanes), exact;
//! from `2²⁴` on it lies in the next binade, on the grid `2q`, where an odd `S` is a tie, which
//! rounds toward zero: `S & !1`. That is `step_r`'s result, bit for bit.
//!
//! **The bit.** Take `M` at least [`MARGIN`] floats inside `B`. Any preimage `x'` of `y` lies
//! within `q_{x'}/2 + q` of `y − d` (the snap and the rounding of `y`, whose grid is at most `2q`),
//! so within a few floats of `x⁰`: inside `B`, where the step is `M' ↦ S'` as above. Where `S <
//! 2²⁴` that map is exact, and `x⁰` is the only preimage: the bit is `0` (the solve writes `0`
//! there too). Where `S ≥ 2²⁴`, `M` and its neighbour `M − 1` (`S` odd) or `M + 1` (`S` even) end
//! at the same value: `x⁰` is the outer one (farther from zero) exactly when `S` is odd.
//!
//! **The undoing.** `c₀ = round(y − d)` as `undo_one` computes it; with `c₀` at least [`MARGIN`]
//! floats inside its binade `B` (quantum `q`) and `y` within one binade above it, every preimage
//! is within 2 floats of `c₀` (the bound above), so in `B`, and among `undo_one`'s seven
//! candidates. With `Y = |y| / q` (an integer, or no preimage in `B`: flagged) and `m` as above,
//! the preimages are the `M'` in `B` with `S' = Y` (`Y < 2²⁴`: the one `Y ∓ m`) or `S' ∈ {Y,
//! Y + 1}` (`Y ≥ 2²⁴`, even: the two `Y ∓ m` and `Y ∓ m + 1`, the outer one named by the bit).
//! That is `undo_one`'s answer for one hit or for two with a bit. Anything else (no hit, a hit
//! outside `B`, no bit for two) is flagged, except the small region (`y − d` in `f32` below
//! `2^⌊log₂|d|⌋`), whose answer (`0` or that difference) the lanes compute as `undo_one` does.

use crate::simd::{self, Level};

/// How far (in floats) inside its binade a value must lie for the lanes.
pub(super) const MARGIN: i32 = 8;

pub(super) const HIDDEN: i32 = 1 << 23;
/// `1.5 · 2⁵²`: adding it rounds `|t| < 2⁵¹` to an integer (ties to even) in the low bits.
const MAGIC: f64 = 6_755_399_441_055_744.0;
/// `m = round(|d| / q)` must not exceed this (so `|S| < 2²⁵`).
pub(super) const M_MAX: f64 = (1u32 << 24) as f64;
/// The least `S` the lanes take (`x⁰` farther from zero than `|d|` by a margin; `y` normal).
pub(super) const S_MIN: i32 = 16;

/// `2^(150 − e)` for a biased `f32` exponent `e`: `1 / q`, a normal `f64` for every `e`.
#[inline(always)]
pub(super) fn inv_q(e: u32) -> f64 {
    f64::from_bits(u64::from(1173u32.wrapping_sub(e)) << 52)
}

/// `round(t)` for `0 ≤ t < 2⁵¹`, ties to even (the snap's rounding), as an integer.
#[inline(always)]
pub(super) fn rne(t: f64) -> i32 {
    (t + MAGIC).to_bits() as u32 as i32
}

/// Whether the biased exponent `e` and the significand `big` lie in the lanes' range: results
/// one binade down or up stay normal and finite, and `big` is [`MARGIN`] floats inside.
#[inline(always)]
fn inside(e: u32, big: i32) -> bool {
    // Each range as one unsigned comparison.
    (e.wrapping_sub(26) <= 252 - 26)
        & (((big - HIDDEN - MARGIN) as u32) < (HIDDEN - 2 * MARGIN) as u32)
}

/// The recorded step `d` of `x⁰` (bits `xb`): `(y bits, bit, ok)`; not `ok`: the solve's.
#[inline(always)]
pub(super) fn forward(xb: u32, d: f64) -> (u32, u8, bool) {
    let e = (xb >> 23) & 0xff;
    let big = (xb & 0x7f_ffff) as i32 | HIDDEN;
    let t = d.abs() * inv_q(e);
    let fits = t <= M_MAX;
    let m = rne(t) & 0x1ff_ffff;
    let sx = xb >> 31;
    let same = sx == (d.to_bits() >> 63) as u32;
    let s = if same { big + m } else { big - m };
    let up = s >= 2 * HIDDEN;
    let r = if up { s & !1 } else { s };
    let q = f32::from_bits(e.wrapping_sub(23) << 23);
    let y = (r as f32 * q).to_bits() | (sx << 31);
    let bit = u8::from(up) & (s & 1) as u8;
    (y, bit, inside(e, big) & fits & (s >= S_MIN))
}

/// The original `x⁰` whose recorded step `d` is `y` (bits `yb`), the bit naming the outer one of
/// two (`has_bit`: one was recorded): `(x⁰ bits, ok)`; not `ok`: the solve's.
#[inline(always)]
pub(super) fn undo(yb: u32, d: f64, bit: u8, has_bit: bool) -> (u32, bool) {
    let y = f64::from(f32::from_bits(yb));
    let cb = ((y - d) as f32).to_bits();
    let e = (cb >> 23) & 0xff;
    let big = (cb & 0x7f_ffff) as i32 | HIDDEN;
    let inv = inv_q(e);
    let t = d.abs() * inv;
    let fits = t <= M_MAX;
    let m = rne(t) & 0x1ff_ffff;
    let yq = y.abs() * inv;
    let fits_y = yq < (4 * HIDDEN) as f64;
    let yi = rne(yq) & 0x3ff_ffff;
    let integral = f64::from(yi) == yq;
    let ye = (yb >> 23) & 0xff;
    let sx = cb >> 31;
    let same = sx == (d.to_bits() >> 63) as u32;
    let base = if same { yi - m } else { yi + m };
    let two = yi >= 2 * HIDDEN;
    let pick = i32::from(two & (bit != 0));
    let mm = base + pick;
    let ok = inside(e, big)
        & fits
        & fits_y
        & integral
        & (ye.wrapping_sub(1) < 254)
        & (sx == yb >> 31)
        & (!two | ((yi & 1 == 0) & has_bit))
        & (base >= HIDDEN)
        & (base + i32::from(two) < 2 * HIDDEN);
    let x0 = (sx << 31) | (e << 23) | (mm as u32 & 0x7f_ffff);
    // The small region (`undo_one`): `0` if it steps to `y`, else `y − d` in `f32`. The step of
    // `0` is `d` rounded to `f32` with ties toward zero (`d` itself is the sum where `|d| ≥
    // 2⁻⁹⁷`): where `y` is that rounding or the float below it in magnitude, or `d` is tiny,
    // the solve decides (cheaper than replaying the step of `0` in every lane).
    let df = (d as f32).to_bits();
    let c = f32::from_bits(yb) - d as f32;
    let sm = super::small(c, d);
    let near0 = (yb == df) | (yb == df.wrapping_sub(1)) | (d.abs() < 1e-27);
    (
        if sm { c.to_bits() } else { x0 },
        (ok & !sm) | (sm & !near0),
    )
}

/// Bytes `0` or `1`, byte `j` of the result bit `j` of `b`.
#[inline(always)]
fn spread8(b: u8) -> [u8; 8] {
    const ONES: u64 = 0x0101_0101_0101_0101;
    // Byte j of the spread is bit j of b, in place; adding 0x7f carries it to bit 7.
    let spread = (u64::from(b) * ONES) & 0x8040_2010_0804_0201;
    (((spread + 0x7f7f_7f7f_7f7f_7f7f) >> 7) & ONES).to_le_bytes()
}

/// Bits `0..8` from the bytes of `v` (each `0` or `1`), byte `j` to bit `j`.
#[inline(always)]
fn gather8(v: [u8; 8]) -> u8 {
    ((u64::from_le_bytes(v).wrapping_mul(0x0102_0408_1020_4080)) >> 56) as u8
}

/// Unpacks bit `i` of `bits` (byte `i / 8`, least significant first) into `out[i]` (`0` or `1`).
#[inline(always)]
pub(super) fn unpack(bits: &[u8], out: &mut [u8]) {
    let last = bits.get(out.len() / 8).copied();
    let mut whole = out.chunks_exact_mut(8);
    for (o, &b) in (&mut whole).zip(bits) {
        *<&mut [u8; 8]>::try_from(o).expect("8 bytes") = spread8(b);
    }
    let rest = whole.into_remainder();
    if let Some(b) = last {
        for (j, v) in rest.iter_mut().enumerate() {
            *v = (b >> j) & 1;
        }
    }
}

/// Writes `new[i]` into bit `i` of `bits` where `slow[i] == 0` (the others are left); both hold
/// `0` or `1`.
#[inline(always)]
pub(super) fn pack(new: &[u8], slow: &[u8], bits: &mut [u8]) {
    let (n8, s8) = (new.chunks_exact(8), slow.chunks_exact(8));
    let (nr, sr) = (n8.remainder(), s8.remainder());
    for ((b, n), s) in bits.iter_mut().zip(n8).zip(s8) {
        let keep = gather8(s.try_into().expect("8 bytes"));
        *b = (*b & keep) | (gather8(n.try_into().expect("8 bytes")) & !keep);
    }
    if let Some(b) = bits.get_mut(new.len() / 8) {
        for (j, (&v, &f)) in nr.iter().zip(sr).enumerate() {
            if f == 0 {
                *b = (*b & !(1 << j)) | (v << j);
            }
        }
    }
}

/// The recorded step of total `after` from the original, the current value being the step
/// `before` from it (`None`: the current value is the original), in the lanes: `x_i` stepped, its
/// bit written and `slow[i] = 0`, or `x_i` and its bit left and `slow[i] = 1`. `z.len() ==
/// x.len() <= REDUCE_PIECE`, `bits` the matching `ceil(len / 8)` bytes.
pub(super) fn apply_recorded(
    level: Level,
    x: &mut [f32],
    z: &[f64],
    before: Option<f64>,
    after: f64,
    bits: &mut [u8],
    slow: &mut [u8],
) {
    let mut cb = [0u8; crate::par::REDUCE_PIECE];
    let cb = &mut cb[..x.len()];
    if before.is_some() {
        unpack(bits, cb);
    }
    let (nb, fl) = (&mut *cb, &mut *slow);
    // One loop per case (LLVM does not unswitch it), each vectorized.
    #[inline(always)]
    fn step(v: &mut f32, zi: f64, b: Option<f64>, after: f64, bit: &mut u8, s: &mut u8) {
        let vb = v.to_bits();
        let (x0, ok0) = match b {
            Some(b) => undo(vb, b * zi, *bit, true),
            None => (vb, true),
        };
        let (y, nb, ok1) = forward(x0, after * zi);
        let ok = ok0 & ok1;
        *v = f32::from_bits(if ok { y } else { vb });
        *bit = nb;
        *s = u8::from(!ok);
    }
    match before {
        Some(b) => simd::dispatch(
            level,
            #[inline(always)]
            move || {
                for (((v, &zi), bit), s) in
                    x.iter_mut().zip(z).zip(nb.iter_mut()).zip(fl.iter_mut())
                {
                    step(v, zi, Some(b), after, bit, s);
                }
            },
        ),
        None => simd::dispatch(
            level,
            #[inline(always)]
            move || {
                for (((v, &zi), bit), s) in
                    x.iter_mut().zip(z).zip(nb.iter_mut()).zip(fl.iter_mut())
                {
                    step(v, zi, None, after, bit, s);
                }
            },
        ),
    }
    pack(cb, slow, bits);
}

/// Undoes the recorded step of total `d` in the lanes (`bits` empty: none was recorded): `x_i ←
/// x⁰_i` and `slow[i] = 0`, or `x_i` left and `slow[i] = 1`.
pub(super) fn restore(
    level: Level,
    x: &mut [f32],
    z: &[f64],
    d: f64,
    bits: &[u8],
    slow: &mut [u8],
) {
    let mut cb = [0u8; crate::par::REDUCE_PIECE];
    let cb = &mut cb[..x.len()];
    let has_bit = !bits.is_empty();
    if has_bit {
        unpack(bits, cb);
    }
    let cb = &*cb;
    simd::dispatch(
        level,
        #[inline(always)]
        move || {
            for (((v, &zi), &bit), s) in x.iter_mut().zip(z).zip(cb.iter()).zip(slow.iter_mut()) {
                let vb = v.to_bits();
                let (x0, ok) = undo(vb, d * zi, bit, has_bit);
                *v = f32::from_bits(if ok { x0 } else { vb });
                *s = u8::from(!ok);
            }
        },
    );
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_bits;
