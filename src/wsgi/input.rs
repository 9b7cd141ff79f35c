//! wsgi.input: the request body as a file-like object, read through the
//! exchange with the GIL released. Apache's input filters underneath
//! de-chunk, enforce LimitRequestBody and answer `Expect: 100-continue`,
//! in embedded and in daemon mode alike.

use std::mem::MaybeUninit;
use std::sync::Mutex;

use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;
use pyo3::sync::MutexExt;
use pyo3::types::PyBytes;

use rwsgi_wire::lines::LineBuffer;

use super::exchange::{BodyError, Ended, SharedExchange};
use super::request_ended;

/// How much is asked of Apache per read.
const READ_SIZE: usize = 64 * 1024;

/// The longest line readline() without a size (and iteration) returns. A
/// longer line comes back in pieces of this size, so a body without
/// newlines is never buffered whole; joined, the pieces are the line.
pub const MAX_LINE: usize = 1024 * 1024;

#[pyclass(frozen, module = "mod_rwsgi", name = "Input")]
pub struct Input {
    exchange: SharedExchange,
    state: Mutex<Buffered>,
}

struct Buffered {
    /// Body bytes read from Apache but not yet returned to the app.
    lines: LineBuffer,
    /// A read from Apache failed: every later read fails too.
    failed: bool,
}

impl Input {
    pub fn new(exchange: SharedExchange) -> Self {
        Self {
            exchange,
            state: Mutex::new(Buffered {
                lines: LineBuffer::new(READ_SIZE),
                failed: false,
            }),
        }
    }

    /// One read from Apache into `target`, with the GIL released; 0 at the
    /// end of the body.
    fn read_some(&self, py: Python<'_>, failed: &mut bool, target: &mut [u8]) -> PyResult<usize> {
        if *failed {
            return Err(read_error());
        }
        // SAFETY: initialised bytes are valid MaybeUninit bytes, and
        // read_body writes only initialised bytes into them.
        let target = unsafe { &mut *(std::ptr::from_mut(target) as *mut [MaybeUninit<u8>]) };
        let exchange = &self.exchange;
        checked_read(py.detach(|| exchange.with(|e| e.read_body(target))), failed)
    }

    /// read(n) for a large n (or read() of all) of a body whose length is
    /// known: Apache writes straight into the new `bytes`, with the GIL
    /// released once for the whole read. None when the buffered path suits
    /// better (small reads, chunked bodies).
    fn read_direct<'py>(
        &self,
        py: Python<'py>,
        state: &mut Buffered,
        wanted: Option<usize>,
    ) -> Option<PyResult<Bound<'py, PyBytes>>> {
        if state.lines.is_eof() || state.failed {
            return None;
        }
        let remaining = self.exchange.with(|e| e.body_remaining()).ok().flatten()?;
        let buffered = state.lines.available().len();
        let more = wanted.map_or(usize::MAX, |w| w.saturating_sub(buffered));
        let more = more.min(usize::try_from(remaining).unwrap_or(usize::MAX));
        if more < READ_SIZE {
            return None;
        }
        let total = buffered + more;
        let mut bytes = match UninitBytes::new(py, total) {
            Ok(bytes) => bytes,
            Err(error) => return Some(Err(error)),
        };
        let buf = bytes.buffer();
        for (slot, &byte) in buf.iter_mut().zip(state.lines.available()) {
            slot.write(byte);
        }
        let target = &mut buf[buffered..];
        let exchange = &self.exchange;
        // Until `target` is full or the body ends: (bytes read, at the end).
        let result = py.detach(|| exchange.with(|e| e.read_body_fully(target)));
        state.lines.clear();
        let (read, eof) = match checked_read(result, &mut state.failed) {
            Ok(outcome) => outcome,
            Err(error) => return Some(Err(error)),
        };
        if eof {
            state.lines.set_eof();
        }
        let got = buffered + read;
        // SAFETY: the buffered bytes and the `read` bytes Apache wrote after
        // them are the first `got` bytes, all written.
        Some(Ok(unsafe { bytes.assume_init(got) }))
    }

    fn read_line<'py>(&self, py: Python<'py>, limit: usize) -> PyResult<Bound<'py, PyBytes>> {
        let mut state = self
            .state
            .lock_py_attached(py)
            .unwrap_or_else(|e| e.into_inner());
        let Buffered { lines, failed } = &mut *state;
        let line = lines.read_line(limit, |target| self.read_some(py, failed, target))?;
        Ok(PyBytes::new(py, line))
    }
}

/// A new `bytes` whose contents are not yet written: the body is read
/// straight into it, without zeroing a megabyte first. It reaches Python
/// only through `assume_init`.
struct UninitBytes<'py> {
    object: Bound<'py, PyBytes>,
    len: usize,
}

impl<'py> UninitBytes<'py> {
    /// `len` is at least 2: CPython hands out one shared object for the
    /// empty bytes, which must never be written into.
    fn new(py: Python<'py>, len: usize) -> PyResult<Self> {
        assert!(len >= 2, "UninitBytes of {len} bytes");
        let size = isize::try_from(len).map_err(|_| PyOSError::new_err("body too large"))?;
        // SAFETY: with a NULL source and a size of 2 or more, CPython
        // allocates a new object of `size` bytes (plus the terminating NUL)
        // and leaves them for the caller to fill; the result is a new
        // reference or NULL with an exception set.
        let object = unsafe {
            let raw = pyo3::ffi::PyBytes_FromStringAndSize(std::ptr::null(), size);
            Bound::from_owned_ptr_or_err(py, raw)?.cast_into_unchecked::<PyBytes>()
        };
        Ok(Self { object, len })
    }

    fn buffer(&mut self) -> &mut [MaybeUninit<u8>] {
        // SAFETY: the object is ours alone (not yet shared with Python) and
        // holds `len` writable bytes at PyBytes_AsString.
        unsafe {
            let data = pyo3::ffi::PyBytes_AsString(self.object.as_ptr());
            std::slice::from_raw_parts_mut(data.cast::<MaybeUninit<u8>>(), self.len)
        }
    }

    /// The `bytes` holding the first `written` bytes: this object when
    /// every byte was written, else a copy of the written ones.
    ///
    /// # Safety
    /// The first `written` bytes of `buffer()` must have been written.
    unsafe fn assume_init(mut self, written: usize) -> Bound<'py, PyBytes> {
        if written >= self.len {
            return self.object;
        }
        // Shorter than announced (the client went away cleanly): the bytes
        // that came.
        let py = self.object.py();
        let buffer = self.buffer();
        // SAFETY: the caller wrote the first `written` bytes.
        let written = unsafe { std::slice::from_raw_parts(buffer.as_ptr().cast::<u8>(), written) };
        PyBytes::new(py, written)
    }
}

/// What a read from Apache gives the app: a failed body read makes every
/// later read fail too (`failed`), an ended request is a RuntimeError.
fn checked_read<T>(result: Result<Result<T, BodyError>, Ended>, failed: &mut bool) -> PyResult<T> {
    match result {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(BodyError)) => {
            *failed = true;
            Err(read_error())
        }
        Err(Ended) => Err(request_ended("wsgi.input")),
    }
}

fn read_error() -> PyErr {
    PyOSError::new_err(
        "mod_rwsgi: the request body could not be read (the client disconnected or timed out, or the body is larger than LimitRequestBody)",
    )
}

/// A negative or absent size means "no limit", as for Python's files.
fn limit(size: Option<isize>) -> Option<usize> {
    size.and_then(|size| usize::try_from(size).ok())
}

#[pymethods]
impl Input {
    #[pyo3(signature = (size = None))]
    fn read<'py>(&self, py: Python<'py>, size: Option<isize>) -> PyResult<Bound<'py, PyBytes>> {
        let mut state = self
            .state
            .lock_py_attached(py)
            .unwrap_or_else(|e| e.into_inner());
        let wanted = limit(size);
        if let Some(direct) = self.read_direct(py, &mut state, wanted) {
            return direct;
        }
        let Buffered { lines, failed } = &mut *state;
        let bytes = lines.read(wanted, |target| self.read_some(py, failed, target))?;
        Ok(PyBytes::new(py, bytes))
    }

    #[pyo3(signature = (size = None))]
    fn readline<'py>(&self, py: Python<'py>, size: Option<isize>) -> PyResult<Bound<'py, PyBytes>> {
        self.read_line(py, limit(size).unwrap_or(MAX_LINE))
    }

    #[pyo3(signature = (hint = None))]
    fn readlines<'py>(
        &self,
        py: Python<'py>,
        hint: Option<isize>,
    ) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        let hint = limit(hint).filter(|&hint| hint > 0);
        let mut lines = Vec::new();
        let mut total = 0;
        loop {
            let line = self.read_line(py, MAX_LINE)?;
            if line.as_bytes().is_empty() {
                break;
            }
            total += line.as_bytes().len();
            lines.push(line);
            if hint.is_some_and(|hint| total >= hint) {
                break;
            }
        }
        Ok(lines)
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let line = self.read_line(py, MAX_LINE)?;
        Ok((!line.as_bytes().is_empty()).then_some(line))
    }
}
