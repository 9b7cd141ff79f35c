//! Apache's command table for every directive of config::directives, and
//! the trampolines that hand a directive line to its parser.

use std::ffi::{CStr, c_char, c_int, c_void};
use std::ptr::{null, null_mut};

use super::module::{Shared, catching};
use super::module_config::config_of;
use super::{ffi, pool};
use crate::config::DirConfig;
use crate::config::directives::{Allowed, Configuring, DIRECTIVES, Directive};

/// Apache's command table, one record per entry of [`DIRECTIVES`], ending
/// with a zeroed record. Each record's `cmd_data` points at its directive,
/// which the one trampoline, [`cmd_directive`], applies.
pub(super) static COMMANDS: Shared<[ffi::command_rec; DIRECTIVES.len() + 1]> =
    Shared(command_table());

const fn command_table() -> [ffi::command_rec; DIRECTIVES.len() + 1] {
    const END: ffi::command_rec = ffi::command_rec {
        name: null(),
        func: ffi::cmd_func { take_argv: None },
        cmd_data: null_mut(),
        req_override: 0,
        args_how: 0,
        errmsg: null(),
    };
    let mut table = [END; DIRECTIVES.len() + 1];
    let mut i = 0;
    while i < DIRECTIVES.len() {
        let directive = &DIRECTIVES[i];
        let (func, args_how) = if directive.raw() {
            (
                ffi::cmd_func {
                    raw_args: Some(cmd_raw_directive),
                },
                ffi::cmd_how_RAW_ARGS,
            )
        } else {
            (
                ffi::cmd_func {
                    take_argv: Some(cmd_directive),
                },
                ffi::cmd_how_TAKE_ARGV,
            )
        };
        table[i] = ffi::command_rec {
            name: directive.name.as_ptr(),
            func,
            cmd_data: (directive as *const Directive).cast_mut().cast(),
            req_override: req_override(directive.allowed),
            args_how,
            errmsg: directive.help.as_ptr(),
        };
        i += 1;
    }
    table
}

const fn req_override(allowed: Allowed) -> c_int {
    (match allowed {
        Allowed::Server | Allowed::GlobalServer => ffi::RSRC_CONF,
        Allowed::ServerOrDirectory => ffi::RSRC_CONF | ffi::ACCESS_CONF,
        Allowed::FileInfo => ffi::OR_FILEINFO,
        Allowed::AuthConfig => ffi::OR_AUTHCFG,
    }) as c_int
}

/// Reads a directive's arguments as UTF-8 strings.
///
/// # Safety
/// `argv` holds `argc` NUL-terminated strings that live for `'a`.
unsafe fn directive_args<'a>(
    argc: c_int,
    argv: *const *mut c_char,
) -> Result<Vec<&'a str>, String> {
    (0..argc.max(0) as usize)
        // SAFETY: Apache passes argc argument pointers.
        .map(|i| unsafe { directive_arg(*argv.add(i)) })
        .collect()
}

/// Reads one directive argument as a UTF-8 string.
///
/// # Safety
/// `arg` is a NUL-terminated string that lives for `'a`.
unsafe fn directive_arg<'a>(arg: *const c_char) -> Result<&'a str, String> {
    // SAFETY: Apache passes NUL-terminated arguments that live in the
    // configuration pool.
    let arg = unsafe { CStr::from_ptr(arg) };
    arg.to_str()
        .map_err(|_| format!("'{}' is not valid UTF-8", arg.to_string_lossy()))
}

/// Turns a directive's result into what Apache expects: NULL, or an error
/// message in the command pool that Apache prints with file and line.
///
/// # Safety
/// `cmd` is the live cmd_parms of the directive call.
unsafe fn directive_result(cmd: *mut ffi::cmd_parms, result: Result<(), String>) -> *const c_char {
    match result {
        Ok(()) => null(),
        Err(message) => {
            let message: Vec<u8> = message
                .into_bytes()
                .into_iter()
                .filter(|&b| b != 0)
                .collect();
            // SAFETY: cmd is live during the directive call.
            unsafe { pool::strdup((*cmd).pool, &message) }
        }
    }
}

/// Applies one line of any of our directives split into words (TAKE_ARGV).
unsafe extern "C" fn cmd_directive(
    cmd: *mut ffi::cmd_parms,
    dir_config: *mut c_void,
    argc: c_int,
    argv: *const *mut c_char,
) -> *const c_char {
    // SAFETY: Apache passes argc/argv of this directive line, which live in
    // the configuration pool for the call.
    let args = || unsafe { directive_args(argc, argv) };
    // SAFETY: passed through from Apache's call.
    unsafe { apply_directive(cmd, dir_config, args) }
}

/// Applies one line of a directive that reads its line whole (RAW_ARGS).
unsafe extern "C" fn cmd_raw_directive(
    cmd: *mut ffi::cmd_parms,
    dir_config: *mut c_void,
    raw: *const c_char,
) -> *const c_char {
    // SAFETY: Apache passes the rest of the line as a NUL-terminated string
    // in the configuration pool.
    let args = || unsafe { directive_arg(raw) }.map(|raw| vec![raw]);
    // SAFETY: passed through from Apache's call.
    unsafe { apply_directive(cmd, dir_config, args) }
}

/// Applies one line of any of our directives: `cmd->info` is the
/// [`Directive`] its command record was built from.
///
/// # Safety
/// `cmd` and `dir_config` are what Apache passed to the directive's call.
unsafe fn apply_directive<'a>(
    cmd: *mut ffi::cmd_parms,
    dir_config: *mut c_void,
    args: impl FnOnce() -> Result<Vec<&'a str>, String>,
) -> *const c_char {
    // SAFETY: command_table() set every record's cmd_data to a directive of
    // the static DIRECTIVES, and Apache passes it back as cmd->info.
    let directive = unsafe { &*(*cmd).info.cast::<Directive>() };
    if directive.allowed == Allowed::GlobalServer {
        // SAFETY: cmd is live during the directive call; the check returns
        // Apache's own message (in the command pool) or NULL.
        let misplaced = unsafe { ffi::ap_check_cmd_context(cmd, ffi::GLOBAL_ONLY) };
        if !misplaced.is_null() {
            return misplaced;
        }
    }
    let result = catching("a directive", Err("internal error".to_string()), || {
        let args = args()?;
        // SAFETY: cmd->server is the server being configured, whose
        // ServerConfig create_server_config made; dir_config is this
        // section's DirConfig, made by create_dir_config. The two are
        // distinct allocations, and Apache reads configuration on one thread.
        let mut configuring = unsafe {
            Configuring {
                server: &mut *config_of((*cmd).server),
                dir: &mut *dir_config.cast::<DirConfig>(),
                compile_pattern: super::regex::compile_pattern,
            }
        };
        directive.apply(&mut configuring, &args)
    });
    // SAFETY: cmd is live during the directive call.
    unsafe { directive_result(cmd, result) }
}
