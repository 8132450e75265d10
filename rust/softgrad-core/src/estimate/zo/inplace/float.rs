//! The dtypes of in-place steps and their neighbouring floats, branch-free.

use crate::real::Real;

/// The dtypes of in-place steps: [`Real`] plus the neighbouring floats.
pub trait Float: Real {
    /// The next float up.
    fn up(self) -> Self;
    /// The next float down.
    fn down(self) -> Self;
    /// The spacing of the floats just above `|self|` (its unit in the last place), as `f64`.
    fn quantum(self) -> f64;
    /// Two powers of two whose product is `1 / quantum()` (one is not always a normal `f64`):
    /// multiplying by them is dividing by the quantum, with the same rounding, and no division.
    fn inv_quantum(self) -> (f64, f64);
    /// The slice as `f32` if it is one (for the kernels written in `f32` lanes).
    fn as_f32s(x: &mut [Self]) -> Option<&mut [f32]>;
    /// `self + d` rounded to nearest, **ties toward zero** (IEEE's default breaks them to even),
    /// branch-free. The recorded steps round this way: see the proof in `inplace`.
    fn add_tz(self, d: f64) -> Self;
}

/// `r`, the sum `s = r + e` rounded to nearest (ties to even) with its exact error `e = s - r`
/// as it rounded away from zero, replaced by its neighbour toward zero `tz` where the sum was a tie
/// (`|e|` half the gap from `r` to `tz`) that went away from zero (`r ≠ 0` and `e` of its sign:
/// `|r| > |s|`). Half a gap is exact (a power of two). `r` not finite is kept.
#[inline(always)]
fn tie_toward_zero<T: Float>(r: T, e: f64) -> T {
    let rf = r.to_f64();
    let tz = if rf > 0.0 { r.down() } else { r.up() };
    let half_gap = 0.5 * (rf - tz.to_f64()).abs();
    let away = (e != 0.0)
        & ((e > 0.0) == (rf > 0.0))
        & (e.abs() == half_gap)
        & rf.is_finite()
        & (rf != 0.0);
    if away {
        tz
    } else {
        r
    }
}

/// `next_up` (`$up`) or `next_down` of a float's bits `$b` (`$inf` the bits of `+inf`), the same
/// values as the standard library's, as selects rather than branches so that the solve vectorizes.
macro_rules! neighbour {
    ($t:ty, $b:expr, $inf:expr, $nan:expr, $up:expr) => {{
        let sign: $t = !(<$t>::MAX >> 1);
        let b: $t = $b;
        let abs = b & !sign;
        let toward_zero = if $up { b != abs } else { b == abs };
        let next = if abs == 0 {
            if $up {
                1
            } else {
                1 | sign
            }
        } else if toward_zero {
            b - 1
        } else {
            b + 1
        };
        let stay = $nan | (b == if $up { $inf } else { $inf | sign });
        if stay {
            b
        } else {
            next
        }
    }};
}

impl Float for f64 {
    fn as_f32s(_: &mut [Self]) -> Option<&mut [f32]> {
        None
    }
    #[inline(always)]
    fn add_tz(self, d: f64) -> Self {
        // Knuth's two-sum: `s + err` is `self + d` exactly; `r - exact = -err`.
        let s = self + d;
        let bb = s - self;
        let err = (self - (s - bb)) + (d - bb);
        tie_toward_zero(s, -err)
    }
    #[inline(always)]
    fn up(self) -> Self {
        f64::from_bits(neighbour!(
            u64,
            self.to_bits(),
            f64::INFINITY.to_bits(),
            self.is_nan(),
            true
        ))
    }
    #[inline(always)]
    fn down(self) -> Self {
        f64::from_bits(neighbour!(
            u64,
            self.to_bits(),
            f64::INFINITY.to_bits(),
            self.is_nan(),
            false
        ))
    }
    #[inline(always)]
    fn quantum(self) -> f64 {
        let e = (self.to_bits() >> 52) & 0x7ff;
        if e > 52 {
            f64::from_bits((e - 52) << 52)
        } else {
            f64::from_bits(1u64 << (e.max(1) - 1))
        }
    }
    #[inline(always)]
    fn inv_quantum(self) -> (f64, f64) {
        // quantum = 2^(e - 1075), e >= 1: the inverse 2^k, k in [-971, 1074], as 2^k1 · 2^k2.
        let e = ((self.to_bits() >> 52) & 0x7ff).max(1) as i64;
        let k = 1075 - e;
        let k1 = k.min(1023);
        (
            f64::from_bits(((k1 + 1023) as u64) << 52),
            f64::from_bits(((k - k1 + 1023) as u64) << 52),
        )
    }
}

impl Float for f32 {
    fn as_f32s(x: &mut [Self]) -> Option<&mut [f32]> {
        Some(x)
    }
    #[inline(always)]
    fn add_tz(self, d: f64) -> Self {
        // The callers' sums are exact in f64 (`d` a multiple of the quantum of `self`, not far
        // larger than it), so the error of the rounding to f32 is exact too.
        let s = f64::from(self) + d;
        let r = s as f32;
        tie_toward_zero(r, f64::from(r) - s)
    }
    #[inline(always)]
    fn up(self) -> Self {
        f32::from_bits(neighbour!(
            u32,
            self.to_bits(),
            f32::INFINITY.to_bits(),
            self.is_nan(),
            true
        ))
    }
    #[inline(always)]
    fn down(self) -> Self {
        f32::from_bits(neighbour!(
            u32,
            self.to_bits(),
            f32::INFINITY.to_bits(),
            self.is_nan(),
            false
        ))
    }
    #[inline(always)]
    fn quantum(self) -> f64 {
        // 2^(e - 150), e >= 1: a normal f64.
        let e = u64::from((self.to_bits() >> 23) & 0xff).max(1);
        f64::from_bits((e + 1023 - 150) << 52)
    }
    #[inline(always)]
    fn inv_quantum(self) -> (f64, f64) {
        let e = u64::from((self.to_bits() >> 23) & 0xff).max(1);
        (f64::from_bits((1023 + 150 - e) << 52), 1.0)
    }
}

/// `y − d` in `T`'s own arithmetic: `d` rounded to `T`, then the difference rounded to `T`
/// (computed in `f64`, which for `f32` operands gives the `f32` difference: `53 ≥ 2 · 24 + 2`, so
/// the double rounding is innocuous). The small region's answer ([`undo_one`](super::undo_one)).
#[inline(always)]
pub(crate) fn c0_native<T: Float>(y: T, d: f64) -> T {
    T::from_f64(y.to_f64() - T::from_f64(d).to_f64())
}

/// The small region of [`undo_one`](super::undo_one): `|c|` below the largest power of two not above `|d|`
/// (`c` in a binade below `d`'s). `false` for a NaN `c` and for a zero or subnormal `d`.
#[inline(always)]
pub(crate) fn small<T: Float>(c: T, d: f64) -> bool {
    c.to_f64().abs() < f64::from_bits(d.to_bits() & 0x7ff0_0000_0000_0000)
}
