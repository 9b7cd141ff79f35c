//! The `wsgi` authentication provider (`AuthBasicProvider wsgi`,
//! `AuthDigestProvider wsgi`) and the `wsgi-group` authorization provider
//! (`Require wsgi-group`), as mod_wsgi names them.

use std::ffi::{CStr, c_char, c_void};
use std::marker::PhantomData;

use super::hooks::Glue;
use super::module::catching;
use super::module_config::dir_config;
use super::{Request, ffi, pool};

/// The providers' tables, whose functions call `G`.
pub(super) struct Providers<G>(PhantomData<G>);

impl<G: Glue> Providers<G> {
    const AUTHN: ffi::authn_provider = ffi::authn_provider {
        check_password: Some(check_password::<G>),
        get_realm_hash: Some(get_realm_hash::<G>),
    };
    const AUTHZ: ffi::authz_provider = ffi::authz_provider {
        check_authorization: Some(check_group::<G>),
        parse_require_line: None,
    };

    /// The `wsgi` authentication provider, as ap_register_auth_provider
    /// takes it: a table that lives as long as the module.
    pub(super) fn authn() -> *const c_void {
        let table: &'static ffi::authn_provider = &Self::AUTHN;
        (table as *const ffi::authn_provider).cast()
    }

    /// The `wsgi-group` authorization provider.
    pub(super) fn authz() -> *const c_void {
        let table: &'static ffi::authz_provider = &Self::AUTHZ;
        (table as *const ffi::authz_provider).cast()
    }
}

/// Reads a string Apache passes to a provider.
///
/// # Safety
/// `arg` is NULL or a NUL-terminated string that lives for `'a`.
unsafe fn provider_arg<'a>(arg: *const c_char) -> &'a [u8] {
    if arg.is_null() {
        b""
    } else {
        // SAFETY: Apache passes NUL-terminated strings that live for the call.
        unsafe { CStr::from_ptr(arg) }.to_bytes()
    }
}

fn authn_status(outcome: super::Authn) -> ffi::authn_status {
    match outcome {
        super::Authn::Granted => ffi::authn_status_AUTH_GRANTED,
        super::Authn::Denied => ffi::authn_status_AUTH_DENIED,
        super::Authn::UserFound(_) => ffi::authn_status_AUTH_USER_FOUND,
        super::Authn::UserNotFound => ffi::authn_status_AUTH_USER_NOT_FOUND,
        super::Authn::Error => ffi::authn_status_AUTH_GENERAL_ERROR,
    }
}

unsafe extern "C" fn check_password<G: Glue>(
    r: *mut ffi::request_rec,
    user: *const c_char,
    password: *const c_char,
) -> ffi::authn_status {
    catching(
        "the wsgi authentication provider",
        ffi::authn_status_AUTH_GENERAL_ERROR,
        || {
            // SAFETY: Apache passes a live request and strings for the call.
            let (request, user, password) = unsafe {
                (
                    Request::from_raw(r),
                    provider_arg(user),
                    provider_arg(password),
                )
            };
            let Some(request) = request else {
                return ffi::authn_status_AUTH_GENERAL_ERROR;
            };
            let config = dir_config(&request);
            authn_status(G::check_password(request, config, user, password))
        },
    )
}

unsafe extern "C" fn get_realm_hash<G: Glue>(
    r: *mut ffi::request_rec,
    user: *const c_char,
    realm: *const c_char,
    rethash: *mut *mut c_char,
) -> ffi::authn_status {
    catching(
        "the wsgi authentication provider",
        ffi::authn_status_AUTH_GENERAL_ERROR,
        || {
            // SAFETY: Apache passes a live request and strings for the call.
            let (request, user, realm) = unsafe {
                (
                    Request::from_raw(r),
                    provider_arg(user),
                    provider_arg(realm),
                )
            };
            let Some(request) = request else {
                return ffi::authn_status_AUTH_GENERAL_ERROR;
            };
            let config = dir_config(&request);
            // SAFETY: the request pool outlives the provider call.
            let pool = unsafe { (*r).pool };
            let outcome = G::get_realm_hash(request, config, user, realm);
            if let super::Authn::UserFound(hash) = &outcome {
                // SAFETY: Apache passes somewhere to store the hash, which must
                // live in the request pool.
                unsafe { *rethash = pool::strdup(pool, hash).cast_mut() };
            }
            authn_status(outcome)
        },
    )
}

unsafe extern "C" fn check_group<G: Glue>(
    r: *mut ffi::request_rec,
    require_line: *const c_char,
    _parsed: *const c_void,
) -> ffi::authz_status {
    catching(
        "the wsgi-group authorization provider",
        ffi::authz_status_AUTHZ_GENERAL_ERROR,
        || {
            // SAFETY: Apache passes a live request and the Require line's text.
            let (request, line) = unsafe { (Request::from_raw(r), provider_arg(require_line)) };
            let Some(request) = request else {
                return ffi::authz_status_AUTHZ_GENERAL_ERROR;
            };
            let config = dir_config(&request);
            match G::check_group(request, config, line) {
                super::Authz::Granted => ffi::authz_status_AUTHZ_GRANTED,
                super::Authz::Denied => ffi::authz_status_AUTHZ_DENIED,
                super::Authz::DeniedNoUser => ffi::authz_status_AUTHZ_DENIED_NO_USER,
                super::Authz::Error => ffi::authz_status_AUTHZ_GENERAL_ERROR,
            }
        },
    )
}
