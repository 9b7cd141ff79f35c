//! Memory shared by Apache's parent, its children, the supervisors and the
//! daemons (mapped before any of them is forked), where each group says
//! how it stands: how many processes are ready and whether they fail to
//! start (so a request to a group that cannot start is answered 503 at
//! once), and for each process how many of its threads are idle (so a
//! child sends a request on a connection kept to a process only while that
//! process can take it, and otherwise through the shared queue, which any
//! idle process of the group serves).

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Process slots per group: its processes and their replacements.
const SLOTS: usize = 64;

#[repr(C)]
struct ProcessSlot {
    pid: AtomicU32,
    idle: AtomicU32,
}

#[repr(C)]
struct GroupStatus {
    ready: AtomicU32,
    failing: AtomicU32,
    /// Of a scope (Apache's children, or a daemon group): the application
    /// group its processes run in their main interpreter, by hash (0 until
    /// the first request, or configuration, claims it).
    primary: AtomicU64,
    /// Of Apache's own scope: how many times the application groups'
    /// manager has started (their sockets are named after it).
    epoch: AtomicU32,
    processes: [ProcessSlot; SLOTS],
}

pub struct StatusPage {
    base: *mut GroupStatus,
    len: usize,
}

// SAFETY: the page holds atomics only, which any thread of any process
// sharing it may use.
unsafe impl Send for StatusPage {}
// SAFETY: as for Send.
unsafe impl Sync for StatusPage {}

impl StatusPage {
    /// A new page for `groups` groups, shared with every process forked
    /// after this.
    pub fn new(groups: usize) -> std::io::Result<Self> {
        let len = (groups.max(1) * std::mem::size_of::<GroupStatus>()).next_multiple_of(4096);
        // SAFETY: a new anonymous shared mapping; zeroed memory is a valid
        // GroupStatus (atomics of 0).
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Self {
            base: base.cast(),
            len,
        })
    }

    fn group(&self, index: usize) -> &GroupStatus {
        assert!((index + 1) * std::mem::size_of::<GroupStatus>() <= self.len);
        // SAFETY: in bounds (asserted) of a mapping that lives as long as
        // self.
        unsafe { &*self.base.add(index) }
    }

    pub fn set(&self, index: usize, ready: u32, failing: bool) {
        let group = self.group(index);
        group.ready.store(ready, Ordering::Release);
        group.failing.store(u32::from(failing), Ordering::Release);
    }

    /// The group has no process ready, because they fail to start.
    pub fn is_failing(&self, index: usize) -> bool {
        let group = self.group(index);
        group.failing.load(Ordering::Acquire) != 0 && group.ready.load(Ordering::Acquire) == 0
    }

    /// Whether application group `name` is the one scope `index` runs in
    /// its processes' main interpreter: it is if it is the first claimed
    /// (by configuration or by the first request). Every process of the
    /// scope, in every child, sees the same answer.
    pub fn claim_primary(&self, index: usize, name: &[u8]) -> PrimaryClaim {
        let hash = group_hash(name);
        let primary = &self.group(index).primary;
        // Every request asks: a plain load keeps the shared line unwritten
        // once the scope is claimed.
        match primary.load(Ordering::Acquire) {
            0 => {}
            current if current == hash => return PrimaryClaim::Held,
            _ => return PrimaryClaim::Other,
        }
        match primary.compare_exchange(0, hash, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => PrimaryClaim::Won,
            Err(current) if current == hash => PrimaryClaim::Held,
            Err(_) => PrimaryClaim::Other,
        }
    }

    pub fn epoch(&self, index: usize) -> u32 {
        self.group(index).epoch.load(Ordering::Acquire)
    }

    /// Moves the epoch on (a new manager); returns the new one.
    pub fn next_epoch(&self, index: usize) -> u32 {
        self.group(index).epoch.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// Takes a slot for process `pid` of group `index` (None when all are
    /// taken: the process then never says it is idle, and children reach it
    /// through the shared queue only).
    pub fn claim(&self, index: usize, pid: u32) -> Option<usize> {
        self.group(index).processes.iter().position(|slot| {
            slot.pid
                .compare_exchange(0, pid, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        })
    }

    /// Frees the slot of `pid`, a process that has ended.
    pub fn release(&self, index: usize, pid: u32) {
        for slot in &self.group(index).processes {
            if slot.pid.load(Ordering::Acquire) == pid {
                slot.idle.store(0, Ordering::Release);
                slot.pid.store(0, Ordering::Release);
            }
        }
    }

    pub fn set_idle(&self, index: usize, slot: usize, idle: u32) {
        self.group(index).processes[slot]
            .idle
            .store(idle, Ordering::Release);
    }

    /// Whether process `pid` of group `index` has an idle thread.
    pub fn has_idle_thread(&self, index: usize, pid: u32) -> bool {
        self.group(index).processes.iter().any(|slot| {
            slot.pid.load(Ordering::Acquire) == pid && slot.idle.load(Ordering::Acquire) > 0
        })
    }
}

/// What a claim of a scope's main interpreter found.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PrimaryClaim {
    /// It was unclaimed: this claim made it the group's.
    Won,
    /// The group had it already.
    Held,
    /// Another group has it.
    Other,
}

/// FNV-1a, with the top bit set so that no name hashes to "unclaimed".
fn group_hash(name: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in name {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash | 1 << 63
}

impl Drop for StatusPage {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`; processes forked since keep
        // their own.
        unsafe { libc::munmap(self.base.cast(), self.len) };
    }
}
