//! The `mod_wsgi` module apps import, also as `mod_rwsgi`: put in
//! sys.modules when Python starts (there is no file), with what mod_wsgi
//! 4.9 gives there: what this process is, callbacks on each request and at
//! the process's end, the data of the request in progress, and metrics.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use pyo3::exceptions::{PyNotImplementedError, PyRuntimeError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyModule, PyTuple};

use super::environ::{MOD_WSGI_VERSION, process_facts};
use super::errors::log_for_thread;
use super::file_wrapper::FileWrapper;
use super::{RequestTimeout, format_exception, latin1, metrics};
use crate::apache::{Level, LogId};

/// What the module holds that requests use.
struct Registered {
    module: Py<PyModule>,
    event_callbacks: Py<PyList>,
    shutdown_callbacks: Py<PyList>,
    active_requests: Py<PyDict>,
}

static REGISTERED: PyOnceLock<Registered> = PyOnceLock::new();
/// Whether `application_group` has been set from the first request.
static GROUP_SET: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// `request_data()`: the dict of the request this thread serves.
    static REQUEST_DATA: RefCell<Option<Py<PyDict>>> = const { RefCell::new(None) };
}

/// Makes the module and puts it in sys.modules as `mod_wsgi` and
/// `mod_rwsgi`. Called once per process, when Python starts.
pub fn install(py: Python<'_>) -> PyResult<()> {
    let facts = process_facts();
    let module = PyModule::new(py, "mod_wsgi")?;
    module.add("version", PyTuple::new(py, MOD_WSGI_VERSION)?)?;
    module.add("process_group", &facts.process_group)?;
    // Known at the first request: one application group per process.
    module.add("application_group", "")?;
    module.add("maximum_processes", facts.processes)?;
    module.add("threads_per_process", facts.threads)?;
    let event_callbacks = PyList::empty(py);
    let shutdown_callbacks = PyList::empty(py);
    let active_requests = PyDict::new(py);
    module.add("event_callbacks", &event_callbacks)?;
    module.add("shutdown_callbacks", &shutdown_callbacks)?;
    module.add("active_requests", &active_requests)?;
    module.add_class::<FileWrapper>()?;
    module.add("RequestTimeout", py.get_type::<RequestTimeout>())?;
    module.add_function(wrap_pyfunction!(subscribe_events, &module)?)?;
    module.add_function(wrap_pyfunction!(subscribe_shutdown, &module)?)?;
    module.add_function(wrap_pyfunction!(request_data, &module)?)?;
    module.add_function(wrap_pyfunction!(process_metrics, &module)?)?;
    module.add_function(wrap_pyfunction!(server_metrics, &module)?)?;
    module.add_function(wrap_pyfunction!(request_metrics, &module)?)?;
    let modules = py.import("sys")?.getattr("modules")?;
    modules.set_item("mod_wsgi", &module)?;
    modules.set_item("mod_rwsgi", &module)?;
    let _ = REGISTERED.set(
        py,
        Registered {
            module: module.unbind(),
            event_callbacks: event_callbacks.unbind(),
            shutdown_callbacks: shutdown_callbacks.unbind(),
            active_requests: active_requests.unbind(),
        },
    );
    Ok(())
}

/// Sets `application_group` the first time a request names it: each
/// process serves one group in its interpreter.
pub fn note_application_group(py: Python<'_>, group: &[u8]) {
    if GROUP_SET.load(Ordering::Relaxed) {
        return;
    }
    if let (Some(registered), Ok(name)) = (REGISTERED.get(py), latin1(py, group)) {
        if registered
            .module
            .bind(py)
            .setattr("application_group", name)
            .is_ok()
        {
            GROUP_SET.store(true, Ordering::Relaxed);
        }
    }
}

/// A request from before its script is loaded to its end. Dropping it
/// (unwinding too) takes the request out of `active_requests` and
/// `request_data()`.
pub struct Tracked {
    /// Its key in `active_requests`, once request_started put it there.
    key: Option<Py<PyAny>>,
    data: Py<PyDict>,
    /// When the app was called.
    began: Instant,
    _active: metrics::Active,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if let Some(key) = &self.key {
            Python::attach(|py| {
                if let Some(registered) = REGISTERED.get(py) {
                    let _ = registered.active_requests.bind(py).del_item(key);
                }
            });
        }
        REQUEST_DATA.with(|current| current.borrow_mut().take());
    }
}

/// Gives the request its `request_data()` dict before its script is
/// loaded: as under mod_wsgi, code run at the script's import sees it.
pub fn request_begins(py: Python<'_>) -> Option<Tracked> {
    REGISTERED.get(py)?;
    let data = PyDict::new(py);
    REQUEST_DATA.with(|current| *current.borrow_mut() = Some(data.clone().unbind()));
    Some(Tracked {
        key: None,
        data: data.unbind(),
        began: Instant::now(),
        _active: metrics::request_active(),
    })
}

/// Registers the request whose environ this is in `active_requests`, and
/// publishes `request_started`. Returns the app to call: a callback may
/// replace it (`application_object`), as with mod_wsgi.
pub fn request_started<'py>(
    py: Python<'py>,
    tracked: Option<&mut Tracked>,
    environ: &Bound<'py, PyDict>,
    app: Bound<'py, PyAny>,
) -> Bound<'py, PyAny> {
    let (Some(tracked), Some(registered)) = (tracked, REGISTERED.get(py)) else {
        return app;
    };
    tracked.began = Instant::now();
    let data = tracked.data.bind(py);
    let key = match environ.get_item(intern!(py, "mod_wsgi.request_id")) {
        Ok(Some(id)) => id,
        _ => environ
            .get_item(intern!(py, "mod_wsgi.total_requests"))
            .ok()
            .flatten()
            .unwrap_or_else(|| py.None().into_bound(py)),
    };
    if registered
        .active_requests
        .bind(py)
        .set_item(&key, data)
        .is_ok()
    {
        tracked.key = Some(key.clone().unbind());
    }
    let mut app = app;
    let callbacks = registered.event_callbacks.bind(py);
    if !callbacks.is_empty() {
        let event = PyDict::new(py);
        let filled = event
            .set_item("request_id", &key)
            .and_then(|()| {
                let thread_id = environ.get_item(intern!(py, "mod_wsgi.thread_id"))?;
                event.set_item("thread_id", thread_id)
            })
            .and_then(|()| event.set_item("application_object", &app))
            .and_then(|()| event.set_item("request_environ", environ))
            .and_then(|()| event.set_item("application_start", metrics::wall_time()))
            .and_then(|()| event.set_item("request_data", data));
        if filled.is_ok() {
            publish(py, "request_started", &event, &[callbacks]);
            if let Ok(Some(replaced)) = event.get_item("application_object") {
                app = replaced;
            }
        }
    }
    app
}

/// Counts the request as finished, publishes `request_finished`, and
/// takes it out of `active_requests` and `request_data()`.
pub fn request_finished(py: Python<'_>, tracked: Option<Tracked>) {
    let Some(tracked) = tracked else { return };
    let busy = tracked.began.elapsed();
    metrics::request_finished(busy);
    let Some(registered) = REGISTERED.get(py) else {
        return;
    };
    let callbacks = registered.event_callbacks.bind(py);
    if !callbacks.is_empty() {
        let finish = metrics::wall_time();
        let event = PyDict::new(py);
        let filled = event
            .set_item("request_id", &tracked.key)
            .and_then(|()| event.set_item("application_start", finish - busy.as_secs_f64()))
            .and_then(|()| event.set_item("application_finish", finish))
            .and_then(|()| event.set_item("application_time", busy.as_secs_f64()))
            .and_then(|()| event.set_item("request_data", &tracked.data));
        if filled.is_ok() {
            publish(py, "request_finished", &event, &[callbacks]);
        }
    }
}

/// Publishes `process_stopping` to the event callbacks, then calls the
/// shutdown callbacks, as the process ends (Apache stops or recycles it).
pub fn process_stopping(py: Python<'_>, reason: &str) {
    let Some(registered) = REGISTERED.get(py) else {
        return;
    };
    let event = PyDict::new(py);
    if event.set_item("shutdown_reason", reason).is_ok() {
        let events = registered.event_callbacks.bind(py);
        let shutdown = registered.shutdown_callbacks.bind(py);
        publish(py, "process_stopping", &event, &[events, shutdown]);
    }
}

/// Calls each callback with the event's name and its items as keyword
/// arguments; a dict a callback returns is merged into the event. One
/// that raises is logged, and the others still run.
fn publish(py: Python<'_>, name: &str, event: &Bound<'_, PyDict>, lists: &[&Bound<'_, PyList>]) {
    for list in lists {
        // A copy: a callback may subscribe others while it runs.
        let callbacks: Vec<Bound<'_, PyAny>> = list.iter().collect();
        for callback in callbacks {
            match callback.call((name,), Some(event)) {
                Ok(returned) => {
                    if let Ok(returned) = returned.cast::<PyDict>() {
                        let _ = event.update(returned.as_mapping());
                    }
                }
                Err(err) => log_for_thread(
                    Level::Error(LogId("RW0406")),
                    &format!(
                        "mod_rwsgi (pid={}): Exception occurred within event callback.\n{}",
                        std::process::id(),
                        format_exception(py, &err)
                    ),
                ),
            }
        }
    }
}

/// Adds `callback`, called as `callback(name, **event)` for
/// request_started, request_finished and process_stopping.
#[pyfunction]
fn subscribe_events(py: Python<'_>, callback: Bound<'_, PyAny>) -> PyResult<()> {
    subscribe(py, callback, |registered| &registered.event_callbacks)
}

/// Adds `callback`, called as `callback("process_stopping", **event)`
/// when the process ends.
#[pyfunction]
fn subscribe_shutdown(py: Python<'_>, callback: Bound<'_, PyAny>) -> PyResult<()> {
    subscribe(py, callback, |registered| &registered.shutdown_callbacks)
}

fn subscribe(
    py: Python<'_>,
    callback: Bound<'_, PyAny>,
    list: impl Fn(&Registered) -> &Py<PyList>,
) -> PyResult<()> {
    let registered = REGISTERED
        .get(py)
        .ok_or_else(|| PyRuntimeError::new_err("mod_wsgi is not set up in this process"))?;
    list(registered).bind(py).append(callback)
}

/// The dict of the request this thread serves, shared with its events.
#[pyfunction]
fn request_data(py: Python<'_>) -> PyResult<Py<PyDict>> {
    REQUEST_DATA
        .with(|current| current.borrow().as_ref().map(|data| data.clone_ref(py)))
        .ok_or_else(|| PyRuntimeError::new_err("no active request for thread"))
}

/// The process's counts, under mod_wsgi's names.
#[pyfunction]
fn process_metrics(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let snapshot = metrics::snapshot();
    let (max_rss, user_time, system_time) = metrics::resource_usage();
    let metrics = PyDict::new(py);
    metrics.set_item("pid", std::process::id())?;
    metrics.set_item("request_busy_time", snapshot.busy.as_secs_f64())?;
    metrics.set_item("request_count", snapshot.requests_finished)?;
    metrics.set_item("memory_max_rss", max_rss)?;
    metrics.set_item("memory_rss", metrics::resident_bytes().unwrap_or(0))?;
    metrics.set_item("cpu_user_time", user_time)?;
    metrics.set_item("cpu_system_time", system_time)?;
    metrics.set_item("restart_time", snapshot.start_time)?;
    metrics.set_item("current_time", metrics::wall_time())?;
    metrics.set_item("running_time", snapshot.running.as_secs())?;
    metrics.set_item("request_threads", snapshot.threads.len())?;
    metrics.set_item("active_requests", snapshot.requests_active)?;
    let threads = PyList::empty(py);
    for (thread_id, request_count) in snapshot.threads {
        let thread = PyDict::new(py);
        thread.set_item("thread_id", thread_id)?;
        thread.set_item("request_count", request_count)?;
        threads.append(thread)?;
    }
    metrics.set_item("threads", threads)?;
    Ok(metrics)
}

/// None, as mod_wsgi answers where Apache's scoreboard is out of its
/// reach (daemon mode): mod_rwsgi does not read the scoreboard.
#[pyfunction]
fn server_metrics() -> Option<()> {
    None
}

#[pyfunction]
fn request_metrics() -> PyResult<()> {
    Err(PyNotImplementedError::new_err(
        "mod_rwsgi does not provide mod_wsgi.request_metrics(); \
         mod_wsgi.process_metrics() and request events (subscribe_events) are provided",
    ))
}
