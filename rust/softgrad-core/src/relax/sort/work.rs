//! Per-thread workspace of the lane kernels, and the sort they start with.
//!
//! Short lanes are many (e.g. 100 000 rows of 32), so the kernels reuse one workspace per thread
//! instead of allocating per lane (a nested use, possible only through work stealing inside a long
//! row's parallel sort, gets a fresh one). Growth is fallible ([`Error::Alloc`]).
//!
//! The sort orders lane positions by a `u64` key (descending `σ x`, see `desc_key`), ties by
//! position, so the permutation is a function of the input only: an LSD radix sort (stable, 8-bit
//! digits, digits shared by every key skipped) for lanes of at least [`RADIX_MIN`] values, a
//! comparison sort of `key << 32 | position` below it, and rayon's parallel sort of the same packed
//! keys for long lanes given threads. All three give the same permutation.

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
    idx: Vec<u32>,
    tmp_keys: Vec<u64>,
    tmp_idx: Vec<u32>,
    packed: Vec<u128>,
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
        if n >= RADIX_MIN && par == Par::Seq {
            grow(func, &mut self.keys, n)?;
            grow(func, &mut self.idx, n)?;
            grow(func, &mut self.tmp_keys, n)?;
            grow(func, &mut self.tmp_idx, n)?;
            for (i, (k, v)) in self.keys.iter_mut().zip(keys).enumerate() {
                *k = v;
                self.idx[i] = i as u32;
            }
            radix(
                &mut self.keys[..n],
                &mut self.idx[..n],
                &mut self.tmp_keys[..n],
                &mut self.tmp_idx[..n],
            );
            perm.copy_from_slice(&self.idx[..n]);
            return Ok(());
        }
        grow(func, &mut self.packed, n)?;
        let packed = &mut self.packed[..n];
        for (i, (p, k)) in packed.iter_mut().zip(keys).enumerate() {
            *p = ((k as u128) << 32) | i as u128;
        }
        match par {
            Par::Seq => packed.sort_unstable(),
            p => p.install(|| packed.par_sort_unstable())?,
        }
        for (o, p) in perm.iter_mut().zip(packed.iter()) {
            *o = *p as u32;
        }
        Ok(())
    }
}

/// Stable LSD radix sort of `(keys, idx)` by `keys`, 8 bits at a time; the result ends in
/// `(keys, idx)`. Digits on which all keys agree are skipped.
fn radix(keys: &mut [u64], idx: &mut [u32], tk: &mut [u64], ti: &mut [u32]) {
    let n = keys.len();
    let mut counts = [[0u32; 256]; 8];
    for &k in keys.iter() {
        for (d, c) in counts.iter_mut().enumerate() {
            c[((k >> (8 * d)) & 255) as usize] += 1;
        }
    }
    let mut in_tmp = false;
    for (d, c) in counts.iter().enumerate() {
        let first = if in_tmp { tk[0] } else { keys[0] };
        if c[((first >> (8 * d)) & 255) as usize] as usize == n {
            continue;
        }
        let mut off = [0u32; 256];
        let mut acc = 0u32;
        for (o, &cnt) in off.iter_mut().zip(c.iter()) {
            *o = acc;
            acc += cnt;
        }
        let (sk, si, dk, di): (&[u64], &[u32], &mut [u64], &mut [u32]) = if in_tmp {
            (tk, ti, keys, idx)
        } else {
            (keys, idx, tk, ti)
        };
        for (&k, &i) in sk.iter().zip(si.iter()) {
            let b = ((k >> (8 * d)) & 255) as usize;
            let at = off[b] as usize;
            dk[at] = k;
            di[at] = i;
            off[b] += 1;
        }
        in_tmp = !in_tmp;
    }
    if in_tmp {
        keys.copy_from_slice(tk);
        idx.copy_from_slice(ti);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relax::testutil::uniform;

    #[test]
    fn the_three_sorts_give_the_same_permutation() {
        for n in [0, 1, 5, 255, 256, 1000, 40_000] {
            let x = uniform(n, n as u64, -3.0, 3.0);
            // ties, and keys sharing high digits
            let keys: Vec<u64> = x
                .iter()
                .map(|v| ((v * 4.0).round() as i64 + 1000) as u64)
                .collect();
            let mut want: Vec<u32> = (0..n as u32).collect();
            want.sort_by_key(|&i| (keys[i as usize], i));
            for par in [Par::Seq, Par::Rayon(2)] {
                let mut perm = vec![0u32; n];
                Work::default()
                    .sort("t", keys.iter().copied(), &mut perm, par)
                    .unwrap();
                assert_eq!(perm, want, "{n} {par:?}");
            }
            let mut perm = vec![0u32; n];
            let mut w = Work::default();
            w.packed.clear();
            // the comparison sort below RADIX_MIN, forced
            let mut packed: Vec<u128> = keys
                .iter()
                .enumerate()
                .map(|(i, &k)| ((k as u128) << 32) | i as u128)
                .collect();
            packed.sort_unstable();
            perm.iter_mut()
                .zip(&packed)
                .for_each(|(o, p)| *o = *p as u32);
            assert_eq!(perm, want);
        }
    }
}
