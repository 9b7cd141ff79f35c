//! mod_wsgi's application groups. mod_wsgi gives each group its own Python
//! sub-interpreter; mod_rwsgi runs one group in a process's main
//! interpreter (where C extensions work) and every other in a process of
//! its own (`daemon::manager`). Where that cannot be (no socket for those
//! processes), groups share the main interpreter, and this says so once
//! per process.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use super::exchange::Exchange;
use crate::apache::Level;

/// The first group this process served.
static FIRST_GROUP: OnceLock<Vec<u8>> = OnceLock::new();
/// Whether a second group has been reported.
static SHARING_REPORTED: AtomicBool = AtomicBool::new(false);

/// Notes that `group` is served by this process; the first time a second,
/// different group appears, logs that they share one interpreter. Every
/// request passes here, so it takes no lock once the first group is known.
pub fn note_served(group: &[u8], exchange: &dyn Exchange) {
    let first = FIRST_GROUP.get_or_init(|| group.to_vec());
    if first.as_slice() == group || SHARING_REPORTED.swap(true, Ordering::Relaxed) {
        return;
    }
    exchange.log(
        Level::Notice,
        &format!(
            "mod_rwsgi: application groups '{}' and '{}' share this process's one Python interpreter (mod_wsgi would give each its own sub-interpreter); modules and globals are shared between them",
            String::from_utf8_lossy(first),
            String::from_utf8_lossy(group)
        ),
    );
}
