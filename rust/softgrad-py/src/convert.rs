//! Typed extraction of binding arguments: float arrays ([`Floats`] → [`Input`]), outputs ([`Out`]),
//! the `(outer, n, inner)` [`Layout`] and thread counts ([`Threads`]), plus the dtype dispatch
//! ([`with_float!`](crate::with_float)).
//!
//! Array and thread-count checks run in the binding body rather than in pyo3's extraction, because
//! only the body knows the function's name: every `TypeError` / `ValueError` names the function and
//! the argument. Arrays may be unaligned or read-only (copied once to an aligned array); they must be
//! C-contiguous.

use numpy::npyffi::{PyArrayObject, NPY_ORDER};
use numpy::{
    BorrowError, Element, PyArrayDescrMethods, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn,
    PyReadwriteArrayDyn, PyUntypedArrayMethods, PY_ARRAY_API,
};
use pyo3::exceptions::{PyMemoryError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyInt};
use softgrad_core::Layout as CoreLayout;
use softgrad_core::Par;

use crate::errors::core_err;

pub use softgrad_core::par::MAX_THREADS;

/// A float32 or float64 array argument, or whatever else the caller passed. Extraction never fails:
/// [`with_float!`](crate::with_float) and [`Floats::of`] check it in the body, naming the function.
#[derive(Debug)]
pub enum Floats<'py> {
    /// A float64 ndarray (any layout, checked later).
    F64(Bound<'py, PyArrayDyn<f64>>),
    /// A float32 ndarray.
    F32(Bound<'py, PyArrayDyn<f32>>),
    /// Anything else: rejected with a `TypeError` when used.
    Other(Bound<'py, PyAny>),
}

impl<'a, 'py> FromPyObject<'a, 'py> for Floats<'py> {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        Ok(if let Ok(a) = obj.cast::<PyArrayDyn<f64>>() {
            Floats::F64(a.to_owned())
        } else if let Ok(a) = obj.cast::<PyArrayDyn<f32>>() {
            Floats::F32(a.to_owned())
        } else {
            Floats::Other(obj.to_owned())
        })
    }
}

/// The two element types of the bindings.
pub trait Float: Element + Copy {
    /// NumPy's name of the dtype, for messages.
    const DTYPE: &'static str;
    /// The array if `a` has this dtype, else `a` back.
    fn pick(a: Floats<'_>) -> Result<Bound<'_, PyArrayDyn<Self>>, Floats<'_>>;
}

impl Float for f64 {
    const DTYPE: &'static str = "float64";
    fn pick(a: Floats<'_>) -> Result<Bound<'_, PyArrayDyn<f64>>, Floats<'_>> {
        match a {
            Floats::F64(a) => Ok(a),
            other => Err(other),
        }
    }
}

impl Float for f32 {
    const DTYPE: &'static str = "float32";
    fn pick(a: Floats<'_>) -> Result<Bound<'_, PyArrayDyn<f32>>, Floats<'_>> {
        match a {
            Floats::F32(a) => Ok(a),
            other => Err(other),
        }
    }
}

impl<'py> Floats<'py> {
    /// The argument as a read-only `T` array, or `TypeError` naming `func` and `name`.
    pub fn of<T: Float>(self, func: &str, name: &str) -> PyResult<Input<'py, T>> {
        match T::pick(self) {
            Ok(a) => Input::new(func, name, a),
            Err(other) => Err(other.wrong_dtype(func, name, T::DTYPE)),
        }
    }

    /// `TypeError`: `func: name must be a <want> ndarray, got <what it is>`.
    pub fn wrong_dtype(&self, func: &str, name: &str, want: &str) -> PyErr {
        let got = match self {
            Floats::F64(_) => "float64".to_string(),
            Floats::F32(_) => "float32".to_string(),
            Floats::Other(o) => match o.getattr("dtype") {
                Ok(d) => d.to_string(),
                Err(_) => o.get_type().to_string(),
            },
        };
        PyTypeError::new_err(format!(
            "{func}: {name} must be a {want} ndarray, got {got}"
        ))
    }
}

/// A C-contiguous, aligned, read-only view of an array argument (a private aligned copy if the
/// caller's array was unaligned).
#[derive(Debug)]
pub struct Input<'py, T: Element>(PyReadonlyArrayDyn<'py, T>);

impl<'py, T: Element> Input<'py, T> {
    /// Checks `a` (C-contiguous) and copies it if it is unaligned.
    pub fn new(func: &str, name: &str, a: Bound<'py, PyArrayDyn<T>>) -> PyResult<Self> {
        if !a.is_c_contiguous() {
            return Err(PyTypeError::new_err(format!(
                "{func}: {name} must be C-contiguous"
            )));
        }
        let a = if a.is_aligned() {
            a
        } else {
            aligned_copy(func, name, &a)?
        };
        let ro = a.try_readonly().map_err(|e| borrow_error(func, name, e))?;
        Ok(Input(ro))
    }

    /// The elements. (Contiguity and alignment were checked in [`Input::new`], so the view always
    /// exists; the empty fallback would only make the core report a length mismatch.)
    pub fn slice(&self) -> &[T] {
        self.0.as_slice().unwrap_or_default()
    }
}

/// An output array: the caller's `out=` (checked) or a fresh NumPy array. If the caller's array is
/// unaligned, the kernel writes an aligned temporary that [`Out::finish`] copies back.
#[derive(Debug)]
pub struct Out<'py, T: Element> {
    /// The array the kernel writes.
    rw: PyReadwriteArrayDyn<'py, T>,
    /// The caller's unaligned array (borrowed for the duration of the call), if `rw` is its stand-in.
    caller: Option<PyReadwriteArrayDyn<'py, T>>,
}

impl<'py, T: Float> Out<'py, T> {
    /// A fresh array of `len` elements for the kernel to write in full (from the
    /// [buffer cache](crate::cache): its contents are unspecified); `MemoryError` naming `func` and
    /// `name` if it cannot be allocated.
    pub fn new(py: Python<'py>, func: &str, name: &str, len: usize) -> PyResult<Self> {
        let rw = writable(func, name, &crate::cache::empty::<T>(py, func, name, len)?)?;
        Ok(Out { rw, caller: None })
    }

    /// The caller's array `given` if any (dtype `T`, C-contiguous, writeable, `len` elements, not
    /// overlapping another array argument).
    pub fn given(
        func: &str,
        name: &str,
        given: Option<Floats<'py>>,
        len: usize,
    ) -> PyResult<Option<Self>> {
        let Some(given) = given else { return Ok(None) };
        let a = T::pick(given).map_err(|o| o.wrong_dtype(func, name, T::DTYPE))?;
        if !a.is_c_contiguous() {
            return Err(PyTypeError::new_err(format!(
                "{func}: {name} must be C-contiguous"
            )));
        }
        if a.len() != len {
            return Err(PyValueError::new_err(format!(
                "{func}: {name} has {} elements, expected {len}",
                a.len()
            )));
        }
        let rw = writable(func, name, &a)?;
        Ok(Some(if a.is_aligned() {
            Out { rw, caller: None }
        } else {
            let tmp = writable(func, name, &zeros::<T>(a.py(), func, name, len)?)?;
            Out {
                rw: tmp,
                caller: Some(rw),
            }
        }))
    }

    /// The caller's array `given`, else a fresh one.
    pub fn given_or_new(
        py: Python<'py>,
        func: &str,
        name: &str,
        given: Option<Floats<'py>>,
        len: usize,
    ) -> PyResult<Self> {
        match Self::given(func, name, given, len)? {
            Some(o) => Ok(o),
            None => Self::new(py, func, name, len),
        }
    }

    /// The elements, for the kernel to write (see [`Input::slice`] for why this cannot fail).
    pub fn slice(&mut self) -> &mut [T] {
        self.rw.as_slice_mut().unwrap_or_default()
    }

    /// The array holding the result: the caller's (after copying back from the aligned temporary if
    /// it was unaligned) or the fresh one.
    pub fn finish(self) -> PyResult<Bound<'py, PyAny>> {
        let written: Bound<'py, PyArrayDyn<T>> = (**self.rw).clone();
        drop(self.rw);
        match self.caller {
            Some(caller) => {
                let c: Bound<'py, PyArrayDyn<T>> = (**caller).clone();
                drop(caller);
                written.copy_to(&c)?;
                Ok(c.into_any())
            }
            None => Ok(written.into_any()),
        }
    }
}

/// A write borrow of `a`, or `ValueError` naming `func` and `name` (read-only, or overlapping
/// another array argument of the call).
fn writable<'py, T: Element>(
    func: &str,
    name: &str,
    a: &Bound<'py, PyArrayDyn<T>>,
) -> PyResult<PyReadwriteArrayDyn<'py, T>> {
    a.try_readwrite().map_err(|e| borrow_error(func, name, e))
}

/// `ValueError` naming `func` and `name` for an array that cannot be borrowed: read-only (for an
/// output), or in use: written by another argument of this call or by a call running on another
/// thread (rust-numpy tracks borrows across threads; "already borrowed" alone names neither).
fn borrow_error(func: &str, name: &str, e: BorrowError) -> PyErr {
    PyValueError::new_err(match e {
        BorrowError::NotWriteable => format!("{func}: {name} is read-only"),
        _ => format!(
            "{func}: {name} is in use: it overlaps another array argument of this call, or a call \
             on another thread is using it (give each thread its own arrays to write)"
        ),
    })
}

/// A zeroed 1-D array of `len` elements allocated by NumPy (whose allocator asks for huge pages on
/// large buffers: first-touch faults on a big `Vec` cost more than the kernels themselves). Unlike
/// `PyArray::zeros`, a failed allocation is a `MemoryError`, not a panic.
fn zeros<'py, T: Float>(
    py: Python<'py>,
    func: &str,
    name: &str,
    len: usize,
) -> PyResult<Bound<'py, PyArrayDyn<T>>> {
    let mut dims = [numpy::npyffi::npy_intp::try_from(len)
        .map_err(|_| PyMemoryError::new_err(format!("{func}: {name} is too large")))?];
    // SAFETY: `dims` holds one dimension; `into_dtype_ptr` gives the new descriptor reference that
    // `PyArray_Zeros` steals. The result is a new reference or NULL with an exception set.
    let arr = unsafe {
        let ptr = PY_ARRAY_API.PyArray_Zeros(
            py,
            1,
            dims.as_mut_ptr(),
            T::get_dtype(py).into_dtype_ptr(),
            0,
        );
        Bound::from_owned_ptr_or_err(py, ptr)
    };
    let arr = arr.map_err(|e| alloc_error(py, func, name, len * size_of::<T>(), e))?;
    Ok(arr.cast_into::<PyArrayDyn<T>>()?)
}

/// A C-contiguous, aligned copy of `a` (for unaligned inputs).
fn aligned_copy<'py, T: Element>(
    func: &str,
    name: &str,
    a: &Bound<'py, PyArrayDyn<T>>,
) -> PyResult<Bound<'py, PyArrayDyn<T>>> {
    let py = a.py();
    // SAFETY: `a` is a live ndarray; the result is a new reference or NULL with an exception set.
    let copy = unsafe {
        let ptr = PY_ARRAY_API.PyArray_NewCopy(
            py,
            a.as_ptr().cast::<PyArrayObject>(),
            NPY_ORDER::NPY_CORDER,
        );
        Bound::from_owned_ptr_or_err(py, ptr)
    };
    let copy = copy.map_err(|e| alloc_error(py, func, name, a.len() * size_of::<T>(), e))?;
    Ok(copy.cast_into::<PyArrayDyn<T>>()?)
}

/// `MemoryError` naming the function and the array (the original NumPy error as its cause).
fn alloc_error(py: Python<'_>, func: &str, name: &str, bytes: usize, cause: PyErr) -> PyErr {
    if !cause.is_instance_of::<PyMemoryError>(py) {
        return cause;
    }
    let e = PyMemoryError::new_err(format!(
        "{func}: could not allocate {bytes} bytes for {name}"
    ));
    e.set_cause(py, Some(cause));
    e
}

/// The `layout` argument: a tuple `(outer, n, inner)` of ints >= 0, the core's view of an array
/// reduced over its middle axis.
#[derive(Debug, Clone, Copy)]
pub struct Layout(pub CoreLayout);

impl<'a, 'py> FromPyObject<'a, 'py> for Layout {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        match obj.extract::<(usize, usize, usize)>() {
            Ok((outer, n, inner)) => Ok(Layout(CoreLayout::new(outer, n, inner))),
            Err(_) => Err(PyTypeError::new_err(format!(
                "layout must be a tuple (outer, n, inner) of ints >= 0, got {}",
                obj.repr().map(|r| r.to_string()).unwrap_or_default()
            ))),
        }
    }
}

/// A thread-count argument, checked by [`par`] / [`Threads::count`] in the body (which names the
/// function): an int in `1..=MAX_THREADS`; `True`/`False` are refused.
#[derive(Debug)]
pub struct Threads<'py>(Bound<'py, PyAny>);

impl<'a, 'py> FromPyObject<'a, 'py> for Threads<'py> {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        Ok(Threads(obj.to_owned()))
    }
}

impl Threads<'_> {
    /// The count, or `TypeError` (not an int, or a bool) / `ValueError` (outside `lo..=MAX_THREADS`).
    pub fn count(&self, func: &str, name: &str, lo: usize) -> PyResult<usize> {
        let v = &self.0;
        let range = || format!("{func}: {name} must be in {lo}..={MAX_THREADS}, got {v}");
        if v.is_instance_of::<PyBool>() {
            return Err(PyTypeError::new_err(format!(
                "{func}: {name} must be an int, got {v}"
            )));
        }
        match v.extract::<i64>() {
            Ok(n) if n >= lo as i64 && n <= MAX_THREADS as i64 => Ok(n as usize),
            Ok(_) => Err(PyValueError::new_err(range())),
            Err(_) if v.is_instance_of::<PyInt>() => Err(PyValueError::new_err(range())),
            Err(_) => Err(PyTypeError::new_err(format!(
                "{func}: {name} must be an int or None, got {}",
                v.get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            ))),
        }
    }
}

/// `n_threads` → [`Par`]: `None` takes the default, else an int in `1..=MAX_THREADS`.
pub fn par(func: &str, n_threads: Option<Threads<'_>>) -> PyResult<Par> {
    let n = n_threads
        .map(|t| t.count(func, "n_threads", 1))
        .transpose()?;
    Par::from_threads(n).map_err(core_err)
}

/// Makes NumPy's C-API and rust-numpy's borrow-checking capsules resident, at import: loading them
/// lazily would fail (with a panic inside rust-numpy) in a call made during interpreter shutdown,
/// when imports are no longer possible (e.g. from a `__del__`).
pub fn warm_up(py: Python<'_>) -> PyResult<()> {
    let a = zeros::<f64>(py, "softgrad", "warm-up", 1)?;
    let _ = a.try_readonly();
    let _ = a.try_readwrite();
    let _ = a.cast::<PyArrayDyn<f32>>();
    Ok(())
}

/// Runs `$body` with `$T` the element type of the array argument `$x` and `$xs: &[$T]` its elements,
/// under [`guard`](crate::call::guard) (a panic anywhere becomes `softgrad.InternalError`). Another
/// dtype is a `TypeError` naming `$func` and the argument.
macro_rules! with_float {
    ($func:expr, $x:ident, |$xs:ident: &[$T:ident]| $body:expr) => {
        $crate::call::guard($func, move || match $x {
            $crate::convert::Floats::F64(a) => {
                #[allow(dead_code)]
                type $T = f64;
                let input = $crate::convert::Input::<$T>::new($func, stringify!($x), a)?;
                let $xs: &[$T] = input.slice();
                $body
            }
            $crate::convert::Floats::F32(a) => {
                #[allow(dead_code)]
                type $T = f32;
                let input = $crate::convert::Input::<$T>::new($func, stringify!($x), a)?;
                let $xs: &[$T] = input.slice();
                $body
            }
            other => Err(other.wrong_dtype($func, stringify!($x), "float32 or float64")),
        })
    };
}
pub(crate) use with_float;
