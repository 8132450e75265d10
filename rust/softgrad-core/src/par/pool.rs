//! softgrad's own thread pools: never rayon's global pool, a bounded cache, and fork-aware.
//!
//! Rayon's global pool reads `RAYON_NUM_THREADS` lazily and panics on values it cannot honour, and a
//! pool per distinct thread count kept forever leaks threads; so softgrad builds its pools itself,
//! keeps the [`POOL_CACHE`] most recently used and lets the others go. After `fork` the child has
//! the parent's pool objects but none of their threads: joining or even waking them would hang, so
//! the cache notices the new process id and leaks the parent's pools with [`std::mem::forget`].

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crate::error::{Error, Result};

/// The largest thread count softgrad accepts (`n_threads`, `set_num_threads`, `RAYON_NUM_THREADS`).
pub const MAX_THREADS: usize = 256;

/// How many thread pools (one per distinct thread count) are kept alive at most.
pub const POOL_CACHE: usize = 4;

static DEFAULT_THREADS: AtomicUsize = AtomicUsize::new(0);
static ENV_THREADS: OnceLock<usize> = OnceLock::new();
static POOLS: Mutex<Cache> = Mutex::new(Cache::new());

/// Sets the thread count used when a call passes no `n_threads`; `0` restores the default
/// ([`env_threads`]). Counts above [`MAX_THREADS`] are taken as [`MAX_THREADS`] (bindings reject them
/// before calling).
pub fn set_default_threads(n: usize) {
    DEFAULT_THREADS.store(n.min(MAX_THREADS), Ordering::Relaxed);
}

/// The thread count used when a call passes no `n_threads`.
pub fn default_threads() -> usize {
    match DEFAULT_THREADS.load(Ordering::Relaxed) {
        0 => env_threads(),
        n => n,
    }
}

/// The default size of a pool: `RAYON_NUM_THREADS` if it parses to `1..=MAX_THREADS`, else the
/// available parallelism (at most [`MAX_THREADS`]). Read once.
pub fn env_threads() -> usize {
    *ENV_THREADS.get_or_init(|| {
        let var = std::env::var("RAYON_NUM_THREADS").ok();
        let avail = std::thread::available_parallelism().map_or(1, |n| n.get());
        threads_from(var.as_deref(), avail)
    })
}

/// [`env_threads`] from the variable's value and the available parallelism.
pub(crate) fn threads_from(var: Option<&str>, avail: usize) -> usize {
    match var.and_then(|v| v.trim().parse::<usize>().ok()) {
        Some(n) if (1..=MAX_THREADS).contains(&n) => n,
        _ => avail.clamp(1, MAX_THREADS),
    }
}

/// The pool of `n` threads, built if it is not cached.
pub(crate) fn pool(n: usize) -> Result<Arc<rayon::ThreadPool>> {
    let mut cache = POOLS.lock().unwrap_or_else(|e| e.into_inner());
    cache.get(n, std::process::id())
}

/// Pools by thread count, most recently used last, and the process that built them.
#[derive(Debug)]
pub(crate) struct Cache {
    pid: u32,
    pools: Vec<(usize, Arc<rayon::ThreadPool>)>,
}

impl Cache {
    pub(crate) const fn new() -> Self {
        Cache {
            pid: 0,
            pools: Vec::new(),
        }
    }

    /// The pool of `n` threads as seen from process `pid`.
    pub(crate) fn get(&mut self, n: usize, pid: u32) -> Result<Arc<rayon::ThreadPool>> {
        if !(1..=MAX_THREADS).contains(&n) {
            return Err(Error::param(
                "softgrad",
                "n_threads",
                format!("must be in 1..={MAX_THREADS}, got {n}"),
            ));
        }
        if self.pid != pid {
            // Built by another process (we are a forked child): their threads are not ours, and
            // dropping would try to wake them. Leak them.
            std::mem::forget(std::mem::take(&mut self.pools));
            self.pid = pid;
        }
        if let Some(i) = self.pools.iter().position(|(k, _)| *k == n) {
            let hit = self.pools.remove(i);
            let p = hit.1.clone();
            self.pools.push(hit);
            return Ok(p);
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
        if self.pools.len() >= POOL_CACHE {
            // A call still running on the evicted pool holds its own `Arc`; the threads end after it.
            self.pools.remove(0);
        }
        self.pools.push((n, p.clone()));
        Ok(p)
    }

    #[cfg(test)]
    pub(crate) fn sizes(&self) -> Vec<usize> {
        self.pools.iter().map(|(n, _)| *n).collect()
    }
}

/// A task of [`run_tasks`], then its result.
type Slot<I, R> = Mutex<(Option<I>, Option<Result<R>>)>;

/// `f` over `tasks` on `n` threads, the calling thread taking tasks too; results in task order.
///
/// Rayon's `install` hands the whole call to a pool thread and puts the caller to sleep: a call
/// then waits for a sleeping worker to wake, for that worker to wake the next one, and finally for
/// the caller to be woken. Between calls (the caller doing other work) the workers sleep, and at a
/// fraction of a millisecond of work these wake-ups cost more than half of it. Here the caller
/// starts on the tasks at once while `n - 1` helpers join when they wake, all claiming the next
/// task from one counter; a task's result depends only on the task, so the bits are the same
/// whoever runs it. The caller, out of tasks, spins briefly ([`SPIN`]) for the helpers' last ones
/// before it sleeps. After an error no new task starts; the error returned is the first, in task
/// order, of the tasks that ran.
pub(crate) fn run_tasks<I: Send, R: Send>(
    n: usize,
    tasks: Vec<I>,
    f: impl Fn(I) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    let len = tasks.len();
    let helpers = n.min(len).saturating_sub(1);
    let slots: Vec<Slot<I, R>> = tasks
        .into_iter()
        .map(|t| Mutex::new((Some(t), None)))
        .collect();
    let (next, done) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let stop = AtomicBool::new(false);
    let work = || loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= len {
            break;
        }
        let mut slot = slots[i].lock().unwrap_or_else(|e| e.into_inner());
        if !stop.load(Ordering::Relaxed) {
            if let Some(t) = slot.0.take() {
                let r = f(t);
                if r.is_err() {
                    stop.store(true, Ordering::Relaxed);
                }
                slot.1 = Some(r);
            }
        }
        drop(slot);
        done.fetch_add(1, Ordering::Release);
    };
    // The pool is looked up even when there is no helper to start: an invalid count is an error
    // whatever the number of tasks.
    let pool = if n > 1 { Some(pool(n)?) } else { None };
    match pool {
        Some(pool) if helpers > 0 => pool.in_place_scope(|s| {
            for _ in 0..helpers {
                s.spawn(|_| work());
            }
            work();
            spin_until(|| done.load(Ordering::Acquire) == len);
        }),
        _ => work(),
    }
    let mut out = Vec::new();
    out.try_reserve_exact(len).map_err(|_| Error::Alloc {
        func: "softgrad",
        bytes: len.saturating_mul(size_of::<R>()),
    })?;
    for slot in slots {
        // A slot left empty was skipped after an error, which a later slot holds.
        match slot.into_inner().unwrap_or_else(|e| e.into_inner()).1 {
            Some(r) => out.push(r?),
            None => continue,
        }
    }
    Ok(out)
}

/// How long the calling thread spins for the helpers' last tasks before it sleeps (until woken,
/// which costs tens of microseconds on a small VM): about one short task.
const SPIN: std::time::Duration = std::time::Duration::from_micros(50);

/// Spins until `ready()` or for [`SPIN`], whichever comes first.
fn spin_until(ready: impl Fn() -> bool) {
    let start = std::time::Instant::now();
    while !ready() {
        for _ in 0..64 {
            std::hint::spin_loop();
        }
        if start.elapsed() > SPIN {
            return;
        }
    }
}
