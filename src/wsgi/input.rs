//! wsgi.input: the request body as a file-like object, read from Apache's
//! input filters (which de-chunk, enforce LimitRequestBody and answer
//! `Expect: 100-continue`) with the GIL released.

use std::sync::Mutex;

use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;
use pyo3::sync::MutexExt;
use pyo3::types::PyBytes;

use rwsgi_wire::lines::LineBuffer;

use super::request_ended;
use crate::apache::SharedRequest;

/// How much is asked of Apache per read.
const READ_SIZE: usize = 64 * 1024;

/// The longest line readline() without a size (and iteration) returns. A
/// longer line comes back in pieces of this size, so a body without
/// newlines is never buffered whole; joined, the pieces are the line.
pub const MAX_LINE: usize = 1024 * 1024;

#[pyclass(frozen, module = "mod_rwsgi", name = "Input")]
pub struct Input {
    request: SharedRequest,
    state: Mutex<Buffered>,
}

struct Buffered {
    /// Body bytes read from Apache but not yet returned to the app.
    lines: LineBuffer,
    /// A read from Apache failed: every later read fails too.
    failed: bool,
}

impl Input {
    pub fn new(request: SharedRequest) -> Self {
        Self {
            request,
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
        let request = &self.request;
        match py.detach(|| request.with(|r| r.read_body(target))) {
            Ok(Ok(n)) => Ok(n),
            Ok(Err(_)) => {
                *failed = true;
                Err(read_error())
            }
            Err(_) => Err(request_ended("wsgi.input")),
        }
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
        let remaining = self.request.with(|r| r.body_remaining()).ok().flatten()?;
        let buffered = state.lines.available().len();
        let more = wanted.map_or(usize::MAX, |w| w.saturating_sub(buffered));
        let more = more.min(usize::try_from(remaining).unwrap_or(usize::MAX));
        if more < READ_SIZE {
            return None;
        }
        let total = buffered + more;
        let (mut got, mut outcome) = (buffered, Ok(()));
        let request = &self.request;
        let bytes = PyBytes::new_with(py, total, |buf| {
            buf[..buffered].copy_from_slice(state.lines.available());
            let target = &mut buf[buffered..];
            let (read, result) = py.detach(|| {
                let mut read = 0;
                let result = request.with(|r| {
                    while read < target.len() {
                        match r.read_body(&mut target[read..]) {
                            Ok(0) => return Ok(true),
                            Ok(n) => read += n,
                            Err(_) => return Err(()),
                        }
                    }
                    Ok(false)
                });
                (read, result)
            });
            got += read;
            outcome = match result {
                Ok(Ok(eof)) => {
                    if eof {
                        state.lines.set_eof();
                    }
                    Ok(())
                }
                Ok(Err(())) => {
                    state.failed = true;
                    Err(read_error())
                }
                Err(_) => Err(request_ended("wsgi.input")),
            };
            Ok(())
        });
        state.lines.clear();
        Some(bytes.and_then(|bytes| {
            outcome?;
            // Shorter than announced (the client went away cleanly): the
            // bytes that came.
            Ok(if got == total {
                bytes
            } else {
                PyBytes::new(py, &bytes.as_bytes()[..got])
            })
        }))
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
