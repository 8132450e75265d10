//! Per-thread workspace of the lane kernels, and the sort they start with.
//!
//! Short lanes are many (e.g. 100 000 rows of 32), so the kernels reuse one workspace per thread
//! instead of allocating per lane (a nested use, possible only through work stealing inside a long
//! row's parallel sort, gets a fresh one). Growth is fallible ([`Error::Alloc`]).
//!
//! The sort orders lane positions by a `u64` key (descending `σ x`, see `desc_key`), ties by
//! position, so the permutation is a function of the input only. Each position is packed into one
//! `u64`: the key's bits from the highest one on which the lane's keys differ downwards (the bits
//! above are shared, so dropping them keeps the order), then the position in the low `b` bits
//! (`2^b >= n`). The keys are not stored: the caller gives them as a function of the position
//! (computed from `x` where needed) and has already found the bits on which they differ in a pass
//! of its own. The words are sorted on their top `D` bits only: by an LSD radix sort (stable, so
//! positions stay ascending within equal digits; digits shared by every word skipped) for lanes of
//! at least [`RADIX_MIN`] values, by a comparison sort of the whole word (`D = 64 - b`) below. The
//! digits are 8-bit, `D` = 24 for lanes under 4096 and 32 above, and 11-bit with `D` = 33 (three
//! passes instead of four) from [`WIDE_MIN`] on, where each pass is a trip through memory. A last
//! pass (`fix_up`) sorts each run of equal top `D` bits by the whole word, and each run of equal
//! key bits by the full key when the words could not hold all of them: for distinct random values
//! the runs are short and rare, so a lane costs four or five linear passes instead of eight, and
//! ties (equal keys) are already in position order. Every path gives the permutation of the full
//! `(key, position)` order. The pass that writes the permutation also writes the values in sorted
//! order (the caller's `value(position)`), so the lane is gathered once. Given threads, a lane of
//! at least [`PAR_SORT_MIN`] values is radix sorted on all of them (pieces of fixed length scatter
//! their words on the top digit side by side, then each bucket is sorted on its own, see
//! `radix_par`) and fixed up on two threads, split between runs; the order being total, the
//! permutation does not depend on the threads.

use std::cell::RefCell;

use rayon::prelude::*;

use super::pav::Block;
use crate::error::{Error, Result};
use crate::par::Par;
use crate::simd;

mod radix;
pub(crate) mod row;
pub(crate) mod row_vjp;
pub(crate) use radix::PAR_SORT_MIN;
use radix::{fix_up, radix_long, radix_par};

/// Lanes at least this long are radix sorted (below, the 8 × 256 counters cost more than they save).
pub(crate) const RADIX_MIN: usize = 256;

/// Lanes (and halves of a lane sorted on two threads) at least this long are radix sorted on
/// 11-bit digits, three passes over the top 33 bits, instead of four 8-bit passes: a pass over a
/// long lane costs a trip through memory, more than its 2048 counters cost.
const WIDE_MIN: usize = 1 << 15;

/// Reusable buffers of one thread.
#[derive(Debug, Default)]
pub(crate) struct Work {
    packed: Vec<u64>,
    tmp: Vec<u64>,
    pub(crate) perm: Vec<u32>,
    pub(crate) z: Vec<f64>,
    pub(crate) start: Vec<bool>,
    pub(crate) p: Vec<f64>,
    pub(crate) d: Vec<f64>,
    pub(crate) stack: Vec<Block>,
    pub(crate) row: row::Stack,
    pub(crate) vjp: row_vjp::Scratch,
}

thread_local! {
    static WORK: RefCell<Work> = RefCell::new(Work::default());
}

/// Runs `f` with this thread's workspace (or a fresh one if it is in use further up the stack).
pub(crate) fn with_work<R>(f: impl FnOnce(&mut Work) -> R) -> R {
    WORK.with(|c| match c.try_borrow_mut() {
        Ok(mut w) => f(&mut w),
        Err(_) => f(&mut Work::default()),
    })
}

/// `v` resized to `n` (contents unspecified), or [`Error::Alloc`].
pub(crate) fn grow<T: Clone + Default>(func: &'static str, v: &mut Vec<T>, n: usize) -> Result<()> {
    if v.len() < n {
        v.try_reserve(n - v.len()).map_err(|_| Error::Alloc {
            func,
            bytes: n.saturating_mul(std::mem::size_of::<T>()),
        })?;
        v.resize(n, T::default());
    }
    Ok(())
}

/// `OR_i key(i) ^ key(0)` over `0..n`: the bits on which the keys differ (what [`Work::sort`]
/// takes, so that a caller can fold it into a pass of its own).
#[cfg(test)]
pub(crate) fn key_diff(n: usize, key: impl Fn(usize) -> u64) -> u64 {
    (0..n).fold(0, |d, i| d | (key(i) ^ key(0)))
}

impl Work {
    /// Sorts positions `0..perm.len()` by `key` ascending, ties by position, into `perm`, and
    /// writes `z[i] = value(perm[i])` in the same pass. `diff` is `OR_i key(i) ^ key(0)`.
    pub(crate) fn sort(
        &mut self,
        func: &'static str,
        key: impl Fn(usize) -> u64 + Sync,
        diff: u64,
        (perm, z): (&mut [u32], &mut [f64]),
        value: impl Fn(usize) -> f64 + Sync,
        par: Par,
    ) -> Result<()> {
        let n = perm.len();
        let threads = match par {
            Par::Rayon(t) if n >= PAR_SORT_MIN => t,
            _ => 1,
        };
        let emit = |at: usize, (o, zs, w): (&mut [u32], &mut [f64], Option<Sorted<'_>>)| match w {
            Some((w, low)) => {
                for ((o, zi), &w) in o.iter_mut().zip(zs).zip(w) {
                    let p = (w & low) as usize;
                    *o = p as u32;
                    *zi = value(p);
                }
            }
            None => {
                for (i, (o, zi)) in o.iter_mut().zip(zs).enumerate() {
                    *o = (at + i) as u32;
                    *zi = value(at + i);
                }
            }
        };
        let mut emit_all = move |sorted: Option<Sorted<'_>>| {
            const PIECE: usize = 1 << 15;
            if threads >= 2 {
                par.install(|| {
                    perm.par_chunks_mut(PIECE)
                        .zip(z.par_chunks_mut(PIECE))
                        .enumerate()
                        .for_each(|(k, (o, zs))| {
                            let w = sorted.map(|(w, low)| (&w[k * PIECE..], low));
                            emit(k * PIECE, (o, zs, w));
                        })
                })
            } else {
                emit(0, (perm, z, sorted));
                Ok(())
            }
        };
        if diff == 0 {
            // one value (or none): the identity
            return emit_all(None);
        }
        let b = 64 - (n as u64 - 1).leading_zeros(); // n >= 2 here, so b >= 1
        let (lift, low) = (diff.leading_zeros(), (1u64 << b) - 1);
        grow(func, &mut self.packed, n)?;
        grow(func, &mut self.tmp, n)?;
        let (packed, tmp) = (&mut self.packed[..n], &mut self.tmp[..n]);
        let word = |i: usize| ((key(i) << lift) & !low) | i as u64;
        // every bit on which keys differ is in the words unless some are among the b dropped
        let exact = (diff << lift) & low == 0;
        let sorted: &[u64] = if threads >= 2 {
            // a radix sort on the threads (pieces of fixed length, each scattered stably to its
            // own slots), then the fix-up on two threads, split between runs: the order is total,
            // so the permutation is the same as on one thread
            let top = par.install(|| radix_par(packed, tmp, &word))?;
            let sorted = tmp;
            let shift = 64 - top;
            let mut m = n / 2;
            while m < n && (sorted[m] ^ sorted[m - 1]) >> shift == 0 {
                m += 1;
            }
            let (ta, tb) = sorted.split_at_mut(m);
            par.install(|| {
                rayon::join(
                    || fix_up(ta, &key, top, low, exact),
                    || fix_up(tb, &key, top, low, exact),
                )
            })?;
            sorted
        } else if n >= RADIX_MIN {
            // one thread: the radix sort and the pass that writes the permutation compiled for
            // the SIMD level (integer code: the same permutation, and `value` the same bits)
            return simd::dispatch(
                simd::level(),
                #[inline(always)]
                || {
                    let top = radix_long(packed, tmp, 0, &word);
                    fix_up(packed, &key, top, low, exact);
                    emit_all(Some((packed, low)))
                },
            );
        } else {
            for (i, p) in packed.iter_mut().enumerate() {
                *p = word(i);
            }
            match par {
                Par::Seq => packed.sort_unstable(),
                p => p.install(|| packed.par_sort_unstable())?,
            }
            fix_up(packed, &key, 64 - b, low, exact);
            packed
        };
        emit_all(Some((sorted, low)))
    }
}

/// Sorted packed words and the mask of their position bits.
type Sorted<'a> = (&'a [u64], u64);

#[cfg(test)]
mod tests {
    use super::radix::PAR_PIECE;
    use super::*;
    use crate::relax::testutil::uniform;

    fn check(keys: &[u64]) {
        let n = keys.len();
        let mut want: Vec<u32> = (0..n as u32).collect();
        want.sort_by_key(|&i| (keys[i as usize], i));
        for par in [Par::Seq, Par::Rayon(2), Par::Rayon(3)] {
            let mut perm = vec![0u32; n];
            let mut z = vec![0.0; n];
            let key = |i: usize| keys[i];
            Work::default()
                .sort(
                    "t",
                    key,
                    key_diff(n, key),
                    (&mut perm, &mut z),
                    |p| p as f64,
                    par,
                )
                .unwrap();
            assert!(z.iter().zip(&perm).all(|(&z, &p)| z == f64::from(p)));
            assert_eq!(perm, want, "{n} {par:?}");
        }
    }

    #[test]
    fn every_path_gives_the_full_key_then_position_order() {
        for n in [
            0,
            1,
            2,
            5,
            255,
            256,
            1000,
            4095,
            4096,
            40_000,
            1 << 15,
            PAR_SORT_MIN,
            PAR_SORT_MIN + 1,
            150_000,
            3 * PAR_PIECE + 1,
        ] {
            let x = uniform(n, n as u64, -3.0, 3.0);
            // ties, and keys sharing high digits
            check(
                &x.iter()
                    .map(|v| ((v * 4.0).round() as i64 + 1000) as u64)
                    .collect::<Vec<_>>(),
            );
            // distinct keys differing in every digit
            check(&x.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
            // keys equal in the radix digits, differing only in the low bits (long fix-up runs)
            check(
                &x.iter()
                    .map(|v| (7 << 60) | ((v + 3.0) * 1000.0) as u64)
                    .collect::<Vec<_>>(),
            );
            check(
                &x.iter()
                    .map(|v| (1 << 63) | ((v + 3.0) * 1e6) as u64 & 0xfff)
                    .collect::<Vec<_>>(),
            );
            check(&vec![42; n]);
        }
    }
}
