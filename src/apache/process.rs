//! What daemon mode needs of Apache's parent process: its configuration
//! pool's life, the children it watches besides its own workers (APR's
//! "other child" registry), its listening sockets, its `User` and `Group`,
//! paths relative to its ServerRoot and runtime directory, and values kept
//! across configuration generations.

use std::ffi::{CStr, CString, c_int, c_void};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::{Server, ffi, pool};

/// A configuration pool: it lives until Apache re-reads its configuration
/// (a restart) or exits, and runs cleanups then.
#[derive(Clone, Copy)]
pub struct ConfigPool(*mut ffi::apr_pool_t);

impl ConfigPool {
    /// # Safety
    /// `raw` is the live configuration pool Apache passed to a hook.
    pub(super) unsafe fn from_raw(raw: *mut ffi::apr_pool_t) -> Self {
        Self(raw)
    }

    /// Runs `f` when the pool is cleared (before the module is unloaded).
    pub fn on_clear(&self, f: impl FnOnce() + 'static) {
        // SAFETY: the pool is live (constructor's contract).
        unsafe { pool::on_clear(self.0, f) };
    }

    /// `path` made absolute against ServerRoot, as Apache resolves its own
    /// relative paths.
    pub fn server_root_relative(&self, path: &Path) -> Option<PathBuf> {
        let path = CString::new(path.as_os_str().as_bytes()).ok()?;
        // SAFETY: live pool; the result is a string in it, or NULL.
        let resolved = unsafe { ffi::ap_server_root_relative(self.0, path.as_ptr()) };
        c_path(resolved)
    }

    /// `name` inside DefaultRuntimeDir (Apache's run-time files).
    pub fn runtime_dir_relative(&self, name: &str) -> Option<PathBuf> {
        let name = CString::new(name).ok()?;
        // SAFETY: live pool; the result is a string in it, or NULL.
        let resolved = unsafe { ffi::ap_runtime_dir_relative(self.0, name.as_ptr()) };
        c_path(resolved)
    }
}

fn c_path(ptr: *const std::ffi::c_char) -> Option<PathBuf> {
    (!ptr.is_null()).then(|| {
        // SAFETY: a NUL-terminated string in a live pool, copied at once.
        let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
        PathBuf::from(std::ffi::OsStr::from_bytes(bytes))
    })
}

/// What Apache's parent tells a watcher about a child it does not manage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChildEvent {
    /// The child exited; `status` is its wait status.
    Died { status: c_int },
    /// Apache is stopping or restarting hard: the child should go now.
    Restart,
    /// Anything else (Apache's periodic check, the registration ending).
    Other,
}

/// What is called with a watched child's events.
type OnEvent = dyn FnMut(ChildEvent, &WatchHandle);

/// A watched child: APR's record of it, and what to call.
struct Watched {
    process: ffi::apr_proc_t,
    on_event: Box<OnEvent>,
}

/// Lets a callback stop the watch (once the child has died).
pub struct WatchHandle(*mut c_void);

impl WatchHandle {
    pub fn unwatch(&self) {
        // SAFETY: the pointer is the registration's data, still registered
        // while its callback runs; APR removes it once.
        unsafe { ffi::apr_proc_other_child_unregister(self.0) };
    }
}

unsafe extern "C" fn child_event(reason: c_int, data: *mut c_void, status: c_int) {
    let event = match reason as u32 {
        ffi::APR_OC_REASON_DEATH => ChildEvent::Died { status },
        ffi::APR_OC_REASON_RESTART => ChildEvent::Restart,
        _ => ChildEvent::Other,
    };
    let handle = WatchHandle(data);
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: `data` is the Watched that watch_child allocated in the
        // configuration pool; its registration ends before the pool frees it.
        let watched = unsafe { &mut *data.cast::<Watched>() };
        (watched.on_event)(event, &handle);
    }));
}

/// Has Apache's parent watch `pid` (a child it forked for us) until `pool`
/// is cleared: its main loop reaps it and calls `on_event`.
pub fn watch_child(
    pool: ConfigPool,
    pid: i32,
    on_event: impl FnMut(ChildEvent, &WatchHandle) + 'static,
) {
    let watched = Watched {
        process: ffi::apr_proc_t {
            pid,
            in_: std::ptr::null_mut(),
            out: std::ptr::null_mut(),
            err: std::ptr::null_mut(),
        },
        on_event: Box::new(on_event),
    };
    // SAFETY: the pool is live; the record lives in it, and APR's own
    // cleanup (registered after ours, so run before ours) unregisters it
    // before it is freed.
    unsafe {
        let watched = pool::alloc_owned(pool.0, watched);
        ffi::apr_proc_other_child_register(
            &raw mut (*watched).process,
            Some(child_event),
            watched.cast(),
            std::ptr::null_mut(),
            pool.0,
        );
    }
}

/// Closes Apache's listening sockets in a process forked from the parent
/// that will never serve HTTP (a daemon or its supervisor).
pub fn close_listeners() {
    // SAFETY: closes the sockets of Apache's listener list in this process
    // only; the parent and its children keep theirs.
    unsafe { ffi::ap_close_listeners() }
}

/// The user and group Apache's children run as (`User`, `Group`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApacheUser {
    pub uid: u32,
    pub gid: u32,
    pub name: String,
}

/// Apache's `User` and `Group`, from mod_unixd (looked up by name, so that
/// mod_rwsgi loads whether mod_unixd is built in or loaded after it).
pub fn apache_user() -> Option<ApacheUser> {
    // SAFETY: dlsym only looks a name up; RTLD_DEFAULT searches the whole
    // process, where mod_unixd's configuration record lives if loaded.
    let config = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"ap_unixd_config".as_ptr()) }
        .cast::<ffi::unixd_config_rec>();
    if config.is_null() {
        return None;
    }
    // SAFETY: mod_unixd's record, filled by its directives before
    // post_config, and only read here.
    let config = unsafe { &*config };
    let name = if config.user_name.is_null() {
        String::new()
    } else {
        // SAFETY: a NUL-terminated string from the configuration.
        unsafe { CStr::from_ptr(config.user_name) }
            .to_string_lossy()
            .into_owned()
    };
    Some(ApacheUser {
        uid: config.user_id,
        gid: config.group_id,
        name,
    })
}

/// Whether this run of Apache only checks its configuration (`-t`), or
/// otherwise will not serve (`-S`, `-M`, ...).
pub fn serves_requests() -> bool {
    // SAFETY: ap_state_query only reads Apache's state.
    let mode = unsafe { ffi::ap_state_query(ffi::AP_SQ_RUN_MODE as c_int) };
    mode == ffi::AP_SQ_RM_NORMAL as c_int
}

/// Whether this is the configuration pass Apache makes before the real one
/// at start-up (nothing is started from it).
pub fn is_preflight_pass() -> bool {
    // SAFETY: ap_state_query only reads Apache's state.
    let state = unsafe { ffi::ap_state_query(ffi::AP_SQ_MAIN_STATE as c_int) };
    state == ffi::AP_SQ_MS_CREATE_PRE_CONFIG as c_int
}

/// A counter kept in Apache's process pool, which outlives configuration
/// generations (and the unloading of this module between them): returns
/// its value before this call and adds one.
pub fn bump_process_counter(server: Server, key: &'static CStr) -> u64 {
    let process_pool = process_pool(server);
    let mut data: *mut c_void = std::ptr::null_mut();
    // SAFETY: the process pool lives as long as the process; the key is a
    // static string, copied by APR.
    unsafe {
        ffi::apr_pool_userdata_get(&mut data, key.as_ptr(), process_pool);
        if data.is_null() {
            data = ffi::apr_palloc(process_pool, std::mem::size_of::<u64>()).cast();
            data.cast::<u64>().write(0);
            ffi::apr_pool_userdata_set(data, key.as_ptr(), None, process_pool);
        }
        let counter = data.cast::<u64>();
        let value = counter.read();
        counter.write(value + 1);
        value
    }
}

/// How many pids [`keep_pids`] holds.
const KEPT_PIDS: usize = 256;

/// Stores `pids` in Apache's process pool under `key`, where the next
/// configuration generation (after this module is unloaded and loaded
/// again) finds them with [`take_pids`]. Beyond 256 are left out.
pub fn keep_pids(server: Server, key: &'static CStr, pids: &[i32]) {
    let slots = pid_slots(server, key);
    // SAFETY: `slots` is the process pool's array of KEPT_PIDS + 1 ints
    // (a count, then the pids), used by this single-threaded parent only.
    unsafe {
        let count = pids.len().min(KEPT_PIDS);
        for (i, &pid) in pids.iter().take(count).enumerate() {
            slots.add(1 + i).write(pid);
        }
        slots.write(count as c_int);
    }
}

/// The pids [`keep_pids`] stored under `key`, emptying the list.
pub fn take_pids(server: Server, key: &'static CStr) -> Vec<i32> {
    let slots = pid_slots(server, key);
    // SAFETY: as in keep_pids.
    unsafe {
        let count = usize::try_from(slots.read()).unwrap_or(0).min(KEPT_PIDS);
        let pids = (0..count).map(|i| slots.add(1 + i).read()).collect();
        slots.write(0);
        pids
    }
}

fn pid_slots(server: Server, key: &'static CStr) -> *mut c_int {
    let process_pool = process_pool(server);
    let mut data: *mut c_void = std::ptr::null_mut();
    // SAFETY: the process pool lives as long as the process; the key is a
    // static string, copied by APR; the array is zeroed when first made.
    unsafe {
        ffi::apr_pool_userdata_get(&mut data, key.as_ptr(), process_pool);
        if data.is_null() {
            let size = (KEPT_PIDS + 1) * std::mem::size_of::<c_int>();
            data = ffi::apr_palloc(process_pool, size).cast();
            std::ptr::write_bytes(data.cast::<u8>(), 0, size);
            ffi::apr_pool_userdata_set(data, key.as_ptr(), None, process_pool);
        }
    }
    data.cast()
}

fn process_pool(server: Server) -> *mut ffi::apr_pool_t {
    // SAFETY: every server_rec points at Apache's process record, which
    // lives as long as the process.
    unsafe { (*(*server.raw()).process).pool }
}

impl Server {
    /// The descriptor of this server's ErrorLog file, when it is a file
    /// (not syslog or a piped logger, which Apache's children write through
    /// the same descriptor anyway).
    pub fn error_log_fd(&self) -> Option<c_int> {
        if self.raw().is_null() {
            return None;
        }
        // SAFETY: a live server_rec; error_log is NULL or an open APR file.
        unsafe {
            let file = (*self.raw()).error_log;
            if file.is_null() {
                return None;
            }
            let mut fd: ffi::apr_os_file_t = -1;
            (ffi::apr_os_file_get(&mut fd, file) == 0 && fd >= 0).then_some(fd)
        }
    }

    /// Apache's Timeout for this server.
    pub fn timeout(&self) -> std::time::Duration {
        if self.raw().is_null() {
            return std::time::Duration::from_secs(60);
        }
        // SAFETY: a live server_rec; timeout is in microseconds.
        let us = unsafe { (*self.raw()).timeout };
        std::time::Duration::from_micros(u64::try_from(us).unwrap_or(60_000_000))
    }
}
