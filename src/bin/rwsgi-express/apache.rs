//! Finding Apache: its binary, its module directory, the modules built into
//! it, and mod_rwsgi.so. apxs says where they are on any layout (Debian's,
//! /usr/local/apache2 from source); without apxs, the usual places.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Apache {
    pub httpd: PathBuf,
    pub modules_dir: PathBuf,
    /// Modules compiled into httpd (`httpd -l`), which need no LoadModule.
    built_in: Vec<String>,
}

fn apxs(var: &str) -> Option<String> {
    for apxs in ["apxs", "apxs2", "/usr/local/apache2/bin/apxs"] {
        if let Ok(out) = Command::new(apxs).args(["-q", var]).output() {
            let value = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if out.status.success() && !value.is_empty() {
                return Some(value);
            }
        }
    }
    None
}

/// Where apxs says, else the first of the usual `places` that is there,
/// else the first of them (which the caller then reports as missing).
fn located(apxs_says: Option<PathBuf>, places: &[&str], there: fn(&Path) -> bool) -> PathBuf {
    apxs_says.unwrap_or_else(|| {
        places
            .iter()
            .map(PathBuf::from)
            .find(|place| there(place))
            .unwrap_or_else(|| PathBuf::from(places[0]))
    })
}

impl Apache {
    pub fn locate(httpd: Option<&Path>, modules_dir: Option<&Path>) -> Result<Apache, String> {
        let httpd = match httpd {
            Some(path) => path.to_path_buf(),
            None => located(
                apxs("SBINDIR")
                    .zip(apxs("TARGET"))
                    .map(|(dir, target)| Path::new(&dir).join(target)),
                &[
                    "/usr/sbin/apache2",
                    "/usr/local/apache2/bin/httpd",
                    "/usr/sbin/httpd",
                ],
                Path::exists,
            ),
        };
        if !httpd.is_file() {
            return Err(format!(
                "Apache httpd was not found at {}: install it (Debian/Ubuntu: apt-get install apache2) or give --httpd-executable",
                httpd.display()
            ));
        }
        let modules_dir = match modules_dir {
            Some(path) => path.to_path_buf(),
            None => located(
                apxs("LIBEXECDIR").map(PathBuf::from),
                &[
                    "/usr/lib/apache2/modules",
                    "/usr/local/apache2/modules",
                    "/usr/lib64/httpd/modules",
                    "/usr/lib/httpd/modules",
                ],
                Path::is_dir,
            ),
        };
        if !modules_dir.is_dir() {
            return Err(format!(
                "Apache's module directory {} does not exist: give --modules-directory",
                modules_dir.display()
            ));
        }
        let listed = Command::new(&httpd)
            .arg("-l")
            .output()
            .map_err(|e| format!("{} could not be run: {e}", httpd.display()))?;
        let built_in = String::from_utf8_lossy(&listed.stdout)
            .lines()
            .map(str::trim)
            .filter(|line| line.ends_with(".c"))
            .map(String::from)
            .collect();
        Ok(Apache {
            httpd,
            modules_dir,
            built_in,
        })
    }

    /// The LoadModule line for `name` (e.g. "ssl" for mod_ssl), or None when
    /// it is built into httpd. Err names the package to install.
    pub fn load_module(&self, name: &str, package: &str) -> Result<Option<String>, String> {
        let source = format!("mod_{name}.c");
        if self.built_in.contains(&source) {
            return Ok(None);
        }
        let file = self.modules_dir.join(format!("mod_{name}.so"));
        if !file.is_file() {
            return Err(format!(
                "the Apache module mod_{name} is not installed ({} is missing): install {package}",
                file.display()
            ));
        }
        Ok(Some(format!("LoadModule {name}_module {}", file.display())))
    }

    /// The MPM to load: event if it is a module, none if one is built in.
    pub fn mpm(&self) -> Result<Option<String>, String> {
        let built_in = ["event.c", "worker.c", "prefork.c"];
        if self.built_in.iter().any(|m| built_in.contains(&m.as_str())) {
            return Ok(None);
        }
        self.load_module("mpm_event", "apache2 (Debian/Ubuntu)")
    }
}

/// mod_rwsgi.so: --rwsgi-module, else next to this program (`make build`
/// puts both in target/release), else in Apache's module directory (`make
/// install`).
pub fn rwsgi_module(given: Option<&Path>, apache: &Apache) -> Result<PathBuf, String> {
    if let Some(path) = given {
        return if path.is_file() {
            std::path::absolute(path).map_err(|e| e.to_string())
        } else {
            Err(format!("--rwsgi-module {} does not exist", path.display()))
        };
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("mod_rwsgi.so")));
    let installed = apache.modules_dir.join("mod_rwsgi.so");
    beside
        .into_iter()
        .chain([installed.clone()])
        .find(|path| path.is_file())
        .ok_or_else(|| {
            format!(
                "mod_rwsgi.so was not found next to rwsgi-express or in {}: run make build (or make install), or give --rwsgi-module",
                apache.modules_dir.display()
            )
        })
}
