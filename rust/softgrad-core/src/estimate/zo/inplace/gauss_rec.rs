//! The recorded Gaussian passes of an `f32` array with the normals made inside the step loop: 128
//! values at a time in registers (`rng/normal_x86.rs`, as [`gauss`](super::gauss) does for the
//! plain step), each batch written to the sub-piece's `z` and stepped at once by the integer lanes
//! ([`lanes::forward`] / [`lanes::undo`]), while the lines 2 KiB ahead are fetched: the loads of
//! `x` no longer stall a loop that does nothing else (the buffered path filled the whole `z` first,
//! then ran the lanes over `x` cold). The lanes' flags go to the solve ([`solve`]) as before.
//!
//! Same values of `z` ([`Stream::normal32`]'s, widened), same lane arithmetic in the same order,
//! same flags and the same solve: the bits are the buffered path's (tested against it at every
//! level).

use super::{lanes, solve};
use crate::par::{with_piece_scratch, REDUCE_PIECE};
use crate::rng::Stream;
use crate::simd::{self, Level};

/// Values per batch of the AVX-512 kernel (two groups of 16 Philox blocks); AVX2 makes 64.
const CHUNK: usize = 128;

/// What a pass does to each value: the recorded step of total `after` from the original (the
/// current value being the step `before` from it), or the undoing of the step `d`.
#[derive(Debug, Clone, Copy)]
pub(super) enum Pass {
    /// [`apply`](super::apply) with a [`Record`](super::Record).
    Step {
        /// The total of the prior steps (`None`: the current value is the original).
        before: Option<f64>,
        /// The total with this step.
        after: f64,
    },
    /// [`restore`](super::restore) of the total `d`.
    Undo {
        /// The total of the steps to undo.
        d: f64,
        /// Whether a bit was recorded.
        has_bit: bool,
    },
}

/// The lanes over `x` (its `z`, its unpacked bits `cb` and its flags `slow`, all the same length):
/// `lanes::apply_recorded`'s and `lanes::restore`'s loops, value for value. Index loops: no
/// iterator adaptor left as a call where a build does not inline it.
#[inline(always)]
#[allow(clippy::needless_range_loop)] // index loops on purpose (above)
fn lanes_run(pass: Pass, x: &mut [f32], z: &[f64], cb: &mut [u8], slow: &mut [u8]) {
    let n = x.len();
    let (z, cb, slow) = (&z[..n], &mut cb[..n], &mut slow[..n]);
    match pass {
        Pass::Step {
            before: Some(b),
            after,
        } => {
            for i in 0..n {
                let vb = x[i].to_bits();
                let (x0, ok0) = lanes::undo(vb, b * z[i], cb[i], true);
                let (y, nb, ok1) = lanes::forward(x0, after * z[i]);
                let ok = ok0 & ok1;
                x[i] = f32::from_bits(if ok { y } else { vb });
                cb[i] = nb;
                slow[i] = u8::from(!ok);
            }
        }
        Pass::Step {
            before: None,
            after,
        } => {
            for i in 0..n {
                let vb = x[i].to_bits();
                let (y, nb, ok) = lanes::forward(vb, after * z[i]);
                x[i] = f32::from_bits(if ok { y } else { vb });
                cb[i] = nb;
                slow[i] = u8::from(!ok);
            }
        }
        Pass::Undo { d, has_bit } => {
            for i in 0..n {
                let vb = x[i].to_bits();
                let (x0, ok) = lanes::undo(vb, d * z[i], cb[i], has_bit);
                x[i] = f32::from_bits(if ok { x0 } else { vb });
                slow[i] = u8::from(!ok);
            }
        }
    }
}

/// One recorded pass over the values `start..start + x.len()` of the normal stream `stream`
/// (`start` a multiple of [`CHUNK`], `x.len() <=` [`REDUCE_PIECE`], `bits` the matching
/// `ceil(len / 8)` bytes, or empty for an undoing without bits), with the kernels of `level`.
pub(super) fn pass(
    level: Level,
    stream: &Stream,
    start: u64,
    x: &mut [f32],
    pass: Pass,
    bits: &mut [u8],
) {
    debug_assert!(start.is_multiple_of(CHUNK as u64) && x.len() <= REDUCE_PIECE);
    with_piece_scratch(x.len(), |z| {
        let mut cb = [0u8; REDUCE_PIECE];
        let cb = &mut cb[..x.len()];
        let unpacked = match pass {
            Pass::Step { before, .. } => before.is_some(),
            Pass::Undo { has_bit, .. } => has_bit,
        };
        if unpacked {
            lanes::unpack(bits, cb);
        }
        let mut flags = [1u8; REDUCE_PIECE];
        let slow = &mut flags[..x.len()];
        let level = level.min(simd::level());
        let whole = match level {
            Level::Scalar => 0,
            _ => x.len() / CHUNK * CHUNK,
        };
        #[cfg(target_arch = "x86_64")]
        {
            let (xm, zm, cm, sm) = (
                &mut x[..whole],
                &mut z[..whole],
                &mut cb[..whole],
                &mut slow[..whole],
            );
            match level {
                // SAFETY: the level is at most the CPU's.
                Level::Avx512 => unsafe { x86::run512(stream, start / 4, pass, xm, zm, cm, sm) },
                // SAFETY: as above.
                Level::Avx2 => unsafe { x86::run256(stream, start / 4, pass, xm, zm, cm, sm) },
                Level::Scalar => {}
            }
        }
        if whole < x.len() {
            let (xt, zt) = (&mut x[whole..], &mut z[whole..]);
            let (ct, st) = (&mut cb[whole..], &mut slow[whole..]);
            stream.fill_normal_at(level, start + whole as u64, zt);
            simd::dispatch(
                level,
                #[inline(always)]
                || lanes_run(pass, xt, zt, ct, st),
            );
        }
        match pass {
            Pass::Step { before, after } => {
                lanes::pack(cb, slow, bits);
                solve::apply(level, x, z, before, after, bits, slow);
            }
            Pass::Undo { d, .. } => solve::restore(level, x, z, d, bits, slow),
        }
    })
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{lanes_run, Pass, CHUNK};
    use crate::rng::Stream;
    use std::arch::x86_64::*;

    /// Values `4 b0..` (`b0` a multiple of 32; every slice of the same length, a multiple of
    /// [`CHUNK`]): the normals of each batch into `z` (widened), then the lanes over the batch.
    ///
    /// # Safety
    /// The CPU must have AVX-512 F/DQ/BW/VL.
    #[target_feature(enable = "avx512f,avx512dq,avx512bw,avx512vl,avx2,fma,bmi1,bmi2")]
    #[allow(clippy::needless_range_loop)] // index loops on purpose (see `lanes_run`)
    pub(super) unsafe fn run512(
        stream: &Stream,
        b0: u64,
        pass: Pass,
        x: &mut [f32],
        z: &mut [f64],
        cb: &mut [u8],
        slow: &mut [u8],
    ) {
        let keys = stream.round_keys();
        for k in 0..x.len() / CHUNK {
            let at = CHUNK * k;
            // The lines 2 KiB ahead (a prefetch past the array is harmless).
            let ahead = x.as_ptr().wrapping_add(at + 512);
            for h in 0..CHUNK / 16 {
                _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(16 * h).cast());
            }
            // SAFETY: the caller's CPU check.
            let v = unsafe { stream.normals512::<2>(&keys, b0 + 32 * k as u64) };
            let zc = &mut z[at..at + CHUNK];
            for g in 0..2 {
                for j in 0..4 {
                    let vj = v[g][j];
                    let lo = _mm512_cvtps_pd(_mm512_castps512_ps256(vj));
                    let hi = _mm512_cvtps_pd(_mm512_extractf32x8_ps::<1>(vj));
                    let p = zc[64 * g + 16 * j..][..16].as_mut_ptr();
                    // SAFETY: 16 values from `p` are inside zc.
                    unsafe {
                        _mm512_storeu_pd(p, lo);
                        _mm512_storeu_pd(p.add(8), hi);
                    }
                }
            }
            let r = at..at + CHUNK;
            lanes_run(
                pass,
                &mut x[r.clone()],
                zc,
                &mut cb[r.clone()],
                &mut slow[r],
            );
        }
    }

    /// [`run512`] with 8 lanes: batches of 64 (`b0` a multiple of 16).
    ///
    /// # Safety
    /// The CPU must have AVX2 and FMA.
    #[target_feature(enable = "avx2,fma,bmi1,bmi2")]
    #[allow(clippy::needless_range_loop)] // index loops on purpose (see `lanes_run`)
    pub(super) unsafe fn run256(
        stream: &Stream,
        b0: u64,
        pass: Pass,
        x: &mut [f32],
        z: &mut [f64],
        cb: &mut [u8],
        slow: &mut [u8],
    ) {
        const HALF: usize = CHUNK / 2;
        let keys = stream.round_keys();
        for k in 0..x.len() / HALF {
            let at = HALF * k;
            let ahead = x.as_ptr().wrapping_add(at + 512);
            for h in 0..HALF / 16 {
                _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(16 * h).cast());
            }
            // SAFETY: the caller's CPU check.
            let v = unsafe { stream.normals256::<2>(&keys, b0 + 16 * k as u64) };
            let zc = &mut z[at..at + HALF];
            for g in 0..2 {
                for j in 0..4 {
                    let vj = v[g][j];
                    let lo = _mm256_cvtps_pd(_mm256_castps256_ps128(vj));
                    let hi = _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(vj));
                    let p = zc[32 * g + 8 * j..][..8].as_mut_ptr();
                    // SAFETY: 8 values from `p` are inside zc.
                    unsafe {
                        _mm256_storeu_pd(p, lo);
                        _mm256_storeu_pd(p.add(4), hi);
                    }
                }
            }
            let r = at..at + HALF;
            lanes_run(
                pass,
                &mut x[r.clone()],
                zc,
                &mut cb[r.clone()],
                &mut slow[r],
            );
        }
    }
}

#[cfg(test)]
mod tests;
