//! The daemon side of a connection from an Apache child: the proof that
//! the child belongs to this Apache, the request frame, and the gateway's
//! [`Exchange`] over the connection: the body is pulled from the child as
//! the app reads it, and the response goes back as frames.

use std::cell::RefCell;
use std::io::{self, Read};
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;

use rwsgi_wire::frame::{
    self, BodyLength, BodyWanted, Challenge, FrameHeader, HEADER_LEN, Kind, MAX_DATA, NONCE_LEN,
    Reader,
};
use rwsgi_wire::proof;

use super::socket;
use crate::apache::Level;
use crate::wsgi::exchange::{BodyError, ClientGone, EachVariable, Exchange};
use crate::wsgi::response::Head;
use crate::wsgi::{decimal, now_micros};

/// A connection, with the bytes of its current request frame.
pub struct Connection {
    pub stream: UnixStream,
    /// What the child sent and has not been taken yet: a proof and a
    /// request frame come in one read; the request borrows it.
    pub input: ReadAhead,
    /// Frames waiting to be written.
    pub out: Vec<u8>,
    /// Its registration in the process's epoll set, once kept.
    pub token: Option<u64>,
}

/// Bytes read from a connection ahead of their use: `buf[start..end]`.
/// The buffer only grows (to the largest frame seen), and is never zeroed
/// again once it has its size.
#[derive(Default)]
pub struct ReadAhead {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

/// Why a connection was refused or dropped before a request could run.
pub enum Refused {
    /// The peer went away or timed out: nothing to report.
    Gone,
    /// The peer broke the protocol or could not prove where it comes from.
    Untrusted(String),
}

impl ReadAhead {
    /// At least `n` unread bytes, reading (once, usually) as needed.
    fn want(&mut self, stream: &UnixStream, n: usize) -> Result<(), Refused> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        if self.end - self.start >= n {
            return Ok(());
        }
        if self.start + n > self.buf.len() {
            // Move what is unread to the front, and grow for the rest.
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if n > self.buf.len() {
                self.buf.resize(n.max(16 * 1024), 0);
            }
        }
        while self.end - self.start < n {
            match (&*stream).read(&mut self.buf[self.end..]) {
                Ok(0) | Err(_) => return Err(Refused::Gone),
                Ok(got) => self.end += got,
            }
        }
        Ok(())
    }

    fn take(&mut self, n: usize) -> &[u8] {
        let taken = &self.buf[self.start..self.start + n];
        self.start += n;
        taken
    }

    fn header(&mut self, stream: &UnixStream) -> Result<FrameHeader, Refused> {
        self.want(stream, HEADER_LEN)?;
        let bytes: [u8; HEADER_LEN] = self.take(HEADER_LEN).try_into().expect("HEADER_LEN bytes");
        FrameHeader::parse(bytes, Reader::Daemon).map_err(|e| Refused::Untrusted(e.to_string()))
    }

    fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

impl Connection {
    pub fn new(stream: UnixStream) -> Self {
        Self {
            stream,
            input: ReadAhead::default(),
            out: Vec::with_capacity(8192),
            token: None,
        }
    }

    /// Sends a challenge and checks the answer: the peer must prove it
    /// holds this Apache's secret.
    pub fn authenticate(&mut self, secret: &[u8; proof::SECRET_LEN]) -> Result<(), Refused> {
        let mut nonce = [0u8; NONCE_LEN];
        super::parent::random(&mut nonce)
            .map_err(|e| Refused::Untrusted(format!("no nonce: {e}")))?;
        // SAFETY: getpid only reads.
        let pid = unsafe { libc::getpid() } as u32;
        self.out.clear();
        Challenge { nonce, pid }.encode(&mut self.out);
        socket::write_all_vectored(&self.stream, &[&self.out]).map_err(|_| Refused::Gone)?;
        let header = self.input.header(&self.stream)?;
        if header.kind != Kind::Proof {
            return Err(Refused::Untrusted(format!(
                "a {:?} frame instead of a proof",
                header.kind
            )));
        }
        self.input.want(&self.stream, NONCE_LEN)?;
        let answer: [u8; NONCE_LEN] = self
            .input
            .take(NONCE_LEN)
            .try_into()
            .expect("NONCE_LEN bytes");
        if !proof::verify(secret, &nonce, pid, &answer) {
            return Err(Refused::Untrusted("a wrong proof of origin".into()));
        }
        Ok(())
    }
}

/// Reads a Spawn frame (what the group manager is asked) from `stream`.
pub fn read_spawn<'b>(
    stream: &UnixStream,
    input: &'b mut ReadAhead,
) -> Result<frame::Spawn<'b>, Refused> {
    let header = input.header(stream)?;
    if header.kind != Kind::Spawn {
        return Err(Refused::Untrusted(format!(
            "a {:?} frame instead of a spawn",
            header.kind
        )));
    }
    let len = header.len as usize;
    input.want(stream, len)?;
    let payload = input.take(len);
    frame::Spawn::decode(payload).map_err(|e| Refused::Untrusted(e.to_string()))
}

/// Reads the next request frame from `stream`; Err(Gone) when the peer
/// closed. Nothing may follow it: the child sends body bytes only when
/// asked.
pub fn read_request<'b>(
    stream: &UnixStream,
    input: &'b mut ReadAhead,
) -> Result<frame::Request<'b>, Refused> {
    let header = input.header(stream)?;
    if header.kind != Kind::Request {
        return Err(Refused::Untrusted(format!(
            "a {:?} frame instead of a request",
            header.kind
        )));
    }
    let len = header.len as usize;
    input.want(stream, len)?;
    let start = input.start;
    input.start += len;
    if !input.is_empty() {
        return Err(Refused::Untrusted(
            "bytes after the request frame that nobody asked for".into(),
        ));
    }
    frame::Request::decode(&input.buf[start..start + len])
        .map_err(|e| Refused::Untrusted(e.to_string()))
}

/// One request's exchange over its connection.
pub struct DaemonExchange<'a> {
    stream: &'a UnixStream,
    request: &'a frame::Request<'a>,
    /// When this process began the request, as mod_wsgi's
    /// `mod_wsgi.daemon_start` (microseconds since the epoch), where the
    /// app sees daemon mode.
    daemon_start: Option<i64>,
    state: RefCell<State<'a>>,
}

struct State<'a> {
    /// Frames waiting to go (the head, error headers, small blocks).
    out: &'a mut Vec<u8>,
    /// Body bytes received so far.
    received: u64,
    body_ended: bool,
    body_failed: bool,
    /// A write to the child failed: the child gave up on the request.
    broken: bool,
}

impl<'a> DaemonExchange<'a> {
    pub fn new(
        stream: &'a UnixStream,
        request: &'a frame::Request<'a>,
        out: &'a mut Vec<u8>,
        daemon_mode: bool,
    ) -> Self {
        out.clear();
        let body_ended = request.body == BodyLength::Known(0);
        Self {
            stream,
            request,
            daemon_start: daemon_mode.then(now_micros),
            state: RefCell::new(State {
                out,
                received: 0,
                body_ended,
                body_failed: false,
                broken: false,
            }),
        }
    }

    /// Writes what is waiting, then `parts`.
    fn send(&self, state: &mut State<'_>, parts: &[&[u8]]) -> Result<(), ClientGone> {
        if state.broken {
            return Err(ClientGone);
        }
        let mut all: Vec<&[u8]> = Vec::with_capacity(parts.len() + 1);
        if !state.out.is_empty() {
            all.push(state.out);
        }
        all.extend_from_slice(parts);
        let written = if all.is_empty() {
            Ok(())
        } else {
            socket::write_all_vectored(self.stream, &all)
        };
        state.out.clear();
        written.map_err(|_| {
            state.broken = true;
            ClientGone
        })
    }

    /// Ends the response: the status for the Apache child's handler.
    pub fn finish(&self, status: i32) -> bool {
        let mut state = self.state.borrow_mut();
        frame::encode_end(status, state.out);
        self.send(&mut state, &[]).is_ok()
    }

    /// Reads one frame header from the child, expecting a body frame.
    fn body_frame(&self) -> Result<Option<u32>, BodyError> {
        let mut header = [0u8; HEADER_LEN];
        (&*self.stream)
            .read_exact(&mut header)
            .map_err(|_| BodyError)?;
        match FrameHeader::parse(header, Reader::Daemon) {
            Ok(FrameHeader {
                kind: Kind::Body,
                len,
            }) => Ok(Some(len)),
            Ok(FrameHeader {
                kind: Kind::BodyFailed,
                ..
            }) => Ok(None),
            _ => Err(BodyError),
        }
    }

    /// Asks for up to `buf.len()` body bytes and reads the answer into
    /// `buf`: (bytes, at the end).
    fn pull(&self, buf: &mut [MaybeUninit<u8>], fill: bool) -> Result<(usize, bool), BodyError> {
        let mut state = self.state.borrow_mut();
        if state.body_failed {
            return Err(BodyError);
        }
        if state.body_ended || buf.is_empty() {
            return Ok((0, state.body_ended));
        }
        let mut max = buf.len().min(MAX_DATA as usize);
        if let BodyLength::Known(length) = self.request.body {
            let left = length.saturating_sub(state.received);
            max = max.min(usize::try_from(left).unwrap_or(usize::MAX));
        }
        BodyWanted {
            max: max as u32,
            fill,
        }
        .encode(state.out);
        if self.send(&mut state, &[]).is_err() {
            state.body_failed = true;
            return Err(BodyError);
        }
        let mut read = 0;
        loop {
            let len = match self.body_frame() {
                Ok(Some(len)) => len as usize,
                Ok(None) | Err(BodyError) => {
                    state.body_failed = true;
                    return Err(BodyError);
                }
            };
            if len > max - read {
                // More than was asked for: the child is not ours to trust.
                state.body_failed = true;
                return Err(BodyError);
            }
            if len == 0 {
                state.body_ended = true;
                break;
            }
            if read_into(self.stream.as_raw_fd(), &mut buf[read..read + len]).is_err() {
                state.body_failed = true;
                return Err(BodyError);
            }
            read += len;
            state.received += len as u64;
            if !fill || read == max {
                break;
            }
        }
        if let BodyLength::Known(length) = self.request.body {
            if state.received >= length {
                state.body_ended = true;
            }
        }
        Ok((read, state.body_ended))
    }
}

/// Reads exactly `buf.len()` bytes into memory that need not be
/// initialised.
fn read_into(fd: RawFd, buf: &mut [MaybeUninit<u8>]) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        // SAFETY: read writes at most the remaining length into the buffer.
        let n = unsafe { libc::read(fd, buf[done..].as_mut_ptr().cast(), buf.len() - done) };
        match n {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n if n < 0 => {
                let error = io::Error::last_os_error();
                if error.kind() != io::ErrorKind::Interrupted {
                    return Err(error);
                }
            }
            n => done += n as usize,
        }
    }
    Ok(())
}

impl Exchange for DaemonExchange<'_> {
    fn for_each_variable(&self, each: &mut EachVariable<'_>) -> pyo3::PyResult<()> {
        for (name, value) in &self.request.variables {
            each(name, value)?;
        }
        // The one variable of mod_wsgi's that only the daemon knows.
        match self.daemon_start {
            Some(start) => each(b"mod_wsgi.daemon_start", decimal(start, &mut [0u8; 20])),
            None => Ok(()),
        }
    }

    fn scheme(&self) -> &[u8] {
        self.request.scheme
    }

    fn log_id(&self) -> Option<&[u8]> {
        self.request.log_id
    }

    fn body_remaining(&self) -> Option<u64> {
        match self.request.body {
            BodyLength::Known(length) => Some(length.saturating_sub(self.state.borrow().received)),
            BodyLength::Chunked => None,
        }
    }

    fn read_body(&self, buf: &mut [MaybeUninit<u8>]) -> Result<usize, BodyError> {
        self.pull(buf, false).map(|(read, _)| read)
    }

    fn read_body_fully(&self, buf: &mut [MaybeUninit<u8>]) -> Result<(usize, bool), BodyError> {
        let mut read = 0;
        while read < buf.len() {
            let (n, ended) = self.pull(&mut buf[read..], true)?;
            read += n;
            if ended {
                return Ok((read, true));
            }
        }
        Ok((read, false))
    }

    fn is_header_only(&self) -> bool {
        self.request.header_only
    }

    fn send_head(&self, head: &Head, length: Option<u64>) {
        let headers: Vec<(&[u8], &[u8])> = head
            .headers
            .iter()
            .map(|(n, v)| (n.as_slice(), v.as_slice()))
            .collect();
        let mut state = self.state.borrow_mut();
        frame::Head {
            code: head.code,
            status_line: &head.status_line,
            content_length: length,
            headers,
        }
        .encode(state.out);
    }

    fn write_body(&self, data: &[u8], flush: bool) -> Result<(), ClientGone> {
        let mut state = self.state.borrow_mut();
        if !flush && data.len() <= 16 * 1024 {
            // Goes with the end of the response, in the same write.
            state
                .out
                .extend_from_slice(&frame::encode_data_header(data.len(), false));
            state.out.extend_from_slice(data);
            return Ok(());
        }
        let mut chunks = data.chunks(MAX_DATA as usize).peekable();
        while let Some(chunk) = chunks.next() {
            let last = chunks.peek().is_none();
            let header = frame::encode_data_header(chunk.len(), flush && last);
            self.send(&mut state, &[&header, chunk])?;
        }
        Ok(())
    }

    fn write_file(
        &self,
        fd: RawFd,
        offset: u64,
        length: u64,
        sendfile: Option<bool>,
    ) -> Result<(), ClientGone> {
        let mut state = self.state.borrow_mut();
        self.send(&mut state, &[])?;
        let mut file = Vec::with_capacity(32);
        frame::File {
            offset,
            length,
            sendfile,
        }
        .encode(&mut file);
        socket::send_with_fd(self.stream, &file, fd).map_err(|_| {
            state.broken = true;
            ClientGone
        })
    }

    fn abort_body(&self) {
        let mut state = self.state.borrow_mut();
        frame::encode_empty(Kind::Abort, state.out);
        let _ = self.send(&mut state, &[]);
    }

    fn add_error_header(&self, name: &[u8], value: &[u8]) {
        let mut state = self.state.borrow_mut();
        frame::encode_error_header(name, value, state.out);
    }

    /// The Apache child logs the line for the request; an error's or a
    /// warning's identifier travels in its text.
    fn log(&self, level: Level, message: &str) {
        let mut state = self.state.borrow_mut();
        frame::encode_log(level.severity(), level.text(message).as_bytes(), state.out);
        let _ = self.send(&mut state, &[]);
    }
}
