//! Users and groups from the system's databases (getpwnam, getgrnam), for
//! WSGIDaemonProcess's user=, group= and friends: resolved when the
//! configuration is read, so a wrong name fails `apachectl -t`.

use std::ffi::{CStr, CString, c_char};
use std::mem::MaybeUninit;
use std::path::PathBuf;

use super::daemon::{Account, Accounts};

pub struct SystemAccounts;

/// Room for one passwd or group entry's strings.
const BUFFER: usize = 16 * 1024;

fn string(ptr: *const c_char) -> Option<String> {
    (!ptr.is_null()).then(|| {
        // SAFETY: getpw*_r/getgr*_r fill their entry with NUL-terminated
        // strings inside the caller's buffer, alive while this reads them.
        unsafe { CStr::from_ptr(ptr) }
            .to_string_lossy()
            .into_owned()
    })
}

fn passwd(
    written: &str,
    lookup: impl FnOnce(*mut libc::passwd, &mut [c_char], *mut *mut libc::passwd) -> i32,
) -> Option<Account> {
    let mut entry = MaybeUninit::<libc::passwd>::zeroed();
    let mut buffer = vec![0 as c_char; BUFFER];
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    if lookup(entry.as_mut_ptr(), &mut buffer, &mut found) != 0 || found.is_null() {
        return None;
    }
    // SAFETY: the lookup succeeded and filled `entry`.
    let entry = unsafe { entry.assume_init() };
    Some(Account {
        written: written.to_string(),
        id: entry.pw_uid,
        name: string(entry.pw_name),
        home: string(entry.pw_dir).map(PathBuf::from),
    })
}

fn group(
    written: &str,
    lookup: impl FnOnce(*mut libc::group, &mut [c_char], *mut *mut libc::group) -> i32,
) -> Option<Account> {
    let mut entry = MaybeUninit::<libc::group>::zeroed();
    let mut buffer = vec![0 as c_char; BUFFER];
    let mut found: *mut libc::group = std::ptr::null_mut();
    if lookup(entry.as_mut_ptr(), &mut buffer, &mut found) != 0 || found.is_null() {
        return None;
    }
    // SAFETY: the lookup succeeded and filled `entry`.
    let entry = unsafe { entry.assume_init() };
    Some(Account {
        written: written.to_string(),
        id: entry.gr_gid,
        name: string(entry.gr_name),
        home: None,
    })
}

impl Accounts for SystemAccounts {
    fn user(&self, name: &str) -> Option<Account> {
        let c_name = CString::new(name).ok()?;
        passwd(name, |entry, buffer, found| {
            // SAFETY: every pointer is valid for the call; the buffer's
            // length is passed with it.
            unsafe {
                libc::getpwnam_r(
                    c_name.as_ptr(),
                    entry,
                    buffer.as_mut_ptr(),
                    buffer.len(),
                    found,
                )
            }
        })
    }

    fn user_by_id(&self, id: u32) -> Option<Account> {
        passwd(&format!("#{id}"), |entry, buffer, found| {
            // SAFETY: as above.
            unsafe { libc::getpwuid_r(id, entry, buffer.as_mut_ptr(), buffer.len(), found) }
        })
    }

    fn group(&self, name: &str) -> Option<Account> {
        let c_name = CString::new(name).ok()?;
        group(name, |entry, buffer, found| {
            // SAFETY: as above.
            unsafe {
                libc::getgrnam_r(
                    c_name.as_ptr(),
                    entry,
                    buffer.as_mut_ptr(),
                    buffer.len(),
                    found,
                )
            }
        })
    }

    fn group_by_id(&self, id: u32) -> Option<Account> {
        group(&format!("#{id}"), |entry, buffer, found| {
            // SAFETY: as above.
            unsafe { libc::getgrgid_r(id, entry, buffer.as_mut_ptr(), buffer.len(), found) }
        })
    }
}
