//! The CGI names that nearly every request's environ carries, and a memory
//! of the last value seen under each (the gateway keeps one per worker
//! thread), so that it can reuse the string it made for it. What a client
//! sends cannot grow either: other names are not kept, nor are long values,
//! and a value is reused only for exactly the same bytes.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

/// The names kept, sorted (checked at compile time) so that a duplicate
/// cannot hide.
pub const NAMES: [&str; 59] = [
    "AUTH_TYPE",
    "CONTENT_LENGTH",
    "CONTENT_TYPE",
    "CONTEXT_DOCUMENT_ROOT",
    "CONTEXT_PREFIX",
    "DOCUMENT_ROOT",
    "GATEWAY_INTERFACE",
    "HTTPS",
    "HTTP_ACCEPT",
    "HTTP_ACCEPT_ENCODING",
    "HTTP_ACCEPT_LANGUAGE",
    "HTTP_CACHE_CONTROL",
    "HTTP_CONNECTION",
    "HTTP_COOKIE",
    "HTTP_DNT",
    "HTTP_HOST",
    "HTTP_IF_MODIFIED_SINCE",
    "HTTP_IF_NONE_MATCH",
    "HTTP_ORIGIN",
    "HTTP_PRAGMA",
    "HTTP_REFERER",
    "HTTP_SEC_FETCH_DEST",
    "HTTP_SEC_FETCH_MODE",
    "HTTP_SEC_FETCH_SITE",
    "HTTP_UPGRADE_INSECURE_REQUESTS",
    "HTTP_USER_AGENT",
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_REQUESTED_WITH",
    "PATH_INFO",
    "PATH_TRANSLATED",
    "QUERY_STRING",
    "REMOTE_ADDR",
    "REMOTE_PORT",
    "REMOTE_USER",
    "REQUEST_METHOD",
    "REQUEST_SCHEME",
    "REQUEST_URI",
    "SCRIPT_FILENAME",
    "SCRIPT_NAME",
    "SERVER_ADDR",
    "SERVER_ADMIN",
    "SERVER_NAME",
    "SERVER_PORT",
    "SERVER_PROTOCOL",
    "SERVER_SIGNATURE",
    // mod_wsgi's own that Apache's child adds to every request (most
    // constant for a location; the times and the hop's counts to a daemon
    // change, but their names are made once too).
    "mod_wsgi.daemon_connects",
    "mod_wsgi.daemon_restarts",
    "mod_wsgi.daemon_start",
    "mod_wsgi.handler_script",
    "mod_wsgi.ignore_activity",
    "mod_wsgi.listener_host",
    "mod_wsgi.listener_port",
    "mod_wsgi.process_group",
    "mod_wsgi.queue_start",
    "mod_wsgi.request_handler",
    "mod_wsgi.request_start",
    "mod_wsgi.script_reloading",
];

const _: () = assert!(strictly_sorted(&NAMES), "NAMES must stay sorted");

// Used by the assertion above, which rustc 1.85 (Debian trixie's, the
// crate's minimum) does not count as a use.
#[allow(dead_code)]
const fn strictly_sorted(names: &[&str]) -> bool {
    let mut i = 1;
    while i < names.len() {
        let (a, b) = (names[i - 1].as_bytes(), names[i].as_bytes());
        let mut j = 0;
        loop {
            if j == a.len() || j == b.len() {
                if a.len() >= b.len() {
                    return false;
                }
                break;
            }
            if a[j] != b[j] {
                if a[j] > b[j] {
                    return false;
                }
                break;
            }
            j += 1;
        }
        i += 1;
    }
    true
}

/// Values longer than this (cookies, long query strings) are not kept.
pub const LONGEST_KEPT_VALUE: usize = 256;

/// Where `name` is in [`NAMES`], if it is there.
pub fn name_index(name: &[u8]) -> Option<usize> {
    static INDEX: OnceLock<HashMap<&'static [u8], usize, BuildHasherDefault<Fnv1a>>> =
        OnceLock::new();
    INDEX
        .get_or_init(|| {
            NAMES
                .iter()
                .enumerate()
                .map(|(i, n)| (n.as_bytes(), i))
                .collect()
        })
        .get(name)
        .copied()
}

/// The value a gateway made for each name, with the bytes it was made from.
#[derive(Debug)]
pub struct LastValues<T> {
    slots: Vec<Option<(Box<[u8]>, T)>>,
}

/// What [`LastValues::get`] gives: the kept value, or one just made.
#[derive(Debug, PartialEq, Eq)]
pub enum Value<'a, T> {
    Kept(&'a T),
    Made(T),
}

impl<T> Default for LastValues<T> {
    fn default() -> Self {
        Self {
            slots: (0..NAMES.len()).map(|_| None).collect(),
        }
    }
}

impl<T> LastValues<T> {
    /// The value for `bytes` under the name at `index` in [`NAMES`]: the
    /// kept one when it was made from the same bytes, else one made by
    /// `make` (and kept, when short enough).
    pub fn get<E>(
        &mut self,
        index: usize,
        bytes: &[u8],
        make: impl FnOnce(&[u8]) -> Result<T, E>,
    ) -> Result<Value<'_, T>, E> {
        if bytes.len() > LONGEST_KEPT_VALUE {
            return make(bytes).map(Value::Made);
        }
        let slot = &mut self.slots[index];
        if !matches!(slot, Some((kept, _)) if **kept == *bytes) {
            *slot = Some((bytes.into(), make(bytes)?));
        }
        let (_, value) = slot.as_ref().expect("filled above");
        Ok(Value::Kept(value))
    }
}

/// FNV-1a: the names are short and fixed, so a simple hash serves better
/// than SipHash's protection against chosen keys (a miss costs one probe).
#[derive(Default)]
struct Fnv1a(u64);

impl Hasher for Fnv1a {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut hash = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &byte in bytes {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = hash;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_found_at_its_place_and_nothing_else_is() {
        for (i, name) in NAMES.iter().enumerate() {
            assert_eq!(name_index(name.as_bytes()), Some(i));
        }
        assert_eq!(name_index(b"HTTP_X_ANYTHING"), None);
        assert_eq!(name_index(b"http_host"), None);
        assert_eq!(name_index(b""), None);
    }

    #[test]
    fn a_value_is_reused_only_for_the_same_bytes() {
        let mut last = LastValues::default();
        let made = |b: &[u8]| Ok::<_, ()>(b.to_vec());
        let host = name_index(b"HTTP_HOST").unwrap();
        assert_eq!(
            last.get(host, b"a.example", made),
            Ok(Value::Kept(&b"a.example".to_vec()))
        );
        let mut calls = 0;
        let counted = |b: &[u8]| {
            calls += 1;
            Ok::<_, ()>(b.to_vec())
        };
        assert_eq!(
            last.get(host, b"a.example", counted).unwrap(),
            Value::Kept(&b"a.example".to_vec())
        );
        assert_eq!(calls, 0, "the kept value was made again");
        assert_eq!(
            last.get(host, b"b.example", made).unwrap(),
            Value::Kept(&b"b.example".to_vec())
        );
        assert_eq!(
            last.get(host, b"a.exampl", made).unwrap(),
            Value::Kept(&b"a.exampl".to_vec())
        );
    }

    #[test]
    fn long_values_are_made_each_time_and_not_kept() {
        let mut last = LastValues::default();
        let long = vec![b'x'; LONGEST_KEPT_VALUE + 1];
        let cookie = name_index(b"HTTP_COOKIE").unwrap();
        let made = |b: &[u8]| Ok::<_, ()>(b.len());
        assert_eq!(last.get(cookie, &long, made), Ok(Value::Made(long.len())));
        assert_eq!(last.get(cookie, b"short", made), Ok(Value::Kept(&5)));
    }

    #[test]
    fn a_failed_make_keeps_nothing() {
        let mut last: LastValues<Vec<u8>> = LastValues::default();
        let host = name_index(b"HTTP_HOST").unwrap();
        assert_eq!(last.get(host, b"x", |_| Err("no")), Err("no"));
        let mut made = false;
        let _ = last.get(host, b"x", |b| {
            made = true;
            Ok::<_, ()>(b.to_vec())
        });
        assert!(made, "a failed make left something kept");
    }
}
