//! Test support: a real Apache httpd per test (the one apxs names: Debian's
//! apache2, or a from-source /usr/local/apache2 as in Docker's httpd image),
//! with its own ServerRoot in a temporary directory and its own free
//! 127.0.0.1 port, loading the mod_rwsgi built by this cargo run.

#![allow(dead_code)]

mod callgrind;
mod client;
mod compare;
pub mod http;
pub mod processes;
mod shared_dir;
pub mod source;

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

// Each test binary uses some of these.
#[allow(unused_imports)]
pub use client::Client;
#[allow(unused_imports)]
pub use compare::{assert_same_as_mod_wsgis, tab_separated};
pub use http::Response;
#[allow(unused_imports)]
pub use processes::{ChildProcess, forged_connection};
#[allow(unused_imports)]
pub use shared_dir::SharedDir;

/// The MPMs Apache can run; each is its own loadable module on Debian.
#[derive(Clone, Copy, Debug)]
pub enum Mpm {
    Event,
    Worker,
    Prefork,
}

impl Mpm {
    fn module_line(self) -> String {
        let name = match self {
            Mpm::Event => "event",
            Mpm::Worker => "worker",
            Mpm::Prefork => "prefork",
        };
        format!(
            "LoadModule mpm_{name}_module {}/mod_mpm_{name}.so",
            apache_modules_dir().display()
        )
    }
}

/// The module that serves WSGI in a test's Apache: ours, or Debian's
/// mod_wsgi where a behaviour must match it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gateway {
    Rwsgi,
    /// mod_rwsgi loaded by mod_wsgi's line, `LoadModule wsgi_module`.
    RwsgiAsWsgiModule,
    ModWsgi,
    /// Neither: plain Apache (the benchmark's native ceiling).
    None,
}

impl Gateway {
    fn module_line(self) -> String {
        match self {
            Gateway::Rwsgi => format!("LoadModule rwsgi_module {}", module_path().display()),
            Gateway::RwsgiAsWsgiModule => {
                format!("LoadModule wsgi_module {}", module_path().display())
            }
            Gateway::ModWsgi => {
                let path = apache_modules_dir().join("mod_wsgi.so");
                assert!(
                    path.exists(),
                    "{} is missing: `make test` installs libapache2-mod-wsgi-py3",
                    path.display()
                );
                format!("LoadModule wsgi_module {}", path.display())
            }
            Gateway::None => String::new(),
        }
    }
}

/// A running Apache. Dropping it stops Apache, checks that no child crashed,
/// and removes its ServerRoot.
pub struct Apache {
    pub port: u16,
    root: PathBuf,
    process: Child,
    gateway: Gateway,
    /// Where callgrind writes its counts, for an Apache started under it.
    callgrind_out: Option<PathBuf>,
}

/// Fixture apps from tests/apps, copied into each ServerRoot (which www-data,
/// Apache's user, can read, unlike a checkout in a private directory).
fn apps_source() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/apps")
}

/// The module built by this cargo invocation (same profile as the tests).
pub fn module_path() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>");
    let module = profile_dir.join("libmod_rwsgi.so");
    let built = fs::metadata(&module).and_then(|m| m.modified()).unwrap_or_else(|_| {
        panic!("{} is missing: run `make test` (or `cargo build --release` before `cargo test --release`)", module.display())
    });
    // `cargo test` does not always rebuild a cdylib: never test a stale one.
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let newest_source = ["src", "shim", "build.rs", "crates/wire/src"]
        .iter()
        .map(|p| newest_mtime(&manifest.join(p)))
        .max()
        .flatten();
    if newest_source.is_some_and(|source| source > built) {
        panic!(
            "{} is older than the sources: run `make test` (or `cargo build --release` first)",
            module.display()
        );
    }
    module
}

fn newest_mtime(path: &Path) -> Option<std::time::SystemTime> {
    let meta = fs::metadata(path).ok()?;
    // rwsgi-express's sources do not go into the module.
    if path.ends_with("src/bin") {
        return None;
    }
    if meta.is_dir() {
        fs::read_dir(path)
            .ok()?
            .filter_map(|e| e.ok())
            .filter_map(|e| newest_mtime(&e.path()))
            .max()
    } else {
        meta.modified().ok()
    }
}

/// apxs -q `var`, with the apxs the module was built against (`APXS`, as
/// `make` sets it), else the one on PATH.
fn apxs_query(var: &str) -> Option<String> {
    let apxs = std::env::var_os("APXS").unwrap_or_else(|| "apxs".into());
    let out = Command::new(apxs).args(["-q", var]).output().ok()?;
    let value = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !value.is_empty()).then_some(value)
}

pub fn apache_modules_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        PathBuf::from(apxs_query("LIBEXECDIR").unwrap_or_else(|| "/usr/lib/apache2/modules".into()))
    })
}

pub fn apache_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| match (apxs_query("SBINDIR"), apxs_query("TARGET")) {
        (Some(dir), Some(target)) => Path::new(&dir).join(target),
        _ => PathBuf::from("/usr/sbin/apache2"),
    })
}

/// The LoadModule line for mod_unixd (User and Group) where it is a loadable
/// module (an Apache built from source); Debian builds it into apache2.
fn unixd_line() -> &'static str {
    static LINE: OnceLock<String> = OnceLock::new();
    LINE.get_or_init(|| {
        let listed = Command::new(apache_binary()).arg("-l").output();
        let built_in =
            listed.is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("mod_unixd.c"));
        let module = apache_modules_dir().join("mod_unixd.so");
        if built_in || !module.exists() {
            String::new()
        } else {
            format!("LoadModule unixd_module {}", module.display())
        }
    })
}

/// The Python mod_rwsgi is built with (`PYO3_PYTHON`, as `make` and
/// .cargo/config.toml set it): the one virtualenvs are made from.
pub fn python() -> &'static str {
    option_env!("PYO3_PYTHON").unwrap_or("/usr/bin/python3")
}

/// That Python's version, as "3.X".
pub fn python_version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let out = run(
            Command::new(python())
                .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"]),
            python(),
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    })
}

/// Whether the pid file in `root` names `pid` (Apache writes it once its
/// listeners are bound).
fn wrote_its_pid_file(root: &Path, pid: u32) -> bool {
    fs::read_to_string(root.join("httpd.pid"))
        .is_ok_and(|text| text.trim().parse::<u32>() == Ok(pid))
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

fn new_server_root() -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let root = std::env::temp_dir().join(format!(
        "rwsgi-test-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&root);
    fs::create_dir_all(root.join("apps")).expect("create ServerRoot");
    fs::create_dir_all(root.join("htdocs")).expect("create DocumentRoot");
    for dir in [root.clone(), root.join("apps"), root.join("htdocs")] {
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod ServerRoot");
    }
    // Where fixture apps leave evidence (close() called, ...) as Apache's user.
    fs::create_dir_all(root.join("markers")).expect("create markers");
    fs::set_permissions(root.join("markers"), fs::Permissions::from_mode(0o777))
        .expect("chmod markers");
    // Where a crashed process leaves its core (CoreDumpDirectory), for the
    // backtrace a crash report shows.
    fs::create_dir_all(root.join("cores")).expect("create cores");
    fs::set_permissions(root.join("cores"), fs::Permissions::from_mode(0o777))
        .expect("chmod cores");
    for entry in fs::read_dir(apps_source()).expect("tests/apps") {
        let entry = entry.expect("tests/apps entry");
        let target = root.join("apps").join(entry.file_name());
        fs::copy(entry.path(), &target).expect("copy fixture app");
        fs::set_permissions(&target, fs::Permissions::from_mode(0o644)).expect("chmod fixture app");
    }
    root
}

/// MPM settings for a single child of `threads` worker threads (event or
/// worker MPM), so that every request meets the same process and what
/// earlier requests left in it.
pub fn one_child(threads: u32) -> String {
    format!(
        "StartServers 1\nServerLimit 1\nThreadsPerChild {threads}\nMaxRequestWorkers {threads}\nMinSpareThreads 1\nMaxSpareThreads {threads}\n"
    )
}

/// Builds the httpd.conf for a test: the fixed base plus `site`, in which
/// @APPS@ names the directory of fixture apps, @ROOT@ the ServerRoot,
/// @MODULES@ Apache's module directory and @PORT@ the port it listens on.
fn config_text(root: &Path, port: u16, mpm: Mpm, gateway: Gateway, site: &str) -> String {
    let modules = apache_modules_dir().display().to_string();
    let site = site
        .replace("@APPS@", &root.join("apps").display().to_string())
        .replace("@ROOT@", &root.display().to_string())
        .replace("@MODULES@", &modules)
        .replace("@PORT@", &port.to_string());
    format!(
        r#"ServerRoot "{root}"
Listen 127.0.0.1:{port}
{mpm}
{unixd}
LoadModule authz_core_module {modules}/mod_authz_core.so
{gateway}
ServerName 127.0.0.1
PidFile "{root}/httpd.pid"
DefaultRuntimeDir "{root}"
ErrorLog "{root}/error.log"
LogLevel info
User www-data
Group www-data
DocumentRoot "{root}/htdocs"
CoreDumpDirectory "{root}/cores"
Timeout 30
GracefulShutdownTimeout 5
{site}
"#,
        root = root.display(),
        mpm = mpm.module_line(),
        unixd = unixd_line(),
        gateway = gateway.module_line(),
    )
}

impl Apache {
    /// Starts Apache (event MPM) with `site` appended to the base config.
    pub fn start(site: &str) -> Apache {
        Self::start_with(Mpm::Event, site)
    }

    pub fn start_with(mpm: Mpm, site: &str) -> Apache {
        Self::start_full(mpm, Gateway::Rwsgi, site)
    }

    /// Starts Apache (event MPM) serving WSGI through `gateway`.
    pub fn start_gateway(gateway: Gateway, site: &str) -> Apache {
        Self::start_full(Mpm::Event, gateway, site)
    }

    /// Starts Apache with `mpm`, serving WSGI through `gateway`.
    pub fn start_full(mpm: Mpm, gateway: Gateway, site: &str) -> Apache {
        Self::start_launched(mpm, gateway, site, false)
    }

    fn start_launched(mpm: Mpm, gateway: Gateway, site: &str, counting: bool) -> Apache {
        let mut last_log = String::new();
        for _ in 0..3 {
            let root = new_server_root();
            let port = free_port();
            let conf = root.join("httpd.conf");
            fs::write(&conf, config_text(&root, port, mpm, gateway, site))
                .expect("write httpd.conf");
            let callgrind_out = counting.then(|| root.join("callgrind").join("out"));
            let mut command = match &callgrind_out {
                Some(out) => {
                    // Apache runs as its user from the start: callgrind
                    // opens each process's file when it starts and writes
                    // it as the process ends, after any switch of user,
                    // which a file made by root would refuse.
                    fs::create_dir_all(out.parent().unwrap()).expect("create callgrind directory");
                    run(
                        Command::new("chown")
                            .args(["-R", "www-data:www-data"])
                            .arg(&root),
                        "chown (coreutils)",
                    );
                    let mut valgrind = Command::new("setpriv");
                    valgrind
                        .args([
                            "--reuid=www-data",
                            "--regid=www-data",
                            "--init-groups",
                            "valgrind",
                        ])
                        .arg("--tool=callgrind")
                        .arg(format!("--callgrind-out-file={}.%p", out.display()))
                        .arg(apache_binary())
                        .arg("-X");
                    valgrind
                }
                None => {
                    let mut apache = Command::new(apache_binary());
                    apache.arg("-DFOREGROUND");
                    apache
                }
            };
            command
                .arg("-f")
                .arg(&conf)
                // As apachectl starts it: not with the test runner's
                // environment (PYTHON* variables, LD_LIBRARY_PATH, ...).
                .env_clear()
                .env(
                    "PATH",
                    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                )
                .env("LANG", "C")
                .stdin(Stdio::null())
                .stdout(fs::File::create(root.join("stdout.log")).expect("stdout log"))
                .stderr(fs::File::create(root.join("stderr.log")).expect("stderr log"))
                .process_group(0);
            // SAFETY: setrlimit is async-signal-safe; it lets a crashed
            // child leave a core for the report (Drop).
            unsafe {
                command.pre_exec(|| {
                    let unlimited = libc::rlimit {
                        rlim_cur: libc::RLIM_INFINITY,
                        rlim_max: libc::RLIM_INFINITY,
                    };
                    libc::setrlimit(libc::RLIMIT_CORE, &unlimited);
                    Ok(())
                })
            };
            let mut process = command
                .spawn()
                .expect("run apache2 (is the apache2 package installed?)");
            let patience = if counting { 120 } else { 20 };
            let deadline = Instant::now() + Duration::from_secs(patience);
            loop {
                // The port answering is not enough: another test's Apache
                // may have bound it between free_port() and this one's
                // start, which then fails. Apache writes its pid file
                // after it has bound its listeners.
                if TcpStream::connect(("127.0.0.1", port)).is_ok()
                    && wrote_its_pid_file(&root, process.id())
                {
                    return Apache {
                        port,
                        root,
                        process,
                        gateway,
                        callgrind_out,
                    };
                }
                if let Ok(Some(_)) = process.try_wait() {
                    break;
                }
                if Instant::now() > deadline {
                    let _ = process.kill();
                    let _ = process.wait();
                    break;
                }
                sleep(Duration::from_millis(20));
            }
            last_log = format!(
                "{}{}",
                fs::read_to_string(root.join("stderr.log")).unwrap_or_default(),
                fs::read_to_string(root.join("error.log")).unwrap_or_default()
            );
            let _ = fs::remove_dir_all(&root);
            if !last_log.contains("Address already in use") {
                break;
            }
        }
        panic!("Apache did not start:\n{last_log}");
    }

    /// Runs `apache2 -t` on a config with `site`: (accepted, Apache's output).
    pub fn check_config(site: &str) -> (bool, String) {
        Self::check_config_with(Gateway::Rwsgi, site)
    }

    /// Runs `apache2 -t` on a config that loads `gateway`, then `site`.
    pub fn check_config_with(gateway: Gateway, site: &str) -> (bool, String) {
        let root = new_server_root();
        let conf = root.join("httpd.conf");
        fs::write(
            &conf,
            config_text(&root, free_port(), Mpm::Event, gateway, site),
        )
        .expect("write httpd.conf");
        let out = Command::new(apache_binary())
            .arg("-t")
            .arg("-f")
            .arg(&conf)
            .output()
            .expect("run apache2 -t");
        let _ = fs::remove_dir_all(&root);
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }

    /// Asserts `apache2 -t` refuses `site` with a message containing
    /// `message`, and names the file (Apache's "Syntax error on line N of").
    #[track_caller]
    pub fn assert_config_refused(site: &str, message: &str) {
        let (ok, output) = Self::check_config(site);
        assert!(!ok, "accepted: {site}\n{output}");
        assert!(output.contains(message), "{site}: {output}");
        assert!(
            output.contains("httpd.conf"),
            "the file is not named: {output}"
        );
    }

    pub fn parent_pid(&self) -> u32 {
        self.process.id()
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn apps(&self) -> PathBuf {
        self.root.join("apps")
    }

    pub fn error_log(&self) -> String {
        fs::read_to_string(self.root.join("error.log")).unwrap_or_default()
    }

    /// Waits until the error log contains `needle` (log lines are written by
    /// children after the response may already have been read).
    pub fn wait_for_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.error_log();
            if log.contains(needle) || Instant::now() > deadline {
                return log;
            }
            sleep(Duration::from_millis(20));
        }
    }

    /// Waits until a fixture app has written the marker file `name`.
    pub fn wait_for_marker(&self, name: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.root.join("markers").join(name).exists() {
                return true;
            }
            sleep(Duration::from_millis(20));
        }
        false
    }

    /// Waits (up to 10 s) for a fixture app's first marker file whose name
    /// starts with `prefix`, and gives the names of all such markers then.
    pub fn wait_for_markers(&self, prefix: &str) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let found: Vec<String> = std::fs::read_dir(self.root.join("markers"))
                .expect("the markers directory")
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| name.starts_with(prefix))
                .collect();
            if !found.is_empty() || Instant::now() > deadline {
                return found;
            }
            sleep(Duration::from_millis(20));
        }
    }

    pub fn get(&self, path: &str) -> Response {
        http::get(self.port, path)
    }

    pub fn post(&self, path: &str, body: &[u8]) -> Response {
        http::post(self.port, path, body)
    }

    pub fn raw(&self, request: &[u8]) -> Response {
        http::raw(self.port, request)
    }
}

impl Apache {
    /// Stops Apache gracefully (SIGWINCH, as `apachectl graceful-stop`),
    /// keeping its ServerRoot for the test to read; true once it exited.
    pub fn stop_gracefully(&mut self) -> bool {
        self.stop_within(Duration::from_secs(10))
    }

    fn stop_within(&mut self, patience: Duration) -> bool {
        // Not when it has already been stopped and reaped (stop_counting):
        // its pid may belong to another process by now.
        if matches!(self.process.try_wait(), Ok(None)) {
            // SAFETY: signalling a child we spawned and have not reaped.
            unsafe { libc::kill(self.process.id() as i32, libc::SIGWINCH) };
            let deadline = Instant::now() + patience;
            while matches!(self.process.try_wait(), Ok(None)) && Instant::now() < deadline {
                sleep(Duration::from_millis(20));
            }
        }
        !matches!(self.process.try_wait(), Ok(None))
    }

    /// The names of the marker files fixture apps have written.
    pub fn markers(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.root.join("markers"))
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }
}

impl Drop for Apache {
    fn drop(&mut self) {
        let pid = self.process.id() as i32;
        // Graceful stop (SIGWINCH), as `apachectl graceful-stop` does: the
        // ungraceful SIGTERM path of the event MPM can itself crash a child
        // whose connection just closed (close_worker_sockets touching a freed
        // socket), which would hide or fake crashes of ours. Debian's
        // mod_wsgi 4.9.4 children hang for seconds after ending their
        // sub-interpreters under Python 3.11, and its crashes are not ours to
        // catch: it is killed outright.
        let patience = match self.gateway {
            Gateway::Rwsgi | Gateway::RwsgiAsWsgiModule | Gateway::None => Duration::from_secs(10),
            Gateway::ModWsgi => Duration::ZERO,
        };
        self.stop_within(patience);
        // SAFETY: whatever is left of the group we spawned is killed (the
        // group outlives its leader while children of it remain).
        unsafe { libc::killpg(pid, libc::SIGKILL) };
        let _ = self.process.wait();
        let log = self.error_log();
        let crashed = log
            .lines()
            .find(|line| line.contains("exit signal") || line.contains("Segmentation fault"))
            .map(str::to_string);
        if let (Some(line), Gateway::Rwsgi | Gateway::RwsgiAsWsgiModule | Gateway::None) =
            (crashed, self.gateway)
        {
            if !std::thread::panicking() {
                let backtraces = core_backtraces(&self.root);
                let _ = fs::remove_dir_all(&self.root);
                panic!("an Apache child crashed: {line}\nerror log:\n{log}{backtraces}");
            }
        }
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// Every thread's backtrace in the cores crashed processes left under
/// `root` (gdb, where installed; the machine's core_pattern decides
/// whether a core is written there at all).
fn core_backtraces(root: &Path) -> String {
    let mut report = String::new();
    let cores = fs::read_dir(root.join("cores"))
        .into_iter()
        .flatten()
        .flatten();
    for core in cores {
        let output = Command::new("gdb")
            .args(["-batch", "-nx", "-ex", "thread apply all bt 40"])
            .arg(apache_binary())
            .arg(core.path())
            .stdin(Stdio::null())
            .output();
        let text = match output {
            // The crashing thread is the one with "<signal handler called>";
            // a child has dozens of idle ones, so the report is capped.
            Ok(output) => String::from_utf8_lossy(&output.stdout)
                .chars()
                .take(60_000)
                .collect(),
            Err(e) => format!("(gdb could not run: {e})"),
        };
        report.push_str(&format!("\n{}:\n{text}", core.path().display()));
    }
    report
}

/// Runs `command` to its end and returns what it printed; panics with its
/// stderr unless it succeeded. `what` names it (and the package that has it).
pub fn run(command: &mut Command, what: &str) -> std::process::Output {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("run {what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
