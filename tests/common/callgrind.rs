//! Counting the instructions a test's Apache executes, with valgrind's
//! callgrind: the benchmark's per-request figures, checked in tests.

use std::fs;
use std::thread::sleep;
use std::time::{Duration, Instant};

use super::{Apache, Gateway, Mpm};

impl Apache {
    /// Starts Apache as one process (-X) under valgrind's callgrind, which
    /// counts every instruction it executes; `stop_counting` stops it and
    /// returns the count. Needs the valgrind package.
    pub fn start_counting(gateway: Gateway, site: &str) -> Apache {
        Self::start_launched(Mpm::Event, gateway, site, true)
    }

    /// Stops an Apache from `start_counting`: the instructions it executed,
    /// in every process it ran (daemon processes forked from it included:
    /// callgrind follows a fork and counts each process in its own file).
    pub fn stop_counting(mut self) -> u64 {
        let out = self
            .callgrind_out
            .clone()
            .expect("started by start_counting");
        // SAFETY: signalling the valgrind process we spawned; Apache -X
        // stops on SIGTERM and callgrind writes its counts on the way out.
        unsafe { libc::kill(self.process.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(120);
        while matches!(self.process.try_wait(), Ok(None)) && Instant::now() < deadline {
            sleep(Duration::from_millis(50));
        }
        // Processes forked from it write their counts as they end.
        let group = self.process.id() as i32;
        // SAFETY: probing (signal 0) the process group we spawned.
        while unsafe { libc::kill(-group, 0) } == 0 && Instant::now() < deadline {
            sleep(Duration::from_millis(50));
        }
        let prefix = out.file_name().unwrap().to_string_lossy().into_owned();
        let mut total = 0;
        let mut files = 0;
        for entry in fs::read_dir(out.parent().unwrap())
            .unwrap()
            .filter_map(|e| e.ok())
        {
            if !entry.file_name().to_string_lossy().starts_with(&prefix) {
                continue;
            }
            let counts = fs::read_to_string(entry.path()).unwrap_or_default();
            if let Some(count) = counts
                .lines()
                .find_map(|line| line.strip_prefix("totals: "))
                .and_then(|total| total.trim().parse::<u64>().ok())
            {
                total += count;
                files += 1;
            }
        }
        assert!(
            files > 0,
            "callgrind wrote no totals to {}.*",
            out.display()
        );
        total
    }
}
