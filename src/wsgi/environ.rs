//! Builds the WSGI environ dict from Apache's CGI variables.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use super::file_wrapper::FileWrapper;
use super::{Application, latin1};
use crate::apache::{Mpm, Request};
use crate::interpreter;

/// The CGI part of environ plus the wsgi.* keys; wsgi.input and wsgi.errors
/// are added by the caller.
pub fn build<'py>(
    py: Python<'py>,
    request: &Request<'_>,
    application: &Application,
) -> PyResult<Bound<'py, PyAny>> {
    let environ = PyDict::new(py);
    for (key, value) in request.subprocess_env().entries() {
        // Apache's own PATH, which ap_add_common_vars adds, is not the app's
        // business; mod_wsgi leaves it out too.
        if key == b"PATH" {
            continue;
        }
        environ.set_item(latin1(py, key)?, latin1(py, value)?)?;
    }
    // mod_wsgi always provides both, even when empty.
    for key in [intern!(py, "SCRIPT_NAME"), intern!(py, "PATH_INFO")] {
        if !environ.contains(key)? {
            environ.set_item(key, intern!(py, ""))?;
        }
    }

    let mpm = interpreter::mpm().unwrap_or(Mpm {
        threaded: true,
        multiprocess: true,
    });
    environ.set_item(intern!(py, "wsgi.version"), PyTuple::new(py, [1, 0])?)?;
    let scheme = match application.forwarded_https {
        Some(true) => intern!(py, "https").clone(),
        Some(false) => intern!(py, "http").clone(),
        None => latin1(py, request.scheme())?,
    };
    environ.set_item(intern!(py, "wsgi.url_scheme"), scheme)?;
    environ.set_item(intern!(py, "wsgi.multithread"), mpm.threaded)?;
    environ.set_item(intern!(py, "wsgi.multiprocess"), mpm.multiprocess)?;
    environ.set_item(intern!(py, "wsgi.run_once"), false)?;
    environ.set_item(intern!(py, "wsgi.input_terminated"), true)?;
    environ.set_item(
        intern!(py, "wsgi.file_wrapper"),
        py.get_type::<FileWrapper>(),
    )?;
    environ.set_item(intern!(py, "mod_rwsgi.version"), env!("CARGO_PKG_VERSION"))?;
    // Embedded mode: no daemon process group, as mod_wsgi reports it.
    environ.set_item(intern!(py, "mod_rwsgi.process_group"), intern!(py, ""))?;
    environ.set_item(
        intern!(py, "mod_rwsgi.application_group"),
        latin1(py, &application.application_group)?,
    )?;
    if let Some(id) = request.log_id() {
        environ.set_item(intern!(py, "mod_rwsgi.request_id"), latin1(py, id)?)?;
    }
    Ok(environ.into_any())
}
