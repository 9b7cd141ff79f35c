//! A page of memory shared by Apache's parent, its children and the
//! supervisors (mapped before any of them is forked), on which each
//! supervisor says how its group stands: how many processes are ready, and
//! whether they are failing to start. An Apache child reads it before
//! connecting, so that a request to a group whose processes cannot start is
//! answered 503 at once instead of waiting out a timeout.

use std::sync::atomic::{AtomicU32, Ordering};

#[repr(C)]
struct GroupStatus {
    ready: AtomicU32,
    failing: AtomicU32,
}

pub struct StatusPage {
    base: *mut GroupStatus,
    len: usize,
}

// SAFETY: the page holds atomics only, which any thread of any process
// sharing it may use.
unsafe impl Send for StatusPage {}
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
}

impl Drop for StatusPage {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`; processes forked since keep
        // their own.
        unsafe { libc::munmap(self.base.cast(), self.len) };
    }
}
