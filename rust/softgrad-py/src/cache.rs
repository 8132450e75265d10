//! A cache of large result buffers, so that a loop calling the same op on the same shapes reuses
//! memory instead of faulting in fresh pages each time.
//!
//! Why: a fresh NumPy array of 80 MB costs 15–17 ms of first-touch page faults on a small VM, more
//! than the kernel that fills it (a log-sum-exp pass over it takes ~6 ms), and glibc returns buffers
//! above 32 MB to the system on every `free`. XLA and PyTorch keep such buffers in a caching
//! allocator; this is the same idea, kept small: buffers of at least [`MIN_BYTES`] that a result array
//! no longer needs are kept (most recently freed first, up to a byte limit, `0` disabling it) and
//! handed out again for a request of exactly the same size. The arrays are ordinary NumPy arrays
//! whose `base` is a [`Buffer`] owning the memory.
//!
//! A reused buffer holds old values: only outputs that the kernel writes in full come from here. The
//! test suite sets [`configure`]'s `poison` so that every reused buffer is first filled with NaN bytes
//! and `min_bytes` to 0 so that every output goes through the cache: a kernel that left an element
//! unwritten would then return NaN there.
//!
//! The lock is only ever *tried*: a contended cache (or one left locked by a thread that did not
//! survive a `fork`) just means a fresh allocation or an immediate free.

use std::alloc::{alloc_zeroed, dealloc, Layout as AllocLayout};
use std::ptr::NonNull;
use std::sync::Mutex;

use numpy::npyffi::{self, npy_intp, NPY_ARRAY_CARRAY};
use numpy::{Element, PyArrayDescrMethods, PyArrayDyn, PY_ARRAY_API};
use pyo3::exceptions::PyMemoryError;
use pyo3::prelude::*;

use crate::call::{guard, EnterCore};
use crate::convert::{par, with_float, Floats, Out, Threads};

/// Buffers smaller than this are not cached (malloc recycles them without page faults).
pub const MIN_BYTES: usize = 1 << 20;

/// The default byte limit of the cache.
pub const DEFAULT_LIMIT: usize = 512 << 20;

/// Alignment of every buffer (a cache line; also the widest vector).
const ALIGN: usize = 64;

/// One heap allocation of `bytes` bytes, aligned to [`ALIGN`].
#[derive(Debug)]
struct Block {
    ptr: NonNull<u8>,
    bytes: usize,
}

// SAFETY: a `Block` owns its allocation exclusively; moving it between threads moves that ownership.
unsafe impl Send for Block {}
// SAFETY: `Block` has no interior mutability; the memory is only reached through the array that owns
// the `Buffer` (NumPy's rules) or through the cache under its lock.
unsafe impl Sync for Block {}

impl Block {
    fn layout(bytes: usize) -> Option<AllocLayout> {
        AllocLayout::from_size_align(bytes.max(1), ALIGN).ok()
    }

    /// A zeroed block (the allocator maps zero pages lazily for large sizes), or `None` if the
    /// allocator has no memory.
    fn fresh(bytes: usize) -> Option<Block> {
        let layout = Block::layout(bytes)?;
        // SAFETY: `layout` has a non-zero size.
        let ptr = NonNull::new(unsafe { alloc_zeroed(layout) })?;
        Some(Block { ptr, bytes })
    }

    fn free(self) {
        if let Some(layout) = Block::layout(self.bytes) {
            // SAFETY: `ptr` was allocated by `fresh` with this same layout and is freed once (the
            // block is consumed).
            unsafe { dealloc(self.ptr.as_ptr(), layout) }
        }
    }
}

/// The cache's state.
#[derive(Debug)]
struct Cache {
    /// Free blocks, the most recently freed last.
    free: Vec<Block>,
    /// Bytes in `free`.
    held: usize,
    /// At most this many bytes are kept.
    limit: usize,
    /// Smaller requests bypass the cache.
    min_bytes: usize,
    /// Fill reused blocks with `0xFF` bytes (NaN for floats): a test setting.
    poison: bool,
}

static CACHE: Mutex<Cache> = Mutex::new(Cache {
    free: Vec::new(),
    held: 0,
    limit: DEFAULT_LIMIT,
    min_bytes: MIN_BYTES,
    poison: false,
});

impl Cache {
    /// Drops the oldest blocks until at most `limit` bytes are held.
    fn trim(&mut self) {
        while self.held > self.limit && !self.free.is_empty() {
            let b = self.free.remove(0);
            self.held -= b.bytes;
            b.free();
        }
    }
}

/// A block of exactly `bytes` bytes: a cached one (old contents, or `0xFF` bytes when poisoning) if
/// there is one, else a fresh zeroed one.
fn take(bytes: usize) -> Option<Block> {
    if let Ok(mut c) = CACHE.try_lock() {
        if bytes >= c.min_bytes {
            if let Some(i) = c.free.iter().rposition(|b| b.bytes == bytes) {
                let b = c.free.remove(i);
                c.held -= b.bytes;
                if c.poison {
                    // SAFETY: the block owns `bytes` writable bytes.
                    unsafe { b.ptr.as_ptr().write_bytes(0xFF, bytes) };
                }
                return Some(b);
            }
        }
    }
    Block::fresh(bytes)
}

/// Returns `b` to the cache, or frees it.
fn give(b: Block) {
    match CACHE.try_lock() {
        Ok(mut c) if b.bytes >= c.min_bytes && b.bytes <= c.limit => {
            c.held += b.bytes;
            c.free.push(b);
            c.trim();
        }
        _ => b.free(),
    }
}

/// The owner of a cached buffer: the `base` of the arrays made by [`empty`]. Dropping it (when the
/// last array using the memory goes) hands the memory back to the cache.
#[pyclass(frozen, module = "softgrad._core")]
#[derive(Debug)]
pub struct Buffer(Option<Block>);

impl Drop for Buffer {
    fn drop(&mut self) {
        if let Some(b) = self.0.take() {
            give(b);
        }
    }
}

/// A 1-D C-contiguous array of `len` elements whose contents are unspecified (zeros, old values, or
/// NaN bytes under poisoning): for outputs the kernel writes in full. `MemoryError` naming `func`
/// and `name` if there is no memory.
pub fn empty<'py, T: Element>(
    py: Python<'py>,
    func: &str,
    name: &str,
    len: usize,
) -> PyResult<Bound<'py, PyArrayDyn<T>>> {
    let too_large = || PyMemoryError::new_err(format!("{func}: {name} is too large"));
    let bytes = len.checked_mul(size_of::<T>()).ok_or_else(too_large)?;
    let mut dims = [npy_intp::try_from(len).map_err(|_| too_large())?];
    let block = take(bytes).ok_or_else(|| {
        PyMemoryError::new_err(format!(
            "{func}: could not allocate {bytes} bytes for {name}"
        ))
    })?;
    let data = block.ptr.as_ptr();
    let owner = Bound::new(py, Buffer(Some(block)))?;
    // SAFETY: `data` points to `bytes = len * size_of::<T>()` bytes aligned to 64, owned by `owner`,
    // which becomes the array's base (the reference is stolen by `PyArray_SetBaseObject`, also on
    // its failure) and so outlives every view of the memory. `into_dtype_ptr` gives the new
    // descriptor reference that `PyArray_NewFromDescr` steals. NULL results carry an exception.
    unsafe {
        let arr = PY_ARRAY_API.PyArray_NewFromDescr(
            py,
            npyffi::get_type_object(py, npyffi::NpyTypes::PyArray_Type),
            T::get_dtype(py).into_dtype_ptr(),
            1,
            dims.as_mut_ptr(),
            std::ptr::null_mut(),
            data.cast(),
            NPY_ARRAY_CARRAY,
            std::ptr::null_mut(),
        );
        let arr = Bound::from_owned_ptr_or_err(py, arr)?;
        if PY_ARRAY_API.PyArray_SetBaseObject(py, arr.as_ptr().cast(), owner.into_ptr()) < 0 {
            return Err(PyErr::fetch(py));
        }
        Ok(arr.cast_into_unchecked())
    }
}

/// Sets the cache's limit, smallest cached size and poisoning (each `None` keeps its value) and
/// returns the previous `(limit, min_bytes, poison)`. A lower limit frees blocks at once.
pub fn configure(
    limit: Option<usize>,
    min_bytes: Option<usize>,
    poison: Option<bool>,
) -> (usize, usize, bool) {
    let mut c = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    let old = (c.limit, c.min_bytes, c.poison);
    c.limit = limit.unwrap_or(c.limit);
    c.min_bytes = min_bytes.unwrap_or(c.min_bytes);
    c.poison = poison.unwrap_or(c.poison);
    c.trim();
    old
}

/// `(bytes held, blocks held)`.
pub fn held() -> (usize, usize) {
    let c = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    (c.held, c.free.len())
}

/// Elements per piece of [`copy`] (512 KiB of `f64`).
const COPY_PIECE: usize = 1 << 16;

/// `copy(x, n_threads=None)`: a C-contiguous copy of the float array `x` in cached memory, made in
/// parallel with the GIL released (for the private residuals of derivative rules).
#[pyfunction]
#[pyo3(signature = (x, n_threads=None))]
pub fn copy<'py>(
    py: Python<'py>,
    x: Floats<'py>,
    n_threads: Option<Threads<'py>>,
) -> PyResult<Bound<'py, PyAny>> {
    const F: &str = "copy";
    let par = par(F, n_threads)?;
    with_float!(F, x, |xs: &[T]| {
        let mut out = Out::<T>::new(py, F, "out", xs.len())?;
        let dst = out.slice();
        py.enter_core(xs.len(), || {
            par.map_chunks_mut(F, dst, COPY_PIECE, |k, piece| {
                let start = k * COPY_PIECE;
                piece.copy_from_slice(&xs[start..start + piece.len()]);
            })
        })?;
        out.finish()
    })
}

/// `_buffer_cache(limit=None, min_bytes=None, poison=None) -> (limit, min_bytes, poison, held,
/// blocks)`: sets the cache's settings (each `None` keeps its value) and returns the previous
/// settings and what the cache holds now.
#[pyfunction]
#[pyo3(signature = (limit=None, min_bytes=None, poison=None))]
pub fn _buffer_cache(
    limit: Option<usize>,
    min_bytes: Option<usize>,
    poison: Option<bool>,
) -> PyResult<(usize, usize, bool, usize, usize)> {
    guard("_buffer_cache", || {
        let (l, m, p) = configure(limit, min_bytes, poison);
        let (h, n) = held();
        Ok((l, m, p, h, n))
    })
}
