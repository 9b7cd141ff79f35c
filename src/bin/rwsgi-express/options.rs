//! The command line: `rwsgi-express COMMAND [OPTIONS] [SCRIPT]`. Every
//! mistake is one line saying what is wrong and what is accepted.

use std::path::PathBuf;

pub const USAGE: &str = "\
usage: rwsgi-express start-server|setup-server [OPTIONS] SCRIPT.wsgi|SCRIPT.py
       rwsgi-express start-server --application-type module --entry-point package.module:callable [OPTIONS]
       rwsgi-express module-config

Options:
  --host ADDRESS                 interface to listen on (default 127.0.0.1)
  --port N                       HTTP port (default 8000)
  --processes N                  Apache child processes (default 1)
  --threads N                    threads per process (default 5)
  --max-clients N                requests served at once (default processes x threads)
  --callable-object NAME         the WSGI callable in the script (default application)
  --application-type script|module
  --entry-point PATH|MODULE:CALLABLE
  --mount-point URL              where the app is mounted (default /)
  --url-alias URL PATH           static files or directory served by Apache (repeatable)
  --python-path DIR              added to sys.path (repeatable)
  --python-home DIR              a virtualenv (or Python prefix) to run in
  --reload-on-changes            restart gracefully when a .py file of the app changes
  --log-to-terminal              error and access log on the terminal
  --access-log                   write an access log
  --log-level LEVEL              Apache LogLevel (default info)
  --limit-request-body BYTES     LimitRequestBody (default 10485760)
  --server-root DIR              where the configuration is written (default /tmp/rwsgi-express-PORT)
  --https-port N                 also serve HTTPS on this port (needs the two options below)
  --ssl-certificate-file FILE
  --ssl-certificate-key-file FILE
  --http2                        HTTP/2 (h2 over TLS, h2c) with mod_http2
  --include-file FILE            extra Apache configuration (repeatable)
  --user NAME / --group NAME     who the children run as when started by root (default www-data)
  --httpd-executable FILE        the Apache binary (default: found with apxs)
  --modules-directory DIR        Apache's module directory (default: found with apxs)
  --rwsgi-module FILE            mod_rwsgi.so (default: next to rwsgi-express, else installed)

Daemon mode (the app in a process group of its own, as mod_wsgi-express runs it):
  --daemon                       run the app in a WSGIDaemonProcess group of --processes x --threads
  --request-timeout SECONDS      (default 60) and, each with mod_wsgi-express's default:
  --queue-timeout 45  --socket-timeout 60  --connect-timeout 15  --startup-timeout 15
  --deadlock-timeout 60  --graceful-timeout 15  --shutdown-timeout 5
  --maximum-requests N  --restart-interval S  --inactivity-timeout S  --cpu-time-limit S
  --memory-limit BYTES  --display-name NAME (default (wsgi:express))
";

/// The WSGIDaemonProcess options --daemon sets, with mod_wsgi-express's
/// defaults where it has one.
pub const DAEMON_OPTIONS: [(&str, Option<&str>); 13] = [
    ("request-timeout", Some("60")),
    ("queue-timeout", Some("45")),
    ("socket-timeout", Some("60")),
    ("connect-timeout", Some("15")),
    ("startup-timeout", Some("15")),
    ("deadlock-timeout", Some("60")),
    ("graceful-timeout", Some("15")),
    ("shutdown-timeout", Some("5")),
    ("maximum-requests", None),
    ("restart-interval", None),
    ("inactivity-timeout", None),
    ("cpu-time-limit", None),
    ("memory-limit", None),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    StartServer,
    SetupServer,
    ModuleConfig,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApplicationType {
    Script,
    Module,
}

#[derive(Clone, Debug)]
pub struct Options {
    pub command: Command,
    pub application_type: ApplicationType,
    pub entry_point: Option<String>,
    pub host: String,
    pub port: u16,
    pub processes: u32,
    pub threads: u32,
    pub max_clients: Option<u32>,
    pub callable_object: String,
    pub mount_point: String,
    pub url_aliases: Vec<(String, PathBuf)>,
    pub python_path: Vec<PathBuf>,
    pub python_home: Option<PathBuf>,
    pub reload_on_changes: bool,
    pub log_to_terminal: bool,
    pub access_log: bool,
    pub log_level: String,
    pub limit_request_body: u64,
    pub server_root: Option<PathBuf>,
    pub https_port: Option<u16>,
    pub ssl_certificate_file: Option<PathBuf>,
    pub ssl_certificate_key_file: Option<PathBuf>,
    pub http2: bool,
    pub include_files: Vec<PathBuf>,
    pub user: Option<String>,
    pub group: Option<String>,
    pub httpd_executable: Option<PathBuf>,
    pub modules_directory: Option<PathBuf>,
    pub rwsgi_module: Option<PathBuf>,
    /// --daemon: the app runs in a daemon process group.
    pub daemon: bool,
    /// Daemon options given on the command line (name, whole number).
    pub daemon_options: Vec<(&'static str, u64)>,
    pub display_name: Option<String>,
}

impl Options {
    fn new(command: Command) -> Self {
        Self {
            command,
            application_type: ApplicationType::Script,
            entry_point: None,
            host: "127.0.0.1".into(),
            port: 8000,
            processes: 1,
            threads: 5,
            max_clients: None,
            callable_object: "application".into(),
            mount_point: "/".into(),
            url_aliases: Vec::new(),
            python_path: Vec::new(),
            python_home: None,
            reload_on_changes: false,
            log_to_terminal: false,
            access_log: false,
            log_level: "info".into(),
            limit_request_body: 10 * 1024 * 1024,
            server_root: None,
            https_port: None,
            ssl_certificate_file: None,
            ssl_certificate_key_file: None,
            http2: false,
            include_files: Vec::new(),
            user: None,
            group: None,
            httpd_executable: None,
            modules_directory: None,
            rwsgi_module: None,
            daemon: false,
            daemon_options: Vec::new(),
            display_name: None,
        }
    }

    /// The group's options: those given, else mod_wsgi-express's defaults.
    pub fn daemon_settings(&self) -> Vec<(&'static str, String)> {
        DAEMON_OPTIONS
            .iter()
            .filter_map(|&(name, default)| {
                let given = self
                    .daemon_options
                    .iter()
                    .rev()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.to_string());
                given
                    .or(default.map(str::to_string))
                    .map(|value| (name, value))
            })
            .collect()
    }

    /// Requests served at once: --max-clients, or every thread busy.
    pub fn max_clients(&self) -> u32 {
        self.max_clients
            .unwrap_or(self.processes.saturating_mul(self.threads))
    }
}

/// Parses the arguments after the program name. Err is one line.
pub fn parse(args: &[String]) -> Result<Options, String> {
    let (command, rest) = match args.split_first() {
        Some((command, rest)) => (command.as_str(), rest),
        None => return Err("no command given; use start-server, setup-server or module-config (--help shows the options)".into()),
    };
    let command = match command {
        "start-server" => Command::StartServer,
        "setup-server" => Command::SetupServer,
        "module-config" => Command::ModuleConfig,
        other => {
            return Err(format!(
                "unknown command '{other}'; use start-server, setup-server or module-config"
            ));
        }
    };
    let mut options = Options::new(command);
    let mut args = rest.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| -> Result<String, String> {
            args.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match arg.as_str() {
            "--host" => options.host = value(arg)?,
            "--port" => options.port = port(arg, &value(arg)?)?,
            "--https-port" => options.https_port = Some(port(arg, &value(arg)?)?),
            "--processes" => options.processes = positive(arg, &value(arg)?)?,
            "--threads" => options.threads = positive(arg, &value(arg)?)?,
            "--max-clients" => options.max_clients = Some(positive(arg, &value(arg)?)?),
            "--limit-request-body" => {
                let text = value(arg)?;
                options.limit_request_body = text.parse().map_err(|_| {
                    format!("{arg} takes a number of bytes (0 for no limit), not '{text}'")
                })?;
            }
            "--callable-object" => options.callable_object = identifier(arg, &value(arg)?)?,
            "--application-type" => {
                options.application_type = match value(arg)?.as_str() {
                    "script" => ApplicationType::Script,
                    "module" => ApplicationType::Module,
                    other => {
                        return Err(format!("{arg} takes script or module, not '{other}'"));
                    }
                }
            }
            "--entry-point" => options.entry_point = Some(value(arg)?),
            "--mount-point" => {
                let mount = value(arg)?;
                if !mount.starts_with('/') {
                    return Err(format!("{arg} must start with '/', not '{mount}'"));
                }
                options.mount_point = mount;
            }
            "--url-alias" => {
                let url = value(arg)?;
                let path = args
                    .next()
                    .ok_or_else(|| format!("{arg} takes a URL path and a file or directory"))?;
                if !url.starts_with('/') {
                    return Err(format!(
                        "{arg}: the URL path must start with '/', not '{url}'"
                    ));
                }
                options.url_aliases.push((url, existing(arg, path)?));
            }
            "--python-path" => options.python_path.push(existing(arg, &value(arg)?)?),
            "--python-home" => options.python_home = Some(existing(arg, &value(arg)?)?),
            "--reload-on-changes" => options.reload_on_changes = true,
            "--log-to-terminal" => options.log_to_terminal = true,
            "--access-log" => options.access_log = true,
            "--log-level" => {
                let level = value(arg)?;
                const LEVELS: [&str; 8] = [
                    "emerg", "alert", "crit", "error", "warn", "notice", "info", "debug",
                ];
                if !LEVELS.contains(&level.as_str()) {
                    return Err(format!(
                        "{arg} takes one of {}, not '{level}'",
                        LEVELS.join(", ")
                    ));
                }
                options.log_level = level;
            }
            "--server-root" => options.server_root = Some(absolute(&value(arg)?)?),
            "--ssl-certificate-file" => {
                options.ssl_certificate_file = Some(existing(arg, &value(arg)?)?)
            }
            "--ssl-certificate-key-file" => {
                options.ssl_certificate_key_file = Some(existing(arg, &value(arg)?)?)
            }
            "--http2" => options.http2 = true,
            "--include-file" => options.include_files.push(existing(arg, &value(arg)?)?),
            "--user" => options.user = Some(value(arg)?),
            "--group" => options.group = Some(value(arg)?),
            "--httpd-executable" => options.httpd_executable = Some(PathBuf::from(value(arg)?)),
            "--modules-directory" => options.modules_directory = Some(PathBuf::from(value(arg)?)),
            "--rwsgi-module" => options.rwsgi_module = Some(PathBuf::from(value(arg)?)),
            "--daemon" => options.daemon = true,
            "--display-name" => options.display_name = Some(value(arg)?),
            flag if DAEMON_OPTIONS
                .iter()
                .any(|(name, _)| flag.strip_prefix("--") == Some(name)) =>
            {
                let name = DAEMON_OPTIONS
                    .iter()
                    .map(|(name, _)| *name)
                    .find(|name| flag.strip_prefix("--") == Some(name))
                    .expect("matched above");
                let text = value(arg)?;
                let number = text
                    .parse::<u64>()
                    .map_err(|_| format!("{arg} takes a whole number, not '{text}'"))?;
                options.daemon_options.push((name, number));
            }
            flag if flag.starts_with("--") => {
                return Err(format!(
                    "unknown option '{flag}' (--help lists the options)"
                ));
            }
            positional => {
                if options.entry_point.is_some() {
                    return Err(format!(
                        "'{positional}': only one script or entry point may be given"
                    ));
                }
                options.entry_point = Some(positional.to_string());
            }
        }
    }
    check(&options)?;
    Ok(options)
}

fn check(options: &Options) -> Result<(), String> {
    if !options.daemon && (!options.daemon_options.is_empty() || options.display_name.is_some()) {
        let given = options
            .daemon_options
            .first()
            .map_or("--display-name", |(name, _)| name);
        return Err(format!(
            "--{} applies to daemon mode: add --daemon",
            given.trim_start_matches("--")
        ));
    }
    if options.command != Command::ModuleConfig && options.entry_point.is_none() {
        return Err("no application given: name a SCRIPT.wsgi or SCRIPT.py, or --application-type module --entry-point package.module:callable".into());
    }
    if options.https_port.is_some()
        && (options.ssl_certificate_file.is_none() || options.ssl_certificate_key_file.is_none())
    {
        return Err(
            "--https-port needs --ssl-certificate-file and --ssl-certificate-key-file".into(),
        );
    }
    if options.https_port == Some(options.port) {
        return Err(format!(
            "--https-port must differ from --port ({})",
            options.port
        ));
    }
    if options.application_type == ApplicationType::Module {
        let entry = options.entry_point.as_deref().unwrap_or_default();
        let valid = match entry.split_once(':') {
            Some((module, callable)) => dotted(module) && identifier_ok(callable),
            None => dotted(entry),
        };
        if !valid {
            return Err(format!(
                "--entry-point '{entry}' is not package.module or package.module:callable"
            ));
        }
    }
    Ok(())
}

fn port(name: &str, text: &str) -> Result<u16, String> {
    text.parse::<u16>()
        .ok()
        .filter(|&port| port > 0)
        .ok_or_else(|| format!("{name} takes a port number from 1 to 65535, not '{text}'"))
}

fn positive(name: &str, text: &str) -> Result<u32, String> {
    text.parse::<u32>()
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("{name} takes a whole number above 0, not '{text}'"))
}

fn identifier_ok(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}

fn identifier(name: &str, text: &str) -> Result<String, String> {
    if identifier_ok(text) {
        Ok(text.to_string())
    } else {
        Err(format!("{name} takes a Python identifier, not '{text}'"))
    }
}

fn dotted(text: &str) -> bool {
    !text.is_empty() && text.split('.').all(identifier_ok)
}

fn absolute(text: &str) -> Result<PathBuf, String> {
    std::path::absolute(text).map_err(|e| format!("'{text}': {e}"))
}

fn existing(name: &str, text: &str) -> Result<PathBuf, String> {
    let path = absolute(text)?;
    if path.exists() {
        Ok(path)
    } else {
        Err(format!("{name}: {} does not exist", path.display()))
    }
}
