//! The one error type of the core. Bindings map each variant to a Python exception.

/// Everything that can go wrong in a core call.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// A scalar parameter is out of its domain (maps to `ValueError`).
    #[error("{func}: {name} {msg}")]
    InvalidParameter {
        /// The public function that rejected the call.
        func: &'static str,
        /// The offending argument.
        name: &'static str,
        /// What is wrong with it, including the value received.
        msg: String,
    },
    /// Array lengths do not agree with the declared shape (maps to `ValueError`).
    #[error("{func}: {name} has length {got}, expected {expected}")]
    Shape {
        /// The public function that rejected the call.
        func: &'static str,
        /// The offending argument.
        name: &'static str,
        /// Length received.
        got: usize,
        /// Length required by the other arguments.
        expected: usize,
    },
    /// Memory for a result or a scratch buffer could not be allocated (maps to `MemoryError`).
    #[error("{func}: could not allocate {bytes} bytes")]
    Alloc {
        /// The public function that needed the memory.
        func: &'static str,
        /// Bytes requested.
        bytes: usize,
    },
    /// The call was interrupted (Ctrl-C) between two pieces of work (maps to `KeyboardInterrupt`).
    #[error("{func}: interrupted")]
    Interrupted {
        /// The public function that was interrupted.
        func: &'static str,
    },
    /// A factorisation met a pivot it cannot use (maps to `softgrad.SoftgradError`).
    #[error("{func}: breakdown at row {row} (pivot {pivot})")]
    Breakdown {
        /// The public function that failed.
        func: &'static str,
        /// The row whose pivot failed.
        row: usize,
        /// The pivot met.
        pivot: f64,
    },
    /// A linear operator returned NaN or infinity (maps to `softgrad.SoftgradError`).
    #[error("{func}: {name} returned a non-finite value (NaN or inf)")]
    NonFinite {
        /// The public function that called the operator.
        func: &'static str,
        /// The operator, as the caller named it (`matvec`, `M`).
        name: &'static str,
    },
    /// A linear operator failed (a Python callback raised: the bindings re-raise its exception).
    #[error("{func}: {name} failed")]
    Operator {
        /// The public function that called the operator.
        func: &'static str,
        /// The operator, as the caller named it.
        name: &'static str,
    },
    /// A thread pool could not be built (maps to `softgrad.SoftgradError`).
    #[error("could not build a thread pool with {threads} threads: {msg}")]
    ThreadPool {
        /// Threads requested.
        threads: usize,
        /// The reason given by rayon.
        msg: String,
    },
}

/// Result with the core [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Shorthand for [`Error::InvalidParameter`].
    pub fn param(func: &'static str, name: &'static str, msg: impl Into<String>) -> Self {
        Error::InvalidParameter {
            func,
            name,
            msg: msg.into(),
        }
    }

    /// Fails with [`Error::Shape`] unless `got == expected`.
    pub fn check_len(
        func: &'static str,
        name: &'static str,
        got: usize,
        expected: usize,
    ) -> Result<()> {
        if got == expected {
            Ok(())
        } else {
            Err(Error::Shape {
                func,
                name,
                got,
                expected,
            })
        }
    }
}
