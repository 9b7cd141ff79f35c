//! The processes of a test's Apache as /proc shows them, for daemon mode:
//! its supervisors (children of Apache's parent) and their daemons.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use super::Apache;

/// One process, read from /proc.
#[derive(Clone, Debug)]
pub struct Process {
    pub pid: u32,
    pub ppid: u32,
    pub uid: u32,
    /// The command line, its NULs as spaces (as `ps` shows it).
    pub command: String,
    pub rss_kib: u64,
}

/// Every process on the machine.
pub fn all() -> Vec<Process> {
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").expect("/proc").filter_map(|e| e.ok()) {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let status = fs::read_to_string(entry.path().join("status")).unwrap_or_default();
        let field = |name: &str, nth: usize| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(nth))
                .and_then(|v| v.parse::<u64>().ok())
        };
        let command = fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let command = String::from_utf8_lossy(&command)
            .replace('\0', " ")
            .trim()
            .to_string();
        found.push(Process {
            pid,
            ppid: field("PPid:", 1).unwrap_or(0) as u32,
            uid: field("Uid:", 1).unwrap_or(u64::MAX) as u32,
            command,
            rss_kib: field("VmRSS:", 1).unwrap_or(0),
        });
    }
    found
}

impl Apache {
    /// The daemon processes (children of this Apache's supervisors).
    pub fn daemons(&self) -> Vec<Process> {
        let all = all();
        let supervisors: Vec<u32> = all
            .iter()
            .filter(|p| p.ppid == self.parent_pid() && p.command.ends_with("supervisor"))
            .map(|p| p.pid)
            .collect();
        all.into_iter()
            .filter(|p| supervisors.contains(&p.ppid))
            .collect()
    }

    /// The supervisors of this Apache's daemon process groups.
    pub fn supervisors(&self) -> Vec<Process> {
        all()
            .into_iter()
            .filter(|p| p.ppid == self.parent_pid() && p.command.ends_with("supervisor"))
            .collect()
    }

    /// Waits until `count` daemon processes run (at most 20 s); returns them.
    pub fn wait_for_daemons(&self, count: usize) -> Vec<Process> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let daemons = self.daemons();
            if daemons.len() == count || Instant::now() > deadline {
                return daemons;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// key<TAB>value lines (what process_probe.wsgi answers) as pairs.
pub fn fields(text: &str) -> std::collections::BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| line.split_once('\t'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// What /proc says of one of the Apache parent's children.
pub struct ChildProcess {
    pub pid: u32,
    pub rss_kib: u64,
    pub open_fds: usize,
}

impl Apache {
    /// The parent's children that serve requests (not mod_rwsgi's
    /// supervisors and manager), as /proc shows them now.
    pub fn children(&self) -> Vec<ChildProcess> {
        let parent = u64::from(self.parent_pid());
        let mut children = Vec::new();
        for entry in fs::read_dir("/proc").expect("/proc").filter_map(|e| e.ok()) {
            let status = fs::read_to_string(entry.path().join("status")).unwrap_or_default();
            let field = |name: &str| {
                status
                    .lines()
                    .find(|l| l.starts_with(name))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse::<u64>().ok())
            };
            let command = fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let command = String::from_utf8_lossy(&command).replace('\0', " ");
            let ours = command.starts_with("mod_rwsgi ") || command.trim().ends_with(" supervisor");
            if field("PPid:") == Some(parent) && !ours {
                children.push(ChildProcess {
                    pid: entry.file_name().to_string_lossy().parse().unwrap_or(0),
                    rss_kib: field("VmRSS:").unwrap_or(0),
                    open_fds: fs::read_dir(entry.path().join("fd"))
                        .map(|d| d.count())
                        .unwrap_or(0),
                });
            }
        }
        children
    }
}

/// Talks to a daemon-side socket (a process group's, the application
/// group manager's) as a local process that is not Apache would: reads
/// the challenge, answers with a proof made without the secret, and
/// returns what comes back before the connection ends.
pub fn forged_connection(socket: &Path) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut forged = std::os::unix::net::UnixStream::connect(socket).unwrap();
    forged
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut challenge = [0u8; 5 + 36];
    forged.read_exact(&mut challenge).unwrap();
    let mut proof = vec![32, 0, 0, 0, 1];
    proof.extend_from_slice(&[0u8; 32]);
    forged.write_all(&proof).unwrap();
    let mut rest = Vec::new();
    let _ = forged.read_to_end(&mut rest);
    rest
}
