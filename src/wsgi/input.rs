//! wsgi.input: the request body as a file-like object, read from Apache's
//! input filters (which de-chunk, enforce LimitRequestBody and answer
//! `Expect: 100-continue`) with the GIL released.

use std::sync::Mutex;

use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;
use pyo3::sync::MutexExt;
use pyo3::types::PyBytes;

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

/// Body bytes read from Apache but not yet returned to the app.
#[derive(Default)]
struct Buffered {
    data: Vec<u8>,
    start: usize,
    eof: bool,
    failed: bool,
}

impl Buffered {
    fn available(&self) -> &[u8] {
        &self.data[self.start..]
    }

    /// The next `n` buffered bytes (or fewer, at the end) as one `bytes`,
    /// copied once, straight from the buffer.
    fn take<'py>(&mut self, py: Python<'py>, n: usize) -> Bound<'py, PyBytes> {
        let n = n.min(self.available().len());
        let taken = PyBytes::new(py, &self.data[self.start..self.start + n]);
        self.start += n;
        taken
    }
}

impl Input {
    pub fn new(request: SharedRequest) -> Self {
        Self {
            request,
            state: Mutex::new(Buffered::default()),
        }
    }

    /// Reads one more piece from Apache into the buffer; false at the end.
    fn fill(&self, py: Python<'_>, state: &mut Buffered) -> PyResult<bool> {
        if state.failed {
            return Err(read_error());
        }
        if state.eof {
            return Ok(false);
        }
        if state.start > 0 {
            state.data.drain(..state.start);
            state.start = 0;
        }
        let old_len = state.data.len();
        state.data.resize(old_len + READ_SIZE, 0);
        let target = &mut state.data[old_len..];
        let request = &self.request;
        let read = py.detach(|| request.with(|r| r.read_body(target)));
        let got = match read {
            Ok(Ok(n)) => n,
            Ok(Err(_)) => {
                state.data.truncate(old_len);
                state.failed = true;
                return Err(read_error());
            }
            Err(_) => {
                state.data.truncate(old_len);
                return Err(request_ended("wsgi.input"));
            }
        };
        state.data.truncate(old_len + got);
        state.eof = got == 0;
        Ok(got > 0)
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
        if state.eof || state.failed {
            return None;
        }
        let remaining = self.request.with(|r| r.body_remaining()).ok().flatten()?;
        let buffered = state.available().len();
        let more = wanted.map_or(usize::MAX, |w| w.saturating_sub(buffered));
        let more = more.min(usize::try_from(remaining).unwrap_or(usize::MAX));
        if more < READ_SIZE {
            return None;
        }
        let total = buffered + more;
        let (mut got, mut outcome) = (buffered, Ok(()));
        let request = &self.request;
        let bytes = PyBytes::new_with(py, total, |buf| {
            buf[..buffered].copy_from_slice(state.available());
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
                    state.eof = eof;
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
        state.data.clear();
        state.start = 0;
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
        let mut searched = 0;
        loop {
            let available = state.available();
            if let Some(pos) = available[searched..].iter().position(|&b| b == b'\n') {
                let end = searched + pos + 1;
                return Ok(state.take(py, limit.min(end)));
            }
            if available.len() >= limit {
                return Ok(state.take(py, limit));
            }
            searched = available.len();
            if !self.fill(py, &mut state)? {
                let all = state.available().len();
                return Ok(state.take(py, all));
            }
        }
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
        while wanted.is_none_or(|wanted| state.available().len() < wanted) {
            if !self.fill(py, &mut state)? {
                break;
            }
        }
        let n = wanted.unwrap_or(usize::MAX);
        Ok(state.take(py, n))
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
