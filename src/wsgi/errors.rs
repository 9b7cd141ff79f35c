//! Streams into Apache's error log, line-buffered: wsgi.errors for each
//! request, and the process's sys.stdout/sys.stderr, which are attributed to
//! the request the printing thread is serving, if any.

use std::cell::RefCell;
use std::sync::Mutex;

use std::ffi::c_int;

use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyDict, PyString};

use super::exchange::SharedExchange;
use super::request_ended;
use crate::apache::{Level, Server};

/// wsgi.errors: a text stream into the error log of its request only;
/// using it after the request raises.
#[pyclass(frozen, module = "mod_rwsgi", name = "Log")]
pub struct ErrorLog {
    request: SharedExchange,
    lines: PendingLines,
}

/// The byte stream under sys.stdout and sys.stderr, each a TextIOWrapper
/// (utf-8, errors="replace", line-buffered) as mod_wsgi sets them up, so
/// that code which takes `sys.stdout.buffer` (Mercurial does) runs. Lines
/// go to the error log of the request the writing thread serves, else to
/// the process's.
#[pyclass(frozen, module = "mod_rwsgi", name = "Log")]
pub struct ProcessLog {
    lines: PendingLines,
}

/// Bytes after the last newline, waiting for the rest of their line:
/// Apache logs whole lines, and a UTF-8 character written in two pieces
/// is decoded whole.
struct PendingLines(Mutex<Vec<u8>>);

impl PendingLines {
    fn new() -> Self {
        Self(Mutex::new(Vec::new()))
    }

    /// Adds `bytes`; returns the lines they completed, if any.
    fn push(&self, bytes: &[u8]) -> Option<String> {
        let mut pending = self.0.lock().unwrap_or_else(|e| e.into_inner());
        pending.extend_from_slice(bytes);
        let end = pending.iter().rposition(|&b| b == b'\n')?;
        let rest = pending.split_off(end + 1);
        let lines = std::mem::replace(&mut *pending, rest);
        Some(String::from_utf8_lossy(&lines).into_owned())
    }

    fn take(&self) -> String {
        let pending = std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()));
        String::from_utf8_lossy(&pending).into_owned()
    }
}

/// Where the standard streams go outside a request: the main server's
/// log, or a daemon group's.
static PROCESS_LOG: std::sync::OnceLock<Server> = std::sync::OnceLock::new();

/// Sends what sys.stdout and sys.stderr print outside a request to
/// `server`'s error log.
pub fn set_process_log(server: Server) {
    let _ = PROCESS_LOG.set(server);
}

thread_local! {
    static CURRENT_REQUEST: RefCell<Option<SharedExchange>> = const { RefCell::new(None) };
}

/// Marks `request` as the one this thread serves until the guard drops.
pub struct ServingGuard(());

impl ServingGuard {
    pub fn new(request: &SharedExchange) -> Self {
        CURRENT_REQUEST.with(|current| *current.borrow_mut() = Some(request.clone()));
        Self(())
    }
}

impl Drop for ServingGuard {
    fn drop(&mut self) {
        CURRENT_REQUEST.with(|current| current.borrow_mut().take());
    }
}

impl ErrorLog {
    pub fn new(request: SharedExchange) -> Self {
        Self {
            request,
            lines: PendingLines::new(),
        }
    }

    fn emit(&self, text: &str) -> PyResult<()> {
        self.request
            .with(|e| e.log(Level::AppError, text))
            .map_err(|_| request_ended("wsgi.errors"))
    }

    /// Logs a partial last line, if any. Called at the end of each request.
    pub fn flush_pending(&self) {
        let text = self.lines.take();
        if !text.is_empty() {
            let _ = self.emit(&text);
        }
    }
}

impl ProcessLog {
    fn emit(text: &str) {
        log_for_thread(Level::AppError, text);
    }
}

/// Logs `text` for the request this thread serves, else in the process's
/// log.
pub(super) fn log_for_thread(level: Level, text: &str) {
    let current = CURRENT_REQUEST.with(|current| current.borrow().clone());
    if current.is_none_or(|request| request.with(|e| e.log(level, text)).is_err()) {
        PROCESS_LOG
            .get()
            .copied()
            .unwrap_or(Server::main())
            .log(level, text);
    }
}

/// Points sys.stdout and sys.stderr at Apache's error log: a child's own
/// stdout goes nowhere useful, and print() debugging must be visible.
/// sys.stdin stays Python's own, over the process's standard input (Apache
/// gives its children /dev/null), as under mod_wsgi.
pub fn redirect_standard_streams(py: Python<'_>) -> PyResult<()> {
    let sys = py.import("sys")?;
    let text_stream = py.import("io")?.getattr("TextIOWrapper")?;
    let options = PyDict::new(py);
    options.set_item("encoding", "utf-8")?;
    options.set_item("errors", "replace")?;
    options.set_item("line_buffering", true)?;
    for name in ["stdout", "stderr"] {
        let buffer = Bound::new(
            py,
            ProcessLog {
                lines: PendingLines::new(),
            },
        )?;
        sys.setattr(name, text_stream.call((buffer,), Some(&options))?)?;
    }
    Ok(())
}

#[pymethods]
impl ErrorLog {
    fn write(&self, text: &Bound<'_, PyString>) -> PyResult<usize> {
        let text = text.to_string_lossy();
        if let Some(lines) = self.lines.push(text.as_bytes()) {
            self.emit(&lines)?;
        }
        Ok(text.chars().count())
    }

    fn writelines(&self, lines: &Bound<'_, PyAny>) -> PyResult<()> {
        for line in lines.try_iter()? {
            self.write(line?.cast::<PyString>()?)?;
        }
        Ok(())
    }

    fn flush(&self) -> PyResult<()> {
        let text = self.lines.take();
        if text.is_empty() {
            Ok(())
        } else {
            self.emit(&text)
        }
    }

    fn isatty(&self) -> bool {
        false
    }

    #[getter]
    fn encoding(&self) -> &'static str {
        "utf-8"
    }
}

#[pymethods]
impl ProcessLog {
    /// Returns None, as mod_wsgi's log object does: the TextIOWrapper above
    /// answers the count.
    fn write(&self, data: PyBackedBytes) {
        if let Some(lines) = self.lines.push(&data) {
            Self::emit(&lines);
        }
    }

    fn flush(&self) {
        let text = self.lines.take();
        if !text.is_empty() {
            Self::emit(&text);
        }
    }

    /// The log stays open for the rest of the process: closing sys.stdout
    /// only sends on what is pending.
    fn close(&self) {
        self.flush();
    }

    #[getter]
    fn closed(&self) -> bool {
        false
    }

    fn fileno(&self) -> PyResult<c_int> {
        Err(PyOSError::new_err(
            "Apache/mod_rwsgi log object is not associated with a file descriptor.",
        ))
    }

    fn isatty(&self) -> bool {
        false
    }

    fn readable(&self) -> bool {
        false
    }

    fn writable(&self) -> bool {
        true
    }

    fn seekable(&self) -> bool {
        false
    }
}
