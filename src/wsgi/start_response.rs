//! start_response() and the write() callable it returns, with the status
//! and headers validated at the call, so a bad value raises inside the app
//! and never reaches the client as a split or malformed response.

use std::sync::Arc;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};

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

/// Headers that describe one connection and must not come from a WSGI app.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
];

impl Head {
    fn validate(status: &Bound<'_, PyAny>, headers: &Bound<'_, PyAny>) -> PyResult<Self> {
        let status = status.cast::<PyString>().map_err(|_| {
            PyTypeError::new_err(format!(
                "status must be a str, not {}",
                super::type_name(status)
            ))
        })?;
        let status_line = latin1_bytes(&status.to_cow()?, "status")?;
        let code = parse_status(&status_line)?;

        let headers = headers.cast::<PyList>().map_err(|_| {
            PyTypeError::new_err(format!(
                "response headers must be a list, not {}",
                super::type_name(headers)
            ))
        })?;
        let mut validated = Vec::with_capacity(headers.len());
        let mut content_length = None;
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
            let name = latin1_bytes(&name.to_cow()?, "header name")?;
            let value = latin1_bytes(&value.to_cow()?, "header value")?;
            check_header(&name, &value)?;
            if name.eq_ignore_ascii_case(b"content-length") {
                let length = parse_content_length(&value)?;
                if content_length.is_some_and(|previous| previous != length) {
                    return Err(PyValueError::new_err(
                        "response has two different Content-Length headers",
                    ));
                }
                content_length = Some(length);
            }
            validated.push((name, value));
        }
        Ok(Head {
            code,
            status_line,
            headers: validated,
            content_length,
        })
    }
}

/// Encodes as latin-1, as PEP 3333 requires of status and header strings.
fn latin1_bytes(text: &str, what: &str) -> PyResult<Vec<u8>> {
    text.chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(|| {
            PyValueError::new_err(format!("{what} {text:?} has characters outside latin-1"))
        })
}

/// "NNN" or "NNN reason": three digits, the first 1-9, and a reason with no
/// control characters.
fn parse_status(line: &[u8]) -> PyResult<u16> {
    let invalid = || {
        PyValueError::new_err(format!(
            "invalid status {:?}: expected three digits and a reason, like '200 OK'",
            String::from_utf8_lossy(line)
        ))
    };
    let (digits, rest) = line.split_at_checked(3).ok_or_else(invalid)?;
    if !digits.iter().all(u8::is_ascii_digit) || digits[0] == b'0' {
        return Err(invalid());
    }
    if !rest.is_empty() && (rest[0] != b' ' || rest.iter().any(|&b| is_control(b))) {
        return Err(invalid());
    }
    Ok(digits
        .iter()
        .fold(0u16, |code, d| code * 10 + u16::from(d - b'0')))
}

fn is_control(byte: u8) -> bool {
    (byte < 0x20 && byte != b'\t') || byte == 0x7f
}

/// RFC 9110 token characters, the only ones a header name may hold.
fn is_token(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

fn check_header(name: &[u8], value: &[u8]) -> PyResult<()> {
    let shown = || {
        format!(
            "{:?}: {:?}",
            String::from_utf8_lossy(name),
            String::from_utf8_lossy(value)
        )
    };
    if name.is_empty() || !name.iter().copied().all(is_token) {
        return Err(PyValueError::new_err(format!(
            "invalid header name in {}",
            shown()
        )));
    }
    if value.iter().copied().any(is_control) {
        return Err(PyValueError::new_err(format!(
            "control character in header value {}",
            shown()
        )));
    }
    if HOP_BY_HOP
        .iter()
        .any(|hop| name.eq_ignore_ascii_case(hop.as_bytes()))
    {
        return Err(PyValueError::new_err(format!(
            "hop-by-hop header not allowed from a WSGI application: {}",
            shown()
        )));
    }
    Ok(())
}

/// Digits only: no sign, no spaces, no list, no overflow.
fn parse_content_length(value: &[u8]) -> PyResult<u64> {
    let invalid = || {
        PyValueError::new_err(format!(
            "invalid Content-Length {:?}",
            String::from_utf8_lossy(value)
        ))
    };
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    std::str::from_utf8(value)
        .ok()
        .and_then(|v| v.parse().ok())
        .ok_or_else(invalid)
}
