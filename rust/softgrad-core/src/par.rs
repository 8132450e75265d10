//! Explicit, deterministic parallelism.
//!
//! Every kernel takes a [`Par`]. Work is cut into pieces whose boundaries depend only on the problem
//! size, never on the thread count, and partial results are combined in a fixed order, so one thread
//! and many threads give the same bits.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use rayon::prelude::*;

use crate::error::{Error, Result};

/// Below this many elements of work a kernel runs sequentially: spawning costs more than it saves.
pub const PAR_MIN_ELEMS: usize = 1 << 15;

/// How a kernel may use threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Par {
    /// The calling thread only.
    Seq,
    /// A rayon pool of this many threads (the global pool when it has that size).
    Rayon(usize),
}

static DEFAULT_THREADS: AtomicUsize = AtomicUsize::new(0);
type PoolCache = Mutex<Vec<(usize, Arc<rayon::ThreadPool>)>>;
static POOLS: OnceLock<PoolCache> = OnceLock::new();

/// Sets the thread count used when a call passes no `n_threads`; `0` restores the default
/// (rayon's global pool, which honours `RAYON_NUM_THREADS`).
pub fn set_default_threads(n: usize) {
    DEFAULT_THREADS.store(n, Ordering::Relaxed);
}

/// The thread count used when a call passes no `n_threads`.
pub fn default_threads() -> usize {
    match DEFAULT_THREADS.load(Ordering::Relaxed) {
        0 => rayon::current_num_threads(),
        n => n,
    }
}

impl Par {
    /// `Some(n)` asks for `n` threads (`n >= 1`); `None` takes the global default.
    pub fn from_threads(n_threads: Option<usize>) -> Result<Par> {
        let n = match n_threads {
            Some(0) => return Err(Error::param("softgrad", "n_threads", "must be >= 1, got 0")),
            Some(n) => n,
            None => default_threads(),
        };
        Ok(if n <= 1 { Par::Seq } else { Par::Rayon(n) })
    }

    /// Threads this setting may use.
    pub fn threads(self) -> usize {
        match self {
            Par::Seq => 1,
            Par::Rayon(n) => n,
        }
    }

    /// `Seq` when `work` (in elements) is too small to be worth splitting.
    pub fn for_work(self, work: usize) -> Par {
        if work < PAR_MIN_ELEMS {
            Par::Seq
        } else {
            self
        }
    }

    /// Runs `f` where rayon's parallel iterators use this setting's threads.
    pub fn install<R: Send>(self, f: impl FnOnce() -> R + Send) -> Result<R> {
        match self {
            Par::Seq => Ok(f()),
            // Outside any pool, parallel iterators already run on the global pool.
            Par::Rayon(n)
                if rayon::current_thread_index().is_none() && n == rayon::current_num_threads() =>
            {
                Ok(f())
            }
            Par::Rayon(n) => Ok(pool(n)?.install(f)),
        }
    }

    /// Calls `f(i, chunk)` on each `chunk_len`-long piece of `out` (the last may be shorter).
    pub fn for_each_chunk_mut<T: Send>(
        self,
        out: &mut [T],
        chunk_len: usize,
        f: impl Fn(usize, &mut [T]) + Send + Sync,
    ) -> Result<()> {
        let chunk_len = chunk_len.max(1);
        match self {
            Par::Seq => {
                out.chunks_mut(chunk_len)
                    .enumerate()
                    .for_each(|(i, c)| f(i, c));
                Ok(())
            }
            _ => self.install(|| {
                out.par_chunks_mut(chunk_len)
                    .enumerate()
                    .for_each(|(i, c)| f(i, c))
            }),
        }
    }

    /// `(0..n).map(f)` collected in index order.
    pub fn map_collect<R: Send>(
        self,
        n: usize,
        f: impl Fn(usize) -> R + Send + Sync,
    ) -> Result<Vec<R>> {
        match self {
            Par::Seq => Ok((0..n).map(f).collect()),
            _ => self.install(|| (0..n).into_par_iter().map(f).collect()),
        }
    }
}

fn pool(n: usize) -> Result<Arc<rayon::ThreadPool>> {
    let cache = POOLS.get_or_init(|| Mutex::new(Vec::new()));
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, p)) = cache.iter().find(|(k, _)| *k == n) {
        return Ok(p.clone());
    }
    let p = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .thread_name(|i| format!("softgrad-{i}"))
        .build()
        .map_err(|e| Error::ThreadPool {
            threads: n,
            msg: e.to_string(),
        })?;
    let p = Arc::new(p);
    cache.push((n, p.clone()));
    Ok(p)
}

/// A raw pointer that may cross threads: for kernels whose tasks write provably disjoint,
/// non-contiguous parts of one output buffer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SyncPtr<T>(pub *mut T);
// SAFETY: users only write disjoint index sets from different tasks (documented at each use).
unsafe impl<T: Send> Send for SyncPtr<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for SyncPtr<T> {}

impl<T> SyncPtr<T> {
    /// `len` elements from `offset`, as a mutable slice.
    ///
    /// # Safety
    /// The range must lie inside the buffer and no other live slice may overlap it.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn slice(&self, offset: usize, len: usize) -> &mut [T] {
        // SAFETY: guaranteed by the caller.
        unsafe { std::slice::from_raw_parts_mut(self.0.add(offset), len) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_threads_rejects_zero_and_maps_one_to_seq() {
        assert!(Par::from_threads(Some(0)).is_err());
        assert_eq!(Par::from_threads(Some(1)).unwrap(), Par::Seq);
        assert_eq!(Par::from_threads(Some(3)).unwrap(), Par::Rayon(3));
    }

    #[test]
    fn map_collect_keeps_order_for_any_thread_count() {
        for par in [Par::Seq, Par::Rayon(2), Par::Rayon(3)] {
            let v = par.map_collect(1000, |i| i * i).unwrap();
            assert!(v.iter().enumerate().all(|(i, &x)| x == i * i));
        }
    }

    #[test]
    fn chunks_cover_the_output() {
        let mut out = vec![0usize; 1001];
        Par::Rayon(2)
            .for_each_chunk_mut(&mut out, 100, |i, c| c.iter_mut().for_each(|x| *x = i))
            .unwrap();
        assert!(out.iter().enumerate().all(|(j, &x)| x == j / 100));
    }
}
