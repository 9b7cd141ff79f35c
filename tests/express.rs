//! rwsgi-express, the real binary: it writes an Apache configuration, runs
//! Apache in the foreground with mod_rwsgi, serves the app, and stops
//! cleanly; every mistake is one line and a non-zero exit.

mod common;

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::{SharedDir, http, module_path};

const EXPRESS: &str = env!("CARGO_BIN_EXE_rwsgi-express");

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `rwsgi-express start-server`, stopped (and checked to leave
/// nothing behind) on drop.
struct Express {
    child: Child,
    port: u16,
    server_root: PathBuf,
}

impl Express {
    fn start(dir: &SharedDir, args: &[&str]) -> Express {
        Self::start_in(dir, &dir.0, args)
    }

    fn start_in(dir: &SharedDir, cwd: &Path, args: &[&str]) -> Express {
        let port = free_port();
        let server_root = dir.0.join("server-root");
        let child = Command::new(EXPRESS)
            .arg("start-server")
            .args(args)
            .args(["--port", &port.to_string()])
            .arg("--server-root")
            .arg(&server_root)
            .arg("--rwsgi-module")
            .arg(module_path())
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run rwsgi-express");
        let mut express = Express {
            child,
            port,
            server_root,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        // Apache writes its pid file once its listeners are bound: without
        // it, whatever answers could be another test's server on the port.
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
            || !express.server_root.join("httpd.pid").exists()
        {
            if let Ok(Some(status)) = express.child.try_wait() {
                panic!("rwsgi-express exited ({status}): {}", express.stderr());
            }
            assert!(
                Instant::now() < deadline,
                "rwsgi-express did not start listening"
            );
            sleep(Duration::from_millis(50));
        }
        express
    }

    fn stderr(&mut self) -> String {
        let mut text = String::new();
        if let Some(mut err) = self.child.stderr.take() {
            let _ = err.read_to_string(&mut text);
        }
        text
    }

    fn get(&self, path: &str) -> http::Response {
        http::get(self.port, path)
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.server_root.join("error_log")).unwrap_or_default()
    }

    /// SIGTERM, as a service manager stops it; returns how long it took.
    fn stop(&mut self) -> Duration {
        self.stop_with(libc::SIGTERM)
    }

    fn stop_with(&mut self, signal: i32) -> Duration {
        let started = Instant::now();
        // SAFETY: signalling the child we started.
        unsafe { libc::kill(self.child.id() as i32, signal) };
        let deadline = Instant::now() + Duration::from_secs(15);
        while matches!(self.child.try_wait(), Ok(None)) {
            assert!(Instant::now() < deadline, "rwsgi-express did not stop");
            sleep(Duration::from_millis(20));
        }
        started.elapsed()
    }
}

impl Drop for Express {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.stop();
        }
        let left = processes_mentioning(&self.server_root);
        if !left.is_empty() && !std::thread::panicking() {
            panic!("processes left running after rwsgi-express stopped: {left:?}");
        }
    }
}

/// Processes whose command line names `path` (Apache's, started with our
/// httpd.conf).
fn processes_mentioning(path: &Path) -> Vec<String> {
    let needle = path.display().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .chars()
                .all(|c| c.is_ascii_digit())
        })
        .filter_map(|e| {
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            cmdline.contains(&needle).then_some(cmdline)
        })
        .collect()
}

/// Runs rwsgi-express expecting it to fail: (exit code, stderr).
fn fails(dir: &SharedDir, args: &[&str]) -> (i32, String) {
    let out = Command::new(EXPRESS)
        .args(args)
        .arg("--server-root")
        .arg(dir.0.join("server-root"))
        .arg("--rwsgi-module")
        .arg(module_path())
        .current_dir(&dir.0)
        .stdin(Stdio::null())
        .output()
        .expect("run rwsgi-express");
    let code = out.status.code().unwrap_or(-1);
    assert_ne!(
        code,
        0,
        "it succeeded: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(stderr.lines().count(), 1, "not one line: {stderr}");
    (code, stderr)
}

/// Runs `rwsgi-express setup-server ARGS`, which must succeed; returns the
/// httpd.conf it wrote and the server root.
fn setup_server(dir: &SharedDir, args: &[&str]) -> (String, PathBuf) {
    let root = dir.0.join("server-root");
    common::run(
        Command::new(EXPRESS)
            .arg("setup-server")
            .args(args)
            .arg("--server-root")
            .arg(&root)
            .arg("--rwsgi-module")
            .arg(module_path())
            .current_dir(&dir.0),
        "rwsgi-express setup-server",
    );
    let conf = std::fs::read_to_string(root.join("httpd.conf")).unwrap();
    (conf, root)
}

/// The control script setup-server wrote: Apache accepts its configuration.
fn assert_configtest_passes(root: &Path) {
    let test = Command::new(root.join("apachectl"))
        .arg("configtest")
        .output()
        .unwrap();
    assert!(
        test.status.success(),
        "{}",
        String::from_utf8_lossy(&test.stderr)
    );
}

fn app_dir() -> SharedDir {
    let dir = SharedDir::new("express");
    let hello = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/apps/hello.wsgi"
    ))
    .unwrap();
    dir.write("hello.wsgi", &hello);
    dir.write(
        "app.py",
        "import helper\n\n\ndef app(environ, start_response):\n    start_response('200 OK', [('Content-Type', 'text/plain')])\n    return [helper.message().encode()]\n",
    );
    dir.write("helper.py", "def message():\n    return 'version 1'\n");
    dir.write(
        "mypkg/entry.py",
        "def application(environ, start_response):\n    start_response('200 OK', [('Content-Type', 'text/plain')])\n    return [b'from a module']\n",
    );
    dir.write("mypkg/__init__.py", "");
    dir.write("static/style.css", "body { color: black }\n");
    dir.share();
    dir
}

#[test]
fn start_server_serves_a_wsgi_script_and_stops_cleanly_within_seconds() {
    let dir = app_dir();
    let mut express = Express::start(&dir, &["hello.wsgi"]);
    let response = express.get("/");
    assert_eq!(response.status, 200, "{}", express.error_log());
    assert_eq!(response.text(), "Hello, World!\n");
    let took = express.stop();
    assert!(took < Duration::from_secs(8), "stopping took {took:?}");
    assert!(processes_mentioning(&express.server_root).is_empty());
}

#[test]
fn ctrl_c_stops_apache_and_its_children() {
    let dir = app_dir();
    let mut express = Express::start(&dir, &["hello.wsgi"]);
    assert_eq!(express.get("/").status, 200);
    let took = express.stop_with(libc::SIGINT);
    assert!(took < Duration::from_secs(8), "stopping took {took:?}");
    assert!(processes_mentioning(&express.server_root).is_empty());
}

#[test]
fn start_server_serves_a_py_file_with_its_callable_object() {
    let dir = app_dir();
    let express = Express::start(&dir, &["app.py", "--callable-object", "app"]);
    assert_eq!(express.get("/").text(), "version 1");
}

#[test]
fn start_server_serves_a_module_entry_point() {
    let dir = app_dir();
    let express = Express::start(
        &dir,
        &[
            "--application-type",
            "module",
            "--entry-point",
            "mypkg.entry:application",
        ],
    );
    assert_eq!(express.get("/").text(), "from a module");
}

#[test]
fn a_url_alias_is_served_by_apache_and_the_app_keeps_its_mount_point() {
    let dir = app_dir();
    let css = dir.0.join("static");
    let express = Express::start(
        &dir,
        &[
            "hello.wsgi",
            "--mount-point",
            "/app",
            "--url-alias",
            "/static",
            css.to_str().unwrap(),
        ],
    );
    assert_eq!(
        express.get("/static/style.css").text(),
        "body { color: black }\n"
    );
    assert_eq!(express.get("/app/x").text(), "Hello, World!\n");
    assert_eq!(express.get("/other").status, 404);
}

#[test]
fn reload_on_changes_picks_up_an_imported_module_without_failing_a_request() {
    let dir = app_dir();
    let express = Express::start(
        &dir,
        &["app.py", "--callable-object", "app", "--reload-on-changes"],
    );
    assert_eq!(express.get("/").text(), "version 1");
    sleep(Duration::from_millis(1100));
    dir.write("helper.py", "def message():\n    return 'version 2'\n");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let response = express.get("/");
        assert_eq!(response.status, 200, "a request failed during the reload");
        if response.text() == "version 2" {
            break;
        }
        assert!(Instant::now() < deadline, "the change never took effect");
        sleep(Duration::from_millis(50));
    }
}

#[test]
fn https_is_served_with_the_given_certificate() {
    let dir = app_dir();
    let (cert, key) = dir.certificate();
    dir.share();
    let https_port = free_port();
    let express = Express::start(
        &dir,
        &[
            "hello.wsgi",
            "--https-port",
            &https_port.to_string(),
            "--ssl-certificate-file",
            cert.to_str().unwrap(),
            "--ssl-certificate-key-file",
            key.to_str().unwrap(),
        ],
    );
    let out = Command::new("curl")
        .args(["--silent", "--insecure"])
        .arg(format!("https://127.0.0.1:{https_port}/"))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Hello, World!\n",
        "{}",
        express.error_log()
    );
}

#[test]
fn http2_is_spoken_with_http2() {
    http2_is_spoken(&[]);
}

#[test]
fn http2_is_spoken_with_an_app_in_daemon_mode() {
    http2_is_spoken(&["--daemon"]);
}

fn http2_is_spoken(more: &[&str]) {
    let dir = app_dir();
    let mut args = vec!["hello.wsgi", "--http2"];
    args.extend_from_slice(more);
    let express = Express::start(&dir, &args);
    let out = Command::new("curl")
        .args([
            "--silent",
            "--http2-prior-knowledge",
            "--write-out",
            "%{http_version} %{http_code}",
            "--output",
            "/dev/null",
        ])
        .arg(format!("http://127.0.0.1:{}/", express.port))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "2 200",
        "{}",
        express.error_log()
    );
}

#[test]
fn a_port_in_use_is_one_line_and_a_failure() {
    let dir = app_dir();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let (_, message) = fails(&dir, &["start-server", "hello.wsgi", "--port", &port]);
    assert!(
        message.contains(&format!("port {port} on 127.0.0.1 is already in use")),
        "{message}"
    );
}

#[test]
fn a_missing_script_is_one_line_and_a_failure() {
    let dir = app_dir();
    let (_, message) = fails(&dir, &["start-server", "nowhere.wsgi"]);
    assert!(message.contains("nowhere.wsgi does not exist"), "{message}");
}

#[test]
fn a_missing_callable_is_found_at_start_up() {
    let dir = app_dir();
    let (_, message) = fails(
        &dir,
        &["start-server", "hello.wsgi", "--callable-object", "missing"],
    );
    assert!(
        message.contains("hello.wsgi has no callable 'missing'"),
        "{message}"
    );
}

#[test]
fn an_app_that_fails_to_import_is_found_at_start_up() {
    let dir = app_dir();
    dir.write("broken.py", "import no_such_module_here\n");
    dir.share();
    let (_, message) = fails(&dir, &["start-server", "broken.py"]);
    assert!(message.contains("ModuleNotFoundError"), "{message}");
}

#[test]
fn invalid_option_values_are_one_line_and_exit_2() {
    let dir = app_dir();
    for (args, expected) in [
        (
            vec!["start-server", "hello.wsgi", "--port", "0"],
            "--port takes a port number from 1 to 65535, not '0'",
        ),
        (
            vec!["start-server", "hello.wsgi", "--processes", "many"],
            "--processes takes a whole number above 0, not 'many'",
        ),
        (
            vec!["start-server", "hello.wsgi", "--log-level", "loud"],
            "--log-level takes one of",
        ),
        (
            vec!["start-server", "hello.wsgi", "--colour"],
            "unknown option '--colour'",
        ),
        (
            vec!["start-server", "hello.wsgi", "--https-port", "8443"],
            "--https-port needs --ssl-certificate-file",
        ),
        (
            vec![
                "start-server",
                "--application-type",
                "module",
                "--entry-point",
                "not a module",
            ],
            "is not package.module",
        ),
        (vec!["launch", "hello.wsgi"], "unknown command 'launch'"),
    ] {
        let (code, message) = fails(&dir, &args);
        assert_eq!(code, 2, "{args:?}");
        assert!(message.contains(expected), "{args:?}: {message}");
    }
}

#[test]
fn missing_apache_or_modules_name_the_package_to_install() {
    let dir = app_dir();
    let (_, message) = fails(
        &dir,
        &[
            "start-server",
            "hello.wsgi",
            "--httpd-executable",
            "/nonexistent/httpd",
        ],
    );
    assert!(message.contains("apt-get install apache2"), "{message}");
    let empty = SharedDir::new("no-modules");
    let (_, message) = fails(
        &dir,
        &[
            "start-server",
            "hello.wsgi",
            "--modules-directory",
            empty.0.to_str().unwrap(),
        ],
    );
    assert!(
        message.contains("is not installed") && message.contains("install apache2"),
        "{message}"
    );
}

#[test]
fn setup_server_writes_a_configuration_apache_accepts_and_a_control_script() {
    let dir = app_dir();
    let port = free_port().to_string();
    let (conf, root) = setup_server(&dir, &["hello.wsgi", "--port", &port]);
    assert!(conf.contains("WSGIScriptAlias \"/\""), "{conf}");
    assert_configtest_passes(&root);
    assert!(
        processes_mentioning(&root).is_empty(),
        "setup-server started something"
    );
}

#[test]
fn module_config_prints_the_load_module_line() {
    let out = Command::new(EXPRESS)
        .arg("module-config")
        .arg("--rwsgi-module")
        .arg(module_path())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("LoadModule rwsgi_module \"{}\"\n", module_path().display())
    );
}

#[test]
fn python_path_and_python_home_are_where_the_app_imports_from() {
    let dir = app_dir();
    dir.virtualenv("venv");
    let site_packages = dir.site_packages("venv");
    dir.write(&format!("{site_packages}/from_venv.py"), "WHERE = 'venv'\n");
    dir.write("lib/from_path.py", "WHERE = 'path'\n");
    dir.write(
        "imports.py",
        "import sys\nimport from_path, from_venv\n\n\ndef application(environ, start_response):\n    start_response('200 OK', [('Content-Type', 'text/plain')])\n    return [(from_path.WHERE + ' ' + from_venv.WHERE + ' ' + sys.prefix).encode()]\n",
    );
    dir.share();
    let (venv, lib) = (dir.0.join("venv"), dir.0.join("lib"));
    let express = Express::start(
        &dir,
        &[
            "imports.py",
            "--python-home",
            venv.to_str().unwrap(),
            "--python-path",
            lib.to_str().unwrap(),
        ],
    );
    assert_eq!(
        express.get("/").text(),
        format!("path venv {}", venv.display()),
        "{}",
        express.error_log()
    );
}

#[test]
fn an_include_file_adds_apache_configuration() {
    let dir = app_dir();
    let include = dir.write(
        "extra.conf",
        &format!(
            "LoadModule headers_module {}/mod_headers.so\nHeader always set X-Included yes\n",
            common::apache_modules_dir().display()
        ),
    );
    dir.share();
    let express = Express::start(
        &dir,
        &["hello.wsgi", "--include-file", include.to_str().unwrap()],
    );
    assert_eq!(express.get("/").header("X-Included"), Some("yes"));
}

#[test]
fn limit_request_body_refuses_larger_bodies() {
    let dir = app_dir();
    let express = Express::start(&dir, &["hello.wsgi", "--limit-request-body", "100"]);
    assert_eq!(http::post(express.port, "/", &[b'x'; 101]).status, 413);
    assert_eq!(http::post(express.port, "/", &[b'x'; 100]).status, 200);
}

#[test]
fn access_log_records_requests_in_the_server_root() {
    let dir = app_dir();
    let express = Express::start(&dir, &["hello.wsgi", "--access-log"]);
    assert_eq!(express.get("/logged").status, 200);
    let deadline = Instant::now() + Duration::from_secs(5);
    let log = loop {
        let log =
            std::fs::read_to_string(express.server_root.join("access_log")).unwrap_or_default();
        if log.contains("GET /logged") || Instant::now() > deadline {
            break log;
        }
        sleep(Duration::from_millis(50));
    };
    assert!(log.contains("\"GET /logged HTTP/1.1\" 200 14"), "{log}");
}

#[test]
fn processes_threads_and_max_clients_size_apache() {
    let dir = app_dir();
    let (conf, _) = setup_server(
        &dir,
        &[
            "hello.wsgi",
            "--processes",
            "3",
            "--threads",
            "7",
            "--max-clients",
            "12",
        ],
    );
    for line in [
        "StartServers 3",
        "ServerLimit 3",
        "ThreadsPerChild 7",
        "MaxRequestWorkers 12",
    ] {
        assert!(
            conf.lines().any(|l| l == line),
            "{line} missing from:\n{conf}"
        );
    }
}

#[test]
fn a_layout_other_than_debians_is_used_when_given() {
    // A from-source-like tree: bin/httpd and modules/ side by side.
    let dir = app_dir();
    let tree = SharedDir::new("apache-tree");
    std::fs::create_dir_all(tree.0.join("bin")).unwrap();
    std::os::unix::fs::symlink(common::apache_binary(), tree.0.join("bin/httpd")).unwrap();
    std::os::unix::fs::symlink(common::apache_modules_dir(), tree.0.join("modules")).unwrap();
    let express = Express::start(
        &dir,
        &[
            "hello.wsgi",
            "--httpd-executable",
            tree.0.join("bin/httpd").to_str().unwrap(),
            "--modules-directory",
            tree.0.join("modules").to_str().unwrap(),
        ],
    );
    assert_eq!(express.get("/").text(), "Hello, World!\n");
    let conf = std::fs::read_to_string(express.server_root.join("httpd.conf")).unwrap();
    assert!(
        conf.contains(&format!(
            "{}/mod_mpm_event.so",
            tree.0.join("modules").display()
        )),
        "{conf}"
    );
}

#[test]
fn daemon_runs_the_app_in_a_process_group_sized_and_timed_as_mod_wsgi_express_does() {
    let dir = app_dir();
    let probe = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/apps/process_probe.wsgi"
    ))
    .unwrap();
    dir.write("probe.wsgi", &probe);
    dir.share();
    let title = format!("(wsgi:express-test-{})", std::process::id());
    let mut express = Express::start(
        &dir,
        &[
            "probe.wsgi",
            "--daemon",
            "--processes",
            "2",
            "--threads",
            "3",
            "--request-timeout",
            "30",
            "--display-name",
            &title,
        ],
    );
    let answer = common::processes::fields(&express.get("/").text());
    assert_eq!(answer["process_group"], "express");
    assert_eq!(
        (
            answer["multithread"].as_str(),
            answer["multiprocess"].as_str()
        ),
        ("True", "True")
    );
    let conf = std::fs::read_to_string(express.server_root.join("httpd.conf")).unwrap();
    for expected in [
        "WSGIRestrictEmbedded On",
        "processes=2 threads=3",
        "request-timeout=30 queue-timeout=45 socket-timeout=60 connect-timeout=15 startup-timeout=15 deadlock-timeout=60 graceful-timeout=15 shutdown-timeout=5",
        "WSGIProcessGroup express",
    ] {
        assert!(conf.contains(expected), "{expected} missing from:\n{conf}");
    }
    let daemons = || {
        common::processes::all()
            .into_iter()
            .filter(|p| p.command == title)
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while daemons() != 2 && Instant::now() < deadline {
        sleep(Duration::from_millis(50));
    }
    assert_eq!(daemons(), 2);
    express.stop();
    let deadline = Instant::now() + Duration::from_secs(10);
    while daemons() != 0 && Instant::now() < deadline {
        sleep(Duration::from_millis(50));
    }
    assert_eq!(
        daemons(),
        0,
        "daemon processes left after rwsgi-express stopped"
    );
}

#[test]
fn a_daemon_option_without_daemon_is_one_line_and_a_failure() {
    let dir = app_dir();
    let (_, stderr) = fails(
        &dir,
        &["start-server", "hello.wsgi", "--request-timeout", "5"],
    );
    assert!(
        stderr.contains("--request-timeout applies to daemon mode: add --daemon"),
        "{stderr}"
    );
}

#[test]
fn user_and_group_come_with_mod_unixd_where_it_is_a_loadable_module() {
    // Debian builds mod_unixd into apache2; an Apache built from source
    // (Docker's httpd image) has it as modules/mod_unixd.so, without which
    // Apache refuses `User` (AH00526).
    let dir = app_dir();
    let port = free_port().to_string();
    let (conf, root) = setup_server(&dir, &["hello.wsgi", "--port", &port, "--user", "www-data"]);
    let listed = common::run(Command::new(common::apache_binary()).arg("-l"), "httpd -l");
    let built_in = String::from_utf8_lossy(&listed.stdout).contains("mod_unixd.c");
    let loaded = format!(
        "LoadModule unixd_module {}",
        common::apache_modules_dir().join("mod_unixd.so").display()
    );
    assert_eq!(conf.contains(&loaded), !built_in, "{conf}");
    assert!(conf.contains("User www-data"), "{conf}");
    assert_configtest_passes(&root);
}
