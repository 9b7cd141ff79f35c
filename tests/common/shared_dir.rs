//! Files a test makes before Apache starts, where Apache's user can read
//! them: virtualenvs, packages from PyPI, certificates.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use super::{python, run};

/// A new directory under /tmp that Apache's user can read, removed when the
/// returned guard drops. For files a test must create before Apache starts.
pub struct SharedDir(pub PathBuf);

impl SharedDir {
    pub fn new(name: &str) -> SharedDir {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "rwsgi-{name}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create shared directory");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))
            .expect("chmod shared directory");
        SharedDir(dir)
    }

    /// Writes `contents` to `relative` (creating directories), readable by all.
    pub fn write(&self, relative: &str, contents: &str) -> PathBuf {
        let path = self.0.join(relative);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("create parent directory");
        }
        fs::write(&path, contents).expect("write shared file");
        path
    }
}

impl SharedDir {
    /// Makes a virtualenv (without pip) at `relative`, from the Python
    /// mod_rwsgi is built with.
    pub fn virtualenv(&self, relative: &str) -> PathBuf {
        let venv = self.0.join(relative);
        run(
            Command::new(python())
                .args(["-m", "venv", "--without-pip"])
                .arg(&venv),
            "python3 -m venv (Debian package python3-venv)",
        );
        venv
    }

    /// The site-packages directory of the virtualenv at `relative`, as its
    /// own Python names it (python3.X: the version mod_rwsgi is built with).
    pub fn site_packages(&self, relative: &str) -> String {
        let python = self.0.join(relative).join("bin/python");
        let out = run(
            Command::new(&python).args([
                "-c",
                "import sysconfig; print(sysconfig.get_path('purelib'))",
            ]),
            "the virtualenv's python",
        );
        let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        path.strip_prefix(&self.0)
            .expect("site-packages inside the virtualenv")
            .display()
            .to_string()
    }

    /// Makes a virtualenv with pip at `relative` and installs `packages`
    /// from PyPI into it.
    pub fn virtualenv_with(&self, relative: &str, packages: &[&str]) -> PathBuf {
        let venv = self.0.join(relative);
        run(
            Command::new(python()).args(["-m", "venv"]).arg(&venv),
            "python3 -m venv (Debian package python3-venv)",
        );
        run(
            Command::new(venv.join("bin/pip"))
                .args(["install", "--quiet", "--disable-pip-version-check"])
                .args(packages),
            &format!("pip install {packages:?}"),
        );
        venv
    }

    /// A throwaway self-signed certificate and key for 127.0.0.1, here.
    pub fn certificate(&self) -> (PathBuf, PathBuf) {
        let (cert, key) = (self.0.join("cert.pem"), self.0.join("key.pem"));
        run(
            Command::new("openssl")
                .args([
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-days",
                    "2",
                    "-subj",
                    "/CN=127.0.0.1",
                    "-keyout",
                ])
                .arg(&key)
                .arg("-out")
                .arg(&cert),
            "openssl (Debian package openssl)",
        );
        (cert, key)
    }

    /// Lets Apache's user read everything written here so far.
    pub fn share(&self) {
        let chmod = Command::new("chmod")
            .args(["-R", "a+rX"])
            .arg(&self.0)
            .status();
        assert!(
            chmod.is_ok_and(|s| s.success()),
            "chmod -R a+rX {}",
            self.0.display()
        );
    }
}

impl Drop for SharedDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}
