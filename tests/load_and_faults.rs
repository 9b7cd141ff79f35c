//! Load and faults: graceful restarts under load fail no request; a
//! thousand clients that vanish mid-download and mid-upload, among 100k
//! requests, get close() called every time, leak no descriptor, and leave
//! the child's memory flat.

mod common;

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use common::{Apache, http, one_child};

/// One request; Err instead of a panic when the answer is not a whole 200.
fn try_get(port: u16, path: &str) -> Result<(), String> {
    let mut stream =
        std::net::TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
    match http::parse(&bytes) {
        Some(r) if r.status == 200 && r.complete => Ok(()),
        Some(r) => Err(format!("status {} complete {}", r.status, r.complete)),
        None => Err(format!("not HTTP: {:?}", String::from_utf8_lossy(&bytes))),
    }
}

#[test]
fn two_graceful_restarts_under_load_fail_no_request() {
    let apache = Arc::new(Apache::start("WSGIScriptAlias /hello @APPS@/hello.wsgi\n"));
    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let (apache, stop, served) = (apache.clone(), stop.clone(), served.clone());
            thread::spawn(move || {
                let mut failures = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    match try_get(apache.port, "/hello") {
                        Ok(()) => {
                            served.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => failures.push(e),
                    }
                }
                failures
            })
        })
        .collect();
    for _ in 0..2 {
        thread::sleep(Duration::from_secs(2));
        // SAFETY: signalling the Apache parent the test started.
        unsafe { libc::kill(apache.parent_pid() as i32, libc::SIGUSR1) };
    }
    thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::Relaxed);
    let failures: Vec<String> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    assert!(
        failures.is_empty(),
        "{} failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(
        served.load(Ordering::Relaxed) > 500,
        "only {} served",
        served.load(Ordering::Relaxed)
    );
    let log = apache.error_log();
    assert_eq!(log.matches("Doing graceful restart").count(), 2, "{log}");
}

/// Descriptors open and resident KiB of the Apache parent's children.
fn children_fds_and_rss(apache: &Apache) -> (usize, u64) {
    let children = apache.children();
    (
        children.iter().map(|c| c.open_fds).sum(),
        children.iter().map(|c| c.rss_kib).sum(),
    )
}

/// Downloads an endless stream and hangs up after 100 KiB.
fn vanish_mid_download(port: u16, marker: &str) {
    let mut stream = http::connect(port);
    stream
        .write_all(format!("GET /close?endless&{marker} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes())
        .unwrap();
    let mut buf = vec![0u8; 100 * 1024];
    let _ = stream.read_exact(&mut buf);
}

/// Announces a 1 MiB upload, sends 10 KiB, and hangs up.
fn vanish_mid_upload(port: u16) {
    let mut stream = http::connect(port);
    let _ =
        stream.write_all(b"POST /echo?read HTTP/1.1\r\nHost: a\r\nContent-Length: 1048576\r\n\r\n");
    let _ = stream.write_all(&[b'u'; 10 * 1024]);
}

fn vanishing_clients(apache: &Arc<Apache>, first: usize, count: usize) {
    let next = Arc::new(AtomicUsize::new(first));
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let (apache, next) = (apache.clone(), next.clone());
            thread::spawn(move || {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= first + count {
                        break;
                    }
                    if n % 2 == 0 {
                        vanish_mid_download(apache.port, &format!("closed-{n}"));
                    } else {
                        vanish_mid_upload(apache.port);
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
}

/// `ab -c 16 -n N` against `path`: every request must be a whole 200. One
/// connection per request: with keep-alive, ab counts as failed the
/// requests it sends on a connection Apache is closing (it does so against
/// Apache's own static files too), which would hide real failures.
fn ab_requests(port: u16, path: &str, n: usize) {
    let out = std::process::Command::new("ab")
        .args(["-q", "-c", "16", "-n", &n.to_string()])
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .output()
        .expect("run ab (make test installs apache2-utils)");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "ab failed: {report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let count = |label: &str| -> Option<u64> {
        let line = report.lines().find(|l| l.starts_with(label))?;
        line[label.len()..].split_whitespace().next()?.parse().ok()
    };
    assert_eq!(count("Complete requests:"), Some(n as u64), "{report}");
    assert_eq!(count("Failed requests:"), Some(0), "{report}");
    assert_eq!(count("Non-2xx responses:"), None, "{report}");
}

#[test]
fn a_thousand_vanishing_clients_among_100k_requests_get_close_called_and_leak_nothing() {
    let apache = Arc::new(Apache::start(&format!(
        "{}Timeout 5\nWSGIScriptAlias /close @APPS@/close_marker.wsgi\nWSGIScriptAlias /echo @APPS@/echo.wsgi\nWSGIScriptAlias /hello @APPS@/hello.wsgi\n",
        one_child(16)
    )));
    // Warm-up: the interpreter, the scripts, every thread and its memory.
    vanishing_clients(&apache, 0, 200);
    ab_requests(apache.port, "/hello", 10_000);
    thread::sleep(Duration::from_secs(6));
    let (fds_before, rss_before) = children_fds_and_rss(&apache);

    // 1,000 vanishing clients while 99,000 whole requests go through.
    let vanishing = {
        let apache = apache.clone();
        thread::spawn(move || vanishing_clients(&apache, 200, 1000))
    };
    ab_requests(apache.port, "/hello", 99_000);
    vanishing.join().unwrap();
    // Uploads wait out their Timeout before the child notices.
    thread::sleep(Duration::from_secs(6));
    let (fds_after, rss_after) = children_fds_and_rss(&apache);

    let markers = apache.root().join("markers");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let closed = loop {
        let closed = (0..1200)
            .step_by(2)
            .filter(|n| markers.join(format!("closed-{n}")).exists())
            .count();
        if closed == 600 || std::time::Instant::now() > deadline {
            break closed;
        }
        thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        closed, 600,
        "close() was not called for every vanished download"
    );
    assert!(
        fds_after <= fds_before + 4,
        "descriptors: {fds_before} before, {fds_after} after"
    );
    assert!(
        (rss_after as f64) <= rss_before as f64 * 1.10,
        "child RSS grew from {rss_before} KiB to {rss_after} KiB"
    );
    eprintln!(
        "child RSS {rss_before} KiB after warm-up, {rss_after} KiB after 100k requests; descriptors {fds_before} -> {fds_after}"
    );
}
