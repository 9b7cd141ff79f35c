//! environ's strings, reused from one request to the next. The CGI names
//! that nearly every request carries (rwsgi_wire::environ_names) are
//! decoded, interned and hashed once per process; each worker thread keeps,
//! under each such name, the last short value it decoded, since most repeat
//! (SERVER_NAME, GATEWAY_INTERFACE, REQUEST_METHOD, HTTP_HOST, ...). A str
//! is immutable, so an application cannot tell a reused one from a new one.

use std::cell::RefCell;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyString;
use rwsgi_wire::environ_names::{LastValues, NAMES, Value, name_index};

use super::latin1;

/// NAMES as interned str objects.
static NAME_STRINGS: PyOnceLock<Vec<Py<PyString>>> = PyOnceLock::new();

thread_local! {
    /// The last value decoded under each name, by this thread.
    static LAST_VALUES: RefCell<LastValues<Py<PyString>>> = RefCell::default();
}

/// Decodes environ entries for one request, reusing what it can.
pub struct EnvironStrings<'a, 'py> {
    py: Python<'py>,
    names: &'py [Py<PyString>],
    last_values: &'a mut LastValues<Py<PyString>>,
}

impl<'py> EnvironStrings<'_, 'py> {
    /// Calls `f` with the strings of this thread.
    pub fn with<R>(py: Python<'py>, f: impl FnOnce(&mut EnvironStrings<'_, 'py>) -> R) -> R {
        let names = NAME_STRINGS.get_or_init(py, || {
            NAMES
                .iter()
                .map(|name| PyString::intern(py, name).unbind())
                .collect()
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
        let Some(index) = name_index(name) else {
            return Ok((latin1(py, name)?, latin1(py, value)?));
        };
        let name = self.names[index].bind(py).clone();
        let value = match self
            .last_values
            .get(index, value, |bytes| latin1(py, bytes).map(Bound::unbind))?
        {
            Value::Kept(kept) => kept.bind(py).clone(),
            Value::Made(made) => made.into_bound(py),
        };
        Ok((name, value))
    }
}
