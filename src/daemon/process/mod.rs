//! A daemon process of a group: forked by the group's supervisor, it takes
//! the group's identity (user, groups, directory, umask, locale, limits),
//! starts its own Python, loads the scripts it is told to, says it is
//! ready, and serves connections while it has an idle thread. Timers
//! recycle it (maximum-requests, restart-interval, inactivity-timeout,
//! memory-limit, cpu-time-limit, a changed script) by asking the
//! supervisor for a replacement first; request-timeout interrupts a stuck
//! request, deadlock-timeout ends a process whose GIL cannot be taken.

mod serving;
mod timers;

use std::fs::File;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use pyo3::prelude::*;

use super::os;
use super::{GroupEntry, Registry};
use crate::apache::process::close_listeners;
use crate::apache::{Level, LogId};
use crate::{interpreter, wsgi};
use serving::Poller;

/// Exit statuses the supervisor reads.
pub const EXIT_SETUP_FAILED: i32 = 3;
/// The process ended itself to be started again at once (deadlock).
pub const EXIT_RESTART: i32 = 4;

/// Runs daemon process of group `index` in this freshly forked process.
pub fn run(
    registry: &Arc<Registry>,
    entry: Arc<GroupEntry>,
    status_pipe: OwnedFd,
    preload: Vec<PathBuf>,
) -> ! {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        serve(registry.clone(), entry.clone(), status_pipe, preload)
    }));
    let code = match outcome {
        Ok(code) => code,
        Err(_) => {
            entry.server.log(
                Level::Error(LogId("RW0701")),
                &format!(
                    "mod_rwsgi: daemon process group '{}' (pid {}): internal error (a panic); the process ends",
                    entry.group.name,
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
    /// Threads waiting for a request.
    idle: u32,
    in_flight: usize,
    ending: Ending,
    ending_since: Option<Instant>,
    /// The process takes no more connections or requests.
    acceptor_done: bool,
}

struct Daemon {
    registry: Arc<Registry>,
    entry: Arc<GroupEntry>,
    queue: Mutex<Queue>,
    poller: Poller,
    /// This process's slot in the group's status page, where it says how
    /// many threads are idle.
    slot: Option<usize>,
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
    /// The app's process_stopping callbacks have returned.
    stopping_told: Arc<AtomicBool>,
    /// Why the process was replaced, in mod_wsgi's words for its
    /// process_stopping event ("" when it has none).
    shutdown_reason: Mutex<&'static str>,
    /// Scripts whose change this process has already asked to be replaced
    /// for (by path and modification time): asked once per change.
    reload_asked: Mutex<Vec<(Vec<u8>, i64)>>,
}

fn entry(daemon: &Daemon) -> &GroupEntry {
    &daemon.entry
}

/// Sets the process up and serves until told to go; returns the exit code.
fn serve(
    registry: Arc<Registry>,
    entry: Arc<GroupEntry>,
    status_pipe: OwnedFd,
    preload: Vec<PathBuf>,
) -> i32 {
    let index = entry.index;
    let group = &entry.group;
    let server = entry.server;
    let name = group.name.clone();
    let pid = std::process::id();
    let fail = |why: &str| -> i32 {
        server.log(
            Level::Error(LogId("RW0702")),
            &format!("mod_rwsgi: daemon process group '{name}' (pid {pid}) could not start: {why}"),
        );
        EXIT_SETUP_FAILED
    };

    // glibc gives each thread that allocates an arena of its own, which
    // keeps what a request freed: with 15-32 request threads a busy daemon
    // held 62 MB where two arenas hold 24 MB, at the same rate (1 MiB
    // POSTs, then hello, 2 x 32 threads).
    // SAFETY: mallopt only changes the allocator's settings, before any
    // other thread exists.
    unsafe { libc::mallopt(libc::M_ARENA_MAX, 2) };

    // Signals are taken by the main thread with sigwait; every thread
    // started from here on has them blocked.
    let handled = [
        libc::SIGTERM,
        libc::SIGUSR1,
        libc::SIGHUP,
        libc::SIGINT,
        libc::SIGXCPU,
    ];
    os::reset_signals();
    os::block_signals(&handled);
    // The supervisor closed the other groups' sockets before it made the
    // descriptors it has since (closing their numbers again here could
    // close those); Apache's own listeners are closed idempotently.
    close_listeners();
    // The app's stderr (and Python's own messages) go to the ErrorLog of
    // the virtual host that defined the group.
    if let Some(fd) = server.error_log_fd() {
        // SAFETY: dup2 onto standard error of this process.
        unsafe { libc::dup2(fd, 2) };
    }
    if group.cpu_priority != 0 {
        if let Err(e) = os::set_priority(group.cpu_priority) {
            server.log(
                Level::Warning(LogId("RW0703")),
                &format!(
                    "mod_rwsgi: daemon process group '{name}': cpu-priority={} not applied: {e}",
                    group.cpu_priority
                ),
            );
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
                    Level::Warning(LogId("RW0704")),
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

    wsgi::set_process_facts(entry.facts.clone().unwrap_or_else(|| wsgi::ProcessFacts {
        multithread: group.threads > 1,
        multiprocess: group.multiprocess,
        process_group: name.clone(),
        processes: group.processes,
        threads: group.threads,
    }));
    wsgi::set_process_log(server);
    interpreter::start(
        server,
        "daemon process",
        &entry.settings,
        wsgi::prepare_process,
    );
    if let Some(interval) = group.switch_interval {
        let _ = interpreter::with_python(|py| {
            py.import("sys")
                .and_then(|sys| sys.call_method1("setswitchinterval", (interval,)).map(drop))
        });
    }
    let load_deadline = group.startup_timeout.map(|t| Instant::now() + t);
    // WSGIImportScript's scripts and a reloaded script must load for the
    // process to serve; an alias's script that fails is left to its
    // requests, which load it again (and answer 500 with the reason).
    let scripts = entry
        .imports
        .iter()
        .map(|import| (&import.script, import.required, import.directive))
        .chain(preload.iter().map(|script| (script, true, "reloading")));
    for (script, required, directive) in scripts {
        let loaded = interpreter::with_python(|py| wsgi::preload(py, script));
        let failure = match loaded {
            Ok(Ok(())) => None,
            Ok(Err(reason)) | Err(interpreter::Unavailable(reason)) => Some(reason),
        };
        match failure {
            Some(reason) if required => {
                return fail(&format!(
                    "the WSGI script '{}' failed to load.\n{reason}",
                    script.display()
                ));
            }
            Some(reason) => server.log(
                Level::Error(LogId("RW0724")),
                &format!(
                    "mod_rwsgi (pid={}): Failed to import WSGI script '{}' ({directive}); its requests will load it again.\n{reason}",
                    std::process::id(),
                    script.display()
                ),
            ),
            None => {}
        }
        if load_deadline.is_some_and(|at| Instant::now() > at) {
            return fail("loading its scripts took longer than startup-timeout");
        }
    }
    if let Err(interpreter::Unavailable(reason)) = interpreter::with_python(|_| ()) {
        return fail(&reason);
    }
    let poller = match Poller::new(entry.listener) {
        Ok(poller) => poller,
        Err(e) => return fail(&format!("no epoll: {e}")),
    };

    let daemon = Arc::new(Daemon {
        registry: registry.clone(),
        entry: entry.clone(),
        queue: Mutex::new(Queue {
            idle: 0,
            in_flight: 0,
            ending: Ending::Serving,
            ending_since: None,
            acceptor_done: false,
        }),
        poller,
        slot: registry.status.claim(index, pid),
        workers: (0..group.threads)
            .map(|_| Mutex::new(Worker { busy: None }))
            .collect(),
        status_pipe: Mutex::new(File::from(status_pipe)),
        started: Instant::now(),
        requests: AtomicU64::new(0),
        sequence: AtomicU64::new(0),
        last_activity: Mutex::new(None),
        gil_seen: Mutex::new(Instant::now()),
        replacement_asked: AtomicBool::new(false),
        evicted: AtomicBool::new(false),
        stopping_told: Arc::new(AtomicBool::new(false)),
        shutdown_reason: Mutex::new(""),
        reload_asked: Mutex::new(Vec::new()),
    });
    // Ready before the first request can arrive: a process that then dies
    // in a request is one that died serving, not one that failed to start.
    server.log(
        Level::Info,
        &format!(
            "mod_rwsgi: daemon process group '{name}' (pid {pid}): ready, {} threads, uid {uid}",
            group.threads
        ),
    );
    tell_supervisor(&daemon, "ready");
    for slot in 0..group.threads as usize {
        let daemon = daemon.clone();
        let mut builder = std::thread::Builder::new().name(format!("wsgi-{slot}"));
        if let Some(size) = group.stack_size {
            builder = builder.stack_size(size);
        }
        if let Err(e) = builder.spawn(move || serving::work(&daemon, slot)) {
            return fail(&format!("cannot start request thread {slot}: {e}"));
        }
    }
    for (name, job) in [
        ("monitor", timers::monitor as fn(&Daemon)),
        ("gil-probe", timers::probe_gil),
    ] {
        let daemon = daemon.clone();
        if let Err(e) = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || job(&daemon))
        {
            return fail(&format!("cannot start its {name} thread: {e}"));
        }
    }

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
                ask_replacement(
                    &daemon,
                    "graceful_signal",
                    "SIGUSR1 asked for a graceful restart",
                );
            }
            // The app asked for its own restart (as with mod_wsgi), or the
            // CPU time limit was reached: a replacement starts first.
            libc::SIGINT => ask_replacement(
                &daemon,
                "",
                "the application sent SIGINT to its own process",
            ),
            libc::SIGXCPU => {
                ask_replacement(&daemon, "cpu_time_limit", "cpu-time-limit was reached")
            }
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
}

fn tell_supervisor(daemon: &Daemon, line: &str) {
    let mut pipe = daemon.status_pipe.lock().unwrap_or_else(|e| e.into_inner());
    let _ = pipe.write_all(format!("{line}\n").as_bytes());
}

/// Asks the supervisor for a replacement, once: `why` for the log,
/// `reason` for the app's process_stopping event.
fn ask_replacement(daemon: &Daemon, reason: &'static str, why: &str) {
    if !daemon.replacement_asked.swap(true, Ordering::SeqCst) {
        *daemon
            .shutdown_reason
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = reason;
        tell_supervisor(daemon, &format!("replace {why}"));
    }
}
