//! The seam between the gateway and whatever carries the request: the one
//! thing the WSGI code knows about its server. Embedded mode implements it
//! over Apache's `request_rec`; a daemon process implements it over its
//! connection to the Apache child that forwarded the request. environ,
//! wsgi.input, start_response, validation and file_wrapper are written once,
//! against this trait.

use std::mem::MaybeUninit;
use std::os::fd::RawFd;
use std::sync::{Arc, Mutex};

use super::response::Head;
use crate::apache::Level;
/// The two failures of an exchange are Apache's own: a daemon's transport
/// reports its connection's the same way.
pub use crate::apache::{BodyError, ClientGone};

/// What receives each CGI variable (name, value) of a request.
pub type EachVariable<'a> = dyn FnMut(&[u8], &[u8]) -> pyo3::PyResult<()> + 'a;

/// One request, as the gateway sees it. Every method is called by one
/// thread at a time (through [`SharedExchange`], or by the serving thread
/// before the app runs).
pub trait Exchange {
    /// Calls `each` with every CGI variable of the request (name, value),
    /// in order; stops at the first error.
    fn for_each_variable(&self, each: &mut EachVariable<'_>) -> pyo3::PyResult<()>;

    /// "http" or "https", as Apache decided it.
    fn scheme(&self) -> &[u8];

    /// The request's id in Apache's logs (`%L`), when there is one.
    fn log_id(&self) -> Option<&[u8]>;

    /// How many body bytes are still to come, when the body has a length
    /// (None for a chunked body).
    fn body_remaining(&self) -> Option<u64>;

    /// Reads the next piece of the body into `buf`: at least one byte, or
    /// Ok(0) at its end. The first `n` bytes of `buf` are initialised when it
    /// returns Ok(n).
    fn read_body(&self, buf: &mut [MaybeUninit<u8>]) -> Result<usize, BodyError>;

    /// Reads until `buf` is full or the body ends: (bytes read, at the end).
    fn read_body_fully(&self, buf: &mut [MaybeUninit<u8>]) -> Result<(usize, bool), BodyError> {
        let mut read = 0;
        while read < buf.len() {
            match self.read_body(&mut buf[read..])? {
                0 => return Ok((read, true)),
                n => read += n,
            }
        }
        Ok((read, false))
    }

    /// A HEAD request: the body is never sent.
    fn is_header_only(&self) -> bool;

    /// Applies the status and headers; they go out with the first body bytes
    /// (or at the end). `length` is the Content-Length in force.
    fn send_head(&self, head: &Head, length: Option<u64>);

    /// Sends a block of the body; with `flush`, before returning.
    fn write_body(&self, data: &[u8], flush: bool) -> Result<(), ClientGone>;

    /// Sends `length` bytes of the open file `fd` from `offset`; `sendfile`
    /// forces sendfile on or off (None: as Apache's EnableSendfile). `fd`
    /// may be closed once this returns.
    fn write_file(
        &self,
        fd: RawFd,
        offset: u64,
        length: u64,
        sendfile: Option<bool>,
    ) -> Result<(), ClientGone>;

    /// Ends a response that was cut short, so the client sees it incomplete.
    fn abort_body(&self);

    /// Adds a header that Apache keeps on its own error response
    /// (WSGIErrorOverride's WWW-Authenticate).
    fn add_error_header(&self, name: &[u8], value: &[u8]);

    /// Writes to the error log, attributed to this request.
    fn log(&self, level: Level, message: &str);
}

/// The exchange, reachable from Python objects (wsgi.input, wsgi.errors,
/// start_response, write) that the app may keep after the request has ended.
/// Every use goes through a lock, and after [`SharedExchange::end`] every use
/// fails with [`Ended`] instead of touching what no longer exists.
#[derive(Clone)]
pub struct SharedExchange(Arc<Mutex<Option<ExchangePtr>>>);

/// Points at the serving function's own exchange, which stays where it is.
struct ExchangePtr(*const (dyn Exchange + 'static));

// SAFETY: the exchange is only ever used while the mutex is held, so one
// thread at a time touches it; the pointer is removed (by `end`) before the
// exchange it points at is used directly again, moved or dropped.
unsafe impl Send for ExchangePtr {}

/// The request this object belonged to has ended.
#[derive(Debug)]
pub struct Ended;

impl SharedExchange {
    /// # Safety
    /// Until [`SharedExchange::end`] is called, `exchange` must be used only
    /// through the returned value, and must not move or be dropped.
    pub unsafe fn new(exchange: &dyn Exchange) -> Self {
        let ptr: *const (dyn Exchange + '_) = exchange;
        // SAFETY: only the trait object's lifetime bound is erased; new's
        // contract makes the pointer unreachable (after `end`) before that
        // lifetime ends.
        let ptr: *const (dyn Exchange + 'static) = unsafe { std::mem::transmute(ptr) };
        Self(Arc::new(Mutex::new(Some(ExchangePtr(ptr)))))
    }

    pub fn with<T>(&self, f: impl FnOnce(&dyn Exchange) -> T) -> Result<T, Ended> {
        let guard = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match guard.as_ref() {
            // SAFETY: while the pointer is in the mutex, the exchange lives
            // where it points and only the lock holder uses it (new's
            // contract).
            Some(ExchangePtr(exchange)) => Ok(f(unsafe { &**exchange })),
            None => Err(Ended),
        }
    }

    pub fn has_ended(&self) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .is_none()
    }

    /// Makes the exchange unreachable; waits for a use in progress to finish.
    pub fn end(&self) {
        let mut guard = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *guard = None;
    }
}
