//! Apache's parent process, for daemon mode: at each configuration
//! generation it binds every group's listening socket, draws the secret,
//! and forks one supervisor per group, which it watches and replaces; when
//! the generation ends it lets the supervisors drain and go.

use std::cell::RefCell;
use std::os::fd::IntoRawFd;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

use rwsgi_wire::proof::SECRET_LEN;

use super::socket::{self, ListenOptions};
use super::status::StatusPage;
use super::{
    EmbeddedScope, GroupEntry, MAX_APPLICATION_GROUPS, Registry, manager, set_registry,
    static_group, supervisor,
};
use crate::apache::process::{self, ChildEvent, ConfigPool};
use crate::apache::{Level, LogId, Mpm, Server};
use crate::config::{ImportScript, ProcessSettings, ServerConfig};

/// Kept in Apache's process pool across generations (and module reloads).
const GENERATION_KEY: &std::ffi::CStr = c"mod_rwsgi.daemon_generation";
/// The supervisors of ended generations that were still draining.
const DRAINING_KEY: &std::ffi::CStr = c"mod_rwsgi.draining_supervisors";

/// post_config, in the parent: sets up every WSGIDaemonProcess group of
/// `servers` (the main server first). Err stops Apache with the reason.
pub fn start(pool: ConfigPool, servers: &[(Server, &ServerConfig)]) -> Result<(), String> {
    set_registry(None);
    let Some(&(main, main_config)) = servers.first() else {
        return Ok(());
    };
    if process::serves_requests() && !process::is_preflight_pass() {
        watch_draining(pool, main);
    }
    let defined: usize = servers.iter().map(|(_, c)| c.daemon_groups.len()).sum();
    let embedded = !main_config.process.restrict_embedded;
    if (defined == 0 && !embedded) || !process::serves_requests() || process::is_preflight_pass() {
        return Ok(());
    }
    let user = process::apache_user();
    // SAFETY: getuid/getgid only read this process's credentials.
    let (apache_uid, apache_gid) = user.as_ref().map_or_else(
        || unsafe { (libc::getuid(), libc::getgid()) },
        |u| (u.uid, u.gid),
    );
    let reachable = socket_prefix(pool, &main_config.process).and_then(|prefix| {
        check_reachable(
            prefix.parent().unwrap_or(Path::new("/")),
            apache_uid,
            apache_gid,
        )
        .map(|()| prefix)
    });
    let prefix = match reachable {
        Ok(prefix) => prefix,
        // Daemon groups cannot run without their sockets; application
        // groups can share the main interpreter, as they did before.
        Err(reason) if defined > 0 => return Err(reason),
        Err(reason) => {
            main.log(
                Level::Warning(LogId("RW0601")),
                &format!(
                    "{reason}; application groups share the main interpreter of Apache's children"
                ),
            );
            return Ok(());
        }
    };
    let generation = process::bump_process_counter(main, GENERATION_KEY);
    let rotation = main_config.process.socket_rotation.unwrap_or(true);
    let imports: Vec<ImportScript> = servers
        .iter()
        .flat_map(|(_, c)| c.import_scripts.iter().cloned())
        .collect();

    let mut groups = Vec::new();
    for &(server, config) in servers {
        for group in &config.daemon_groups {
            let index = groups.len();
            let socket = socket_path(
                &prefix,
                generation,
                index,
                rotation,
                group.user.as_ref().map_or(apache_uid, |u| u.id),
            );
            let owner = group.socket_user.as_ref().map_or(apache_uid, |u| u.id);
            let listener = socket::listen(
                &socket,
                &ListenOptions {
                    backlog: group.listen_backlog,
                    owner,
                    send_buffer: group.send_buffer_size,
                    receive_buffer: group.receive_buffer_size,
                },
            )
            .map_err(|e| {
                format!(
                    "mod_rwsgi: WSGIDaemonProcess {}: cannot listen at {}: {e}",
                    group.name,
                    socket.display()
                )
            })?;
            groups.push(Arc::new(GroupEntry {
                index,
                group: group.clone(),
                server,
                server_name: server.hostname().to_vec(),
                global: std::ptr::eq(config, main_config),
                socket,
                listener: listener.into_raw_fd(),
                settings: settings_for(&main_config.process, group),
                imports: primary_imports(&imports, &group.name),
                apache_uid,
                apache_gid,
                apache_timeout: server.timeout(),
                facts: None,
            }));
        }
    }
    let mut secret = [0u8; SECRET_LEN];
    getrandom(&mut secret)
        .map_err(|e| format!("mod_rwsgi: no random secret for daemon connections: {e}"))?;
    let status = StatusPage::new(groups.len() + 1 + MAX_APPLICATION_GROUPS)
        .map_err(|e| format!("mod_rwsgi: cannot map the daemon status page: {e}"))?;
    let mpm = Mpm::query();
    let mut socket_base = prefix.clone().into_os_string();
    // SAFETY: getpid only reads.
    socket_base.push(format!(".{}.{generation}", unsafe { libc::getpid() }));
    let socket_base = PathBuf::from(socket_base);
    let manager_socket = manager::socket_path(&socket_base, status.epoch(groups.len()));
    let manager_listener = socket::listen(
        &manager_socket,
        &ListenOptions {
            backlog: 100,
            owner: apache_uid,
            send_buffer: None,
            receive_buffer: None,
        },
    );
    let (manager, manager_listener) = match manager_listener {
        Ok(listener) => (Some(manager_socket), Some(listener.into_raw_fd())),
        Err(e) => {
            main.log(
                Level::Warning(LogId("RW0602")),
                &format!(
                    "mod_rwsgi: no manager of application groups ({} cannot be listened at: {e}); application groups share the main interpreter of their processes",
                    manager_socket.display()
                ),
            );
            (None, None)
        }
    };
    let mut embedded_settings = main_config.process.clone();
    embedded_settings.restrict_embedded = false;
    let registry = Arc::new(Registry {
        generation,
        secret,
        groups,
        status,
        embedded: EmbeddedScope {
            settings: embedded_settings,
            server: main,
            apache_uid,
            apache_gid,
            timeout: main.timeout(),
            threads: mpm.threads.min(64),
            processes: own_processes(&mpm),
            multithread: mpm.threaded,
            multiprocess: mpm.multiprocess,
        },
        manager,
        socket_base,
        imports: imports.clone(),
    });
    // A scope whose processes preload an application group's script
    // (WSGIImportScript) runs that group in their main interpreter.
    for (scope, name) in std::iter::once((registry.embedded_scope(), "%{GLOBAL}")).chain(
        registry
            .groups
            .iter()
            .map(|g| (g.index, g.group.name.as_str())),
    ) {
        if let Some(first) = imports
            .iter()
            .filter(|i| i.process_group == name)
            .find_map(|i| static_group(&i.application_group))
        {
            registry.claim(scope, &first);
        }
    }
    set_registry(Some(registry.clone()));

    let supervisors: Rc<RefCell<Vec<Option<i32>>>> =
        Rc::new(RefCell::new(vec![None; registry.groups.len()]));
    for index in 0..registry.groups.len() {
        launch(pool, &registry, index, &supervisors)?;
    }
    let managers: Rc<RefCell<Option<i32>>> = Rc::new(RefCell::new(None));
    if let Some(listener) = manager_listener {
        launch_manager(pool, &registry, listener, &managers);
    }
    for entry in &registry.groups {
        main.log(
            Level::Info,
            &format!(
                "mod_rwsgi: daemon process group '{}' listens at {} (generation {})",
                entry.group.name,
                entry.socket.display(),
                registry.generation
            ),
        );
        for note in &entry.group.ignored {
            main.log(
                Level::Notice,
                &format!("mod_rwsgi: WSGIDaemonProcess {}: {note}", entry.group.name),
            );
        }
    }

    // When this generation's configuration goes (a graceful restart, or
    // Apache exiting), its supervisors finish what their processes are
    // serving and go; the parent's copies of the sockets close.
    let ending = registry.clone();
    pool.on_clear(move || {
        let mut running: Vec<i32> = supervisors.borrow().iter().flatten().copied().collect();
        running.extend(*managers.borrow());
        if let Some(listener) = manager_listener {
            // SAFETY: the parent's own copy of the manager's socket.
            unsafe { libc::close(listener) };
        }
        for &pid in &running {
            // SAFETY: signalling a supervisor this process forked and still
            // watches (so it has not been reaped).
            unsafe { libc::kill(pid, libc::SIGHUP) };
        }
        // The next generation watches them until they are done, so Apache
        // knows whose exit it reaps.
        let mut draining = process::take_pids(main, DRAINING_KEY);
        draining.extend(running);
        process::keep_pids(main, DRAINING_KEY, &draining);
        for entry in &ending.groups {
            // SAFETY: the parent's own copy of the listening socket.
            unsafe { libc::close(entry.listener) };
        }
        set_registry(None);
    });
    Ok(())
}

/// Watches the supervisors of ended generations that are still finishing
/// their requests: Apache's parent reaps them when they exit (otherwise it
/// logs "long lost child came home"), and a stop or hard restart ends them.
fn watch_draining(pool: ConfigPool, main: Server) {
    for pid in process::take_pids(main, DRAINING_KEY) {
        // SAFETY: probing (signal 0) a process this parent forked.
        if unsafe { libc::kill(pid, 0) } != 0 {
            continue;
        }
        let mut signalled = false;
        process::watch_child(pool, pid, move |event, watch| match event {
            ChildEvent::Died { .. } => watch.unwatch(),
            ChildEvent::Restart if !signalled => {
                signalled = true;
                // SAFETY: a supervisor this parent forked, not yet reaped.
                unsafe { libc::kill(pid, libc::SIGTERM) };
            }
            _ => {}
        });
        // Still draining when this generation ends too: passed on again.
        pool.on_clear(move || {
            // SAFETY: probing (signal 0) a process this parent forked.
            if unsafe { libc::kill(pid, 0) } == 0 {
                let mut draining = process::take_pids(main, DRAINING_KEY);
                draining.push(pid);
                process::keep_pids(main, DRAINING_KEY, &draining);
            }
        });
    }
}

/// How many processes an application group of Apache's own scope gets:
/// as many as there are cores (at least two, four under prefork, where
/// each serves one request at a time), no more than Apache would run.
fn own_processes(mpm: &Mpm) -> u32 {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get() as u32);
    let wanted = if mpm.threads == 1 {
        cores.max(4)
    } else {
        cores.max(2)
    };
    wanted.min(8).min(mpm.processes)
}

/// Forks the manager of application groups and watches it: one that dies
/// is replaced, with a new epoch (its groups' processes went with it, and
/// their sockets are named anew).
fn launch_manager(
    pool: ConfigPool,
    registry: &Arc<Registry>,
    listener: i32,
    managers: &Rc<RefCell<Option<i32>>>,
) {
    let pid = match manager::spawn(registry, listener) {
        Ok(pid) => pid,
        Err(e) => {
            registry.embedded.server.log(
                Level::Error(LogId("RW0603")),
                &format!("mod_rwsgi: cannot fork the manager of application groups: {e}; application groups share the main interpreter"),
            );
            return;
        }
    };
    *managers.borrow_mut() = Some(pid);
    let (registry, managers) = (registry.clone(), managers.clone());
    let mut stopping = false;
    process::watch_child(pool, pid, move |event, watch| match event {
        ChildEvent::Restart if !stopping => {
            stopping = true;
            // SAFETY: the manager is our child and not yet reaped.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        ChildEvent::Died { status } => {
            watch.unwatch();
            *managers.borrow_mut() = None;
            if !stopping {
                registry.embedded.server.log(
                    Level::Error(LogId("RW0604")),
                    &format!(
                        "mod_rwsgi: the manager of application groups (pid {pid}) ended unexpectedly ({}); starting another",
                        supervisor::describe_status(status)
                    ),
                );
                registry.status.next_epoch(registry.embedded_scope());
                launch_manager(pool, &registry, listener, &managers);
            }
        }
        _ => {}
    });
}

/// Forks the supervisor of group `index` and watches it.
fn launch(
    pool: ConfigPool,
    registry: &Arc<Registry>,
    index: usize,
    supervisors: &Rc<RefCell<Vec<Option<i32>>>>,
) -> Result<(), String> {
    let entry = &registry.groups[index];
    let others: Vec<i32> = registry
        .groups
        .iter()
        .filter(|g| g.index != index)
        .map(|g| g.listener)
        .collect();
    let pid = supervisor::spawn(registry, entry.clone(), &others).map_err(|e| {
        format!(
            "mod_rwsgi: cannot fork the supervisor of daemon process group '{}': {e}",
            entry.group.name
        )
    })?;
    supervisors.borrow_mut()[index] = Some(pid);
    let (registry, supervisors) = (registry.clone(), supervisors.clone());
    let mut stopping = false;
    process::watch_child(pool, pid, move |event, watch| {
        let entry = &registry.groups[index];
        match event {
            ChildEvent::Restart if !stopping => {
                stopping = true;
                // SAFETY: the supervisor is our child and not yet reaped.
                unsafe { libc::kill(pid, libc::SIGTERM) };
            }
            ChildEvent::Died { status } => {
                watch.unwatch();
                supervisors.borrow_mut()[index] = None;
                if stopping {
                    return;
                }
                // A supervisor only exits when told to: anything else is a
                // fault of ours, and the group must not stay without one.
                entry.server.log(
                    Level::Error(LogId("RW0605")),
                    &format!(
                        "mod_rwsgi: the supervisor of daemon process group '{}' (pid {pid}) ended unexpectedly ({}); starting another",
                        entry.group.name,
                        supervisor::describe_status(status)
                    ),
                );
                if let Err(reason) = launch(pool, &registry, index, &supervisors) {
                    entry.server.log(Level::Error(LogId("RW0606")), &reason);
                }
            }
            _ => {}
        }
    });
    Ok(())
}

/// WSGISocketPrefix (relative to ServerRoot), or `wsgi` in Apache's
/// DefaultRuntimeDir, as mod_wsgi defaults.
fn socket_prefix(pool: ConfigPool, settings: &ProcessSettings) -> Result<PathBuf, String> {
    let prefix = match &settings.socket_prefix {
        Some(prefix) if prefix.is_absolute() => Some(prefix.clone()),
        Some(prefix) => pool.server_root_relative(prefix),
        None => pool.runtime_dir_relative("wsgi"),
    };
    let prefix = prefix.ok_or("mod_rwsgi: WSGISocketPrefix could not be resolved")?;
    if let Some(dir) = prefix.parent() {
        if !dir.is_dir() {
            std::fs::create_dir_all(dir).map_err(|e| {
                format!(
                    "mod_rwsgi: the directory of daemon sockets {} does not exist and cannot be made: {e} (see WSGISocketPrefix)",
                    dir.display()
                )
            })?;
        }
    }
    Ok(prefix)
}

/// mod_wsgi's names: a new path every generation with WSGISocketRotation
/// On, else one stable while the group's place and user stay the same.
fn socket_path(prefix: &Path, generation: u64, index: usize, rotation: bool, uid: u32) -> PathBuf {
    let mut name = prefix.as_os_str().to_os_string();
    // SAFETY: getpid only reads this process's id.
    let pid = unsafe { libc::getpid() };
    if rotation {
        name.push(format!(".{pid}.{generation}.{}.sock", index + 1));
    } else {
        name.push(format!(".{pid}.u{uid}.{}.sock", index + 1));
    }
    PathBuf::from(name)
}

/// Apache's children connect to the sockets as Apache's user: every
/// directory on the way must let that user through, or each request would
/// fail with "Permission denied" (mod_wsgi's most reported socket problem).
fn check_reachable(dir: &Path, uid: u32, gid: u32) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let mut path = PathBuf::new();
    for component in dir.components() {
        path.push(component);
        let meta = std::fs::metadata(&path).map_err(|e| {
            format!(
                "mod_rwsgi: the directory of daemon sockets {}: {e}",
                path.display()
            )
        })?;
        let mode = meta.mode();
        let passes = uid == 0
            || (meta.uid() == uid && mode & 0o100 != 0)
            || (meta.gid() == gid && mode & 0o010 != 0)
            || mode & 0o001 != 0;
        if !passes {
            return Err(format!(
                "mod_rwsgi: Apache's user (uid {uid}) cannot reach daemon sockets under {}: {} is mode {:o}, owned by uid {} gid {}; set WSGISocketPrefix to a directory it can reach",
                dir.display(),
                path.display(),
                mode & 0o7777,
                meta.uid(),
                meta.gid()
            ));
        }
    }
    Ok(())
}

fn settings_for(main: &ProcessSettings, group: &crate::config::DaemonGroup) -> ProcessSettings {
    let mut settings = main.clone();
    settings.restrict_embedded = false;
    if group.python_home.is_some() {
        settings.python_home = group.python_home.clone();
    }
    if let Some(path) = &group.python_path {
        settings.python_path = path.clone();
    }
    if group.python_eggs.is_some() {
        settings.python_eggs = group.python_eggs.clone();
    }
    // As in mod_wsgi 4.9: a daemon process starts the agent with its
    // group's options only, never with the WSGINewRelic* directives.
    settings.new_relic = group.new_relic.clone();
    settings
}

/// The scripts loaded as the processes of group `name` start: those of
/// its main interpreter's application group (the first a script names) or
/// of one that depends on the request, each once (required if any line
/// requires it). Scripts of another application group run in that group's
/// own process.
fn primary_imports(imports: &[ImportScript], name: &str) -> Vec<ImportScript> {
    let ours: Vec<&ImportScript> = imports.iter().filter(|i| i.process_group == name).collect();
    let primary = ours.iter().find_map(|i| static_group(&i.application_group));
    let mut scripts: Vec<ImportScript> = Vec::new();
    for import in ours {
        let group = static_group(&import.application_group);
        if group.is_some() && group != primary {
            continue;
        }
        match scripts.iter_mut().find(|s| s.script == import.script) {
            Some(known) => known.required |= import.required,
            None => scripts.push(import.clone()),
        }
    }
    scripts
}

fn getrandom(buf: &mut [u8]) -> std::io::Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        // SAFETY: writes at most the remaining length into `buf`.
        let n =
            unsafe { libc::getrandom(buf[filled..].as_mut_ptr().cast(), buf.len() - filled, 0) };
        if n < 0 {
            let error = std::io::Error::last_os_error();
            if error.kind() != std::io::ErrorKind::Interrupted {
                return Err(error);
            }
        } else {
            filled += n as usize;
        }
    }
    Ok(())
}

/// Random bytes from the kernel (nonces, the secret).
pub fn random(buf: &mut [u8]) -> std::io::Result<()> {
    getrandom(buf)
}
