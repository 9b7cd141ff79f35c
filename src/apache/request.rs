//! The request being served: a safe view of `request_rec`.

use std::cell::Cell;
use std::ffi::{CStr, c_int};
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::os::fd::RawFd;
use std::ptr::{NonNull, null_mut};

use super::log::{self, Level, Target};
use super::{Server, Table, ffi, pool};

/// A request that Apache handed to one of our hooks. It borrows the
/// `request_rec` for `'r`, the duration of that hook call, and is neither
/// `Send` nor `Sync`: Apache's request is not thread-safe.
pub struct Request<'r> {
    raw: NonNull<ffi::request_rec>,
    /// The output brigade, created on the first write and reused after.
    brigade: Cell<*mut ffi::apr_bucket_brigade>,
    body: Cell<BodyState>,
    _life: PhantomData<&'r mut ffi::request_rec>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BodyState {
    NotStarted,
    Reading,
    Done,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileType {
    Missing,
    File,
    Directory,
    Other,
}

/// How a request body sent with `Transfer-Encoding: chunked` is treated.
#[derive(Clone, Copy, Debug)]
pub enum ChunkedPolicy {
    /// Answered with 411 Length Required, as mod_wsgi does by default.
    Refuse,
    /// Accepted; Apache's input filter removes the chunk framing.
    Dechunk,
}

/// Reading the request body failed: the client went away, timed out, or sent
/// more than LimitRequestBody allows.
#[derive(Debug)]
pub struct BodyError;

/// Writing the response failed because the client (or the connection that
/// carries the response to it) is gone.
#[derive(Debug)]
pub struct ClientGone;

impl<'r> Request<'r> {
    /// # Safety
    /// `raw` must be a live request that stays live, and is used by no other
    /// thread, for `'r`.
    pub(super) unsafe fn from_raw(raw: *mut ffi::request_rec) -> Option<Self> {
        Some(Self {
            raw: NonNull::new(raw)?,
            brigade: Cell::new(null_mut()),
            body: Cell::new(BodyState::NotStarted),
            _life: PhantomData,
        })
    }

    fn r(&self) -> &ffi::request_rec {
        // SAFETY: the pointer is live for 'r (constructor's contract).
        unsafe { self.raw.as_ref() }
    }

    pub(super) fn raw(&self) -> *mut ffi::request_rec {
        self.raw.as_ptr()
    }

    fn c_str(ptr: *const std::ffi::c_char) -> Option<&'r [u8]> {
        // SAFETY: request_rec's string fields are NUL-terminated strings in
        // the request pool, which outlives 'r.
        (!ptr.is_null()).then(|| unsafe { CStr::from_ptr(ptr) }.to_bytes())
    }

    /// The authenticated user, once authentication has run.
    pub fn user(&self) -> Option<&'r [u8]> {
        Self::c_str(self.r().user)
    }

    /// The client's address as Apache sees it (after mod_remoteip).
    pub fn useragent_ip(&self) -> &'r [u8] {
        Self::c_str(self.r().useragent_ip).unwrap_or_default()
    }

    pub fn handler(&self) -> Option<&'r [u8]> {
        self.handler_c_str().map(CStr::to_bytes)
    }

    /// Sets the handler that will serve this request. Only static strings:
    /// Apache keeps the pointer.
    pub fn set_handler(&self, handler: &'static CStr) {
        // SAFETY: the request is live and only this thread touches it; the
        // string is 'static.
        unsafe { (*self.raw()).handler = handler.as_ptr() };
    }

    pub fn uri(&self) -> &'r [u8] {
        Self::c_str(self.r().uri).unwrap_or_default()
    }

    pub fn filename(&self) -> Option<&'r [u8]> {
        Self::c_str(self.r().filename)
    }

    /// Sets `r->filename`, copied into the request pool.
    pub fn set_filename(&self, filename: &[u8]) {
        let filename: Vec<u8> = filename.iter().copied().filter(|&b| b != 0).collect();
        // SAFETY: live request; the copy lives as long as the request pool.
        unsafe { (*self.raw()).filename = pool::strdup(self.r().pool, &filename).cast_mut() };
    }

    /// What the file named by `r->filename` is, as Apache's directory walk
    /// found it.
    pub fn file_type(&self) -> FileType {
        match self.r().finfo.filetype {
            ffi::apr_filetype_e_APR_NOFILE => FileType::Missing,
            ffi::apr_filetype_e_APR_REG => FileType::File,
            ffi::apr_filetype_e_APR_DIR => FileType::Directory,
            _ => FileType::Other,
        }
    }

    /// Forgets a status and headers set for a response that will not be
    /// sent, so that an error status returned to Apache gets its own page.
    pub fn clear_response(&self) {
        // SAFETY: live request, used by this thread only; the table is the
        // request's own.
        unsafe {
            (*self.raw()).status = 200;
            (*self.raw()).status_line = std::ptr::null();
            ffi::apr_table_clear(self.r().headers_out);
        }
    }

    /// The script's modification time in microseconds, as Apache stat()ed it.
    pub fn file_mtime(&self) -> i64 {
        self.r().finfo.mtime
    }

    pub fn is_header_only(&self) -> bool {
        self.r().header_only != 0
    }

    /// A HEAD request: Apache gives it GET's method number and no body.
    pub fn is_head(&self) -> bool {
        self.r().method_number == ffi::M_GET as c_int && self.is_header_only()
    }

    /// Whether the first output filter works on content (mod_deflate,
    /// mod_include, ...) rather than on the protocol: such a filter may need
    /// the whole body to produce the right headers.
    pub fn has_content_filter(&self) -> bool {
        let filter = self.r().output_filters;
        // SAFETY: the request's filter chain and its records live in the
        // request and configuration pools.
        unsafe {
            !filter.is_null()
                && !(*filter).frec.is_null()
                && (*(*filter).frec).ftype < ffi::ap_filter_type_AP_FTYPE_PROTOCOL
        }
    }

    /// Whether `Options ExecCGI` is on for this request's directory.
    pub fn allows_exec_cgi(&self) -> bool {
        // SAFETY: live request.
        let options = unsafe { ffi::ap_allow_options(self.raw()) };
        options & ffi::OPT_EXECCGI as c_int != 0
    }

    fn table(&self, raw: *mut ffi::apr_table_t) -> Table<'r> {
        // SAFETY: the request's tables and pool live as long as the request.
        unsafe { Table::from_raw(raw, self.r().pool) }
    }

    pub fn notes(&self) -> Table<'r> {
        self.table(self.r().notes)
    }

    pub fn subprocess_env(&self) -> Table<'r> {
        self.table(self.r().subprocess_env)
    }

    pub fn headers_in(&self) -> Table<'r> {
        self.table(self.r().headers_in)
    }

    /// The host the client asked for (Host header or absolute URI), without
    /// the port, as Apache parsed it.
    pub fn hostname(&self) -> &'r [u8] {
        Self::c_str(self.r().hostname).unwrap_or_default()
    }

    /// The port as SERVER_PORT shows it (UseCanonicalName decides whence).
    pub fn server_port(&self) -> u16 {
        // SAFETY: live request.
        unsafe { ffi::ap_get_server_port(self.raw()) }
    }

    /// When Apache read the request line, in microseconds since the epoch.
    pub fn request_time(&self) -> i64 {
        self.r().request_time
    }

    /// The address the connection came in on, as its Listen line names it:
    /// the host given there (None for `Listen PORT`), and the port.
    pub fn listener(&self) -> (Option<&'r CStr>, u16) {
        // SAFETY: a live request's connection and its local address live in
        // the connection pool, which outlives the request; hostname is NULL
        // or a string in that pool.
        unsafe {
            let local = &*(*self.r().connection).local_addr;
            let host = (!local.hostname.is_null()).then(|| CStr::from_ptr(local.hostname));
            (host, local.port)
        }
    }

    /// The handler's name as Apache keeps it (a static or request string).
    pub fn handler_c_str(&self) -> Option<&'r CStr> {
        let ptr = self.r().handler;
        // SAFETY: NULL or a NUL-terminated string that lives for the request.
        (!ptr.is_null()).then(|| unsafe { CStr::from_ptr(ptr) })
    }

    /// Headers Apache sends even with its own error responses.
    pub fn err_headers_out(&self) -> Table<'r> {
        self.table(self.r().err_headers_out)
    }

    pub fn headers_out(&self) -> Table<'r> {
        self.table(self.r().headers_out)
    }

    /// Fills `subprocess_env` with the CGI/1.1 variables and one HTTP_*
    /// entry per request header, as mod_cgi and mod_wsgi do. Apache drops
    /// header names with characters other than letters, digits and '-', the
    /// `Proxy` header, and `Authorization`.
    pub fn add_cgi_environment(&self) {
        // SAFETY: live request, used by this thread only.
        unsafe {
            ffi::ap_add_common_vars(self.raw());
            ffi::ap_add_cgi_vars(self.raw());
        }
    }

    /// "http" or "https", as mod_ssl (or another scheme hook) says.
    pub fn scheme(&self) -> &'r [u8] {
        // SAFETY: live request; the hook returns a static or pool string.
        Self::c_str(unsafe { ffi::ap_run_http_scheme(self.raw()) }).unwrap_or(b"http")
    }

    /// The request's log id, the one `%L` shows in the error log, generated
    /// now if no module asked for it yet.
    pub fn log_id(&self) -> Option<&'r [u8]> {
        if self.r().log_id.is_null() {
            let mut id: *const std::ffi::c_char = std::ptr::null();
            // SAFETY: live request and connection; the hook writes a string
            // allocated in the request pool, kept in r->log_id as Apache does.
            unsafe {
                if ffi::ap_run_generate_log_id(self.r().connection, self.raw(), &mut id) == 0
                    && !id.is_null()
                {
                    (*self.raw()).log_id = id;
                }
            }
        }
        Self::c_str(self.r().log_id)
    }

    pub fn server(&self) -> Server {
        // SAFETY: the server_rec outlives every request it serves.
        unsafe { Server::from_raw(self.r().server) }
    }

    /// Prepares to read the body. Err carries the HTTP status Apache chose
    /// (411 for a refused chunked body, 413 for one over LimitRequestBody).
    pub fn setup_body(&self, policy: ChunkedPolicy) -> Result<(), c_int> {
        let policy = match policy {
            ChunkedPolicy::Refuse => ffi::REQUEST_CHUNKED_ERROR,
            ChunkedPolicy::Dechunk => ffi::REQUEST_CHUNKED_DECHUNK,
        };
        // SAFETY: live request, before any body read.
        let status = unsafe { ffi::ap_setup_client_block(self.raw(), policy as c_int) };
        if status == 0 { Ok(()) } else { Err(status) }
    }

    /// How many body bytes Apache has yet to read, when the body has a
    /// Content-Length (None for a chunked body).
    pub fn body_remaining(&self) -> Option<u64> {
        let r = self.r();
        (r.read_chunked == 0).then(|| u64::try_from(r.remaining).unwrap_or(0))
    }

    /// Reads the next piece of the body into `buf`, which need not be
    /// initialised: the first Ok(n) bytes of `buf` are when it returns;
    /// Ok(0) at its end. The first call answers `Expect: 100-continue`.
    pub fn read_body(&self, buf: &mut [MaybeUninit<u8>]) -> Result<usize, BodyError> {
        if self.body.get() == BodyState::NotStarted {
            // SAFETY: live request, after setup_body.
            let has_body = unsafe { ffi::ap_should_client_block(self.raw()) } != 0;
            self.body.set(if has_body {
                BodyState::Reading
            } else {
                BodyState::Done
            });
        }
        if self.body.get() == BodyState::Done || buf.is_empty() {
            return Ok(0);
        }
        // SAFETY: `buf` is writable for its length; Apache writes at most
        // that many bytes and returns how many.
        let n = unsafe { ffi::ap_get_client_block(self.raw(), buf.as_mut_ptr().cast(), buf.len()) };
        match n {
            n if n < 0 => {
                self.body.set(BodyState::Done);
                Err(BodyError)
            }
            0 => {
                self.body.set(BodyState::Done);
                Ok(0)
            }
            n => Ok(n as usize),
        }
    }

    /// Sets the response status; `line` is the full status line ("200 OK").
    pub fn set_status(&self, code: u16, line: &[u8]) {
        // SAFETY: live request; the line is copied into the request pool.
        unsafe {
            (*self.raw()).status = c_int::from(code);
            (*self.raw()).status_line = pool::strdup(self.r().pool, line);
        }
    }

    pub fn set_content_type(&self, content_type: &[u8]) {
        // SAFETY: Apache keeps the pointer, so it is copied into the request
        // pool first.
        unsafe { ffi::ap_set_content_type(self.raw(), pool::strdup(self.r().pool, content_type)) }
    }

    pub fn set_content_length(&self, length: u64) {
        // SAFETY: live request.
        unsafe { ffi::ap_set_content_length(self.raw(), length as ffi::apr_off_t) }
    }

    fn brigade(&self) -> *mut ffi::apr_bucket_brigade {
        if self.brigade.get().is_null() {
            // SAFETY: live request; the brigade lives in its pool.
            self.brigade
                .set(unsafe { ffi::rwsgi_brigade_create(self.raw()) });
        }
        self.brigade.get()
    }

    fn client_gone(&self, status: ffi::apr_status_t) -> Result<(), ClientGone> {
        // SAFETY: every request has a live connection.
        let aborted = unsafe { (*self.r().connection).aborted } != 0;
        if status != 0 || aborted {
            Err(ClientGone)
        } else {
            Ok(())
        }
    }

    /// Passes `data` down the output filters; the headers go out with the
    /// first call. Apache copies what it keeps before this returns.
    pub fn write_body(&self, data: &[u8], flush: bool) -> Result<(), ClientGone> {
        // SAFETY: live request; `data` is valid for the call, and transient
        // buckets are set aside (copied) by any filter that holds on to them.
        let status = unsafe {
            ffi::rwsgi_pass_bytes(
                self.raw(),
                self.brigade(),
                data.as_ptr().cast(),
                data.len(),
                c_int::from(flush),
            )
        };
        self.client_gone(status)
    }

    /// Passes `length` bytes of the open file `fd`, from `offset`, down the
    /// output filters, with sendfile if `sendfile` says so (None: as
    /// EnableSendfile says) and mmap as EnableMMAP says. The caller may close
    /// `fd` once this returns: Apache reads its own descriptor of the file,
    /// and may finish writing it after the handler has returned.
    pub fn write_file(
        &self,
        fd: RawFd,
        offset: u64,
        length: u64,
        sendfile: Option<bool>,
    ) -> Result<(), ClientGone> {
        let sendfile = match sendfile {
            None => -1,
            Some(on) => c_int::from(on),
        };
        let (Ok(offset), Ok(length)) = (
            ffi::apr_off_t::try_from(offset),
            ffi::apr_off_t::try_from(length),
        ) else {
            // Unreachable for a real file, whose size is an off_t.
            return Err(ClientGone);
        };
        // SAFETY: live request. The shim reads `fd` only during the call:
        // the buckets it leaves behind refer to its own descriptor, which
        // the request's pool closes once the response has gone, or, where
        // it could not open one, to `fd` with FLUSH passed, so none is kept.
        // No cleanup closes `fd`.
        let status = unsafe {
            ffi::rwsgi_pass_file(self.raw(), self.brigade(), fd, offset, length, sendfile)
        };
        self.client_gone(status)
    }

    /// Ends a response that was cut short, so that the client sees it
    /// incomplete: no last chunk, connection closed.
    pub fn abort_body(&self) {
        // SAFETY: live request.
        unsafe { ffi::rwsgi_pass_abort(self.raw(), self.brigade()) };
    }

    #[track_caller]
    pub fn log(&self, level: Level, message: &str) {
        log::write(Target::Request(self.raw()), level, message);
    }
}
