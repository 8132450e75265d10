//! A process-wide interrupt request (Ctrl-C), checked by the drivers between pieces of work.
//!
//! The bindings set it when the interpreter receives a signal during a long call; drivers then stop at
//! the next piece boundary and return [`Error::Interrupted`](crate::Error::Interrupted). Outputs are
//! then partly written, but inputs are never touched.

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Asks every running call to stop at its next piece boundary.
pub fn request() {
    REQUESTED.store(true, Ordering::Relaxed);
}

/// Withdraws the request (before a new call starts).
pub fn clear() {
    REQUESTED.store(false, Ordering::Relaxed);
}

/// Whether an interrupt was requested.
#[inline]
pub fn requested() -> bool {
    REQUESTED.load(Ordering::Relaxed)
}

/// `Err(Interrupted)` if an interrupt was requested.
#[inline]
pub fn check(func: &'static str) -> crate::Result<()> {
    if requested() {
        Err(crate::Error::Interrupted { func })
    } else {
        Ok(())
    }
}
