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
//! position order. Every path gives the permutation of the full `(key, position)` order. Given
//! threads, a lane of at least [`PAR_SORT_MIN`] values has its two halves sorted so side by side
//! and merged (two threads again, each merging half of the result); the order being total, the
//! permutation does not depend on the threads.
//! (Wider digits cost more than they save: 2048 buckets scatter into more pages than the TLB holds.)

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
        let mut first = None;
        let mut diff = 0u64;
        for (k, v) in self.keys[..n].iter_mut().zip(keys) {
            *k = v;
            diff |= v ^ *first.get_or_insert(v);
        }
        let ks = &self.keys[..n];
        if diff == 0 {
            // one value (or none): the identity
            perm.iter_mut().enumerate().for_each(|(i, p)| *p = i as u32);
            return Ok(());
        }
        let b = 64 - (n as u64 - 1).leading_zeros(); // n >= 2 here, so b >= 1
        let (lift, low) = (diff.leading_zeros(), (1u64 << b) - 1);
        grow(func, &mut self.packed, n)?;
        grow(func, &mut self.tmp, n)?;
        let (packed, tmp) = (&mut self.packed[..n], &mut self.tmp[..n]);
        let word = move |i: usize, k: u64| ((k << lift) & !low) | i as u64;
        // every bit on which keys differ is in the words unless some are among the b dropped
        let exact = (diff << lift) & low == 0;
        let threads = match par {
            Par::Rayon(t) if n >= PAR_SORT_MIN => t,
            _ => 1,
        };
        let sorted: &[u64] = if threads >= 2 {
            // two halves radix sorted side by side, then merged: the order is total, so the
            // permutation is the same as on one thread
            let h = n / 2;
            let (ka, kb) = ks.split_at(h);
            let (pa, pb) = packed.split_at_mut(h);
            let (ta, tb) = tmp.split_at_mut(h);
            par.install(|| {
                rayon::join(
                    || {
                        radix_piece(pa, ta, ka, 0, word, 32);
                        fix_up(pa, ks, 32, low, true);
                    },
                    || {
                        radix_piece(pb, tb, kb, h, word, 32);
                        fix_up(pb, ks, 32, low, true);
                    },
                )
            })?;
            par.install(|| merge_par(pa, pb, tmp))?;
            if !exact {
                fix_up(tmp, ks, 64 - b, low, false);
            }
            tmp
        } else if n >= RADIX_MIN {
            let top = if n < 4096 { 24 } else { 32 };
            radix_piece(packed, tmp, ks, 0, word, top);
            fix_up(packed, ks, top as u32, low, exact);
            packed
        } else {
            for (i, (p, &k)) in packed.iter_mut().zip(ks.iter()).enumerate() {
                *p = word(i, k);
            }
            match par {
                Par::Seq => packed.sort_unstable(),
                p => p.install(|| packed.par_sort_unstable())?,
            }
            fix_up(packed, ks, 64 - b, low, exact);
            packed
        };
        let positions = |(o, w): (&mut [u32], &[u64])| {
            for (o, p) in o.iter_mut().zip(w) {
                *o = (p & low) as u32;
            }
        };
        if threads >= 2 {
            par.install(|| {
                perm.par_chunks_mut(1 << 15)
                    .zip(sorted.par_chunks(1 << 15))
                    .for_each(positions)
            })?;
        } else {
            positions((perm, sorted));
        }
        Ok(())
    }
}

/// Lanes at least this long, given threads, sort two halves on two threads and merge them.
pub(crate) const PAR_SORT_MIN: usize = 1 << 16;

/// The packed words of `keys` (positions from `offset`, `word(position, key)`) radix sorted on their
/// top `top` bits into `v` (`tmp` the same length as scratch).
fn radix_piece(
    v: &mut [u64],
    tmp: &mut [u64],
    keys: &[u64],
    offset: usize,
    word: impl Fn(usize, u64) -> u64,
    top: usize,
) {
    // A long lane counts in four sets by position mod 4: the high digits of real data repeat, and
    // one set would chain every increment of a repeated digit through memory (a short lane would
    // pay more zeroing 16 KiB).
    let mut counts = if v.len() >= SETS_MIN {
        counted::<4>(v, keys, offset, word, top)
    } else {
        counted::<1>(v, keys, offset, word, top)
    };
    radix(v, tmp, top, &mut counts);
}

/// Writes the packed words of `keys` into `v` (as [`radix_piece`]) and returns their digit counts,
/// taken in `S` sets by position mod `S` and added.
fn counted<const S: usize>(
    v: &mut [u64],
    keys: &[u64],
    offset: usize,
    word: impl Fn(usize, u64) -> u64,
    top: usize,
) -> [[u32; 256]; RADIX_PASSES] {
    let mut all = [[[0u32; 256]; RADIX_PASSES]; S];
    let digits = top / 8;
    let mut vc = v.chunks_exact_mut(S);
    let mut kc = keys.chunks_exact(S);
    let mut at = offset;
    for (ps, ks) in (&mut vc).zip(&mut kc) {
        for (l, set) in all.iter_mut().enumerate() {
            let w = word(at + l, ks[l]);
            ps[l] = w;
            for (d, c) in set.iter_mut().enumerate().take(digits) {
                c[digit(w, top, d)] += 1;
            }
        }
        at += S;
    }
    for (l, (p, &k)) in vc
        .into_remainder()
        .iter_mut()
        .zip(kc.remainder())
        .enumerate()
    {
        let w = word(at + l, k);
        *p = w;
        for (d, c) in all[0].iter_mut().enumerate().take(digits) {
            c[digit(w, top, d)] += 1;
        }
    }
    let mut counts = all[0];
    for set in &all[1..] {
        for (c, o) in counts.iter_mut().zip(set).take(digits) {
            c.iter_mut().zip(o).for_each(|(c, o)| *c += o);
        }
    }
    counts
}

/// Merges the sorted `a` and `b` (all words distinct) into `out`, two halves of `out` at a time
/// when rayon has threads: the split of the first half is found by a binary search (merge path).
fn merge_par(a: &[u64], b: &[u64], out: &mut [u64]) {
    let k = out.len() / 2;
    // the least i such that a[..i] and b[..k - i] are the k smallest
    let (mut lo, mut hi) = (k.saturating_sub(b.len()), k.min(a.len()));
    while lo < hi {
        let mid = (lo + hi) / 2;
        if a[mid] < b[k - mid - 1] {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    let (oa, ob) = out.split_at_mut(k);
    let ((a0, a1), (b0, b1)) = (a.split_at(lo), b.split_at(k - lo));
    rayon::join(|| merge(a0, b0, oa), || merge(a1, b1, ob));
}

/// Merges the sorted `a` and `b` into `out` (`a.len() + b.len()` long).
fn merge(a: &[u64], b: &[u64], out: &mut [u64]) {
    let (mut i, mut j) = (0, 0);
    for o in out.iter_mut() {
        if j >= b.len() || (i < a.len() && a[i] < b[j]) {
            *o = a[i];
            i += 1;
        } else {
            *o = b[j];
            j += 1;
        }
    }
}

/// Lanes at least this long take their radix digit counts in four sets.
const SETS_MIN: usize = 1 << 14;

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
        for par in [Par::Seq, Par::Rayon(2), Par::Rayon(3)] {
            let mut perm = vec![0u32; n];
            Work::default()
                .sort("t", keys.iter().copied(), &mut perm, par)
                .unwrap();
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
            PAR_SORT_MIN + 1,
            150_000,
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
