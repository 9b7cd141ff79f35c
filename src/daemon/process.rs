//! A daemon process of a group: forked by the group's supervisor, it takes
//! the group's identity (user, groups, directory, umask, locale, limits),
//! starts its own Python, loads the scripts it is told to, says it is
//! ready, and serves connections while it has an idle thread. Timers
//! recycle it (maximum-requests, restart-interval, inactivity-timeout,
//! memory-limit, cpu-time-limit, a changed script) by asking the
//! supervisor for a replacement first; request-timeout interrupts a stuck
//! request, deadlock-timeout ends a process whose GIL cannot be taken.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::os;
use super::socket;
use super::transport::{Connection, DaemonExchange, Refused, read_request};
use super::{GroupEntry, Registry};
use crate::apache::process::close_listeners;
use crate::apache::{Level, status};
use crate::{interpreter, wsgi};
use pyo3::prelude::*;

/// Exit statuses the supervisor reads.
pub const EXIT_SETUP_FAILED: i32 = 3;
/// The process ended itself to be started again at once (deadlock).
pub const EXIT_RESTART: i32 = 4;

/// How long a new connection has to prove where it comes from.
const PROOF_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs daemon process of group `index` in this freshly forked process.
pub fn run(registry: &Arc<Registry>, index: usize, status_pipe: OwnedFd, preload: Vec<PathBuf>) -> ! {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        serve(registry.clone(), index, status_pipe, preload)
    }));
    let code = match outcome {
        Ok(code) => code,
        Err(_) => {
            registry.groups[index].server.log(
                Level::Error,
                &format!(
                    "mod_rwsgi: daemon process group '{}' (pid {}): internal error (a panic); the process ends",
                    registry.groups[index].group.name,
                    std::process::id()
                ),
            );
            1
        }
    };
    // SAFETY: ends the process without Apache's exit handlers or Python's
    // finalisation (other threads may still be inside the app).
    unsafe { libc::_exit(code) }
}

/// What the process has been told to do, by signals or by its timers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ending {
    Serving,
    /// Replaced: finish what is in flight (graceful-timeout), then go.
    Recycled,
    /// The generation ends: serve what is queued until the socket has been
    /// quiet a moment, then go.
    Draining,
    /// Apache stops: finish in-flight requests within shutdown-timeout.
    Stopping,
}

struct Worker {
    /// The request in progress: since when, its sequence number, and the
    /// Python thread running it (for request-timeout).
    busy: Option<Busy>,
}

#[derive(Clone, Copy)]
struct Busy {
    since: Instant,
    sequence: u64,
    python_thread: u64,
    interrupted: Option<Instant>,
}

struct Queue {
    connections: VecDeque<UnixStream>,
    idle: usize,
    in_flight: usize,
    ending: Ending,
    ending_since: Option<Instant>,
    /// The acceptor has stopped taking connections: once the queue is
    /// empty, no more will come.
    acceptor_done: bool,
}

struct Daemon {
    registry: Arc<Registry>,
    index: usize,
    queue: Mutex<Queue>,
    wake_workers: Condvar,
    wake_acceptor: Condvar,
    workers: Vec<Mutex<Worker>>,
    status_pipe: Mutex<File>,
    started: Instant,
    requests: AtomicU64,
    sequence: AtomicU64,
    last_activity: Mutex<Option<Instant>>,
    gil_seen: Mutex<Instant>,
    replacement_asked: AtomicBool,
    /// Restarted by an outside SIGUSR1: eviction-timeout bounds the drain.
    evicted: AtomicBool,
    /// Scripts whose change this process has already asked to be replaced
    /// for (by path and modification time): asked once per change.
    reload_asked: Mutex<Vec<(Vec<u8>, i64)>>,
}

fn entry(daemon: &Daemon) -> &GroupEntry {
    &daemon.registry.groups[daemon.index]
}

/// Sets the process up and serves until told to go; returns the exit code.
fn serve(registry: Arc<Registry>, index: usize, status_pipe: OwnedFd, preload: Vec<PathBuf>) -> i32 {
    let entry = &registry.groups[index];
    let group = &entry.group;
    let server = entry.server;
    let name = group.name.clone();
    let pid = std::process::id();
    let fail = |why: &str| -> i32 {
        server.log(
            Level::Error,
            &format!("mod_rwsgi: daemon process group '{name}' (pid {pid}) could not start: {why}"),
        );
        EXIT_SETUP_FAILED
    };

    // Signals are taken by the main thread with sigwait; every thread
    // started from here on has them blocked.
    let handled = [libc::SIGTERM, libc::SIGUSR1, libc::SIGHUP, libc::SIGINT, libc::SIGXCPU];
    os::reset_signals();
    os::block_signals(&handled);
    close_listeners();
    for (i, other) in registry.groups.iter().enumerate() {
        if i != index {
            // SAFETY: another group's listening socket, not ours to use.
            unsafe { libc::close(other.listener) };
        }
    }
    // The app's stderr (and Python's own messages) go to the ErrorLog of
    // the virtual host that defined the group.
    if let Some(fd) = server.error_log_fd() {
        // SAFETY: dup2 onto standard error of this process.
        unsafe { libc::dup2(fd, 2) };
    }
    if let Some(title) = group.title() {
        os::set_title(&title);
    }
    if group.cpu_priority != 0 {
        if let Err(e) = os::set_priority(group.cpu_priority) {
            server.log(Level::Warning, &format!("mod_rwsgi: daemon process group '{name}': cpu-priority={} not applied: {e}", group.cpu_priority));
        }
    }
    if let Some(limit) = group.virtual_memory_limit {
        if let Err(e) = os::set_limit(libc::RLIMIT_AS, limit, limit) {
            return fail(&format!("virtual-memory-limit={limit}: {e}"));
        }
    }
    if let Some(seconds) = group.cpu_time_limit {
        // The soft limit sends SIGXCPU (a graceful recycle); the hard one,
        // a little later, kills a process that did not go.
        let hard = seconds + 1 + group.shutdown_timeout.map_or(5, |d| d.as_secs());
        if let Err(e) = os::set_limit(libc::RLIMIT_CPU, seconds, hard) {
            return fail(&format!("cpu-time-limit={seconds}: {e}"));
        }
    }
    let (uid, _gid) = match os::drop_privileges(group, entry.apache_uid, entry.apache_gid) {
        Ok(ids) => ids,
        Err(os::SetupFailure(why)) => return fail(&why),
    };
    // home=, else (as mod_wsgi) the user's home when it is not Apache's
    // user; a user without a usable home (nobody's is /nonexistent) works
    // from /, with a warning, where mod_wsgi would not start.
    let directory = match &group.home {
        Some(home) => home.clone(),
        None => match os::home_of(uid).filter(|_| uid != entry.apache_uid) {
            Some(home) if home.is_dir() => home,
            Some(home) => {
                server.log(
                    Level::Warning,
                    &format!("mod_rwsgi: daemon process group '{name}': the home directory {} of uid {uid} does not exist; working from / (set home= to choose)", home.display()),
                );
                PathBuf::from("/")
            }
            None => PathBuf::from("/"),
        },
    };
    if let Err(os::SetupFailure(why)) = os::change_directory(&directory) {
        return fail(&why);
    }
    if let Some(mask) = group.umask {
        os::set_umask(mask);
    }
    if let Err(why) = os::set_locale(group) {
        return fail(&why);
    }

    wsgi::set_process_facts(wsgi::ProcessFacts {
        multithread: group.threads > 1,
        multiprocess: group.multiprocess,
        process_group: name.clone(),
    });
    wsgi::set_process_log(server);
    interpreter::start(server, "daemon process", &entry.settings, wsgi::redirect_standard_streams);
    if let Some(interval) = group.switch_interval {
        let _ = interpreter::with_python(|py| {
            py.import("sys").and_then(|sys| sys.call_method1("setswitchinterval", (interval,)).map(drop))
        });
    }
    let load_deadline = group.startup_timeout.map(|t| Instant::now() + t);
    for script in entry.imports.iter().chain(&preload) {
        let loaded = interpreter::with_python(|py| wsgi::preload(py, script));
        let failure = match loaded {
            Ok(Ok(())) => None,
            Ok(Err(reason)) | Err(interpreter::Unavailable(reason)) => Some(reason),
        };
        if let Some(reason) = failure {
            return fail(&format!("the WSGI script '{}' failed to load.\n{reason}", script.display()));
        }
        if load_deadline.is_some_and(|at| Instant::now() > at) {
            return fail("loading its scripts took longer than startup-timeout");
        }
    }
    if let Err(interpreter::Unavailable(reason)) = interpreter::with_python(|_| ()) {
        return fail(&reason);
    }

    let daemon = Arc::new(Daemon {
        registry: registry.clone(),
        index,
        queue: Mutex::new(Queue {
            connections: VecDeque::new(),
            idle: 0,
            in_flight: 0,
            ending: Ending::Serving,
            ending_since: None,
            acceptor_done: false,
        }),
        wake_workers: Condvar::new(),
        wake_acceptor: Condvar::new(),
        workers: (0..group.threads).map(|_| Mutex::new(Worker { busy: None })).collect(),
        status_pipe: Mutex::new(File::from(status_pipe)),
        started: Instant::now(),
        requests: AtomicU64::new(0),
        sequence: AtomicU64::new(0),
        last_activity: Mutex::new(None),
        gil_seen: Mutex::new(Instant::now()),
        replacement_asked: AtomicBool::new(false),
        evicted: AtomicBool::new(false),
        reload_asked: Mutex::new(Vec::new()),
    });
    for slot in 0..group.threads as usize {
        let daemon = daemon.clone();
        let mut builder = std::thread::Builder::new().name(format!("wsgi-{slot}"));
        if let Some(size) = group.stack_size {
            builder = builder.stack_size(size);
        }
        if let Err(e) = builder.spawn(move || work(&daemon, slot)) {
            return fail(&format!("cannot start request thread {slot}: {e}"));
        }
    }
    for (name, job) in [
        ("acceptor", accept_loop as fn(&Daemon)),
        ("monitor", monitor),
        ("gil-probe", probe_gil),
    ] {
        let daemon = daemon.clone();
        if let Err(e) = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || job(&daemon))
        {
            return fail(&format!("cannot start its {name} thread: {e}"));
        }
    }
    server.log(
        Level::Info,
        &format!(
            "mod_rwsgi: daemon process group '{name}' (pid {pid}): ready, {} threads, uid {uid}",
            group.threads
        ),
    );
    tell_supervisor(&daemon, "ready");

    // SAFETY: getppid only reads.
    let supervisor = unsafe { libc::getppid() };
    loop {
        let (signal, sender) = os::wait_signal(&handled);
        match signal {
            libc::SIGTERM => end(&daemon, Ending::Stopping),
            libc::SIGHUP => end(&daemon, Ending::Draining),
            // From the supervisor: this process has been replaced.
            libc::SIGUSR1 if sender == supervisor => end(&daemon, Ending::Recycled),
            // From anyone else (an administrator, as mod_wsgi documents):
            // a graceful restart, with eviction-timeout to finish in.
            libc::SIGUSR1 => {
                daemon.evicted.store(true, Ordering::SeqCst);
                ask_replacement(&daemon, "SIGUSR1 asked for a graceful restart");
            }
            // The app asked for its own restart (as with mod_wsgi), or the
            // CPU time limit was reached: a replacement starts first.
            libc::SIGINT => ask_replacement(&daemon, "the application sent SIGINT to its own process"),
            libc::SIGXCPU => ask_replacement(&daemon, "cpu-time-limit was reached"),
            _ => {}
        }
    }
}

fn end(daemon: &Daemon, ending: Ending) {
    let mut queue = daemon.queue.lock().unwrap_or_else(|e| e.into_inner());
    // Stopping wins over draining and recycling.
    if queue.ending == Ending::Serving || ending == Ending::Stopping {
        queue.ending = ending;
        queue.ending_since = Some(Instant::now());
    }
    daemon.wake_acceptor.notify_all();
    daemon.wake_workers.notify_all();
}

fn tell_supervisor(daemon: &Daemon, line: &str) {
    let mut pipe = daemon.status_pipe.lock().unwrap_or_else(|e| e.into_inner());
    let _ = pipe.write_all(format!("{line}\n").as_bytes());
}

fn ask_replacement(daemon: &Daemon, why: &str) {
    if !daemon.replacement_asked.swap(true, Ordering::SeqCst) {
        tell_supervisor(daemon, &format!("replace {why}"));
    }
}

/// Takes connections while a thread is idle, so that a busy process leaves
/// them in the shared queue for the group's other processes.
fn accept_loop(daemon: &Daemon) {
    take_connections(daemon);
    let mut queue = daemon.queue.lock().unwrap_or_else(|e| e.into_inner());
    queue.acceptor_done = true;
    daemon.wake_workers.notify_all();
}

fn take_connections(daemon: &Daemon) {
    let listener = entry(daemon).listener;
    let mut quiet_since: Option<Instant> = None;
    loop {
        {
            let mut queue = daemon.queue.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                match queue.ending {
                    Ending::Recycled | Ending::Stopping => return,
                    Ending::Draining | Ending::Serving if queue.idle > queue.connections.len() => break,
                    _ => {}
                }
                queue = daemon
                    .wake_acceptor
                    .wait_timeout(queue, Duration::from_millis(500))
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
        }
        let mut poll = libc::pollfd {
            fd: listener,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: polls the listening socket, which stays open.
        unsafe { libc::poll(&mut poll, 1, 200) };
        let ending = daemon.queue.lock().unwrap_or_else(|e| e.into_inner()).ending;
        if matches!(ending, Ending::Recycled | Ending::Stopping) {
            // Told to go while waiting: what is queued in the socket is for
            // the group's other processes.
            return;
        }
        match socket::accept(listener) {
            Ok(Some(stream)) => {
                quiet_since = None;
                let mut queue = daemon.queue.lock().unwrap_or_else(|e| e.into_inner());
                queue.connections.push_back(stream);
                daemon.wake_workers.notify_one();
            }
            Ok(None) => {
                let draining = daemon.queue.lock().unwrap_or_else(|e| e.into_inner()).ending
                    == Ending::Draining;
                if draining {
                    let since = *quiet_since.get_or_insert_with(Instant::now);
                    if since.elapsed() > Duration::from_secs(1) {
                        // Nothing more is coming this generation's way.
                        let mut queue = daemon.queue.lock().unwrap_or_else(|e| e.into_inner());
                        queue.ending = Ending::Recycled;
                        daemon.wake_workers.notify_all();
                        return;
                    }
                }
            }
            Err(e) => {
                entry(daemon).server.log(
                    Level::Error,
                    &format!("mod_rwsgi: daemon process group '{}': accept failed: {e}", entry(daemon).group.name),
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

fn work(daemon: &Daemon, slot: usize) {
    loop {
        let stream = {
            let mut queue = daemon.queue.lock().unwrap_or_else(|e| e.into_inner());
            queue.idle += 1;
            daemon.wake_acceptor.notify_one();
            let stream = loop {
                if let Some(stream) = queue.connections.pop_front() {
                    break stream;
                }
                // A connection the acceptor took is served even when the
                // process is on its way out.
                if queue.acceptor_done
                    && queue.ending != Ending::Serving
                    && queue.ending != Ending::Draining
                {
                    queue.idle -= 1;
                    return;
                }
                queue = daemon.wake_workers.wait(queue).unwrap_or_else(|e| e.into_inner());
            };
            queue.idle -= 1;
            queue.in_flight += 1;
            stream
        };
        serve_connection(daemon, slot, stream);
        let mut queue = daemon.queue.lock().unwrap_or_else(|e| e.into_inner());
        queue.in_flight -= 1;
        daemon.wake_workers.notify_all();
    }
}

fn serve_connection(daemon: &Daemon, slot: usize, stream: UnixStream) {
    let entry = entry(daemon);
    let _ = socket::set_timeouts(&stream, PROOF_TIMEOUT);
    let mut connection = Connection::new(stream);
    if let Err(refused) = connection.authenticate(&daemon.registry.secret) {
        if let Refused::Untrusted(why) = refused {
            let peer = socket::peer(&connection.stream)
                .map_or("an unknown peer".to_string(), |(pid, uid)| format!("pid {pid}, uid {uid}"));
            entry.server.log(
                Level::Error,
                &format!(
                    "mod_rwsgi: daemon process group '{}' (pid {}) refused a connection from {peer}: {why}; only this Apache's children may send requests",
                    entry.group.name,
                    std::process::id()
                ),
            );
        }
        return;
    }
    let _ = socket::set_timeouts(&connection.stream, entry.socket_timeout());
    let Connection { stream, request, out } = &mut connection;
    let request = match read_request(stream, request) {
        Ok(request) => request,
        Err(Refused::Gone) => return,
        Err(Refused::Untrusted(why)) => {
            entry.server.log(
                Level::Error,
                &format!("mod_rwsgi: daemon process group '{}': a malformed request frame: {why}; connection closed", entry.group.name),
            );
            return;
        }
    };
    if !request.ignore_activity {
        *daemon.last_activity.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    }
    let application = wsgi::Application {
        script: PathBuf::from(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(request.script)),
        callable: String::from_utf8_lossy(request.callable).into_owned(),
        mtime: request.mtime,
        application_group: request.application_group.to_vec(),
        // In a daemon, a changed script restarts the process (below),
        // as mod_wsgi does: the module is never executed twice here.
        reload: false,
        sendfile: request.sendfile,
        error_override: request.error_override,
        forwarded_https: request.forwarded_https,
    };
    if request.reload {
        check_script_change(daemon, request.script, request.mtime);
    }
    let exchange = DaemonExchange::new(stream, &request, out);
    let sequence = daemon.sequence.fetch_add(1, Ordering::Relaxed);
    let served = interpreter::with_python(|py| {
        mark_busy(daemon, slot, sequence, true);
        let served = wsgi::serve(py, &exchange, &application);
        mark_busy(daemon, slot, sequence, false);
        served
    });
    let status = match served {
        Ok(served) => {
            if let Some(deferred) = served.deferred {
                deferred.send(&exchange);
            }
            served.status
        }
        Err(interpreter::Unavailable(reason)) => {
            entry.server.log(Level::Error, &format!("mod_rwsgi: cannot serve {}: {reason}", application.script.display()));
            status::INTERNAL_SERVER_ERROR
        }
    };
    exchange.finish(status);
    if !request.ignore_activity {
        *daemon.last_activity.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    }
    let done = daemon.requests.fetch_add(1, Ordering::Relaxed) + 1;
    let maximum = entry.group.maximum_requests;
    if maximum > 0 && done >= maximum {
        ask_replacement(daemon, &format!("maximum-requests={maximum} reached"));
    }
}

/// Records the request running on this thread (under the GIL, so that the
/// monitor's interrupt can never hit the next request instead).
fn mark_busy(daemon: &Daemon, slot: usize, sequence: u64, busy: bool) {
    let mut worker = daemon.workers[slot].lock().unwrap_or_else(|e| e.into_inner());
    if busy {
        worker.busy = Some(Busy {
            since: Instant::now(),
            sequence,
            // SAFETY: called with the GIL held; returns this thread's id.
            python_thread: unsafe { pyo3::ffi::PyThread_get_thread_ident() } as u64,
            interrupted: None,
        });
    } else {
        if let Some(busy) = worker.busy.take() {
            if busy.interrupted.is_some() {
                // An interrupt not yet delivered must not reach the next
                // request of this thread.
                // SAFETY: GIL held; a NULL exception clears a pending one.
                unsafe { pyo3::ffi::PyThreadState_SetAsyncExc(busy.python_thread as _, std::ptr::null_mut()) };
            }
        }
    }
}

/// A script whose file changed since this process loaded it: the process
/// asks for a replacement that loads the new version first (mod_wsgi
/// restarts the daemon); this request is still served by the version
/// loaded here, and one that fails to load leaves this process serving.
fn check_script_change(daemon: &Daemon, script: &[u8], mtime: i64) {
    let path = std::path::Path::new(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(script));
    let Some(loaded) = wsgi::loaded_mtime(path) else {
        return;
    };
    if loaded == mtime {
        return;
    }
    let mut asked = daemon.reload_asked.lock().unwrap_or_else(|e| e.into_inner());
    if asked.iter().any(|(p, m)| p == script && *m == mtime) {
        return;
    }
    asked.push((script.to_vec(), mtime));
    tell_supervisor(daemon, &format!("replace-loading {}", path.display()));
}

/// Timers: request-timeout, inactivity-timeout, restart-interval,
/// memory-limit, deadlock-timeout, and the end of a drain.
fn monitor(daemon: &Daemon) {
    let entry = entry(daemon);
    let group = &entry.group;
    let name = &group.name;
    loop {
        std::thread::sleep(Duration::from_millis(250));
        let now = Instant::now();
        let (ending, since, in_flight, queued, accepting) = {
            let queue = daemon.queue.lock().unwrap_or_else(|e| e.into_inner());
            (
                queue.ending,
                queue.ending_since,
                queue.in_flight,
                queue.connections.len(),
                !queue.acceptor_done,
            )
        };
        if ending != Ending::Serving {
            let graceful = group.graceful_timeout.unwrap_or(Duration::from_secs(15));
            let patience = match ending {
                Ending::Stopping => group.shutdown_timeout.unwrap_or(Duration::from_secs(5)),
                _ if daemon.evicted.load(Ordering::SeqCst) => group.eviction_timeout.unwrap_or(graceful),
                _ => graceful,
            };
            let idle = in_flight == 0 && queued == 0;
            if (idle && !accepting) || since.is_some_and(|s| now.duration_since(s) > patience) {
                if !idle {
                    entry.server.log(
                        Level::Warning,
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
                ask_replacement(daemon, &format!("restart-interval={} s passed", interval.as_secs()));
            }
        }
        if let Some(timeout) = group.inactivity_timeout {
            let last = *daemon.last_activity.lock().unwrap_or_else(|e| e.into_inner());
            if last.is_some_and(|last| now.duration_since(last) > timeout) && in_flight == 0 {
                ask_replacement(daemon, &format!("no request for inactivity-timeout={} s", timeout.as_secs()));
            }
        }
        if let Some(limit) = group.memory_limit {
            if os::resident_bytes().is_some_and(|rss| rss > limit) {
                ask_replacement(daemon, &format!("its resident memory passed memory-limit={limit}"));
            }
        }
        if let Some(timeout) = group.deadlock_timeout {
            let seen = *daemon.gil_seen.lock().unwrap_or_else(|e| e.into_inner());
            if now.duration_since(seen) > timeout {
                entry.server.log(
                    Level::Error,
                    &format!("mod_rwsgi: daemon process group '{name}' (pid {}): Python's GIL could not be taken for {} s (deadlock-timeout); the process ends and is started again", std::process::id(), timeout.as_secs()),
                );
                // SAFETY: ends the process; see run().
                unsafe { libc::_exit(EXIT_RESTART) };
            }
        }
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
                    let mut worker = daemon.workers[slot].lock().unwrap_or_else(|e| e.into_inner());
                    // Still the same request (checked under the GIL, which
                    // the request thread holds while it changes this).
                    if let Some(current) = worker.busy.as_mut().filter(|b| b.sequence == busy.sequence) {
                        current.interrupted = Some(now);
                        let kind = py.get_type::<wsgi::RequestTimeout>();
                        // SAFETY: GIL held; the thread id is a live Python
                        // thread's (the request's); the type is a new
                        // reference-free borrow for the call.
                        unsafe { pyo3::ffi::PyThreadState_SetAsyncExc(busy.python_thread as _, kind.as_ptr()) };
                    }
                });
                entry(daemon).server.log(
                    Level::Error,
                    &format!("mod_rwsgi: daemon process group '{}' (pid {}): a request ran longer than request-timeout={} s; RequestTimeout raised in it", group.name, std::process::id(), timeout.as_secs()),
                );
            }
            Some(at) if now.duration_since(at) > grace => {
                ask_replacement(daemon, "a request did not stop after request-timeout");
            }
            _ => {}
        }
    }
}

/// Takes the GIL once a second, so the monitor can tell when it cannot be.
fn probe_gil(daemon: &Daemon) {
    loop {
        std::thread::sleep(Duration::from_secs(1));
        if interpreter::with_python(|_| ()).is_ok() {
            *daemon.gil_seen.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        }
    }
}

