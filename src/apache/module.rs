//! The module structure Apache loads, and the guard every trampoline runs
//! our code under: a panic must never unwind into Apache (it would abort
//! the child). The trampolines themselves are by job: hooks.rs (Apache's
//! phases), commands.rs (the directive table), auth_providers.rs (the
//! authn/authz providers), module_config.rs (per-server and per-directory
//! configuration).

use std::cell::UnsafeCell;
use std::ffi::c_int;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::null_mut;
use std::sync::OnceLock;

use super::commands::COMMANDS;
use super::hooks::{Glue, register_hooks};
use super::module_config::{
    create_dir_config, create_server_config, merge_dir_config, merge_server_config,
};
use super::{Level, LogId, Server, ffi};

/// A module struct as Apache loads it, from a symbol the crate root
/// exports (`rwsgi_module`, and `wsgi_module` for configurations written
/// for mod_wsgi: see names.rs). Apache writes into it as it loads the
/// module (its index, its place in the module list).
#[repr(transparent)]
pub struct Module(UnsafeCell<ffi::module>);

// SAFETY: Apache writes a module struct while it loads the module and reads
// the configuration, on one thread, before any request thread exists;
// afterwards it is only read.
unsafe impl Sync for Module {}

impl Module {
    /// The module whose hooks and providers call `G`.
    pub const fn new<G: Glue>() -> Module {
        Module(UnsafeCell::new(ffi::module {
            version: ffi::MODULE_MAGIC_NUMBER_MAJOR as c_int,
            minor_version: ffi::MODULE_MAGIC_NUMBER_MINOR as c_int,
            module_index: -1,
            name: c"mod_rwsgi.c".as_ptr(),
            dynamic_load_handle: null_mut(),
            next: null_mut(),
            magic: ffi::MODULE_MAGIC_COOKIE as _,
            rewrite_args: None,
            create_dir_config: Some(create_dir_config),
            merge_dir_config: Some(merge_dir_config),
            create_server_config: Some(create_server_config),
            merge_server_config: Some(merge_server_config),
            cmds: &raw const COMMANDS as *const ffi::command_rec,
            register_hooks: Some(register_hooks::<G>),
            flags: 0,
        }))
    }

    pub(super) fn raw(&self) -> *mut ffi::module {
        self.0.get()
    }
}

/// The two structs the crate exports, `rwsgi_module` then `wsgi_module`,
/// recorded as Apache first calls one of them (register_hooks).
static LOADED_AS: OnceLock<[&'static Module; 2]> = OnceLock::new();

pub(super) fn record_structs(structs: [&'static Module; 2]) {
    let _ = LOADED_AS.set(structs);
}

fn structs() -> [&'static Module; 2] {
    *LOADED_AS
        .get()
        .expect("Apache calls register_hooks before anything else of the module")
}

/// The struct exported as `rwsgi_module`.
pub(super) fn rwsgi_struct() -> *mut ffi::module {
    structs()[0].raw()
}

/// The struct exported as `wsgi_module`.
pub(super) fn wsgi_struct() -> *mut ffi::module {
    structs()[1].raw()
}

/// The struct Apache loaded: `rwsgi_module` unless only `wsgi_module` was.
pub(super) fn this_module() -> *const ffi::module {
    loaded(structs())
}

/// The index Apache gave the loaded struct; -1 (no module) before
/// register_hooks recorded the structs. Never panics: the log writes it,
/// and `catching` logs a panic from outside the unwind guard.
pub(super) fn loaded_index() -> c_int {
    match LOADED_AS.get() {
        // SAFETY: Apache writes module_index while loading the module,
        // before it calls any of our callbacks; afterwards it is only read.
        Some(&structs) => unsafe { (*loaded(structs)).module_index },
        None => -1,
    }
}

fn loaded([rwsgi, wsgi]: [&'static Module; 2]) -> *const ffi::module {
    // SAFETY: as in loaded_index.
    if unsafe { (*rwsgi.raw()).module_index } >= 0 {
        rwsgi.raw()
    } else {
        wsgi.raw()
    }
}

/// Apache reads the tables below only; they hold raw pointers, hence the
/// wrapper that asserts they may be shared.
#[repr(transparent)]
pub(super) struct Shared<T>(pub(super) T);
// SAFETY: the wrapped tables are immutable statics of pointers to 'static data.
unsafe impl<T> Sync for Shared<T> {}

/// Runs `f`, turning a panic into a log line and `fallback`.
pub(super) fn catching<T>(what: &str, fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let reason = panic_message(panic.as_ref());
        Server::main().log(
            Level::Error(LogId("RW0103")),
            &format!("mod_rwsgi: internal error in {what}: {reason}"),
        );
        fallback
    })
}

/// What a panic said, when it said it with a string.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown cause".into())
}

/// Has every panic in this process, and in the processes forked from it,
/// reported as one numbered line in the error log, wherever it happens (a
/// hook, a daemon's request thread, a pool cleanup whose panic is caught
/// and dropped). Rust's own report is an unnumbered line on stderr, which
/// is the error log too. The hook lives in this shared object's copy of
/// the standard library, so an unloaded module leaves none behind.
pub(super) fn report_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let location = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()));
            // The thread's name from the OS, not std::thread::current(),
            // which may itself panic late in a thread's life and, on a
            // thread Apache made, registers a destructor that would keep
            // this module from being unloaded.
            let mut name = [0u8; 16];
            // SAFETY: pthread_self is always valid for its own thread;
            // the buffer is 16 bytes, the most a thread name takes with
            // its NUL, and pthread_getname_np writes at most that.
            let named = unsafe {
                libc::pthread_getname_np(libc::pthread_self(), name.as_mut_ptr().cast(), name.len())
            } == 0;
            let name = std::ffi::CStr::from_bytes_until_nul(&name)
                .ok()
                .filter(|_| named)
                .map(|n| n.to_string_lossy());
            Server::main().log(
                Level::Error(LogId("RW0104")),
                &panic_line(
                    std::process::id(),
                    name.as_deref(),
                    location.as_deref(),
                    &panic_message(info.payload()),
                ),
            );
        }));
    });
}

fn panic_line(pid: u32, thread: Option<&str>, location: Option<&str>, message: &str) -> String {
    format!(
        "mod_rwsgi: a panic (a bug in mod_rwsgi) in pid {pid}, thread '{}', at {}: {message}",
        thread.unwrap_or("unnamed"),
        location.unwrap_or("an unknown place")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_is_reported_with_its_place_and_message() {
        assert_eq!(
            panic_line(42, Some("main"), Some("src/x.rs:7"), "index out of bounds"),
            "mod_rwsgi: a panic (a bug in mod_rwsgi) in pid 42, thread 'main', at src/x.rs:7: index out of bounds"
        );
        assert_eq!(
            panic_line(1, None, None, "boom"),
            "mod_rwsgi: a panic (a bug in mod_rwsgi) in pid 1, thread 'unnamed', at an unknown place: boom"
        );
    }

    #[test]
    fn a_panic_message_is_read_from_either_string_type() {
        assert_eq!(panic_message(&"static"), "static");
        assert_eq!(panic_message(&String::from("owned")), "owned");
        assert_eq!(panic_message(&42), "unknown cause");
    }
}
