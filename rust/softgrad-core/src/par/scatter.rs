//! Writes to one `f64` slice from several threads at positions the caller knows to be disjoint
//! (e.g. `out[perm[i]]` for a permutation `perm` cut into pieces), without `unsafe` at the call
//! site and without trusting the caller for soundness.
//!
//! The slice is viewed as `[AtomicU64]` for as long as its exclusive borrow lasts, and every write
//! is a relaxed atomic store of the value's bits: on x86-64 and AArch64 a plain store, as fast as
//! `out[i] = v`. If two writes ever did hit the same position, the result would be one of the two
//! values (a logic error of the caller, never undefined behaviour); with disjoint positions the
//! result is the same as writing sequentially, whatever the threads.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};

// The view below needs `AtomicU64` laid out as `f64`: same size (always) and same alignment (true
// on every 64-bit target; a target where it is not fails to compile here instead of misbehaving).
const _: () = assert!(std::mem::size_of::<AtomicU64>() == std::mem::size_of::<f64>());
const _: () = assert!(std::mem::align_of::<AtomicU64>() == std::mem::align_of::<f64>());

/// A shared handle writing into an exclusively borrowed `&mut [f64]` (see the module docs).
#[derive(Debug)]
pub struct Scatter<'a> {
    cells: &'a [AtomicU64],
    _out: PhantomData<&'a mut [f64]>,
}

impl<'a> Scatter<'a> {
    /// The handle over `out`, which stays borrowed (neither read nor written otherwise) while the
    /// handle lives.
    pub fn new(out: &'a mut [f64]) -> Self {
        let (ptr, len) = (out.as_mut_ptr().cast::<AtomicU64>(), out.len());
        // SAFETY: `AtomicU64` has the size and alignment of `f64` (asserted at compile time above),
        // and any bit pattern is a valid value of both, so the `len` elements at `ptr` are `len`
        // valid `AtomicU64`s. The memory is exclusively borrowed for `'a` (`_out` keeps that
        // borrow), so no non-atomic access can overlap the atomic ones made through `cells`.
        let cells = unsafe { std::slice::from_raw_parts(ptr, len) };
        Scatter {
            cells,
            _out: PhantomData,
        }
    }

    /// The length of the slice.
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// Whether the slice is empty.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// `out[i] = v`. Panics if `i` is out of bounds, as indexing does.
    #[inline(always)]
    pub fn set(&self, i: usize, v: f64) {
        self.cells[i].store(v.to_bits(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::par::Par;
    use rayon::prelude::*;

    /// A permutation of `0..n` with long cycles (a multiplicative step coprime to `n`).
    fn perm(n: usize) -> Vec<usize> {
        let step = (1..n).rev().find(|s| gcd(*s, n) == 1).unwrap_or(1);
        (0..n).map(|i| i * step % n.max(1)).collect()
    }

    fn gcd(a: usize, b: usize) -> usize {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }

    #[test]
    fn disjoint_writes_from_threads_equal_sequential_writes() {
        for n in [0, 1, 7, 4096, 100_003] {
            let p = perm(n);
            let mut want = vec![f64::NAN; n];
            for (i, &j) in p.iter().enumerate() {
                want[j] = i as f64 * 0.5 - 3.0;
            }
            for par in [Par::Seq, Par::Rayon(2), Par::Rayon(3)] {
                let mut out = vec![f64::NAN; n];
                let s = Scatter::new(&mut out);
                assert_eq!((s.len(), s.is_empty()), (n, n == 0));
                par.install(|| {
                    p.par_chunks(1000).enumerate().for_each(|(k, c)| {
                        for (i, &j) in c.iter().enumerate() {
                            s.set(j, (k * 1000 + i) as f64 * 0.5 - 3.0);
                        }
                    })
                })
                .unwrap();
                let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&out), bits(&want), "{n} {par:?}");
            }
        }
    }

    #[test]
    fn every_bit_pattern_is_kept_and_bad_indices_panic() {
        let mut out = vec![0.0; 4];
        let s = Scatter::new(&mut out);
        let v = [
            -0.0,
            f64::from_bits(0x7ff8_dead_beef_0001),
            f64::MIN_POSITIVE / 4.0,
            -1e308,
        ];
        for (i, &x) in v.iter().enumerate() {
            s.set(i, x);
        }
        assert!(std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| s.set(4, 1.0))).is_err());
        let got: Vec<u64> = out.iter().map(|x| x.to_bits()).collect();
        assert_eq!(got, v.iter().map(|x| x.to_bits()).collect::<Vec<_>>());
    }
}
