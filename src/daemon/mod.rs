//! Daemon mode: applications run in processes of their own, apart from
//! Apache's children, as mod_wsgi's WSGIDaemonProcess groups do.
//!
//! - `parent`: Apache's parent process. Per group, per configuration
//!   generation, it binds the listening socket (so connections queue in
//!   the kernel while processes restart), draws the secret connections are
//!   proved with, and forks a supervisor it watches.
//! - `supervisor`: one process per group, forked from Apache's parent. It
//!   forks the group's daemon processes, replaces one that dies (backing
//!   off when they fail to start), starts a replacement before a process
//!   is recycled, and stops them when Apache restarts or stops.
//! - `process`: a daemon process: privileges dropped, Python started,
//!   connections accepted while a thread is idle, timers that recycle it.
//! - `transport`: the gateway's Exchange over a connection, daemon side.
//! - `remote`: the Apache child's side of a request: connect, prove, send
//!   the request, relay the body when asked, pass the response on.
//! - `socket`: the UNIX sockets and descriptor passing they share.

mod os;
pub mod parent;
mod process;
pub mod remote;
mod socket;
mod status;
mod supervisor;
mod transport;

use std::os::fd::RawFd;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rwsgi_wire::proof::SECRET_LEN;

use crate::apache::Server;
use crate::config::{DaemonGroup, ProcessSettings};
use status::StatusPage;

/// The daemon process groups of one configuration generation, as Apache's
/// parent set them up; its children and daemons inherit it by fork.
pub struct Registry {
    pub generation: u64,
    /// What connections prove they come from this Apache with.
    pub secret: [u8; SECRET_LEN],
    pub groups: Vec<Arc<GroupEntry>>,
    status: StatusPage,
}

/// One group, with everything its processes and its clients need.
pub struct GroupEntry {
    /// Its position in the status page.
    pub index: usize,
    pub group: DaemonGroup,
    /// The server (virtual host) whose configuration defined it: its
    /// ErrorLog is the group's.
    pub server: Server,
    /// That server's ServerName, and whether it is the main server: a group
    /// defined in a virtual host serves only virtual hosts of that name.
    pub server_name: Vec<u8>,
    pub global: bool,
    pub socket: PathBuf,
    /// The listening socket (open in Apache's parent, the supervisor and
    /// the daemons; closed in Apache's children).
    pub listener: RawFd,
    /// Python's settings in the group's processes: WSGIPython* with the
    /// group's python-home, python-path and python-eggs over them.
    pub settings: ProcessSettings,
    /// WSGIImportScript scripts of this group, run as each process starts.
    pub imports: Vec<PathBuf>,
    /// The Apache user's uid and gid: daemons run as them unless told.
    pub apache_uid: u32,
    pub apache_gid: u32,
    /// Apache's Timeout, for socket-timeout's default.
    pub apache_timeout: Duration,
}

impl GroupEntry {
    pub fn socket_timeout(&self) -> Duration {
        self.group.socket_timeout.unwrap_or(self.apache_timeout)
    }

    /// Whether a request of the virtual host named `server_name` may use
    /// this group: as mod_wsgi, one defined in a virtual host serves only
    /// virtual hosts with its ServerName.
    pub fn serves(&self, server_name: &[u8]) -> bool {
        self.global || self.server_name == server_name
    }
}

static REGISTRY: RwLock<Option<Arc<Registry>>> = RwLock::new(None);

/// The groups of this configuration generation, if any are configured.
pub fn registry() -> Option<Arc<Registry>> {
    REGISTRY
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
}

fn set_registry(registry: Option<Arc<Registry>>) {
    *REGISTRY.write().unwrap_or_else(|e| e.into_inner()) = registry;
}

impl Registry {
    pub fn find(&self, name: &[u8]) -> Option<&Arc<GroupEntry>> {
        self.groups.iter().find(|g| g.group.name.as_bytes() == name)
    }
}

/// In an Apache child: closes the listening sockets it inherited from the
/// parent, which only daemons accept on.
pub fn child_init() {
    if let Some(registry) = registry() {
        for entry in &registry.groups {
            // SAFETY: the descriptor was inherited from the parent and
            // nothing in this child uses it.
            unsafe { libc::close(entry.listener) };
        }
    }
}
