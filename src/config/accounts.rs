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

#[cfg(test)]
mod tests {
    use super::*;

    // Every Linux system has root (uid 0, gid 0) in its databases.

    #[test]
    fn a_user_is_found_by_name_with_its_uid_name_and_home() {
        let root = SystemAccounts.user("root").unwrap();
        assert_eq!(root.written, "root");
        assert_eq!(root.id, 0);
        assert_eq!(root.name.as_deref(), Some("root"));
        assert!(root.home.is_some_and(|home| home.is_absolute()));
    }

    #[test]
    fn a_user_is_found_by_uid_and_written_as_hash_uid() {
        let root = SystemAccounts.user_by_id(0).unwrap();
        assert_eq!(root.written, "#0");
        assert_eq!(root.name.as_deref(), Some("root"));
    }

    #[test]
    fn a_group_is_found_by_name_and_by_gid_with_no_home() {
        let by_name = SystemAccounts.group("root").unwrap();
        assert_eq!((by_name.written.as_str(), by_name.id), ("root", 0));
        assert_eq!(by_name.home, None);
        let by_id = SystemAccounts.group_by_id(0).unwrap();
        assert_eq!(
            (by_id.written.as_str(), by_id.name.as_deref()),
            ("#0", Some("root"))
        );
    }

    #[test]
    fn an_unknown_name_or_id_is_no_account() {
        assert_eq!(SystemAccounts.user("no-such-user-rwsgi"), None);
        assert_eq!(SystemAccounts.group("no-such-group-rwsgi"), None);
        assert_eq!(SystemAccounts.user_by_id(4_000_000_000), None);
        assert_eq!(SystemAccounts.group_by_id(4_000_000_000), None);
    }

    #[test]
    fn a_name_with_a_nul_byte_is_no_account() {
        assert_eq!(SystemAccounts.user("ro\0ot"), None);
        assert_eq!(SystemAccounts.group("ro\0ot"), None);
    }
}
