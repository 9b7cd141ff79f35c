//! environ's strings, reused from one request to the next. The CGI names
//! that nearly every request carries are decoded, interned and hashed once
//! per process; each worker thread keeps, under each such name, the last
//! short value it decoded, since most repeat (SERVER_NAME,
//! GATEWAY_INTERFACE, REQUEST_METHOD, HTTP_HOST, ...). A str is immutable,
//! so an application cannot tell a reused one from a new one.
//!
//! Names outside the list (any other request header) are decoded per
//! request and never kept: what a client sends cannot grow these caches.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyString;

use super::latin1;

/// The names kept, sorted (checked at compile time) so that a duplicate
/// cannot hide.
const NAMES: [&str; 47] = [
    "AUTH_TYPE",
    "CONTENT_LENGTH",
    "CONTENT_TYPE",
    "CONTEXT_DOCUMENT_ROOT",
    "CONTEXT_PREFIX",
    "DOCUMENT_ROOT",
    "GATEWAY_INTERFACE",
    "HTTPS",
    "HTTP_ACCEPT",
    "HTTP_ACCEPT_ENCODING",
    "HTTP_ACCEPT_LANGUAGE",
    "HTTP_CACHE_CONTROL",
    "HTTP_CONNECTION",
    "HTTP_COOKIE",
    "HTTP_DNT",
    "HTTP_HOST",
    "HTTP_IF_MODIFIED_SINCE",
    "HTTP_IF_NONE_MATCH",
    "HTTP_ORIGIN",
    "HTTP_PRAGMA",
    "HTTP_REFERER",
    "HTTP_SEC_FETCH_DEST",
    "HTTP_SEC_FETCH_MODE",
    "HTTP_SEC_FETCH_SITE",
    "HTTP_UPGRADE_INSECURE_REQUESTS",
    "HTTP_USER_AGENT",
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_REQUESTED_WITH",
    "PATH_INFO",
    "PATH_TRANSLATED",
    "QUERY_STRING",
    "REMOTE_ADDR",
    "REMOTE_PORT",
    "REMOTE_USER",
    "REQUEST_METHOD",
    "REQUEST_SCHEME",
    "REQUEST_URI",
    "SCRIPT_FILENAME",
    "SCRIPT_NAME",
    "SERVER_ADDR",
    "SERVER_ADMIN",
    "SERVER_NAME",
    "SERVER_PORT",
    "SERVER_PROTOCOL",
    "SERVER_SIGNATURE",
];

const _: () = assert!(strictly_sorted(&NAMES), "NAMES must stay sorted");

const fn strictly_sorted(names: &[&str]) -> bool {
    let mut i = 1;
    while i < names.len() {
        let (a, b) = (names[i - 1].as_bytes(), names[i].as_bytes());
        let mut j = 0;
        loop {
            if j == a.len() || j == b.len() {
                if a.len() >= b.len() {
                    return false;
                }
                break;
            }
            if a[j] != b[j] {
                if a[j] > b[j] {
                    return false;
                }
                break;
            }
            j += 1;
        }
        i += 1;
    }
    true
}

/// Longer values (cookies, long query strings) are not worth comparing.
const LONGEST_KEPT_VALUE: usize = 256;

/// The names as interned str objects, and where each is in NAMES.
struct Names {
    index: HashMap<&'static [u8], usize, BuildHasherDefault<Fnv1a>>,
    strings: Vec<Py<PyString>>,
}

static NAMES_MADE: PyOnceLock<Names> = PyOnceLock::new();

thread_local! {
    /// The last value decoded under each name, by this thread.
    static LAST_VALUES: RefCell<Vec<Option<(Box<[u8]>, Py<PyString>)>>> =
        RefCell::new((0..NAMES.len()).map(|_| None).collect());
}

/// Decodes environ entries for one request, reusing what it can.
pub struct EnvironStrings<'a, 'py> {
    py: Python<'py>,
    names: &'py Names,
    last_values: &'a mut [Option<(Box<[u8]>, Py<PyString>)>],
}

impl<'py> EnvironStrings<'_, 'py> {
    /// Calls `f` with the strings of this thread.
    pub fn with<R>(py: Python<'py>, f: impl FnOnce(&mut EnvironStrings<'_, 'py>) -> R) -> R {
        let names = NAMES_MADE.get_or_init(py, || Names {
            index: NAMES
                .iter()
                .enumerate()
                .map(|(i, name)| (name.as_bytes(), i))
                .collect(),
            strings: NAMES
                .iter()
                .map(|name| PyString::intern(py, name).unbind())
                .collect(),
        });
        LAST_VALUES.with_borrow_mut(|last_values| {
            f(&mut EnvironStrings {
                py,
                names,
                last_values,
            })
        })
    }

    /// The str pair for one CGI variable.
    pub fn entry(
        &mut self,
        name: &[u8],
        value: &[u8],
    ) -> PyResult<(Bound<'py, PyString>, Bound<'py, PyString>)> {
        let py = self.py;
        let Some(&index) = self.names.index.get(name) else {
            return Ok((latin1(py, name)?, latin1(py, value)?));
        };
        let name = self.names.strings[index].bind(py).clone();
        if value.len() > LONGEST_KEPT_VALUE {
            return Ok((name, latin1(py, value)?));
        }
        let last = &mut self.last_values[index];
        let value = match last {
            Some((bytes, string)) if **bytes == *value => string.bind(py).clone(),
            _ => {
                let string = latin1(py, value)?;
                *last = Some((value.into(), string.clone().unbind()));
                string
            }
        };
        Ok((name, value))
    }
}

/// FNV-1a: the names are short and fixed, so a simple hash serves better
/// than SipHash's protection against chosen keys (a miss costs one probe).
#[derive(Default)]
struct Fnv1a(u64);

impl Hasher for Fnv1a {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut hash = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &byte in bytes {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = hash;
    }
}
