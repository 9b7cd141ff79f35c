//! The hooks mod_rwsgi registers with Apache, and their trampolines:
//! each turns raw pointers into safe types and calls the glue, which the
//! crate root supplies as a [`Glue`] (this layer names nothing above it).

use std::ffi::{CStr, c_char, c_int};
use std::ptr::null;

use super::auth_providers::Providers;
use super::module::{Module, Shared, catching, record_structs};
use super::module_config::{config_of, dir_config, server_config};
use super::process::ConfigPool;
use super::{Authn, Authz, Level, LogId, Request, Server, ffi, names, pool, status};
use crate::config::{DirConfig, ImportScript, ProcessSettings, ServerConfig};

/// What mod_rwsgi does when Apache calls it: the glue above this layer
/// (handler/ and auth.rs), handed down by the crate root.
pub trait Glue: 'static {
    /// The structs exported as `rwsgi_module` and `wsgi_module`, in that
    /// order.
    fn exported() -> [&'static Module; 2];
    /// post_config, in Apache's parent, for each configuration read; Err
    /// stops Apache with the reason.
    fn post_config(pool: ConfigPool, servers: &[(Server, &ServerConfig)]) -> Result<(), String>;
    /// child_init, in each child Apache starts.
    fn child_init(main: Server, process: &ProcessSettings, imports: &[ImportScript]);
    /// The child's pool is destroyed: the child ends.
    fn child_exit();
    /// translate_name: the status, or DECLINED when the URL is not ours.
    fn translate(request: &Request<'_>, config: &ServerConfig) -> i32;
    /// The content handler.
    fn handle(request: Request<'_>, server: &ServerConfig, config: &DirConfig) -> i32;
    /// The access checker (WSGIAccessScript).
    fn check_access(request: Request<'_>, config: &DirConfig) -> i32;
    /// The `wsgi` authentication provider, Basic.
    fn check_password(
        request: Request<'_>,
        config: &DirConfig,
        user: &[u8],
        password: &[u8],
    ) -> Authn;
    /// The `wsgi` authentication provider, Digest.
    fn get_realm_hash(request: Request<'_>, config: &DirConfig, user: &[u8], realm: &[u8])
    -> Authn;
    /// The `wsgi-group` authorization provider.
    fn check_group(request: Request<'_>, config: &DirConfig, require_line: &[u8]) -> Authz;
}

/// mod_wsgi runs its alias translation after mod_alias and before userdir.
static TRANSLATE_AFTER: Shared<[*const c_char; 2]> = Shared([c"mod_alias.c".as_ptr(), null()]);
static TRANSLATE_BEFORE: Shared<[*const c_char; 3]> = Shared([
    c"mod_userdir.c".as_ptr(),
    c"mod_vhost_alias.c".as_ptr(),
    null(),
]);

pub(super) unsafe extern "C" fn register_hooks<G: Glue>(pool: *mut ffi::apr_pool_t) {
    catching("register_hooks", (), || {
        super::module::report_panics();
        record_structs(G::exported());
        // Loaded a second time under the other name: the first load's
        // hooks serve; check_config refuses the configuration.
        if names::loaded_twice() {
            return;
        }
        let middle = ffi::APR_HOOK_MIDDLE as c_int;
        // SAFETY: Apache calls register_hooks while it may register hooks;
        // the predecessor/successor lists are NULL-terminated statics.
        unsafe {
            // First: mod_wsgi's own pre_config may need the index lent.
            ffi::ap_hook_pre_config(
                Some(pre_config),
                null(),
                null(),
                ffi::APR_HOOK_REALLY_FIRST as c_int,
            );
            ffi::ap_hook_check_config(Some(check_config), null(), null(), middle);
            ffi::ap_hook_post_config(Some(post_config::<G>), null(), null(), middle);
            ffi::ap_hook_child_init(Some(child_init::<G>), null(), null(), middle);
            ffi::ap_hook_translate_name(
                Some(translate_name::<G>),
                TRANSLATE_AFTER.0.as_ptr(),
                TRANSLATE_BEFORE.0.as_ptr(),
                middle,
            );
            ffi::ap_hook_handler(Some(handler::<G>), null(), null(), middle);
            ffi::ap_hook_access_checker(Some(access_checker::<G>), null(), null(), middle);
            // `AuthBasicProvider wsgi` / `AuthDigestProvider wsgi` and
            // `Require wsgi-group`, as mod_wsgi names them.
            let per_conf = ffi::AP_AUTH_INTERNAL_PER_CONF as c_int;
            ffi::ap_register_auth_provider(
                pool,
                c"authn".as_ptr(),
                c"wsgi".as_ptr(),
                c"0".as_ptr(),
                Providers::<G>::authn(),
                per_conf,
            );
            ffi::ap_register_auth_provider(
                pool,
                c"authz".as_ptr(),
                c"wsgi-group".as_ptr(),
                c"0".as_ptr(),
                Providers::<G>::authz(),
                per_conf,
            );
            names::add_aliases(pool);
        }
    })
}

/// Refuses a configuration that loads this module twice or beside
/// mod_wsgi; it runs after the configuration is read, `apache2 -t` too.
unsafe extern "C" fn check_config(
    _pconf: *mut ffi::apr_pool_t,
    _plog: *mut ffi::apr_pool_t,
    _ptemp: *mut ffi::apr_pool_t,
    server: *mut ffi::server_rec,
) -> c_int {
    catching("check_config", status::INTERNAL_SERVER_ERROR, || {
        let Some(reason) = names::conflict() else {
            return status::OK;
        };
        // SAFETY: the main server_rec lives as long as the configuration.
        unsafe { Server::from_raw(server) }.log(
            Level::Error(LogId("RW0101")),
            &format!("mod_rwsgi: {reason}"),
        );
        status::INTERNAL_SERVER_ERROR
    })
}

/// The server's version string (SERVER_SOFTWARE, and the Server header with
/// ServerTokens Full) names the module and its Python, as mod_wsgi's does.
const VERSION_COMPONENT: &CStr = {
    const TEXT: &str = concat!(
        "mod_rwsgi/",
        env!("CARGO_PKG_VERSION"),
        " Python/",
        env!("RWSGI_PYTHON_VERSION"),
        "\0"
    );
    match CStr::from_bytes_with_nul(TEXT.as_bytes()) {
        Ok(text) => text,
        Err(_) => panic!("the version component has no interior NUL"),
    }
};

unsafe extern "C" fn post_config<G: Glue>(
    pconf: *mut ffi::apr_pool_t,
    _plog: *mut ffi::apr_pool_t,
    _ptemp: *mut ffi::apr_pool_t,
    server: *mut ffi::server_rec,
) -> c_int {
    catching("post_config", status::OK, || {
        // SAFETY: Apache passes the live configuration pool; the component
        // is a static string.
        unsafe { ffi::ap_add_version_component(pconf, VERSION_COMPONENT.as_ptr()) };
        // Apache reads its configuration twice at startup; say it once.
        // SAFETY: ap_state_query only reads Apache's state.
        let first_pass = unsafe { ffi::ap_state_query(ffi::AP_SQ_MAIN_STATE as c_int) }
            == ffi::AP_SQ_MS_CREATE_PRE_CONFIG as c_int;
        if !first_pass {
            let mut notes: Vec<&str> = Vec::new();
            let mut each = server;
            while !each.is_null() {
                // SAFETY: `server` heads the list of the configuration's
                // servers (main, then virtual hosts), each configured by us.
                let config = unsafe { &*config_of(each) };
                for note in &config.ignored {
                    if !notes.contains(&note.as_str()) {
                        notes.push(note);
                    }
                }
                // SAFETY: as above.
                each = unsafe { (*each).next };
            }
            // SAFETY: the main server_rec lives as long as the configuration.
            let main = unsafe { Server::from_raw(server) };
            for note in notes {
                main.log(Level::Notice, &format!("mod_rwsgi: {note}"));
            }
        }
        // SAFETY: the configuration's servers, read; on its thread.
        unsafe { names::adopt_alias_log_levels(server) };
        let mut servers = Vec::new();
        let mut each = server;
        while !each.is_null() {
            // SAFETY: the configuration's servers, each configured by us;
            // their configs live in the configuration pool.
            unsafe {
                servers.push((Server::from_raw(each), &*config_of(each)));
                each = (*each).next;
            }
        }
        // SAFETY: Apache passes its live configuration pool.
        let pool = unsafe { ConfigPool::from_raw(pconf) };
        match G::post_config(pool, &servers) {
            Ok(()) => status::OK,
            Err(reason) => {
                // SAFETY: the main server_rec lives as long as the configuration.
                unsafe { Server::from_raw(server) }.log(Level::Error(LogId("RW0102")), &reason);
                status::INTERNAL_SERVER_ERROR
            }
        }
    })
}

unsafe extern "C" fn pre_config(
    _pconf: *mut ffi::apr_pool_t,
    _plog: *mut ffi::apr_pool_t,
    _ptemp: *mut ffi::apr_pool_t,
) -> c_int {
    catching("pre_config", status::OK, || {
        names::lend_index_to_a_later_mod_wsgi();
        crate::config::directives::forget_daemon_groups();
        status::OK
    })
}

unsafe extern "C" fn child_init<G: Glue>(pool: *mut ffi::apr_pool_t, server: *mut ffi::server_rec) {
    catching("child_init", (), || {
        // SAFETY: Apache passes the main server_rec of the configuration,
        // whose ServerConfig create_server_config made.
        let (main, config) = unsafe { (Server::from_raw(server), &*config_of(server)) };
        let mut imports = Vec::new();
        let mut each = server;
        while !each.is_null() {
            // SAFETY: the list of the configuration's servers, each
            // configured by us.
            unsafe {
                imports.extend((*config_of(each)).import_scripts.iter().cloned());
                each = (*each).next;
            }
        }
        G::child_init(main, &config.process, &imports);
        // SAFETY: the child's pool, live until the child exits, when it is
        // destroyed.
        unsafe { pool::on_clear(pool, G::child_exit) };
    })
}

unsafe extern "C" fn translate_name<G: Glue>(r: *mut ffi::request_rec) -> c_int {
    catching("translate_name", status::DECLINED, || {
        // SAFETY: Apache passes a live request for the duration of the hook.
        match unsafe { Request::from_raw(r) } {
            Some(request) => G::translate(&request, server_config(&request)),
            None => status::DECLINED,
        }
    })
}

unsafe extern "C" fn handler<G: Glue>(r: *mut ffi::request_rec) -> c_int {
    catching("the request handler", status::INTERNAL_SERVER_ERROR, || {
        // SAFETY: Apache passes a live request for the duration of the hook.
        match unsafe { Request::from_raw(r) } {
            Some(request) => {
                let (server_config, dir_config) = (server_config(&request), dir_config(&request));
                G::handle(request, server_config, dir_config)
            }
            None => status::DECLINED,
        }
    })
}

unsafe extern "C" fn access_checker<G: Glue>(r: *mut ffi::request_rec) -> c_int {
    catching("the access checker", status::INTERNAL_SERVER_ERROR, || {
        // SAFETY: Apache passes a live request for the duration of the hook.
        match unsafe { Request::from_raw(r) } {
            Some(request) => {
                let config = dir_config(&request);
                G::check_access(request, config)
            }
            None => status::DECLINED,
        }
    })
}
