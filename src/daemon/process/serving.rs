//! A daemon process's request threads: every idle thread waits (epoll) on
//! the group's listening socket and on the connections kept open between
//! requests; the kernel wakes one per ready connection, and that thread
//! serves the request itself, with no hand-over. A process with no idle
//! thread waits on nothing, so new connections stay in the socket's queue
//! for the group's other processes.
//!
//! A connection carries one request after another. When the process is on
//! its way out, it sends Goodbye on every idle connection and still serves
//! a request that crossed it, then closes them: no request is lost to a
//! connection closing under it.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rwsgi_wire::frame::{self, Kind};

use super::{Daemon, Ending, Queue, ask_replacement, entry, tell_supervisor};
use crate::apache::{Level, LogId, status};
use crate::daemon::socket;
use crate::daemon::transport::{Connection, DaemonExchange, Refused, read_request};
use crate::{interpreter, wsgi};

/// How long a new connection has to prove where it comes from.
const PROOF_TIMEOUT: Duration = Duration::from_secs(5);

/// How long idle connections are kept, once Goodbye is sent on them, for a
/// request that crossed it.
const GOODBYE_GRACE: Duration = Duration::from_secs(1);

/// epoll tokens: the wake-up and the listener; connections count up.
const LISTENER: u64 = 1;

/// What the leader found ready.
enum Job {
    /// A new connection: it proves itself first.
    New(UnixStream),
    /// A kept connection with (or closing before) its next request.
    Kept(Connection),
}

/// The epoll set and the connections kept between requests.
pub struct Poller {
    epoll: OwnedFd,
    kept: std::sync::Mutex<Kept>,
}

struct Kept {
    /// Each with when Goodbye was sent on it, once it was.
    connections: HashMap<u64, (Connection, Option<Instant>)>,
    next_token: u64,
    listening: bool,
    /// The process said Goodbye on its kept connections: one kept after
    /// that gets its own at once.
    leaving: bool,
    /// When the last new connection came (a draining process goes once the
    /// socket has been quiet a moment).
    last_accept: Instant,
}

impl Poller {
    pub fn new(listener: RawFd) -> std::io::Result<Self> {
        // SAFETY: a new epoll descriptor, owned here.
        let epoll = unsafe {
            let fd = libc::epoll_create1(libc::EPOLL_CLOEXEC);
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            OwnedFd::from_raw_fd(fd)
        };
        let poller = Self {
            epoll,
            kept: std::sync::Mutex::new(Kept {
                connections: HashMap::new(),
                next_token: LISTENER + 1,
                listening: false,
                leaving: false,
                last_accept: Instant::now(),
            }),
        };
        // Exclusive: a new connection wakes one process of the group.
        poller.control(
            libc::EPOLL_CTL_ADD,
            listener,
            LISTENER,
            libc::EPOLLEXCLUSIVE as u32,
        )?;
        poller.kept().listening = true;
        Ok(poller)
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn control(&self, op: libc::c_int, fd: RawFd, token: u64, flags: u32) -> std::io::Result<()> {
        let mut event = libc::epoll_event {
            events: libc::EPOLLIN as u32 | flags,
            u64: token,
        };
        // SAFETY: epoll_ctl on our epoll descriptor and a live descriptor.
        if unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), op, fd, &mut event) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    /// Keeps `connection` for its next request, unless the process takes
    /// no more (nothing would serve it: it closes, and the child connects
    /// anew). Registered once, one-shot: an event disarms it until it is
    /// kept again.
    fn keep(&self, mut connection: Connection, queue: &std::sync::Mutex<Queue>) {
        let mut kept = self.kept();
        if queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .acceptor_done
        {
            return;
        }
        let fd = connection.stream.as_raw_fd();
        let flags = (libc::EPOLLRDHUP | libc::EPOLLONESHOT) as u32;
        let registered = match connection.token {
            Some(token) => self
                .control(libc::EPOLL_CTL_MOD, fd, token, flags)
                .map(|()| token),
            None => {
                let token = kept.next_token;
                kept.next_token += 1;
                self.control(libc::EPOLL_CTL_ADD, fd, token, flags)
                    .map(|()| token)
            }
        };
        let Ok(token) = registered else {
            return;
        };
        connection.token = Some(token);
        let goodbye = kept.leaving.then(|| {
            say_goodbye(&connection);
            Instant::now()
        });
        kept.connections.insert(token, (connection, goodbye));
    }
}

/// A request thread: waits for a job and serves it, until the process goes.
pub fn work(daemon: &Daemon, slot: usize) {
    while let Some(job) = next_job(daemon) {
        let connection = match job {
            Job::New(stream) => match authenticated(daemon, stream) {
                Some(connection) => connection,
                None => {
                    finished(daemon);
                    continue;
                }
            },
            Job::Kept(connection) => connection,
        };
        // A panic (a bug of ours, said by RW0104) costs its request alone:
        // its connection closes as it unwinds (the child answers 502), and
        // this thread serves on, counted idle again.
        let served = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            serve_request(daemon, slot, connection)
        }));
        match served {
            // Kept while this request still counts as in flight, so that
            // the process cannot decide it is done between the two.
            Ok(Some(connection)) => daemon.poller.keep(connection, &daemon.queue),
            Ok(None) => {}
            Err(_) => {
                let _ = interpreter::with_python(|_| mark_busy(daemon, slot, 0, false));
            }
        }
        finished(daemon);
    }
}

/// Ends a request.
fn finished(daemon: &Daemon) {
    daemon
        .queue
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .in_flight -= 1;
}

/// Waits, with the process's other idle threads, for a job (the kernel
/// hands each ready connection to one waiting thread, which serves it
/// itself: no hand-over); None once the process takes no more.
fn next_job(daemon: &Daemon) -> Option<Job> {
    {
        let mut queue = daemon.queue.lock().unwrap_or_else(|e| e.into_inner());
        if queue.acceptor_done {
            return None;
        }
        queue.idle += 1;
        daemon.publish_idle(queue.idle);
    }
    // A job comes counted in flight (wait_for_job counts it as it takes
    // it), so that the process cannot decide it is done while a thread
    // holds a connection with a request on it.
    let job = wait_for_job(daemon);
    let mut queue = daemon.queue.lock().unwrap_or_else(|e| e.into_inner());
    queue.idle -= 1;
    daemon.publish_idle(queue.idle);
    if job.is_none() {
        queue.acceptor_done = true;
    }
    job
}

/// A new connection from the group's socket, counted in flight as it is
/// taken: the count and the accept happen under the queue's lock, which
/// the decision that the process is done also holds.
fn accept_counted(daemon: &Daemon, listener: RawFd) -> std::io::Result<Option<UnixStream>> {
    let mut queue = daemon.queue.lock().unwrap_or_else(|e| e.into_inner());
    let accepted = socket::accept(listener)?;
    if accepted.is_some() {
        queue.in_flight += 1;
    }
    Ok(accepted)
}

impl Daemon {
    /// Says in the status page how many threads wait for a request.
    fn publish_idle(&self, idle: u32) {
        if let Some(slot) = self.slot {
            self.registry.status.set_idle(self.entry.index, slot, idle);
        }
    }
}

/// An idle thread's wait: the first connection ready, or None when the
/// process is done taking them.
fn wait_for_job(daemon: &Daemon) -> Option<Job> {
    let poller = &daemon.poller;
    let listener = entry(daemon).listener;
    loop {
        let (ending, since, done) = {
            let queue = daemon.queue.lock().unwrap_or_else(|e| e.into_inner());
            (queue.ending, queue.ending_since, queue.acceptor_done)
        };
        if done {
            return None;
        }
        match leaving(daemon, ending, since) {
            Way::Serving => {}
            Way::Leaving { done } => {
                // Connections the kernel woke this process for before it
                // stopped listening: with EPOLLEXCLUSIVE it woke no other
                // process for them, so they are served here.
                if let Ok(Some(stream)) = accept_counted(daemon, listener) {
                    return Some(Job::New(stream));
                }
                if done {
                    return None;
                }
            }
        }
        let mut event = libc::epoll_event { events: 0, u64: 0 };
        // SAFETY: waits on our epoll descriptor for one event.
        let n = unsafe { libc::epoll_wait(poller.epoll.as_raw_fd(), &mut event, 1, 200) };
        if n <= 0 {
            continue;
        }
        let token = event.u64;
        if token == LISTENER {
            match accept_counted(daemon, listener) {
                Ok(Some(stream)) => {
                    poller.kept().last_accept = Instant::now();
                    return Some(Job::New(stream));
                }
                Ok(None) => continue,
                Err(e) => {
                    entry(daemon).server.log(
                        Level::Error(LogId("RW0711")),
                        &format!(
                            "mod_rwsgi: daemon process group '{}': accept failed: {e}",
                            entry(daemon).group.name
                        ),
                    );
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
            }
        }
        let mut kept = poller.kept();
        // One-shot: its registration is disarmed until it is kept again.
        // Counted in flight before the kept lock goes: the decision that
        // the process is done takes both locks, in this order.
        if let Some((connection, _)) = kept.connections.remove(&token) {
            daemon
                .queue
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .in_flight += 1;
            return Some(Job::Kept(connection));
        }
    }
}

/// Where the process is on its way out.
enum Way {
    Serving,
    /// It no longer listens; `done` once nothing is kept or in flight
    /// (then it takes nothing more).
    Leaving {
        done: bool,
    },
}

/// Handles the process's way out, as its idle threads see it: stops listening,
/// says Goodbye on kept connections and, once they are served or closed
/// (or the grace is over) and no request is in flight, is done.
fn leaving(daemon: &Daemon, ending: Ending, since: Option<Instant>) -> Way {
    let poller = &daemon.poller;
    let mut kept = poller.kept();
    let drained = match ending {
        Ending::Serving => return Way::Serving,
        // A generation ends: what is already queued for it is served, until
        // the socket has been quiet a moment.
        Ending::Draining => {
            let quiet = kept.last_accept.max(since.unwrap_or(kept.last_accept));
            quiet.elapsed() > Duration::from_secs(1)
        }
        Ending::Recycled | Ending::Stopping => true,
    };
    if !drained {
        return Way::Serving;
    }
    if kept.listening {
        kept.listening = false;
        let _ = poller.control(libc::EPOLL_CTL_DEL, entry(daemon).listener, LISTENER, 0);
    }
    kept.leaving = true;
    let now = Instant::now();
    let mut over = Vec::new();
    for (token, (connection, goodbye)) in kept.connections.iter_mut() {
        let said = *goodbye.get_or_insert_with(|| {
            say_goodbye(connection);
            now
        });
        if now.duration_since(said) > GOODBYE_GRACE {
            over.push(*token);
        }
    }
    // Closed once the grace is over: a child that had not sent a request
    // on it read Goodbye (or reads the end) and connects anew, to the
    // group's other processes.
    for token in over {
        if let Some((connection, _)) = kept.connections.remove(&token) {
            let _ = poller.control(libc::EPOLL_CTL_DEL, connection.stream.as_raw_fd(), token, 0);
        }
    }
    // Decided under both locks: a request in flight keeps its connection
    // (Poller::keep) before it stops counting.
    let mut queue = daemon.queue.lock().unwrap_or_else(|e| e.into_inner());
    let done = kept.connections.is_empty() && queue.in_flight == 0;
    queue.acceptor_done |= done;
    Way::Leaving { done }
}

fn say_goodbye(connection: &Connection) {
    let mut goodbye = Vec::new();
    frame::encode_empty(Kind::Goodbye, &mut goodbye);
    let _ = socket::write_all_vectored(&connection.stream, &[&goodbye]);
}

/// Checks a new connection's proof of origin.
fn authenticated(daemon: &Daemon, stream: UnixStream) -> Option<Connection> {
    let entry = entry(daemon);
    let _ = socket::set_timeouts(&stream, PROOF_TIMEOUT);
    let mut connection = Connection::new(stream);
    match connection.authenticate(&daemon.registry.secret) {
        Ok(()) => {
            let _ = socket::set_timeouts(&connection.stream, entry.socket_timeout());
            Some(connection)
        }
        Err(Refused::Gone) => None,
        Err(Refused::Untrusted(why)) => {
            let peer = socket::peer(&connection.stream)
                .map_or("an unknown peer".to_string(), |(pid, uid)| {
                    format!("pid {pid}, uid {uid}")
                });
            entry.server.log(
                Level::Error(LogId("RW0712")),
                &format!(
                    "mod_rwsgi: daemon process group '{}' (pid {}) refused a connection from {peer}: {why}; only this Apache's children may send requests",
                    entry.group.name,
                    std::process::id()
                ),
            );
            None
        }
    }
}

/// Serves the connection's next request; the connection back when it may
/// carry another.
fn serve_request(daemon: &Daemon, slot: usize, mut connection: Connection) -> Option<Connection> {
    let entry = entry(daemon);
    let Connection {
        stream, input, out, ..
    } = &mut connection;
    let request = match read_request(stream, input) {
        Ok(request) => request,
        Err(Refused::Gone) => return None,
        Err(Refused::Untrusted(why)) => {
            entry.server.log(
                Level::Error(LogId("RW0713")),
                &format!("mod_rwsgi: daemon process group '{}': a malformed request frame: {why}; connection closed", entry.group.name),
            );
            return None;
        }
    };
    if !request.ignore_activity {
        *daemon
            .last_activity
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    }
    let application = wsgi::Application {
        script: PathBuf::from(std::ffi::OsStr::from_bytes(request.script)),
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
    let exchange = DaemonExchange::new(stream, &request, out, entry.is_daemon_mode());
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
            entry.server.log(
                Level::Error(LogId("RW0714")),
                &format!(
                    "mod_rwsgi: cannot serve {}: {reason}",
                    application.script.display()
                ),
            );
            status::INTERNAL_SERVER_ERROR
        }
    };
    let clean = exchange.finish(status);
    if !request.ignore_activity {
        *daemon
            .last_activity
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    }
    let done = daemon.requests.fetch_add(1, Ordering::Relaxed) + 1;
    let maximum = entry.group.maximum_requests;
    if maximum > 0 && done >= maximum {
        ask_replacement(
            daemon,
            "maximum_requests",
            &format!("maximum-requests={maximum} reached"),
        );
    }
    // Kept even when the process is on its way out: it then says Goodbye
    // on it, and serves a request that crossed that.
    clean.then_some(connection)
}

/// Records the request running on this thread (under the GIL, so that the
/// monitor's interrupt can never hit the next request instead).
fn mark_busy(daemon: &Daemon, slot: usize, sequence: u64, busy: bool) {
    let mut worker = daemon.workers[slot]
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if busy {
        worker.busy = Some(super::Busy {
            since: Instant::now(),
            sequence,
            // SAFETY: called with the GIL held; returns this thread's id.
            python_thread: unsafe { pyo3::ffi::PyThread_get_thread_ident() } as u64,
            interrupted: None,
        });
    } else if let Some(busy) = worker.busy.take() {
        if busy.interrupted.is_some() {
            // An interrupt not yet delivered must not reach the next
            // request of this thread.
            // SAFETY: GIL held; a NULL exception clears a pending one.
            unsafe {
                pyo3::ffi::PyThreadState_SetAsyncExc(busy.python_thread as _, std::ptr::null_mut())
            };
        }
    }
}

/// A script whose file changed since this process loaded it: the process
/// asks for a replacement that loads the new version first (mod_wsgi
/// restarts the daemon); this request is still served by the version
/// loaded here, and one that fails to load leaves this process serving.
fn check_script_change(daemon: &Daemon, script: &[u8], mtime: i64) {
    let path = std::path::Path::new(std::ffi::OsStr::from_bytes(script));
    let Some(loaded) = wsgi::loaded_mtime(path) else {
        return;
    };
    if loaded == mtime {
        return;
    }
    let mut asked = daemon
        .reload_asked
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if asked.iter().any(|(p, m)| p == script && *m == mtime) {
        return;
    }
    asked.push((script.to_vec(), mtime));
    tell_supervisor(daemon, &format!("replace-loading {}", path.display()));
}
