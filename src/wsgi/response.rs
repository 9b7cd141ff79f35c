//! The response being sent: the status and headers from start_response,
//! sent with the first non-empty block (or at the end), then each block
//! passed to Apache with the GIL released.

use std::os::fd::RawFd;
use std::sync::Mutex;

use pyo3::exceptions::{PyOSError, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::exchange::{ClientGone, Ended, Exchange, SharedExchange};
use super::request_ended;
use crate::apache::{Level, LogId};

/// A validated status and header list.
pub struct Head {
    pub code: u16,
    pub status_line: Vec<u8>,
    /// Latin-1 names and values, already checked for control characters.
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    pub content_length: Option<u64>,
}

pub struct Response {
    exchange: SharedExchange,
    /// WSGIEnableSendfile for files; None: as Apache's EnableSendfile.
    sendfile: Option<bool>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    head: Option<Head>,
    headers_sent: bool,
    /// The Content-Length in force: the app's, or one we computed.
    length: Option<u64>,
    body_sent: u64,
    client_gone: bool,
    /// WSGIErrorOverride On: an error status is answered by Apache (its
    /// ErrorDocument), not with the app's body.
    error_override: bool,
    /// The head of an error response handed to Apache that way.
    overridden: Option<Head>,
    /// The only block of a small response, kept to be sent after the GIL is
    /// released (see [`Deferred`]).
    deferred: Option<Deferred>,
}

/// The largest only-block body copied for sending after the GIL is
/// released; a larger one is kept by reference to the app's bytes instead.
const COPY_LIMIT: usize = 16 * 1024;

/// A whole one-block response (head and body) that the handler sends once
/// the app is done and the GIL is released, saving a GIL hand-off per
/// request.
pub struct Deferred {
    head: Option<Head>,
    length: Option<u64>,
    body: DeferredBody,
}

enum DeferredBody {
    /// A small body, copied: cheaper than keeping a Python reference, whose
    /// release would need the GIL again.
    Copied(Vec<u8>),
    /// The first `take` bytes of the app's bytes object. A bytes object is
    /// immutable and this reference keeps it alive, so it can be read
    /// without the GIL; dropped without the GIL, pyo3 releases it the next
    /// time a thread takes the GIL.
    Kept { bytes: Py<PyBytes>, take: usize },
}

impl Deferred {
    /// Sends it; Apache ends the response when the handler returns.
    pub fn send(self, e: &dyn Exchange) {
        if let Some(head) = &self.head {
            e.send_head(head, self.length);
        }
        // A large body is flushed, as any large block is: written out from
        // the app's bytes instead of Apache copying what the socket did not
        // take at once.
        let written = match &self.body {
            DeferredBody::Copied(body) => body.is_empty() || e.write_body(body, false).is_ok(),
            DeferredBody::Kept { bytes, take } => {
                // SAFETY: reading the buffer of an immutable bytes object that
                // `bytes` keeps alive; no GIL is needed to read it.
                let data = unsafe { kept_bytes(bytes, *take) };
                e.write_body(data, true).is_ok()
            }
        };
        if !written {
            e.log(
                Level::Info,
                "mod_rwsgi: the client closed the connection before the response was complete",
            );
        }
    }
}

/// The first `take` bytes of `bytes`, read without the GIL.
///
/// # Safety
/// `take` is at most the object's size; the slice must not outlive `bytes`.
unsafe fn kept_bytes(bytes: &Py<PyBytes>, take: usize) -> &[u8] {
    let object = bytes.as_ptr();
    // SAFETY: `object` is a live bytes object (the reference keeps it);
    // PyBytes_AsString returns its buffer, which never moves or changes,
    // without touching the refcount or raising (it is a bytes object).
    unsafe {
        let data = pyo3::ffi::PyBytes_AsString(object);
        std::slice::from_raw_parts(data.cast::<u8>(), take)
    }
}

/// A block of body the state has let through: its length, and the head to
/// send before it when it is the first.
struct Claim {
    head: Option<Head>,
    length: Option<u64>,
    take: u64,
}

impl State {
    /// Lets through up to `len` more body bytes under the Content-Length in
    /// force. None when nothing needs to reach Apache.
    fn claim(&mut self, len: u64) -> Option<Claim> {
        if self.overridden.is_some() || self.override_error() {
            return None;
        }
        let allowed = self
            .length
            .map_or(u64::MAX, |length| length.saturating_sub(self.body_sent));
        let take = len.min(allowed);
        if take == 0 && self.headers_sent {
            return None;
        }
        self.body_sent += take;
        Some(Claim {
            head: self.head_to_send(),
            length: self.length,
            take,
        })
    }

    /// Under WSGIErrorOverride, takes an error head that has not gone out
    /// away from the response: nothing of it will be sent.
    fn override_error(&mut self) -> bool {
        let is_error = self.head.as_ref().is_some_and(|head| head.code >= 400);
        if self.error_override && is_error && !self.headers_sent {
            self.overridden = self.head.take();
            self.headers_sent = true;
            return true;
        }
        false
    }

    /// The head, the first time it is asked for: it goes out exactly once.
    fn head_to_send(&mut self) -> Option<Head> {
        let head = if self.headers_sent {
            None
        } else {
            self.head.take()
        };
        self.headers_sent = true;
        head
    }
}

impl Response {
    pub fn new(exchange: SharedExchange, sendfile: Option<bool>, error_override: bool) -> Self {
        Self {
            exchange,
            sendfile,
            state: Mutex::new(State {
                error_override,
                ..State::default()
            }),
        }
    }

    /// The error status handed to Apache under WSGIErrorOverride.
    pub fn overridden_status(&self) -> Option<u16> {
        self.state().overridden.as_ref().map(|head| head.code)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the client has (or will have) the status and headers.
    pub fn headers_sent(&self) -> bool {
        let state = self.state();
        state.headers_sent && state.overridden.is_none() && state.deferred.is_none()
    }

    pub fn client_gone(&self) -> bool {
        self.state().client_gone
    }

    pub fn log(&self, level: Level, message: &str) {
        let _ = self.exchange.with(|e| e.log(level, message));
    }

    /// Records the status and headers of start_response().
    pub fn start(&self, head: Head) -> PyResult<()> {
        if self.exchange.has_ended() {
            return Err(request_ended("start_response()"));
        }
        let mut state = self.state();
        if state.headers_sent {
            return Err(PyRuntimeError::new_err(
                "start_response() called again after the headers were sent",
            ));
        }
        // mod_wsgi lets an app call start_response() again before any output,
        // with or without exc_info; the last call wins.
        state.length = head.content_length;
        state.head = Some(head);
        Ok(())
    }

    /// Gives a one-block response a Content-Length when the app set none.
    pub fn set_length_if_unset(&self, length: u64) {
        let mut state = self.state();
        if state.head.is_some() && state.length.is_none() && !state.headers_sent {
            state.length = Some(length);
        }
    }

    /// Sends one block of the body (with the headers first, if not yet sent),
    /// cut at the Content-Length the app declared, and flushes it to the
    /// client before the app is asked for more.
    pub fn write(&self, py: Python<'_>, data: &[u8]) -> PyResult<()> {
        let claim = {
            let mut state = self.started()?;
            if data.is_empty() {
                return Ok(());
            }
            state.claim(data.len() as u64)
        };
        self.send(py, claim, |e, take| {
            e.write_body(&data[..take as usize], true)
        })
    }

    /// Sends the body's only block: kept for the handler to send after the
    /// GIL is released (Apache ends the response and writes it out when the
    /// handler returns), so the app's thread need not take the GIL again.
    pub fn write_only_block(&self, py: Python<'_>, block: &Bound<'_, PyBytes>) -> PyResult<()> {
        let data = block.as_bytes();
        {
            let mut state = self.started()?;
            if state.deferred.is_none() && !state.headers_sent && !state.override_error() {
                if let Some(claim) = state.claim(data.len() as u64) {
                    let take = claim.take as usize;
                    let body = if take <= COPY_LIMIT {
                        DeferredBody::Copied(data[..take].to_vec())
                    } else {
                        DeferredBody::Kept {
                            bytes: block.clone().unbind(),
                            take,
                        }
                    };
                    state.deferred = Some(Deferred {
                        head: claim.head,
                        length: claim.length,
                        body,
                    });
                    return Ok(());
                }
            }
        }
        self.write(py, data)
    }

    /// The kept one-block response, for the handler to send.
    pub fn take_deferred(&self) -> Option<Deferred> {
        self.state().deferred.take()
    }

    /// Sends `available` bytes of the open file `fd` from `offset` (cut at
    /// the app's Content-Length, or giving the response that length).
    pub fn write_file(
        &self,
        py: Python<'_>,
        fd: RawFd,
        offset: u64,
        available: u64,
    ) -> PyResult<()> {
        let claim = {
            let mut state = self.started()?;
            if !state.headers_sent && state.length.is_none() {
                state.length = Some(available);
            }
            state.claim(available)
        };
        let sendfile = self.sendfile;
        self.send(py, claim, |e, take| {
            e.write_file(fd, offset, take, sendfile)
        })
    }

    /// The state, once start_response() has been called.
    fn started(&self) -> PyResult<std::sync::MutexGuard<'_, State>> {
        let state = self.state();
        if state.head.is_none() && !state.headers_sent {
            return Err(PyRuntimeError::new_err(
                "start_response() must be called before the response body is sent",
            ));
        }
        Ok(state)
    }

    /// Passes a claimed block to Apache with the GIL released: the head
    /// first if it has not gone out, then `body` for the claimed length.
    fn send(
        &self,
        py: Python<'_>,
        claim: Option<Claim>,
        body: impl FnOnce(&dyn Exchange, u64) -> Result<(), ClientGone> + Send,
    ) -> PyResult<()> {
        let Some(claim) = claim else {
            // Nothing reaches Apache, whose answer would say whether the
            // request is still there: ask directly.
            return if self.exchange.has_ended() {
                Err(request_ended("write()"))
            } else {
                Ok(())
            };
        };
        let exchange = &self.exchange;
        let result = py.detach(|| {
            exchange.with(|e| {
                if let Some(head) = &claim.head {
                    e.send_head(head, claim.length);
                }
                if claim.take == 0 {
                    Ok(())
                } else {
                    body(e, claim.take)
                }
            })
        });
        self.check_sent(result)
    }

    /// Ends the response: sends the headers if nothing was sent yet, and
    /// closes the connection if the body fell short of its Content-Length.
    pub fn finish(&self, py: Python<'_>) -> PyResult<()> {
        let (deferred, head, length, sent) = {
            let mut state = self.state();
            if state.head.is_none() && !state.headers_sent {
                return Err(PyRuntimeError::new_err(
                    "the application returned without calling start_response()",
                ));
            }
            if state.overridden.is_some() || state.override_error() {
                drop(state);
                return self.hand_error_to_apache(py);
            }
            let short = matches!(state.length, Some(length) if state.body_sent < length);
            if state.deferred.is_some() && !short {
                // The handler sends it, complete, after the GIL is released.
                return Ok(());
            }
            // Cut short: a kept block goes out now (without holding the
            // state across the GIL release), then the connection is closed.
            let deferred = state.deferred.take();
            let head = if deferred.is_some() {
                None
            } else {
                state.head_to_send()
            };
            (deferred, head, state.length, state.body_sent)
        };
        if let Some(deferred) = deferred {
            let exchange = &self.exchange;
            py.detach(|| exchange.with(|e| deferred.send(e)))
                .map_err(|_| request_ended("the response"))?;
        }
        // A complete response needs no I/O here: once the handler returns,
        // Apache sends the end of the response (and the headers, for an
        // empty body) itself, so the GIL is kept.
        let exchange = &self.exchange;
        let complete = exchange
            .with(|e| {
                if let Some(head) = &head {
                    e.send_head(head, length);
                }
                !matches!(length, Some(length) if sent < length && !e.is_header_only())
            })
            .map_err(|_| request_ended("the response"))?;
        if complete {
            return Ok(());
        }
        let result = py.detach(|| {
            exchange.with(|e| {
                e.log(Level::Error(LogId("RW0405")), &format!("mod_rwsgi: the response body ({sent} bytes) is shorter than its Content-Length ({}); closing the connection", length.unwrap_or_default()));
                e.abort_body();
                Ok(())
            })
        });
        self.check_sent(result)
    }

    /// Leaves the overridden error to Apache, keeping the app's
    /// WWW-Authenticate challenge, without which a 401 is useless.
    fn hand_error_to_apache(&self, py: Python<'_>) -> PyResult<()> {
        let challenges: Vec<Vec<u8>> = self
            .state()
            .overridden
            .iter()
            .flat_map(|head| &head.headers)
            .filter(|(name, _)| name.eq_ignore_ascii_case(b"www-authenticate"))
            .map(|(_, value)| value.clone())
            .collect();
        let exchange = &self.exchange;
        let kept = py.detach(|| {
            exchange.with(|e| {
                for challenge in &challenges {
                    e.add_error_header(b"WWW-Authenticate", challenge);
                }
            })
        });
        kept.map_err(|_| request_ended("start_response()"))
    }

    /// Cuts the response short after an error once the headers are out.
    pub fn abort(&self, py: Python<'_>) {
        let exchange = &self.exchange;
        let _ = py.detach(|| exchange.with(|e| e.abort_body()));
    }

    fn check_sent(&self, result: Result<Result<(), ClientGone>, Ended>) -> PyResult<()> {
        match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => {
                self.state().client_gone = true;
                Err(PyOSError::new_err(
                    "mod_rwsgi: failed to write the response: the client closed the connection",
                ))
            }
            Err(_) => Err(request_ended("write()")),
        }
    }
}
