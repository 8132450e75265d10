//! Matrix-vector products (`n = 1`, rows of `A` contiguous): each row of `A` reduced along `k` in
//! vector lanes where the blocked kernel (`kernel.rs`) would fill one column of a register tile.

use std::ops::Range;

use super::lanes::{Lanes, Tropical, Vx};
use super::Matrices;
use crate::error::Result;
use crate::par::scratch;
use crate::simd::vector::{Isa, Kernel};
use crate::simd::{vectorize, Level};

/// Matrix-vector products (`n = 1`, rows of `A` contiguous): each row reduced along `k` in vector
/// lanes, four accumulators deep, where the blocked kernel would fill one column of `NR`.
struct Gemv<'a, T: Lanes, const MAX: bool> {
    a: &'a [T],
    /// Where row 0 of this task starts in `a`, and the row stride.
    off: usize,
    rs: usize,
    /// The vector, packed contiguous.
    x: &'a [T],
    c: &'a mut [T],
}

impl<T: Lanes, const MAX: bool> Kernel for Gemv<'_, T, MAX> {
    type Output = ();
    #[inline(always)]
    fn run<S: Isa>(self) {
        let Gemv { a, off, rs, x, c } = self;
        let (k, l) = (x.len(), T::LANES);
        let zero = if MAX { T::LOWEST } else { T::HIGHEST };
        let wide = k / (4 * l) * (4 * l);
        let mut lanes = [zero; 16];
        for (r, o) in c.iter_mut().enumerate() {
            let row = &a[off + r * rs..][..k];
            let mut acc = [T::V::<S>::splat(zero); 4];
            let mut p = 0;
            while p < wide {
                let (ar, xr) = (&row[p..][..4 * l], &x[p..][..4 * l]);
                for q in 0..4 {
                    let s = T::V::<S>::load(&ar[q * l..]).add(T::V::<S>::load(&xr[q * l..]));
                    acc[q] = acc[q].better::<MAX>(s);
                }
                p += 4 * l;
            }
            // Exact maxima: the order of combination does not matter (no NaN gets in).
            let m = acc[0]
                .better::<MAX>(acc[1])
                .better::<MAX>(acc[2].better::<MAX>(acc[3]));
            m.store(&mut lanes[..l]);
            let mut best = zero;
            for &v in &lanes[..l] {
                best = better::<T, MAX>(best, v);
            }
            for (&u, &v) in row[wide..].iter().zip(&x[wide..]) {
                best = better::<T, MAX>(best, u.times(v));
            }
            *o = best;
        }
    }
}

/// The scalar `⊕` of the kernels: `s` replaces `best` only when strictly better (NaN never).
#[inline(always)]
fn better<T: Tropical, const MAX: bool>(best: T, s: T) -> T {
    if (MAX && s > best) || (!MAX && s < best) {
        s
    } else {
        best
    }
}

/// `C[rows] = A[rows] ⊗ x` for one product with `n = 1` and contiguous rows of `A`
/// (`a.col_stride == 1`); the argmax, if asked for, by a scalar loop.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemv<T: Lanes, const MAX: bool>(
    func: &'static str,
    a: &Matrices<'_, T>,
    b: &Matrices<'_, T>,
    (ao, bo): (usize, usize),
    k: usize,
    rows: Range<usize>,
    c: &mut [T],
    arg: Option<&mut [i64]>,
    level: Level,
) -> Result<()> {
    let zero = if MAX { T::LOWEST } else { T::HIGHEST };
    let off = ao + rows.start * a.row_stride;
    match arg {
        None => {
            let mut x = scratch(func, k, zero)?;
            for (p, v) in x.iter_mut().enumerate() {
                *v = b.data[bo + p * b.row_stride];
            }
            let g = Gemv::<T, MAX> {
                a: a.data,
                off,
                rs: a.row_stride,
                x: &x,
                c,
            };
            vectorize(level, g);
        }
        Some(arg) => {
            for (r, (o, g)) in c.iter_mut().zip(arg.iter_mut()).enumerate() {
                let row = &a.data[off + r * a.row_stride..][..k];
                let (mut best, mut at) = (zero, 0);
                for (p, &u) in row.iter().enumerate() {
                    let s = u.times(b.data[bo + p * b.row_stride]);
                    if better::<T, MAX>(best, s) != best {
                        (best, at) = (s, p);
                    }
                }
                *o = best;
                *g = at as i64;
            }
        }
    }
    Ok(())
}
