//! The Apache configuration rwsgi-express writes: a complete httpd.conf in
//! the server root, serving the app with mod_rwsgi, plus an apachectl-style
//! control script.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::apache::Apache;
use crate::options::{ApplicationType, Options};

/// Who Apache's children run as when rwsgi-express runs as root.
pub struct RunAs {
    pub user: String,
    pub group: String,
}

/// What the configuration needs beyond the options.
pub struct Layout<'a> {
    pub apache: &'a Apache,
    pub rwsgi_module: &'a Path,
    pub server_root: &'a Path,
    /// The WSGI script Apache loads (for --application-type module, a
    /// generated one that imports the entry point).
    pub script: &'a Path,
    pub run_as: Option<&'a RunAs>,
}

/// The script to serve: the given file, or for `module`, a small script in
/// the server root that imports the entry point.
pub fn entry_script(
    options: &Options,
    server_root: &Path,
) -> Result<(PathBuf, Option<String>), String> {
    let entry = options.entry_point.as_deref().unwrap_or_default();
    match options.application_type {
        ApplicationType::Script => {
            let path = std::path::absolute(entry).map_err(|e| format!("'{entry}': {e}"))?;
            if !path.is_file() {
                return Err(format!("the WSGI script {} does not exist", path.display()));
            }
            Ok((path, None))
        }
        ApplicationType::Module => {
            let (module, callable) = entry
                .split_once(':')
                .unwrap_or((entry, options.callable_object.as_str()));
            let source = format!(
                "# Written by rwsgi-express: serves {module}:{callable}.\nfrom {module} import {callable} as application\n"
            );
            Ok((server_root.join("entry_point.wsgi"), Some(source)))
        }
    }
}

/// The callable Apache looks up in the script.
fn callable(options: &Options) -> &str {
    match options.application_type {
        ApplicationType::Script => &options.callable_object,
        ApplicationType::Module => "application",
    }
}

pub fn httpd_conf(options: &Options, layout: &Layout<'_>) -> Result<String, String> {
    let apache = layout.apache;
    let root = layout.server_root.display();
    let mut conf = String::new();
    let mut line = |text: &str| {
        conf.push_str(text);
        conf.push('\n');
    };
    line("# Written by rwsgi-express; started by its apachectl script.");
    line(&format!("ServerRoot \"{root}\""));
    line(&format!("PidFile \"{root}/httpd.pid\""));
    line(&format!("DefaultRuntimeDir \"{root}\""));
    line("ServerName localhost");
    line(&format!("Listen {}:{}", options.host, options.port));
    let debian = "apache2 (Debian/Ubuntu)";
    let mut modules = vec![apache.mpm()?];
    for name in ["authz_core", "mime", "alias", "dir"] {
        modules.push(apache.load_module(name, debian)?);
    }
    if layout.run_as.is_some() {
        // User and Group: built into Debian's apache2, a loadable module
        // in an Apache built from source (Docker's httpd image).
        modules.push(apache.load_module("unixd", debian)?);
    }
    if options.access_log {
        modules.push(apache.load_module("log_config", debian)?);
    }
    if options.https_port.is_some() {
        modules.push(apache.load_module("ssl", debian)?);
        modules.push(apache.load_module("socache_shmcb", debian)?);
    }
    if options.http2 {
        modules.push(apache.load_module("http2", debian)?);
    }
    for module in modules.into_iter().flatten() {
        line(&module);
    }
    line(&format!(
        "LoadModule rwsgi_module \"{}\"",
        layout.rwsgi_module.display()
    ));
    if let Some(run_as) = layout.run_as {
        line(&format!("User {}", run_as.user));
        line(&format!("Group {}", run_as.group));
    }
    if options.log_to_terminal {
        line("ErrorLog /dev/stderr");
    } else {
        line(&format!("ErrorLog \"{root}/error_log\""));
    }
    line(&format!("LogLevel {}", options.log_level));
    if options.access_log {
        let target = if options.log_to_terminal {
            "/dev/stdout".to_string()
        } else {
            format!("\"{root}/access_log\"")
        };
        line(&format!(
            "CustomLog {target} \"%h %l %u %t \\\"%r\\\" %>s %b\""
        ));
    }
    if Path::new("/etc/mime.types").is_file() {
        line("TypesConfig /etc/mime.types");
    }
    // One server's worth of processes and threads, fixed, as mod_wsgi-express
    // sizes its daemon. In daemon mode Apache's one child only relays, and
    // has a thread per client the group may be serving or queueing.
    let clients = options.max_clients();
    let (processes, threads) = if options.daemon {
        (1, clients.max(10))
    } else {
        (options.processes, options.threads)
    };
    line(&format!("StartServers {processes}"));
    line(&format!("ServerLimit {processes}"));
    line(&format!("ThreadsPerChild {threads}"));
    line(&format!("ThreadLimit {threads}"));
    line(&format!("MinSpareThreads {threads}"));
    line(&format!("MaxSpareThreads {}", processes * threads));
    line(&format!(
        "MaxRequestWorkers {}",
        clients.min(processes * threads)
    ));
    line(&format!("LimitRequestBody {}", options.limit_request_body));
    line("Timeout 60");
    line("GracefulShutdownTimeout 5");
    line(&format!("DocumentRoot \"{root}/htdocs\""));
    line("<Directory />\n    AllowOverride None\n    Require all denied\n</Directory>");
    // An empty document root: URLs outside the app are 404, not 403.
    line(&format!(
        "<Directory \"{root}/htdocs\">\n    Require all granted\n</Directory>"
    ));
    if let (Some(home), false) = (&options.python_home, options.daemon) {
        line(&format!("WSGIPythonHome \"{}\"", home.display()));
    }
    let mut python_path: Vec<PathBuf> = options.python_path.clone();
    if let Some(dir) = layout.script.parent() {
        if options.application_type == ApplicationType::Script {
            // As mod_wsgi-express: the script's directory is importable.
            python_path.insert(0, dir.to_path_buf());
        }
    }
    if options.application_type == ApplicationType::Module {
        python_path.insert(0, std::env::current_dir().map_err(|e| e.to_string())?);
    }
    let joined: Vec<String> = python_path
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    if options.daemon {
        line(&daemon_group(options, &joined.join(":")));
    } else if !joined.is_empty() {
        line(&format!("WSGIPythonPath \"{}\"", joined.join(":")));
    }
    for (url, path) in &options.url_aliases {
        line(&format!("Alias \"{url}\" \"{}\"", path.display()));
        let dir = if path.is_dir() {
            path.clone()
        } else {
            path.parent().map(Path::to_path_buf).unwrap_or_default()
        };
        line(&format!(
            "<Directory \"{}\">\n    Require all granted\n</Directory>",
            dir.display()
        ));
    }
    let script = layout.script.display();
    line(&format!(
        "WSGIScriptAlias \"{}\" \"{script}\" callable-object={}",
        options.mount_point,
        callable(options)
    ));
    let script_dir = layout.script.parent().map(Path::display);
    if let Some(dir) = script_dir {
        let file = layout
            .script
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        line(&format!(
            "<Directory \"{dir}\">\n    <Files \"{file}\">\n        Require all granted\n    </Files>\n</Directory>"
        ));
    }
    if options.http2 {
        line("Protocols h2 h2c http/1.1");
    }
    if let (Some(port), Some(cert), Some(key)) = (
        options.https_port,
        &options.ssl_certificate_file,
        &options.ssl_certificate_key_file,
    ) {
        line(&format!("Listen {}:{port} https", options.host));
        line(&format!(
            "SSLSessionCache \"shmcb:{root}/ssl_scache(512000)\""
        ));
        let mut vhost = String::new();
        let _ = write!(
            vhost,
            "<VirtualHost *:{port}>\n    SSLEngine on\n    SSLCertificateFile \"{}\"\n    SSLCertificateKeyFile \"{}\"\n</VirtualHost>",
            cert.display(),
            key.display()
        );
        line(&vhost);
    }
    for include in &options.include_files {
        line(&format!("Include \"{}\"", include.display()));
    }
    Ok(conf)
}

/// --daemon: the app's process group (no Python in Apache's children), as
/// mod_wsgi-express writes it.
fn daemon_group(options: &Options, python_path: &str) -> String {
    let mut group = format!(
        "WSGIDaemonProcess express processes={} threads={} display-name='{}'",
        options.processes,
        options.threads,
        options.display_name.as_deref().unwrap_or("(wsgi:express)")
    );
    if let Some(home) = &options.python_home {
        let _ = write!(group, " python-home='{}'", home.display());
    }
    if !python_path.is_empty() {
        let _ = write!(group, " python-path='{python_path}'");
    }
    for (name, value) in options.daemon_settings() {
        let _ = write!(group, " {name}={value}");
    }
    format!(
        "WSGIRestrictEmbedded On\n{group}\nWSGIProcessGroup express\nWSGIApplicationGroup %{{GLOBAL}}"
    )
}

/// An apachectl-style control script for setup-server.
pub fn apachectl(httpd: &Path, server_root: &Path) -> String {
    let (httpd, root) = (httpd.display(), server_root.display());
    format!(
        "#!/bin/sh\n# Written by rwsgi-express: start | stop | restart | graceful | graceful-stop | configtest\n\
         HTTPD=\"{httpd}\"\nCONF=\"{root}/httpd.conf\"\n\
         case \"$1\" in\n\
         start) exec \"$HTTPD\" -f \"$CONF\" -k start ;;\n\
         foreground) exec \"$HTTPD\" -f \"$CONF\" -DFOREGROUND ;;\n\
         stop|restart|graceful|graceful-stop) exec \"$HTTPD\" -f \"$CONF\" -k \"$1\" ;;\n\
         configtest) exec \"$HTTPD\" -f \"$CONF\" -t ;;\n\
         *) echo \"usage: $0 start|foreground|stop|restart|graceful|graceful-stop|configtest\" >&2; exit 2 ;;\n\
         esac\n"
    )
}
