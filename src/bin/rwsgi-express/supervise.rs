//! Running Apache in the foreground: Ctrl-C or SIGTERM stops it and its
//! children within seconds; with --reload-on-changes, a changed .py file
//! restarts the children gracefully (no request dropped).

use std::collections::HashMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn request_stop(_signal: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Runs `httpd -f conf -DFOREGROUND` until it exits or we are told to stop.
/// Returns the exit code for rwsgi-express.
pub fn run(httpd: &Path, conf: &Path, watched: Option<Vec<PathBuf>>) -> Result<i32, String> {
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(
            libc::SIGINT,
            request_stop as *const () as libc::sighandler_t,
        );
        libc::signal(
            libc::SIGTERM,
            request_stop as *const () as libc::sighandler_t,
        );
    }
    let mut child = Command::new(httpd)
        .arg("-f")
        .arg(conf)
        .arg("-DFOREGROUND")
        .stdin(Stdio::null())
        // Its own process group: a terminal's Ctrl-C reaches us, and we stop
        // Apache in order.
        .process_group(0)
        .spawn()
        .map_err(|e| format!("could not start {}: {e}", httpd.display()))?;
    let pid = child.id() as libc::pid_t;
    let mut watcher = watched.map(Watcher::new);
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Ok(if status.success() { 0 } else { 1 });
        }
        if STOP.load(Ordering::SeqCst) {
            stop(&mut child, pid);
            return Ok(0);
        }
        if let Some(changed) = watcher.as_mut().and_then(Watcher::changed) {
            eprintln!(
                "rwsgi-express: {} changed; restarting Apache's children gracefully",
                changed.display()
            );
            // SAFETY: signalling the Apache parent we started.
            unsafe { libc::kill(pid, libc::SIGUSR1) };
        }
        sleep(Duration::from_millis(100));
    }
}

/// SIGTERM (Apache stops its children), then SIGKILL to whatever is left
/// of the group after a few seconds.
fn stop(child: &mut std::process::Child, pid: libc::pid_t) {
    // SAFETY: signalling the process we started.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(8);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        sleep(Duration::from_millis(50));
    }
    // SAFETY: the group is Apache's; nothing else of ours is in it.
    unsafe { libc::killpg(pid, libc::SIGKILL) };
    let _ = child.wait();
}

/// The .py files of the application, polled once a second.
struct Watcher {
    roots: Vec<PathBuf>,
    seen: HashMap<PathBuf, SystemTime>,
    last_scan: Instant,
}

impl Watcher {
    fn new(roots: Vec<PathBuf>) -> Self {
        let seen = scan(&roots);
        Self {
            roots,
            seen,
            last_scan: Instant::now(),
        }
    }

    /// A file that changed (or appeared) since the last look.
    fn changed(&mut self) -> Option<PathBuf> {
        if self.last_scan.elapsed() < Duration::from_secs(1) {
            return None;
        }
        self.last_scan = Instant::now();
        let now = scan(&self.roots);
        let changed = now
            .iter()
            .find(|(path, mtime)| self.seen.get(*path) != Some(mtime))
            .map(|(path, _)| path.clone());
        self.seen = now;
        changed
    }
}

/// Every .py and .wsgi file below `roots`, skipping hidden directories,
/// __pycache__ and virtualenvs; at most 20,000.
fn scan(roots: &[PathBuf]) -> HashMap<PathBuf, SystemTime> {
    let mut found = HashMap::new();
    let mut pending: Vec<PathBuf> = roots.to_vec();
    while let Some(path) = pending.pop() {
        if found.len() >= 20_000 {
            break;
        }
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name.starts_with('.') || name == "__pycache__" || path.join("pyvenv.cfg").exists() {
                continue;
            }
            if let Ok(entries) = std::fs::read_dir(&path) {
                pending.extend(entries.filter_map(|e| e.ok()).map(|e| e.path()));
            }
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("py" | "wsgi")
        ) {
            if let Ok(mtime) = meta.modified() {
                found.insert(path, mtime);
            }
        }
    }
    found
}
