//! The one architecture-specific hook: non-temporal (streaming) stores for element-wise passes that
//! write results too large to stay in cache. A streaming store writes the destination line without
//! first reading it (no read-for-ownership): a third less memory traffic than `out = ...; out *= c`
//! (measured when the AVX-512 kernels were first written, the reason the hook is kept). The vector
//! types decide what a streaming store is ([`F64x::store_stream`]: `VMOVNTPD`/`VMOVNTPS` on x86-64, a
//! plain store elsewhere); this module is the only caller, and [`store_fence`] orders the stores
//! before another thread reads them.

use super::vector::{F64x, Isa, Kernel, Lanes, W};
use super::{vectorize, Level};
use crate::real::Real;

/// An element-wise map written once over the vector types.
pub(crate) trait LaneMap: Copy {
    /// The map on `W` lanes.
    fn apply<V: F64x>(self, v: V) -> V;
}

/// `v * c`.
#[derive(Clone, Copy)]
pub(crate) struct Scale(pub f64);

impl LaneMap for Scale {
    #[inline(always)]
    fn apply<V: F64x>(self, v: V) -> V {
        v.mul(V::splat(self.0))
    }
}

/// `(v - m) inv_t - c`.
#[derive(Clone, Copy)]
pub(crate) struct ShiftSub {
    pub m: f64,
    pub inv_t: f64,
    pub c: f64,
}

impl LaneMap for ShiftSub {
    #[inline(always)]
    fn apply<V: F64x>(self, v: V) -> V {
        v.sub(V::splat(self.m))
            .mul(V::splat(self.inv_t))
            .sub(V::splat(self.c))
    }
}

struct Map<'a, T, U, F> {
    src: &'a [T],
    out: &'a mut [U],
    f: F,
    stream: bool,
}

impl<T: Real, U: Real, F: LaneMap> Kernel for Map<'_, T, U, F> {
    type Output = ();
    #[inline(always)]
    fn run<S: Isa>(self) {
        let (src, out, f) = (self.src, self.out, self.f);
        let n = src.len();
        let mut i = 0;
        if self.stream {
            // Plain stores up to the first destination aligned for a full streaming store (the map
            // has no fused operations, so one lane gives the same bits as a vector lane).
            let align = W * std::mem::size_of::<U>();
            while i < n && !(out[i..].as_ptr() as usize).is_multiple_of(align) {
                let v = f.apply(Lanes::<1, false>::load(&src[i..=i]));
                v.store(&mut out[i..=i]);
                i += 1;
            }
        }
        while i + W <= n {
            let v = f.apply(S::F64::load(&src[i..i + W]));
            if self.stream {
                v.store_stream(&mut out[i..i + W]);
            } else {
                v.store(&mut out[i..i + W]);
            }
            i += W;
        }
        if i < n {
            f.apply(S::F64::load_partial(&src[i..], 0.0))
                .store_partial(&mut out[i..]);
        }
    }
}

/// `out[i] = f(src[i])`, through streaming stores if `stream` (then call [`store_fence`] before
/// another thread reads `out`). `out` must be as long as `src`.
pub(crate) fn map<T: Real, U: Real, F: LaneMap>(
    level: Level,
    src: &[T],
    out: &mut [U],
    f: F,
    stream: bool,
) {
    assert_eq!(src.len(), out.len(), "stream::map: length mismatch");
    vectorize(
        level,
        Map {
            src,
            out,
            f,
            stream,
        },
    )
}

/// Makes earlier streaming stores of this thread visible in order (a no-op off x86-64).
pub(crate) fn store_fence() {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SFENCE is part of SSE, which the x86-64 baseline includes.
    unsafe {
        std::arch::x86_64::_mm_sfence()
    }
}
