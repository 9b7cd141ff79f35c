//! Writing to Apache's error log, attributed to this module so that
//! `LogLevel rwsgi:debug` works.

use std::borrow::Cow;
use std::ffi::{CString, c_int};
use std::panic::Location;

use rwsgi_wire::frame::LogLevel;

use super::ffi;

/// How bad a line is. An error or a warning of the module's own carries its
/// stable identifier (docs/errors.md), written first on the line as Apache
/// writes `AH00489: ...`, so one cannot be logged without one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Error(LogId),
    Warning(LogId),
    Notice,
    Info,
    Debug,
    /// Error level with no identifier: a line the app wrote (wsgi.errors,
    /// sys.stdout, sys.stderr). Its words are the app's, not the module's
    /// to number.
    AppError,
    /// Error or warning level with no identifier added: a line a daemon
    /// process logged, passed on by the Apache child. Its text carries the
    /// identifier the daemon process gave it (none if the app wrote it).
    RelayedError,
    RelayedWarning,
}

/// A stable identifier of an error or warning: `RW` and four digits, each
/// used at one log site only and never reused for another meaning
/// (`tests/error_ids.rs` checks them against docs/errors.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogId(pub &'static str);

impl Level {
    /// The severity alone, as a daemon process sends it to the child.
    pub fn severity(self) -> LogLevel {
        match self {
            Level::Error(_) | Level::AppError | Level::RelayedError => LogLevel::Error,
            Level::Warning(_) | Level::RelayedWarning => LogLevel::Warning,
            Level::Notice => LogLevel::Notice,
            Level::Info => LogLevel::Info,
            Level::Debug => LogLevel::Debug,
        }
    }

    /// The level of a line a daemon process logged at `severity`: its
    /// text already carries an error's or a warning's identifier (or is
    /// the app's).
    pub fn relayed(severity: LogLevel) -> Level {
        match severity {
            LogLevel::Error => Level::RelayedError,
            LogLevel::Warning => Level::RelayedWarning,
            LogLevel::Notice => Level::Notice,
            LogLevel::Info => Level::Info,
            LogLevel::Debug => Level::Debug,
        }
    }

    fn priority(self) -> c_int {
        let level = match self.severity() {
            LogLevel::Error => ffi::APLOG_ERR,
            LogLevel::Warning => ffi::APLOG_WARNING,
            LogLevel::Notice => ffi::APLOG_NOTICE,
            LogLevel::Info => ffi::APLOG_INFO,
            LogLevel::Debug => ffi::APLOG_DEBUG,
        };
        level as c_int
    }

    /// The identifier this level puts first on the line, if any.
    fn id(self) -> Option<LogId> {
        match self {
            Level::Error(id) | Level::Warning(id) => Some(id),
            _ => None,
        }
    }

    /// `message` as it is logged: the identifier, if any, starts its first
    /// line. Later lines (a traceback after the headline) are left as they
    /// are.
    pub fn text(self, message: &str) -> Cow<'_, str> {
        match self.id() {
            Some(LogId(id)) => Cow::Owned(format!("{id}: {message}")),
            None => Cow::Borrowed(message),
        }
    }
}

/// Where a log line goes: a request's server and client, or a server alone.
pub(super) enum Target {
    Request(*const ffi::request_rec),
    Server(*const ffi::server_rec),
}

/// The index Apache gave this module when it loaded it.
pub(super) fn module_index() -> c_int {
    super::module::loaded_index()
}

/// Logs `message`, one Apache log line per line of the message. Other control
/// characters are escaped so that nothing an app or client says can forge a
/// log line.
#[track_caller]
pub(super) fn write(target: Target, level: Level, message: &str) {
    let caller = Location::caller();
    let file = CString::new(caller.file()).unwrap_or_default();
    let priority = level.priority();
    for line in level.text(message).lines() {
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
                    priority,
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
                    priority,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Not a log site's identifier (those are literals at their sites,
    /// which tests/error_ids.rs collects).
    const SAMPLE: &str = "RW0000";

    #[test]
    fn an_error_starts_its_first_line_with_its_identifier() {
        let text = Level::Error(LogId(SAMPLE)).text("mod_rwsgi: headline\nTraceback");
        assert_eq!(text, "RW0000: mod_rwsgi: headline\nTraceback");
    }

    #[test]
    fn the_apps_lines_and_notices_carry_no_identifier() {
        assert_eq!(Level::AppError.text("printed"), "printed");
        assert_eq!(
            Level::RelayedError.text("RW0701: relayed"),
            "RW0701: relayed"
        );
        assert_eq!(Level::Notice.text("a notice"), "a notice");
    }

    #[test]
    fn a_relayed_line_keeps_its_severity() {
        for level in [
            Level::Error(LogId(SAMPLE)),
            Level::Warning(LogId(SAMPLE)),
            Level::AppError,
            Level::Notice,
            Level::Info,
            Level::Debug,
        ] {
            let relayed = Level::relayed(level.severity());
            assert_eq!(relayed.priority(), level.priority(), "{level:?}");
            assert_eq!(relayed.id(), None, "{level:?}: the text has it already");
        }
    }
}
