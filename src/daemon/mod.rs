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
//! - `manager`: application groups that get processes of their own, so
//!   that no two share a Python (a group beside the one a scope's
//!   processes run).
//! - `socket`: the UNIX sockets and descriptor passing they share.

mod manager;
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

use crate::apache::{Level, Server};
use crate::config::{DaemonGroup, ImportScript, ProcessSettings};
use status::{PrimaryClaim, StatusPage};

/// The daemon process groups of one configuration generation, as Apache's
/// parent set them up; its children and daemons inherit it by fork.
pub struct Registry {
    pub generation: u64,
    /// What connections prove they come from this Apache with.
    pub secret: [u8; SECRET_LEN],
    pub groups: Vec<Arc<GroupEntry>>,
    status: StatusPage,
    /// Apache's own processes as a scope of application groups.
    pub embedded: EmbeddedScope,
    /// Where the manager of application groups listens; None when it
    /// could not start (application groups then share the main
    /// interpreter, with a notice).
    pub manager: Option<PathBuf>,
    /// What sockets of this generation are named after.
    socket_base: PathBuf,
    /// Every WSGIImportScript of the configuration.
    imports: Vec<ImportScript>,
}

/// What an application group's own process, for a group that would have
/// run in Apache's children, is made of.
pub struct EmbeddedScope {
    pub settings: ProcessSettings,
    pub server: Server,
    pub apache_uid: u32,
    pub apache_gid: u32,
    pub timeout: Duration,
    /// Apache's threads per child: the group's processes get as many.
    pub threads: u32,
    /// How many processes the group gets.
    pub processes: u32,
    pub multithread: bool,
    pub multiprocess: bool,
}

/// The most application groups that get a process of their own, per
/// configuration generation.
pub const MAX_APPLICATION_GROUPS: usize = 64;

/// Where a request runs, as far as application groups go.
pub enum Placement {
    /// In the main interpreter of the processes that would serve it.
    Primary,
    /// In the process of its own that this application group has.
    Own(Arc<GroupEntry>),
    /// Where it would (no manager): sharing the main interpreter.
    Shared,
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
    /// The scripts of this group loaded as each process starts
    /// (WSGIImportScript's, and those of aliases naming both groups).
    pub imports: Vec<ImportScript>,
    /// The Apache user's uid and gid: daemons run as them unless told.
    pub apache_uid: u32,
    pub apache_gid: u32,
    /// Apache's Timeout, for socket-timeout's default.
    pub apache_timeout: Duration,
    /// For an application group's own process: what environ says of the
    /// process (that of the scope it stands in for).
    pub facts: Option<crate::wsgi::ProcessFacts>,
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

    /// Whether, to the app, its requests run in mod_wsgi's daemon mode: a
    /// configured group, or an application group's own process standing
    /// for one; not one standing for Apache's children, where mod_wsgi
    /// runs the app embedded (so environ has no keys of a hop there).
    pub fn is_daemon_mode(&self) -> bool {
        self.facts
            .as_ref()
            .is_none_or(|facts| !facts.process_group.is_empty())
    }
}

static REGISTRY: RwLock<Option<Arc<Registry>>> = RwLock::new(None);

/// The groups of this configuration generation, if any are configured.
pub fn registry() -> Option<Arc<Registry>> {
    REGISTRY.read().unwrap_or_else(|e| e.into_inner()).clone()
}

fn set_registry(registry: Option<Arc<Registry>>) {
    *REGISTRY.write().unwrap_or_else(|e| e.into_inner()) = registry;
}

impl Registry {
    pub fn find(&self, name: &[u8]) -> Option<&Arc<GroupEntry>> {
        self.groups.iter().find(|g| g.group.name.as_bytes() == name)
    }

    /// Whether application group `name` runs in the main interpreter of
    /// Apache's children (claiming it if no group does yet).
    pub fn status_claims(&self, name: &[u8]) -> bool {
        self.claim(self.embedded_scope(), name)
    }

    /// Claims scope `scope`'s main interpreter for application group
    /// `name`; whether the group has it. The claim that wins says so in
    /// the log: once per group and configuration generation.
    pub fn claim(&self, scope: usize, name: &[u8]) -> bool {
        match self.status.claim_primary(scope, name) {
            PrimaryClaim::Held => true,
            PrimaryClaim::Other => false,
            PrimaryClaim::Won => {
                let (server, of) = match self.groups.get(scope) {
                    Some(base) => (
                        base.server,
                        format!(
                            "the processes of daemon process group '{}'",
                            base.group.name
                        ),
                    ),
                    None => (self.embedded.server, "Apache's children".to_string()),
                };
                server.log(
                    Level::Notice,
                    &format!(
                        "mod_rwsgi: application group '{}' runs in the main interpreter of {of}; any other application group there gets a process of its own",
                        String::from_utf8_lossy(name)
                    ),
                );
                true
            }
        }
    }

    /// The status page's index of Apache's own processes as a scope.
    pub fn embedded_scope(&self) -> usize {
        self.groups.len()
    }

    /// Where application group `name` of `scope` (a daemon group's index,
    /// or `embedded_scope()`) runs: each scope's processes run one
    /// application group in their main interpreter (the first claimed, by
    /// configuration or by the first request), and every other group gets
    /// a process of its own, so that no two ever share a Python.
    pub fn place(&self, scope: usize, name: &[u8]) -> Placement {
        if self.claim(scope, name) {
            return Placement::Primary;
        }
        match manager::own_process(self, scope, name) {
            Some(entry) => Placement::Own(entry),
            None => Placement::Shared,
        }
    }

    /// The group standing for application group `name` of `scope`, number
    /// `number`: the same in the manager that starts it and in every child
    /// that sends it requests.
    fn own_group(&self, scope: usize, name: &[u8], number: usize, epoch: u32) -> GroupEntry {
        let shown = String::from_utf8_lossy(name).into_owned();
        let mut socket = self.socket_base.clone().into_os_string();
        socket.push(format!(".e{epoch}.a{number}.sock"));
        let imports: Vec<ImportScript> = self
            .imports
            .iter()
            .filter(|i| {
                let scope_name = match self.groups.get(scope) {
                    Some(base) => base.group.name.as_str(),
                    None => "%{GLOBAL}",
                };
                i.process_group == scope_name
                    && static_group(&i.application_group).as_deref() == Some(name)
            })
            .cloned()
            .collect();
        match self.groups.get(scope) {
            Some(base) => {
                let mut group = base.group.clone();
                group.name = format!("{}:{shown}", base.group.name);
                group.display_name = Some(format!(
                    "{} (application group {shown})",
                    base.group
                        .title()
                        .unwrap_or_else(|| format!("(wsgi:{})", base.group.name))
                ));
                GroupEntry {
                    index: self.groups.len() + 1 + number,
                    group,
                    server: base.server,
                    server_name: base.server_name.clone(),
                    global: base.global,
                    socket: PathBuf::from(socket),
                    listener: -1,
                    settings: base.settings.clone(),
                    imports,
                    apache_uid: base.apache_uid,
                    apache_gid: base.apache_gid,
                    apache_timeout: base.apache_timeout,
                    facts: Some(crate::wsgi::ProcessFacts {
                        multithread: base.group.threads > 1,
                        multiprocess: base.group.multiprocess,
                        process_group: base.group.name.clone(),
                        processes: base.group.processes,
                        threads: base.group.threads,
                    }),
                }
            }
            None => {
                let e = &self.embedded;
                // Named as scope:group, like those of daemon groups, with
                // Apache's own processes as the empty scope.
                let mut group = crate::config::DaemonGroup::for_application_group(
                    &format!(":{shown}"),
                    e.processes,
                    e.threads,
                );
                group.display_name = Some(format!("(wsgi-application-group:{shown})"));
                GroupEntry {
                    index: self.groups.len() + 1 + number,
                    group,
                    server: e.server,
                    server_name: e.server.hostname().to_vec(),
                    global: true,
                    socket: PathBuf::from(socket),
                    listener: -1,
                    settings: e.settings.clone(),
                    imports,
                    apache_uid: e.apache_uid,
                    apache_gid: e.apache_gid,
                    apache_timeout: e.timeout,
                    facts: Some(crate::wsgi::ProcessFacts {
                        multithread: e.multithread,
                        multiprocess: e.multiprocess,
                        process_group: String::new(),
                        processes: e.processes,
                        threads: e.threads,
                    }),
                }
            }
        }
    }
}

/// An application group spec that names one group whatever the request:
/// `%{GLOBAL}` (the empty name) or a literal name.
pub fn static_group(spec: &str) -> Option<Vec<u8>> {
    match spec {
        "%{GLOBAL}" => Some(Vec::new()),
        _ if spec.contains("%{") => None,
        _ => Some(spec.as_bytes().to_vec()),
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
