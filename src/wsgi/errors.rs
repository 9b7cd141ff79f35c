//! Text streams into Apache's error log, line-buffered: wsgi.errors for each
//! request, and the process's sys.stdout/sys.stderr, which are attributed to
//! the request the printing thread is serving, if any.

use std::cell::RefCell;
use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::types::PyString;

use super::exchange::SharedExchange;
use super::request_ended;
use crate::apache::{Level, Server};

#[pyclass(frozen, module = "mod_rwsgi", name = "Log")]
pub struct ErrorLog {
    destination: Destination,
    /// Text after the last newline, waiting for the rest of its line.
    pending: Mutex<String>,
}

enum Destination {
    /// wsgi.errors: this request only; using it after the request raises.
    Request(SharedExchange),
    /// sys.stdout/sys.stderr: the request of the writing thread, else the
    /// main server's log.
    Process,
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
            destination: Destination::Request(request),
            pending: Mutex::new(String::new()),
        }
    }

    fn for_process() -> Self {
        Self {
            destination: Destination::Process,
            pending: Mutex::new(String::new()),
        }
    }

    fn emit(&self, text: &str) -> PyResult<()> {
        match &self.destination {
            Destination::Request(request) => request
                .with(|e| e.log(Level::Error, text))
                .map_err(|_| request_ended("wsgi.errors")),
            Destination::Process => {
                let current = CURRENT_REQUEST.with(|current| current.borrow().clone());
                if current
                    .is_none_or(|request| request.with(|e| e.log(Level::Error, text)).is_err())
                {
                    PROCESS_LOG
                        .get()
                        .copied()
                        .unwrap_or(Server::main())
                        .log(Level::Error, text);
                }
                Ok(())
            }
        }
    }

    fn take_pending(&self) -> String {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Logs a partial last line, if any. Called at the end of each request.
    pub fn flush_pending(&self) {
        let text = self.take_pending();
        if !text.is_empty() {
            let _ = self.emit(&text);
        }
    }
}

/// Points sys.stdout and sys.stderr at Apache's error log: a child's own
/// stdout goes nowhere useful, and print() debugging must be visible.
pub fn redirect_standard_streams(py: Python<'_>) -> PyResult<()> {
    let sys = py.import("sys")?;
    sys.setattr("stdout", Bound::new(py, ErrorLog::for_process())?)?;
    sys.setattr("stderr", Bound::new(py, ErrorLog::for_process())?)?;
    Ok(())
}

#[pymethods]
impl ErrorLog {
    fn write(&self, text: &Bound<'_, PyString>) -> PyResult<usize> {
        let text = text.to_string_lossy();
        let complete = {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            pending.push_str(&text);
            match pending.rfind('\n') {
                Some(end) => {
                    let rest = pending.split_off(end + 1);
                    std::mem::replace(&mut *pending, rest)
                }
                None => return Ok(text.chars().count()),
            }
        };
        self.emit(&complete)?;
        Ok(text.chars().count())
    }

    fn writelines(&self, lines: &Bound<'_, PyAny>) -> PyResult<()> {
        for line in lines.try_iter()? {
            self.write(line?.cast::<PyString>()?)?;
        }
        Ok(())
    }

    fn flush(&self) -> PyResult<()> {
        let text = self.take_pending();
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
