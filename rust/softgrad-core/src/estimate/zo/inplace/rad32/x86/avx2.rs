//! The AVX2 lanes of [`Pass::group_scalar`](super::super::Pass): the table lookup is four
//! permutes and three blends, the signs of `z` and the record bits come to the sign bits of the
//! lanes; the loop is compiled once per kind of pass ([`group256_for`]).

use super::super::{Pass, Table, GROUP, HIDDEN, LANES, MARGIN, S_MIN};
use super::{SIG, TOP};
use std::arch::x86_64::*;

/// A table's constants in 256-bit registers.
#[derive(Clone, Copy)]
struct T256 {
    lo: __m256i,
    t: [__m256i; 4],
    c32: __m256,
    neg: __m256i,
    small: __m256i,
    y0: [__m256i; 2],
}

#[target_feature(enable = "avx2,fma,bmi1,bmi2")]
fn t256(t: Option<&Table>) -> T256 {
    let t = t.copied().unwrap_or(Table::unused());
    // SAFETY: 8 values from each offset are inside the table.
    let t4 = |i: usize| unsafe { _mm256_loadu_si256(t.m[8 * i..].as_ptr().cast()) };
    T256 {
        lo: _mm256_set1_epi32(t.lo as i32),
        t: [t4(0), t4(1), t4(2), t4(3)],
        c32: _mm256_set1_ps(t.c as f32),
        neg: _mm256_set1_epi32(if t.c < 0.0 { -1 } else { 0 }),
        small: _mm256_set1_epi32(t.small as i32),
        y0: [
            _mm256_set1_epi32(t.y0[0] as i32),
            _mm256_set1_epi32(t.y0[1] as i32),
        ],
    }
}

/// `m(e)` and the lanes where `e` is outside the table's window (all ones).
#[inline]
#[target_feature(enable = "avx2,fma,bmi1,bmi2")]
fn lookup256(v: &T256, e: __m256i) -> (__m256i, __m256i) {
    let j = _mm256_min_epu32(_mm256_sub_epi32(e, v.lo), _mm256_set1_epi32(31));
    let (s3, s4) = (
        _mm256_castsi256_ps(_mm256_slli_epi32::<28>(j)),
        _mm256_castsi256_ps(_mm256_slli_epi32::<27>(j)),
    );
    // (No closures here: they would not inherit the target features.)
    let p0 = _mm256_castsi256_ps(_mm256_permutevar8x32_epi32(v.t[0], j));
    let p1 = _mm256_castsi256_ps(_mm256_permutevar8x32_epi32(v.t[1], j));
    let p2 = _mm256_castsi256_ps(_mm256_permutevar8x32_epi32(v.t[2], j));
    let p3 = _mm256_castsi256_ps(_mm256_permutevar8x32_epi32(v.t[3], j));
    let a = _mm256_blendv_ps(p0, p1, s3);
    let b = _mm256_blendv_ps(p2, p3, s3);
    let m = _mm256_castps_si256(_mm256_blendv_ps(a, b, s4));
    let out = _mm256_or_si256(
        _mm256_cmpgt_epi32(v.lo, e),
        _mm256_cmpgt_epi32(e, _mm256_set1_epi32(252)),
    );
    (m, out)
}

/// The lanes whose significand bits are not [`MARGIN`] floats inside the binade (all ones).
#[inline]
#[target_feature(enable = "avx2,fma,bmi1,bmi2")]
fn edge256(mant: __m256i) -> __m256i {
    _mm256_or_si256(
        _mm256_cmpgt_epi32(_mm256_set1_epi32(MARGIN), mant),
        _mm256_cmpgt_epi32(mant, _mm256_set1_epi32(HIDDEN - MARGIN - 1)),
    )
}

/// `super::undo` on 8 lanes (`zm`, `bit`: all ones where `z = −1`, where the record bit is set;
/// `has`: all ones with bits): `(x⁰, ok, lookup)`, `ok` all ones, `lookup` the table's `(m,
/// out)` at `x⁰`'s binade (which is `c₀`'s, bit for bit: `x⁰` takes `c₀`'s top bits).
#[inline]
#[target_feature(enable = "avx2,fma,bmi1,bmi2")]
fn undo256(
    v: &T256,
    yb: __m256i,
    zm: __m256i,
    bit: __m256i,
    has: __m256i,
) -> (__m256i, __m256i, (__m256i, __m256i)) {
    let (ff, sig, one) = (
        _mm256_set1_epi32(0xff),
        _mm256_set1_epi32(SIG),
        _mm256_set1_epi32(1),
    );
    let hidden = _mm256_set1_epi32(HIDDEN);
    let zero = _mm256_setzero_si256();
    // c0 within a float of y - d (module documentation).
    let d = _mm256_xor_ps(
        v.c32,
        _mm256_and_ps(_mm256_castsi256_ps(zm), _mm256_set1_ps(-0.0)),
    );
    let cb = _mm256_castps_si256(_mm256_sub_ps(_mm256_castsi256_ps(yb), d));
    let e = _mm256_and_si256(_mm256_srli_epi32::<23>(cb), ff);
    let mant = _mm256_and_si256(cb, sig);
    let (m, out) = lookup256(v, e);
    // Y = |y| / q(e) by a power-of-two scaling in f32, exact unless it underflows to 0 (then
    // flagged; a result that keeps any bit is exact or not integral): an integer below 2^31 is
    // one exactly where its conversion back gives it. Anything else (y infinite or NaN, Y of
    // 2^31 or more) converts to i32::MIN and is not integral. A Y of 2^25 or more is out of
    // `base`'s bounds below, as the integer shift's `sh > 1` was.
    let ye0 = _mm256_cmpeq_epi32(_mm256_and_si256(yb, _mm256_set1_epi32(0x7f80_0000)), zero);
    let inv = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_sub_epi32(
        _mm256_set1_epi32(277),
        e,
    )));
    let yf = _mm256_mul_ps(
        _mm256_castsi256_ps(_mm256_and_si256(yb, _mm256_set1_epi32(i32::MAX))),
        inv,
    );
    let yi = _mm256_cvtps_epi32(yf);
    let integral = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_EQ_OQ>(_mm256_cvtepi32_ps(yi), yf));
    let under = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_EQ_OQ>(yf, _mm256_setzero_ps()));
    let sx = _mm256_srai_epi32::<31>(cb);
    let other = _mm256_xor_si256(_mm256_xor_si256(sx, zm), v.neg);
    let base = _mm256_blendv_epi8(_mm256_sub_epi32(yi, m), _mm256_add_epi32(yi, m), other);
    let two = _mm256_cmpgt_epi32(yi, _mm256_set1_epi32(2 * HIDDEN - 1));
    let mm = _mm256_sub_epi32(base, _mm256_and_si256(two, bit));
    let even = _mm256_cmpeq_epi32(_mm256_and_si256(yi, one), zero);
    let b2 = _mm256_sub_epi32(base, two);
    let mut bad = zero;
    bad = _mm256_or_si256(bad, out);
    bad = _mm256_or_si256(bad, edge256(mant));
    bad = _mm256_or_si256(bad, _mm256_or_si256(ye0, under));
    bad = _mm256_or_si256(bad, _mm256_srai_epi32::<31>(_mm256_xor_si256(cb, yb)));
    bad = _mm256_or_si256(bad, _mm256_andnot_si256(_mm256_and_si256(even, has), two));
    bad = _mm256_or_si256(bad, _mm256_cmpgt_epi32(hidden, base));
    bad = _mm256_or_si256(
        bad,
        _mm256_cmpgt_epi32(b2, _mm256_set1_epi32(2 * HIDDEN - 1)),
    );
    let top = _mm256_set1_epi32(TOP);
    let x0 = _mm256_or_si256(_mm256_and_si256(cb, top), _mm256_andnot_si256(top, mm));
    // The small region: 0 where y is the step of 0, else c0.
    let sm = _mm256_cmpgt_epi32(v.small, _mm256_and_si256(cb, _mm256_set1_epi32(i32::MAX)));
    let y0 = _mm256_blendv_epi8(v.y0[0], v.y0[1], zm);
    let r0 = _mm256_andnot_si256(_mm256_cmpeq_epi32(yb, y0), cb);
    let ok = _mm256_or_si256(_mm256_andnot_si256(bad, integral), sm);
    (_mm256_blendv_epi8(x0, r0, sm), ok, (m, out))
}

/// `super::forward` on 8 lanes: `(y, bit in the sign, ok all ones)`. `known`: the lookup made
/// already by an undoing with the same table at `c₀`'s binade, which is `xb`'s (`x⁰` takes
/// `c₀`'s top bits) but where the undoing's small region gave `x⁰ = 0`, out of every window.
#[inline]
#[target_feature(enable = "avx2,fma,bmi1,bmi2")]
fn forward256(
    v: &T256,
    xb: __m256i,
    zm: __m256i,
    known: Option<(__m256i, __m256i)>,
) -> (__m256i, __m256i, __m256i) {
    let (ff, sig) = (_mm256_set1_epi32(0xff), _mm256_set1_epi32(SIG));
    let e = _mm256_and_si256(_mm256_srli_epi32::<23>(xb), ff);
    let mant = _mm256_and_si256(xb, sig);
    let big = _mm256_or_si256(mant, _mm256_set1_epi32(HIDDEN));
    let (m, out) = match known {
        Some((m, out)) => (
            m,
            _mm256_or_si256(out, _mm256_cmpeq_epi32(e, _mm256_setzero_si256())),
        ),
        None => lookup256(v, e),
    };
    let sx = _mm256_srai_epi32::<31>(xb);
    let other = _mm256_xor_si256(_mm256_xor_si256(sx, zm), v.neg);
    let s = _mm256_blendv_epi8(_mm256_add_epi32(big, m), _mm256_sub_epi32(big, m), other);
    let up = _mm256_cmpgt_epi32(s, _mm256_set1_epi32(2 * HIDDEN - 1));
    let r = _mm256_andnot_si256(_mm256_and_si256(up, _mm256_set1_epi32(1)), s);
    let q = _mm256_slli_epi32::<23>(_mm256_sub_epi32(e, _mm256_set1_epi32(23)));
    let ar = _mm256_abs_epi32(r);
    let y = _mm256_castps_si256(_mm256_mul_ps(
        _mm256_cvtepi32_ps(ar),
        _mm256_castsi256_ps(q),
    ));
    // The sign: x's, flipped across zero (S < 0).
    let sign = _mm256_and_si256(_mm256_xor_si256(xb, s), _mm256_set1_epi32(i32::MIN));
    let y = _mm256_or_si256(y, sign);
    let nb = _mm256_and_si256(up, _mm256_slli_epi32::<31>(s));
    let bad = _mm256_or_si256(
        _mm256_or_si256(out, edge256(mant)),
        _mm256_cmpgt_epi32(_mm256_set1_epi32(S_MIN), ar),
    );
    (y, nb, _mm256_xor_si256(bad, _mm256_set1_epi32(-1)))
}

/// A group's AVX2 lanes (the arguments of [`group256`]).
pub(in super::super) type Group256 = unsafe fn(
    &Pass,
    &mut [f32; GROUP],
    &[[u32; LANES]; 4],
    &mut [u8],
    &mut [u32; GROUP / 32],
    &mut [u32; GROUP / 32],
) -> u32;

/// [`group256`] compiled for `pass`'s kind, so nothing about the pass is decided per vector.
pub(in super::super) fn group256_for(pass: &Pass) -> Group256 {
    // Where the undoing and the step take the same |C| (SPSA's second pass: +C undone, −C
    // applied) their tables' m are the same, and the step's lookup is the undoing's.
    let same = matches!(
        (&pass.before, &pass.after),
        (Some(b), Some(a)) if b.lo == a.lo && b.m == a.m
    );
    match (pass.before.is_some(), pass.after.is_some(), same) {
        (true, true, true) => group256::<true, true, true>,
        (true, true, false) => group256::<true, true, false>,
        (true, false, _) => group256::<true, false, false>,
        (false, true, _) => group256::<false, true, false>,
        (false, false, _) => group256::<false, false, false>,
    }
}

/// [`Pass::group_scalar`](super::Pass) on a whole group, 8 lanes at a time, for one kind of
/// pass: with an undoing (`UNDO`), a step (`FWD`), and the step's lookup taken from the
/// undoing's (`SAME`).
#[target_feature(enable = "avx2,fma,bmi1,bmi2")]
pub(in super::super) fn group256<const UNDO: bool, const FWD: bool, const SAME: bool>(
    pass: &Pass,
    x: &mut [f32; GROUP],
    words: &[[u32; LANES]; 4],
    bits: &mut [u8],
    slow: &mut [u32; GROUP / 32],
    only: &mut [u32; GROUP / 32],
) -> u32 {
    let (tb, ta) = (t256(pass.before.as_ref()), t256(pass.after.as_ref()));
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
        // Passes with a step keep their quarters as a loop (a trip count LLVM does not see):
        // unrolled, the four spill the 16 registers (measured slower on Zen 3).
        let quarters = if UNDO && !FWD {
            4
        } else {
            std::hint::black_box(4)
        };
        for h in 0..quarters {
            let p = x[32 * k + 8 * h..].as_mut_ptr();
            // SAFETY: 8 values from p are inside x.
            let xb = unsafe { _mm256_loadu_si256(p.cast()) };
            let zm = _mm256_srai_epi32::<31>(_mm256_sllv_epi32(
                _mm256_set1_epi32((word >> (8 * h)) as i32),
                up,
            ));
            // The record bit in the sign.
            let bitv = _mm256_sllv_epi32(_mm256_set1_epi32((rb >> (8 * h)) as i32), up);
            let (x0, ok0, known) = if UNDO {
                let (x0, ok0, lookup) = undo256(&tb, xb, zm, _mm256_srai_epi32::<31>(bitv), has);
                (x0, ok0, SAME.then_some(lookup))
            } else {
                (xb, _mm256_set1_epi32(-1), None)
            };
            let (y, nbit, ok) = if FWD {
                let (y, nbit, ok1) = forward256(&ta, x0, zm, known);
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
            let newbit =
                _mm256_blendv_ps(_mm256_castsi256_ps(bitv), _mm256_castsi256_ps(nbit), okf);
            nb |= (_mm256_movemask_ps(newbit) as u32) << (8 * h);
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
