//! The operating-system side of a supervisor or daemon process: signals,
//! the process title, privileges, limits, locale.

use std::ffi::CString;
use std::io;
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use crate::config::DaemonGroup;

/// Blocks `signals` in this thread (and every thread it starts later), to
/// be received with [`wait_signal`] or a signalfd instead of handlers.
pub fn block_signals(signals: &[libc::c_int]) {
    // SAFETY: sigset_t is plain data initialised by sigemptyset; the mask
    // applies to the calling thread.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &signal in signals {
            libc::sigaddset(&mut set, signal);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// Puts every signal back to its default action and unblocks them all:
/// what Apache's parent installed is not ours. SIGPIPE stays ignored, so
/// that a write to a closed connection is an error, not a death.
pub fn reset_signals() {
    // SAFETY: resetting dispositions and the mask of this single-threaded,
    // freshly forked process.
    unsafe {
        for signal in 1..32 {
            if signal != libc::SIGKILL && signal != libc::SIGSTOP {
                libc::signal(signal, libc::SIG_DFL);
            }
        }
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::pthread_sigmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
}

/// Waits for one of the blocked `signals`: the signal, and the pid of the
/// process that sent it.
pub fn wait_signal(signals: &[libc::c_int]) -> (libc::c_int, libc::pid_t) {
    // SAFETY: as in block_signals; sigwaitinfo fills the siginfo it is
    // given for the signal it took.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &signal in signals {
            libc::sigaddset(&mut set, signal);
        }
        loop {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let signal = libc::sigwaitinfo(&set, &mut info);
            if signal > 0 {
                return (signal, info.si_pid());
            }
        }
    }
}

/// Has the kernel send `signal` to this process when its parent dies, and
/// says whether the parent is still `parent` (it may have died already).
pub fn die_with_parent(parent: libc::pid_t, signal: libc::c_int) -> bool {
    // SAFETY: prctl with PR_SET_PDEATHSIG takes a signal number; getppid
    // only reads.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, signal as libc::c_ulong, 0, 0, 0);
        libc::getppid() == parent
    }
}

/// This process's command line as `ps` shows it (NULs as spaces).
pub fn command_line() -> String {
    let bytes = std::fs::read("/proc/self/cmdline").unwrap_or_default();
    String::from_utf8_lossy(&bytes)
        .replace('\0', " ")
        .trim_end()
        .to_string()
}

/// Shows `title` as this process's command line in `ps`, whole, and its
/// first 15 bytes as its name in `top`. With CAP_SYS_RESOURCE (root, before
/// privileges go) the command line is pointed at a copy of the title;
/// without, the title is written over the memory of the original arguments
/// and environment (moved aside first), as setproctitle does: whole up to
/// their length, which mod_wsgi's overwrite of argv[0] alone is not.
pub fn set_title(title: &str) {
    let Ok(c_title) = CString::new(title) else {
        return;
    };
    let name: Vec<u8> = c_title.as_bytes().iter().copied().take(15).collect();
    if let Ok(name) = CString::new(name) {
        // SAFETY: PR_SET_NAME copies at most 16 bytes from the string.
        unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr() as libc::c_ulong, 0, 0, 0) };
    }
    // Under valgrind (which the benchmark counts instructions with), the
    // arguments' memory is valgrind's own, its options: left alone.
    let under_valgrind =
        std::fs::read_to_string("/proc/self/maps").is_ok_and(|maps| maps.contains("vgpreload"));
    if !point_command_line_at(c_title.as_bytes_with_nul()) && !under_valgrind {
        overwrite_command_line(c_title.as_bytes());
    }
}

fn point_command_line_at(title: &[u8]) -> bool {
    // The command line lives for the process's life: leaked on purpose.
    let bytes: &'static [u8] = title.to_vec().leak();
    let start = bytes.as_ptr() as libc::c_ulong;
    let end = start + bytes.len() as libc::c_ulong;
    // SAFETY: the kernel checks that the range lies in this process's
    // memory, which the leaked buffer does; start is moved first (below the
    // old end, the heap being below the stack), then the end.
    unsafe {
        libc::prctl(
            libc::PR_SET_MM,
            libc::PR_SET_MM_ARG_START as libc::c_ulong,
            start,
            0,
            0,
        ) == 0
            && libc::prctl(
                libc::PR_SET_MM,
                libc::PR_SET_MM_ARG_END as libc::c_ulong,
                end,
                0,
                0,
            ) == 0
    }
}

/// The addresses of the arguments and the environment (fields 48 to 51 of
/// /proc/self/stat).
fn command_line_area() -> Option<[usize; 4]> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the name, which may hold spaces, start with field 3.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3)?.parse::<usize>().ok();
    Some([field(48)?, field(49)?, field(50)?, field(51)?])
}

fn overwrite_command_line(title: &[u8]) {
    unsafe extern "C" {
        static mut environ: *mut *mut libc::c_char;
    }
    let Some([arg_start, arg_end, env_start, env_end]) = command_line_area() else {
        return;
    };
    if arg_end <= arg_start {
        return;
    }
    // The environment's strings follow the arguments' on the stack: when
    // they do, both are room for the title, once the strings are copied
    // elsewhere and `environ` points at the copies.
    let end = if env_start == arg_end && env_end > env_start {
        // SAFETY: `environ` is the C library's array of the process's
        // environment; this single-threaded process replaces entries that
        // point into the area by copies (strdup) that are never freed.
        unsafe {
            let mut entry = environ;
            while !entry.is_null() && !(*entry).is_null() {
                let at = *entry as usize;
                if (env_start..env_end).contains(&at) {
                    *entry = libc::strdup(*entry);
                }
                entry = entry.add(1);
            }
        }
        env_end
    } else {
        arg_end
    };
    let room = end - arg_start;
    let len = title.len().min(room - 1);
    // SAFETY: [arg_start, end) is this process's own argument (and moved
    // environment) memory, writable, and nothing reads it any more but the
    // kernel for /proc/self/cmdline.
    unsafe {
        let area = arg_start as *mut u8;
        std::ptr::write_bytes(area, 0, room);
        std::ptr::copy_nonoverlapping(title.as_ptr(), area, len);
        // The kernel reads on past the arguments' end only when their last
        // byte is not NUL: a title that runs into the environment's area
        // leaves it so.
    }
}

/// Why a process could not take on its group's identity.
pub struct SetupFailure(pub String);

/// Drops to the group's user, group and supplementary groups, in that
/// order (group first, while still root), then checks that root cannot be
/// regained: any failure ends the process (mod_wsgi's CVE-2014-0240 and
/// CVE-2014-8583 came from ignoring them). Only when running as root.
pub fn drop_privileges(
    group: &DaemonGroup,
    apache_uid: u32,
    apache_gid: u32,
) -> Result<(u32, u32), SetupFailure> {
    let uid = group.user.as_ref().map_or(apache_uid, |u| u.id);
    let gid = group.group.as_ref().map_or(apache_gid, |g| g.id);
    // SAFETY: geteuid only reads.
    if unsafe { libc::geteuid() } != 0 {
        return Ok((uid, gid));
    }
    if uid == 0 {
        return Err(SetupFailure(
            "it would run as root (uid 0): Apache's User is root and no user= is given".into(),
        ));
    }
    let fail = |what: String| SetupFailure(format!("{what}: {}", io::Error::last_os_error()));
    // SAFETY: credential calls of this single-threaded process; each result
    // is checked, and the process ends on any failure.
    unsafe {
        if libc::setgid(gid) != 0 {
            return Err(fail(format!("setgid({gid}) failed")));
        }
        match &group.supplementary_groups {
            Some(groups) => {
                let mut ids: Vec<libc::gid_t> = vec![gid];
                ids.extend(groups.iter().map(|g| g.id));
                if libc::setgroups(ids.len(), ids.as_ptr()) != 0 {
                    return Err(fail("setgroups failed".into()));
                }
            }
            None => {
                let name = group
                    .user
                    .as_ref()
                    .and_then(|u| u.name.clone())
                    .or_else(|| user_name(uid));
                let ok = match name.and_then(|n| CString::new(n).ok()) {
                    Some(name) => libc::initgroups(name.as_ptr(), gid) == 0,
                    None => libc::setgroups(1, &gid) == 0,
                };
                if !ok {
                    return Err(fail(format!("initgroups for uid {uid} failed")));
                }
            }
        }
        if libc::setuid(uid) != 0 {
            return Err(fail(format!("setuid({uid}) failed")));
        }
        if libc::getuid() != uid || libc::geteuid() != uid || libc::getgid() != gid {
            return Err(SetupFailure(format!(
                "after setuid the process is uid {} euid {} gid {}, not {uid}/{gid}",
                libc::getuid(),
                libc::geteuid(),
                libc::getgid()
            )));
        }
        if libc::setuid(0) == 0 {
            return Err(SetupFailure("root could be regained after setuid".into()));
        }
    }
    Ok((uid, gid))
}

fn user_name(uid: u32) -> Option<String> {
    use crate::config::daemon::Accounts;
    crate::config::accounts::SystemAccounts
        .user_by_id(uid)
        .and_then(|a| a.name)
}

/// The user's home directory (for home= left unset).
/// A child of this process that has ended, with its wait status, if one
/// has; never waits.
pub fn reap_any() -> Option<(libc::pid_t, libc::c_int)> {
    let mut status = 0;
    // SAFETY: reaps any child of this process without waiting.
    let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
    (pid > 0).then_some((pid, status))
}

pub fn home_of(uid: u32) -> Option<std::path::PathBuf> {
    use crate::config::daemon::Accounts;
    crate::config::accounts::SystemAccounts
        .user_by_id(uid)
        .and_then(|a| a.home)
}

pub fn change_directory(dir: &Path) -> Result<(), SetupFailure> {
    std::env::set_current_dir(dir)
        .map_err(|e| SetupFailure(format!("cannot change directory to {}: {e}", dir.display())))
}

pub fn set_umask(mask: u32) {
    // SAFETY: umask only sets this process's mask.
    unsafe { libc::umask(mask as libc::mode_t) };
}

/// cpu-priority (a nice value), before privileges go (only root may lower
/// it below 0).
pub fn set_priority(priority: i32) -> io::Result<()> {
    // SAFETY: setpriority on this process.
    if unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, priority) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

pub fn set_limit(resource: libc::__rlimit_resource_t, soft: u64, hard: u64) -> io::Result<()> {
    let limit = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: setrlimit reads the struct.
    if unsafe { libc::setrlimit(resource, &limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// lang= and locale=: LANG and LC_ALL, and the C library's locale.
pub fn set_locale(group: &DaemonGroup) -> Result<(), String> {
    // SAFETY: environment and locale changes before any other thread
    // exists in this process.
    unsafe {
        if let Some(lang) = &group.lang {
            std::env::set_var("LANG", lang);
        }
        if let Some(locale) = &group.locale {
            std::env::set_var("LC_ALL", locale);
            let c_locale =
                CString::new(locale.as_str()).map_err(|_| "a NUL in locale=".to_string())?;
            if libc::setlocale(libc::LC_ALL, c_locale.as_ptr()).is_null() {
                return Err(format!(
                    "locale={locale} is not a locale this system has (see `locale -a`)"
                ));
            }
        }
    }
    Ok(())
}

pub use crate::wsgi::resident_bytes;

/// A signalfd for `signals`, which the caller has blocked.
pub fn signal_fd(signals: &[libc::c_int]) -> OwnedFd {
    // SAFETY: a new signalfd for the signals blocked above; owned here.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &signal in signals {
            libc::sigaddset(&mut set, signal);
        }
        let fd = libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK);
        assert!(fd >= 0, "signalfd: {}", std::io::Error::last_os_error());
        OwnedFd::from_raw_fd(fd)
    }
}

/// One read, or None when nothing is there (or it failed).
pub fn read_fd(fd: RawFd, buf: &mut [u8]) -> Option<usize> {
    // SAFETY: the descriptor is borrowed for one read; ManuallyDrop keeps
    // the File from closing it.
    let mut file = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(fd) });
    file.read(buf).ok()
}
