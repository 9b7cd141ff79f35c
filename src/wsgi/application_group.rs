//! mod_wsgi's application groups. mod_wsgi gives each group its own Python
//! sub-interpreter; mod_rwsgi runs every application of a process in its one
//! main interpreter (where C extensions work), reports the group mod_wsgi
//! would have chosen in environ, and says once per process when two groups
//! end up sharing it.

use std::ffi::CString;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::apache::{Level, Request};

/// Expands a WSGIApplicationGroup value for `request`, as mod_wsgi does.
pub fn expand(spec: &str, request: &Request<'_>, script_name: &[u8]) -> Vec<u8> {
    let with_port = |host: &[u8]| -> Vec<u8> {
        let mut name = host.to_vec();
        let port = request.server_port();
        if port != 80 && port != 443 {
            name.extend_from_slice(format!(":{port}").as_bytes());
        }
        name
    };
    match spec {
        "%{GLOBAL}" => Vec::new(),
        "%{SERVER}" => with_port(request.server().hostname()),
        "%{HOST}" => {
            let host = match request.hostname() {
                b"" => request.server().hostname(),
                host => host,
            };
            with_port(host)
        }
        "%{RESOURCE}" => {
            let mut name = with_port(request.server().hostname());
            name.push(b'|');
            name.extend_from_slice(script_name);
            name
        }
        _ => match spec
            .strip_prefix("%{ENV:")
            .and_then(|rest| rest.strip_suffix('}'))
        {
            Some(variable) => match environment_value(request, variable) {
                // A variable may itself name one of the groups above.
                Some(value) if value.starts_with(b"%{") && !value.starts_with(b"%{ENV:") => {
                    match std::str::from_utf8(&value) {
                        Ok(inner) => expand(inner, request, script_name),
                        Err(_) => value,
                    }
                }
                Some(value) => value,
                // mod_wsgi then uses the text as written, as a name.
                None => spec.as_bytes().to_vec(),
            },
            None => spec.as_bytes().to_vec(),
        },
    }
}

/// A variable from the request's environment (SetEnv, mod_rewrite), its
/// notes, or the process environment.
fn environment_value(request: &Request<'_>, name: &str) -> Option<Vec<u8>> {
    let key = CString::new(name).ok()?;
    request
        .subprocess_env()
        .get(&key)
        .or_else(|| request.notes().get(&key))
        .map(<[u8]>::to_vec)
        .or_else(|| std::env::var_os(name).map(|v| v.into_encoded_bytes()))
}

/// The first group this process served.
static FIRST_GROUP: OnceLock<Vec<u8>> = OnceLock::new();
/// Whether a second group has been reported.
static SHARING_REPORTED: AtomicBool = AtomicBool::new(false);

/// Notes that `group` is served by this process; the first time a second,
/// different group appears, logs that they share one interpreter. Every
/// request passes here, so it takes no lock once the first group is known.
pub fn note_served(group: &[u8], request: &Request<'_>) {
    let first = FIRST_GROUP.get_or_init(|| group.to_vec());
    if first.as_slice() == group || SHARING_REPORTED.swap(true, Ordering::Relaxed) {
        return;
    }
    request.log(
        Level::Notice,
        &format!(
            "mod_rwsgi: application groups '{}' and '{}' share this process's one Python interpreter (mod_wsgi would give each its own sub-interpreter); modules and globals are shared between them",
            String::from_utf8_lossy(first),
            String::from_utf8_lossy(group)
        ),
    );
}
