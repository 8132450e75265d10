//! Runtime-dispatched hot loops.
//!
//! Kernels are written once as plain loops over fixed-width lanes that LLVM auto-vectorises, then
//! compiled several times: for the baseline target and inside `#[target_feature]` trampolines for
//! AVX2+FMA and AVX-512. [`level`] picks the best the CPU supports at run time, so wheels need no
//! `-C target-cpu`. Every dispatched kernel has a scalar reference in [`mod@reference`] and is tested
//! against it at every level the machine supports.

#[cfg(target_arch = "x86_64")]
pub mod avx2;
#[cfg(target_arch = "x86_64")]
pub mod avx512;
pub mod contiguous;
pub mod exp;
pub mod reference;
pub mod strided;
#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicU8, Ordering};

/// An instruction-set level a kernel can be compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// The compile target's baseline (SSE2 on x86-64, NEON on aarch64).
    Scalar,
    /// x86-64 with AVX2 and FMA.
    Avx2,
    /// x86-64 with AVX-512 F/DQ/BW/VL.
    Avx512,
}

impl Level {
    /// Whether kernels at this level use fused multiply-add.
    pub fn fma(self) -> bool {
        self != Level::Scalar || cfg!(target_arch = "aarch64")
    }
}

static DETECTED: AtomicU8 = AtomicU8::new(u8::MAX);

/// The best level this CPU supports (detected once).
pub fn level() -> Level {
    let cached = DETECTED.load(Ordering::Relaxed);
    let l = match cached {
        0 => return Level::Scalar,
        1 => return Level::Avx2,
        2 => return Level::Avx512,
        _ => detect(),
    };
    DETECTED.store(l as u8, Ordering::Relaxed);
    l
}

/// Every level this CPU supports, lowest first.
pub fn available() -> Vec<Level> {
    [Level::Scalar, Level::Avx2, Level::Avx512]
        .into_iter()
        .filter(|&l| l <= level())
        .collect()
}

#[cfg(target_arch = "x86_64")]
fn detect() -> Level {
    if std::env::var_os("SOFTGRAD_SIMD").is_some_and(|v| v == "scalar") {
        return Level::Scalar;
    }
    let avx2 = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
    let avx512 = avx2
        && is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512dq")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512vl");
    if avx512 && std::env::var_os("SOFTGRAD_SIMD").is_none_or(|v| v != "avx2") {
        Level::Avx512
    } else if avx2 {
        Level::Avx2
    } else {
        Level::Scalar
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn detect() -> Level {
    Level::Scalar
}

/// Runs `f` compiled for `level`; `f` must be a closure that only calls `#[inline(always)]` bodies so
/// that it is inlined into the trampoline and vectorised with its target features.
///
/// Levels above [`level()`] fall back to the best supported one, so no caller can reach an
/// instruction the CPU lacks.
#[inline(always)]
pub(crate) fn dispatch<R>(level: Level, f: impl FnOnce() -> R) -> R {
    let level = level.min(self::level());
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `level <= self::level()`, so the CPU has every feature the trampoline enables.
        Level::Avx512 => unsafe { run_avx512(f) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Level::Avx2 => unsafe { run_avx2(f) },
        _ => f(),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,bmi1,bmi2,lzcnt,popcnt")]
unsafe fn run_avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512bw,avx512vl,avx2,fma,bmi1,bmi2,lzcnt,popcnt")]
unsafe fn run_avx512<R>(f: impl FnOnce() -> R) -> R {
    f()
}
