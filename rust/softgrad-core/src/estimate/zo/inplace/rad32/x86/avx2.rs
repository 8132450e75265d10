//! The AVX2 lanes of a recorded Rademacher pass whose totals are **nested**: `|C|` an `f32`
//! whose lowest set bit, `2^k`, is a multiple of the quantum of every binade the lanes take.
//! `spsa_inplace` rounds `eps` to 8 significant bits with `z = ±1` for this (its totals are then
//! `±eps`). Then the table's lookup, margins and integrality tests (the scalar lanes of
//! `rad32/table.rs`, and the AVX-512 ones) give way to float arithmetic, which takes the small
//! values' step too; other totals take the scalar lanes at this level.
//!
//! **The window.** The step takes every `|x⁰|` below `2^(k + 150 − 127)` (bits below
//! `min(k + 150, 254) · 2²³`: binades `e ≤ k + 149`, so that `q(e + 1) ≤ 2^k` and `e + 1` is
//! finite); the undoing takes `|c|` (`c = y ⊖ d`) in the same range from 4 floats above `|C|`,
//! and the small region below `2^⌊log₂|C|⌋`. Everything else is flagged for the solve, as in
//! the scalar lanes.
//!
//! **The step.** Where `q(x⁰)` divides `C`, [`snap`](super::super::super::snap) keeps `d`, and
//! the recorded step is `S = x⁰ + d` rounded to nearest with ties toward zero: `r = x⁰ ⊕ d`
//! (ties to even), its exact error by Knuth's two-sum, and `r`'s neighbour toward zero where
//! `S` was a tie that `r` broke away from zero.
//!
//! **The bit is whether `S` was a tie.** The solve's bit (`forward` in `solve.rs`) is set where
//! `x⁰`'s inner neighbour (toward zero, taken with `y`'s sign) also steps to `y` and its outer one
//! does not. The floats stepping to `y` are those whose sums fall in `y`'s interval, `(y −
//! g₋/2, y + g₊/2]` in magnitude (`g₋`, `g₊` the gaps from `y` toward and away from zero; the
//! upper end included: ties go toward zero); `x⁰`'s neighbours lie at most `q(x⁰)` from it,
//! and their sums as far from `S`.
//! - If `q(y) ≤ q(x⁰)`, `S` (a multiple of `q(x⁰)`) is a float: `y = S`, not a tie, and the
//!   neighbours' sums are other floats: no run, bit `0`.
//! - Else `q(x⁰) ≤ q(y)/2 ≤ g₊/2`: `S` and the interval's upper end are multiples of `q(x⁰)`, so
//!   the outer neighbour's sum leaves the interval exactly where `S` is its upper end, a tie,
//!   and the inner one's, `S − q(x⁰)` or closer, stays in it (`q(x⁰) < (g₋ + g₊)/2`).
//!
//! With `|x⁰| > |C|` (most values) this is the exact arithmetic of a step: `S` keeps `x⁰`'s sign
//! and stays below `2 · 2P` (`P = 2^⌊log₂|x⁰|⌋`), exact in `x⁰`'s binade or below and on the grid
//! `2q` or a tie in the binade above; the tie is the one bit the step loses.
//!
//! **The undoing.** `c = y ⊖ d`. Every float `x` with `|x| > |C|` in a binade whose quantum
//! divides `C` steps to `x + d` exactly or to a tie on the grid twice its quantum, so a
//! preimage of `y` is `y − d` (when that is a float) or `y − d ∓ q(x)` with `y` in the binade
//! above `x`'s. With `|c|` 4 floats above `|C|`, the candidates of
//! [`undo_one`](super::super::super::undo_one) (`c₀ = c`: `y − d` is exact in `f64` here) are
//! all such floats, and none of the small region's, so:
//! - `y − d` a float (`c` exact): `c` steps to `y`; its outer neighbour `n` steps to `y + q(c)`,
//!   which rounds to `y` exactly where `y`'s binade is above `c`'s (`q(y) ≥ 2 q(c)`). So the
//!   preimages are `{c}` or `{c, n}`, and with a recorded bit the answer is `n` where it is set
//!   (`n` is `c`'s bits plus one), without one `c` (`c₀` maps);
//! - `y − d` not a float: then it lies in a binade above `y`'s, and `y − d ± q(y)/2` is no float
//!   either: no preimage, and `undo_one` answers `c₀ = c`, whose binade is above `y`'s.
//!
//! Either way: `c`'s bits, plus one where the bit is set, there is a bit, and `c`'s binade is
//! below `y`'s. Where `|c| < 2^⌊log₂|C|⌋` (`undo_one`'s small region, with its `c` computed as
//! here) the answer is `0` where `y = d` (the step of `0`), else `c`: that is `c` itself, as
//! `d ⊖ d = +0`. Between the two regions the value is flagged. Tested against the table's lanes
//! and the solve bit for bit, whole passes on their images and on any values and bits, in
//! `rad32/tests.rs`.

use super::super::{Pass, Table, GROUP, LANES};
use std::arch::x86_64::*;

/// A nested total's lanes constants: `±C` in `f32` and the window.
#[derive(Clone, Copy)]
pub(super) struct N256 {
    /// `C` and `−C`.
    d: [__m256; 2],
    lo: __m256i,
    hi: __m256i,
    small: __m256i,
}

/// The window `[lo, hi)` of `|v|`'s bits where `c` is nested (module documentation), or `None`
/// (`|c|` not a normal `f32`, or too many significant bits for any binade above `|c|`).
pub(in super::super) fn window(c: f64) -> Option<(u32, u32)> {
    let f = c.abs() as f32;
    if f64::from(f) != c.abs() || !f.is_normal() {
        return None;
    }
    let b = f.to_bits();
    let e = b >> 23;
    // C = sig · 2^(e − 150): its lowest set bit is 2^(e + tz − 150), the quantum of binade e + tz.
    let tz = ((b & 0x7f_ffff) | 0x80_0000).trailing_zeros();
    let (lo, hi) = (b + 4, (e + tz).min(254) << 23);
    (lo < hi).then_some((lo, hi))
}

/// A group's AVX2 lanes (the arguments of [`group`]).
pub(in super::super) type Group256 = unsafe fn(
    &Pass,
    &mut [f32; GROUP],
    &[[u32; LANES]; 4],
    &mut [u8],
    &mut [u32; GROUP / 32],
    &mut [u32; GROUP / 32],
) -> u32;

/// [`group`] compiled for `pass`'s kind, where all its totals have a [`window`].
pub(in super::super) fn group_for(pass: &Pass) -> Option<Group256> {
    let ok = |t: &Option<Table>| t.as_ref().is_none_or(|t| window(t.c).is_some());
    if !(ok(&pass.before) && ok(&pass.after)) {
        return None;
    }
    match (pass.before.is_some(), pass.after.is_some()) {
        (true, true) => Some(group::<true, true>),
        (true, false) => Some(group::<true, false>),
        (false, true) => Some(group::<false, true>),
        (false, false) => None,
    }
}

#[target_feature(enable = "avx2,fma,bmi1,bmi2")]
fn n256(t: Option<&Table>) -> N256 {
    // A pass without this total never reads its constants.
    let (c, (lo, hi)) = t
        .and_then(|t| Some((t.c, window(t.c)?)))
        .unwrap_or((1.0, (0, 0)));
    N256 {
        d: [_mm256_set1_ps(c as f32), _mm256_set1_ps(-c as f32)],
        lo: _mm256_set1_epi32(lo as i32 - 1),
        hi: _mm256_set1_epi32(hi as i32),
        // 2^⌊log₂|C|⌋: below it, c is in undo_one's small region.
        small: _mm256_set1_epi32(((c.abs() as f32).to_bits() & 0x7f80_0000) as i32),
    }
}

/// `±C` by lane: `C`, or `−C` where `z = −1` (`zm` all ones).
#[inline]
#[target_feature(enable = "avx2,fma,bmi1,bmi2")]
fn signed(v: &N256, zm: __m256i) -> __m256 {
    _mm256_blendv_ps(v.d[0], v.d[1], _mm256_castsi256_ps(zm))
}

/// The lanes whose bits `b` (sign cleared) lie in the window (all ones).
#[inline]
#[target_feature(enable = "avx2,fma,bmi1,bmi2")]
fn inside(v: &N256, a: __m256i) -> __m256i {
    _mm256_and_si256(_mm256_cmpgt_epi32(a, v.lo), _mm256_cmpgt_epi32(v.hi, a))
}

/// The undoing on 8 lanes (`bit`: all ones where the record bit is set and there are bits):
/// `(x⁰, ok)`.
#[inline]
#[target_feature(enable = "avx2,fma,bmi1,bmi2")]
fn undo(v: &N256, yb: __m256i, sd: __m256, bit: __m256i) -> (__m256i, __m256i) {
    let (abs, exp) = (_mm256_set1_epi32(i32::MAX), _mm256_set1_epi32(0x7f80_0000));
    let cb = _mm256_castps_si256(_mm256_sub_ps(_mm256_castsi256_ps(yb), sd));
    let ca = _mm256_and_si256(cb, abs);
    let below = _mm256_cmpgt_epi32(_mm256_and_si256(yb, exp), _mm256_and_si256(ca, exp));
    // Plus one where both hold (all ones is -1).
    let x0 = _mm256_sub_epi32(cb, _mm256_and_si256(below, bit));
    // The small region: 0 where y is the step of 0, d, else c; c is +0 there already.
    let sm = _mm256_cmpgt_epi32(v.small, ca);
    (
        _mm256_blendv_epi8(x0, cb, sm),
        _mm256_or_si256(inside(v, ca), sm),
    )
}

/// The recorded step on 8 lanes: `(y, bit in the sign, ok)`: `x + d` rounded to nearest with
/// ties toward zero, and the bit set where the sum was a tie (module documentation), for every
/// `|x|` below the window's top.
#[inline]
#[target_feature(enable = "avx2,fma,bmi1,bmi2")]
fn forward(v: &N256, xb: __m256i, d: __m256) -> (__m256i, __m256i, __m256i) {
    let x = _mm256_castsi256_ps(xb);
    let r = _mm256_add_ps(x, d);
    // Knuth's two-sum: r + err is x + d exactly.
    let bb = _mm256_sub_ps(r, x);
    let err = _mm256_add_ps(_mm256_sub_ps(x, _mm256_sub_ps(r, bb)), _mm256_sub_ps(d, bb));
    // A tie: r + 2 err is a float (r's neighbour), exactly: |err| is at most half a gap, so that
    // float is r's neighbour on err's side, and the sum their midpoint.
    let e2 = _mm256_add_ps(err, err);
    let n = _mm256_add_ps(r, e2);
    let tie = _mm256_and_ps(
        _mm256_cmp_ps::<_CMP_EQ_OQ>(_mm256_sub_ps(n, r), e2),
        _mm256_cmp_ps::<_CMP_NEQ_OQ>(err, _mm256_setzero_ps()),
    );
    // Broken away from zero (the sum lies toward zero from r: err of the other sign): n.
    let toward = _mm256_srai_epi32::<31>(_mm256_castps_si256(_mm256_xor_ps(err, r)));
    let back = _mm256_and_ps(tie, _mm256_castsi256_ps(toward));
    let y = _mm256_castps_si256(_mm256_blendv_ps(r, n, back));
    let abs = _mm256_set1_epi32(i32::MAX);
    let ok = _mm256_cmpgt_epi32(v.hi, _mm256_and_si256(xb, abs));
    (y, _mm256_castps_si256(tie), ok)
}

/// [`Pass::group_scalar`](super::super::Pass) on a whole group of a nested pass, 8 lanes at a
/// time, for one kind of pass: with an undoing (`UNDO`) and a step (`FWD`). Bit `b` of `slow[k]`:
/// value `32 k + b` flagged for the whole solve; of `only[k]`: undone in the lanes (`x` holds the
/// original), its step flagged. Returns the union of the flags.
#[target_feature(enable = "avx2,fma,bmi1,bmi2")]
pub(in super::super) fn group<const UNDO: bool, const FWD: bool>(
    pass: &Pass,
    x: &mut [f32; GROUP],
    words: &[[u32; LANES]; 4],
    bits: &mut [u8],
    slow: &mut [u32; GROUP / 32],
    only: &mut [u32; GROUP / 32],
) -> u32 {
    let (nb4, na4) = (n256(pass.before.as_ref()), n256(pass.after.as_ref()));
    let has = _mm256_set1_epi32(if pass.has_bit { -1 } else { 0 });
    // Lane l of 8 takes bit l of its byte of a word to the sign bit.
    let up = _mm256_setr_epi32(31, 30, 29, 28, 27, 26, 25, 24);
    let mut any = 0;
    for (k, (flags, fo)) in slow.iter_mut().zip(only.iter_mut()).enumerate() {
        let word = words[k % 4][k / 4];
        let rb = Pass::bits_at(bits, k);
        let (mut f, mut o, mut nb) = (0u32, 0u32, 0u32);
        let ahead = x.as_ptr().wrapping_add(GROUP + 32 * k);
        _mm_prefetch::<_MM_HINT_T0>(ahead.cast());
        _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(16).cast());
        for h in 0..4 {
            let p = x[32 * k + 8 * h..].as_mut_ptr();
            // SAFETY: 8 values from p are inside x.
            let xb = unsafe { _mm256_loadu_si256(p.cast()) };
            let zm = _mm256_srai_epi32::<31>(_mm256_sllv_epi32(
                _mm256_set1_epi32((word >> (8 * h)) as i32),
                up,
            ));
            // The record bit in the sign.
            let bitv = _mm256_sllv_epi32(_mm256_set1_epi32((rb >> (8 * h)) as i32), up);
            let (x0, ok0) = if UNDO {
                let bit = _mm256_and_si256(_mm256_srai_epi32::<31>(bitv), has);
                undo(&nb4, xb, signed(&nb4, zm), bit)
            } else {
                (xb, _mm256_set1_epi32(-1))
            };
            let (y, nbit, ok) = if FWD {
                let (y, nbit, ok1) = forward(&na4, x0, signed(&na4, zm));
                (y, nbit, _mm256_and_si256(ok0, ok1))
            } else {
                (x0, bitv, ok0)
            };
            let (okf, ok0f) = (_mm256_castsi256_ps(ok), _mm256_castsi256_ps(ok0));
            // Undone but not stepped: the original, for the step's solve.
            let undone = _mm256_blendv_ps(_mm256_castsi256_ps(xb), _mm256_castsi256_ps(x0), ok0f);
            let out = _mm256_blendv_ps(undone, _mm256_castsi256_ps(y), okf);
            // SAFETY: as the load.
            unsafe { _mm256_storeu_ps(p, out) };
            if FWD {
                let newbit =
                    _mm256_blendv_ps(_mm256_castsi256_ps(bitv), _mm256_castsi256_ps(nbit), okf);
                nb |= (_mm256_movemask_ps(newbit) as u32) << (8 * h);
            }
            let (m, m0) = (
                _mm256_movemask_ps(okf) as u32,
                _mm256_movemask_ps(ok0f) as u32,
            );
            f |= (!m0 & 0xff) << (8 * h);
            o |= (m0 & !m & 0xff) << (8 * h);
        }
        if FWD {
            bits[4 * k..4 * k + 4].copy_from_slice(&nb.to_le_bytes());
        }
        (*flags, *fo) = (f, o);
        any |= f | o;
    }
    any
}
