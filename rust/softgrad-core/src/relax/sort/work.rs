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
//! (`2^b >= n`). These are sorted on their top `D` bits only: by an LSD radix sort (stable, so
//! positions stay ascending within equal digits; 8-bit digits, `D` = 24 for lanes under 4096 and
//! 32 above, digits shared by every word skipped) for lanes of at least [`RADIX_MIN`] values, by a
//! comparison sort of the whole word (`D = 64 - b`) below. A last pass (`fix_up`) sorts each run of
//! equal top `D` bits by the whole word, and each run of equal key bits by the full key when the
//! words could not hold all of them: for distinct random values the runs are short and rare, so a
//! lane costs three or four linear passes instead of eight, and ties (equal keys) are already in
//! position order. Every path gives the permutation of the full `(key, position)` order. (Wider
//! digits cost more than they save: 2048 buckets scatter into more pages than the TLB holds.)

use std::cell::RefCell;

use rayon::prelude::*;

use super::pav::Block;
use crate::error::{Error, Result};
use crate::par::Par;

/// Lanes at least this long are radix sorted (below, the 8 × 256 counters cost more than they save).
pub(crate) const RADIX_MIN: usize = 256;

/// Reusable buffers of one thread.
#[derive(Debug, Default)]
pub(crate) struct Work {
    keys: Vec<u64>,
    packed: Vec<u64>,
    tmp: Vec<u64>,
    pub(crate) perm: Vec<u32>,
    pub(crate) z: Vec<f64>,
    pub(crate) start: Vec<bool>,
    pub(crate) p: Vec<f64>,
    pub(crate) d: Vec<f64>,
    pub(crate) stack: Vec<Block>,
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

impl Work {
    /// Sorts positions `0..keys.len()` by `keys` ascending, ties by position, into `perm`.
    pub(crate) fn sort(
        &mut self,
        func: &'static str,
        keys: impl ExactSizeIterator<Item = u64>,
        perm: &mut [u32],
        par: Par,
    ) -> Result<()> {
        let n = keys.len();
        grow(func, &mut self.keys, n)?;
        let ks = &mut self.keys[..n];
        let mut first = None;
        let mut diff = 0u64;
        for (k, v) in ks.iter_mut().zip(keys) {
            *k = v;
            diff |= v ^ *first.get_or_insert(v);
        }
        if diff == 0 {
            // one value (or none): the identity
            perm.iter_mut().enumerate().for_each(|(i, p)| *p = i as u32);
            return Ok(());
        }
        let b = 64 - (n as u64 - 1).leading_zeros(); // n >= 2 here, so b >= 1
        let (lift, low) = (diff.leading_zeros(), (1u64 << b) - 1);
        grow(func, &mut self.packed, n)?;
        let packed = &mut self.packed[..n];
        let top = if n >= RADIX_MIN {
            let top = if n < 4096 { 24 } else { 32 };
            // the digit counts of the radix sort, taken as the words are made
            let mut counts = [[0u32; 256]; RADIX_PASSES];
            for (i, (p, &k)) in packed.iter_mut().zip(ks.iter()).enumerate() {
                let w = ((k << lift) & !low) | i as u64;
                *p = w;
                for (d, c) in counts.iter_mut().enumerate().take(top / 8) {
                    c[digit(w, top, d)] += 1;
                }
            }
            grow(func, &mut self.tmp, n)?;
            radix(packed, &mut self.tmp[..n], top, &mut counts);
            top as u32
        } else {
            for (i, (p, &k)) in packed.iter_mut().zip(ks.iter()).enumerate() {
                *p = ((k << lift) & !low) | i as u64;
            }
            match par {
                Par::Seq => packed.sort_unstable(),
                p => p.install(|| packed.par_sort_unstable())?,
            }
            64 - b
        };
        // every bit on which keys differ is in the words unless some are among the b dropped
        let exact = (diff << lift) & low == 0;
        fix_up(packed, ks, top, low, exact);
        for (o, p) in perm.iter_mut().zip(packed.iter()) {
            *o = (p & low) as u32;
        }
        Ok(())
    }
}

/// At most this many 8-bit radix passes (a 32-bit radix prefix).
const RADIX_PASSES: usize = 4;

/// Digit `d` (from the least significant) of the top `top` bits of `w`.
#[inline(always)]
fn digit(w: u64, top: usize, d: usize) -> usize {
    ((w >> (64 - top + 8 * d)) & 255) as usize
}

/// Stable LSD radix sort of `v` on its top `top` bits (a multiple of 8), given the counts of each
/// digit; the result ends in `v`. Digits on which all words agree are skipped.
fn radix(v: &mut [u64], tmp: &mut [u64], top: usize, counts: &mut [[u32; 256]; RADIX_PASSES]) {
    let n = v.len();
    let mut in_tmp = false;
    for (d, c) in counts.iter_mut().enumerate().take(top / 8) {
        let first = if in_tmp { tmp[0] } else { v[0] };
        if c[digit(first, top, d)] as usize == n {
            continue;
        }
        let mut acc = 0u32;
        for o in c.iter_mut() {
            let cnt = *o;
            *o = acc;
            acc += cnt;
        }
        let (src, dst): (&[u64], &mut [u64]) = if in_tmp { (tmp, v) } else { (v, tmp) };
        for &x in src.iter() {
            let slot = &mut c[digit(x, top, d)];
            dst[*slot as usize] = x;
            *slot += 1;
        }
        in_tmp = !in_tmp;
    }
    if in_tmp {
        v.copy_from_slice(tmp);
    }
}

/// Makes `packed` (sorted on its top `top` bits, positions ascending within equal top bits) sorted
/// by `(keys[position], position)`, `low` masking the position. Each run of equal top bits is
/// sorted by the whole packed word (the key's next bits, then the position: no memory lookups);
/// then, unless `exact` (the packed words hold every bit on which keys differ), each run of equal
/// key bits in the words is checked, and re-sorted if need be, by the full keys.
fn fix_up(packed: &mut [u64], keys: &[u64], top: u32, low: u64, exact: bool) {
    let b = low.count_ones();
    let shift = 64 - top;
    for_runs(packed, shift, |run| {
        if shift > b {
            if run.len() <= 16 {
                insertion(run);
            } else {
                run.sort_unstable();
            }
        }
        if !exact {
            let full = |p: u64| (keys[(p & low) as usize], p & low);
            for_runs(run, b, |r| {
                if r.windows(2).any(|w| full(w[0]) > full(w[1])) {
                    r.sort_unstable_by_key(|&p| full(p));
                }
            });
        }
    });
}

/// Calls `f` on each run (of two or more) of adjacent words equal above bit `shift`. Runs are rare:
/// the scan is one comparison per word.
fn for_runs(v: &mut [u64], shift: u32, mut f: impl FnMut(&mut [u64])) {
    let n = v.len();
    let mut i = 1;
    while i < n {
        if (v[i] ^ v[i - 1]) >> shift != 0 {
            i += 1;
            continue;
        }
        let s = i - 1;
        let mut e = i + 1;
        while e < n && (v[e] ^ v[s]) >> shift == 0 {
            e += 1;
        }
        f(&mut v[s..e]);
        i = e + 1;
    }
}

/// Insertion sort of a short slice.
fn insertion(v: &mut [u64]) {
    for i in 1..v.len() {
        let x = v[i];
        let mut j = i;
        while j > 0 && v[j - 1] > x {
            v[j] = v[j - 1];
            j -= 1;
        }
        v[j] = x;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relax::testutil::uniform;

    fn check(keys: &[u64]) {
        let n = keys.len();
        let mut want: Vec<u32> = (0..n as u32).collect();
        want.sort_by_key(|&i| (keys[i as usize], i));
        for par in [Par::Seq, Par::Rayon(2)] {
            let mut perm = vec![0u32; n];
            Work::default()
                .sort("t", keys.iter().copied(), &mut perm, par)
                .unwrap();
            assert_eq!(perm, want, "{n} {par:?}");
        }
    }

    #[test]
    fn every_path_gives_the_full_key_then_position_order() {
        for n in [0, 1, 2, 5, 255, 256, 1000, 4095, 4096, 40_000] {
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
