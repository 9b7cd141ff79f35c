//! The glue between Apache's hooks and the WSGI gateway: which requests are
//! ours, where their script is, and whether Python can serve them.

mod proxy_headers;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::apache::{ChunkedPolicy, FileType, Level, LogId, Mpm, Request, Server, status};
use crate::config::{
    DEFAULT_APPLICATION_GROUP, DEFAULT_CALLABLE, DirConfig, HandlerScript, ImportScript,
    MapHeadToGet, ProcessSettings, ScriptAlias, ServerConfig,
};
use crate::daemon::Placement;
use crate::embedded::{self, Embedded};
use crate::{daemon, interpreter, wsgi};

/// Set on requests mapped by WSGIScriptAlias; its value is the index of the
/// alias in the server's list.
const ALIAS_NOTE: &std::ffi::CStr = c"mod_rwsgi.alias";

/// child_init: starts Python in this child, then runs WSGIImportScript's
/// scripts so the first requests find them loaded.
pub fn child_init(main: Server, process: &ProcessSettings, imports: &[ImportScript]) {
    daemon::child_init();
    if process.restrict_embedded {
        // No Python here: requests are refused (and logged) before they
        // need it, and the imports are for processes that have one.
        return;
    }
    let mpm = Mpm::query();
    wsgi::set_process_facts(wsgi::ProcessFacts {
        multithread: mpm.threaded,
        multiprocess: mpm.multiprocess,
        process_group: String::new(),
        processes: mpm.processes,
        threads: mpm.threads,
    });
    interpreter::start(main, "child", process, wsgi::prepare_process);
    let registry = daemon::registry();
    for import in imports.iter().filter(|i| i.process_group == "%{GLOBAL}") {
        // One of another application group than this child's runs in that
        // group's own process, when it starts.
        if let (Some(registry), Some(group)) =
            (&registry, daemon::static_group(&import.application_group))
        {
            if !registry.status_claims(&group) {
                continue;
            }
        }
        let script = &import.script;
        let imported = interpreter::with_python(|py| wsgi::preload(py, script));
        let failure = match imported {
            Ok(Ok(())) => continue,
            Ok(Err(reason)) | Err(interpreter::Unavailable(reason)) => reason,
        };
        main.log(
            Level::Error(LogId("RW0501")),
            &format!(
                "mod_rwsgi (pid={}): Failed to import WSGI script '{}' ({}).\n{failure}",
                std::process::id(),
                script.display(),
                import.directive
            ),
        );
    }
}

/// The child's pool is destroyed: the child ends, as Apache stops or
/// recycles it. Apps hear of it as mod_wsgi's process_stopping.
pub fn child_exit() {
    // prefork ends a child from its SIGTERM handler: if that interrupted
    // a call into Python, Python cannot be entered again safely here.
    if interpreter::within_python_call() {
        return;
    }
    let _ = interpreter::with_python(|py| wsgi::process_stopping(py, ""));
}

/// post_config, in Apache's parent: starts the daemon process groups of
/// this configuration. Err stops Apache with the reason.
pub fn post_config(
    pool: crate::apache::process::ConfigPool,
    servers: &[(Server, &ServerConfig)],
) -> Result<(), String> {
    daemon::parent::start(pool, servers)
}

/// translate_name: maps a URL under a WSGIScriptAlias to its script, leaving
/// the rest of the path for Apache's directory walk to turn into PATH_INFO.
pub fn translate(request: &Request<'_>, config: &ServerConfig) -> i32 {
    let uri = request.uri();
    if !uri.starts_with(b"/") {
        return status::DECLINED;
    }
    let Some((index, filename)) = config.find_alias(uri) else {
        return status::DECLINED;
    };
    request.set_filename(&filename);
    request.set_handler(c"wsgi-script");
    request
        .notes()
        .set(ALIAS_NOTE.to_bytes(), index.to_string().as_bytes());
    status::OK
}

/// What serves a request that is ours.
enum Chosen<'c> {
    /// A WSGI script: the requested file, reached through a WSGIScriptAlias
    /// (then `alias`) or a `wsgi-script` handler.
    Script {
        path: PathBuf,
        alias: Option<&'c ScriptAlias>,
    },
    /// WSGIHandlerScript: the handler's script serves the requested URL.
    Handler(&'c HandlerScript),
}

impl Chosen<'_> {
    fn script(&self) -> &Path {
        match self {
            Chosen::Script { path, .. } => path,
            Chosen::Handler(handler) => &handler.script,
        }
    }

    /// The process group the alias or handler script names, if any.
    fn process_group(&self) -> Option<&str> {
        match self {
            Chosen::Script { alias, .. } => alias.and_then(|a| a.process_group.as_deref()),
            Chosen::Handler(handler) => handler.process_group.as_deref(),
        }
    }

    /// The alias's or handler script's pass-authorization= option, if any.
    fn pass_authorization(&self) -> Option<bool> {
        match self {
            Chosen::Script { alias, .. } => alias.and_then(|a| a.pass_authorization),
            Chosen::Handler(handler) => handler.pass_authorization,
        }
    }
}

/// Which script serves this request, or the status to answer instead
/// (DECLINED when the request is not ours).
fn choose<'c>(
    request: &Request<'_>,
    server: &'c ServerConfig,
    config: &'c DirConfig,
) -> Result<Chosen<'c>, i32> {
    let handler = request.handler().unwrap_or_default();
    if let Some(handler_script) = config.handler_script(handler) {
        return Ok(Chosen::Handler(handler_script));
    }
    if !matches!(handler, b"wsgi-script" | b"application/x-httpd-wsgi") {
        return Err(status::DECLINED);
    }
    let path = Path::new(OsStr::from_bytes(request.filename().unwrap_or_default())).to_path_buf();
    match request.file_type() {
        FileType::File => {}
        FileType::Missing => {
            request.log(
                Level::Error(LogId("RW0502")),
                &format!(
                    "mod_rwsgi: Target WSGI script not found or unable to stat: {}",
                    path.display()
                ),
            );
            return Err(status::NOT_FOUND);
        }
        FileType::Directory | FileType::Other => {
            request.log(
                Level::Error(LogId("RW0503")),
                &format!(
                    "mod_rwsgi: Attempt to invoke directory as WSGI application: {}",
                    path.display()
                ),
            );
            return Err(status::FORBIDDEN);
        }
    }
    let alias = request
        .notes()
        .get(ALIAS_NOTE)
        .and_then(|index| std::str::from_utf8(index).ok()?.parse::<usize>().ok())
        .and_then(|index| server.script_aliases.get(index));
    if alias.is_none() && !request.allows_exec_cgi() {
        request.log(
            Level::Error(LogId("RW0504")),
            &format!(
                "mod_rwsgi: Options ExecCGI is off in this directory: {}",
                path.display()
            ),
        );
        return Err(status::FORBIDDEN);
    }
    Ok(Chosen::Script { path, alias })
}

/// The content handler: `wsgi-script` and `application/x-httpd-wsgi`, and
/// the names of WSGIHandlerScript handlers.
pub fn handle(request: Request<'_>, server: &ServerConfig, config: &DirConfig) -> i32 {
    let chosen = match choose(&request, server, config) {
        Ok(chosen) => chosen,
        Err(status) => return status,
    };
    let group_spec = chosen.process_group().or(config.process_group.as_deref());
    let chunked = if config.accepts_chunked_requests() {
        ChunkedPolicy::Dechunk
    } else {
        ChunkedPolicy::Refuse
    };
    if let Err(status) = request.setup_body(chunked) {
        return status;
    }
    request.add_cgi_environment();
    if request.is_head() && presents_head_as_get(&request, config.map_head_to_get()) {
        request.subprocess_env().set(b"REQUEST_METHOD", b"GET");
    }
    if chosen
        .pass_authorization()
        .or(config.pass_authorization)
        .unwrap_or(false)
    {
        if let Some(authorization) = request.headers_in().get(c"Authorization") {
            request
                .subprocess_env()
                .set(b"HTTP_AUTHORIZATION", authorization);
        }
    }
    let forwarded_https = match &config.trusted_proxy_headers {
        Some(headers) => proxy_headers::apply(&request, headers, config.trusted_proxies.as_deref()),
        None => None,
    };
    let application = match application(&request, &chosen, config, forwarded_https) {
        Ok(application) => application,
        Err(reason) => {
            request.log(
                Level::Error(LogId("RW0505")),
                &format!("mod_rwsgi: {reason}"),
            );
            return status::NOT_FOUND;
        }
    };

    let group = group_spec.map_or_else(Vec::new, |spec| embedded::group_name(&request, spec));
    if let Some(allowed) = &config.restrict_process {
        let allowed: Vec<Vec<u8>> = allowed
            .iter()
            .map(|spec| embedded::group_name(&request, spec))
            .collect();
        if !allowed.contains(&group) {
            request.log(
                Level::Error(LogId("RW0506")),
                &format!(
                    "mod_rwsgi: {} may not run in process group '{}': WSGIRestrictProcess allows only {}",
                    chosen.script().display(),
                    String::from_utf8_lossy(&group),
                    allowed.iter().map(|g| format!("'{}'", String::from_utf8_lossy(g))).collect::<Vec<_>>().join(", ")
                ),
            );
            return status::INTERNAL_SERVER_ERROR;
        }
    }
    let ignore_activity = config.ignore_activity.unwrap_or(false);
    let handler_script = match &chosen {
        Chosen::Handler(handler) => Some(&handler.script),
        Chosen::Script { .. } => None,
    };
    add_mod_wsgi_variables(
        &request,
        &application,
        &group,
        ignore_activity,
        handler_script,
    );
    if !group.is_empty() {
        return serve_in_daemon(&request, &group, &application, ignore_activity);
    }
    if server.process.restrict_embedded {
        request.log(
            Level::Error(LogId("RW0507")),
            &format!(
                "mod_rwsgi: cannot serve {}: WSGIRestrictEmbedded is On, so Python does not run in Apache's processes",
                chosen.script().display()
            ),
        );
        return status::INTERNAL_SERVER_ERROR;
    }

    // No two application groups share a Python: one runs in this
    // child's, and each other in a process of its own.
    if let Some(registry) = daemon::registry() {
        let scope = registry.embedded_scope();
        if let Placement::Own(entry) = registry.place(scope, &application.application_group) {
            return daemon::remote::serve(
                &request,
                &registry,
                &entry,
                &application,
                ignore_activity,
            );
        }
    }
    let log_to = request.server();
    let exchange = Embedded::new(&request);
    match interpreter::with_python(|py| wsgi::serve(py, &exchange, &application)) {
        Ok(served) => {
            // Sent with the GIL released, now that Python is done.
            if let Some(deferred) = served.deferred {
                deferred.send(&exchange);
            }
            served.status
        }
        Err(interpreter::Unavailable(reason)) => {
            log_to.log(
                Level::Error(LogId("RW0508")),
                &format!(
                    "mod_rwsgi: cannot serve {}: {reason}",
                    application.script.display()
                ),
            );
            status::INTERNAL_SERVER_ERROR
        }
    }
}

/// Sends the request to the daemon process group `name`, once it is known
/// to exist and to serve this virtual host.
fn serve_in_daemon(
    request: &Request<'_>,
    name: &[u8],
    application: &wsgi::Application,
    ignore_activity: bool,
) -> i32 {
    let shown = String::from_utf8_lossy(name);
    let Some(registry) = daemon::registry() else {
        request.log(
            Level::Error(LogId("RW0509")),
            &format!("mod_rwsgi: No WSGI daemon process called '{shown}' has been configured (no WSGIDaemonProcess at all): {}", application.script.display()),
        );
        return status::INTERNAL_SERVER_ERROR;
    };
    let Some(entry) = registry.find(name) else {
        request.log(
            Level::Error(LogId("RW0510")),
            &format!(
                "mod_rwsgi: No WSGI daemon process called '{shown}' has been configured: {}",
                application.script.display()
            ),
        );
        return status::INTERNAL_SERVER_ERROR;
    };
    if !entry.serves(request.server().hostname()) {
        request.log(
            Level::Error(LogId("RW0511")),
            &format!(
                "mod_rwsgi: Daemon process called '{shown}' cannot be accessed by this WSGI application: it is defined in the virtual host {}, and this request is for {}: {}",
                String::from_utf8_lossy(&entry.server_name),
                String::from_utf8_lossy(request.server().hostname()),
                application.script.display()
            ),
        );
        return status::INTERNAL_SERVER_ERROR;
    }
    if let Err(why) = check_script_owner(&application.script, &entry.group) {
        request.log(
            Level::Error(LogId("RW0512")),
            &format!("mod_rwsgi: {why}; answering 403"),
        );
        return status::FORBIDDEN;
    }
    // The group's processes run one application group; another gets a
    // process of its own, with the group's settings.
    let own = match registry.place(entry.index, &application.application_group) {
        Placement::Own(own) => Some(own),
        Placement::Primary | Placement::Shared => None,
    };
    let target = own.as_ref().unwrap_or(entry);
    daemon::remote::serve(request, &registry, target, application, ignore_activity)
}

/// script-user= and script-group=: the script and its directory must belong
/// to that user (or group), and be writable by nobody else.
fn check_script_owner(script: &Path, group: &crate::config::DaemonGroup) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    if group.script_user.is_none() && group.script_group.is_none() {
        return Ok(());
    }
    let directory = script.parent().unwrap_or(Path::new("/"));
    for path in [script, directory] {
        let meta = std::fs::metadata(path)
            .map_err(|e| format!("cannot check the owner of {}: {e}", path.display()))?;
        if let Some(user) = &group.script_user {
            if meta.uid() != user.id || meta.mode() & 0o022 != 0 {
                return Err(format!(
                    "{} must be owned by {} (script-user of daemon process group '{}') and writable by no one else",
                    path.display(),
                    user.written,
                    group.name
                ));
            }
        }
        if let Some(owner) = &group.script_group {
            if meta.gid() != owner.id || meta.mode() & 0o002 != 0 {
                return Err(format!(
                    "{} must belong to group {} (script-group of daemon process group '{}') and not be world-writable",
                    path.display(),
                    owner.written,
                    group.name
                ));
            }
        }
    }
    Ok(())
}

/// The `mod_wsgi.*` entries mod_wsgi 4.9 adds to the request's CGI
/// variables that only Apache's child knows, with mod_wsgi's meaning: as
/// with mod_wsgi they reach a daemon with the other variables, and other
/// modules see them (`%{mod_wsgi.process_group}e` in a LogFormat). The
/// serving process adds the rest (wsgi/environ.rs). Keys are static and
/// most values borrowed: nothing is copied that need not be.
fn add_mod_wsgi_variables(
    request: &Request<'_>,
    application: &wsgi::Application,
    process_group: &[u8],
    ignore_activity: bool,
    handler_script: Option<&std::path::PathBuf>,
) {
    let env = request.subprocess_env();
    let flag = |on: bool| if on { c"1" } else { c"0" };
    let mut buf = [0u8; 20];
    env.add_value(c"mod_wsgi.process_group", process_group);
    env.add_borrowed(
        c"mod_wsgi.request_handler",
        request.handler_c_str().unwrap_or_default(),
    );
    match handler_script {
        Some(path) => env.add_value(
            c"mod_wsgi.handler_script",
            path.as_os_str().as_encoded_bytes(),
        ),
        None => env.add_borrowed(c"mod_wsgi.handler_script", c""),
    }
    // As configured: a daemon loads a changed script by restarting.
    env.add_borrowed(c"mod_wsgi.script_reloading", flag(application.reload));
    let (listener_host, listener_port) = request.listener();
    env.add_borrowed(c"mod_wsgi.listener_host", listener_host.unwrap_or_default());
    env.add_value(
        c"mod_wsgi.listener_port",
        wsgi::decimal(i64::from(listener_port), &mut buf),
    );
    env.add_borrowed(c"mod_wsgi.ignore_activity", flag(ignore_activity));
    env.add_value(
        c"mod_wsgi.request_start",
        wsgi::decimal(request.request_time(), &mut buf),
    );
}

/// WSGIMapHEADToGET: whether a HEAD request reaches the app as GET. Apache
/// drops the body either way.
fn presents_head_as_get(request: &Request<'_>, mode: MapHeadToGet) -> bool {
    match mode {
        MapHeadToGet::Off => false,
        MapHeadToGet::On => true,
        MapHeadToGet::Auto => request.has_content_filter(),
    }
}

/// What runs for this request: a WSGIScriptAlias (or WSGIHandlerScript)
/// option wins over the directory's directive, which wins over mod_wsgi's
/// default. Err when a handler script cannot be found.
fn application(
    request: &Request<'_>,
    chosen: &Chosen<'_>,
    config: &DirConfig,
    forwarded_https: Option<bool>,
) -> Result<wsgi::Application, String> {
    let (script, callable, group, mtime) = match chosen {
        Chosen::Script { path, alias } => (
            path.clone(),
            alias
                .and_then(|alias| alias.callable.clone())
                .or_else(|| config.callable_object.clone())
                .unwrap_or_else(|| DEFAULT_CALLABLE.to_string()),
            alias.and_then(|alias| alias.application_group.as_deref()),
            request.file_mtime(),
        ),
        Chosen::Handler(handler) => (
            handler.script.clone(),
            handler.callable.clone(),
            handler.application_group.as_deref(),
            wsgi::script_mtime(&handler.script)?,
        ),
    };
    let group_spec = group
        .or(config.application_group.as_deref())
        .unwrap_or(DEFAULT_APPLICATION_GROUP);
    Ok(wsgi::Application {
        script,
        callable,
        mtime,
        application_group: embedded::group_name(request, group_spec),
        reload: config.reloads_scripts(),
        sendfile: config.enable_sendfile,
        error_override: config.error_override.unwrap_or(false),
        forwarded_https,
    })
}
