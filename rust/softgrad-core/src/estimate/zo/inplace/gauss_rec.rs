//! The recorded Gaussian passes of an `f32` array with the normals made inside the step loop: 128
//! values at a time in registers (`rng/normal_x86.rs`, as [`gauss`](super::gauss) does for the
//! plain step), each batch kept (8 KiB a sub-piece, in `f32`) and stepped at once by the integer
//! lanes ([`lanes::forward`] / [`lanes::undo`]) while the lines 2 KiB ahead are fetched: the loads
//! of `x` no longer stall a loop that does nothing else (the buffered path filled the whole `f64`
//! `z` first, then ran the lanes over `x` cold). The lanes' flags go to the solve ([`solve`]) as
//! before, with `z` widened for it.
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

/// A sub-piece's lanes: the values, their `z`, their unpacked bits and their flags (one each).
struct Lanes<'a, Z> {
    x: &'a mut [f32],
    z: &'a mut [Z],
    cb: &'a mut [u8],
    slow: &'a mut [u8],
}

impl<Z> Lanes<'_, Z> {
    /// The lanes `r` of each slice.
    fn at(&mut self, r: std::ops::Range<usize>) -> Lanes<'_, Z> {
        Lanes {
            x: &mut self.x[r.clone()],
            z: &mut self.z[r.clone()],
            cb: &mut self.cb[r.clone()],
            slow: &mut self.slow[r],
        }
    }
}

/// The pass over the lanes `s`: `lanes::apply_recorded`'s and `lanes::restore`'s loops, value for
/// value (`z` widened to `f64` first). Index loops: no iterator adaptor left as a call where a
/// build does not inline it.
#[inline(always)]
#[allow(clippy::needless_range_loop)] // index loops on purpose (above)
fn lanes_run<Z: Copy + Into<f64>>(pass: Pass, s: Lanes<'_, Z>) {
    let n = s.x.len();
    let (x, z, cb, slow) = (s.x, &s.z[..n], &mut s.cb[..n], &mut s.slow[..n]);
    match pass {
        Pass::Step {
            before: Some(b),
            after,
        } => {
            for i in 0..n {
                let (vb, zi) = (x[i].to_bits(), z[i].into());
                let (x0, ok0) = lanes::undo(vb, b * zi, cb[i], true);
                let (y, nb, ok1) = lanes::forward(x0, after * zi);
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
                let (y, nb, ok) = lanes::forward(vb, after * z[i].into());
                x[i] = f32::from_bits(if ok { y } else { vb });
                cb[i] = nb;
                slow[i] = u8::from(!ok);
            }
        }
        Pass::Undo { d, has_bit } => {
            for i in 0..n {
                let vb = x[i].to_bits();
                let (x0, ok) = lanes::undo(vb, d * z[i].into(), cb[i], has_bit);
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
    let n = x.len();
    let mut cb = [0u8; REDUCE_PIECE];
    let cb = &mut cb[..n];
    let unpacked = match pass {
        Pass::Step { before, .. } => before.is_some(),
        Pass::Undo { has_bit, .. } => has_bit,
    };
    if unpacked {
        lanes::unpack(bits, cb);
    }
    let mut flags = [1u8; REDUCE_PIECE];
    let slow = &mut flags[..n];
    let level = level.min(simd::level());
    let whole = match level {
        Level::Scalar => 0,
        _ => n / CHUNK * CHUNK,
    };
    #[cfg_attr(not(target_arch = "x86_64"), allow(unused_mut))]
    let mut z32 = [0.0f32; REDUCE_PIECE];
    #[cfg(target_arch = "x86_64")]
    {
        let (x, z, cb, slow) = (&mut *x, &mut z32[..], &mut *cb, &mut *slow);
        x86::run(
            level,
            stream,
            start / 4,
            pass,
            Lanes { x, z, cb, slow }.at(0..whole),
        );
    }
    with_piece_scratch(n, |z| {
        let z32 = &z32[..whole];
        simd::dispatch(
            level,
            #[inline(always)]
            || {
                for (w, &v) in z.iter_mut().zip(z32) {
                    *w = f64::from(v);
                }
            },
        );
        if whole < n {
            stream.fill_normal_at(level, start + whole as u64, &mut z[whole..]);
            let (x, cb, slow) = (&mut *x, &mut *cb, &mut *slow);
            let mut s = Lanes {
                x,
                z: &mut *z,
                cb,
                slow,
            };
            let tail = s.at(whole..n);
            simd::dispatch(
                level,
                #[inline(always)]
                || lanes_run(pass, tail),
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
    use super::{lanes_run, Lanes, Pass, CHUNK};
    use crate::rng::Stream;
    use crate::simd::Level;
    use std::arch::x86_64::*;

    /// The batches of `B` values: `make(k, z)` writes the normals of batch `k` into its `z`, then
    /// the lanes run over the batch while the lines 2 KiB ahead are fetched (a prefetch past the
    /// array is harmless).
    #[inline(always)]
    fn batches<const B: usize>(
        pass: Pass,
        mut s: Lanes<'_, f32>,
        mut make: impl FnMut(usize, &mut [f32]),
    ) {
        for k in 0..s.x.len() / B {
            let at = B * k;
            let ahead = s.x.as_ptr().wrapping_add(at + 512);
            for h in 0..B / 16 {
                // SAFETY: a prefetch has no precondition (SSE is in every x86_64 CPU).
                unsafe { _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(16 * h).cast()) };
            }
            let batch = s.at(at..at + B);
            make(k, batch.z);
            lanes_run(pass, batch);
        }
    }

    /// Values `4 b0..` (`b0` a multiple of 32; the lanes a multiple of [`CHUNK`] long; `level` at
    /// most the CPU's): batches of [`CHUNK`] by [`Stream::normals512`] at AVX-512, of 64 by
    /// [`Stream::normals256`] at AVX2.
    pub(super) fn run(level: Level, stream: &Stream, b0: u64, pass: Pass, s: Lanes<'_, f32>) {
        match level {
            // SAFETY: the level is at most the CPU's.
            Level::Avx512 => unsafe { run512(stream, b0, pass, s) },
            // SAFETY: as above.
            Level::Avx2 => unsafe { run256(stream, b0, pass, s) },
            Level::Scalar => {}
        }
    }

    /// [`run`] at AVX-512 (its closure inherits the features: the generator and the stores are
    /// inlined).
    ///
    /// # Safety
    /// The CPU must have AVX-512 F/DQ/BW/VL.
    #[target_feature(enable = "avx512f,avx512dq,avx512bw,avx512vl,avx2,fma,bmi1,bmi2")]
    unsafe fn run512(stream: &Stream, b0: u64, pass: Pass, s: Lanes<'_, f32>) {
        let keys = stream.round_keys();
        batches::<CHUNK>(pass, s, |k, z| {
            // SAFETY: the caller's CPU check.
            let v = unsafe { stream.normals512::<2>(&keys, b0 + 32 * k as u64) };
            for (j, &vj) in v.as_flattened().iter().enumerate() {
                // SAFETY: 16 values from 16 j are inside z.
                unsafe { _mm512_storeu_ps(z[16 * j..][..16].as_mut_ptr(), vj) };
            }
        })
    }

    /// [`run`] at AVX2, batches of 64.
    ///
    /// # Safety
    /// The CPU must have AVX2 and FMA.
    #[target_feature(enable = "avx2,fma,bmi1,bmi2")]
    unsafe fn run256(stream: &Stream, b0: u64, pass: Pass, s: Lanes<'_, f32>) {
        let keys = stream.round_keys();
        batches::<{ CHUNK / 2 }>(pass, s, |k, z| {
            // SAFETY: the caller's CPU check.
            let v = unsafe { stream.normals256::<2>(&keys, b0 + 16 * k as u64) };
            for (j, &vj) in v.as_flattened().iter().enumerate() {
                // SAFETY: 8 values from 8 j are inside z.
                unsafe { _mm256_storeu_ps(z[8 * j..][..8].as_mut_ptr(), vj) };
            }
        })
    }
}

#[cfg(test)]
mod tests;
