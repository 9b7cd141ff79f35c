//! WSGIScriptReloading (on by default): a changed script is executed again
//! on its next request, with no restart, and no request fails while the
//! file changes, even when it is written in place under load or a new
//! version does not load.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use common::{Apache, one_child};

fn site() -> String {
    format!("{}WSGIScriptAlias /v @APPS@/versioned.wsgi\n", one_child(8))
}

fn version_source(version: u32) -> String {
    format!(
        "VERSION = {version}\n\n\ndef application(environ, start_response):\n    start_response(\"200 OK\", [(\"Content-Type\", \"text/plain\")])\n    return [str(VERSION).encode()]\n"
    )
}

#[test]
fn rewriting_the_script_under_load_fails_no_request_and_the_last_version_serves() {
    let apache = Arc::new(Apache::start(&site()));
    let script = apache.apps().join("versioned.wsgi");
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (apache, stop) = (apache.clone(), stop.clone());
            thread::spawn(move || {
                let mut failures = Vec::new();
                let mut served = 0;
                while !stop.load(Ordering::Relaxed) {
                    let response = apache.get("/v");
                    if response.status != 200 {
                        failures.push(response.status);
                    }
                    served += 1;
                }
                (served, failures)
            })
        })
        .collect();
    for version in 1..=10 {
        thread::sleep(Duration::from_millis(100));
        // In place, as an editor or `cp` writes: readers may see it half
        // written.
        std::fs::write(&script, version_source(version)).unwrap();
    }
    thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let mut total = 0;
    for client in clients {
        let (served, failures) = client.join().unwrap();
        assert!(
            failures.is_empty(),
            "failed requests: {failures:?}\n{}",
            apache.error_log()
        );
        total += served;
    }
    assert!(total > 40, "only {total} requests were made");
    assert_eq!(apache.get("/v").text(), "10");
}

#[test]
fn a_changed_script_that_fails_to_load_leaves_the_loaded_version_serving() {
    let apache = Apache::start(&site());
    let script = apache.apps().join("versioned.wsgi");
    std::fs::write(&script, version_source(1)).unwrap();
    assert_eq!(apache.get("/v").text(), "1");
    thread::sleep(Duration::from_millis(20));
    std::fs::write(&script, "VERSION = (\n").unwrap();
    for _ in 0..3 {
        let response = apache.get("/v");
        assert_eq!((response.status, response.text()), (200, "1".to_string()));
    }
    let log = apache.wait_for_log("keeps serving");
    assert_eq!(
        log.matches("Reloading the changed WSGI script").count(),
        1,
        "logged once per change: {log}"
    );
    assert!(log.contains("SyntaxError"), "{log}");
    thread::sleep(Duration::from_millis(20));
    std::fs::write(&script, version_source(2)).unwrap();
    assert_eq!(apache.get("/v").text(), "2");
}

/// An in-place rewrite truncates the file, then writes it, often within
/// one tick of the file system's clock: a request between the two finds an
/// empty script with the new modification time. Once written, the script
/// has that same time, and must still be loaded.
#[test]
fn a_script_caught_empty_mid_rewrite_loads_once_written_within_the_same_tick() {
    let apache = Apache::start(&site());
    let script = apache.apps().join("versioned.wsgi");
    std::fs::write(&script, version_source(1)).unwrap();
    assert_eq!(apache.get("/v").text(), "1");
    let tick = std::time::SystemTime::now() + Duration::from_secs(5);
    let write_at = |source: &str| {
        std::fs::write(&script, source).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&script)
            .unwrap()
            .set_modified(tick)
            .unwrap();
    };
    write_at("");
    let response = apache.get("/v");
    assert_eq!((response.status, response.text()), (200, "1".to_string()));
    apache.wait_for_log("keeps serving");
    write_at(&version_source(2));
    assert_eq!(apache.get("/v").text(), "2", "{}", apache.error_log());
}
