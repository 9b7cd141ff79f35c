//! Loading WSGI scripts: each script file is executed once per process as a
//! module of its own (as mod_wsgi does), kept, and executed again when its
//! modification time changes.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use pyo3::exceptions::{PyAttributeError, PyOSError};
use pyo3::prelude::*;
use pyo3::sync::MutexExt;
use pyo3::types::{PyBytes, PyModule, PyString};

struct LoadedScript {
    mtime: i64,
    module: Py<PyModule>,
    /// The modification time and length of a changed file that failed to
    /// execute: not tried again until the file changes once more. The
    /// length tells a file caught between its truncation and its write (an
    /// in-place rewrite, stamped with the same coarse time) from its final
    /// content.
    failed: Option<(i64, u64)>,
}

/// A script's callable, and why a changed version of the script could not
/// replace the loaded one (which then keeps serving).
pub struct Loaded<'py> {
    pub app: Bound<'py, PyAny>,
    pub reload_failure: Option<PyErr>,
}

/// Scripts loaded in this process, by path. The lock is also held while a
/// script executes, so two threads never load the same script at once; it
/// is taken with the GIL released so it cannot deadlock against it.
static SCRIPTS: Mutex<Option<HashMap<PathBuf, LoadedScript>>> = Mutex::new(None);

/// The app callable `callable` of the script at `path`, whose modification
/// time Apache found to be `mtime`.
pub fn load<'py>(
    py: Python<'py>,
    path: &Path,
    mtime: i64,
    callable: &str,
    reload: bool,
) -> PyResult<Loaded<'py>> {
    let (module, reload_failure) = module_for(py, path, mtime, reload, Some(callable))?;
    let app = app_of(&module, path, callable)?;
    Ok(Loaded {
        app,
        reload_failure,
    })
}

/// The modification time of the loaded version of `path`, if loaded.
pub fn loaded_mtime(path: &Path) -> Option<i64> {
    let scripts = SCRIPTS.lock().unwrap_or_else(|e| e.into_inner());
    scripts.as_ref()?.get(path).map(|loaded| loaded.mtime)
}

/// Executes the script at `path` now, unless it is loaded already
/// (WSGIImportScript): requests for it then find it loaded.
pub fn preload(py: Python<'_>, path: &Path) -> PyResult<()> {
    let mtime = file_mtime(path).map_err(PyOSError::new_err)?;
    module_for(py, path, mtime, true, None).map(drop)
}

/// The modification time of `path` as Apache's stat() reports it
/// (microseconds), so that a request for it does not take it for changed.
pub fn file_mtime(path: &Path) -> Result<i64, String> {
    let metadata = std::fs::metadata(path)
        .map_err(|e| format!("cannot read WSGI script '{}': {e}", path.display()))?;
    Ok(metadata.mtime() * 1_000_000 + metadata.mtime_nsec() / 1000)
}

fn app_of<'py>(
    module: &Bound<'py, PyModule>,
    path: &Path,
    callable: &str,
) -> PyResult<Bound<'py, PyAny>> {
    // Looked up in the module's dict, as mod_wsgi does (a module-level
    // __getattr__ does not make an application); the usual name is interned.
    let name = if callable == "application" {
        pyo3::intern!(module.py(), "application").clone()
    } else {
        PyString::new(module.py(), callable)
    };
    module.dict().get_item(name)?.ok_or_else(|| {
        PyAttributeError::new_err(format!(
            "Target WSGI script '{}' does not contain WSGI application '{callable}'.",
            path.display()
        ))
    })
}

/// The script's module: the loaded one, or the script executed (again)
/// when it is new, or changed and `reload` allows. A changed script that
/// fails to execute or lacks `callable` (a half-written file during a
/// deploy, a syntax error) leaves the loaded version serving; the failure
/// comes back with it.
fn module_for<'py>(
    py: Python<'py>,
    path: &Path,
    mtime: i64,
    reload: bool,
    callable: Option<&str>,
) -> PyResult<(Bound<'py, PyModule>, Option<PyErr>)> {
    let mut scripts = SCRIPTS
        .lock_py_attached(py)
        .unwrap_or_else(|e| e.into_inner());
    let scripts = scripts.get_or_insert_with(HashMap::new);
    if let Some(loaded) = scripts.get_mut(path) {
        let failed_as_is = |(failed_mtime, length)| {
            failed_mtime == mtime && std::fs::metadata(path).is_ok_and(|m| m.len() == length)
        };
        let current = loaded.mtime == mtime || !reload || loaded.failed.is_some_and(failed_as_is);
        if current {
            return Ok((loaded.module.bind(py).clone(), None));
        }
        let source = read(path)?;
        let length = source.len() as u64;
        let executed = execute(py, path, &source).and_then(|module| match callable {
            Some(callable) => app_of(&module, path, callable).map(|_| module),
            None => Ok(module),
        });
        return match executed {
            Ok(module) => {
                loaded.mtime = mtime;
                loaded.module = module.clone().unbind();
                loaded.failed = None;
                Ok((module, None))
            }
            Err(err) => {
                loaded.failed = Some((mtime, length));
                let module = loaded.module.bind(py).clone();
                // The version still serving stays importable by its name.
                py.import("sys")?
                    .getattr("modules")?
                    .set_item(module_name(path), &module)?;
                Ok((module, Some(err)))
            }
        };
    }
    let module = execute(py, path, &read(path)?)?;
    scripts.insert(
        path.to_path_buf(),
        LoadedScript {
            mtime,
            module: module.clone().unbind(),
            failed: None,
        },
    );
    Ok((module, None))
}

/// mod_wsgi names a script's module after a hash of its path, so that two
/// scripts never share a module and the name is stable across processes.
fn module_name(path: &Path) -> String {
    let mut hasher = DefaultHasher::new();
    path.hash(&mut hasher);
    format!("_rwsgi_{:016x}", hasher.finish())
}

fn read(path: &Path) -> PyResult<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        PyOSError::new_err(format!("cannot read WSGI script '{}': {e}", path.display()))
    })
}

fn execute<'py>(py: Python<'py>, path: &Path, source: &[u8]) -> PyResult<Bound<'py, PyModule>> {
    let name = module_name(path);
    let filename = path.to_string_lossy();
    let module = PyModule::new(py, &name)?;
    module.setattr("__file__", &*filename)?;
    let builtins = py.import("builtins")?;
    // Compiling from bytes honours the script's coding declaration.
    let code = builtins.getattr("compile")?.call1((
        PyBytes::new(py, source),
        &*filename,
        "exec",
        0,
        true,
    ))?;
    let modules = py.import("sys")?.getattr("modules")?;
    let previous = modules.get_item(&name).ok();
    modules.set_item(&name, &module)?;
    if let Err(err) = builtins.getattr("exec")?.call1((code, module.dict())) {
        // The version still serving (if any) stays importable by name.
        let _ = match previous {
            Some(previous) => modules.set_item(&name, previous),
            None => modules.del_item(&name),
        };
        return Err(err);
    }
    Ok(module)
}
