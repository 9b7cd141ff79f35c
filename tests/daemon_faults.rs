//! Daemon mode under faults: each has a defined outcome for the client, a
//! log line naming the group, the process and the cause, and costs nothing
//! beyond the requests it must.

mod common;

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::{Apache, http};

/// One request on its own connection; Err unless it is a whole 200.
fn try_get(port: u16, path: &str) -> Result<String, String> {
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
        Some(r) if r.status == 200 && r.complete => Ok(r.text()),
        Some(r) => Err(format!(
            "status {} complete {}: {}",
            r.status,
            r.complete,
            r.text()
        )),
        None => Err(format!("not HTTP: {:?}", String::from_utf8_lossy(&bytes))),
    }
}

/// `clients` threads sending `path` until `work` returns; the failures.
fn under_load(
    apache: &Arc<Apache>,
    path: &str,
    clients: usize,
    work: impl FnOnce(),
) -> (usize, Vec<String>) {
    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let (apache, stop, served, path) = (
                apache.clone(),
                stop.clone(),
                served.clone(),
                path.to_string(),
            );
            thread::spawn(move || {
                let mut failures = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    match try_get(apache.port, &path) {
                        Ok(_) => {
                            served.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => failures.push(e),
                    }
                }
                failures
            })
        })
        .collect();
    work();
    stop.store(true, Ordering::Relaxed);
    let failures = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    (served.load(Ordering::Relaxed), failures)
}

fn pid_of(answer: &str) -> u32 {
    answer
        .trim()
        .strip_prefix("pid ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{answer:?}"))
}

#[test]
fn a_daemon_killed_mid_request_costs_that_request_a_502_and_is_replaced_at_once() {
    let apache = Arc::new(Apache::start(
        "WSGIDaemonProcess site threads=4\nWSGIScriptAlias /slow @APPS@/slow.wsgi process-group=site\n",
    ));
    let daemon = apache.wait_for_daemons(1)[0].pid;
    let port = apache.port;
    let stuck = thread::spawn(move || http::get(port, "/slow?sleep=30"));
    thread::sleep(Duration::from_millis(500));
    // SAFETY: killing the daemon process the test's Apache started.
    unsafe { libc::kill(daemon as i32, libc::SIGKILL) };
    let killed_at = Instant::now();
    assert_eq!(stuck.join().unwrap().status, 502);
    let answer = loop {
        match try_get(apache.port, "/slow") {
            Ok(answer) => break answer,
            Err(e) => assert!(
                killed_at.elapsed() < Duration::from_secs(1),
                "not replaced within a second: {e}"
            ),
        }
    };
    assert_ne!(pid_of(&answer), daemon);
    let log = apache.wait_for_log("died (killed by signal 9");
    assert!(
        log.contains(&format!(
            "daemon process group 'site': process {daemon} died (killed by signal 9"
        )),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "daemon process group 'site' (pid {daemon}) failed the request"
        )),
        "{log}"
    );
}

#[test]
fn a_daemon_killed_under_load_fails_only_the_requests_it_was_serving() {
    let apache = Arc::new(Apache::start(
        "WSGIDaemonProcess site processes=2 threads=4\nWSGIScriptAlias /slow @APPS@/slow.wsgi process-group=site\n",
    ));
    let daemons = apache.wait_for_daemons(2);
    let (served, failures) = under_load(&apache, "/slow?sleep=0.05", 6, || {
        thread::sleep(Duration::from_secs(1));
        // SAFETY: killing a daemon process of the test's Apache.
        unsafe { libc::kill(daemons[0].pid as i32, libc::SIGKILL) };
        thread::sleep(Duration::from_secs(2));
    });
    // At most its four threads' requests were lost, each a 502.
    assert!(failures.len() <= 4, "{failures:?}");
    assert!(
        failures.iter().all(|f| f.starts_with("status 502")),
        "{failures:?}"
    );
    assert!(served > 50, "{served}");
}

#[test]
fn a_daemon_that_ends_itself_mid_request_is_a_502() {
    let apache = Apache::start(
        "WSGIDaemonProcess site threads=2\nWSGIScriptAlias /slow @APPS@/slow.wsgi process-group=site\n",
    );
    assert_eq!(apache.get("/slow?exit").status, 502);
    let log = apache.wait_for_log("exit status 7");
    assert!(log.contains("died (exit status 7)"), "{log}");
    assert!(try_get(apache.port, "/slow").is_ok());
}

#[test]
fn an_app_that_cannot_load_at_start_backs_off_and_requests_get_503_at_once() {
    let apache = Apache::start(
        "WSGIDaemonProcess site threads=1\n\
         WSGIImportScript @APPS@/raises_on_import.wsgi process-group=site application-group=%{GLOBAL}\n\
         WSGIScriptAlias /hello @APPS@/hello.wsgi process-group=site application-group=%{GLOBAL}\n",
    );
    let log = apache.wait_for_log("trying again in 2 s");
    assert!(
        log.contains("RuntimeError: raised while importing"),
        "{log}"
    );
    assert!(
        log.contains("daemon process group 'site' could not start a process"),
        "{log}"
    );
    let asked = Instant::now();
    assert_eq!(apache.get("/hello").status, 503);
    assert!(asked.elapsed() < Duration::from_secs(1));
    let log = apache.wait_for_log("has no process running");
    assert!(log.contains("mod_rwsgi: daemon process group 'site' has no process running: its processes fail to start"), "{log}");
    // Backing off: a handful of attempts in the first few seconds, not a loop.
    thread::sleep(Duration::from_secs(3));
    let attempts = apache
        .error_log()
        .matches("could not start a process")
        .count();
    assert!((2..=4).contains(&attempts), "{attempts} attempts");
}

#[test]
fn a_connection_that_cannot_prove_it_comes_from_apache_is_refused_and_logged() {
    let apache = Apache::start(
        "WSGIDaemonProcess site threads=1\nWSGIScriptAlias /slow @APPS@/slow.wsgi process-group=site\n",
    );
    apache.wait_for_daemons(1);
    let socket = std::fs::read_dir(apache.root())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        // Not the application group manager's (".m.sock"): directory order
        // differs between file systems.
        .find(|p| {
            p.extension().is_some_and(|x| x == "sock") && !p.to_string_lossy().ends_with(".m.sock")
        })
        .expect("the group's socket in DefaultRuntimeDir");
    // A proof made without the secret: no request would be read after it.
    let rest = common::forged_connection(&socket);
    assert!(
        rest.is_empty(),
        "the daemon answered a forged connection: {rest:?}"
    );
    let log = apache.wait_for_log("refused a connection");
    assert!(
        log.contains("a wrong proof of origin; only this Apache's children may send requests"),
        "{log}"
    );
    // The socket is its owner's alone: Apache's user and root.
    let meta = std::fs::metadata(&socket).unwrap();
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(meta.uid(), 33);
    assert!(try_get(apache.port, "/slow").is_ok());
}

#[test]
fn a_request_waiting_longer_than_queue_timeout_is_a_504() {
    let apache = Arc::new(Apache::start(
        "WSGIDaemonProcess site threads=1 queue-timeout=1\nWSGIScriptAlias /slow @APPS@/slow.wsgi process-group=site\n",
    ));
    apache.wait_for_daemons(1);
    let port = apache.port;
    let busy = thread::spawn(move || http::get(port, "/slow?sleep=4"));
    thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    assert_eq!(apache.get("/slow").status, 504);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(busy.join().unwrap().status, 200);
    let log = apache.wait_for_log("queue-timeout");
    assert!(
        log.contains("for a thread of daemon process group 'site' (queue-timeout); answering 504"),
        "{log}"
    );
}

#[test]
fn a_request_running_longer_than_request_timeout_is_interrupted_with_504() {
    let apache = Apache::start(
        "WSGIDaemonProcess site threads=2 request-timeout=1\nWSGIScriptAlias /slow @APPS@/slow.wsgi process-group=site\n",
    );
    let started = Instant::now();
    assert_eq!(apache.get("/slow?spin=30").status, 504);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let log = apache.wait_for_log("RequestTimeout raised in it");
    assert!(log.contains("ran longer than request-timeout=1 s"), "{log}");
    assert!(try_get(apache.port, "/slow").is_ok());
}

#[test]
fn a_daemon_answering_nothing_within_socket_timeout_is_a_504() {
    let apache = Apache::start(
        "WSGIDaemonProcess site threads=2 socket-timeout=1\nWSGIScriptAlias /slow @APPS@/slow.wsgi process-group=site\n",
    );
    let started = Instant::now();
    assert_eq!(apache.get("/slow?sleep=5").status, 504);
    assert!(started.elapsed() < Duration::from_secs(4));
    let log = apache.wait_for_log("no answer within socket-timeout");
    assert!(log.contains("daemon process group 'site'"), "{log}");
}

#[test]
fn maximum_requests_recycles_the_process_without_losing_a_request() {
    let apache = Arc::new(Apache::start(
        "WSGIDaemonProcess site threads=2 maximum-requests=20\nWSGIScriptAlias /slow @APPS@/slow.wsgi process-group=site\n",
    ));
    let mut pids = std::collections::BTreeSet::new();
    let started = Instant::now();
    let mut served = 0;
    // A process asks for its replacement after 20 requests and serves on
    // until the replacement is ready: 3 s of requests see several.
    while started.elapsed() < Duration::from_secs(3) {
        let answer = try_get(apache.port, "/slow?sleep=0.005")
            .unwrap_or_else(|e| panic!("every request is served: {e}\n{}", apache.error_log()));
        pids.insert(pid_of(&answer));
        served += 1;
    }
    assert!(
        pids.len() >= 3,
        "{served} requests, pids {pids:?}\n{}",
        apache.error_log()
    );
    let log = apache.error_log();
    assert!(
        log.contains("(maximum-requests=20 reached); its replacement starts first"),
        "{log}"
    );
}

#[test]
fn graceful_restarts_under_load_fail_no_daemon_request() {
    let apache = Arc::new(Apache::start(
        "WSGIDaemonProcess site processes=2 threads=4\nWSGIScriptAlias /slow @APPS@/slow.wsgi process-group=site\n",
    ));
    apache.wait_for_daemons(2);
    let (served, failures) = under_load(&apache, "/slow?sleep=0.01", 8, || {
        for _ in 0..2 {
            thread::sleep(Duration::from_secs(2));
            // SAFETY: signalling the Apache parent the test started.
            unsafe { libc::kill(apache.parent_pid() as i32, libc::SIGUSR1) };
        }
        thread::sleep(Duration::from_secs(2));
    });
    assert!(
        failures.is_empty(),
        "{} failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(served > 200, "{served}");
    assert_eq!(
        apache.error_log().matches("Doing graceful restart").count(),
        2
    );
}

#[test]
fn stopping_apache_stops_every_daemon_and_supervisor() {
    let apache =
        Apache::start("WSGIDaemonProcess a processes=2 threads=1\nWSGIDaemonProcess b threads=1\n");
    let mut running: Vec<u32> = apache.wait_for_daemons(3).iter().map(|d| d.pid).collect();
    running.extend(apache.supervisors().iter().map(|s| s.pid));
    assert_eq!(running.len(), 5);
    // The harness's readiness probe (a connection opened and closed) is
    // accepted by a child as it starts; the event MPM's ungraceful stop can
    // crash a child in close_worker_sockets while such a connection is
    // being closed, which is Apache's, not what this test is about. Past
    // its lingering close (2 s at most) the children are idle.
    thread::sleep(Duration::from_millis(2500));
    // SAFETY: signalling the Apache parent the test started (the harness
    // would otherwise kill its whole process group at the end).
    unsafe { libc::kill(apache.parent_pid() as i32, libc::SIGTERM) };
    let gone = |pid: &u32| !std::path::Path::new(&format!("/proc/{pid}")).exists();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !running.iter().all(gone) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    assert!(
        running.iter().all(gone),
        "still running: {:?}",
        running.iter().filter(|p| !gone(p)).collect::<Vec<_>>()
    );
}

#[test]
fn a_request_in_flight_finishes_across_a_graceful_restart_longer_than_mod_wsgis_3_s() {
    let apache = Arc::new(Apache::start(
        "WSGIDaemonProcess site threads=2\nWSGIScriptAlias /slow @APPS@/slow.wsgi process-group=site\n",
    ));
    let port = apache.port;
    let slow = thread::spawn(move || try_get(port, "/slow?sleep=5"));
    thread::sleep(Duration::from_millis(500));
    // SAFETY: signalling the Apache parent the test started.
    unsafe { libc::kill(apache.parent_pid() as i32, libc::SIGUSR1) };
    assert!(slow.join().unwrap().is_ok(), "{}", apache.error_log());
    assert!(try_get(apache.port, "/slow").is_ok());
    // The old generation's supervisor is reaped as Apache's own child.
    thread::sleep(Duration::from_secs(2));
    assert!(
        !apache.error_log().contains("long lost child"),
        "{}",
        apache.error_log()
    );
}

/// Waits for a request to be answered by a process other than `old`.
fn served_by_another(apache: &Apache, path: &str, old: u32, within: Duration) -> u32 {
    let deadline = Instant::now() + within;
    loop {
        let pid = pid_of(&try_get(apache.port, path).expect("every request is served"));
        if pid != old || Instant::now() > deadline {
            return pid;
        }
        thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn restart_interval_and_inactivity_timeout_recycle_the_process() {
    for (option, why) in [
        ("restart-interval=2", "(restart-interval=2 s passed)"),
        (
            "inactivity-timeout=1",
            "(no request for inactivity-timeout=1 s)",
        ),
    ] {
        let apache = Apache::start(&format!(
            "WSGIDaemonProcess site threads=1 {option}\nWSGIScriptAlias /slow @APPS@/slow.wsgi process-group=site\n"
        ));
        let first = pid_of(&try_get(apache.port, "/slow").unwrap());
        thread::sleep(Duration::from_millis(2500));
        assert_ne!(
            served_by_another(&apache, "/slow", first, Duration::from_secs(10)),
            first,
            "{option}"
        );
        assert!(
            apache.error_log().contains(why),
            "{option}: {}",
            apache.error_log()
        );
    }
}

#[test]
fn memory_limit_recycles_a_process_once_its_resident_memory_passes_it() {
    let apache = Apache::start(
        "WSGIDaemonProcess site threads=1 memory-limit=100000000\nWSGIScriptAlias /allocate @APPS@/allocate.wsgi process-group=site\n",
    );
    let first = pid_of(&try_get(apache.port, "/allocate?1").unwrap());
    // 120 MiB, kept: over the limit of 100 MB.
    assert_eq!(
        pid_of(&try_get(apache.port, "/allocate?120").unwrap()),
        first
    );
    assert_ne!(
        served_by_another(&apache, "/allocate?1", first, Duration::from_secs(10)),
        first
    );
    assert!(
        apache
            .error_log()
            .contains("its resident memory passed memory-limit=100000000")
    );
}

#[test]
fn cpu_time_limit_recycles_a_process_that_used_its_cpu_time() {
    let apache = Apache::start(
        "WSGIDaemonProcess site threads=1 cpu-time-limit=1\nWSGIScriptAlias /slow @APPS@/slow.wsgi process-group=site\n",
    );
    // CPU time, not wall time: on a loaded machine 1.5 s of spinning can
    // be less than the limit's 1 s of CPU.
    let first = pid_of(&try_get(apache.port, "/slow?cpu=1.5").unwrap());
    assert_ne!(
        served_by_another(&apache, "/slow", first, Duration::from_secs(10)),
        first
    );
    assert!(
        apache.error_log().contains("(cpu-time-limit was reached)"),
        "{}",
        apache.error_log()
    );
}

#[test]
fn a_process_whose_gil_cannot_be_taken_ends_after_deadlock_timeout_and_is_replaced() {
    let apache = Arc::new(Apache::start(
        "WSGIDaemonProcess site threads=2 deadlock-timeout=2\n\
         WSGIApplicationGroup %{GLOBAL}\n\
         WSGIScriptAlias /hold @APPS@/gil_holder.wsgi process-group=site\n\
         WSGIScriptAlias /slow @APPS@/slow.wsgi process-group=site\n",
    ));
    let first = pid_of(&try_get(apache.port, "/slow").unwrap());
    let port = apache.port;
    let stuck = thread::spawn(move || http::get(port, "/hold?30").status);
    // The process ends once the GIL has been out of reach for 2 s; the
    // stuck request is lost with it.
    assert_eq!(stuck.join().unwrap(), 502);
    assert_ne!(
        served_by_another(&apache, "/slow", first, Duration::from_secs(10)),
        first
    );
    let log = apache.error_log();
    assert!(
        log.contains("Python's GIL could not be taken for 2 s (deadlock-timeout)"),
        "{log}"
    );
    assert!(log.contains("exited to be restarted"), "{log}");
}

#[test]
fn a_daemon_that_dies_after_its_response_began_cuts_the_response_short() {
    let apache = Apache::start(
        "WSGIDaemonProcess site threads=2\nWSGIScriptAlias /dies @APPS@/dies_after_output.wsgi process-group=site\n",
    );
    let response = apache.get("/dies");
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "first part\n");
    // The client can tell: no last chunk.
    assert!(!response.complete);
    let log = apache.wait_for_log("the response is cut short");
    assert!(log.contains("daemon process group 'site'"), "{log}");
}

#[test]
fn a_listen_queue_that_stays_full_past_connect_timeout_is_a_503() {
    let apache = Arc::new(Apache::start(
        "WSGIDaemonProcess site threads=1 listen-backlog=1 connect-timeout=1\nWSGIScriptAlias /slow @APPS@/slow.wsgi process-group=site\n",
    ));
    apache.wait_for_daemons(1);
    // The one thread busy, then the queue filled with waiting requests.
    let busy: Vec<_> = (0..4)
        .map(|_| {
            let port = apache.port;
            let handle = thread::spawn(move || http::get(port, "/slow?sleep=4").status);
            thread::sleep(Duration::from_millis(200));
            handle
        })
        .collect();
    let statuses: Vec<u16> = busy.into_iter().map(|b| b.join().unwrap()).collect();
    assert!(statuses.contains(&503), "{statuses:?}");
    let log = apache.error_log();
    assert!(
        log.contains("its listen queue stayed full for connect-timeout=1 s; answering 503"),
        "{log}"
    );
}

#[test]
fn a_script_not_owned_by_script_user_is_refused_with_403() {
    let apache = Apache::start(
        "WSGIDaemonProcess site threads=1 script-user=nobody\nWSGIScriptAlias /hello @APPS@/hello.wsgi process-group=site\n",
    );
    // The fixture apps belong to root.
    assert_eq!(apache.get("/hello").status, 403);
    let log = apache.wait_for_log("script-user of daemon process group 'site'");
    assert!(log.contains("must be owned by nobody"), "{log}");
}
