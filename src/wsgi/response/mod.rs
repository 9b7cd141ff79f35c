//! The response being sent: the status and headers from start_response,
//! sent with the first non-empty block (or at the end), then each block
//! passed to Apache with the GIL released.

mod state;

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use pyo3::exceptions::{PyOSError, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::exchange::{ClientGone, Ended, Exchange, SharedExchange};
use super::request_ended;
use crate::apache::{Level, LogId};
pub use state::Head;
use state::{Claim, Finish, HeadersAlreadySent, State};

pub struct Response {
    exchange: SharedExchange,
    /// WSGIEnableSendfile for files; None: as Apache's EnableSendfile.
    sendfile: Option<bool>,
    state: Mutex<State<DeferredBody>>,
    client_gone: AtomicBool,
}

/// The largest only-block body copied for sending after the GIL is
/// released; a larger one is kept by reference to the app's bytes instead.
const COPY_LIMIT: usize = 16 * 1024;

/// A whole one-block response (head and body) that the handler sends once
/// the app is done and the GIL is released, saving a GIL hand-off per
/// request.
pub type Deferred = state::Deferred<DeferredBody>;

/// The kept body; what it holds is private, as reading a kept bytes
/// object relies on its length having been checked here.
pub struct DeferredBody(Body);

enum Body {
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
        let written = match &self.body.0 {
            Body::Copied(body) => body.is_empty() || e.write_body(body, false).is_ok(),
            Body::Kept { bytes, take } => {
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

impl Response {
    pub fn new(exchange: SharedExchange, sendfile: Option<bool>, error_override: bool) -> Self {
        Self {
            exchange,
            sendfile,
            state: Mutex::new(State::new(error_override)),
            client_gone: AtomicBool::new(false),
        }
    }

    /// The error status handed to Apache under WSGIErrorOverride.
    pub fn overridden_status(&self) -> Option<u16> {
        self.state().overridden_status()
    }

    fn state(&self) -> MutexGuard<'_, State<DeferredBody>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the client has (or will have) the status and headers.
    pub fn headers_sent(&self) -> bool {
        self.state().headers_sent()
    }

    pub fn client_gone(&self) -> bool {
        self.client_gone.load(Ordering::Relaxed)
    }

    pub fn log(&self, level: Level, message: &str) {
        let _ = self.exchange.with(|e| e.log(level, message));
    }

    /// Records the status and headers of start_response().
    pub fn start(&self, head: Head) -> PyResult<()> {
        if self.exchange.has_ended() {
            return Err(request_ended("start_response()"));
        }
        self.state().start(head).map_err(|HeadersAlreadySent| {
            PyRuntimeError::new_err("start_response() called again after the headers were sent")
        })
    }

    /// Gives a one-block response a Content-Length when the app set none.
    pub fn set_length_if_unset(&self, length: u64) {
        self.state().set_length_if_unset(length);
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
        let kept = self.started()?.defer_only_block(data.len() as u64, |take| {
            let take = take as usize;
            DeferredBody(if take <= COPY_LIMIT {
                Body::Copied(data[..take].to_vec())
            } else {
                Body::Kept {
                    bytes: block.clone().unbind(),
                    take,
                }
            })
        });
        if kept { Ok(()) } else { self.write(py, data) }
    }

    /// The kept one-block response, for the handler to send.
    pub fn take_deferred(&self) -> Option<Deferred> {
        self.state().take_deferred()
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
        let claim = self.started()?.claim_file(available);
        let sendfile = self.sendfile;
        self.send(py, claim, |e, take| {
            e.write_file(fd, offset, take, sendfile)
        })
    }

    /// The state, once start_response() has been called.
    fn started(&self) -> PyResult<MutexGuard<'_, State<DeferredBody>>> {
        let state = self.state();
        if !state.started() {
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
        // The state is not held across the GIL release below.
        let finish = self.state().finish();
        let (deferred, head, length, sent) = match finish {
            Finish::NotStarted => {
                return Err(PyRuntimeError::new_err(
                    "the application returned without calling start_response()",
                ));
            }
            Finish::HandToApache => return self.hand_error_to_apache(py),
            // The handler sends it, complete, after the GIL is released.
            Finish::Deferred => return Ok(()),
            Finish::Send {
                deferred,
                head,
                length,
                sent,
            } => (deferred, head, length, sent),
        };
        // Cut short: a kept block goes out now, then the connection is closed.
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
    /// WWW-Authenticate challenge.
    fn hand_error_to_apache(&self, py: Python<'_>) -> PyResult<()> {
        let challenges = self.state().overridden_challenges();
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
                self.client_gone.store(true, Ordering::Relaxed);
                Err(PyOSError::new_err(
                    "mod_rwsgi: failed to write the response: the client closed the connection",
                ))
            }
            Err(_) => Err(request_ended("write()")),
        }
    }
}
