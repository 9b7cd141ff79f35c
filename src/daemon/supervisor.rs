//! A group's supervisor: a process forked from Apache's parent (still
//! root, with no Python) that keeps the group's daemon processes running.
//!
//! - It starts `processes` daemons, each with a status pipe on which the
//!   daemon says when it is ready, and when it wants to be replaced
//!   (maximum-requests, a changed script, memory-limit, ...).
//! - A replacement is started first; only once it is ready is the old
//!   process told to finish what it serves and go, so no request waits
//!   for a process to start and none is cut.
//! - A daemon that dies is logged with its signal or exit status and
//!   replaced at once; one that fails to start is retried after a delay
//!   that doubles (1 s to 60 s), and while none is ready the status page
//!   says so, so requests are answered 503 at once.
//! - SIGHUP (the configuration generation ends: Apache restarts
//!   gracefully): every daemon drains and goes, then the supervisor.
//!   SIGTERM (Apache stops): every daemon stops within shutdown-timeout.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::os;
use super::process::{self, EXIT_RESTART, EXIT_SETUP_FAILED};
use super::{GroupEntry, Registry};
use crate::apache::process::close_listeners;
use crate::apache::{Level, LogId};

/// A status line from a daemon longer than this is not one of ours.
const MAX_LINE: usize = 4096;

/// Forks the supervisor of `entry`, which closes the other groups'
/// listening sockets `others`; returns its pid.
pub fn spawn(
    registry: &Arc<Registry>,
    entry: Arc<GroupEntry>,
    others: &[RawFd],
) -> std::io::Result<i32> {
    // SAFETY: getpid only reads.
    let parent = unsafe { libc::getpid() };
    // SAFETY: Apache's parent is single-threaded; the child runs only our
    // code from here and never returns into Apache's.
    match unsafe { libc::fork() } {
        -1 => Err(std::io::Error::last_os_error()),
        0 => {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                Supervisor::new(registry.clone(), entry.clone(), others, parent).run()
            }));
            if outcome.is_err() {
                entry.server.log(
                    Level::Error(LogId("RW0611")),
                    &format!(
                        "mod_rwsgi: the supervisor of daemon process group '{}' failed (a panic); Apache's parent starts another",
                        entry.group.name
                    ),
                );
            }
            // SAFETY: ends this process without running the parent's exit
            // handlers (Apache's), which are not ours to run.
            unsafe { libc::_exit(if outcome.is_ok() { 0 } else { 1 }) }
        }
        pid => Ok(pid),
    }
}

/// How a process ended, in words: "killed by signal 9 (SIGKILL)",
/// "exit status 3".
pub fn describe_status(status: libc::c_int) -> String {
    if libc::WIFSIGNALED(status) {
        let signal = libc::WTERMSIG(status);
        // SAFETY: strsignal returns a static description (or NULL).
        let name = unsafe { libc::strsignal(signal) };
        let name = if name.is_null() {
            String::new()
        } else {
            // SAFETY: a NUL-terminated static string.
            let name = unsafe { std::ffi::CStr::from_ptr(name) };
            format!(" ({})", name.to_string_lossy())
        };
        let core = if libc::WCOREDUMP(status) {
            ", core dumped"
        } else {
            ""
        };
        format!("killed by signal {signal}{name}{core}")
    } else if libc::WIFEXITED(status) {
        format!("exit status {}", libc::WEXITSTATUS(status))
    } else {
        format!("wait status {status}")
    }
}

/// A daemon process of the group, as the supervisor knows it.
struct Daemon {
    pid: i32,
    status_pipe: OwnedFd,
    /// The daemon has closed its end (it is on its way out).
    pipe_closed: bool,
    pending: Vec<u8>,
    started: Instant,
    ready: bool,
    /// Told to finish and go (it has been replaced, or the group stops).
    leaving: bool,
    /// The slot it serves.
    slot: usize,
    /// Started to replace the slot's process once it is ready.
    replacement: bool,
}

struct Slot {
    /// Consecutive failed starts.
    failures: u32,
    /// When to try again after failures.
    retry_at: Option<Instant>,
    /// A replacement asked for and not yet started (waiting out a delay).
    wanted_replacement: Option<Vec<PathBuf>>,
}

#[derive(PartialEq, Eq)]
enum Ending {
    Running,
    /// SIGHUP: drain and go.
    Draining(Instant),
    /// SIGTERM: stop now (within shutdown-timeout).
    Stopping(Instant),
}

struct Supervisor {
    registry: Arc<Registry>,
    entry: Arc<GroupEntry>,
    daemons: Vec<Daemon>,
    slots: Vec<Slot>,
    signals: OwnedFd,
    ending: Ending,
    /// Apache's command line, for daemons without a display-name.
    command_line: String,
}

impl Supervisor {
    fn new(
        registry: Arc<Registry>,
        entry: Arc<GroupEntry>,
        others: &[RawFd],
        apache: libc::pid_t,
    ) -> Self {
        os::reset_signals();
        if !os::die_with_parent(apache, libc::SIGTERM) {
            // SAFETY: Apache's parent is gone already; nothing to supervise.
            unsafe { libc::_exit(0) };
        }
        close_listeners();
        for &other in others {
            // SAFETY: another group's listening socket, inherited from
            // Apache's parent and not ours to use.
            unsafe { libc::close(other) };
        }
        let command_line = os::command_line();
        os::set_title(&format!(
            "{} supervisor",
            entry
                .group
                .title()
                .unwrap_or_else(|| format!("(wsgi:{})", entry.group.name))
        ));
        let watched = [libc::SIGCHLD, libc::SIGTERM, libc::SIGHUP, libc::SIGINT];
        os::block_signals(&watched);
        let signals = os::signal_fd(&watched);
        let slots = (0..entry.group.processes)
            .map(|_| Slot {
                failures: 0,
                retry_at: None,
                wanted_replacement: None,
            })
            .collect();
        Self {
            registry,
            entry,
            daemons: Vec::new(),
            slots,
            signals,
            ending: Ending::Running,
            command_line,
        }
    }

    fn entry(&self) -> &GroupEntry {
        &self.entry
    }

    fn log(&self, level: Level, message: &str) {
        self.entry().server.log(level, message);
    }

    fn run(mut self) {
        for slot in 0..self.slots.len() {
            self.start(slot, Vec::new(), false);
        }
        loop {
            self.update_status();
            if self.ending != Ending::Running && self.daemons.is_empty() {
                break;
            }
            let timeout = self.next_timeout();
            let mut fds: Vec<libc::pollfd> = std::iter::once(self.signals.as_raw_fd())
                // A negative descriptor is skipped by poll.
                .chain(self.daemons.iter().map(|d| {
                    if d.pipe_closed {
                        -1
                    } else {
                        d.status_pipe.as_raw_fd()
                    }
                }))
                .map(|fd| libc::pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                })
                .collect();
            let millis = timeout.as_millis().min(1000) as libc::c_int;
            // SAFETY: polls the descriptors above, which stay open meanwhile.
            unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, millis) };
            if fds[0].revents != 0 {
                self.take_signals();
            }
            let readable: Vec<i32> = fds[1..]
                .iter()
                .filter(|fd| fd.revents != 0)
                .map(|fd| fd.fd)
                .collect();
            for fd in readable {
                self.read_status(fd);
            }
            self.reap();
            self.on_timers();
        }
        if self.entry.socket.exists()
            && matches!(self.ending, Ending::Draining(_) | Ending::Stopping(_))
            && self.rotates()
        {
            // A path of this generation only: the next one binds its own.
            let _ = std::fs::remove_file(&self.entry().socket);
        }
    }

    fn rotates(&self) -> bool {
        self.entry()
            .socket
            .file_name()
            .is_some_and(|name| !name.to_string_lossy().contains(".u"))
    }

    fn next_timeout(&self) -> Duration {
        let now = Instant::now();
        let mut next = Duration::from_secs(1);
        for slot in &self.slots {
            if let Some(at) = slot.retry_at {
                next = next.min(at.saturating_duration_since(now));
            }
        }
        next
    }

    /// Forks a daemon process for `slot`; it loads `preload` before it says
    /// it is ready.
    fn start(&mut self, slot: usize, preload: Vec<PathBuf>, replacement: bool) {
        if self.ending != Ending::Running {
            return;
        }
        let mut pipe = [0 as RawFd; 2];
        // SAFETY: pipe2 writes two new descriptors into the array.
        if unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            self.failed_start(
                slot,
                &format!("no pipe: {}", std::io::Error::last_os_error()),
            );
            return;
        }
        // SAFETY: both descriptors are new and owned here.
        let (read_end, write_end) =
            unsafe { (OwnedFd::from_raw_fd(pipe[0]), OwnedFd::from_raw_fd(pipe[1])) };
        // SAFETY: the supervisor is single-threaded; the child runs the
        // daemon and never returns.
        match unsafe { libc::fork() } {
            -1 => {
                let error = std::io::Error::last_os_error();
                self.failed_start(slot, &format!("fork failed: {error}"));
            }
            0 => {
                drop(read_end);
                for daemon in &self.daemons {
                    // SAFETY: the other daemons' pipes are not this one's.
                    unsafe { libc::close(daemon.status_pipe.as_raw_fd()) };
                }
                // SAFETY: the signalfd is the supervisor's only.
                unsafe { libc::close(self.signals.as_raw_fd()) };
                // It shows its own title, or Apache's command line as
                // mod_wsgi's daemons do, not this supervisor's.
                let title = self
                    .entry()
                    .group
                    .title()
                    .unwrap_or_else(|| self.command_line.clone());
                os::set_title(&title);
                process::run(&self.registry, self.entry.clone(), write_end, preload)
            }
            pid => {
                drop(write_end);
                self.daemons.push(Daemon {
                    pid,
                    status_pipe: read_end,
                    pipe_closed: false,
                    pending: Vec::new(),
                    started: Instant::now(),
                    ready: false,
                    leaving: false,
                    slot,
                    replacement,
                });
            }
        }
    }

    fn failed_start(&mut self, slot: usize, why: &str) {
        let delay = {
            let slot = &mut self.slots[slot];
            slot.failures += 1;
            let delay =
                Duration::from_secs(1 << (slot.failures - 1).min(6)).min(Duration::from_secs(60));
            slot.retry_at = Some(Instant::now() + delay);
            delay
        };
        self.log(
            Level::Error(LogId("RW0612")),
            &format!(
                "mod_rwsgi: daemon process group '{}' could not start a process: {why}; trying again in {} s",
                self.entry().group.name,
                delay.as_secs()
            ),
        );
    }

    fn take_signals(&mut self) {
        let mut info = [0u8; 128];
        while os::read_fd(self.signals.as_raw_fd(), &mut info) == Some(128) {
            // signalfd_siginfo starts with the signal number (u32).
            let signal = u32::from_ne_bytes([info[0], info[1], info[2], info[3]]) as libc::c_int;
            match signal {
                libc::SIGTERM | libc::SIGINT => self.stop(),
                libc::SIGHUP => self.drain(),
                _ => {}
            }
        }
    }

    /// Apache stops: every daemon stops, within its shutdown-timeout.
    fn stop(&mut self) {
        if matches!(self.ending, Ending::Stopping(_)) {
            return;
        }
        let patience = self
            .entry()
            .group
            .shutdown_timeout
            .unwrap_or(Duration::from_secs(5));
        self.ending = Ending::Stopping(Instant::now() + patience + Duration::from_secs(1));
        for daemon in &mut self.daemons {
            daemon.leaving = true;
            signal(daemon.pid, libc::SIGTERM);
        }
    }

    /// The configuration generation ends: every daemon finishes what it
    /// serves (and what is queued for it) and goes.
    fn drain(&mut self) {
        if self.ending != Ending::Running {
            return;
        }
        let group = &self.entry().group;
        let patience = group.graceful_timeout.unwrap_or(Duration::from_secs(15))
            + group.shutdown_timeout.unwrap_or(Duration::from_secs(5));
        self.ending = Ending::Draining(Instant::now() + patience + Duration::from_secs(1));
        for daemon in &mut self.daemons {
            daemon.leaving = true;
            signal(daemon.pid, libc::SIGHUP);
        }
    }

    fn read_status(&mut self, fd: RawFd) {
        let Some(at) = self
            .daemons
            .iter()
            .position(|d| d.status_pipe.as_raw_fd() == fd)
        else {
            return;
        };
        let mut buf = [0u8; 1024];
        let Some(n) = os::read_fd(fd, &mut buf) else {
            return;
        };
        if n == 0 {
            // The daemon closed its end (it is exiting): reap() finds it.
            self.daemons[at].pipe_closed = true;
            return;
        }
        self.daemons[at].pending.extend_from_slice(&buf[..n]);
        loop {
            let daemon = &mut self.daemons[at];
            let Some(end) = daemon.pending.iter().position(|&b| b == b'\n') else {
                if daemon.pending.len() > MAX_LINE {
                    daemon.pending.clear();
                }
                return;
            };
            let line: Vec<u8> = daemon.pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line[..end]).into_owned();
            self.on_status(at, &line);
        }
    }

    /// One line from daemon `at`: "ready", or "replace <why>" (optionally
    /// "replace-loading <path>": start the replacement with that script
    /// loaded, since it changed).
    fn on_status(&mut self, at: usize, line: &str) {
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        match word {
            "ready" => {
                let (pid, slot, replacement) = {
                    let daemon = &mut self.daemons[at];
                    daemon.ready = true;
                    (daemon.pid, daemon.slot, daemon.replacement)
                };
                self.slots[slot].failures = 0;
                self.slots[slot].retry_at = None;
                if replacement {
                    self.daemons[at].replacement = false;
                    // The process it replaces finishes what it serves and goes.
                    for old in &mut self.daemons {
                        if old.slot == slot && old.pid != pid && !old.leaving {
                            old.leaving = true;
                            signal(old.pid, libc::SIGUSR1);
                        }
                    }
                }
            }
            "replace" | "replace-loading" => {
                let (slot, leaving) = (self.daemons[at].slot, self.daemons[at].leaving);
                let pending = self.daemons.iter().any(|d| d.slot == slot && d.replacement);
                if leaving || pending || self.slots[slot].wanted_replacement.is_some() {
                    return;
                }
                let preload = if word == "replace-loading" && rest.starts_with('/') {
                    vec![PathBuf::from(rest)]
                } else {
                    Vec::new()
                };
                self.log(
                    Level::Info,
                    &format!(
                        "mod_rwsgi: daemon process group '{}': recycling process {} ({}); its replacement starts first",
                        self.entry().group.name,
                        self.daemons[at].pid,
                        if word == "replace" { rest } else { "its script changed" }
                    ),
                );
                if self.slots[slot].retry_at.is_some() {
                    self.slots[slot].wanted_replacement = Some(preload);
                } else {
                    self.start(slot, preload, true);
                }
            }
            _ => self.log(
                Level::Warning(LogId("RW0613")),
                &format!(
                    "mod_rwsgi: daemon process group '{}': process {} wrote an unknown status line; ignored",
                    self.entry().group.name,
                    self.daemons[at].pid
                ),
            ),
        }
    }

    fn reap(&mut self) {
        while let Some((pid, status)) = os::reap_any() {
            let Some(at) = self.daemons.iter().position(|d| d.pid == pid) else {
                continue;
            };
            let daemon = self.daemons.remove(at);
            self.registry
                .status
                .release(self.entry.index, daemon.pid as u32);
            self.on_death(daemon, status);
        }
    }

    fn on_death(&mut self, daemon: Daemon, status: libc::c_int) {
        let name = self.entry().group.name.clone();
        let how = describe_status(status);
        let exited = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
        if daemon.leaving {
            if exited != Some(0) && exited != Some(EXIT_RESTART) {
                self.log(
                    Level::Warning(LogId("RW0614")),
                    &format!("mod_rwsgi: daemon process group '{name}': process {} ended while stopping ({how})", daemon.pid),
                );
            }
            return;
        }
        let slot = daemon.slot;
        if !daemon.ready {
            let why = if exited == Some(EXIT_SETUP_FAILED) {
                "it could not be set up (see the lines above)".to_string()
            } else {
                format!("it ended before it was ready ({how})")
            };
            if daemon.replacement {
                // The process it was to replace keeps serving.
                self.log(
                    Level::Error(LogId("RW0615")),
                    &format!(
                        "mod_rwsgi: daemon process group '{name}': the replacement process {} failed to start: {why}; the running process keeps serving",
                        daemon.pid
                    ),
                );
                return;
            }
            self.failed_start(slot, &format!("process {} failed: {why}", daemon.pid));
            return;
        }
        let serving = self.daemons.iter().any(|d| d.slot == slot && !d.leaving);
        if exited == Some(EXIT_RESTART) {
            self.log(
                Level::Info,
                &format!(
                    "mod_rwsgi: daemon process group '{name}': process {} exited to be restarted",
                    daemon.pid
                ),
            );
        } else {
            self.log(
                Level::Error(LogId("RW0616")),
                &format!(
                    "mod_rwsgi: daemon process group '{name}': process {} died ({how}) after {} s; the requests it was serving failed (502); {}",
                    daemon.pid,
                    daemon.started.elapsed().as_secs(),
                    if serving { "its replacement takes over" } else { "starting another" }
                ),
            );
        }
        if !serving {
            self.start(slot, Vec::new(), false);
        }
    }

    fn on_timers(&mut self) {
        let now = Instant::now();
        for slot in 0..self.slots.len() {
            if self.slots[slot].retry_at.is_some_and(|at| at <= now) {
                self.slots[slot].retry_at = None;
                let serving = self.daemons.iter().any(|d| d.slot == slot && !d.leaving);
                match self.slots[slot].wanted_replacement.take() {
                    Some(preload) if serving => self.start(slot, preload, true),
                    _ if !serving => self.start(slot, Vec::new(), false),
                    _ => {}
                }
            }
        }
        let deadline = match self.ending {
            Ending::Draining(at) | Ending::Stopping(at) => at,
            Ending::Running => return,
        };
        if now >= deadline {
            for daemon in &self.daemons {
                self.log(
                    Level::Warning(LogId("RW0617")),
                    &format!(
                        "mod_rwsgi: daemon process group '{}': process {} did not stop in time; killed",
                        self.entry().group.name,
                        daemon.pid
                    ),
                );
                signal(daemon.pid, libc::SIGKILL);
            }
            // Reaped on the next turn; then the loop ends.
            self.ending = Ending::Stopping(now + Duration::from_secs(3600));
        }
    }

    fn update_status(&self) {
        let ready = self
            .daemons
            .iter()
            .filter(|d| d.ready && !d.leaving)
            .count() as u32;
        let failing = self.slots.iter().any(|s| s.failures > 0);
        self.registry.status.set(self.entry.index, ready, failing);
    }
}

fn signal(pid: i32, signal: libc::c_int) {
    // SAFETY: signalling a child of this process that it has not reaped.
    unsafe { libc::kill(pid, signal) };
}
