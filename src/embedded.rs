//! Embedded mode: the gateway's [`Exchange`] over the `request_rec` that
//! Apache handed to this child, and what a request says about its
//! application group.

use std::ffi::CString;
use std::mem::MaybeUninit;
use std::os::fd::RawFd;

use crate::apache::{Level, Request};
use crate::config::groups::{RequestFacts, expand_group};
use crate::wsgi::exchange::{BodyError, ClientGone, EachVariable, Exchange};
use crate::wsgi::response::Head;

/// A request served in this process.
pub struct Embedded<'a, 'r> {
    request: &'a Request<'r>,
}

impl<'a, 'r> Embedded<'a, 'r> {
    pub fn new(request: &'a Request<'r>) -> Self {
        Self { request }
    }
}

impl Exchange for Embedded<'_, '_> {
    fn for_each_variable(&self, each: &mut EachVariable<'_>) -> pyo3::PyResult<()> {
        for (name, value) in self.request.subprocess_env().entries() {
            each(name, value)?;
        }
        Ok(())
    }

    fn scheme(&self) -> &[u8] {
        self.request.scheme()
    }

    fn log_id(&self) -> Option<&[u8]> {
        self.request.log_id()
    }

    fn body_remaining(&self) -> Option<u64> {
        self.request.body_remaining()
    }

    fn read_body(&self, buf: &mut [MaybeUninit<u8>]) -> Result<usize, BodyError> {
        self.request.read_body(buf)
    }

    fn is_header_only(&self) -> bool {
        self.request.is_header_only()
    }

    fn send_head(&self, head: &Head, length: Option<u64>) {
        let headers = head
            .headers
            .iter()
            .map(|(n, v)| (n.as_slice(), v.as_slice()));
        apply_head(self.request, head.code, &head.status_line, headers, length);
    }

    fn write_body(&self, data: &[u8], flush: bool) -> Result<(), ClientGone> {
        self.request.write_body(data, flush)
    }

    fn write_file(
        &self,
        fd: RawFd,
        offset: u64,
        length: u64,
        sendfile: Option<bool>,
    ) -> Result<(), ClientGone> {
        self.request.write_file(fd, offset, length, sendfile)
    }

    fn abort_body(&self) {
        self.request.abort_body();
    }

    fn add_error_header(&self, name: &[u8], value: &[u8]) {
        self.request.err_headers_out().add(name, value);
    }

    fn log(&self, level: Level, message: &str) {
        self.request.log(level, message);
    }
}

/// Applies a validated status and headers to the request; Apache writes
/// them out with the first body bytes (or at the end of the request).
pub fn apply_head<'h>(
    r: &Request<'_>,
    code: u16,
    status_line: &[u8],
    headers: impl Iterator<Item = (&'h [u8], &'h [u8])>,
    length: Option<u64>,
) {
    r.set_status(code, status_line);
    let out = r.headers_out();
    for (name, value) in headers {
        if name.eq_ignore_ascii_case(b"content-type") {
            r.set_content_type(value);
        } else if !name.eq_ignore_ascii_case(b"content-length") {
            out.add(name, value);
        }
    }
    if let Some(length) = length {
        r.set_content_length(length);
    }
}

/// The application or process group `spec` names for `request`, as
/// mod_wsgi expands it (its wsgi_application_group and wsgi_process_group
/// expand alike).
pub fn group_name(request: &Request<'_>, spec: &str) -> Vec<u8> {
    // %{ENV:name}: the request's notes first, then its environment, then
    // the process's, in mod_wsgi's order.
    let variable = |name: &str| -> Option<Vec<u8>> {
        let key = CString::new(name).ok()?;
        request
            .notes()
            .get(&key)
            .or_else(|| request.subprocess_env().get(&key))
            .map(<[u8]>::to_vec)
            .or_else(|| std::env::var_os(name).map(|v| v.into_encoded_bytes()))
    };
    let facts = RequestFacts {
        server_hostname: request.server().hostname(),
        request_hostname: request.hostname(),
        port: request.server_port(),
        script_name: request
            .subprocess_env()
            .get(c"SCRIPT_NAME")
            .unwrap_or_default(),
        variable: &variable,
    };
    expand_group(spec, &facts)
}
