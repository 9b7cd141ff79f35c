//! Every mod_wsgi directive, with where Apache allows it and what its line
//! does to the configuration. The `apache` layer builds Apache's command
//! table from [`DIRECTIVES`] and calls [`Directive::apply`] per line, with
//! the words Apache split it into. An error becomes Apache's "Syntax error
//! on line N of FILE" message.

use std::ffi::CStr;
use std::path::{Path, PathBuf};

use super::accounts::SystemAccounts;
use super::daemon::parse_daemon_process;
use super::parse::{application_group_option, on_off, option_words, process_group_option};
use super::script_alias::{
    CompilePattern, ScriptAlias, parse_callable, parse_script_alias, parse_script_alias_match,
};
use super::{
    AuthScript, DirConfig, HandlerScript, ImportScript, MapHeadToGet, ProxyHeader, PythonHome,
    ServerConfig, TrustedProxy,
};

/// Where a directive may appear, in Apache's terms; the same places as in
/// mod_wsgi.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Allowed {
    /// Server config and virtual hosts (RSRC_CONF).
    Server,
    /// Server config only, outside <VirtualHost> (RSRC_CONF + GLOBAL_ONLY).
    GlobalServer,
    /// Server config, virtual hosts, <Directory>/<Location> (RSRC_CONF |
    /// ACCESS_CONF).
    ServerOrDirectory,
    /// Anywhere, and .htaccess with AllowOverride FileInfo (OR_FILEINFO).
    FileInfo,
    /// Anywhere, and .htaccess with AllowOverride AuthConfig (OR_AUTHCFG).
    AuthConfig,
}

/// The configuration one directive line may change.
pub struct Configuring<'a> {
    pub server: &'a mut ServerConfig,
    pub dir: &'a mut DirConfig,
    /// WSGIScriptAliasMatch's compiler: Apache's regex, from the `apache`
    /// layer.
    pub compile_pattern: CompilePattern,
}

pub struct Directive {
    pub name: &'static CStr,
    pub allowed: Allowed,
    /// How the line's words are read.
    pub words: Words,
    /// Apache shows this when the directive is misused or misplaced.
    pub help: &'static CStr,
    apply: fn(&mut Configuring<'_>, &str, &[&str]) -> Result<(), String>,
}

/// How a directive's line is split into words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Words {
    /// By Apache (TAKE_ARGV, ap_getword_conf).
    Apache,
    /// Not at all: the directive reads its line whole (RAW_ARGS).
    Raw,
    /// As mod_wsgi splits a line with options (RAW_ARGS, then
    /// parse::option_words): this many leading words, then `name=value`
    /// options whose value may be quoted (`display-name='my site'`).
    Options(usize),
}

impl Directive {
    /// Whether Apache hands over the line unsplit (RAW_ARGS): `apply` then
    /// gets it as one argument.
    pub const fn raw(&self) -> bool {
        !matches!(self.words, Words::Apache)
    }

    /// Applies one line of this directive, given its arguments.
    pub fn apply(&self, configuring: &mut Configuring<'_>, args: &[&str]) -> Result<(), String> {
        let name = self.name.to_str().unwrap_or("?");
        let Words::Options(positional) = self.words else {
            return (self.apply)(configuring, name, args);
        };
        let line = args.first().copied().unwrap_or("");
        let words = option_words(line, positional).map_err(|why| format!("{name}: {why}"))?;
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        (self.apply)(configuring, name, &words)
    }
}

macro_rules! directive {
    ($name:literal, $allowed:ident, $help:literal, $apply:expr) => {
        Directive {
            name: $name,
            allowed: Allowed::$allowed,
            words: Words::Apache,
            help: $help,
            apply: $apply,
        }
    };
    (raw $name:literal, $allowed:ident, $help:literal, $apply:expr) => {
        Directive {
            name: $name,
            allowed: Allowed::$allowed,
            words: Words::Raw,
            help: $help,
            apply: $apply,
        }
    };
    (options $positional:literal $name:literal, $allowed:ident, $help:literal, $apply:expr) => {
        Directive {
            name: $name,
            allowed: Allowed::$allowed,
            words: Words::Options($positional),
            help: $help,
            apply: $apply,
        }
    };
}

pub static DIRECTIVES: [Directive; 45] = [
    // Mapping URLs to scripts.
    directive!(options 2 c"WSGIScriptAlias", Server, c"WSGIScriptAlias /url /path/to/script.wsgi [process-group=name] [application-group=name] [callable-object=name] [pass-authorization=On|Off]", |t, _, args| {
        let alias = parse_script_alias(args)?;
        add_alias(t, "WSGIScriptAlias", alias)
    }),
    directive!(options 2 c"WSGIScriptAliasMatch", Server, c"WSGIScriptAliasMatch regex /path/to/$1.wsgi [process-group=name] [application-group=name] [callable-object=name] [pass-authorization=On|Off]", |t, _, args| {
        let alias = parse_script_alias_match(args, t.compile_pattern)?;
        add_alias(t, "WSGIScriptAliasMatch", alias)
    }),
    directive!(c"WSGICallableObject", FileInfo, c"WSGICallableObject name: the script's callable (default application)", |t, name, args| {
        t.dir.callable_object = Some(parse_callable(name, one(name, args)?)?);
        Ok(())
    }),
    directive!(options 2 c"WSGIHandlerScript", ServerOrDirectory, c"WSGIHandlerScript handler-name /path/to/script.wsgi [process-group=name] [application-group=name] [callable-object=name] [pass-authorization=On|Off]: requests Apache gives to handler-name are served by the script's handle_request", |t, name, args| {
        let handler = parse_handler_script(name, args)?;
        t.dir.handler_scripts.retain(|h| h.handler != handler.handler);
        t.dir.handler_scripts.push(handler);
        Ok(())
    }),
    directive!(c"WSGIDispatchScript", ServerOrDirectory, c"WSGIDispatchScript /path/to/script.py", not_yet),
    directive!(options 1 c"WSGIImportScript", Server, c"WSGIImportScript /path/to/script.wsgi process-group=name|%{GLOBAL} application-group=name: execute the script as each process of the group starts", |t, name, args| {
        let import = parse_import_script(name, args)?;
        defined_before(name, &import.process_group)?;
        t.server.import_scripts.push(import);
        Ok(())
    }),
    // Request handling.
    directive!(c"WSGIPassAuthorization", FileInfo, c"WSGIPassAuthorization On|Off: pass the Authorization header to the app as HTTP_AUTHORIZATION (default Off)", |t, name, args| {
        t.dir.pass_authorization = Some(on_off(name, one(name, args)?)?);
        Ok(())
    }),
    directive!(c"WSGIScriptReloading", FileInfo, c"WSGIScriptReloading On|Off: load a changed script again on its next request (default On)", |t, name, args| {
        t.dir.script_reloading = Some(on_off(name, one(name, args)?)?);
        Ok(())
    }),
    directive!(c"WSGIChunkedRequest", FileInfo, c"WSGIChunkedRequest On|Off: accept request bodies sent with Transfer-Encoding: chunked (default Off, answered 411)", |t, name, args| {
        t.dir.chunked_request = Some(on_off(name, one(name, args)?)?);
        Ok(())
    }),
    directive!(c"WSGIMapHEADToGET", FileInfo, c"WSGIMapHEADToGET Off|On|Auto: present HEAD requests to the app as GET (default Auto: only when an output filter may need the body)", |t, name, args| {
        let arg = one(name, args)?;
        t.dir.map_head_to_get = Some(match arg.to_ascii_lowercase().as_str() {
            "off" => MapHeadToGet::Off,
            "on" => MapHeadToGet::On,
            "auto" => MapHeadToGet::Auto,
            _ => return Err(format!("{name}: '{arg}' is not accepted; use Off, On or Auto")),
        });
        Ok(())
    }),
    directive!(c"WSGIEnableSendfile", FileInfo, c"WSGIEnableSendfile On|Off: send wsgi.file_wrapper files with sendfile (default: as EnableSendfile says)", |t, name, args| {
        t.dir.enable_sendfile = Some(on_off(name, one(name, args)?)?);
        Ok(())
    }),
    directive!(c"WSGIErrorOverride", FileInfo, c"WSGIErrorOverride On|Off: answer the app's error statuses with Apache's ErrorDocument (default Off)", |t, name, args| {
        t.dir.error_override = Some(on_off(name, one(name, args)?)?);
        Ok(())
    }),
    directive!(c"WSGITrustedProxyHeaders", FileInfo, c"WSGITrustedProxyHeaders X-Forwarded-For X-Forwarded-Proto ...: proxy headers that replace Apache's view of the request", |t, name, args| {
        if args.is_empty() {
            return Err(format!("{name} takes one or more header names"));
        }
        let headers = args.iter().map(|arg| {
            ProxyHeader::parse(arg).ok_or_else(|| {
                let accepted: Vec<&str> = ProxyHeader::ALL.iter().map(|h| h.header_name()).collect();
                format!("{name}: '{arg}' is not a proxy header mod_rwsgi knows; accepted: {}", accepted.join(", "))
            })
        });
        t.dir.trusted_proxy_headers = Some(headers.collect::<Result<_, _>>()?);
        Ok(())
    }),
    directive!(c"WSGITrustedProxies", FileInfo, c"WSGITrustedProxies 10.0.0.1 192.168.0.0/16 ...: the proxies whose headers are believed", |t, name, args| {
        if args.is_empty() {
            return Err(format!("{name} takes one or more addresses or networks"));
        }
        let proxies = args.iter().map(|arg| {
            TrustedProxy::parse(arg).ok_or_else(|| format!("{name}: '{arg}' is not an IP address or network (such as 10.0.0.1 or 10.0.0.0/8)"))
        });
        t.dir.trusted_proxies = Some(proxies.collect::<Result<_, _>>()?);
        Ok(())
    }),
    directive!(c"WSGIPassApacheRequest", ServerOrDirectory, c"WSGIPassApacheRequest On|Off", not_yet),
    directive!(c"WSGIIgnoreActivity", FileInfo, c"WSGIIgnoreActivity On|Off: requests here do not count as activity for a daemon's inactivity-timeout", |t, name, args| {
        t.dir.ignore_activity = Some(on_off(name, one(name, args)?)?);
        Ok(())
    }),
    // Interpreters and process groups.
    directive!(c"WSGIApplicationGroup", ServerOrDirectory, c"WSGIApplicationGroup %{GLOBAL}|%{RESOURCE}|%{SERVER}|%{HOST}|%{ENV:name}|name", |t, name, args| {
        t.dir.application_group = Some(one(name, args)?.to_string());
        Ok(())
    }),
    directive!(c"WSGIProcessGroup", ServerOrDirectory, c"WSGIProcessGroup name|%{GLOBAL}|%{ENV:name}: the daemon process group that runs applications here (%{GLOBAL}: Apache's own processes)", |t, name, args| {
        t.dir.process_group = Some(process_group_option(name, one(name, args)?)?);
        Ok(())
    }),
    directive!(raw c"WSGIDaemonProcess", Server, c"WSGIDaemonProcess name [processes=N] [threads=N] [user=name] [group=name] [display-name=%{GROUP}] [python-home=/path] ...: a group of daemon processes", |t, _, args| {
        let group = parse_daemon_process(args.first().copied().unwrap_or(""), &SystemAccounts, &|home| {
            parse_python_home(Path::new(home))
        })?;
        let mut defined = DEFINED_GROUPS.lock().unwrap_or_else(|e| e.into_inner());
        if defined.contains(&group.name) {
            return Err(format!("WSGIDaemonProcess {}: a group of that name is already defined (names are unique across the whole server, as in mod_wsgi)", group.name));
        }
        defined.push(group.name.clone());
        t.server.daemon_groups.push(group);
        Ok(())
    }),
    directive!(c"WSGIRestrictProcess", ServerOrDirectory, c"WSGIRestrictProcess group ...: the only process groups applications here may name (%{GLOBAL}: Apache's own processes)", |t, name, args| {
        if args.is_empty() {
            return Err(format!("{name} takes one or more process group names"));
        }
        t.dir.restrict_process = Some(args.iter().map(|group| process_group_option(name, group)).collect::<Result<_, _>>()?);
        Ok(())
    }),
    directive!(c"WSGISocketPrefix", GlobalServer, c"WSGISocketPrefix path: where daemon processes' sockets go (relative to ServerRoot unless absolute)", |t, name, args| {
        let prefix = one(name, args)?;
        if prefix.is_empty() || prefix.ends_with('/') {
            return Err(format!("{name}: '{prefix}' must name a file prefix, such as run/wsgi"));
        }
        t.server.process.socket_prefix = Some(PathBuf::from(prefix));
        Ok(())
    }),
    directive!(c"WSGISocketRotation", GlobalServer, c"WSGISocketRotation On|Off: a new socket path on every restart (default On)", |t, name, args| {
        t.server.process.socket_rotation = Some(on_off(name, one(name, args)?)?);
        Ok(())
    }),
    directive!(c"WSGIAcceptMutex", Server, c"WSGIAcceptMutex type: accepted without effect", |t, name, args| {
        one(name, args)?;
        ignored(t, name, "daemon processes take connections from a socket the kernel shares out, one idle thread at a time, so there is no accept mutex to choose")
    }),
    // Python in each child.
    directive!(c"WSGIPythonHome", GlobalServer, c"WSGIPythonHome /path: a virtualenv or Python installation prefix, made from the Python mod_rwsgi was built with", |t, name, args| {
        let home = parse_python_home(Path::new(one(name, args)?)).map_err(|why| format!("{name}: {why}"))?;
        t.server.process.python_home = Some(home);
        Ok(())
    }),
    directive!(c"WSGIPythonPath", GlobalServer, c"WSGIPythonPath dir[:dir...]: directories added to sys.path with site.addsitedir()", |t, name, args| {
        let dirs = one(name, args)?;
        t.server.process.python_path = dirs.split(':').filter(|d| !d.is_empty()).map(PathBuf::from).collect();
        Ok(())
    }),
    directive!(c"WSGIPythonOptimize", GlobalServer, c"WSGIPythonOptimize 0|1|2: as python -O / -OO", |t, name, args| {
        let level = one(name, args)?;
        t.server.process.optimize = Some(match level {
            "0" => 0,
            "1" => 1,
            "2" => 2,
            _ => return Err(format!("{name}: '{level}' is not accepted; use 0, 1 or 2")),
        });
        Ok(())
    }),
    directive!(c"WSGIPythonHashSeed", GlobalServer, c"WSGIPythonHashSeed random|0-4294967295: as PYTHONHASHSEED", |t, name, args| {
        let seed = one(name, args)?;
        t.server.process.hash_seed = match seed {
            "random" => None,
            _ => Some(seed.parse().map_err(|_| format!("{name}: '{seed}' is not accepted; use random or a number from 0 to 4294967295"))?),
        };
        Ok(())
    }),
    directive!(c"WSGIPythonWarnings", GlobalServer, c"WSGIPythonWarnings action:message:category:module:lineno: as python -W", |t, name, args| {
        t.server.process.warnings.push(one(name, args)?.to_string());
        Ok(())
    }),
    directive!(c"WSGIDontWriteBytecode", GlobalServer, c"WSGIDontWriteBytecode On|Off: as python -B", |t, name, args| {
        t.server.process.dont_write_bytecode = on_off(name, one(name, args)?)?;
        Ok(())
    }),
    directive!(c"WSGIPythonEggs", GlobalServer, c"WSGIPythonEggs /path: PYTHON_EGG_CACHE for pkg_resources", |t, name, args| {
        t.server.process.python_eggs = Some(absolute(name, one(name, args)?)?);
        Ok(())
    }),
    directive!(c"WSGINewRelicConfigFile", GlobalServer, c"WSGINewRelicConfigFile /path/newrelic.ini: initialise the New Relic agent with this file as Python starts in Apache's children (mod_wsgi 4.9)", |t, name, args| {
        t.server.process.new_relic.config_file = Some(absolute(name, one(name, args)?)?);
        Ok(())
    }),
    directive!(c"WSGINewRelicEnvironment", GlobalServer, c"WSGINewRelicEnvironment name: the environment (section) of WSGINewRelicConfigFile to use (mod_wsgi 4.9)", |t, name, args| {
        let environment = one(name, args)?;
        if environment.is_empty() {
            return Err(format!("{name}: the environment's name is empty"));
        }
        t.server.process.new_relic.environment = Some(environment.to_string());
        Ok(())
    }),
    directive!(c"WSGILazyInitialization", GlobalServer, c"WSGILazyInitialization On|Off: accepted; mod_rwsgi always starts Python in each process after it forks", |t, name, args| {
        on_off(name, one(name, args)?)?;
        ignored(t, name, "mod_rwsgi always starts Python in each process after Apache forks it, never in Apache's root parent, as mod_wsgi does with On (its default)")
    }),
    directive!(c"WSGIRestrictEmbedded", GlobalServer, c"WSGIRestrictEmbedded On|Off: On never starts Python in Apache's processes", |t, name, args| {
        t.server.process.restrict_embedded = on_off(name, one(name, args)?)?;
        Ok(())
    }),
    directive!(c"WSGIRestrictStdin", GlobalServer, c"WSGIRestrictStdin On|Off: reading sys.stdin raises (default On)", |t, name, args| {
        t.server.process.restrict_stdin = Some(on_off(name, one(name, args)?)?);
        Ok(())
    }),
    directive!(c"WSGIRestrictStdout", GlobalServer, c"WSGIRestrictStdout On|Off: writing sys.stdout raises (default Off)", |t, name, args| {
        t.server.process.restrict_stdout = Some(on_off(name, one(name, args)?)?);
        Ok(())
    }),
    directive!(c"WSGIRestrictSignal", GlobalServer, c"WSGIRestrictSignal On|Off: signal.signal() is ignored and logged (default On)", |t, name, args| {
        t.server.process.restrict_signal = Some(on_off(name, one(name, args)?)?);
        Ok(())
    }),
    directive!(c"WSGIDestroyInterpreter", GlobalServer, c"WSGIDestroyInterpreter On|Off", |t, name, args| {
        on_off(name, one(name, args)?)?;
        ignored(t, name, "mod_rwsgi never finalises Python at child exit (Apache may still be running threads)")
    }),
    directive!(c"WSGICaseSensitivity", GlobalServer, c"WSGICaseSensitivity On|Off", |t, name, args| {
        on_off(name, one(name, args)?)?;
        ignored(t, name, "it matters only on case-insensitive file systems (Windows, macOS)")
    }),
    directive!(c"WSGIVerboseDebugging", Server, c"WSGIVerboseDebugging On|Off", |t, name, args| {
        on_off(name, one(name, args)?)?;
        ignored(t, name, "use LogLevel rwsgi:debug for mod_rwsgi's own diagnostics")
    }),
    directive!(c"WSGIServerMetrics", Server, c"WSGIServerMetrics On|Off", not_yet),
    // Authentication and access.
    directive!(options 1 c"WSGIAccessScript", AuthConfig, c"WSGIAccessScript /path/to/script.wsgi [application-group=name]: allow_access(environ, host) decides who may in", |t, name, args| {
        t.dir.access_script = Some(parse_auth_script(name, args)?);
        Ok(())
    }),
    directive!(options 1 c"WSGIAuthUserScript", AuthConfig, c"WSGIAuthUserScript /path/to/script.wsgi [application-group=name]: check_password / get_realm_hash for AuthBasicProvider wsgi / AuthDigestProvider wsgi", |t, name, args| {
        t.dir.auth_user_script = Some(parse_auth_script(name, args)?);
        Ok(())
    }),
    directive!(options 1 c"WSGIAuthGroupScript", AuthConfig, c"WSGIAuthGroupScript /path/to/script.wsgi [application-group=name]: groups_for_user for Require wsgi-group", |t, name, args| {
        t.dir.auth_group_script = Some(parse_auth_script(name, args)?);
        Ok(())
    }),
    directive!(c"WSGIGroupAuthoritative", AuthConfig, c"WSGIGroupAuthoritative On|Off", |t, name, args| {
        on_off(name, one(name, args)?)?;
        ignored(t, name, "under Apache 2.4, Require wsgi-group is an authorization provider, and AuthMerging/RequireAny decide what a failed check means")
    }),
];

/// The daemon process groups defined so far in this reading of the
/// configuration (names must be unique across all servers).
static DEFINED_GROUPS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// As mod_wsgi ("WSGI process group not yet configured"): a script loaded
/// as the processes of `group` start needs the group defined by the time
/// its line is read. (mod_wsgi also refuses a group of a virtual host of
/// another name; mod_rwsgi loads the script in the group's processes
/// wherever the line is.)
fn defined_before(name: &str, group: &str) -> Result<(), String> {
    let defined = group == "%{GLOBAL}"
        || DEFINED_GROUPS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .any(|defined| defined == group);
    if defined {
        Ok(())
    } else {
        Err(format!(
            "{name}: no daemon process group '{group}' is defined before this line; put its WSGIDaemonProcess line first, as mod_wsgi requires"
        ))
    }
}

/// Adds a WSGIScriptAlias(Match). One that names both its process and its
/// application group, neither an expansion, and one script (not a
/// directory; for a pattern, a path with no back-reference), has its
/// script loaded as the group's processes start, as mod_wsgi does.
fn add_alias(
    t: &mut Configuring<'_>,
    name: &'static str,
    alias: ScriptAlias,
) -> Result<(), String> {
    let script = alias.script.to_string_lossy();
    // A directory alias maps each request to a script of its own, so there
    // is no one script to load.
    let one_script = !script.ends_with('/') && !alias.script.is_dir();
    let fixed_script = one_script && (alias.pattern.is_none() || !script.contains(['$', '&']));
    if let (Some(process_group), Some(application_group), true) =
        (&alias.process_group, &alias.application_group, fixed_script)
    {
        let expanded = |group: &str| group != "%{GLOBAL}" && group.contains("%{");
        if !expanded(process_group) && !expanded(application_group) {
            defined_before(name, process_group)?;
            t.server.import_scripts.push(ImportScript {
                script: alias.script.clone(),
                process_group: process_group.clone(),
                application_group: application_group.clone(),
                directive: name,
                required: false,
            });
        }
    }
    t.server.script_aliases.push(alias);
    Ok(())
}

/// Called before Apache reads its configuration (again).
pub fn forget_daemon_groups() {
    DEFINED_GROUPS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clear();
}

/// A directive of mod_wsgi's that mod_rwsgi refuses until it implements it:
/// ignoring it would change what the site does.
fn not_yet(_: &mut Configuring<'_>, name: &str, _: &[&str]) -> Result<(), String> {
    Err(format!(
        "{name} is a mod_wsgi directive that mod_rwsgi does not support yet; see docs/directives.md"
    ))
}

/// Accepts a directive that cannot change what mod_rwsgi does, noting why
/// for one line in the error log at startup.
fn ignored(t: &mut Configuring<'_>, name: &str, why: &str) -> Result<(), String> {
    let note = format!("{name} has no effect: {why}");
    if !t.server.ignored.contains(&note) {
        t.server.ignored.push(note);
    }
    Ok(())
}

/// The one argument of a directive.
fn one<'a>(name: &str, args: &[&'a str]) -> Result<&'a str, String> {
    match args {
        [arg] => Ok(arg),
        _ => Err(format!("{name} takes one argument, not {}", args.len())),
    }
}

fn absolute(name: &str, path: &str) -> Result<PathBuf, String> {
    if path.starts_with('/') {
        Ok(PathBuf::from(path))
    } else {
        Err(format!("{name}: '{path}' must be an absolute path"))
    }
}

/// `WSGIHandlerScript name path [process-group=name]
/// [application-group=name] [callable-object=name]
/// [pass-authorization=On|Off]`.
fn parse_handler_script(name: &str, args: &[&str]) -> Result<HandlerScript, String> {
    let [handler, script, options @ ..] = args else {
        return Err(format!(
            "{name} takes a handler name and a script path: {name} my-handler /srv/handler.wsgi"
        ));
    };
    let mut parsed = HandlerScript {
        handler: handler.to_string(),
        script: absolute(name, script)?,
        callable: "handle_request".to_string(),
        application_group: None,
        process_group: None,
        pass_authorization: None,
    };
    for option in options {
        match option.split_once('=') {
            Some(("application-group", group)) => {
                parsed.application_group = Some(application_group_option(name, group)?)
            }
            Some(("callable-object", callable)) => {
                parsed.callable = parse_callable(name, callable)?
            }
            Some(("process-group", group)) => {
                parsed.process_group = Some(process_group_option(name, group)?)
            }
            Some(("pass-authorization", value)) => {
                parsed.pass_authorization =
                    Some(on_off(&format!("{name} pass-authorization"), value)?)
            }
            _ => {
                return Err(format!(
                    "{name}: unknown option '{option}'; accepted: application-group, callable-object, pass-authorization, process-group"
                ));
            }
        }
    }
    Ok(parsed)
}

/// `WSGIAccessScript`/`WSGIAuthUserScript`/`WSGIAuthGroupScript path
/// [application-group=name]`.
fn parse_auth_script(name: &str, args: &[&str]) -> Result<AuthScript, String> {
    let [script, options @ ..] = args else {
        return Err(format!(
            "{name} takes a script path, then options: {name} /srv/auth.wsgi [application-group=name]"
        ));
    };
    let mut auth = AuthScript {
        script: absolute(name, script)?,
        application_group: None,
    };
    for option in options {
        match option.split_once('=') {
            Some(("application-group", group)) => {
                auth.application_group = Some(application_group_option(name, group)?)
            }
            Some(("process-group", "%{GLOBAL}")) => {}
            _ => {
                return Err(format!(
                    "{name}: unknown option '{option}'; accepted: application-group (access and authentication scripts run in Apache's own processes, as with mod_wsgi)"
                ));
            }
        }
    }
    Ok(auth)
}

/// `WSGIImportScript path process-group=... application-group=...`: both
/// options are required, as in mod_wsgi.
fn parse_import_script(name: &str, args: &[&str]) -> Result<ImportScript, String> {
    let [script, options @ ..] = args else {
        return Err(format!(
            "{name} takes a script path, process-group= and application-group="
        ));
    };
    let script = absolute(name, script)?;
    let (mut process_group, mut application_group) = (None, None);
    for option in options {
        match option.split_once('=') {
            Some(("process-group", group)) => process_group = Some(group),
            Some(("application-group", group)) => application_group = Some(group),
            _ => {
                return Err(format!(
                    "{name}: unknown option '{option}'; accepted: process-group, application-group"
                ));
            }
        }
    }
    match (process_group, application_group) {
        (Some(group), Some(application_group)) => Ok(ImportScript {
            script,
            process_group: process_group_option(name, group)?,
            application_group: application_group_option(name, application_group)?,
            directive: "WSGIImportScript",
            required: true,
        }),
        _ => Err(format!(
            "{name} needs both process-group= and application-group=, as in mod_wsgi"
        )),
    }
}

/// The major.minor of the Python mod_rwsgi was built against.
const PYTHON_VERSION: &str = env!("RWSGI_PYTHON_VERSION");

/// Checks a WSGIPythonHome (or python-home=) now, so that a wrong one
/// fails `apachectl -t` with a sentence instead of every child failing
/// with "No module named 'encodings'". The error is the reason alone: the
/// caller names the directive.
fn parse_python_home(home: &Path) -> Result<PythonHome, String> {
    let shown = home.display();
    if !home.is_absolute() {
        return Err(format!("'{shown}' must be an absolute path"));
    }
    if !home.is_dir() {
        return Err(format!("{shown} does not exist or is not a directory"));
    }
    let pyvenv = home.join("pyvenv.cfg");
    if let Ok(cfg) = std::fs::read_to_string(&pyvenv) {
        let version = cfg.lines().find_map(|line| {
            let (key, value) = line.split_once('=')?;
            matches!(key.trim(), "version" | "version_info").then(|| value.trim().to_string())
        });
        return match version {
            Some(v) if v == PYTHON_VERSION || v.starts_with(&format!("{PYTHON_VERSION}.")) => {
                Ok(PythonHome::Venv(home.to_path_buf()))
            }
            Some(v) => Err(format!(
                "{shown} is a virtualenv made from Python {v}, but mod_rwsgi was built for Python {PYTHON_VERSION}; recreate it with python{PYTHON_VERSION} -m venv"
            )),
            None => Err(format!(
                "{} has no 'version' line, so {shown} is not a virtualenv mod_rwsgi can use",
                pyvenv.display()
            )),
        };
    }
    let stdlib = home.join(format!("lib/python{PYTHON_VERSION}/os.py"));
    if stdlib.is_file() {
        Ok(PythonHome::Prefix(home.to_path_buf()))
    } else {
        Err(format!(
            "{shown} is neither a virtualenv (no pyvenv.cfg) nor a Python {PYTHON_VERSION} installation prefix (no {})",
            stdlib.display()
        ))
    }
}

#[cfg(test)]
mod tests;
