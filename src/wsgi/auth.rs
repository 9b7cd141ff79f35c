//! Calling the functions of access and authentication scripts
//! (allow_access, check_password, get_realm_hash, groups_for_user) with an
//! environ as mod_wsgi gives them: the request's CGI variables and the
//! wsgi.* keys, wsgi.errors writing to the error log, and no wsgi.input.

use std::path::Path;

use pyo3::prelude::*;
use pyo3::types::PyTuple;

use super::errors::{ErrorLog, ServingGuard};
use super::{
    Application, EndOnDrop, application_group, environ, exception_headline, format_exception,
    load_app, script,
};
use crate::apache::{Level, Request, SharedRequest};
use crate::config::DEFAULT_APPLICATION_GROUP;

/// Calls `function(environ, *args)` of the script at `path` and reads the
/// result with `interpret`; None, with the reason logged, when the script
/// cannot load, the function raises, or `interpret` refuses the result.
pub fn call<T>(
    py: Python<'_>,
    request: Request<'_>,
    path: &Path,
    group: Option<&str>,
    function: &str,
    args: &[String],
    interpret: impl FnOnce(&Bound<'_, PyAny>) -> Result<T, &'static str>,
) -> Option<T> {
    let mtime = match script::file_mtime(path) {
        Ok(mtime) => mtime,
        Err(reason) => {
            request.log(Level::Error, &format!("mod_rwsgi: {reason}"));
            return None;
        }
    };
    let script_name = request
        .subprocess_env()
        .get(c"SCRIPT_NAME")
        .unwrap_or_default();
    let group = group.unwrap_or(DEFAULT_APPLICATION_GROUP);
    let application = Application {
        script: path.to_path_buf(),
        callable: function.to_string(),
        mtime,
        application_group: application_group::expand(group, &request, script_name),
        reload: true,
        sendfile: None,
        error_override: false,
        forwarded_https: None,
    };
    let function = load_app(py, &request, &application, application.mtime)?;
    let environ = match environ::build(py, &request, &application) {
        Ok(environ) => environ,
        Err(err) => {
            let trace = format_exception(py, &err);
            request.log(
                Level::Error,
                &format!("{}\n{trace}", exception_headline(path)),
            );
            return None;
        }
    };
    // SAFETY: `_ended` ends the shared request before this function
    // returns; until then `request` is used only through `shared`.
    let shared = unsafe { SharedRequest::new(&request) };
    let _ended = EndOnDrop(shared.clone());
    let _serving = ServingGuard::new(&shared);
    let log = |message: &str| {
        let _ = shared.with(|r| r.log(Level::Error, message));
    };
    let called = Bound::new(py, ErrorLog::new(shared.clone())).and_then(|errors| {
        environ.set_item(pyo3::intern!(py, "wsgi.errors"), &errors)?;
        let mut call_args = vec![environ.clone()];
        for arg in args {
            call_args.push(arg.into_pyobject(py)?.into_any());
        }
        let result = function.call1(PyTuple::new(py, call_args)?);
        errors.get().flush_pending();
        result
    });
    match called.as_ref().map(interpret) {
        Ok(Ok(answer)) => Some(answer),
        Ok(Err(reason)) => {
            log(&format!("mod_rwsgi: {reason}, in '{}'", path.display()));
            None
        }
        Err(err) => {
            log(&format!(
                "{}\n{}",
                exception_headline(path),
                format_exception(py, err)
            ));
            None
        }
    }
}
