//! The one policy for running core code from a binding: [`guard`] around the whole binding body
//! (a panic anywhere becomes `softgrad.InternalError`), and [`EnterCore::enter_core`] around the
//! core call (GIL released, core errors mapped by [`core_err`], Ctrl-C honoured on long calls).
//!
//! **Ctrl-C.** Python runs signal handlers only on the main thread, and only when that thread runs
//! Python code. A long core call on the main thread therefore runs on a scoped worker thread while
//! the calling thread waits in short slices and checks for signals. When a handler raises (Ctrl-C:
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

/// Runs the job taken from its slot, catching a panic.
fn run<R>(job: Option<impl FnOnce() -> softgrad_core::Result<R>>) -> Caught<R> {
    catch_unwind(AssertUnwindSafe(|| match job {
        Some(f) => f(),
        None => unreachable!("the core call was taken twice"),
    }))
}

/// Runs `f` on a scoped worker while this thread (detached) checks for signals every [`POLL`]; on a
/// signal, asks the core to stop and waits for the worker. Returns the worker's outcome and the
/// signal handler's exception, if one was raised.
fn interruptible<R: Send>(
    f: impl FnOnce() -> softgrad_core::Result<R> + Send,
) -> (Caught<R>, Option<PyErr>) {
    // The job sits in a slot so that this thread can still run it if no thread can be spawned.
    let slot = Mutex::new(Some(f));
    let take = || slot.lock().unwrap_or_else(|e| e.into_inner()).take();
    thread::scope(|s| {
        let (tx, rx) = mpsc::sync_channel(1);
        let spawned = thread::Builder::new()
            .name("softgrad-call".into())
            .spawn_scoped(s, move || {
                let _ = tx.send(run(take()));
            });
        if spawned.is_err() {
            return (run(take()), None);
        }
        let mut signal = None;
        let res = loop {
            match rx.recv_timeout(POLL) {
                Ok(r) => break r,
                Err(RecvTimeoutError::Timeout) if signal.is_none() => {
                    // `try_attach`: during interpreter shutdown (a call from `__del__`) attaching
                    // is refused, and there are no signals to handle anyway.
                    if let Some(Err(e)) = Python::try_attach(|py| py.check_signals()) {
                        interrupt::request();
                        signal = Some(e);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    let lost: Box<dyn Any + Send> =
                        Box::new("the core call ended without a result");
                    break Err(lost);
                }
            }
        };
        if signal.is_some() {
            interrupt::clear();
        }
        (res, signal)
    })
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
