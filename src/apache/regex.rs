//! Apache's own regular expressions (PCRE with RegexDefaultOptions), so that
//! WSGIScriptAliasMatch matches exactly what AliasMatch and mod_wsgi match.

use std::ffi::CString;
use std::sync::Arc;

use super::ffi;
use crate::config::Pattern;

/// The most capture groups a match reports ($0 to $9), as Apache's
/// AP_MAX_REG_MATCH.
const MAX_GROUPS: usize = 10;

/// A compiled pattern. Matching only reads it, so it may be shared between
/// threads.
pub struct Regex {
    raw: Box<ffi::ap_regex_t>,
    pattern: String,
}

// SAFETY: a compiled PCRE pattern is immutable; ap_regexec allocates its
// match data per call, as Apache's threaded MPMs rely on.
unsafe impl Send for Regex {}
// SAFETY: as for Send.
unsafe impl Sync for Regex {}

impl Regex {
    pub fn new(pattern: &str) -> Result<Self, String> {
        let text =
            CString::new(pattern).map_err(|_| "the pattern contains a NUL byte".to_string())?;
        // SAFETY: ap_regex_t is plain data that ap_regcomp fills in.
        let mut raw: Box<ffi::ap_regex_t> = Box::new(unsafe { std::mem::zeroed() });
        // SAFETY: `raw` is writable, the pattern NUL-terminated.
        let status = unsafe { ffi::ap_regcomp(&mut *raw, text.as_ptr(), 0) };
        if status != 0 {
            let mut message = [0u8; 256];
            // SAFETY: ap_regerror writes at most the buffer's size, with a
            // terminating NUL.
            unsafe {
                ffi::ap_regerror(status, &*raw, message.as_mut_ptr().cast(), message.len());
            }
            let end = message
                .iter()
                .position(|&b| b == 0)
                .unwrap_or(message.len());
            return Err(String::from_utf8_lossy(&message[..end]).into_owned());
        }
        Ok(Self {
            raw,
            pattern: pattern.to_string(),
        })
    }

    /// Matches `subject`; the byte ranges of the whole match and of each
    /// group ($0 to $9), None for a group that did not take part.
    pub fn captures(&self, subject: &[u8]) -> Option<Vec<Option<(usize, usize)>>> {
        let subject = CString::new(subject).ok()?;
        let mut matches = [ffi::ap_regmatch_t {
            rm_so: -1,
            rm_eo: -1,
        }; MAX_GROUPS];
        // SAFETY: the pattern was compiled; the subject is NUL-terminated and
        // `matches` holds MAX_GROUPS entries.
        let status = unsafe {
            ffi::ap_regexec(
                &*self.raw,
                subject.as_ptr(),
                MAX_GROUPS,
                matches.as_mut_ptr(),
                0,
            )
        };
        (status == 0).then(|| {
            matches
                .iter()
                .map(|m| {
                    (m.rm_so >= 0 && m.rm_eo >= m.rm_so)
                        .then_some((m.rm_so as usize, m.rm_eo as usize))
                })
                .collect()
        })
    }
}

impl Drop for Regex {
    fn drop(&mut self) {
        // SAFETY: compiled by ap_regcomp, freed once.
        unsafe { ffi::ap_regfree(&mut *self.raw) };
    }
}

impl std::fmt::Debug for Regex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Regex({:?})", self.pattern)
    }
}

impl Pattern for Regex {
    fn captures(&self, subject: &[u8]) -> Option<Vec<Option<(usize, usize)>>> {
        Regex::captures(self, subject)
    }
}

/// WSGIScriptAliasMatch's compiler, handed to the directives in
/// config::Configuring.
pub(super) fn compile_pattern(pattern: &str) -> Result<Arc<dyn Pattern>, String> {
    Ok(Arc::new(Regex::new(pattern)?))
}
