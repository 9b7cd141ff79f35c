//! mod_rwsgi in Docker's httpd:2.4 image, as a user runs it: docker/Dockerfile
//! built unchanged and its container checked over loopback, then the
//! project's own suite inside a container of that image (its Apache under
//! /usr/local/apache2, Python 3.13) and once more on Debian sid (Python
//! 3.14). No image can be pulled on these machines: the base images are
//! local stand-ins (docker/stand-ins), built when their tag is missing.
//!
//! Ignored by a plain `cargo test`: `make test` runs them (`make
//! docker-test`) where `docker info` answers. Each build step prints how
//! long it took; its output is kept in target/docker/*.log.

mod common;

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::http;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// target/docker: the build steps' logs and the httpd stand-in's build
/// context (with the sdist it downloads), kept between runs.
fn cache_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let target = exe
        .ancestors()
        .nth(3)
        .expect("target/<profile>/deps/<test>");
    let dir = target.join("docker");
    std::fs::create_dir_all(&dir).expect("create target/docker");
    dir
}

/// Runs `docker ARGS` to its end: its stdout, or a panic with its stderr.
fn docker(args: &[&str]) -> String {
    let out = common::run(
        Command::new("docker").args(args),
        &format!("docker {args:?}"),
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn has_image(tag: &str) -> bool {
    Command::new("docker")
        .args(["image", "inspect", tag])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs a build step with its output in target/docker/NAME.log, prints how
/// long it took, and panics with the log's end if it failed.
fn step(name: &str, what: &str, command: &mut Command) {
    let log = cache_dir().join(format!("{name}.log"));
    let file = File::create(&log).expect("create step log");
    let start = Instant::now();
    let status = command
        .stdin(Stdio::null())
        .stdout(file.try_clone().expect("log file"))
        .stderr(file)
        .status()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(status.success(), "{what} failed:\n{}", tail(&text, 40));
    eprintln!(
        "docker-test: {what}: {:.0} s",
        start.elapsed().as_secs_f64()
    );
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The base images are built once, whichever test asks first.
static BASES: Mutex<()> = Mutex::new(());

/// debian:SUITE-slim, made by docker/stand-ins/debian-slim.sh when missing.
fn debian(suite: &str) -> String {
    let tag = format!("debian:{suite}-slim");
    if !has_image(&tag) {
        step(
            &format!("debian-{suite}"),
            &format!("{tag} stand-in (debootstrap, docker import)"),
            Command::new(repo().join("docker/stand-ins/debian-slim.sh")).args([suite, &tag]),
        );
    }
    tag
}

/// An Apache built from source the httpd:2.4 image's way on debian:SUITE,
/// tagged `tag` (httpd:2.4 for trixie), built when missing.
fn httpd(suite: &str, tag: &str) -> String {
    let _bases = BASES.lock().unwrap_or_else(|e| e.into_inner());
    if has_image(tag) {
        return tag.to_string();
    }
    // The sdist's download (pip prepares its metadata: minutes of CPU)
    // overlaps debootstrap (network and disk).
    let context = cache_dir().join("httpd-context");
    let started = Instant::now();
    let mut fetch = Command::new(repo().join("docker/stand-ins/httpd/context.sh"))
        .arg(&context)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(cache_dir().join("httpd-context.log")).expect("log"))
        .spawn()
        .expect("run docker/stand-ins/httpd/context.sh");
    let base = debian(suite);
    let fetched = fetch.wait().expect("wait for context.sh");
    assert!(
        fetched.success(),
        "fetching mod_wsgi-httpd's sdist failed:\n{}",
        std::fs::read_to_string(cache_dir().join("httpd-context.log")).unwrap_or_default()
    );
    eprintln!(
        "docker-test: httpd stand-in's build context (mod_wsgi-httpd sdist): done {:.0} s after it started",
        started.elapsed().as_secs_f64()
    );
    step(
        &format!("httpd-{suite}"),
        &format!("{tag} stand-in (httpd from source on {base})"),
        Command::new("docker")
            .args(["build", "--build-arg", &format!("BASE={base}"), "-t", tag])
            .arg(&context),
    );
    tag.to_string()
}

/// httpd:2.4's Apache on debian:SUITE-slim (docker/stand-ins/httpd/
/// rebase.Dockerfile), tagged `tag`: built from source once, on trixie.
fn httpd_rebased(suite: &str, tag: &str) -> String {
    let httpd = httpd("trixie", "httpd:2.4");
    let _bases = BASES.lock().unwrap_or_else(|e| e.into_inner());
    let base = debian(suite);
    step(
        &format!("httpd-{suite}"),
        &format!("{tag} ({httpd}'s Apache on {base})"),
        Command::new("docker")
            .args(["build", "-f", "rebase.Dockerfile"])
            .args(["--build-arg", &format!("BASE={base}"), "-t", tag, "."])
            .current_dir(repo().join("docker/stand-ins/httpd")),
    );
    tag.to_string()
}

/// A container, removed on drop.
struct Container {
    name: String,
}

impl Container {
    /// Runs `image` detached, its port 80 published on a loopback port
    /// that Docker picks free.
    fn run(image: &str) -> Container {
        let name = format!("rwsgi-example-{}", std::process::id());
        let _ = Command::new("docker").args(["rm", "-f", &name]).output();
        docker(&["run", "-d", "--name", &name, "-p", "127.0.0.1::80", image]);
        Container { name }
    }

    fn port(&self) -> u16 {
        let mapping = docker(&["port", &self.name, "80/tcp"]);
        mapping
            .lines()
            .find_map(|line| line.strip_prefix("127.0.0.1:"))
            .and_then(|port| port.trim().parse().ok())
            .unwrap_or_else(|| panic!("no loopback port in `docker port`: {mapping}"))
    }

    /// `docker logs`: (stdout, stderr), Apache's access and error logs.
    fn logs(&self) -> (String, String) {
        let out = common::run(
            Command::new("docker").args(["logs", &self.name]),
            "docker logs",
        );
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", &self.name])
            .output();
    }
}

/// Waits until Apache in the container answers `/`.
fn first_answer(port: u16) -> http::Response {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            stream
                .set_read_timeout(Some(Duration::from_secs(30)))
                .expect("read timeout");
            let request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
            let mut answer = Vec::new();
            // Docker's proxy accepts connections before Apache listens and
            // closes them unanswered.
            if stream.write_all(request).is_ok() && stream.read_to_end(&mut answer).is_ok() {
                if let Some(response) = http::parse(&answer) {
                    return response;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "the container never answered on port {port}"
        );
        sleep(Duration::from_millis(200));
    }
}

/// The one JSON string value `key` holds in `json` (the example app's
/// flat answers).
fn json_string(json: &str, key: &str) -> String {
    let start = json
        .find(&format!("\"{key}\": \""))
        .unwrap_or_else(|| panic!("{key} not in {json}"))
        + key.len()
        + 5;
    let end = json[start..].find('"').expect("closing quote") + start;
    json[start..end].to_string()
}

#[test]
#[ignore = "builds Docker images for minutes: run by `make docker-test`"]
fn dockerfile_of_a_user_builds_and_serves_in_the_httpd_image() {
    let base = httpd("trixie", "httpd:2.4");
    step(
        "example",
        "docker build -f docker/Dockerfile (the user's, unchanged)",
        Command::new("docker")
            .args([
                "build",
                "-f",
                "docker/Dockerfile",
                "-t",
                "rwsgi-example:test",
                ".",
            ])
            .current_dir(repo()),
    );
    // The image's Apache, as its own httpd -v names it.
    let version = docker(&["run", "--rm", &base, "httpd", "-v"]);
    let apache = version
        .lines()
        .find_map(|line| line.strip_prefix("Server version: "))
        .expect("httpd -v names its version")
        .trim()
        .to_string();
    assert!(apache.starts_with("Apache/2.4."), "{version}");

    let container = Container::run("rwsgi-example:test");
    let port = container.port();

    let hello = first_answer(port);
    assert_eq!(hello.status, 200);
    assert_eq!(hello.text(), "Hello from mod_rwsgi in httpd:2.4\n");

    let environ = http::get(port, "/environ").text();
    assert_eq!(
        json_string(&environ, "SERVER_SOFTWARE"),
        format!(
            "{apache} mod_rwsgi/{} Python/3.13",
            env!("CARGO_PKG_VERSION")
        )
    );
    assert!(
        json_string(&environ, "python").starts_with("3.13."),
        "{environ}"
    );
    assert_eq!(json_string(&environ, "prefix"), "/srv/venv");

    let body: Vec<u8> = (0..1024 * 1024u32).map(|i| (i * 7 % 251) as u8).collect();
    let echoed = http::post(port, "/echo", &body);
    assert_eq!(echoed.status, 200);
    assert!(
        echoed.body == body,
        "1 MiB POST: {} bytes came back",
        echoed.body.len()
    );

    let stream = http::get(port, "/stream");
    assert_eq!(stream.header("Transfer-Encoding"), Some("chunked"));
    assert!(stream.complete, "the stream ended early");
    let lines: Vec<String> = stream.text().lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 1000);
    assert_eq!(lines[999], "line 999");

    assert_eq!(http::get(port, "/error").status, 500);

    let flask = http::get(port, "/flask/");
    assert_eq!(flask.status, 200, "{}", container.logs().1);
    assert!(
        flask.text().starts_with("Hello from Flask 3.") && flask.text().ends_with("in /srv/venv\n"),
        "{}",
        flask.text()
    );
    let form = http::raw(
        port,
        b"POST /flask/form HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 10\r\nConnection: close\r\n\r\nname=rwsgi",
    );
    assert_eq!(form.status, 200);
    assert_eq!(form.text().trim(), r#"{"name":"rwsgi"}"#);

    // docker logs: the access log on stdout, the error log (with the
    // app's traceback) on stderr.
    let deadline = Instant::now() + Duration::from_secs(10);
    let (access, errors) = loop {
        let (access, errors) = container.logs();
        if errors.contains("RuntimeError: the example app fails on purpose")
            || Instant::now() > deadline
        {
            break (access, errors);
        }
        sleep(Duration::from_millis(100));
    };
    assert!(access.contains("\"GET / HTTP/1.1\" 200"), "{access}");
    assert!(
        access.contains("\"POST /echo HTTP/1.1\" 200 1048576"),
        "{access}"
    );
    assert!(
        errors.contains("Traceback (most recent call last):"),
        "{errors}"
    );
    assert!(
        errors.contains("RuntimeError: the example app fails on purpose"),
        "{errors}"
    );

    // docker stop sends the image's STOPSIGNAL (SIGWINCH): a graceful stop,
    // well before docker would resort to SIGKILL.
    let stopping = Instant::now();
    docker(&["stop", "-t", "30", &container.name]);
    let took = stopping.elapsed();
    let exit = docker(&["inspect", "-f", "{{.State.ExitCode}}", &container.name]);
    let (_, errors) = container.logs();
    assert_eq!(exit.trim(), "0", "{errors}");
    assert!(took < Duration::from_secs(20), "docker stop took {took:?}");
    assert!(
        errors.contains("caught SIGWINCH, shutting down gracefully"),
        "{errors}"
    );
    for crash in ["exit signal", "Segmentation fault", "AH00052"] {
        assert!(!errors.contains(crash), "a child crashed: {errors}");
    }
}

#[test]
#[ignore = "builds Docker images for minutes: run by `make docker-test`"]
fn the_example_serves_in_daemon_mode_from_its_virtualenv_in_the_httpd_image() {
    httpd("trixie", "httpd:2.4");
    step(
        "example-daemon",
        "docker build -f docker/Dockerfile --build-arg RWSGI_CONF=docker/rwsgi-daemon.conf",
        Command::new("docker")
            .args([
                "build",
                "-f",
                "docker/Dockerfile",
                "--build-arg",
                "RWSGI_CONF=docker/rwsgi-daemon.conf",
                "-t",
                "rwsgi-example:daemon",
                ".",
            ])
            .current_dir(repo()),
    );
    let container = Container::run("rwsgi-example:daemon");
    let port = container.port();
    assert_eq!(first_answer(port).status, 200);
    let environ = http::get(port, "/environ").text();
    assert_eq!(json_string(&environ, "mod_rwsgi.process_group"), "site");
    assert_eq!(json_string(&environ, "prefix"), "/srv/venv");
    let flask = http::get(port, "/flask/");
    assert_eq!(flask.status, 200, "{}", flask.text());
    let processes = docker(&[
        "exec",
        &container.name,
        "sh",
        "-c",
        "cat /proc/[0-9]*/cmdline | tr '\\0' '\\n'",
    ]);
    assert_eq!(
        processes.lines().filter(|l| *l == "(wsgi:site)").count(),
        2,
        "{processes}"
    );
    docker(&["stop", &container.name]);
    let (_, errors) = container.logs();
    assert!(
        errors.contains("caught SIGWINCH, shutting down gracefully"),
        "{errors}"
    );
    for crash in ["exit signal", "Segmentation fault", "died ("] {
        assert!(!errors.contains(crash), "a process crashed: {errors}");
    }
}

/// Runs the project's suite (`make deps`, then `cargo build` and `cargo
/// test --release --workspace`; of the `only` test targets, less the
/// keep-alive minute, when given) in
/// a container of `image` with the checkout mounted read-only, after
/// checking that its Python is `python` and that `make deps` installed no
/// Debian apache2 beside the image's own.
fn suite_in(image: &str, python: &str, name: &str, only: Option<&[&str]>) {
    let (major, minor) = python.split_once('.').expect("3.X");
    let targets: String = only.map_or_else(String::new, |tests| {
        std::iter::once(" --lib".to_string())
            .chain(tests.iter().map(|test| format!(" --test {test}")))
            .chain(std::iter::once(format!(" -- --skip {KEEP_ALIVE_MINUTE}")))
            .collect()
    });
    let script = format!(
        "set -e
python3 -c 'import sys; v = sys.version_info; assert (v.major, v.minor) == ({major}, {minor}), sys.version'
make deps
if dpkg-query -W -f='${{Status}}' apache2 2>/dev/null | grep -q 'ok installed'; then
  echo 'make deps installed Debian apache2 beside the image Apache'; exit 1
fi
cargo build --release
cargo test --release --workspace --no-fail-fast{targets}"
    );
    let log_path = cache_dir().join(format!("suite-{name}.log"));
    let mut log = File::create(&log_path).expect("suite log");
    let start = Instant::now();
    let mut child = Command::new("docker")
        .args([
            "run",
            "--rm",
            "--name",
            &format!("rwsgi-suite-{name}-{}", std::process::id()),
        ])
        .arg("-v")
        .arg(format!("{}:/src:ro", repo().display()))
        .args(["-v", &format!("rwsgi-target-{name}:/target")])
        .args(["-v", "rwsgi-cargo-registry:/root/.cargo/registry"])
        .args(["-e", "CARGO_TARGET_DIR=/target", "-w", "/src"])
        // The suite checks behaviour, not speed: without fat LTO, one
        // codegen unit and debug info, its build takes a fraction of the
        // time, and make test keeps within its 45 minutes.
        .args(["-e", "CARGO_PROFILE_RELEASE_LTO=false"])
        .args(["-e", "CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16"])
        .args(["-e", "CARGO_PROFILE_RELEASE_DEBUG=0"])
        .arg(image)
        .args(["sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("docker run");
    let stderr = child.stderr.take().expect("stderr");
    let copy = std::thread::spawn(move || {
        let mut text = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            text.push_str(&line);
            text.push('\n');
        }
        text
    });
    let (mut passed, mut failed) = (0, 0);
    // cargo test's "failures:" sections (each failing test's output and
    // names), for the report: the log's tail is cargo's stderr.
    let (mut failures, mut in_failures) = (String::new(), false);
    for line in BufReader::new(child.stdout.take().expect("stdout"))
        .lines()
        .map_while(Result::ok)
    {
        let _ = writeln!(log, "{line}");
        in_failures |= line == "failures:";
        if in_failures {
            failures.push_str(&line);
            failures.push('\n');
        }
        if let Some(counts) = line.strip_prefix("test result: ") {
            let count = |word: &str| -> u32 {
                counts
                    .split(';')
                    .find_map(|part| part.trim().strip_suffix(word))
                    .and_then(|n| n.trim().rsplit(' ').next()?.parse().ok())
                    .unwrap_or(0)
            };
            passed += count(" passed");
            failed += count(" failed");
            in_failures = false;
        }
    }
    let status = child.wait().expect("wait for docker run");
    let errors = copy.join().unwrap_or_default();
    let _ = write!(log, "{errors}");
    let output = std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(
        status.success() && failed == 0,
        "the suite failed in {image} ({passed} passed, {failed} failed; all in {}):\n{}\n{}",
        log_path.display(),
        tail(&failures, 150),
        tail(&output, 20)
    );
    assert!(passed > 0, "no test ran in {image}:\n{}", tail(&output, 40));
    eprintln!(
        "docker-test: the suite in {image} (Python {python}): {passed} passed, 0 failed, {:.0} s",
        start.elapsed().as_secs_f64()
    );
}

/// The suite's image: `base` with the build tools and mod_wsgi from PyPI
/// (docker/test/Dockerfile); quick when its layers are cached.
fn suite_image(base: &str, tag: &str, name: &str) -> String {
    step(
        &format!("suite-image-{name}"),
        &format!("{tag} (build tools and mod_wsgi from PyPI on {base})"),
        Command::new("docker")
            .args(["build", "--build-arg", &format!("BASE={base}"), "-t", tag])
            .arg(repo().join("docker/test")),
    );
    tag.to_string()
}

/// The suite on `base` (an Apache image of Debian `suite`) with Python
/// `python`: all of it, or the `only` test targets.
fn suite_on(suite: &str, base: &str, python: &str, only: Option<&[&str]>) {
    let image = suite_image(base, &format!("rwsgi-suite:{suite}"), suite);
    suite_in(&image, python, suite, only);
}

/// What a newer Python can change: the tests of the gateway, the embedded
/// interpreter and the apps run on it (with the unit tests). The rest
/// (Apache's routing, directives and MPMs, rwsgi-express, daemon
/// processes' supervision) is Python's only through those, and runs on
/// Python 3.13 in the httpd image; the whole suite on 3.14 would take
/// make test past its 45 minutes.
const PYTHON_SENSITIVE_TESTS: &[&str] = &[
    "application_groups",
    "auth_scripts",
    "daemon_faults",
    "daemon_mode",
    "environ_matches_mod_wsgi",
    "failures",
    "file_wrapper",
    "frameworks",
    "hostile_apps",
    "mercurial",
    "mod_wsgi_module",
    "python_directives",
    "python_threads",
    "request_lifetime",
    "response_body",
    "script_reloading",
    "serving",
    "standard_streams",
    "start_response",
    "wsgiref_validate",
];

/// Left out of the subset: a minute of Apache's keep-alive under Flask,
/// a fixed minute that asks nothing new of Python.
const KEEP_ALIVE_MINUTE: &str =
    "the_flask_app_answers_200_keep_alive_connections_for_a_minute_without_a_failure";

#[test]
#[ignore = "builds Docker images for minutes: run by `make docker-test`"]
fn suite_passes_in_the_httpd_image_with_python_3_13() {
    suite_on("trixie", &httpd("trixie", "httpd:2.4"), "3.13", None);
}

#[test]
#[ignore = "builds Docker images for minutes: run by `make docker-test`"]
fn python_sensitive_tests_pass_on_debian_sid_with_python_3_14() {
    suite_on(
        "sid",
        &httpd_rebased("sid", "rwsgi-httpd:sid"),
        "3.14",
        Some(PYTHON_SENSITIVE_TESTS),
    );
}
