//! Runtime-dispatched hot loops.
//!
//! [`level`] picks the best instruction-set level the CPU supports, once (`SOFTGRAD_SIMD=scalar` or
//! `=avx2` pins a lower one), so wheels need no `-C target-cpu`. `vectorize` runs a kernel compiled
//! for a level inside a `#[target_feature]` trampoline; `dispatch` runs a plain closure the same
//! way. Every dispatched kernel has a scalar twin in `reference` and is tested against it at
//! every level the machine supports.
//!
//! # Policy: when to write explicit vector code
//! The default shape for a kernel is a plain loop with a fixed number of accumulators (a lane array
//! such as `[f64; 8]`, combined in a fixed order at the end), run under `dispatch`: LLVM vectorises
//! it for each level, and the order of every sum is fixed by the code, not by the level or the
//! thread count (`relax::logsumexp::grad` is the model). Explicit vector code, written over the
//! `vector` traits, is for kernels the auto-vectoriser cannot do well: transcendental-heavy loops
//! (`exp`, `log`; see `math`) and register-tiled micro-kernels. Such a kernel is written once,
//! generic over `vector::Isa`, as a `vector::Kernel` run by `vectorize`; the per-level code is
//! confined to the vector types (`vector.rs`, `x86.rs`). No kernel has per-architecture copies; the
//! only architecture-specific routine is a measured hook, the non-temporal stores in `stream`.

pub(crate) mod contiguous;
mod contiguous32;
pub(crate) mod math;
pub(crate) mod math32;
#[cfg(test)]
pub(crate) mod reference;
#[cfg(test)]
pub(crate) mod reference32;
pub(crate) mod rows;
pub(crate) mod stream;
pub(crate) mod strided;
mod strided32;
pub(crate) mod vector;
pub(crate) mod vector32;
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86;

#[cfg(test)]
mod math32_tests;
#[cfg(test)]
mod math_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests32;

/// The scalar `exp`, under the path the relax kernels use (`simd::exp::exp::<FMA>`).
pub(crate) mod exp {
    #[allow(unused_imports)] // part of the interface relax code may call
    pub(crate) use super::math::exp;
}

use std::sync::atomic::{AtomicU8, Ordering};

use vector::{Isa, Kernel, Portable};

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

/// The level kernels run at: the best this CPU supports, or the lower one `SOFTGRAD_SIMD` pins
/// (`scalar` or `avx2`; detected once).
pub fn level() -> Level {
    let l = match DETECTED.load(Ordering::Relaxed) {
        0 => return Level::Scalar,
        1 => return Level::Avx2,
        2 => return Level::Avx512,
        _ => pinned(std::env::var("SOFTGRAD_SIMD").ok().as_deref(), detect()),
    };
    DETECTED.store(l as u8, Ordering::Relaxed);
    l
}

/// Every level kernels may run at, lowest first (up to [`level()`]).
#[cfg(test)]
pub(crate) fn available() -> Vec<Level> {
    [Level::Scalar, Level::Avx2, Level::Avx512]
        .into_iter()
        .filter(|&l| l <= level())
        .collect()
}

/// The level for a `SOFTGRAD_SIMD` value on a CPU whose best level is `best`. An unknown value is
/// reported on stderr and ignored; a level above `best` cannot be reached.
fn pinned(var: Option<&str>, best: Level) -> Level {
    let want = match var.map(str::trim) {
        None | Some("") => return best,
        Some("scalar") => Level::Scalar,
        Some("avx2") => Level::Avx2,
        Some("avx512") => Level::Avx512,
        Some(other) => {
            eprintln!(
                "softgrad: ignoring SOFTGRAD_SIMD={other:?} (expected scalar, avx2 or avx512); \
                 using {best:?}"
            );
            return best;
        }
    };
    want.min(best)
}

#[cfg(target_arch = "x86_64")]
fn detect() -> Level {
    let avx2 = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
    let avx512 = avx2
        && is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512dq")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512vl");
    if avx512 {
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

/// Runs kernel `k` compiled for `level` (levels above [`level()`] fall back to it, so no caller can
/// reach an instruction the CPU lacks). This is the one place that picks a level's code.
#[inline(always)]
pub(crate) fn vectorize<K: Kernel>(level: Level, k: K) -> K::Output {
    match level.min(self::level()) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `level <= self::level()`, so the CPU has every feature the trampoline enables.
        Level::Avx512 => unsafe { run_avx512(k) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Level::Avx2 => unsafe { run_avx2(k) },
        _ => k.run::<Portable>(),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,bmi1,bmi2,lzcnt,popcnt")]
unsafe fn run_avx2<K: Kernel>(k: K) -> K::Output {
    k.run::<x86::Avx2>()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512bw,avx512vl,avx2,fma,bmi1,bmi2,lzcnt,popcnt")]
unsafe fn run_avx512<K: Kernel>(k: K) -> K::Output {
    k.run::<x86::Avx512>()
}

/// A plain closure as a [`Kernel`] that ignores the vector types.
struct Plain<F>(F);

impl<R, F: FnOnce() -> R> Kernel for Plain<F> {
    type Output = R;
    #[inline(always)]
    fn run<S: Isa>(self) -> R {
        (self.0)()
    }
}

/// Runs `f` compiled for `level` through [`vectorize`]; `f` must be a closure that only calls
/// `#[inline(always)]` bodies so that it is inlined into the trampoline and vectorised with its
/// target features.
#[inline(always)]
pub(crate) fn dispatch<R>(level: Level, f: impl FnOnce() -> R) -> R {
    vectorize(level, Plain(f))
}
