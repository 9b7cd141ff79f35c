//! Restarting a daemon process group's processes as mod_wsgi users do it:
//! touching the WSGI script, or the app signalling its own process. Better
//! than mod_wsgi, the new process is ready before the old one stops, so no
//! request waits or fails, and a new version that fails to load leaves the
//! old one serving.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::Apache;

fn source(version: &str) -> String {
    format!(
        "import os\nVERSION = {version}\n\n\ndef application(environ, start_response):\n    start_response(\"200 OK\", [(\"Content-Type\", \"text/plain\")])\n    return [b\"%d %d\" % (VERSION, os.getpid())]\n"
    )
}

/// Writes the script anew and moves its modification time on.
fn rewrite(apache: &Apache, text: &str) {
    let path = apache.apps().join("versioned.wsgi");
    let before = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
    std::fs::write(&path, text).unwrap();
    // Two writes within the file system's timestamp granularity would look
    // like one: wait until the time has moved.
    while std::fs::metadata(&path).and_then(|m| m.modified()).ok() == before {
        thread::sleep(Duration::from_millis(5));
        std::fs::write(&path, text).unwrap();
    }
}

fn start() -> Apache {
    let apache = Apache::start(
        "WSGIDaemonProcess site processes=1 threads=4\nWSGIScriptAlias /v @APPS@/versioned.wsgi process-group=site\n",
    );
    rewrite(&apache, &source("0"));
    apache
}

/// (version, pid) from the script's answer.
fn answer(apache: &Apache) -> (u32, u32) {
    let response = apache.get("/v");
    assert_eq!(response.status, 200, "{}", apache.error_log());
    let text = response.text();
    let (version, pid) = text.split_once(' ').unwrap();
    (version.parse().unwrap(), pid.parse().unwrap())
}

fn wait_for_version(apache: &Apache, version: u32) -> (u32, u32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let seen = answer(apache);
        if seen.0 == version || Instant::now() > deadline {
            return seen;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_changed_script_restarts_its_process_which_serves_the_new_version() {
    let apache = start();
    let (_, first) = answer(&apache);
    rewrite(&apache, &source("1"));
    let (version, second) = wait_for_version(&apache, 1);
    assert_eq!(version, 1);
    assert_ne!(second, first, "the new version runs in a new process");
    let log = apache.wait_for_log("its script changed");
    assert!(
        log.contains(&format!(
            "recycling process {first} (its script changed); its replacement starts first"
        )),
        "{log}"
    );
    // The old process goes once the new one serves.
    let gone = Instant::now() + Duration::from_secs(20);
    while std::path::Path::new(&format!("/proc/{first}")).exists() && Instant::now() < gone {
        thread::sleep(Duration::from_millis(50));
    }
    assert!(!std::path::Path::new(&format!("/proc/{first}")).exists());
}

#[test]
fn rewriting_the_script_under_load_fails_no_request() {
    let apache = Arc::new(start());
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (apache, stop) = (apache.clone(), stop.clone());
            thread::spawn(move || {
                let mut failures = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let response = apache.get("/v");
                    if response.status != 200 {
                        failures.push(response.status);
                    }
                }
                failures
            })
        })
        .collect();
    for version in 1..=4 {
        thread::sleep(Duration::from_millis(600));
        rewrite(&apache, &source(&version.to_string()));
    }
    assert_eq!(wait_for_version(&apache, 4).0, 4);
    stop.store(true, Ordering::Relaxed);
    let failures: Vec<u16> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    assert!(failures.is_empty(), "{failures:?}\n{}", apache.error_log());
}

#[test]
fn a_changed_script_that_fails_to_load_leaves_the_old_process_serving() {
    let apache = start();
    let (_, first) = answer(&apache);
    rewrite(&apache, "def broken(:\n");
    // The request that notices the change is served by the version loaded.
    assert_eq!(answer(&apache), (0, first));
    let log = apache.wait_for_log("failed to start");
    assert!(log.contains("the replacement process"), "{log}");
    assert!(log.contains("SyntaxError"), "{log}");
    assert!(log.contains("the running process keeps serving"), "{log}");
    for _ in 0..5 {
        assert_eq!(answer(&apache), (0, first));
    }
    // Asked once per change, not on every request.
    assert_eq!(apache.error_log().matches("its script changed").count(), 1);
    rewrite(&apache, &source("2"));
    assert_eq!(wait_for_version(&apache, 2).0, 2);
}

#[test]
fn an_app_that_sends_sigint_to_its_own_process_has_it_restarted() {
    let apache = Apache::start(
        "WSGIDaemonProcess site threads=2\n\
         WSGIApplicationGroup %{GLOBAL}\n\
         WSGIScriptAlias /slow @APPS@/slow.wsgi process-group=site\n\
         WSGIScriptAlias /restart @APPS@/restart_self.wsgi process-group=site\n",
    );
    let first = apache.get("/slow").text();
    assert_eq!(apache.get("/restart").status, 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut now = first.clone();
    while now == first && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
        now = apache.get("/slow").text();
    }
    assert_ne!(now, first);
    assert!(
        apache
            .error_log()
            .contains("the application sent SIGINT to its own process")
    );
}
