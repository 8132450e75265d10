//! [`Pass::group_scalar`](super::Pass)'s lanes in explicit vector code: at AVX-512 with the
//! table lookup as one permute, the signs of `z` and the record bits straight from the words as
//! masks; at AVX2 ([`avx2`]) for nested totals, by float arithmetic.

use super::{Pass, Table, BATCH, GROUP, HIDDEN, LANES, MARGIN, S_MIN};
use crate::simd::Level;
use std::arch::x86_64::*;

pub(super) mod avx2;
#[cfg(test)]
pub(super) use avx2::window;

const SIG: i32 = 0x7f_ffff;
/// The sign and exponent bits.
const TOP: i32 = 0xff80_0000u32 as i32;

/// A table's constants in 512-bit registers.
#[derive(Clone, Copy)]
struct T512 {
    lo: __m512i,
    span: __m512i,
    tlo: __m512i,
    thi: __m512i,
    c32: __m512,
    negc32: __m512,
    neg: u16,
    small: __m512i,
    y0: [__m512i; 2],
}

#[target_feature(enable = "avx512f,avx512dq,avx512bw,avx512vl,avx2,fma,bmi1,bmi2")]
fn t512(t: Option<&Table>) -> T512 {
    let t = t.copied().unwrap_or(Table::unused());
    // SAFETY: 16 values from each offset are inside the table.
    let (tlo, thi) = unsafe {
        (
            _mm512_loadu_si512(t.m.as_ptr().cast()),
            _mm512_loadu_si512(t.m[16..].as_ptr().cast()),
        )
    };
    T512 {
        lo: _mm512_set1_epi32(t.lo as i32),
        span: _mm512_set1_epi32((252 - t.lo) as i32),
        tlo,
        thi,
        c32: _mm512_set1_ps(t.c as f32),
        negc32: _mm512_set1_ps(-(t.c as f32)),
        neg: if t.c < 0.0 { 0xffff } else { 0 },
        small: _mm512_set1_epi32(t.small as i32),
        y0: [
            _mm512_set1_epi32(t.y0[0] as i32),
            _mm512_set1_epi32(t.y0[1] as i32),
        ],
    }
}

/// `super::undo` on 16 lanes (`zb`, `bit`: the masks of `z`'s signs and the record bits):
/// `(x⁰, ok)`.
#[inline]
#[target_feature(enable = "avx512f,avx512dq,avx512bw,avx512vl,avx2,fma,bmi1,bmi2")]
fn undo512(v: &T512, yb: __m512i, zb: u16, bit: u16, has: u16) -> (__m512i, u16) {
    let (ff, sig, one) = (
        _mm512_set1_epi32(0xff),
        _mm512_set1_epi32(SIG),
        _mm512_set1_epi32(1),
    );
    let hidden = _mm512_set1_epi32(HIDDEN);
    let zero = _mm512_setzero_si512();
    // c0 within a float of y - d (module documentation).
    let d = _mm512_mask_blend_ps(zb, v.c32, v.negc32);
    let cb = _mm512_castps_si512(_mm512_sub_ps(_mm512_castsi512_ps(yb), d));
    let e = _mm512_and_si512(_mm512_srli_epi32::<23>(cb), ff);
    let mant = _mm512_and_si512(cb, sig);
    let de = _mm512_sub_epi32(e, v.lo);
    let m = _mm512_permutex2var_epi32(v.tlo, _mm512_min_epu32(de, _mm512_set1_epi32(31)), v.thi);
    // The checks chained through the compares' masks.
    let ok = _mm512_cmple_epu32_mask(de, v.span);
    let ok = _mm512_mask_cmplt_epu32_mask(
        ok,
        _mm512_sub_epi32(mant, _mm512_set1_epi32(MARGIN)),
        _mm512_set1_epi32(HIDDEN - 2 * MARGIN),
    );
    let ye = _mm512_and_si512(_mm512_srli_epi32::<23>(yb), ff);
    let ok = _mm512_mask_cmplt_epu32_mask(ok, _mm512_sub_epi32(ye, one), _mm512_set1_epi32(254));
    let ybig = _mm512_ternarylogic_epi32::<0xEA>(yb, sig, hidden); // (y & sig) | hidden
    let sh = _mm512_sub_epi32(ye, e);
    let ok = _mm512_mask_cmple_epi32_mask(ok, sh, one);
    let shl = _mm512_max_epi32(sh, zero);
    let shr = _mm512_max_epi32(_mm512_sub_epi32(zero, sh), zero);
    let yi = _mm512_srlv_epi32(_mm512_sllv_epi32(ybig, shl), shr);
    let low = _mm512_sub_epi32(_mm512_sllv_epi32(one, shr), one);
    let ok = _mm512_mask_testn_epi32_mask(ok, ybig, low);
    // c0 and y of one sign.
    let ok = _mm512_mask_cmpge_epi32_mask(ok, _mm512_xor_si512(cb, yb), zero);
    // d of the other sign than c0: y = |x0| + m in units of q.
    let other = _mm512_movepi32_mask(cb) ^ zb ^ v.neg;
    let base = _mm512_mask_add_epi32(_mm512_sub_epi32(yi, m), other, yi, m);
    let two = _mm512_cmpge_epi32_mask(yi, _mm512_set1_epi32(2 * HIDDEN));
    let mm = _mm512_mask_add_epi32(base, two & bit, base, one);
    let b2 = _mm512_mask_add_epi32(base, two, base, one);
    let ok = _mm512_mask_cmpge_epi32_mask(ok, base, hidden);
    let ok = _mm512_mask_cmplt_epi32_mask(ok, b2, _mm512_set1_epi32(2 * HIDDEN));
    // Two preimages need an even Y and a recorded bit.
    let ok = ok & !(two & !_mm512_mask_testn_epi32_mask(has, yi, one));
    // c0's sign and exponent, the significand mm.
    let x0 = _mm512_ternarylogic_epi32::<0xCA>(_mm512_set1_epi32(TOP), cb, mm);
    // The small region: 0 where y is the step of 0, else c0.
    let sm = _mm512_cmplt_epu32_mask(_mm512_and_si512(cb, _mm512_set1_epi32(i32::MAX)), v.small);
    let y0 = _mm512_mask_blend_epi32(zb, v.y0[0], v.y0[1]);
    let r0 = _mm512_mask_mov_epi32(cb, _mm512_cmpeq_epi32_mask(yb, y0), zero);
    (_mm512_mask_blend_epi32(sm, x0, r0), ok | sm)
}

/// `super::forward` on 16 lanes: `(y, bit, ok)`.
#[inline]
#[target_feature(enable = "avx512f,avx512dq,avx512bw,avx512vl,avx2,fma,bmi1,bmi2")]
fn forward512(v: &T512, xb: __m512i, zb: u16) -> (__m512i, u16, u16) {
    let (ff, sig, one) = (
        _mm512_set1_epi32(0xff),
        _mm512_set1_epi32(SIG),
        _mm512_set1_epi32(1),
    );
    let e = _mm512_and_si512(_mm512_srli_epi32::<23>(xb), ff);
    let mant = _mm512_and_si512(xb, sig);
    let big = _mm512_or_si512(mant, _mm512_set1_epi32(HIDDEN));
    let de = _mm512_sub_epi32(e, v.lo);
    let m = _mm512_permutex2var_epi32(v.tlo, _mm512_min_epu32(de, _mm512_set1_epi32(31)), v.thi);
    let sx = _mm512_movepi32_mask(xb);
    let other = sx ^ zb ^ v.neg;
    let s = _mm512_mask_sub_epi32(_mm512_add_epi32(big, m), other, big, m);
    let up = _mm512_cmpge_epi32_mask(s, _mm512_set1_epi32(2 * HIDDEN));
    let r = _mm512_mask_and_epi32(s, up, s, _mm512_set1_epi32(!1));
    let q = _mm512_slli_epi32::<23>(_mm512_sub_epi32(e, _mm512_set1_epi32(23)));
    let ar = _mm512_abs_epi32(r);
    let y = _mm512_castps_si512(_mm512_mul_ps(
        _mm512_cvtepi32_ps(ar),
        _mm512_castsi512_ps(q),
    ));
    // The sign: x's, flipped across zero (S < 0): y | ((x ^ s) & sign).
    let y =
        _mm512_ternarylogic_epi32::<0xF8>(y, _mm512_xor_si512(xb, s), _mm512_set1_epi32(i32::MIN));
    let nb = _mm512_mask_test_epi32_mask(up, s, one);
    let ok = _mm512_mask_cmplt_epu32_mask(
        _mm512_cmple_epu32_mask(de, v.span),
        _mm512_sub_epi32(mant, _mm512_set1_epi32(MARGIN)),
        _mm512_set1_epi32(HIDDEN - 2 * MARGIN),
    );
    let ok = _mm512_mask_cmpge_epi32_mask(ok, ar, _mm512_set1_epi32(S_MIN));
    (y, nb, ok)
}

/// [`Pass::group_scalar`](super::Pass) on a whole group, 16 lanes at a time.
#[target_feature(enable = "avx512f,avx512dq,avx512bw,avx512vl,avx2,fma,bmi1,bmi2")]
pub(super) fn group512(
    pass: &Pass,
    x: &mut [f32; GROUP],
    words: &[[u32; LANES]; 4],
    bits: &mut [u8],
    slow: &mut [u32; GROUP / 32],
) -> u32 {
    let (tb, ta) = (t512(pass.before.as_ref()), t512(pass.after.as_ref()));
    let (undo, fwd) = (pass.before.is_some(), pass.after.is_some());
    let has: u16 = if pass.has_bit { 0xffff } else { 0 };
    // The values whose step alone is left, gathered by compress instructions (no loop over
    // flag bits, whose trip counts the branch predictor cannot learn) and solved 32 at a time:
    // their indices in the group and the originals the lanes left in x.
    let step = Pass {
        before: None,
        ..*pass
    };
    let (mut gi, mut gx, mut gn) = ([0u32; 64], [0u32; 64], 0usize);
    let iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    let mut any = 0;
    for (k, flags) in slow.iter_mut().enumerate() {
        let word = words[k % 4][k / 4];
        let rb = Pass::bits_at(bits, k);
        let (mut f, mut nb) = (0u32, 0u32);
        // The next group's lines, a group ahead (a prefetch past the array is harmless).
        let ahead = x.as_ptr().wrapping_add(GROUP + 32 * k);
        _mm_prefetch::<_MM_HINT_T0>(ahead.cast());
        _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(16).cast());
        for h in 0..2 {
            let p = x[32 * k + 16 * h..].as_mut_ptr();
            // SAFETY: 16 values from p are inside x.
            let xb = unsafe { _mm512_loadu_si512(p.cast()) };
            let zb = (word >> (16 * h)) as u16;
            let bit = (rb >> (16 * h)) as u16;
            let (x0, ok0) = if undo {
                undo512(&tb, xb, zb, bit, has)
            } else {
                (xb, 0xffff)
            };
            let (y, nbit, ok) = if fwd {
                let (y, nbit, ok1) = forward512(&ta, x0, zb);
                (y, nbit, ok0 & ok1)
            } else {
                (x0, bit, ok0)
            };
            // Undone but not stepped: the original, for the step's solve.
            let out = _mm512_mask_blend_epi32(ok, _mm512_mask_blend_epi32(ok0, xb, x0), y);
            // SAFETY: as the load.
            unsafe { _mm512_storeu_si512(p.cast(), out) };
            nb |= u32::from((bit & !ok) | (nbit & ok)) << (16 * h);
            f |= u32::from(!ok0) << (16 * h);
            let o = ok0 & !ok;
            let at = _mm512_add_epi32(iota, _mm512_set1_epi32((32 * k + 16 * h) as i32));
            // SAFETY: gn <= 31 + 16 before this store (flushed below 32 after each k), so the
            // 16 values from gn are inside the 64.
            unsafe {
                _mm512_storeu_si512(
                    gi.as_mut_ptr().add(gn).cast(),
                    _mm512_maskz_compress_epi32(o, at),
                );
                _mm512_storeu_si512(
                    gx.as_mut_ptr().add(gn).cast(),
                    _mm512_maskz_compress_epi32(o, out),
                );
            }
            gn += o.count_ones() as usize;
        }
        if fwd {
            bits[4 * k..4 * k + 4].copy_from_slice(&nb.to_le_bytes());
        }
        *flags = f;
        any |= f;
        // Bits and values up to k are written: the solve may scatter into them.
        if gn >= BATCH {
            step.steps(Level::Avx512, words, &gi[..BATCH], &gx[..BATCH], x, bits);
            gi.copy_within(BATCH.., 0);
            gx.copy_within(BATCH.., 0);
            gn -= BATCH;
        }
    }
    if gn > 0 {
        step.steps(Level::Avx512, words, &gi[..gn], &gx[..gn], x, bits);
    }
    any
}
