//! What this process has served, counted as requests pass: the counts
//! environ's mod_wsgi.* keys report, and `mod_wsgi.process_metrics()`.

use std::cell::OnceCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Requests begun in this process.
static BEGUN: AtomicU64 = AtomicU64::new(0);
/// Requests finished, and the time the app spent on them.
static FINISHED: AtomicU64 = AtomicU64::new(0);
/// Requests between request_started and their end.
static ACTIVE: AtomicU64 = AtomicU64::new(0);
static BUSY_MICROS: AtomicU64 = AtomicU64::new(0);
/// Each thread that has served, by number (from 1, in the order threads
/// first serve), with its request count.
static THREADS: Mutex<Vec<Arc<AtomicU64>>> = Mutex::new(Vec::new());
/// When the process started counting: its first use of these counters,
/// before its first request.
static STARTED: LazyLock<(Instant, f64)> = LazyLock::new(|| (Instant::now(), wall_time()));

thread_local! {
    /// This thread's number and request count, registered on first use.
    static THREAD: OnceCell<(u64, Arc<AtomicU64>)> = const { OnceCell::new() };
}

/// The numbers of the request now beginning on this thread.
pub struct Begun {
    /// Requests this process began before this one.
    pub process_before: u64,
    pub thread_id: u64,
    /// Requests this thread began before this one.
    pub thread_before: u64,
}

/// Counts a request beginning on this thread.
pub fn request_begins() -> Begun {
    LazyLock::force(&STARTED);
    let process_before = BEGUN.fetch_add(1, Ordering::Relaxed);
    let (thread_id, thread_before) = THREAD.with(|thread| {
        let (id, count) = thread.get_or_init(|| {
            let count = Arc::new(AtomicU64::new(0));
            let mut threads = THREADS.lock().unwrap_or_else(|e| e.into_inner());
            threads.push(count.clone());
            (threads.len() as u64, count)
        });
        (*id, count.fetch_add(1, Ordering::Relaxed))
    });
    Begun {
        process_before,
        thread_id,
        thread_before,
    }
}

/// Counts a request whose app is about to be called, until the returned
/// guard drops.
pub fn request_active() -> Active {
    ACTIVE.fetch_add(1, Ordering::Relaxed);
    Active(())
}

/// A request in progress, counted in `active_requests`.
pub struct Active(());

impl Drop for Active {
    fn drop(&mut self) {
        ACTIVE.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Counts a request finished after the app spent `busy` on it.
pub fn request_finished(busy: Duration) {
    FINISHED.fetch_add(1, Ordering::Relaxed);
    BUSY_MICROS.fetch_add(busy.as_micros() as u64, Ordering::Relaxed);
}

/// The counts as `mod_wsgi.process_metrics()` reports them.
pub struct Snapshot {
    pub requests_finished: u64,
    pub requests_active: u64,
    pub busy: Duration,
    /// Each serving thread's number and request count.
    pub threads: Vec<(u64, u64)>,
    /// The process's start, in seconds since the epoch, and its age.
    pub start_time: f64,
    pub running: Duration,
}

pub fn snapshot() -> Snapshot {
    let (started, start_time) = *STARTED;
    let finished = FINISHED.load(Ordering::Relaxed);
    let threads = THREADS.lock().unwrap_or_else(|e| e.into_inner());
    Snapshot {
        requests_finished: finished,
        requests_active: ACTIVE.load(Ordering::Relaxed),
        busy: Duration::from_micros(BUSY_MICROS.load(Ordering::Relaxed)),
        threads: threads
            .iter()
            .enumerate()
            .map(|(i, count)| (i as u64 + 1, count.load(Ordering::Relaxed)))
            .collect(),
        start_time,
        running: started.elapsed(),
    }
}

/// Seconds since the epoch.
pub fn wall_time() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// This process's resident memory, in bytes.
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf only reads.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).ok()?)
}

/// The process's peak resident memory in bytes, and its user and system
/// CPU time in seconds.
pub fn resource_usage() -> (u64, f64, f64) {
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (
        u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024,
        seconds(usage.ru_utime),
        seconds(usage.ru_stime),
    )
}
