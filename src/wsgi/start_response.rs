//! start_response() and the write() callable it returns, with the status
//! and headers validated at the call, so a bad value raises inside the app
//! and never reaches the client as a split or malformed response.

use std::sync::Arc;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};

use rwsgi_wire::response_head::{Headers, Invalid, latin1, parse_status};

use super::response::{Head, Response};

#[pyclass(frozen, module = "mod_rwsgi", name = "start_response")]
pub struct StartResponse {
    response: Arc<Response>,
}

impl StartResponse {
    pub fn new(response: Arc<Response>) -> Self {
        Self { response }
    }
}

#[pymethods]
impl StartResponse {
    #[pyo3(signature = (status, headers, exc_info = None, /))]
    fn __call__(
        &self,
        status: &Bound<'_, PyAny>,
        headers: &Bound<'_, PyAny>,
        exc_info: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Write> {
        let exc_info = exc_info.filter(|info| !info.is_none());
        if let Some(exc_info) = exc_info {
            if self.response.headers_sent() {
                // PEP 3333: too late to replace the headers; re-raise.
                return Err(PyErr::from_value(exc_info.get_item(1)?));
            }
        }
        let head = Head::validate(status, headers)?;
        self.response.start(head)?;
        Ok(Write {
            response: self.response.clone(),
        })
    }
}

/// The write() callable of PEP 3333: sends the bytes before it returns.
#[pyclass(frozen, module = "mod_rwsgi", name = "write")]
pub struct Write {
    response: Arc<Response>,
}

#[pymethods]
impl Write {
    fn __call__(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let bytes = data.cast::<PyBytes>().map_err(|_| {
            PyTypeError::new_err(format!(
                "write() argument must be bytes, not {}",
                super::type_name(data)
            ))
        })?;
        self.response.write(py, bytes.as_bytes())
    }
}

impl Head {
    fn validate(status: &Bound<'_, PyAny>, headers: &Bound<'_, PyAny>) -> PyResult<Self> {
        let status = status.cast::<PyString>().map_err(|_| {
            PyTypeError::new_err(format!(
                "status must be a str, not {}",
                super::type_name(status)
            ))
        })?;
        let status_line = latin1(&status.to_cow()?, "status").map_err(refused)?;
        let code = parse_status(&status_line).map_err(refused)?;

        let headers = headers.cast::<PyList>().map_err(|_| {
            PyTypeError::new_err(format!(
                "response headers must be a list, not {}",
                super::type_name(headers)
            ))
        })?;
        let mut validated = Headers::with_capacity(headers.len());
        for item in headers.iter() {
            let pair = item
                .cast::<PyTuple>()
                .ok()
                .filter(|pair| pair.len() == 2)
                .ok_or_else(|| {
                    PyTypeError::new_err(format!(
                        "response header must be a (name, value) tuple, not {}",
                        item.repr().map(|r| r.to_string()).unwrap_or_default()
                    ))
                })?;
            let (name, value) = (pair.get_item(0)?, pair.get_item(1)?);
            let (Ok(name), Ok(value)) = (name.cast::<PyString>(), value.cast::<PyString>()) else {
                return Err(PyTypeError::new_err(format!(
                    "response header name and value must be str, not {} and {}",
                    super::type_name(&name),
                    super::type_name(&value)
                )));
            };
            let name = latin1(&name.to_cow()?, "header name").map_err(refused)?;
            let value = latin1(&value.to_cow()?, "header value").map_err(refused)?;
            validated.push(name, value).map_err(refused)?;
        }
        Ok(Head {
            code,
            status_line,
            headers: validated.list,
            content_length: validated.content_length,
        })
    }
}

/// A status or header the rules refuse: a ValueError inside the app.
fn refused(invalid: Invalid) -> PyErr {
    PyValueError::new_err(invalid.to_string())
}
