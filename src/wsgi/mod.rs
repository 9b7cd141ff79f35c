//! The WSGI (PEP 3333) gateway: everything between a request routed to a
//! script and the Python application. It reaches the request only through
//! [`exchange::Exchange`], so the same code serves Apache's own processes
//! (embedded mode) and daemon processes.

pub mod application_group;
pub mod auth_script;
mod environ;
mod environ_strings;
mod errors;
pub mod exchange;
mod file_wrapper;
mod input;
mod metrics;
mod python_module;
pub mod response;
mod script;
mod start_response;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

use crate::apache::{Level, LogId, status};
pub use environ::{ProcessFacts, set_process_facts};
pub use errors::set_process_log;
use errors::{ErrorLog, ServingGuard};
use exchange::{Exchange, SharedExchange};
use file_wrapper::FileWrapper;
use input::Input;
pub use metrics::resident_bytes;
pub use python_module::process_stopping;
pub use response::Deferred;
use response::Response;
use start_response::StartResponse;

/// Sets Python up in a process that serves requests: sys.stdout and
/// sys.stderr into Apache's error log, and the `mod_wsgi` module.
pub fn prepare_process(py: Python<'_>) -> PyResult<()> {
    errors::redirect_standard_streams(py)?;
    python_module::install(py)
}

/// Executes a script ahead of its first request (WSGIImportScript); Err
/// carries the exception and its traceback.
pub fn preload(py: Python<'_>, script: &Path) -> Result<(), String> {
    script::preload(py, script).map_err(|err| format_exception(py, &err))
}

/// The modification time of a script, as Apache's stat() would give it.
pub fn script_mtime(path: &Path) -> Result<i64, String> {
    script::file_mtime(path)
}

/// The modification time of the version of `path` this process loaded, if
/// it loaded it.
pub fn loaded_mtime(path: &Path) -> Option<i64> {
    script::loaded_mtime(path)
}

pyo3::create_exception!(
    mod_rwsgi,
    RequestTimeout,
    pyo3::exceptions::PyBaseException,
    "Raised in a request that ran longer than its daemon process group's request-timeout."
);

/// What serves a request, as the configuration chose it.
pub struct Application {
    pub script: PathBuf,
    pub callable: String,
    /// The script's modification time, as Apache's stat() gives it.
    pub mtime: i64,
    /// The application group mod_wsgi would run it in (environ reports it).
    pub application_group: Vec<u8>,
    /// WSGIScriptReloading: load the script again when its file changed.
    pub reload: bool,
    /// WSGIEnableSendfile for wsgi.file_wrapper; None: as EnableSendfile.
    pub sendfile: Option<bool>,
    /// WSGIErrorOverride: Apache answers the app's error statuses.
    pub error_override: bool,
    /// The scheme a trusted proxy header decided (true: https).
    pub forwarded_https: Option<bool>,
}

/// Serves the request of `exchange` with `application`. Returns the status
/// for Apache: OK once a response was sent, an HTTP error status when Apache
/// should produce the error page.
pub fn serve(py: Python<'_>, exchange: &dyn Exchange, application: &Application) -> Served {
    let script = application.script.as_path();
    python_module::note_application_group(py, &application.application_group);
    let mut tracked = python_module::request_begins(py);
    let Some(app) = load_app(py, exchange, application, application.mtime) else {
        return Served::status(status::INTERNAL_SERVER_ERROR);
    };
    application_group::note_served(&application.application_group, exchange);
    let environ = match environ::build(py, exchange, application) {
        Ok(environ) => environ,
        Err(err) => {
            let headline = exception_headline(script);
            exchange.log(
                Level::Error(LogId("RW0403")),
                &format!("{headline}\n{}", format_exception(py, &err)),
            );
            return Served::status(status::INTERNAL_SERVER_ERROR);
        }
    };

    // SAFETY: `_ended` ends the shared exchange when this function returns
    // or unwinds; until then `exchange` is used only through `shared`.
    let shared = unsafe { SharedExchange::new(exchange) };
    let _ended = EndOnDrop(shared.clone());
    let _serving = ServingGuard::new(&shared);
    let response = Arc::new(Response::new(
        shared.clone(),
        application.sendfile,
        application.error_override,
    ));
    let errors = match Bound::new(py, ErrorLog::new(shared.clone())) {
        Ok(errors) => errors,
        Err(err) => return Served::status(fail(py, &response, script, err)),
    };
    let added = Bound::new(py, Input::new(shared.clone()))
        .and_then(|input| environ.set_item(pyo3::intern!(py, "wsgi.input"), input))
        .and_then(|()| environ.set_item(pyo3::intern!(py, "wsgi.errors"), &errors));
    let status = match added {
        Ok(()) => {
            let app = match environ.cast::<PyDict>() {
                Ok(dict) => python_module::request_started(py, tracked.as_mut(), dict, app),
                Err(_) => app,
            };
            let app = new_relic_wrapped(py, exchange, app, script);
            let status = run_app(py, &app, environ, &response, script);
            python_module::request_finished(py, tracked);
            status
        }
        Err(err) => fail(py, &response, script, err),
    };
    errors.get().flush_pending();
    Served {
        status,
        deferred: (status == status::OK)
            .then(|| response.take_deferred())
            .flatten(),
    }
}

/// What serving a request left for the handler to do.
pub struct Served {
    /// The status for Apache.
    pub status: i32,
    /// A small response body to send once the GIL is released.
    pub deferred: Option<Deferred>,
}

impl Served {
    fn status(status: i32) -> Self {
        Self {
            status,
            deferred: None,
        }
    }
}

/// The application's callable, loaded (or reloaded) as needed; None, with
/// the reason logged, when it cannot be.
fn load_app<'py>(
    py: Python<'py>,
    exchange: &dyn Exchange,
    application: &Application,
    mtime: i64,
) -> Option<Bound<'py, PyAny>> {
    let script = application.script.as_path();
    let loaded = script::load(py, script, mtime, &application.callable, application.reload);
    match loaded {
        Ok(script::Loaded {
            app,
            reload_failure: None,
        }) => Some(app),
        Ok(script::Loaded {
            app,
            reload_failure: Some(err),
        }) => {
            exchange.log(
                Level::Error(LogId("RW0402")),
                &format!(
                    "mod_rwsgi (pid={}): Reloading the changed WSGI script '{}' failed; the version loaded before keeps serving until the file changes again.\n{}",
                    std::process::id(),
                    script.display(),
                    format_exception(py, &err)
                ),
            );
            Some(app)
        }
        Err(err) => {
            let headline = format!(
                "mod_rwsgi (pid={}): Failed to load WSGI script '{}'.",
                std::process::id(),
                script.display()
            );
            exchange.log(
                Level::Error(LogId("RW0401")),
                &format!("{headline}\n{}", format_exception(py, &err)),
            );
            None
        }
    }
}

struct EndOnDrop(SharedExchange);

impl Drop for EndOnDrop {
    fn drop(&mut self) {
        self.0.end();
    }
}

/// Where the New Relic agent runs in this process, the app wrapped as
/// mod_wsgi 4.9 wraps it for each request, so that the agent records the
/// request as a web transaction: `newrelic.agent.WSGIApplicationWrapper(app,
/// None)`. A wrapper that cannot be made is logged and the app is called
/// as it is.
fn new_relic_wrapped<'py>(
    py: Python<'py>,
    exchange: &dyn Exchange,
    app: Bound<'py, PyAny>,
    script: &Path,
) -> Bound<'py, PyAny> {
    let Some(wrapper) = crate::interpreter::new_relic_wrapper(py) else {
        return app;
    };
    match wrapper.call1((&app, py.None())) {
        Ok(wrapped) => wrapped,
        Err(err) => {
            exchange.log(
                Level::Error(LogId("RW0410")),
                &format!(
                    "mod_rwsgi: the New Relic agent could not wrap the application of {}; it is called unwrapped.\n{}",
                    script.display(),
                    format_exception(py, &err)
                ),
            );
            app
        }
    }
}

fn run_app(
    py: Python<'_>,
    app: &Bound<'_, PyAny>,
    environ: Bound<'_, PyAny>,
    response: &Arc<Response>,
    script: &Path,
) -> i32 {
    let start_response = match Bound::new(py, StartResponse::new(response.clone())) {
        Ok(start_response) => start_response,
        Err(err) => return fail(py, response, script, err),
    };
    let result = match app.call1((environ, start_response)) {
        Ok(result) => result,
        Err(err) => return fail(py, response, script, err),
    };
    let sent = match result.cast::<FileWrapper>() {
        Ok(wrapper) => file_wrapper::send(py, wrapper.get(), response).and_then(|sent| {
            if sent {
                Ok(())
            } else {
                send_iterable(py, &result, response)
            }
        }),
        Err(_) => send_iterable(py, &result, response),
    };
    // close() is called whatever happened while iterating (PEP 3333). A
    // list or tuple has none: asking would build and drop an AttributeError
    // on every request.
    let has_no_close =
        result.is_exact_instance_of::<PyList>() || result.is_exact_instance_of::<PyTuple>();
    let closed = if has_no_close {
        Ok(())
    } else {
        result
            .getattr_opt(pyo3::intern!(py, "close"))
            .and_then(|close| close.map_or(Ok(()), |close| close.call0().map(drop)))
    };
    match sent.and(closed).and_then(|()| response.finish(py)) {
        Ok(()) => response.overridden_status().map_or(status::OK, i32::from),
        Err(err) => fail(py, response, script, err),
    }
}

/// Sends each block of the app's iterable before asking for the next.
fn send_iterable(py: Python<'_>, result: &Bound<'_, PyAny>, response: &Response) -> PyResult<()> {
    // A one-item list or tuple has a known length: send it with a
    // Content-Length rather than chunked, in one pass without a flush.
    if let Some(item) = single_item(result) {
        let bytes = as_bytes(&item)?;
        response.set_length_if_unset(bytes.as_bytes().len() as u64);
        return response.write_only_block(py, bytes);
    }
    for item in result.try_iter()? {
        let item = item?;
        response.write(py, as_bytes(&item)?.as_bytes())?;
    }
    Ok(())
}

fn as_bytes<'a, 'py>(item: &'a Bound<'py, PyAny>) -> PyResult<&'a Bound<'py, PyBytes>> {
    item.cast::<PyBytes>().map_err(|_| {
        pyo3::exceptions::PyTypeError::new_err(format!(
            "sequence of byte string values expected, value of type {} found",
            type_name(item)
        ))
    })
}

fn single_item<'py>(result: &Bound<'py, PyAny>) -> Option<Bound<'py, PyAny>> {
    // Exactly a list or tuple: a subclass may iterate differently.
    if let Ok(list) = result.cast_exact::<PyList>() {
        return (list.len() == 1).then(|| list.get_item(0).ok()).flatten();
    }
    let tuple = result.cast_exact::<PyTuple>().ok()?;
    (tuple.len() == 1).then(|| tuple.get_item(0).ok()).flatten()
}

fn type_name(object: &Bound<'_, PyAny>) -> String {
    object
        .get_type()
        .name()
        .map(|name| name.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// Handles an exception from the app: before any output, Apache sends a 500;
/// after output, the response is cut short so the client can tell.
fn fail(py: Python<'_>, response: &Response, script: &Path, err: PyErr) -> i32 {
    if response.client_gone() {
        response.log(
            Level::Info,
            "mod_rwsgi: the client closed the connection before the response was complete",
        );
    } else {
        response.log(
            Level::Error(LogId("RW0404")),
            &format!(
                "{}\n{}",
                exception_headline(script),
                format_exception(py, &err)
            ),
        );
    }
    if response.headers_sent() {
        response.abort(py);
        status::OK
    } else if err.is_instance_of::<RequestTimeout>(py) {
        status::GATEWAY_TIMEOUT
    } else {
        status::INTERNAL_SERVER_ERROR
    }
}

/// The first log line of an app's exception, worded as mod_wsgi words it.
fn exception_headline(script: &Path) -> String {
    format!(
        "mod_rwsgi (pid={}): Exception occurred processing WSGI script '{}'.",
        std::process::id(),
        script.display()
    )
}

/// The exception with its traceback, as Python would print it.
fn format_exception(py: Python<'_>, err: &PyErr) -> String {
    let formatted = py.import("traceback").and_then(|traceback| {
        traceback.call_method1(
            "format_exception",
            (err.get_type(py), err.value(py), err.traceback(py)),
        )
    });
    match formatted.and_then(|lines| lines.extract::<Vec<String>>()) {
        Ok(lines) => lines.concat(),
        Err(_) => err.to_string(),
    }
}

/// Now, in microseconds since the epoch: the form of mod_wsgi's times
/// (`mod_wsgi.request_start` and the rest).
pub fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// `n` in decimal, written into `buf` (no allocation, and none of
/// core::fmt's machinery: this runs several times per request). Twenty
/// bytes hold any i64, i64::MIN's sign included.
pub fn decimal(n: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    let mut rest = n.unsigned_abs();
    loop {
        at -= 1;
        buf[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if n < 0 {
        at -= 1;
        buf[at] = b'-';
    }
    &buf[at..]
}

/// Decodes bytes as latin-1, which PEP 3333 requires for every CGI value.
fn latin1<'py>(py: Python<'py>, bytes: &[u8]) -> PyResult<Bound<'py, PyString>> {
    // SAFETY: the pointer and length describe `bytes`; the result is a new
    // reference or NULL with an exception set, which from_owned_ptr_or_err
    // turns into PyErr.
    unsafe {
        let raw = pyo3::ffi::PyUnicode_DecodeLatin1(
            bytes.as_ptr().cast(),
            bytes.len() as isize,
            std::ptr::null(),
        );
        Ok(Bound::from_owned_ptr_or_err(py, raw)?.cast_into_unchecked())
    }
}

/// The exception raised when the app uses a per-request object (wsgi.input,
/// wsgi.errors, start_response, write) after its request has ended.
fn request_ended(what: &str) -> PyErr {
    PyRuntimeError::new_err(format!(
        "mod_rwsgi: {what} was used after its request had ended"
    ))
}

#[cfg(test)]
mod tests {
    use super::decimal;

    #[test]
    fn decimal_writes_what_format_writes_for_every_kind_of_i64() {
        for n in [0, 7, -1, 10, 1_764_669_600_123_456, i64::MAX, i64::MIN] {
            let mut buf = [0u8; 20];
            assert_eq!(decimal(n, &mut buf), n.to_string().as_bytes(), "{n}");
        }
    }
}
