//! Test support: a real Apache httpd per test (the one apxs names: Debian's
//! apache2, or a from-source /usr/local/apache2 as in Docker's httpd image),
//! with its own ServerRoot in a temporary directory and its own free
//! 127.0.0.1 port, loading the mod_rwsgi built by this cargo run.

#![allow(dead_code)]

pub mod http;
pub mod processes;

use std::collections::BTreeMap;
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

pub use http::Response;

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
    let newest_source = ["src", "apache", "build.rs", "crates/wire/src"]
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
/// Talks to a daemon-side socket (a process group's, the application
/// group manager's) as a local process that is not Apache would: reads
/// the challenge, answers with a proof made without the secret, and
/// returns what comes back before the connection ends.
pub fn forged_connection(socket: &Path) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut forged = std::os::unix::net::UnixStream::connect(socket).unwrap();
    forged
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut challenge = [0u8; 5 + 36];
    forged.read_exact(&mut challenge).unwrap();
    let mut proof = vec![32, 0, 0, 0, 1];
    proof.extend_from_slice(&[0u8; 32]);
    forged.write_all(&proof).unwrap();
    let mut rest = Vec::new();
    let _ = forged.read_to_end(&mut rest);
    rest
}

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

    /// Starts Apache as one process (-X) under valgrind's callgrind, which
    /// counts every instruction it executes; `stop_counting` stops it and
    /// returns the count. Needs the valgrind package.
    pub fn start_counting(gateway: Gateway, site: &str) -> Apache {
        Self::start_launched(Mpm::Event, gateway, site, true)
    }

    /// Stops an Apache from `start_counting`: the instructions it executed,
    /// in every process it ran (daemon processes forked from it included:
    /// callgrind follows a fork and counts each process in its own file).
    pub fn stop_counting(mut self) -> u64 {
        let out = self
            .callgrind_out
            .clone()
            .expect("started by start_counting");
        // SAFETY: signalling the valgrind process we spawned; Apache -X
        // stops on SIGTERM and callgrind writes its counts on the way out.
        unsafe { libc::kill(self.process.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(120);
        while matches!(self.process.try_wait(), Ok(None)) && Instant::now() < deadline {
            sleep(Duration::from_millis(50));
        }
        // Processes forked from it write their counts as they end.
        let group = self.process.id() as i32;
        // SAFETY: probing (signal 0) the process group we spawned.
        while unsafe { libc::kill(-group, 0) } == 0 && Instant::now() < deadline {
            sleep(Duration::from_millis(50));
        }
        let prefix = out.file_name().unwrap().to_string_lossy().into_owned();
        let mut total = 0;
        let mut files = 0;
        for entry in fs::read_dir(out.parent().unwrap())
            .unwrap()
            .filter_map(|e| e.ok())
        {
            if !entry.file_name().to_string_lossy().starts_with(&prefix) {
                continue;
            }
            let counts = fs::read_to_string(entry.path()).unwrap_or_default();
            if let Some(count) = counts
                .lines()
                .find_map(|line| line.strip_prefix("totals: "))
                .and_then(|total| total.trim().parse::<u64>().ok())
            {
                total += count;
                files += 1;
            }
        }
        assert!(
            files > 0,
            "callgrind wrote no totals to {}.*",
            out.display()
        );
        total
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
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
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

/// What /proc says of one of the Apache parent's children.
pub struct ChildProcess {
    pub pid: u32,
    pub rss_kib: u64,
    pub open_fds: usize,
}

impl Apache {
    /// The parent's children that serve requests (not mod_rwsgi's
    /// supervisors and manager), as /proc shows them now.
    pub fn children(&self) -> Vec<ChildProcess> {
        let parent = u64::from(self.parent_pid());
        let mut children = Vec::new();
        for entry in fs::read_dir("/proc").expect("/proc").filter_map(|e| e.ok()) {
            let status = fs::read_to_string(entry.path().join("status")).unwrap_or_default();
            let field = |name: &str| {
                status
                    .lines()
                    .find(|l| l.starts_with(name))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse::<u64>().ok())
            };
            let command = fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let command = String::from_utf8_lossy(&command).replace('\0', " ");
            let ours = command.starts_with("mod_rwsgi ") || command.trim().ends_with(" supervisor");
            if field("PPid:") == Some(parent) && !ours {
                children.push(ChildProcess {
                    pid: entry.file_name().to_string_lossy().parse().unwrap_or(0),
                    rss_kib: field("VmRSS:").unwrap_or(0),
                    open_fds: fs::read_dir(entry.path().join("fd"))
                        .map(|d| d.count())
                        .unwrap_or(0),
                });
            }
        }
        children
    }
}

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

/// One client of one gateway, with its own cookie jar.
pub struct Client<'a> {
    apache: &'a Apache,
    host: String,
    cookies: std::collections::BTreeMap<String, String>,
}

impl<'a> Client<'a> {
    /// A client with an empty cookie jar, asking for virtual host `host`.
    pub fn new(apache: &'a Apache, host: &str) -> Self {
        Client {
            apache,
            host: host.to_string(),
            cookies: Default::default(),
        }
    }

    /// Sends one request (its Cookie header from the jar) and keeps the
    /// cookies the answer sets.
    pub fn send(&mut self, method: &str, path: &str, content_type: &str, body: &str) -> Response {
        let cookies: Vec<String> = self
            .cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        let cookie = if cookies.is_empty() {
            String::new()
        } else {
            format!("Cookie: {}\r\n", cookies.join("; "))
        };
        let body_headers = if method == "POST" {
            format!(
                "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
                body.len()
            )
        } else {
            String::new()
        };
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\n{cookie}{body_headers}Connection: close\r\n\r\n{body}",
            self.host
        );
        let response = self.apache.raw(request.as_bytes());
        for (name, value) in &response.headers {
            if name.eq_ignore_ascii_case("set-cookie") {
                let pair = value.split(';').next().unwrap_or_default();
                if let Some((n, v)) = pair.split_once('=') {
                    if v.is_empty() || value.contains("Max-Age=0") {
                        self.cookies.remove(n);
                    } else {
                        self.cookies.insert(n.to_string(), v.to_string());
                    }
                }
            }
        }
        response
    }

    /// The CSRF token in a form Django rendered.
    pub fn token(response: &Response) -> String {
        let text = response.text();
        text.split("name=\"csrfmiddlewaretoken\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_default()
            .to_string()
    }
}

/// A fixture app's answer of "name<TAB>value" lines, by name.
pub fn tab_separated(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| line.split_once('\t'))
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

/// Fails naming each entry whose value differs between mod_rwsgi's
/// answer and mod_wsgi's (or that only one of them has).
pub fn assert_same_as_mod_wsgis(
    ours: &BTreeMap<String, String>,
    theirs: &BTreeMap<String, String>,
) {
    let differing: Vec<String> = ours
        .keys()
        .chain(theirs.keys().filter(|name| !ours.contains_key(*name)))
        .filter(|name| ours.get(*name) != theirs.get(*name))
        .map(|name| {
            format!(
                "{name}: ours {:?}, mod_wsgi {:?}",
                ours.get(name),
                theirs.get(name)
            )
        })
        .collect();
    assert!(differing.is_empty(), "{differing:#?}");
}
