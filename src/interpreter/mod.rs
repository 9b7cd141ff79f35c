//! The embedded CPython interpreter's life in an Apache child: initialised
//! once per child after fork (never in the parent) as the WSGIPython*
//! directives say, the GIL released at once, and one Python thread state
//! kept per Apache thread for its life.

use std::cell::Cell;
use std::ffi::{CString, c_int};
use std::mem::MaybeUninit;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::OnceLock;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyDict;

mod gil_turns;

use crate::apache::{Level, LogId, Server};
use crate::config::{NewRelic, ProcessSettings, PythonHome};
use gil_turns::GilTurns;

/// Request threads' turns at the GIL (see gil_turns).
static GIL_TURNS: GilTurns = GilTurns::new();

/// Restrictions and sys.path additions applied in each child.
const CHILD_SETUP: &str = include_str!("child_setup.py");

/// Set once when the process starts Python: Ok, or why Python could not
/// start (then every request is answered 500 with this reason logged).
static INTERPRETER: OnceLock<Result<(), String>> = OnceLock::new();

/// Initialises Python in this process (`place`: an Apache "child", or a
/// "daemon process"), once, on its main thread before it starts any other; then runs
/// `prepare` (which points the standard streams somewhere useful) and
/// applies the settings that need Python running.
pub fn start(
    server: Server,
    place: &str,
    settings: &ProcessSettings,
    prepare: impl FnOnce(Python<'_>) -> PyResult<()>,
) {
    let outcome = INTERPRETER.get_or_init(|| {
        // SAFETY: called once per process, on its main thread, before any
        // other thread exists; Python is not initialised yet.
        unsafe { initialize(settings) }
    });
    if outcome.is_ok() {
        let set_up = with_python(|py| {
            prepare(py)
                .and_then(|()| run_child_setup(py, settings))
                .map_err(|e| e.to_string())
        });
        if let Ok(Err(reason)) = set_up {
            server.log(
                Level::Error(LogId("RW0301")),
                &format!("mod_rwsgi: setting up Python in this child failed: {reason}"),
            );
        }
    }
    match outcome {
        Ok(()) => server.log(
            Level::Info,
            &format!(
                "mod_rwsgi: Python {} initialised in {place} {}",
                python_version(),
                std::process::id()
            ),
        ),
        Err(reason) => server.log(
            Level::Error(LogId("RW0302")),
            &format!("mod_rwsgi: Python could not be initialised: {reason}"),
        ),
    }
    if outcome.is_ok() {
        start_new_relic(server, &settings.new_relic);
    }
}

/// The agent's `WSGIApplicationWrapper`, kept once the New Relic agent is
/// initialised in this process, so that wrapping each request's app needs
/// no import.
static NEW_RELIC_WRAPPER: OnceLock<Py<PyAny>> = OnceLock::new();

/// Where the New Relic agent runs in this process, what the gateway wraps
/// each request's app in.
pub fn new_relic_wrapper(py: Python<'_>) -> Option<&Bound<'_, PyAny>> {
    NEW_RELIC_WRAPPER.get().map(|wrapper| wrapper.bind(py))
}

/// Initialises the New Relic agent, as mod_wsgi 4.9 does when Python starts
/// in a process: `newrelic.agent.initialize(config_file, environment)`. A
/// failure costs the monitoring, not the process.
fn start_new_relic(server: Server, new_relic: &NewRelic) {
    let Some(file) = &new_relic.config_file else {
        return;
    };
    let started = with_python(|py| {
        py.import("newrelic.agent")
            .and_then(|agent| {
                agent.call_method1(
                    "initialize",
                    (file.as_os_str(), new_relic.environment.as_deref()),
                )?;
                agent.getattr("WSGIApplicationWrapper")
            })
            .map(|wrapper| {
                let _ = NEW_RELIC_WRAPPER.set(wrapper.unbind());
            })
            .map_err(|e| e.to_string())
    });
    let pid = std::process::id();
    match started {
        Ok(Ok(())) => server.log(
            Level::Info,
            &format!(
                "mod_rwsgi (pid={pid}): initialised the New Relic agent with {}",
                file.display()
            ),
        ),
        Ok(Err(reason)) => server.log(
            Level::Warning(LogId("RW0304")),
            &format!(
                "mod_rwsgi (pid={pid}): the New Relic agent could not be initialised with {}, so this process serves without it: {reason}",
                file.display()
            ),
        ),
        // Python itself is missing: RW0302 said why.
        Err(Unavailable(_)) => {}
    }
}

/// Applies WSGIPythonPath and the WSGIRestrict* directives.
fn run_child_setup(py: Python<'_>, settings: &ProcessSettings) -> PyResult<()> {
    let globals = PyDict::new(py);
    let python_path: Vec<String> = settings
        .python_path
        .iter()
        .map(|dir| dir.display().to_string())
        .collect();
    globals.set_item("python_path", python_path)?;
    globals.set_item("restrict_stdin", settings.restrict_stdin.unwrap_or(false))?;
    globals.set_item("restrict_stdout", settings.restrict_stdout.unwrap_or(false))?;
    globals.set_item("restrict_signal", settings.restrict_signal.unwrap_or(true))?;
    // The warning the script writes to sys.stderr (logged as written, like
    // any stderr line) carries its identifier like the module's others.
    globals.set_item("ignored_signal_id", LogId("RW0303").0)?;
    let code = CString::new(CHILD_SETUP).expect("child_setup.py has no NUL byte");
    py.run(&code, Some(&globals), None)
}

fn status_message(status: &ffi::PyStatus) -> String {
    if status.err_msg.is_null() {
        "unknown error".to_string()
    } else {
        // SAFETY: a PyStatus error message is a static C string.
        unsafe { std::ffi::CStr::from_ptr(status.err_msg) }
            .to_string_lossy()
            .into_owned()
    }
}

/// Sets a path-valued PyConfig field, decoded as Python decodes paths.
///
/// # Safety
/// `config` was initialised by PyConfig_InitPythonConfig and `field` is one
/// of its string fields.
unsafe fn set_path(
    config: &mut ffi::PyConfig,
    field: *mut *mut libc::wchar_t,
    path: &Path,
) -> Result<(), String> {
    let bytes = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| format!("{} contains a NUL byte", path.display()))?;
    // SAFETY: per the contract; the bytes are copied.
    let status = unsafe { ffi::PyConfig_SetBytesString(config, field, bytes.as_ptr()) };
    // SAFETY: reading the status just returned.
    if unsafe { ffi::PyStatus_Exception(status) } != 0 {
        return Err(format!("{}: {}", path.display(), status_message(&status)));
    }
    Ok(())
}

/// Puts WSGIPython* settings into the PyConfig, before Python starts.
///
/// # Safety
/// `config` was initialised by PyConfig_InitPythonConfig.
unsafe fn apply_settings(
    config: &mut ffi::PyConfig,
    settings: &ProcessSettings,
) -> Result<(), String> {
    match &settings.python_home {
        Some(PythonHome::Prefix(prefix)) => {
            let field = &raw mut config.home;
            // SAFETY: per the contract; `home` is a string field.
            unsafe { set_path(config, field, prefix) }?;
        }
        Some(PythonHome::Venv(venv)) => {
            // Start as the venv's own python would: Python then finds
            // pyvenv.cfg next to it, and sys.prefix is the venv.
            let field = &raw mut config.program_name;
            // SAFETY: per the contract; `program_name` is a string field.
            unsafe { set_path(config, field, &venv.join("bin/python")) }?;
        }
        None => {}
    }
    if let Some(level) = settings.optimize {
        config.optimization_level = c_int::from(level);
    }
    if let Some(seed) = settings.hash_seed {
        config.use_hash_seed = 1;
        config.hash_seed = seed.into();
    }
    if settings.dont_write_bytecode {
        config.write_bytecode = 0;
    }
    for option in &settings.warnings {
        // wchar_t is UTF-32 on the platforms Apache runs on here.
        let wide: Vec<libc::wchar_t> = option
            .chars()
            .map(|c| c as libc::wchar_t)
            .chain(std::iter::once(0))
            .collect();
        // SAFETY: the list belongs to the initialised config; the string is
        // NUL-terminated and copied.
        let status =
            unsafe { ffi::PyWideStringList_Append(&mut config.warnoptions, wide.as_ptr()) };
        // SAFETY: reading the status just returned.
        if unsafe { ffi::PyStatus_Exception(status) } != 0 {
            return Err(format!(
                "WSGIPythonWarnings {option}: {}",
                status_message(&status)
            ));
        }
    }
    Ok(())
}

/// # Safety
/// Must run once, before any other Python use, on the child's main thread.
unsafe fn initialize(settings: &ProcessSettings) -> Result<(), String> {
    if let Some(eggs) = &settings.python_eggs {
        // SAFETY: child_init runs before the child starts any thread.
        unsafe { std::env::set_var("PYTHON_EGG_CACHE", eggs) };
    }
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
        if let Err(message) = apply_settings(config, settings) {
            ffi::PyConfig_Clear(config);
            return Err(message);
        }
        let status = ffi::Py_InitializeFromConfig(config);
        ffi::PyConfig_Clear(config);
        if ffi::PyStatus_Exception(status) != 0 {
            return Err(status_message(&status));
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

thread_local! {
    static THREAD_STATE_KEPT: Cell<bool> = const { Cell::new(false) };
    /// Inside with_python on this thread.
    static IN_PYTHON: Cell<bool> = const { Cell::new(false) };
    /// Inside with_python on this thread, waiting for the GIL included.
    static WITHIN: Cell<bool> = const { Cell::new(false) };
}

/// Whether this thread is in a with_python call (or waiting to be): code
/// that runs where it may have interrupted one (a cleanup Apache runs
/// from a signal handler) must not call into Python.
pub fn within_python_call() -> bool {
    WITHIN.get()
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
    if IN_PYTHON.get() {
        // A nested call: waiting for a turn could wait on this very thread.
        return Ok(Python::attach(f));
    }
    WITHIN.set(true);
    let _out = OnDrop(|| WITHIN.set(false));
    let entry = GIL_TURNS.enter();
    Ok(Python::attach(|py| {
        entry.got_gil();
        IN_PYTHON.set(true);
        let _out = OnDrop(|| IN_PYTHON.set(false));
        f(py)
    }))
}

/// Runs its closure when dropped, on unwinding too.
struct OnDrop<F: FnMut()>(F);

impl<F: FnMut()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}
