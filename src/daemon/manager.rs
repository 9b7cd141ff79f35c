//! Application groups that get a process of their own. mod_wsgi gives
//! each application group of a process a sub-interpreter, where many C
//! extensions break (NumPy, every PyO3-built package); mod_rwsgi gives the
//! processes of each scope (Apache's children, or a daemon process group)
//! one application group in their main interpreter, and every other group
//! a process of its own, where every C extension works.
//!
//! The manager is a process forked from Apache's parent (root, no Python)
//! at each configuration generation. An Apache child that meets an
//! application group that is not its scope's asks the manager for the
//! group's process (proving, as with daemons, that it is Apache's); the
//! manager binds the group's socket and forks a supervisor for it, once,
//! and answers with the group's number, from which both sides name the
//! group the same way.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, IntoRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rwsgi_wire::frame::{self, Challenge, FrameHeader, HEADER_LEN, Kind, Reader};
use rwsgi_wire::proof;

use super::socket::{self, ListenOptions};
use super::transport::{Connection, Refused, read_spawn};
use super::{GroupEntry, MAX_APPLICATION_GROUPS, Registry, os, supervisor};
use crate::apache::process::close_listeners;
use crate::apache::{Level, LogId};

/// How long a child waits for the manager (which only binds and forks).
const ASK_TIMEOUT: Duration = Duration::from_secs(10);

/// The groups this child has been told of: (generation, epoch, scope,
/// name) to the group.
type Known = HashMap<(u64, u32, usize, Vec<u8>), Arc<GroupEntry>>;
static KNOWN: Mutex<Option<Known>> = Mutex::new(None);

/// In an Apache child: the process of application group `name` of
/// `scope`, started by the manager if it is not yet; None when there is no
/// manager or it cannot start one (the reason is in the error log).
pub fn own_process(registry: &Registry, scope: usize, name: &[u8]) -> Option<Arc<GroupEntry>> {
    let epoch = registry.status.epoch(registry.embedded_scope());
    let key = (registry.generation, epoch, scope, name.to_vec());
    if let Some(entry) = KNOWN
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_or_insert_with(HashMap::new)
        .get(&key)
    {
        return Some(entry.clone());
    }
    let manager = registry.manager.as_ref()?;
    let number = match ask(registry, manager, scope, name) {
        Ok(Some(number)) => number,
        Ok(None) => return None,
        Err(why) => {
            registry.embedded.server.log(
                Level::Error(LogId("RW0621")),
                &format!(
                    "mod_rwsgi: the manager of application groups did not answer for '{}' ({why}); it shares the main interpreter for now",
                    String::from_utf8_lossy(name)
                ),
            );
            return None;
        }
    };
    let entry = Arc::new(registry.own_group(scope, name, number, epoch));
    let mut known = KNOWN.lock().unwrap_or_else(|e| e.into_inner());
    Some(
        known
            .get_or_insert_with(HashMap::new)
            .entry(key)
            .or_insert(entry)
            .clone(),
    )
}

/// One question to the manager: the group's number, or None when the
/// manager can start no more groups.
fn ask(
    registry: &Registry,
    manager: &std::path::Path,
    scope: usize,
    name: &[u8],
) -> Result<Option<usize>, String> {
    use std::io::Read;
    let stream = socket::connect(manager, ASK_TIMEOUT).map_err(|e| e.to_string())?;
    socket::set_timeouts(&stream, ASK_TIMEOUT).map_err(|e| e.to_string())?;
    let mut challenge = [0u8; HEADER_LEN + frame::NONCE_LEN + 4];
    (&stream)
        .read_exact(&mut challenge)
        .map_err(|e| e.to_string())?;
    let header = FrameHeader::parse(
        challenge[..HEADER_LEN].try_into().expect("HEADER_LEN"),
        Reader::Child,
    )
    .map_err(|e| e.to_string())?;
    if header.kind != Kind::Challenge {
        return Err(format!("a {:?} frame instead of a challenge", header.kind));
    }
    let challenge = Challenge::decode(&challenge[HEADER_LEN..]).map_err(|e| e.to_string())?;
    let answer = proof::prove(&registry.secret, &challenge.nonce, challenge.pid);
    let mut out = Vec::new();
    out.extend_from_slice(&FrameHeader::encode(Kind::Proof, answer.len() as u32));
    out.extend_from_slice(&answer);
    frame::Spawn {
        scope: scope as u32,
        name,
    }
    .encode(&mut out);
    socket::write_all_vectored(&stream, &[&out]).map_err(|e| e.to_string())?;
    let mut reply = [0u8; HEADER_LEN + 4];
    (&stream)
        .read_exact(&mut reply)
        .map_err(|e| e.to_string())?;
    let header = FrameHeader::parse(
        reply[..HEADER_LEN].try_into().expect("HEADER_LEN"),
        Reader::Child,
    )
    .map_err(|e| e.to_string())?;
    if header.kind != Kind::Spawned {
        return Err(format!("a {:?} frame instead of an answer", header.kind));
    }
    let number = frame::decode_spawned(&reply[HEADER_LEN..]).map_err(|e| e.to_string())?;
    Ok((number != u32::MAX).then_some(number as usize))
}

/// Forks the manager; `listener` is its socket. Returns its pid.
pub fn spawn(registry: &Arc<Registry>, listener: RawFd) -> std::io::Result<i32> {
    // SAFETY: getpid only reads.
    let parent = unsafe { libc::getpid() };
    // SAFETY: Apache's parent is single-threaded; the child runs only our
    // code and never returns into Apache's.
    match unsafe { libc::fork() } {
        -1 => Err(std::io::Error::last_os_error()),
        0 => {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                Manager::new(registry.clone(), listener, parent).run()
            }));
            // SAFETY: ends this process without Apache's exit handlers.
            unsafe { libc::_exit(0) }
        }
        pid => Ok(pid),
    }
}

/// An application group's process, as the manager keeps it.
struct Own {
    scope: usize,
    name: Vec<u8>,
    entry: Arc<GroupEntry>,
    supervisor: Option<i32>,
}

struct Manager {
    registry: Arc<Registry>,
    listener: RawFd,
    signals: OwnedFd,
    epoch: u32,
    groups: Vec<Own>,
    /// SIGTERM or SIGHUP came: the supervisors were told, and the manager
    /// goes once they have.
    ending: Option<Instant>,
}

impl Manager {
    fn new(registry: Arc<Registry>, listener: RawFd, apache: libc::pid_t) -> Self {
        os::reset_signals();
        if !os::die_with_parent(apache, libc::SIGTERM) {
            // SAFETY: Apache's parent is gone; nothing to manage.
            unsafe { libc::_exit(0) };
        }
        close_listeners();
        for group in &registry.groups {
            // SAFETY: daemon groups' sockets, not the manager's to use.
            unsafe { libc::close(group.listener) };
        }
        os::set_title("mod_rwsgi application groups");
        let watched = [libc::SIGCHLD, libc::SIGTERM, libc::SIGHUP, libc::SIGINT];
        os::block_signals(&watched);
        let signals = os::signal_fd(&watched);
        let epoch = registry.status.epoch(registry.embedded_scope());
        Self {
            registry,
            listener,
            signals,
            epoch,
            groups: Vec::new(),
            ending: None,
        }
    }

    fn log(&self, level: Level, message: &str) {
        self.registry.embedded.server.log(level, message);
    }

    fn run(mut self) {
        loop {
            if let Some(since) = self.ending {
                let running = self
                    .groups
                    .iter()
                    .filter(|g| g.supervisor.is_some())
                    .count();
                if running == 0 || since.elapsed() > Duration::from_secs(60) {
                    break;
                }
            }
            let mut fds = [
                libc::pollfd {
                    fd: self.signals.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: if self.ending.is_some() {
                        -1
                    } else {
                        self.listener
                    },
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            // SAFETY: polls the two descriptors above, which stay open.
            unsafe { libc::poll(fds.as_mut_ptr(), 2, 1000) };
            if fds[0].revents != 0 {
                self.take_signals();
            }
            if fds[1].revents != 0 {
                if let Ok(Some(stream)) = socket::accept(self.listener) {
                    self.answer(stream);
                }
            }
            self.reap();
        }
        for group in &self.groups {
            let _ = std::fs::remove_file(&group.entry.socket);
        }
        if let Some(socket) = &self.registry.manager {
            let _ = std::fs::remove_file(socket);
        }
    }

    fn take_signals(&mut self) {
        let mut info = [0u8; 128];
        while os::read_fd(self.signals.as_raw_fd(), &mut info) == Some(128) {
            let signal = u32::from_ne_bytes([info[0], info[1], info[2], info[3]]) as libc::c_int;
            let passed = match signal {
                libc::SIGTERM | libc::SIGINT => libc::SIGTERM,
                libc::SIGHUP => libc::SIGHUP,
                _ => continue,
            };
            self.ending.get_or_insert_with(Instant::now);
            for pid in self.groups.iter().filter_map(|g| g.supervisor) {
                // SAFETY: a supervisor this manager forked, not yet reaped.
                unsafe { libc::kill(pid, passed) };
            }
        }
    }

    /// Answers one child: the group's number, starting its process first
    /// if it has none.
    fn answer(&mut self, stream: std::os::unix::net::UnixStream) {
        let mut connection = Connection::new(stream);
        match connection.authenticate(&self.registry.secret) {
            Ok(()) => {}
            Err(Refused::Gone) => return,
            Err(Refused::Untrusted(why)) => {
                self.log(
                    Level::Error(LogId("RW0622")),
                    &format!("mod_rwsgi: the manager of application groups refused a connection: {why}; only this Apache's children may ask it"),
                );
                return;
            }
        }
        let Connection { stream, input, .. } = &mut connection;
        let (scope, name) = match read_spawn(stream, input) {
            Ok(spawn) => (spawn.scope as usize, spawn.name.to_vec()),
            Err(_) => return,
        };
        let number = self.number(scope, &name).map_or(u32::MAX, |n| n as u32);
        let mut out = Vec::new();
        frame::encode_spawned(number, &mut out);
        let _ = socket::write_all_vectored(&connection.stream, &[&out]);
    }

    fn number(&mut self, scope: usize, name: &[u8]) -> Option<usize> {
        if let Some(at) = self
            .groups
            .iter()
            .position(|g| g.scope == scope && g.name == name)
        {
            return Some(at);
        }
        if scope > self.registry.embedded_scope() || self.ending.is_some() {
            return None;
        }
        let number = self.groups.len();
        let shown = String::from_utf8_lossy(name).into_owned();
        if number >= MAX_APPLICATION_GROUPS {
            self.log(
                Level::Error(LogId("RW0623")),
                &format!("mod_rwsgi: application group '{shown}' shares a main interpreter: {MAX_APPLICATION_GROUPS} application groups already have a process of their own"),
            );
            return None;
        }
        let mut entry = self.registry.own_group(scope, name, number, self.epoch);
        let listened = socket::listen(
            &entry.socket,
            &ListenOptions {
                backlog: entry.group.listen_backlog,
                owner: entry
                    .group
                    .socket_user
                    .as_ref()
                    .map_or(entry.apache_uid, |u| u.id),
                send_buffer: None,
                receive_buffer: None,
            },
        );
        let listener = match listened {
            Ok(listener) => listener,
            Err(e) => {
                self.log(
                    Level::Error(LogId("RW0624")),
                    &format!("mod_rwsgi: application group '{shown}' cannot have a process of its own: {} cannot be listened at: {e}", entry.socket.display()),
                );
                return None;
            }
        };
        entry.listener = listener.into_raw_fd();
        let entry = Arc::new(entry);
        let of = match self.registry.groups.get(scope) {
            Some(base) => format!("of daemon process group '{}'", base.group.name),
            None => "of Apache's own processes".to_string(),
        };
        self.groups.push(Own {
            scope,
            name: name.to_vec(),
            entry,
            supervisor: None,
        });
        self.start(number);
        self.log(
            Level::Notice,
            &format!(
                "mod_rwsgi: application group '{shown}' {of} runs in a process of its own, so that it shares no Python with the group that runs there"
            ),
        );
        Some(number)
    }

    fn start(&mut self, number: usize) {
        let mut others: Vec<RawFd> = vec![self.listener, self.signals.as_raw_fd()];
        others.extend(
            self.groups
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != number)
                .map(|(_, g)| g.entry.listener),
        );
        match supervisor::spawn(&self.registry, self.groups[number].entry.clone(), &others) {
            Ok(pid) => self.groups[number].supervisor = Some(pid),
            Err(e) => self.log(
                Level::Error(LogId("RW0625")),
                &format!("mod_rwsgi: cannot fork the supervisor of an application group: {e}"),
            ),
        }
    }

    fn reap(&mut self) {
        while let Some((pid, status)) = os::reap_any() {
            let Some(number) = self.groups.iter().position(|g| g.supervisor == Some(pid)) else {
                continue;
            };
            self.groups[number].supervisor = None;
            if self.ending.is_none() {
                self.log(
                    Level::Error(LogId("RW0626")),
                    &format!(
                        "mod_rwsgi: the supervisor of application group '{}' ended unexpectedly ({}); starting another",
                        String::from_utf8_lossy(&self.groups[number].name),
                        supervisor::describe_status(status)
                    ),
                );
                self.start(number);
            }
        }
    }
}

/// The manager's socket: named after the generation and epoch.
pub fn socket_path(registry_base: &std::path::Path, epoch: u32) -> PathBuf {
    let mut path = registry_base.as_os_str().to_os_string();
    path.push(format!(".e{epoch}.m.sock"));
    PathBuf::from(path)
}
