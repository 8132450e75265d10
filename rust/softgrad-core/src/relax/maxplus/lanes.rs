//! The lanes the max-plus micro-kernel is written over: one trait, [`Vx`], implemented by the
//! `simd::vector` types for `f64` ([`F64x`]) and `f32` ([`F32x`], so `f32` data stays in `f32`
//! lanes), and by plain arrays for the integer types (which LLVM vectorises inside the level's
//! trampoline). Only exact operations are used (a sum rounded once, comparisons, selects), so a
//! kernel over these lanes gives the same bits at every level and in every order.

use std::ops::Range;

use super::{Matrices, Shape};
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
    /// `m ? a : b`.
    fn select(m: Self::M, a: Self, b: Self) -> Self;
}

impl<V: F64x> Vx<f64> for V {
    type M = V::M;
    #[inline(always)]
    fn splat(v: f64) -> Self {
        V::splat(v)
    }
    #[inline(always)]
    fn load(s: &[f64]) -> Self {
        V::load(s)
    }
    #[inline(always)]
    fn store(self, s: &mut [f64]) {
        F64x::store(self, s)
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        F64x::add(self, o)
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
    fn select(m: Self::M, a: Self, b: Self) -> Self {
        V::select(m, a, b)
    }
}

impl<V: F32x> Vx<f32> for V {
    type M = V::M;
    #[inline(always)]
    fn splat(v: f32) -> Self {
        V::splat(v)
    }
    #[inline(always)]
    fn load(s: &[f32]) -> Self {
        V::load(s)
    }
    #[inline(always)]
    fn store(self, s: &mut [f32]) {
        F32x::store(self, s)
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        F32x::add(self, o)
    }
    #[inline(always)]
    fn better<const MAX: bool>(self, sum: Self) -> Self {
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
    fn select(m: Self::M, a: Self, b: Self) -> Self {
        V::select(m, a, b)
    }
}

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
            fn select(m: Self::M, a: Self, b: Self) -> Self {
                Ints(std::array::from_fn(|i| if m[i] { a.0[i] } else { b.0[i] }))
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
}

/// [`Lanes::with_pack`] for one element type, through the thread-local `$tl`.
macro_rules! with_pack {
    ($t:ty, $tl:ident) => {
        fn with_pack<R>(
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
    /// A small index (`-1 <= k < 2^24`) as a lane value (exact).
    fn index(k: i64) -> Self;
    #[doc(hidden)]
    /// A lane value made by [`Tropical::index`] back to the index (`-1` for a negative one).
    fn to_index(self) -> i64;
    #[doc(hidden)]
    /// Runs the kernel for this type (see `kernel::rows`).
    #[allow(clippy::too_many_arguments)]
    fn rows<const MAX: bool>(
        func: &'static str,
        a: &Matrices<'_, Self>,
        b: &Matrices<'_, Self>,
        offs: (usize, usize),
        shape: Shape,
        rows: Range<usize>,
        c: &mut [Self],
        arg: Option<&mut [i64]>,
        level: Level,
    ) -> Result<()>;
    #[doc(hidden)]
    /// Runs the matrix-vector kernel for this type (see `kernel::gemv`).
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
    ) -> Result<()>;
}

impl Lanes for f64 {
    type V<S: Isa> = S::F64;
    with_pack!(f64, PACK_F64);
}

impl Tropical for f64 {
    const LANES: usize = W;
    const LOWEST: f64 = f64::NEG_INFINITY;
    const HIGHEST: f64 = f64::INFINITY;
    const FLOAT: bool = true;
    #[inline(always)]
    fn is_nan(self) -> bool {
        self.is_nan()
    }
    fn nan() -> Self {
        f64::NAN
    }
    fn times(self, o: Self) -> Self {
        self + o
    }
    fn index(k: i64) -> Self {
        k as f64
    }
    fn rows<const MAX: bool>(
        func: &'static str,
        a: &Matrices<'_, Self>,
        b: &Matrices<'_, Self>,
        offs: (usize, usize),
        shape: Shape,
        rows: Range<usize>,
        c: &mut [Self],
        arg: Option<&mut [i64]>,
        level: Level,
    ) -> Result<()> {
        super::kernel::rows::<Self, MAX>(func, a, b, offs, shape, rows, c, arg, level)
    }
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
    ) -> Result<()> {
        super::kernel::gemv::<Self, MAX>(func, a, b, offs, k, rows, c, arg, level)
    }
    fn to_index(self) -> i64 {
        self as i64
    }
}

impl Lanes for f32 {
    type V<S: Isa> = S::F32;
    with_pack!(f32, PACK_F32);
}

impl Tropical for f32 {
    const LANES: usize = W32;
    const LOWEST: f32 = f32::NEG_INFINITY;
    const HIGHEST: f32 = f32::INFINITY;
    const FLOAT: bool = true;
    #[inline(always)]
    fn is_nan(self) -> bool {
        self.is_nan()
    }
    fn nan() -> Self {
        f32::NAN
    }
    fn times(self, o: Self) -> Self {
        self + o
    }
    fn index(k: i64) -> Self {
        k as f32
    }
    fn rows<const MAX: bool>(
        func: &'static str,
        a: &Matrices<'_, Self>,
        b: &Matrices<'_, Self>,
        offs: (usize, usize),
        shape: Shape,
        rows: Range<usize>,
        c: &mut [Self],
        arg: Option<&mut [i64]>,
        level: Level,
    ) -> Result<()> {
        super::kernel::rows::<Self, MAX>(func, a, b, offs, shape, rows, c, arg, level)
    }
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
    ) -> Result<()> {
        super::kernel::gemv::<Self, MAX>(func, a, b, offs, k, rows, c, arg, level)
    }
    fn to_index(self) -> i64 {
        self as i64
    }
}

impl Lanes for i64 {
    type V<S: Isa> = Ints<i64, W>;
    with_pack!(i64, PACK_I64);
}

impl Tropical for i64 {
    const LANES: usize = W;
    const LOWEST: i64 = i64::MIN;
    const HIGHEST: i64 = i64::MAX;
    const FLOAT: bool = false;
    #[inline(always)]
    fn is_nan(self) -> bool {
        false
    }
    fn nan() -> Self {
        0
    }
    fn times(self, o: Self) -> Self {
        self.saturating_add(o)
    }
    fn index(k: i64) -> Self {
        k
    }
    fn rows<const MAX: bool>(
        func: &'static str,
        a: &Matrices<'_, Self>,
        b: &Matrices<'_, Self>,
        offs: (usize, usize),
        shape: Shape,
        rows: Range<usize>,
        c: &mut [Self],
        arg: Option<&mut [i64]>,
        level: Level,
    ) -> Result<()> {
        super::kernel::rows::<Self, MAX>(func, a, b, offs, shape, rows, c, arg, level)
    }
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
    ) -> Result<()> {
        super::kernel::gemv::<Self, MAX>(func, a, b, offs, k, rows, c, arg, level)
    }
    fn to_index(self) -> i64 {
        self
    }
}

impl Lanes for i32 {
    type V<S: Isa> = Ints<i32, W32>;
    with_pack!(i32, PACK_I32);
}

impl Tropical for i32 {
    const LANES: usize = W32;
    const LOWEST: i32 = i32::MIN;
    const HIGHEST: i32 = i32::MAX;
    const FLOAT: bool = false;
    #[inline(always)]
    fn is_nan(self) -> bool {
        false
    }
    fn nan() -> Self {
        0
    }
    fn times(self, o: Self) -> Self {
        self.saturating_add(o)
    }
    fn index(k: i64) -> Self {
        k as i32
    }
    fn rows<const MAX: bool>(
        func: &'static str,
        a: &Matrices<'_, Self>,
        b: &Matrices<'_, Self>,
        offs: (usize, usize),
        shape: Shape,
        rows: Range<usize>,
        c: &mut [Self],
        arg: Option<&mut [i64]>,
        level: Level,
    ) -> Result<()> {
        super::kernel::rows::<Self, MAX>(func, a, b, offs, shape, rows, c, arg, level)
    }
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
    ) -> Result<()> {
        super::kernel::gemv::<Self, MAX>(func, a, b, offs, k, rows, c, arg, level)
    }
    fn to_index(self) -> i64 {
        self as i64
    }
}
