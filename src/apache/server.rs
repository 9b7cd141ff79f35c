//! The server (virtual host) a request belongs to, and the running MPM.

use std::ffi::c_int;
use std::ptr::null;

use super::ffi;
use super::log::{self, Level, Target};

/// A virtual host's `server_rec`, or the main server when none is known.
/// Apache keeps server_recs for the life of the configuration.
#[derive(Clone, Copy)]
pub struct Server(pub(super) *const ffi::server_rec);

// SAFETY: server_recs are read-only after configuration and live as long as
// the process's configuration; logging through one is thread-safe.
unsafe impl Send for Server {}
// SAFETY: as for Send.
unsafe impl Sync for Server {}

impl Server {
    /// # Safety
    /// `raw` must be null or a server_rec of the current configuration.
    pub(super) unsafe fn from_raw(raw: *const ffi::server_rec) -> Self {
        Self(raw)
    }

    /// Logs to the main server's error log.
    pub fn main() -> Self {
        Self(null())
    }

    pub(super) fn raw(&self) -> *const ffi::server_rec {
        self.0
    }

    /// The server's ServerName (for the main server, the one Apache
    /// derived when none is set).
    pub fn hostname(&self) -> &'static [u8] {
        if self.0.is_null() {
            return b"";
        }
        // SAFETY: a live server_rec's hostname is NULL or a string in the
        // configuration pool, which outlives every use of the configuration.
        unsafe {
            let name = (*self.0).server_hostname;
            if name.is_null() {
                b""
            } else {
                std::ffi::CStr::from_ptr(name).to_bytes()
            }
        }
    }

    #[track_caller]
    pub fn log(&self, level: Level, message: &str) {
        log::write(Target::Server(self.0), level, message);
    }
}

/// What the running MPM is, for wsgi.multithread and wsgi.multiprocess.
#[derive(Clone, Copy, Debug)]
pub struct Mpm {
    pub threaded: bool,
    pub multiprocess: bool,
    /// Threads per child (1 for prefork).
    pub threads: u32,
    /// The most children it runs at once.
    pub processes: u32,
}

impl Mpm {
    pub fn query() -> Self {
        let ask = |code: u32| -> c_int {
            let mut value: c_int = 0;
            // SAFETY: ap_mpm_query writes one int.
            let status = unsafe { ffi::ap_mpm_query(code as c_int, &mut value) };
            if status == 0 { value } else { 0 }
        };
        let threaded = ask(ffi::AP_MPMQ_IS_THREADED) != ffi::AP_MPMQ_NOT_SUPPORTED as c_int;
        let forked = ask(ffi::AP_MPMQ_IS_FORKED) != ffi::AP_MPMQ_NOT_SUPPORTED as c_int;
        let processes = if forked {
            ask(ffi::AP_MPMQ_MAX_DAEMONS)
        } else {
            1
        };
        Self {
            threaded,
            multiprocess: processes > 1,
            processes: u32::try_from(processes).unwrap_or(1).max(1),
            threads: u32::try_from(ask(ffi::AP_MPMQ_MAX_THREADS))
                .unwrap_or(1)
                .max(1),
        }
    }
}
