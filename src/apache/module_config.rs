//! Apache's per-module configuration: a ServerConfig for every server
//! (virtual host) and a DirConfig for every section, made and merged by
//! Apache through these trampolines and found again from a request.

use std::ffi::{c_char, c_void};
use std::ptr::null_mut;

use super::module::{catching, this_module};
use super::{Request, ffi, pool};
use crate::config::{DirConfig, ServerConfig};

pub(super) fn server_config<'r>(request: &Request<'r>) -> &'r ServerConfig {
    // SAFETY: create/merge_server_config gave every server a ServerConfig
    // that lives in the configuration pool, longer than any request.
    unsafe { &*config_of(request.server().raw()) }
}

pub(super) fn dir_config<'r>(request: &Request<'r>) -> &'r DirConfig {
    // SAFETY: create/merge_dir_config gave every section a DirConfig in the
    // configuration pool (merged ones in the request pool), which outlive the
    // request's handler.
    unsafe {
        &*ffi::rwsgi_get_module_config((*request.raw()).per_dir_config, this_module())
            .cast::<DirConfig>()
    }
}

/// The ServerConfig of `server`.
///
/// # Safety
/// `server` is a live server_rec of the configuration this module was
/// configured in.
pub(super) unsafe fn config_of(server: *const ffi::server_rec) -> *mut ServerConfig {
    // SAFETY: module_config is the server's per-module vector, and our slot
    // was filled by create_server_config or merge_server_config.
    unsafe { ffi::rwsgi_get_module_config((*server).module_config, this_module()).cast() }
}

pub(super) unsafe extern "C" fn create_server_config(
    pool: *mut ffi::apr_pool_t,
    _server: *mut ffi::server_rec,
) -> *mut c_void {
    // SAFETY: Apache passes the live configuration pool.
    catching("create_server_config", null_mut(), || unsafe {
        pool::alloc_owned(pool, ServerConfig::default()).cast()
    })
}

pub(super) unsafe extern "C" fn merge_server_config(
    pool: *mut ffi::apr_pool_t,
    base: *mut c_void,
    vhost: *mut c_void,
) -> *mut c_void {
    catching("merge_server_config", null_mut(), || {
        // SAFETY: both were made by create_server_config in this configuration.
        let (base, vhost) = unsafe {
            (
                &*base.cast::<ServerConfig>(),
                &*vhost.cast::<ServerConfig>(),
            )
        };
        // SAFETY: Apache passes the live configuration pool.
        unsafe { pool::alloc_owned(pool, ServerConfig::merge(base, vhost)).cast() }
    })
}

pub(super) unsafe extern "C" fn create_dir_config(
    pool: *mut ffi::apr_pool_t,
    _dir: *mut c_char,
) -> *mut c_void {
    // SAFETY: Apache passes a live configuration pool.
    catching("create_dir_config", null_mut(), || unsafe {
        pool::alloc_owned(pool, DirConfig::default()).cast()
    })
}

pub(super) unsafe extern "C" fn merge_dir_config(
    pool: *mut ffi::apr_pool_t,
    base: *mut c_void,
    specific: *mut c_void,
) -> *mut c_void {
    catching("merge_dir_config", null_mut(), || {
        // SAFETY: both were made by create_dir_config or merge_dir_config.
        let (base, specific) =
            unsafe { (&*base.cast::<DirConfig>(), &*specific.cast::<DirConfig>()) };
        // SAFETY: Apache passes a live pool (the request's, when merging
        // per request), which drops the merged value with it.
        unsafe { pool::alloc_owned(pool, DirConfig::merge(base, specific)).cast() }
    })
}
