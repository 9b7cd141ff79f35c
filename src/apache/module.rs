//! The module structure Apache loads, its directive table, and the
//! trampolines through which Apache calls us. Each trampoline turns raw
//! pointers into safe types and catches panics: a panic must never unwind
//! into Apache (it would abort the child).

use std::ffi::{CStr, c_char, c_int, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::{null, null_mut};

use super::{Level, Request, Server, ffi, names, pool, status};
use crate::config::directives::{Allowed, DIRECTIVES, Directive, Target};
use crate::config::{DirConfig, ServerConfig};

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
struct Shared<T>(T);
// SAFETY: the wrapped tables are immutable statics of pointers to 'static data.
unsafe impl<T> Sync for Shared<T> {}

/// Apache's command table, one record per entry of [`DIRECTIVES`], ending
/// with a zeroed record. Each record's `cmd_data` points at its directive,
/// which the one trampoline, [`cmd_directive`], applies.
static COMMANDS: Shared<[ffi::command_rec; DIRECTIVES.len() + 1]> = Shared(command_table());

const fn command_table() -> [ffi::command_rec; DIRECTIVES.len() + 1] {
    const END: ffi::command_rec = ffi::command_rec {
        name: null(),
        func: ffi::cmd_func { take_argv: None },
        cmd_data: null_mut(),
        req_override: 0,
        args_how: 0,
        errmsg: null(),
    };
    let mut table = [END; DIRECTIVES.len() + 1];
    let mut i = 0;
    while i < DIRECTIVES.len() {
        let directive = &DIRECTIVES[i];
        let (func, args_how) = if directive.raw {
            (
                ffi::cmd_func {
                    raw_args: Some(cmd_raw_directive),
                },
                ffi::cmd_how_RAW_ARGS,
            )
        } else {
            (
                ffi::cmd_func {
                    take_argv: Some(cmd_directive),
                },
                ffi::cmd_how_TAKE_ARGV,
            )
        };
        table[i] = ffi::command_rec {
            name: directive.name.as_ptr(),
            func,
            cmd_data: (directive as *const Directive).cast_mut().cast(),
            req_override: req_override(directive.allowed),
            args_how,
            errmsg: directive.help.as_ptr(),
        };
        i += 1;
    }
    table
}

const fn req_override(allowed: Allowed) -> c_int {
    (match allowed {
        Allowed::Server | Allowed::GlobalServer => ffi::RSRC_CONF,
        Allowed::ServerOrDirectory => ffi::RSRC_CONF | ffi::ACCESS_CONF,
        Allowed::FileInfo => ffi::OR_FILEINFO,
        Allowed::AuthConfig => ffi::OR_AUTHCFG,
    }) as c_int
}

static AUTHN_PROVIDER: Shared<ffi::authn_provider> = Shared(ffi::authn_provider {
    check_password: Some(check_password),
    get_realm_hash: Some(get_realm_hash),
});

static AUTHZ_PROVIDER: Shared<ffi::authz_provider> = Shared(ffi::authz_provider {
    check_authorization: Some(check_group),
    parse_require_line: None,
});

/// mod_wsgi runs its alias translation after mod_alias and before userdir.
static TRANSLATE_AFTER: Shared<[*const c_char; 2]> = Shared([c"mod_alias.c".as_ptr(), null()]);
static TRANSLATE_BEFORE: Shared<[*const c_char; 3]> = Shared([
    c"mod_userdir.c".as_ptr(),
    c"mod_vhost_alias.c".as_ptr(),
    null(),
]);

/// Runs `f`, turning a panic into a log line and `fallback`.
fn catching<T>(what: &str, fallback: T, f: impl FnOnce() -> T) -> T {
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

unsafe extern "C" fn register_hooks(pool: *mut ffi::apr_pool_t) {
    catching("register_hooks", (), || {
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
            ffi::ap_hook_post_config(Some(post_config), null(), null(), middle);
            ffi::ap_hook_child_init(Some(child_init), null(), null(), middle);
            ffi::ap_hook_translate_name(
                Some(translate_name),
                TRANSLATE_AFTER.0.as_ptr(),
                TRANSLATE_BEFORE.0.as_ptr(),
                middle,
            );
            ffi::ap_hook_handler(Some(handler), null(), null(), middle);
            ffi::ap_hook_access_checker(Some(access_checker), null(), null(), middle);
            // `AuthBasicProvider wsgi` / `AuthDigestProvider wsgi` and
            // `Require wsgi-group`, as mod_wsgi names them.
            let per_conf = ffi::AP_AUTH_INTERNAL_PER_CONF as c_int;
            ffi::ap_register_auth_provider(
                pool,
                c"authn".as_ptr(),
                c"wsgi".as_ptr(),
                c"0".as_ptr(),
                (&raw const AUTHN_PROVIDER.0).cast(),
                per_conf,
            );
            ffi::ap_register_auth_provider(
                pool,
                c"authz".as_ptr(),
                c"wsgi-group".as_ptr(),
                c"0".as_ptr(),
                (&raw const AUTHZ_PROVIDER.0).cast(),
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
        unsafe { Server::from_raw(server) }.log(Level::Error, &format!("mod_rwsgi: {reason}"));
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

unsafe extern "C" fn post_config(
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
        let pool = unsafe { super::process::ConfigPool::from_raw(pconf) };
        match crate::handler::post_config(pool, &servers) {
            Ok(()) => status::OK,
            Err(reason) => {
                // SAFETY: the main server_rec lives as long as the configuration.
                unsafe { Server::from_raw(server) }.log(Level::Error, &reason);
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

unsafe extern "C" fn child_init(pool: *mut ffi::apr_pool_t, server: *mut ffi::server_rec) {
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
        crate::handler::child_init(main, &config.process, &imports);
        // SAFETY: the child's pool, live until the child exits, when it is
        // destroyed.
        unsafe { pool::on_clear(pool, crate::handler::child_exit) };
    })
}

unsafe extern "C" fn translate_name(r: *mut ffi::request_rec) -> c_int {
    catching("translate_name", status::DECLINED, || {
        // SAFETY: Apache passes a live request for the duration of the hook.
        match unsafe { Request::from_raw(r) } {
            Some(request) => crate::handler::translate(&request, server_config(&request)),
            None => status::DECLINED,
        }
    })
}

unsafe extern "C" fn handler(r: *mut ffi::request_rec) -> c_int {
    catching("the request handler", status::INTERNAL_SERVER_ERROR, || {
        // SAFETY: Apache passes a live request for the duration of the hook.
        match unsafe { Request::from_raw(r) } {
            Some(request) => {
                let (server_config, dir_config) = (server_config(&request), dir_config(&request));
                crate::handler::handle(request, server_config, dir_config)
            }
            None => status::DECLINED,
        }
    })
}

unsafe extern "C" fn access_checker(r: *mut ffi::request_rec) -> c_int {
    catching("the access checker", status::INTERNAL_SERVER_ERROR, || {
        // SAFETY: Apache passes a live request for the duration of the hook.
        match unsafe { Request::from_raw(r) } {
            Some(request) => {
                let config = dir_config(&request);
                crate::auth::check_access(request, config)
            }
            None => status::DECLINED,
        }
    })
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

unsafe extern "C" fn check_password(
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
            authn_status(crate::auth::check_password(request, config, user, password))
        },
    )
}

unsafe extern "C" fn get_realm_hash(
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
            let outcome = crate::auth::get_realm_hash(request, config, user, realm);
            if let super::Authn::UserFound(hash) = &outcome {
                // SAFETY: Apache passes somewhere to store the hash, which must
                // live in the request pool.
                unsafe { *rethash = pool::strdup(pool, hash).cast_mut() };
            }
            authn_status(outcome)
        },
    )
}

unsafe extern "C" fn check_group(
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
            match crate::auth::check_group(request, config, line) {
                super::Authz::Granted => ffi::authz_status_AUTHZ_GRANTED,
                super::Authz::Denied => ffi::authz_status_AUTHZ_DENIED,
                super::Authz::DeniedNoUser => ffi::authz_status_AUTHZ_DENIED_NO_USER,
                super::Authz::Error => ffi::authz_status_AUTHZ_GENERAL_ERROR,
            }
        },
    )
}

fn server_config<'r>(request: &Request<'r>) -> &'r ServerConfig {
    // SAFETY: create/merge_server_config gave every server a ServerConfig
    // that lives in the configuration pool, longer than any request.
    unsafe { &*config_of(request.server().raw()) }
}

fn dir_config<'r>(request: &Request<'r>) -> &'r DirConfig {
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
unsafe fn config_of(server: *const ffi::server_rec) -> *mut ServerConfig {
    // SAFETY: module_config is the server's per-module vector, and our slot
    // was filled by create_server_config or merge_server_config.
    unsafe { ffi::rwsgi_get_module_config((*server).module_config, this_module()).cast() }
}

unsafe extern "C" fn create_server_config(
    pool: *mut ffi::apr_pool_t,
    _server: *mut ffi::server_rec,
) -> *mut c_void {
    // SAFETY: Apache passes the live configuration pool.
    catching("create_server_config", null_mut(), || unsafe {
        pool::alloc_owned(pool, ServerConfig::default()).cast()
    })
}

unsafe extern "C" fn merge_server_config(
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

unsafe extern "C" fn create_dir_config(
    pool: *mut ffi::apr_pool_t,
    _dir: *mut c_char,
) -> *mut c_void {
    // SAFETY: Apache passes a live configuration pool.
    catching("create_dir_config", null_mut(), || unsafe {
        pool::alloc_owned(pool, DirConfig::default()).cast()
    })
}

unsafe extern "C" fn merge_dir_config(
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

/// Reads a directive's arguments as UTF-8 strings.
///
/// # Safety
/// `argv` holds `argc` NUL-terminated strings that live for `'a`.
unsafe fn directive_args<'a>(
    argc: c_int,
    argv: *const *mut c_char,
) -> Result<Vec<&'a str>, String> {
    (0..argc.max(0) as usize)
        // SAFETY: Apache passes argc argument pointers.
        .map(|i| unsafe { directive_arg(*argv.add(i)) })
        .collect()
}

/// Reads one directive argument as a UTF-8 string.
///
/// # Safety
/// `arg` is a NUL-terminated string that lives for `'a`.
unsafe fn directive_arg<'a>(arg: *const c_char) -> Result<&'a str, String> {
    // SAFETY: Apache passes NUL-terminated arguments that live in the
    // configuration pool.
    let arg = unsafe { CStr::from_ptr(arg) };
    arg.to_str()
        .map_err(|_| format!("'{}' is not valid UTF-8", arg.to_string_lossy()))
}

/// Turns a directive's result into what Apache expects: NULL, or an error
/// message in the command pool that Apache prints with file and line.
///
/// # Safety
/// `cmd` is the live cmd_parms of the directive call.
unsafe fn directive_result(cmd: *mut ffi::cmd_parms, result: Result<(), String>) -> *const c_char {
    match result {
        Ok(()) => null(),
        Err(message) => {
            let message: Vec<u8> = message
                .into_bytes()
                .into_iter()
                .filter(|&b| b != 0)
                .collect();
            // SAFETY: cmd is live during the directive call.
            unsafe { pool::strdup((*cmd).pool, &message) }
        }
    }
}

/// Applies one line of any of our directives split into words (TAKE_ARGV).
unsafe extern "C" fn cmd_directive(
    cmd: *mut ffi::cmd_parms,
    dir_config: *mut c_void,
    argc: c_int,
    argv: *const *mut c_char,
) -> *const c_char {
    // SAFETY: Apache passes argc/argv of this directive line, which live in
    // the configuration pool for the call.
    let args = || unsafe { directive_args(argc, argv) };
    // SAFETY: passed through from Apache's call.
    unsafe { apply_directive(cmd, dir_config, args) }
}

/// Applies one line of a directive that reads its line whole (RAW_ARGS).
unsafe extern "C" fn cmd_raw_directive(
    cmd: *mut ffi::cmd_parms,
    dir_config: *mut c_void,
    raw: *const c_char,
) -> *const c_char {
    // SAFETY: Apache passes the rest of the line as a NUL-terminated string
    // in the configuration pool.
    let args = || unsafe { directive_arg(raw) }.map(|raw| vec![raw]);
    // SAFETY: passed through from Apache's call.
    unsafe { apply_directive(cmd, dir_config, args) }
}

/// Applies one line of any of our directives: `cmd->info` is the
/// [`Directive`] its command record was built from.
///
/// # Safety
/// `cmd` and `dir_config` are what Apache passed to the directive's call.
unsafe fn apply_directive<'a>(
    cmd: *mut ffi::cmd_parms,
    dir_config: *mut c_void,
    args: impl FnOnce() -> Result<Vec<&'a str>, String>,
) -> *const c_char {
    // SAFETY: command_table() set every record's cmd_data to a directive of
    // the static DIRECTIVES, and Apache passes it back as cmd->info.
    let directive = unsafe { &*(*cmd).info.cast::<Directive>() };
    if directive.allowed == Allowed::GlobalServer {
        // SAFETY: cmd is live during the directive call; the check returns
        // Apache's own message (in the command pool) or NULL.
        let misplaced = unsafe { ffi::ap_check_cmd_context(cmd, ffi::GLOBAL_ONLY) };
        if !misplaced.is_null() {
            return misplaced;
        }
    }
    let result = catching("a directive", Err("internal error".to_string()), || {
        let args = args()?;
        // SAFETY: cmd->server is the server being configured, whose
        // ServerConfig create_server_config made; dir_config is this
        // section's DirConfig, made by create_dir_config. The two are
        // distinct allocations, and Apache reads configuration on one thread.
        let mut target = unsafe {
            Target {
                server: &mut *config_of((*cmd).server),
                dir: &mut *dir_config.cast::<DirConfig>(),
            }
        };
        directive.apply(&mut target, &args)
    });
    // SAFETY: cmd is live during the directive call.
    unsafe { directive_result(cmd, result) }
}
