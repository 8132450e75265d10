//! The one policy for running core code from a binding: [`guard`] around the whole binding body
//! (a panic anywhere becomes `softgrad.InternalError`), and [`EnterCore::enter_core`] around the
//! core call (GIL released, core errors mapped by [`core_err`], Ctrl-C honoured on long calls).
//!
//! **Ctrl-C.** Python runs signal handlers only on the main thread, and only when that thread runs
//! Python code. A long core call on the main thread therefore runs on a persistent worker thread
//! while the calling thread waits in short slices and checks for signals. When a handler raises (Ctrl-C:
//! `KeyboardInterrupt`), the core is asked to stop ([`interrupt::request`]); drivers return
//! `Error::Interrupted` at their next piece boundary. The call then raises the handler's exception.
//! Inputs are never written; outputs, including a caller's `out=`, may be partly written. The
//! request is process-wide, so a call running concurrently on another thread stops too (and raises
//! `KeyboardInterrupt` there).

use std::any::Any;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Mutex, OnceLock};
use std::thread::{self, ThreadId};
use std::time::Duration;

use pyo3::prelude::*;
use softgrad_core::interrupt;

use crate::errors::{core_err, panic_err};

/// Calls with less work than this (in elements) run on the calling thread: a thread hop costs tens
/// of microseconds, and such calls end in about a millisecond anyway.
pub const INTERRUPTIBLE_WORK: usize = 1 << 20;

/// How often the waiting thread checks for signals.
const POLL: Duration = Duration::from_millis(25);

/// The interpreter's main thread, recorded at import (unset if the import ran on another thread:
/// calls then simply do not hop).
static MAIN_THREAD: OnceLock<ThreadId> = OnceLock::new();

/// Records the main thread (at import).
pub fn init(py: Python<'_>) -> PyResult<()> {
    let threading = py.import("threading")?;
    let current = threading.call_method0("current_thread")?;
    if current.is(&threading.call_method0("main_thread")?) {
        let _ = MAIN_THREAD.set(thread::current().id());
    }
    Ok(())
}

/// Runs a binding body; a panic anywhere in it becomes [`InternalError`](crate::errors::InternalError)
/// naming `func` instead of pyo3's `PanicException`.
pub fn guard<R>(func: &str, body: impl FnOnce() -> PyResult<R>) -> PyResult<R> {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|p| Err(panic_err(func, &*p)))
}

/// Runs core code with the GIL released. Must run inside [`guard`] (every binding body does, through
/// [`with_float!`](crate::with_float)): a panic is re-raised on the calling thread for it to catch.
pub trait EnterCore {
    /// Runs `f` (about `work` elements of work) with the GIL released and maps its error.
    fn enter_core<R: Send>(
        self,
        work: usize,
        f: impl FnOnce() -> softgrad_core::Result<R> + Send,
    ) -> PyResult<R>;
}

impl EnterCore for Python<'_> {
    #[inline]
    fn enter_core<R: Send>(
        self,
        work: usize,
        f: impl FnOnce() -> softgrad_core::Result<R> + Send,
    ) -> PyResult<R> {
        if work < INTERRUPTIBLE_WORK || MAIN_THREAD.get() != Some(&thread::current().id()) {
            return self.detach(f).map_err(core_err);
        }
        let (res, signal) = self.detach(|| interruptible(f));
        if let Some(e) = signal {
            return Err(e);
        }
        match res {
            Ok(r) => r.map_err(core_err),
            Err(payload) => resume_unwind(payload),
        }
    }
}

type Caught<R> = thread::Result<softgrad_core::Result<R>>;

/// Runs the core call, catching a panic.
fn run<R>(f: impl FnOnce() -> softgrad_core::Result<R>) -> Caught<R> {
    catch_unwind(AssertUnwindSafe(f))
}

/// A job for the [`worker`] thread.
type Job = Box<dyn FnOnce() + Send + 'static>;

/// The persistent thread that runs the main thread's long core calls, and the process that owns it.
/// (A thread per call would be simpler, but creating one costs 0.3–2 ms on a small VM: measured
/// against a persistent thread that costs nothing.)
static WORKER: Mutex<Option<(u32, mpsc::Sender<Job>)>> = Mutex::new(None);

/// The worker's queue, the worker being started on first use and again after a `fork` (the child
/// inherits the parent's queue but not its thread). `None` if no thread can be started.
fn worker() -> Option<mpsc::Sender<Job>> {
    let mut w = WORKER.lock().unwrap_or_else(|e| e.into_inner());
    let pid = std::process::id();
    match w.take() {
        Some((p, tx)) if p == pid => {
            *w = Some((p, tx.clone()));
            return Some(tx);
        }
        // The parent's queue: nothing reads it in this process; leave it alone.
        Some(parents) => std::mem::forget(parents),
        None => {}
    }
    let (tx, rx) = mpsc::channel::<Job>();
    thread::Builder::new()
        .name("softgrad-call".into())
        .spawn(move || rx.into_iter().for_each(|job| job()))
        .ok()?;
    *w = Some((pid, tx.clone()));
    Some(tx)
}

/// Runs `f` on the [`worker`] thread while this thread (detached) checks for signals every
/// [`POLL`]; on a signal, asks the core to stop and waits for the worker. Returns the outcome and
/// the signal handler's exception, if one was raised.
fn interruptible<R: Send>(
    f: impl FnOnce() -> softgrad_core::Result<R> + Send,
) -> (Caught<R>, Option<PyErr>) {
    let Some(worker) = worker() else {
        return (run(f), None);
    };
    let (tx, rx) = mpsc::sync_channel(1);
    let job: Box<dyn FnOnce() + Send + '_> = Box::new(move || {
        let _ = tx.send(run(f));
    });
    // SAFETY: `job` borrows from the caller's frame (the argument slices). It is made `'static` to
    // cross to the persistent worker, and this function does not return, nor unwind, before the
    // worker is done with it: `rx` yields a value only once `f` has returned, and reports
    // `Disconnected` only once the job (holding `tx` and `f`) has been dropped, run or not. A panic
    // while waiting is held back until then.
    let job = unsafe { std::mem::transmute::<Box<dyn FnOnce() + Send + '_>, Job>(job) };
    if let Err(mpsc::SendError(job)) = worker.send(job) {
        job(); // the worker thread is gone: run here
    }
    match catch_unwind(AssertUnwindSafe(|| wait(&rx))) {
        Ok(done) => done,
        Err(payload) => {
            let _ = rx.recv();
            resume_unwind(payload)
        }
    }
}

/// Waits for the job's outcome on `rx`, checking for signals every [`POLL`] until one is raised.
fn wait<R>(rx: &mpsc::Receiver<Caught<R>>) -> (Caught<R>, Option<PyErr>) {
    let mut signal = None;
    let res = loop {
        match rx.recv_timeout(POLL) {
            Ok(r) => break r,
            Err(RecvTimeoutError::Timeout) if signal.is_none() => {
                // `try_attach`: during interpreter shutdown (a call from `__del__`) attaching is
                // refused, and there are no signals to handle anyway.
                if let Some(Err(e)) = Python::try_attach(|py| py.check_signals()) {
                    interrupt::request();
                    signal = Some(e);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                let lost: Box<dyn Any + Send> = Box::new("the core call was dropped unrun");
                break Err(lost);
            }
        }
    };
    if signal.is_some() {
        interrupt::clear();
    }
    (res, signal)
}

/// Test hook (`_core._panic`): panics in a binding body (`"body"`), in a core call on the calling
/// thread (`"core"`) or, from the main thread, on the worker thread (`"worker"`), so that the tests
/// can check that each becomes `softgrad.InternalError`.
#[pyfunction]
#[pyo3(name = "_panic")]
pub fn panic_for_tests(py: Python<'_>, place: &str) -> PyResult<()> {
    guard("_panic", || -> PyResult<()> {
        let work = match place {
            "body" => panic!("test panic in the body"),
            "core" => 0,
            _ => usize::MAX,
        };
        py.enter_core(work, || -> softgrad_core::Result<()> {
            panic!("test panic in the core ({work})")
        })
    })
}
