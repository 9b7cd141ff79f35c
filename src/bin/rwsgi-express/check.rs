//! Start-up checks: the port is free, and the application loads with its
//! callable, before Apache starts (not at the first request).

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::options::{ApplicationType, Options};

const CHECK_APP: &str = include_str!("check_app.py");

pub fn port_free(host: &str, port: u16) -> Result<(), String> {
    match TcpListener::bind((host, port)) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(format!(
            "port {port} on {host} is already in use: stop what listens there or choose another --port"
        )),
        Err(e) => Err(format!("cannot listen on {host}:{port}: {e}")),
    }
}

/// The Python that will run the app: the virtualenv's, or the one
/// mod_rwsgi was built with.
fn python(options: &Options) -> PathBuf {
    match &options.python_home {
        Some(home) if home.join("bin/python").exists() => home.join("bin/python"),
        _ => PathBuf::from(env!("RWSGI_PYTHON")),
    }
}

/// Loads the app in a separate Python, as `user` when rwsgi-express runs as
/// root, and checks its callable is there.
pub fn application(
    options: &Options,
    script: &Path,
    python_path: &[PathBuf],
    user: Option<(u32, u32, &str)>,
) -> Result<(), String> {
    let (kind, target, callable) = match options.application_type {
        ApplicationType::Script => (
            "script",
            script.display().to_string(),
            options.callable_object.clone(),
        ),
        ApplicationType::Module => {
            let entry = options.entry_point.as_deref().unwrap_or_default();
            let (module, callable) = entry
                .split_once(':')
                .unwrap_or((entry, options.callable_object.as_str()));
            ("module", module.to_string(), callable.to_string())
        }
    };
    let mut command = Command::new(python(options));
    command
        .arg("-c")
        .arg(CHECK_APP)
        .args([kind, &target, &callable])
        .args(python_path)
        .env_remove("PYTHONPATH");
    if let Some((uid, gid, _)) = user {
        command.uid(uid).gid(gid).env("HOME", "/");
    }
    let out = command.output().map_err(|e| {
        format!(
            "could not run {} to check the application: {e}",
            python(options).display()
        )
    })?;
    if out.status.success() {
        return Ok(());
    }
    let reason = String::from_utf8_lossy(&out.stderr);
    let reason = reason
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or("it failed")
        .to_string();
    match (out.status.code(), user) {
        (Some(5), Some((_, _, name))) => Err(format!(
            "{reason} (Apache's children run as {name}; make the application readable by it or use --user)"
        )),
        _ => Err(reason),
    }
}
