//! The embedded CPython interpreter's life in an Apache child: initialised
//! once per child after fork (never in the parent), the GIL released at
//! once, and one Python thread state kept per Apache thread for its life.

use std::cell::Cell;
use std::mem::MaybeUninit;
use std::sync::OnceLock;

use pyo3::ffi;
use pyo3::prelude::*;

use crate::apache::{Level, Mpm, Server};

/// Set once in child_init: Ok with what the MPM is, or why Python could not
/// start (then every request is answered 500 with this reason logged).
static INTERPRETER: OnceLock<Result<Mpm, String>> = OnceLock::new();

/// Initialises Python in this child. Called from Apache's child_init hook.
pub fn start_in_child(server: Server) {
    let outcome = INTERPRETER.get_or_init(|| {
        // SAFETY: child_init runs once per child, on its main thread, before
        // any worker thread exists; Python is not initialised yet.
        unsafe { initialize() }.map(|()| Mpm::query())
    });
    if outcome.is_ok() {
        let redirected =
            with_python(|py| crate::wsgi::redirect_standard_streams(py).map_err(|e| e.to_string()));
        if let Ok(Err(reason)) = redirected {
            server.log(
                Level::Warning,
                &format!("mod_rwsgi: sys.stdout/sys.stderr could not be redirected: {reason}"),
            );
        }
    }
    match outcome {
        Ok(_) => server.log(
            Level::Info,
            &format!(
                "mod_rwsgi: Python {} initialised in child {}",
                python_version(),
                std::process::id()
            ),
        ),
        Err(reason) => server.log(
            Level::Error,
            &format!("mod_rwsgi: Python could not be initialised: {reason}"),
        ),
    }
}

/// # Safety
/// Must run once, before any other Python use, on the child's main thread.
unsafe fn initialize() -> Result<(), String> {
    let mut config = MaybeUninit::<ffi::PyConfig>::uninit();
    // SAFETY: PyConfig_InitPythonConfig fills the whole struct; the status
    // checks below follow the documented PyConfig protocol, and the config is
    // cleared on every path.
    unsafe {
        ffi::PyConfig_InitPythonConfig(config.as_mut_ptr());
        let config = config.assume_init_mut();
        // Apache owns signals; Python must not install handlers in a child.
        config.install_signal_handlers = 0;
        config.parse_argv = 0;
        let status = ffi::Py_InitializeFromConfig(config);
        ffi::PyConfig_Clear(config);
        if ffi::PyStatus_Exception(status) != 0 {
            let message = if status.err_msg.is_null() {
                "unknown error".to_string()
            } else {
                std::ffi::CStr::from_ptr(status.err_msg)
                    .to_string_lossy()
                    .into_owned()
            };
            return Err(message);
        }
        // Apps read sys.argv[0]; mod_wsgi sets it to its own name.
        let sys = ffi::PyImport_ImportModule(c"sys".as_ptr());
        if !sys.is_null() {
            let argv = ffi::Py_BuildValue(c"[s]".as_ptr(), c"mod_rwsgi".as_ptr());
            if !argv.is_null() {
                ffi::PyObject_SetAttrString(sys, c"argv".as_ptr(), argv);
                ffi::Py_DecRef(argv);
            }
            ffi::Py_DecRef(sys);
        }
        ffi::PyErr_Clear();
        // Release the GIL; the main thread state stays for the child's life.
        ffi::PyEval_SaveThread();
    }
    Ok(())
}

fn python_version() -> String {
    // SAFETY: Py_GetVersion returns a static string and needs no GIL.
    let version = unsafe { std::ffi::CStr::from_ptr(ffi::Py_GetVersion()) };
    version
        .to_string_lossy()
        .split_whitespace()
        .next()
        .unwrap_or("?")
        .to_string()
}

/// Python is not available in this child; the reason is in the error log.
#[derive(Debug)]
pub struct Unavailable(pub String);

/// What the MPM running this child is (for wsgi.multithread/multiprocess).
pub fn mpm() -> Option<Mpm> {
    INTERPRETER
        .get()
        .and_then(|outcome| outcome.as_ref().ok().copied())
}

thread_local! {
    static THREAD_STATE_KEPT: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` holding the GIL, on this thread's own long-lived thread state.
pub fn with_python<R>(f: impl for<'py> FnOnce(Python<'py>) -> R) -> Result<R, Unavailable> {
    match INTERPRETER.get() {
        Some(Ok(_)) => {}
        Some(Err(reason)) => {
            return Err(Unavailable(format!(
                "Python could not be initialised: {reason}"
            )));
        }
        None => {
            return Err(Unavailable(
                "Python was not initialised in this process (child_init did not run)".into(),
            ));
        }
    }
    THREAD_STATE_KEPT.with(|kept| {
        if !kept.get() {
            // SAFETY: Python is initialised. PyGILState_Ensure creates this
            // thread's state and takes the GIL; never releasing that
            // reference keeps the state (and threading.local data) alive for
            // the thread's life, so each later attach only takes the GIL.
            unsafe {
                ffi::PyGILState_Ensure();
                ffi::PyEval_SaveThread();
            }
            kept.set(true);
        }
    });
    Ok(Python::attach(f))
}
