//! wsgi.errors: a text stream into Apache's error log, line-buffered and
//! attributed to the request.

use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::types::PyString;

use super::request_ended;
use crate::apache::{Level, SharedRequest};

#[pyclass(frozen, module = "mod_rwsgi", name = "Log")]
pub struct ErrorLog {
    request: SharedRequest,
    /// Text after the last newline, waiting for the rest of its line.
    pending: Mutex<String>,
}

impl ErrorLog {
    pub fn new(request: SharedRequest) -> Self {
        Self {
            request,
            pending: Mutex::new(String::new()),
        }
    }

    fn emit(&self, text: &str) -> PyResult<()> {
        self.request
            .with(|r| r.log(Level::Error, text))
            .map_err(|_| request_ended("wsgi.errors"))
    }

    /// Logs a partial last line, if any. Called at the end of each request.
    pub fn flush_pending(&self) {
        let text = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        if !text.is_empty() {
            let _ = self.emit(&text);
        }
    }
}

#[pymethods]
impl ErrorLog {
    fn write(&self, text: &Bound<'_, PyString>) -> PyResult<()> {
        let text = text.to_string_lossy();
        let complete = {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            pending.push_str(&text);
            match pending.rfind('\n') {
                Some(end) => {
                    let rest = pending.split_off(end + 1);
                    std::mem::replace(&mut *pending, rest)
                }
                None => return Ok(()),
            }
        };
        self.emit(&complete)
    }

    fn writelines(&self, lines: &Bound<'_, PyAny>) -> PyResult<()> {
        for line in lines.try_iter()? {
            self.write(line?.cast::<PyString>()?)?;
        }
        Ok(())
    }

    fn flush(&self) -> PyResult<()> {
        let text = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        if text.is_empty() {
            Ok(())
        } else {
            self.emit(&text)
        }
    }
}
