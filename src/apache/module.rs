//! The module structure Apache loads, and the guard every trampoline runs
//! our code under: a panic must never unwind into Apache (it would abort
//! the child). The trampolines themselves are by job: hooks.rs (Apache's
//! phases), commands.rs (the directive table), auth_providers.rs (the
//! authn/authz providers), module_config.rs (per-server and per-directory
//! configuration).

use std::ffi::c_int;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::null_mut;

use super::commands::COMMANDS;
use super::hooks::register_hooks;
use super::module_config::{
    create_dir_config, create_server_config, merge_dir_config, merge_server_config,
};
use super::{Level, Server, ffi};

/// The module as `LoadModule rwsgi_module` loads it.
#[unsafe(no_mangle)]
pub static mut rwsgi_module: ffi::module = module_struct();

/// The same module as a configuration written for mod_wsgi loads it
/// (`LoadModule wsgi_module .../mod_rwsgi.so`): see names.rs.
#[unsafe(no_mangle)]
pub static mut wsgi_module: ffi::module = module_struct();

/// The struct Apache loaded: `rwsgi_module` unless only `wsgi_module` was.
pub(super) fn this_module() -> *const ffi::module {
    // SAFETY: Apache writes module_index while loading the module, before
    // it calls any of our callbacks; afterwards it is only read.
    if unsafe { rwsgi_module.module_index } >= 0 {
        &raw const rwsgi_module
    } else {
        &raw const wsgi_module
    }
}

const fn module_struct() -> ffi::module {
    ffi::module {
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
        register_hooks: Some(register_hooks),
        flags: 0,
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
        let reason = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown cause".into());
        Server::main().log(
            Level::Error,
            &format!("mod_rwsgi: internal error in {what}: {reason}"),
        );
        fallback
    })
}
