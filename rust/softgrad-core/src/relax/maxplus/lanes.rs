//! The lanes the max-plus micro-kernel is written over: one trait, [`Vx`], implemented by the
//! `simd::vector` types for `f64` ([`F64x`]) and `f32` ([`F32x`], so `f32` data stays in `f32`
//! lanes), and by plain arrays for the integer types (which LLVM vectorises inside the level's
//! trampoline). Only exact operations are used (a sum rounded once, comparisons, selects), so a
//! kernel over these lanes gives the same bits at every level and in every order.

use std::ops::Range;

use super::{gemv, kernel, Matrices, Shape};
use crate::error::Result;
use crate::simd::vector::{F32x, F64x, Isa, W, W32};
use crate::simd::Level;

/// `N` lanes of `T` for the micro-kernel. `better` and `wins` implement the semiring's addition:
/// `MAX` picks the larger sum, else the smaller; a NaN sum never wins (it stands for `-inf + inf`,
/// the semiring zero times anything; NaN inputs are propagated by the caller).
pub(crate) trait Vx<T>: Copy {
    /// Lane mask.
    type M: Copy;
    /// Every lane `v`.
    fn splat(v: T) -> Self;
    /// `s[..N]`.
    fn load(s: &[T]) -> Self;
    /// Into `s[..N]`.
    fn store(self, s: &mut [T]);
    /// `self ⊗ o`: the sum (saturating for integers).
    fn add(self, o: Self) -> Self;
    /// `self ⊕ sum`, `self` kept when `sum` does not win (ties, NaN).
    fn better<const MAX: bool>(self, sum: Self) -> Self;
    /// Lanes where `sum` strictly wins over `self` (false on NaN).
    fn wins<const MAX: bool>(self, sum: Self) -> Self::M;
    /// `m ? kv : idx`, for index lanes: `kv` is positive and larger than every lane of `idx`.
    fn mark(m: Self::M, kv: Self, idx: Self) -> Self;
}

/// [`Vx`] for the `simd::vector` lanes of one float type (`$tr`: [`F64x`] or [`F32x`]).
macro_rules! float_lanes {
    ($t:ty, $tr:ident) => {
        impl<V: $tr> Vx<$t> for V {
            type M = V::M;
            #[inline(always)]
            fn splat(v: $t) -> Self {
                V::splat(v)
            }
            #[inline(always)]
            fn load(s: &[$t]) -> Self {
                V::load(s)
            }
            #[inline(always)]
            fn store(self, s: &mut [$t]) {
                $tr::store(self, s)
            }
            #[inline(always)]
            fn add(self, o: Self) -> Self {
                $tr::add(self, o)
            }
            #[inline(always)]
            fn better<const MAX: bool>(self, sum: Self) -> Self {
                // `max_with(self, lo)` is `if lo > self { lo } else { self }`: a NaN `sum` loses.
                if MAX {
                    self.max_with(sum)
                } else {
                    self.min_with(sum)
                }
            }
            #[inline(always)]
            fn wins<const MAX: bool>(self, sum: Self) -> Self::M {
                if MAX {
                    self.lt(sum)
                } else {
                    sum.lt(self)
                }
            }
            #[inline(always)]
            fn mark(m: Self::M, kv: Self, idx: Self) -> Self {
                // At AVX2 `max(idx, kv & m)` (`kv` beats every earlier index) rather than a
                // `vblendv` of several cycles; the same bits.
                V::select_larger(m, kv, idx)
            }
        }
    };
}
float_lanes!(f64, F64x);
float_lanes!(f32, F32x);

/// `N` integer lanes as an array (the same width in bytes as the float vectors).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ints<T, const N: usize>(pub [T; N]);

macro_rules! int_lanes {
    ($t:ty, $n:expr) => {
        impl Vx<$t> for Ints<$t, $n> {
            type M = [bool; $n];
            #[inline(always)]
            fn splat(v: $t) -> Self {
                Ints([v; $n])
            }
            #[inline(always)]
            fn load(s: &[$t]) -> Self {
                Ints(std::array::from_fn(|i| s[i]))
            }
            #[inline(always)]
            fn store(self, s: &mut [$t]) {
                s[..$n].copy_from_slice(&self.0)
            }
            #[inline(always)]
            fn add(self, o: Self) -> Self {
                Ints(std::array::from_fn(|i| self.0[i].saturating_add(o.0[i])))
            }
            #[inline(always)]
            fn better<const MAX: bool>(self, sum: Self) -> Self {
                Ints(std::array::from_fn(|i| {
                    if MAX {
                        self.0[i].max(sum.0[i])
                    } else {
                        self.0[i].min(sum.0[i])
                    }
                }))
            }
            #[inline(always)]
            fn wins<const MAX: bool>(self, sum: Self) -> Self::M {
                std::array::from_fn(|i| {
                    if MAX {
                        sum.0[i] > self.0[i]
                    } else {
                        sum.0[i] < self.0[i]
                    }
                })
            }
            #[inline(always)]
            fn mark(m: Self::M, kv: Self, idx: Self) -> Self {
                Ints(std::array::from_fn(
                    |i| if m[i] { kv.0[i] } else { idx.0[i] },
                ))
            }
        }
    };
}
int_lanes!(i64, W);
int_lanes!(i32, W32);

/// The lane type of each element type (crate-private: it names the crate-private `Isa`).
pub(crate) trait Lanes: Tropical {
    /// The lanes at level `S`.
    type V<S: Isa>: Vx<Self>;
    /// Runs `f` with this thread's packing buffer of at least `len` elements (contents
    /// unspecified), kept between calls: fresh buffers of a few hundred KiB cost page faults and
    /// zeroing on every call, a sizeable share of a 256³ product. `f` must not re-enter (a nested
    /// call gets a fresh buffer instead). [`Error::Alloc`](crate::Error::Alloc) if it cannot grow.
    fn with_pack<R>(func: &'static str, len: usize, f: impl FnOnce(&mut [Self]) -> R) -> Result<R>;
    /// [`Lanes::with_pack`] through a second buffer: `B` packed once per call, read by every task
    /// while each task packs `A` in its own [`Lanes::with_pack`] buffer.
    fn with_shared_pack<R>(
        func: &'static str,
        len: usize,
        f: impl FnOnce(&mut [Self]) -> R,
    ) -> Result<R>;
}

/// [`Lanes::with_pack`] (or `with_shared_pack`) for one element type, through the thread-local
/// `$tl`.
macro_rules! with_pack {
    ($name:ident, $t:ty, $tl:ident) => {
        fn $name<R>(
            func: &'static str,
            len: usize,
            f: impl FnOnce(&mut [Self]) -> R,
        ) -> Result<R> {
            thread_local! {
                static $tl: std::cell::RefCell<Vec<$t>> = const { std::cell::RefCell::new(Vec::new()) };
            }
            $tl.with(|b| match b.try_borrow_mut() {
                Ok(mut b) => {
                    if b.len() < len {
                        let extra = len - b.len();
                        b.try_reserve_exact(extra).map_err(|_| crate::Error::Alloc {
                            func,
                            bytes: len.saturating_mul(size_of::<$t>()),
                        })?;
                        b.resize(len, <$t>::default());
                    }
                    Ok(f(&mut b[..len]))
                }
                Err(_) => Ok(f(&mut crate::par::scratch(func, len, <$t>::default())?)),
            })
        }
    };
}

/// The kernel entries of [`Tropical`], written once: `entries!(decl)` declares them in the trait,
/// `entries!(forward)` defines them for an element type (in `tropical!`) as the generic kernels
/// over its [`Lanes`], which the public trait cannot name.
macro_rules! entries {
    (decl) => {
        entries!(@ [;] []);
    };
    (forward) => {
        entries!(@ [] [kernel gemv]);
    };
    (@ [$($decl:tt)?] [$($kernel:ident $gemv:ident)?]) => {
        #[doc(hidden)]
        /// Runs the kernel for this type (see `kernel::rows`).
        #[allow(clippy::too_many_arguments)]
        fn rows<const MAX: bool>(
            func: &'static str,
            a: &Matrices<'_, Self>,
            b: &Matrices<'_, Self>,
            offs: (usize, usize),
            packed_b: Option<&[Self]>,
            shape: Shape,
            rows: Range<usize>,
            c: &mut [Self],
            arg: Option<&mut [i64]>,
            level: Level,
        ) -> Result<()> $($decl)? $({
            $kernel::rows::<Self, MAX>(func, a, b, offs, packed_b, shape, rows, c, arg, level)
        })?
        #[doc(hidden)]
        /// Runs the matrix-vector kernel for this type (see `gemv::gemv`).
        #[allow(clippy::too_many_arguments)]
        fn gemv<const MAX: bool>(
            func: &'static str,
            a: &Matrices<'_, Self>,
            b: &Matrices<'_, Self>,
            offs: (usize, usize),
            k: usize,
            rows: Range<usize>,
            c: &mut [Self],
            arg: Option<&mut [i64]>,
            level: Level,
        ) -> Result<()> $($decl)? $({
            $gemv::gemv::<Self, MAX>(func, a, b, offs, k, rows, c, arg, level)
        })?
        #[doc(hidden)]
        /// Runs `f` with `B` packed once for every task (see `kernel::with_packed_b`).
        fn with_packed_b<R>(
            func: &'static str,
            b: &Matrices<'_, Self>,
            bo: usize,
            shape: Shape,
            pad: Self,
            tiles: (bool, Level),
            f: impl FnOnce(&[Self]) -> Result<R>,
        ) -> Result<R> $($decl)? $({
            $kernel::with_packed_b(func, b, bo, shape, pad, tiles, f)
        })?
    };
}

/// An element type of the tropical products: `f32`, `f64`, `i32` or `i64`.
pub trait Tropical:
    Copy + Send + Sync + PartialEq + PartialOrd + std::fmt::Debug + 'static
{
    /// `-inf` (`MIN` for integers): the max-plus zero.
    const LOWEST: Self;
    /// `+inf` (`MAX` for integers): the min-plus zero.
    const HIGHEST: Self;
    /// Whether the type has NaN.
    const FLOAT: bool;
    /// Lanes per vector (8 for 64-bit types, 16 for 32-bit ones: 512 bits).
    const LANES: usize;
    #[doc(hidden)]
    /// Whether the value is NaN.
    fn is_nan(self) -> bool;
    #[doc(hidden)]
    /// NaN (floats; integers: any value, never used).
    fn nan() -> Self;
    #[doc(hidden)]
    /// The `⊗` of two scalars (the reference: saturating for integers).
    fn times(self, o: Self) -> Self;
    #[doc(hidden)]
    /// A small index (`0 <= k <= 2^24`) as a lane value (exact).
    fn index(k: i64) -> Self;
    #[doc(hidden)]
    /// A lane value made by [`Tropical::index`] back to the index.
    fn to_index(self) -> i64;
    entries!(decl);
}

/// [`Lanes`] and [`Tropical`] for one element type: its lanes at level `S`, its packing buffers,
/// its constants and scalar operations; the kernels are the generic ones.
macro_rules! tropical {
    (
        $t:ty, lanes: $lanes:expr, V<$s:ident> = $v:ty, pack: ($tl:ident, $shared:ident),
        zeros: ($lo:expr, $hi:expr), nan: ($float:expr, $nan:expr),
        is_nan: |$x:ident| $is_nan:expr, times: |$p:ident, $q:ident| $times:expr $(,)?
    ) => {
        impl Lanes for $t {
            type V<$s: Isa> = $v;
            with_pack!(with_pack, $t, $tl);
            with_pack!(with_shared_pack, $t, $shared);
        }

        impl Tropical for $t {
            const LANES: usize = $lanes;
            const LOWEST: $t = $lo;
            const HIGHEST: $t = $hi;
            const FLOAT: bool = $float;
            #[inline(always)]
            fn is_nan(self) -> bool {
                let $x = self;
                $is_nan
            }
            fn nan() -> Self {
                $nan
            }
            #[inline(always)]
            fn times(self, o: Self) -> Self {
                let ($p, $q) = (self, o);
                $times
            }
            fn index(k: i64) -> Self {
                k as $t
            }
            fn to_index(self) -> i64 {
                self as i64
            }
            entries!(forward);
        }
    };
}

tropical!(f64, lanes: W, V<S> = S::F64, pack: (PACK_F64, SHARED_F64),
    zeros: (f64::NEG_INFINITY, f64::INFINITY), nan: (true, f64::NAN),
    is_nan: |x| x.is_nan(), times: |p, q| p + q);
tropical!(f32, lanes: W32, V<S> = S::F32, pack: (PACK_F32, SHARED_F32),
    zeros: (f32::NEG_INFINITY, f32::INFINITY), nan: (true, f32::NAN),
    is_nan: |x| x.is_nan(), times: |p, q| p + q);
tropical!(i64, lanes: W, V<S> = Ints<i64, W>, pack: (PACK_I64, SHARED_I64),
    zeros: (i64::MIN, i64::MAX), nan: (false, 0),
    is_nan: |_x| false, times: |p, q| p.saturating_add(q));
tropical!(i32, lanes: W32, V<S> = Ints<i32, W32>, pack: (PACK_I32, SHARED_I32),
    zeros: (i32::MIN, i32::MAX), nan: (false, 0),
    is_nan: |_x| false, times: |p, q| p.saturating_add(q));
