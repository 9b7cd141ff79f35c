//! rwsgi-express: runs any WSGI application behind a real Apache with
//! mod_rwsgi, in one command. It writes a complete Apache configuration
//! (httpd.conf and an apachectl script) into a server root and runs Apache
//! in the foreground.

mod apache;
mod check;
mod config;
mod options;
mod supervise;

use std::ffi::CString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use apache::Apache;
use config::{Layout, RunAs};
use options::{ApplicationType, Command, Options};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") || args.is_empty() {
        print!("{}", options::USAGE);
        return if args.is_empty() {
            ExitCode::from(2)
        } else {
            ExitCode::SUCCESS
        };
    }
    let options = match options::parse(&args) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("rwsgi-express: {message}");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            eprintln!("rwsgi-express: {message}");
            ExitCode::from(1)
        }
    }
}

fn run(options: &Options) -> Result<u8, String> {
    let apache = Apache::locate(
        options.httpd_executable.as_deref(),
        options.modules_directory.as_deref(),
    )?;
    let module = apache::rwsgi_module(options.rwsgi_module.as_deref(), &apache)?;
    if options.command == Command::ModuleConfig {
        println!("LoadModule rwsgi_module \"{}\"", module.display());
        if let Some(home) = &options.python_home {
            println!("WSGIPythonHome \"{}\"", home.display());
        }
        return Ok(0);
    }
    let server_root = options
        .server_root
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("/tmp/rwsgi-express-{}", options.port)));
    let (script, generated) = config::entry_script(options, &server_root)?;
    let run_as = run_as(options)?;
    let user = match &run_as {
        Some(run_as) => Some(user_ids(run_as)?),
        None => None,
    };
    let mut python_path = options.python_path.clone();
    match options.application_type {
        ApplicationType::Script => {
            python_path.insert(0, script.parent().unwrap_or(Path::new("/")).to_path_buf())
        }
        ApplicationType::Module => {
            python_path.insert(0, std::env::current_dir().map_err(|e| e.to_string())?)
        }
    }
    if options.command == Command::StartServer {
        check::port_free(&options.host, options.port)?;
        if let Some(port) = options.https_port {
            check::port_free(&options.host, port)?;
        }
    }
    let user_check = user
        .as_ref()
        .zip(run_as.as_ref())
        .map(|(&(uid, gid), r)| (uid, gid, r.user.as_str()));
    check::application(options, &script, &python_path, user_check)?;

    make_dir(&server_root)?;
    make_dir(&server_root.join("htdocs"))?;
    if let Some(source) = &generated {
        write(&script, source, 0o644)?;
    }
    let layout = Layout {
        apache: &apache,
        rwsgi_module: &module,
        server_root: &server_root,
        script: &script,
        run_as: run_as.as_ref(),
    };
    let conf = server_root.join("httpd.conf");
    write(&conf, &config::httpd_conf(options, &layout)?, 0o644)?;
    let apachectl = server_root.join("apachectl");
    write(
        &apachectl,
        &config::apachectl(&apache.httpd, &server_root),
        0o755,
    )?;
    config_test(&apache.httpd, &conf)?;

    if options.command == Command::SetupServer {
        println!(
            "Configuration written to {}; run {} start",
            server_root.display(),
            apachectl.display()
        );
        return Ok(0);
    }
    let scheme_port = options
        .https_port
        .map(|port| {
            format!(
                " and https://{}:{port}{}",
                options.host, options.mount_point
            )
        })
        .unwrap_or_default();
    eprintln!(
        "rwsgi-express: serving {} at http://{}:{}{}{scheme_port} (Ctrl-C stops; configuration in {})",
        options.entry_point.as_deref().unwrap_or_default(),
        options.host,
        options.port,
        options.mount_point,
        server_root.display()
    );
    let watched = options.reload_on_changes.then(|| python_path.clone());
    let code = supervise::run(&apache.httpd, &conf, watched)?;
    Ok(code as u8)
}

/// When run as root, Apache's children must run as someone else.
fn run_as(options: &Options) -> Result<Option<RunAs>, String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        if options.user.is_some() || options.group.is_some() {
            return Err("--user and --group need rwsgi-express to run as root".into());
        }
        return Ok(None);
    }
    let user = options.user.clone().unwrap_or_else(|| "www-data".into());
    let group = options.group.clone().unwrap_or_else(|| user.clone());
    Ok(Some(RunAs { user, group }))
}

fn user_ids(run_as: &RunAs) -> Result<(u32, u32), String> {
    let name = CString::new(run_as.user.as_str()).map_err(|_| "bad --user".to_string())?;
    // SAFETY: getpwnam returns NULL or a pointer to static storage, read at once.
    let uid = unsafe {
        let entry = libc::getpwnam(name.as_ptr());
        if entry.is_null() {
            return Err(format!("--user {}: no such user", run_as.user));
        }
        (*entry).pw_uid
    };
    let group = CString::new(run_as.group.as_str()).map_err(|_| "bad --group".to_string())?;
    // SAFETY: as above, for getgrnam.
    let gid = unsafe {
        let entry = libc::getgrnam(group.as_ptr());
        if entry.is_null() {
            return Err(format!("--group {}: no such group", run_as.group));
        }
        (*entry).gr_gid
    };
    Ok((uid, gid))
}

fn make_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("cannot make {} readable: {e}", dir.display()))
}

fn write(path: &Path, text: &str, mode: u32) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("cannot set the mode of {}: {e}", path.display()))
}

/// `httpd -t`: a configuration Apache refuses is reported in one line.
fn config_test(httpd: &Path, conf: &Path) -> Result<(), String> {
    let out = std::process::Command::new(httpd)
        .arg("-t")
        .arg("-f")
        .arg(conf)
        .output()
        .map_err(|e| format!("could not run {}: {e}", httpd.display()))?;
    if out.status.success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&out.stderr);
    let reason: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    Err(format!(
        "Apache refused the configuration {}: {}",
        conf.display(),
        reason.join(" ")
    ))
}
