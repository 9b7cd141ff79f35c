//! Writing to Apache's error log, attributed to this module so that
//! `LogLevel rwsgi:debug` works.

use std::ffi::{CString, c_int};
use std::panic::Location;

use super::ffi;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Error = ffi::APLOG_ERR as isize,
    Warning = ffi::APLOG_WARNING as isize,
    Notice = ffi::APLOG_NOTICE as isize,
    Info = ffi::APLOG_INFO as isize,
    Debug = ffi::APLOG_DEBUG as isize,
}

/// Where a log line goes: a request's server and client, or a server alone.
pub(super) enum Target {
    Request(*const ffi::request_rec),
    Server(*const ffi::server_rec),
}

/// The index Apache gave this module when it loaded it.
pub(super) fn module_index() -> c_int {
    // SAFETY: Apache writes module_index once while loading the module,
    // before it calls any of our callbacks; afterwards it is only read.
    unsafe { (*super::module::this_module()).module_index }
}

/// Logs `message`, one Apache log line per line of the message. Other control
/// characters are escaped so that nothing an app or client says can forge a
/// log line.
#[track_caller]
pub(super) fn write(target: Target, level: Level, message: &str) {
    let caller = Location::caller();
    let file = CString::new(caller.file()).unwrap_or_default();
    for line in message.lines() {
        let text = escape_controls(line);
        match target {
            // SAFETY: the pointers come from live request_rec/server_rec values
            // (the callers hold them for the duration of this call), and the
            // shim passes `text` through "%s", never as a format.
            Target::Request(r) => unsafe {
                ffi::rwsgi_log_rerror(
                    file.as_ptr(),
                    caller.line() as c_int,
                    module_index(),
                    level as c_int,
                    0,
                    r,
                    text.as_ptr(),
                )
            },
            // SAFETY: as above; a null server logs to the main error log.
            Target::Server(s) => unsafe {
                ffi::rwsgi_log_error(
                    file.as_ptr(),
                    caller.line() as c_int,
                    module_index(),
                    level as c_int,
                    0,
                    s,
                    text.as_ptr(),
                )
            },
        }
    }
}

fn escape_controls(line: &str) -> CString {
    let mut out = String::with_capacity(line.len());
    for c in line.chars() {
        if c.is_control() && c != '\t' {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push(c);
        }
    }
    CString::new(out).expect("control characters, NUL included, were escaped")
}
