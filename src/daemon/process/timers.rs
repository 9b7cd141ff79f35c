//! A daemon process's timers: the end of a drain, request-timeout,
//! restart-interval, inactivity-timeout, memory-limit, deadlock-timeout.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::{Daemon, EXIT_RESTART, Ending, ask_replacement, entry};
use crate::apache::{Level, LogId};
use crate::daemon::os;
use crate::{interpreter, wsgi};

/// Timers: request-timeout, inactivity-timeout, restart-interval,
/// memory-limit, deadlock-timeout, and the end of a drain.
pub fn monitor(daemon: &Daemon) {
    let entry = entry(daemon);
    let group = &entry.group;
    let name = &group.name;
    let mut stopping_announced = false;
    loop {
        std::thread::sleep(Duration::from_millis(250));
        let now = Instant::now();
        let (ending, since, in_flight, accepting) = {
            let queue = daemon.queue.lock().unwrap_or_else(|e| e.into_inner());
            (
                queue.ending,
                queue.ending_since,
                queue.in_flight,
                !queue.acceptor_done,
            )
        };
        if ending != Ending::Serving {
            if !stopping_announced {
                stopping_announced = true;
                announce_stopping(daemon);
            }
            let told = daemon.stopping_told.load(Ordering::SeqCst);
            let graceful = group.graceful_timeout.unwrap_or(Duration::from_secs(15));
            let patience = match ending {
                Ending::Stopping => group.shutdown_timeout.unwrap_or(Duration::from_secs(5)),
                _ if daemon.evicted.load(Ordering::SeqCst) => {
                    group.eviction_timeout.unwrap_or(graceful)
                }
                _ => graceful,
            };
            let idle = in_flight == 0;
            if (idle && !accepting && told)
                || since.is_some_and(|s| now.duration_since(s) > patience)
            {
                if !idle {
                    entry.server.log(
                        Level::Warning(LogId("RW0721")),
                        &format!("mod_rwsgi: daemon process group '{name}' (pid {}): {in_flight} requests still running after {} s; the process ends", std::process::id(), patience.as_secs()),
                    );
                }
                // SAFETY: ends the process; see run().
                unsafe { libc::_exit(0) };
            }
            continue;
        }
        if let Some(timeout) = group.request_timeout {
            interrupt_stuck(daemon, timeout, now);
        }
        if let Some(interval) = group.restart_interval {
            if now.duration_since(daemon.started) > interval {
                ask_replacement(
                    daemon,
                    "restart_interval",
                    &format!("restart-interval={} s passed", interval.as_secs()),
                );
            }
        }
        if let Some(timeout) = group.inactivity_timeout {
            let last = *daemon
                .last_activity
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if last.is_some_and(|last| now.duration_since(last) > timeout) && in_flight == 0 {
                ask_replacement(
                    daemon,
                    "inactivity_timeout",
                    &format!("no request for inactivity-timeout={} s", timeout.as_secs()),
                );
            }
        }
        if let Some(limit) = group.memory_limit {
            if os::resident_bytes().is_some_and(|rss| rss > limit) {
                ask_replacement(
                    daemon,
                    "memory_limit",
                    &format!("its resident memory passed memory-limit={limit}"),
                );
            }
        }
        if let Some(timeout) = group.deadlock_timeout {
            let seen = *daemon.gil_seen.lock().unwrap_or_else(|e| e.into_inner());
            if now.duration_since(seen) > timeout {
                entry.server.log(
                    Level::Error(LogId("RW0722")),
                    &format!("mod_rwsgi: daemon process group '{name}' (pid {}): Python's GIL could not be taken for {} s (deadlock-timeout); the process ends and is started again", std::process::id(), timeout.as_secs()),
                );
                // SAFETY: ends the process; see run().
                unsafe { libc::_exit(EXIT_RESTART) };
            }
        }
    }
}

/// Runs the app's process_stopping callbacks (mod_wsgi's events and
/// shutdown callbacks) on a thread of their own, so that one that hangs
/// cannot keep the process past its shutdown deadline.
fn announce_stopping(daemon: &Daemon) {
    let reason = *daemon
        .shutdown_reason
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let told = daemon.stopping_told.clone();
    let announcing = std::thread::Builder::new()
        .name("stopping".into())
        .spawn(move || {
            let _ = interpreter::with_python(|py| wsgi::process_stopping(py, reason));
            told.store(true, Ordering::SeqCst);
        });
    if announcing.is_err() {
        daemon.stopping_told.store(true, Ordering::SeqCst);
    }
}

/// Raises RequestTimeout in each request running longer than `timeout`;
/// one that does not unwind within interrupt-timeout (5 s unset) has its
/// process recycled.
fn interrupt_stuck(daemon: &Daemon, timeout: Duration, now: Instant) {
    let group = &entry(daemon).group;
    let grace = group.interrupt_timeout.unwrap_or(Duration::from_secs(5));
    for (slot, worker) in daemon.workers.iter().enumerate() {
        let busy = worker.lock().unwrap_or_else(|e| e.into_inner()).busy;
        let Some(busy) = busy else { continue };
        match busy.interrupted {
            None if now.duration_since(busy.since) > timeout => {
                let _ = interpreter::with_python(|py| {
                    let mut worker = daemon.workers[slot]
                        .lock()
                        .unwrap_or_else(|e| e.into_inner());
                    // Still the same request (checked under the GIL, which
                    // the request thread holds while it changes this).
                    if let Some(current) =
                        worker.busy.as_mut().filter(|b| b.sequence == busy.sequence)
                    {
                        current.interrupted = Some(now);
                        let kind = py.get_type::<wsgi::RequestTimeout>();
                        // SAFETY: GIL held; the thread id is a live Python
                        // thread's (the request's); the type is a new
                        // reference-free borrow for the call.
                        unsafe {
                            pyo3::ffi::PyThreadState_SetAsyncExc(
                                busy.python_thread as _,
                                kind.as_ptr(),
                            )
                        };
                    }
                });
                entry(daemon).server.log(
                    Level::Error(LogId("RW0723")),
                    &format!("mod_rwsgi: daemon process group '{}' (pid {}): a request ran longer than request-timeout={} s; RequestTimeout raised in it", group.name, std::process::id(), timeout.as_secs()),
                );
            }
            Some(at) if now.duration_since(at) > grace => {
                ask_replacement(
                    daemon,
                    "request_timeout",
                    "a request did not stop after request-timeout",
                );
            }
            _ => {}
        }
    }
}

/// Takes the GIL once a second, so the monitor can tell when it cannot be.
pub fn probe_gil(daemon: &Daemon) {
    loop {
        std::thread::sleep(Duration::from_secs(1));
        if interpreter::with_python(|_| ()).is_ok() {
            *daemon.gil_seen.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        }
    }
}
