//! The names Apache knows this module by. One shared object loads as
//! `rwsgi_module` or, for a configuration written for mod_wsgi, as
//! `wsgi_module` (two module structs, module.rs). Whichever way it
//! loads, `<IfModule>` finds it by mod_wsgi's names and by its own:
//! small name-only modules (no configuration, hooks or directives) join
//! Apache's module list while it is loaded. Loading it twice, or beside
//! mod_wsgi itself, is a configuration error.

use std::ffi::{CStr, c_void};
use std::ptr::{null, null_mut};

use super::ffi;
use super::module::{rwsgi_struct, wsgi_struct};

/// What `<IfModule>` may name: a module's name or its symbol name
/// (Apache looks up the symbol name of a loaded module only under the
/// name it was loaded as).
const ALIAS_NAMES: [&CStr; 3] = [c"mod_wsgi.c", c"wsgi_module", c"rwsgi_module"];

const fn alias(name: &'static CStr) -> ffi::module {
    ffi::module {
        version: ffi::MODULE_MAGIC_NUMBER_MAJOR as _,
        minor_version: ffi::MODULE_MAGIC_NUMBER_MINOR as _,
        module_index: -1,
        name: name.as_ptr(),
        dynamic_load_handle: null_mut(),
        next: null_mut(),
        magic: ffi::MODULE_MAGIC_COOKIE as _,
        rewrite_args: None,
        create_dir_config: None,
        merge_dir_config: None,
        create_server_config: None,
        merge_server_config: None,
        cmds: null(),
        register_hooks: None,
        flags: 0,
    }
}

static mut ALIASES: [ffi::module; 3] = [
    alias(ALIAS_NAMES[0]),
    alias(ALIAS_NAMES[1]),
    alias(ALIAS_NAMES[2]),
];

/// Whether Apache has loaded this module a second time, under its other
/// name: both module structs are in its list.
pub(super) fn loaded_twice() -> bool {
    listed(rwsgi_struct()) && listed(wsgi_struct())
}

/// Whether `module` is in Apache's list of modules.
fn listed(module: *const ffi::module) -> bool {
    find_listed(|each| std::ptr::eq(each, module)).is_some()
}

/// mod_wsgi itself in Apache's list, if it is there: a module named
/// mod_wsgi.c that is not one of ours.
fn mod_wsgi_listed() -> Option<*mut ffi::module> {
    let aliases = &raw const ALIASES;
    find_listed(|each| {
        // SAFETY: `each` is listed, so live; the aliases are statics.
        unsafe {
            let ours = std::ptr::eq(each, wsgi_struct())
                || (0..ALIAS_NAMES.len()).any(|at| std::ptr::eq(each, &raw const (*aliases)[at]));
            !ours && CStr::from_ptr((*each).name) == c"mod_wsgi.c"
        }
    })
}

/// The first module in Apache's list that `wanted` accepts.
fn find_listed(mut wanted: impl FnMut(*mut ffi::module) -> bool) -> Option<*mut ffi::module> {
    // SAFETY: Apache's module list, read on its configuration thread;
    // every module in it lives while it is listed.
    unsafe {
        let mut each = ffi::ap_top_module;
        while !each.is_null() {
            if wanted(each) {
                return Some(each);
            }
            each = (*each).next;
        }
    }
    None
}

/// Loaded as `rwsgi_module`, this module still exports a `wsgi_module`
/// symbol, and Apache loads modules into one namespace: a mod_wsgi loaded
/// after it (on Debian, `wsgi.load` left enabled sorts after `rwsgi.load`)
/// finds that struct where it means its own, and would crash in its first
/// directive on the struct's unset index. Giving the unused struct
/// mod_wsgi's index lets mod_wsgi read its own configuration, until
/// check_config refuses the pair with a sentence (conflict()). Called in
/// pre_config: after every LoadModule (Apache runs them as it reads the
/// files), before any other directive.
pub(super) fn lend_index_to_a_later_mod_wsgi() {
    if listed(wsgi_struct()) {
        return;
    }
    let index = mod_wsgi_listed().map_or(-1, |module| {
        // SAFETY: a listed module, read on the configuration thread.
        unsafe { (*module).module_index }
    });
    // SAFETY: the unused struct, written on the configuration thread; only
    // mod_wsgi's code (which takes it for its own) reads its index.
    unsafe { (*wsgi_struct()).module_index = index };
}

/// Adds the aliases to Apache's module list until `pool` (the
/// configuration's) is cleared, when they leave it again: before the
/// shared object is unloaded, whose cleanup was registered earlier.
///
/// # Safety
/// Called from register_hooks, with the configuration pool.
pub(super) unsafe fn add_aliases(pool: *mut ffi::apr_pool_t) {
    // SAFETY: configuration is read on one thread; the aliases are
    // statics that live as long as the shared object, and leave Apache's
    // list (remove_aliases) before it is unloaded.
    unsafe {
        let aliases = &raw mut ALIASES;
        for (at, name) in ALIAS_NAMES.iter().enumerate() {
            let alias = &raw mut (*aliases)[at];
            if (*alias).module_index >= 0 {
                continue;
            }
            ffi::ap_add_module(alias, pool, name.as_ptr());
        }
        ffi::apr_pool_cleanup_register(
            pool,
            null(),
            Some(remove_aliases),
            Some(ffi::apr_pool_cleanup_null),
        );
    }
}

unsafe extern "C" fn remove_aliases(_: *mut c_void) -> ffi::apr_status_t {
    // SAFETY: as in add_aliases; Apache clears the configuration pool on
    // its one configuration thread.
    unsafe {
        let aliases = &raw mut ALIASES;
        for at in 0..ALIAS_NAMES.len() {
            let alias = &raw mut (*aliases)[at];
            if (*alias).module_index >= 0 {
                ffi::ap_remove_module(alias);
            }
            // ap_remove_module leaves `next` set on a module below the
            // top, and ap_add_module links only a module whose `next` is
            // NULL: the next configuration would not find it.
            (*alias).next = null_mut();
            (*alias).module_index = -1;
        }
    }
    ffi::APR_SUCCESS as ffi::apr_status_t
}

/// `LogLevel wsgi:LEVEL` (Apache finds the name-only `mod_wsgi.c` entry
/// for "wsgi"), or `LogLevel wsgi_module:LEVEL`, configures an alias:
/// each server whose LogLevel names an alias but not mod_rwsgi itself gets
/// that level for mod_rwsgi too, `rwsgi`'s before mod_wsgi's names. (A
/// LogLevel inside <Directory> or <Location> is not followed.)
///
/// # Safety
/// `server` heads the configuration's list of servers; called on Apache's
/// configuration thread, after the configuration was read.
pub(super) unsafe fn adopt_alias_log_levels(server: *mut ffi::server_rec) {
    let ours = super::log::module_index();
    // SAFETY: per the contract: the list of live server_recs, whose
    // module_levels arrays (NULL, or one entry per possible module) live
    // in the configuration pool; the aliases' indexes are Apache's.
    unsafe {
        let aliases = &raw const ALIASES;
        let mut each = server;
        while !each.is_null() {
            let levels = (*each).log.module_levels;
            let ours_at = if levels.is_null() {
                null_mut()
            } else {
                levels.add(ours as usize)
            };
            // Unset is negative: APLOG_NO_MODULE, or APLOG_UNSET in a
            // virtual host whose LogLevel names modules only.
            if !ours_at.is_null() && *ours_at < 0 {
                // mod_rwsgi's own name first: it wins over mod_wsgi's.
                for at in (0..ALIAS_NAMES.len()).rev() {
                    let index = (*aliases)[at].module_index;
                    if index < 0 || index == ours {
                        continue;
                    }
                    let level = *levels.add(index as usize);
                    if level >= 0 {
                        *ours_at = level;
                        break;
                    }
                }
            }
            each = (*each).next;
        }
    }
}

/// Why this configuration cannot run, if it cannot: this module loaded
/// under both its names, or mod_wsgi loaded beside it (both would serve
/// the same directives and requests).
pub(super) fn conflict() -> Option<&'static str> {
    if loaded_twice() {
        return Some(
            "mod_rwsgi is loaded twice, as rwsgi_module and as wsgi_module: keep one LoadModule line for mod_rwsgi.so",
        );
    }
    mod_wsgi_listed().map(|_| {
        "mod_wsgi is loaded beside mod_rwsgi, which takes its place: remove mod_wsgi's LoadModule line (on Debian: a2dismod wsgi)"
    })
}
