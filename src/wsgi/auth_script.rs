//! Calling the functions of access and authentication scripts
//! (allow_access, check_password, get_realm_hash, groups_for_user) with an
//! environ as mod_wsgi gives them: the request's CGI variables and the
//! wsgi.* keys, wsgi.errors writing to the error log, and no wsgi.input.

use pyo3::prelude::*;
use pyo3::types::PyTuple;

use super::errors::{ErrorLog, ServingGuard};
use super::exchange::{Exchange, SharedExchange};
use super::{Application, EndOnDrop, environ, exception_headline, format_exception, load_app};
use crate::apache::{Level, LogId};

/// Calls `application.callable(environ, *args)` of its script and reads the
/// result with `interpret`; None, with the reason logged, when the script
/// cannot load, the function raises, or `interpret` refuses the result.
pub fn call<T>(
    py: Python<'_>,
    exchange: &dyn Exchange,
    application: &Application,
    args: &[String],
    interpret: impl FnOnce(&Bound<'_, PyAny>) -> Result<T, &'static str>,
) -> Option<T> {
    let path = application.script.as_path();
    let function = load_app(py, exchange, application, application.mtime)?;
    let environ = match environ::build(py, exchange, application) {
        Ok(environ) => environ,
        Err(err) => {
            let trace = format_exception(py, &err);
            exchange.log(
                Level::Error(LogId("RW0407")),
                &format!("{}\n{trace}", exception_headline(path)),
            );
            return None;
        }
    };
    // SAFETY: `_ended` ends the shared exchange before this function
    // returns; until then `exchange` is used only through `shared`.
    let shared = unsafe { SharedExchange::new(exchange) };
    let _ended = EndOnDrop(shared.clone());
    let _serving = ServingGuard::new(&shared);
    let log = |level: Level, message: &str| {
        let _ = shared.with(|e| e.log(level, message));
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
            log(
                Level::Error(LogId("RW0408")),
                &format!("mod_rwsgi: {reason}, in '{}'", path.display()),
            );
            None
        }
        Err(err) => {
            log(
                Level::Error(LogId("RW0409")),
                &format!(
                    "{}\n{}",
                    exception_headline(path),
                    format_exception(py, err)
                ),
            );
            None
        }
    }
}
