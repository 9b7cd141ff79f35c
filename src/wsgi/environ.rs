//! Builds the WSGI environ dict from the request's CGI variables.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString, PyTuple};

use std::sync::OnceLock;

use super::environ_strings::EnvironStrings;
use super::exchange::Exchange;
use super::file_wrapper::FileWrapper;
use super::{Application, latin1};

/// About how many entries environ has: the CGI variables of a request
/// with a few headers, and the wsgi.*, mod_rwsgi.* and mod_wsgi.* keys.
const ENVIRON_SIZE: isize = 64;

/// The version mod_rwsgi answers as where mod_wsgi's is asked for: the
/// Debian mod_wsgi its behaviour is tested against.
pub const MOD_WSGI_VERSION: [u32; 3] = [4, 9, 4];

/// The CGI part of environ plus the wsgi.* keys; wsgi.input and wsgi.errors
/// are added by the caller.
pub fn build<'py>(
    py: Python<'py>,
    exchange: &dyn Exchange,
    application: &Application,
) -> PyResult<Bound<'py, PyAny>> {
    let environ = constant_entries(py)?.copy()?;
    EnvironStrings::with(py, |strings| -> PyResult<()> {
        exchange.for_each_variable(&mut |key, value| {
            // Apache's own PATH, which ap_add_common_vars adds, is not the
            // app's business; mod_wsgi leaves it out too.
            if key == b"PATH" {
                return Ok(());
            }
            let (key, value) = strings.entry(key, value)?;
            environ.set_item(key, value)
        })
    })?;
    // mod_wsgi always provides both, even when empty, and again under its
    // own keys.
    for (key, own) in [
        (
            intern!(py, "SCRIPT_NAME"),
            intern!(py, "mod_wsgi.script_name"),
        ),
        (intern!(py, "PATH_INFO"), intern!(py, "mod_wsgi.path_info")),
    ] {
        let value = match environ.get_item(key)? {
            Some(value) => value,
            None => {
                environ.set_item(key, intern!(py, ""))?;
                intern!(py, "").clone().into_any()
            }
        };
        environ.set_item(own, value)?;
    }

    let scheme = match application.forwarded_https {
        Some(true) => intern!(py, "https").clone(),
        Some(false) => intern!(py, "http").clone(),
        None => latin1(py, exchange.scheme())?,
    };
    environ.set_item(intern!(py, "wsgi.url_scheme"), scheme)?;
    let group = latin1(py, &application.application_group)?;
    environ.set_item(intern!(py, "mod_rwsgi.application_group"), &group)?;
    environ.set_item(intern!(py, "mod_wsgi.application_group"), group)?;
    let callable = if application.callable == "application" {
        intern!(py, "application").clone()
    } else {
        PyString::new(py, &application.callable)
    };
    environ.set_item(intern!(py, "mod_wsgi.callable_object"), callable)?;
    let sendfile = match application.sendfile {
        Some(true) => intern!(py, "1"),
        _ => intern!(py, "0"),
    };
    environ.set_item(intern!(py, "mod_wsgi.enable_sendfile"), sendfile)?;
    if let Some(id) = exchange.log_id() {
        let id = latin1(py, id)?;
        environ.set_item(intern!(py, "mod_rwsgi.request_id"), &id)?;
        environ.set_item(intern!(py, "mod_wsgi.request_id"), id)?;
    }
    add_mod_wsgi_counters(py, &environ)?;
    Ok(environ.into_any())
}

/// mod_wsgi's per-request keys of the serving process: when the app is
/// called, and the process's and this thread's request counts before it.
fn add_mod_wsgi_counters(py: Python<'_>, environ: &Bound<'_, PyDict>) -> PyResult<()> {
    let begun = super::metrics::request_begins();
    let mut digits = [0u8; 20];
    environ.set_item(
        intern!(py, "mod_wsgi.script_start"),
        latin1(py, super::decimal(super::now_micros(), &mut digits))?,
    )?;
    environ.set_item(intern!(py, "mod_wsgi.total_requests"), begun.process_before)?;
    environ.set_item(intern!(py, "mod_wsgi.thread_id"), begun.thread_id)?;
    environ.set_item(intern!(py, "mod_wsgi.thread_requests"), begun.thread_before)
}

/// What the process serving requests is, for the constant entries.
#[derive(Clone, Debug)]
pub struct ProcessFacts {
    pub multithread: bool,
    pub multiprocess: bool,
    /// The daemon process group's name; empty in Apache's own processes.
    pub process_group: String,
    /// The most processes and the threads in each that serve alike.
    pub processes: u32,
    pub threads: u32,
}

impl Default for ProcessFacts {
    fn default() -> Self {
        Self {
            multithread: true,
            multiprocess: true,
            process_group: String::new(),
            processes: 1,
            threads: 1,
        }
    }
}

static PROCESS: OnceLock<ProcessFacts> = OnceLock::new();

/// Says what this process is, once, before its first request.
pub fn set_process_facts(facts: ProcessFacts) {
    let _ = PROCESS.set(facts);
}

/// What this process is, as set_process_facts said.
pub fn process_facts() -> ProcessFacts {
    PROCESS.get().cloned().unwrap_or_default()
}

/// The entries every request's environ starts with, made once per process:
/// copying a dict clones its table in one go, where setting them one by one
/// costs a lookup each. The dict is made with room for a whole environ,
/// which its copies inherit. Every value is immutable or shared anyway
/// (wsgi.file_wrapper is the type), and each request gets its own copy, so
/// an app changing its environ changes no other's.
fn constant_entries(py: Python<'_>) -> PyResult<&Bound<'_, PyDict>> {
    static CONSTANT_ENTRIES: PyOnceLock<Py<PyDict>> = PyOnceLock::new();
    CONSTANT_ENTRIES
        .get_or_try_init(py, || {
            let process = PROCESS.get().cloned().unwrap_or_default();
            let entries = presized_dict(py, ENVIRON_SIZE)?;
            entries.set_item("wsgi.version", PyTuple::new(py, [1, 0])?)?;
            entries.set_item("wsgi.multithread", process.multithread)?;
            entries.set_item("wsgi.multiprocess", process.multiprocess)?;
            entries.set_item("wsgi.run_once", false)?;
            entries.set_item("wsgi.input_terminated", true)?;
            entries.set_item("wsgi.file_wrapper", py.get_type::<FileWrapper>())?;
            entries.set_item("mod_rwsgi.version", env!("CARGO_PKG_VERSION"))?;
            // Empty in embedded mode, as mod_wsgi reports it.
            entries.set_item("mod_rwsgi.process_group", &process.process_group)?;
            // The mod_wsgi whose behaviour mod_rwsgi is compared with.
            entries.set_item("mod_wsgi.version", PyTuple::new(py, MOD_WSGI_VERSION)?)?;
            Ok(entries.unbind())
        })
        .map(|entries| entries.bind(py))
}

/// An empty dict with room for `n` entries: a dict grown from empty to
/// environ's size is rebuilt three times on the way.
fn presized_dict(py: Python<'_>, n: isize) -> PyResult<Bound<'_, PyDict>> {
    #[cfg(rwsgi_presized_dict)]
    {
        unsafe extern "C" {
            fn _PyDict_NewPresized(minused: isize) -> *mut pyo3::ffi::PyObject;
        }
        // SAFETY: called with the GIL held (`py`); it returns a new dict
        // reference, or NULL with an exception set.
        unsafe {
            Ok(Bound::from_owned_ptr_or_err(py, _PyDict_NewPresized(n))?.cast_into_unchecked())
        }
    }
    #[cfg(not(rwsgi_presized_dict))]
    {
        let _ = n;
        Ok(PyDict::new(py))
    }
}
