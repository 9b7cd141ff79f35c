//! The Apache child's side of a request served by a daemon process:
//! connect to the group's socket, prove this child belongs to this Apache,
//! send the request, then follow the daemon's frames: read the client's
//! body when asked, pass the head, body blocks and files down Apache's
//! output filters, log what the app logs. Every frame is checked: nothing a
//! daemon sends can split the response or crash this child.

use std::cell::RefCell;
use std::io::{self, ErrorKind};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::Instant;

use rwsgi_wire::frame::{
    self, BodyLength, BodyWanted, Challenge, FrameHeader, HEADER_LEN, Kind, MAX_DATA, Reader,
};
use rwsgi_wire::proof;

use super::socket;
use super::{GroupEntry, Registry};
use crate::apache::{Level, LogId, Request, status};
use crate::embedded;
use crate::wsgi::{Application, decimal, now_micros};

const BAD_GATEWAY: i32 = 502;
const SERVICE_UNAVAILABLE: i32 = 503;
const GATEWAY_TIMEOUT: i32 = 504;

/// Serves `request` through the daemon process group `entry`; returns the
/// handler's status.
pub fn serve(
    request: &Request<'_>,
    registry: &Registry,
    entry: &GroupEntry,
    application: &Application,
    ignore_activity: bool,
) -> i32 {
    let name = &entry.group.name;
    if registry.status.is_failing(entry.index) {
        request.log(
            Level::Error(LogId("RW0801")),
            &format!(
                "mod_rwsgi: daemon process group '{name}' has no process running: its processes fail to start (the reason is logged above); answering 503"
            ),
        );
        return SERVICE_UNAVAILABLE;
    }
    if entry.is_daemon_mode() {
        add_hop_variables(request);
    }
    let mut out = Vec::with_capacity(4096);
    request_frame(request, application, ignore_activity).encode(&mut out);
    // A connection kept from an earlier request goes first; one the daemon
    // has closed (a write fails) or closes as the request crosses it (it
    // resets the connection) never read this request, which a new
    // connection then carries.
    let mut resent = false;
    while let Some(mut kept) = take_kept(registry, entry.index) {
        resent = true;
        if socket::write_all_vectored(&kept.link.stream, &[&out]).is_err() {
            continue;
        }
        if kept.link.reset_before_answering() {
            request.log(
                Level::Info,
                &format!(
                    "mod_rwsgi: daemon process group '{name}' (pid {}) closed a kept connection as this request crossed it, unread; sending it on a new connection",
                    kept.pid
                ),
            );
            continue;
        }
        let mut relay = Relay::new(request, kept.link, name, kept.pid);
        let status = relay.follow();
        relay.keep(registry.generation, entry.index);
        return status;
    }
    if resent && entry.is_daemon_mode() {
        // The request goes again, on a second connection.
        let env = request.subprocess_env();
        env.set(b"mod_wsgi.daemon_connects", b"2");
        env.set(b"mod_wsgi.daemon_restarts", b"1");
        out.clear();
        request_frame(request, application, ignore_activity).encode(&mut out);
    }
    let (link, challenge) = match connect(request, entry) {
        Ok(connected) => connected,
        Err(status) => return status,
    };
    let mut relay = Relay::new(request, link, name, challenge.pid);
    let proof = proof::prove(&registry.secret, &challenge.nonce, challenge.pid);
    let mut first = Vec::with_capacity(HEADER_LEN + proof.len());
    first.extend_from_slice(&FrameHeader::encode(Kind::Proof, proof.len() as u32));
    first.extend_from_slice(&proof);
    if let Err(error) = socket::write_all_vectored(&relay.link.stream, &[&first, &out]) {
        return relay.failed(&format!("sending the request failed: {error}"));
    }
    let status = relay.follow();
    relay.keep(registry.generation, entry.index);
    status
}

/// mod_wsgi 4.9's CGI variables of the hop to a daemon, with its meaning:
/// when the request left for the daemon (microseconds since the epoch), on
/// how many connections it was sent (mod_wsgi opens one per request; a
/// kept connection counts as one), and how often it had to be sent again.
/// Other modules see them, as mod_wsgi's (`%{mod_wsgi.queue_start}e`);
/// set, not added, as mod_wsgi sets them over any SetEnv of the name.
fn add_hop_variables(request: &Request<'_>) {
    let env = request.subprocess_env();
    let mut digits = [0u8; 20];
    env.set(b"mod_wsgi.queue_start", decimal(now_micros(), &mut digits));
    env.set(b"mod_wsgi.daemon_connects", b"1");
    env.set(b"mod_wsgi.daemon_restarts", b"0");
}

/// A new connection to the group, taken by one of its threads (the
/// challenge it sends says which process), or the status to answer.
fn connect(request: &Request<'_>, entry: &GroupEntry) -> Result<(Link, Challenge), i32> {
    let name = &entry.group.name;
    let queued = Instant::now();
    let stream = match socket::connect(&entry.socket, entry.group.connect_timeout) {
        Ok(stream) => stream,
        Err(error) => {
            let why = match error.kind() {
                ErrorKind::WouldBlock | ErrorKind::TimedOut => format!(
                    "its listen queue stayed full for connect-timeout={} s",
                    entry.group.connect_timeout.as_secs()
                ),
                _ => error.to_string(),
            };
            request.log(
                Level::Error(LogId("RW0802")),
                &format!(
                    "mod_rwsgi: unable to connect to daemon process group '{name}' at {}: {why}; answering 503",
                    entry.socket.display()
                ),
            );
            return Err(SERVICE_UNAVAILABLE);
        }
    };
    let mut link = Link::new(stream);
    // Until a daemon thread takes the connection, the request waits in the
    // group's queue: queue-timeout bounds that wait.
    let queue_timeout = entry.group.queue_timeout.unwrap_or(entry.socket_timeout());
    let _ = socket::set_timeouts(&link.stream, queue_timeout);
    let challenge = match link.read_frame() {
        Ok((
            FrameHeader {
                kind: Kind::Challenge,
                ..
            },
            payload,
        )) => Challenge::decode(payload),
        Ok((header, _)) => Err(frame_error(header.kind)),
        Err(Failure::TimedOut) => {
            let which = if entry.group.queue_timeout.is_some() {
                "queue-timeout"
            } else {
                "socket-timeout"
            };
            request.log(
                Level::Error(LogId("RW0803")),
                &format!(
                    "mod_rwsgi: the request waited {} s for a thread of daemon process group '{name}' ({which}); answering 504",
                    queued.elapsed().as_secs()
                ),
            );
            return Err(GATEWAY_TIMEOUT);
        }
        Err(failure) => {
            request.log(
                Level::Error(LogId("RW0804")),
                &format!("mod_rwsgi: daemon process group '{name}' closed the connection before taking the request ({failure}); answering 503"),
            );
            return Err(SERVICE_UNAVAILABLE);
        }
    };
    match challenge {
        Ok(challenge) => {
            let _ = socket::set_timeouts(&link.stream, entry.socket_timeout());
            Ok((link, challenge))
        }
        Err(error) => {
            request.log(
                Level::Error(LogId("RW0805")),
                &format!("mod_rwsgi: daemon process group '{name}': {error}; answering 502"),
            );
            Err(BAD_GATEWAY)
        }
    }
}

/// A connection kept open by this thread for its next request to a group.
struct KeptLink {
    generation: u64,
    index: usize,
    pid: u32,
    link: Link,
}

thread_local! {
    /// Connections this thread keeps, one per group at most.
    static KEPT: RefCell<Vec<KeptLink>> = const { RefCell::new(Vec::new()) };
}

/// This thread's kept connection to group `index`, if its process has an
/// idle thread to take the request at once (else the shared queue serves
/// it better: any idle process of the group takes it there), and the daemon
/// has said nothing on it since (a Goodbye, or its end).
fn take_kept(registry: &Registry, index: usize) -> Option<KeptLink> {
    let generation = registry.generation;
    let kept = KEPT.with_borrow_mut(|kept| {
        let at = kept.iter().position(|k| {
            k.generation == generation
                && k.index == index
                && registry.status.has_idle_thread(index, k.pid)
        })?;
        Some(kept.swap_remove(at))
    })?;
    let mut poll = libc::pollfd {
        fd: kept.link.stream.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: polls one open descriptor without waiting.
    let quiet = unsafe { libc::poll(&mut poll, 1, 0) } == 0;
    quiet.then_some(kept)
}

/// The request frame: the CGI environment and what the configuration chose.
fn request_frame<'a>(
    request: &'a Request<'_>,
    application: &'a Application,
    ignore_activity: bool,
) -> frame::Request<'a> {
    let body = match request.body_remaining() {
        Some(remaining) => BodyLength::Known(remaining),
        None => BodyLength::Chunked,
    };
    frame::Request {
        script: application.script.as_os_str().as_encoded_bytes(),
        callable: application.callable.as_bytes(),
        application_group: &application.application_group,
        mtime: application.mtime,
        scheme: request.scheme(),
        log_id: request.log_id(),
        body,
        header_only: request.is_header_only(),
        reload: application.reload,
        error_override: application.error_override,
        sendfile: application.sendfile,
        forwarded_https: application.forwarded_https,
        ignore_activity,
        variables: request.subprocess_env().entries().collect(),
    }
}

/// Why following the daemon stopped.
enum Failure {
    /// The daemon closed the connection (it died, or ended the request).
    Closed,
    TimedOut,
    Io(io::Error),
    Malformed(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Closed => f.write_str("the connection was closed"),
            Failure::TimedOut => f.write_str("no answer within socket-timeout"),
            Failure::Io(error) => write!(f, "{error}"),
            Failure::Malformed(why) => write!(f, "a malformed frame: {why}"),
        }
    }
}

fn frame_error(kind: Kind) -> rwsgi_wire::frame::Malformed {
    // Re-using the codec's error type for an unexpected kind.
    match FrameHeader::parse(FrameHeader::encode(kind, u32::MAX), Reader::Child) {
        Err(error) => error,
        Ok(_) => unreachable!("no frame may be u32::MAX long"),
    }
}

/// Bytes from the daemon, buffered, with the descriptors that came along.
struct Link {
    stream: UnixStream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    fds: Vec<OwnedFd>,
    /// A failure met while waiting for the first bytes, for the next read
    /// to report.
    pending: Option<Failure>,
}

const BUFFER: usize = 64 * 1024;

impl Link {
    fn new(stream: UnixStream) -> Self {
        Self {
            stream,
            buf: vec![0; BUFFER],
            start: 0,
            end: 0,
            fds: Vec::new(),
            pending: None,
        }
    }

    fn buffered(&self) -> usize {
        self.end - self.start
    }

    /// Reads more into the buffer (compacting it first).
    fn fill(&mut self) -> Result<(), Failure> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let end = self.end;
        match socket::recv_with_fds(&self.stream, &mut self.buf[end..], &mut self.fds) {
            Ok(0) => Err(Failure::Closed),
            Ok(n) => {
                self.end += n;
                Ok(())
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                Err(Failure::TimedOut)
            }
            Err(e) => Err(Failure::Io(e)),
        }
    }

    /// Waits for the daemon's first bytes after a request sent on a kept
    /// connection: true when the daemon reset the connection instead. A
    /// reset means it closed the connection with the request unread (one it
    /// had read would end in an orderly close), so the app never saw it.
    /// Any other failure is left in place for `follow` to report.
    fn reset_before_answering(&mut self) -> bool {
        if self.buffered() > 0 {
            return false;
        }
        match self.fill() {
            Err(Failure::Io(error)) if error.kind() == ErrorKind::ConnectionReset => true,
            Err(failure) => {
                self.pending = Some(failure);
                false
            }
            Ok(()) => false,
        }
    }

    fn header(&mut self) -> Result<FrameHeader, Failure> {
        if let Some(failure) = self.pending.take() {
            return Err(failure);
        }
        while self.buffered() < HEADER_LEN {
            self.fill()?;
        }
        let bytes: [u8; HEADER_LEN] = self.buf[self.start..self.start + HEADER_LEN]
            .try_into()
            .expect("HEADER_LEN bytes");
        self.start += HEADER_LEN;
        FrameHeader::parse(bytes, Reader::Child).map_err(|e| Failure::Malformed(e.to_string()))
    }

    /// The next `len` bytes, read whole into the buffer (grown for them).
    fn payload(&mut self, len: u32) -> Result<&[u8], Failure> {
        let len = len as usize;
        if self.buf.len() < len {
            self.buf.resize(len, 0);
        }
        while self.buffered() < len {
            if self.end == self.buf.len() {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            self.fill()?;
        }
        let payload = &self.buf[self.start..self.start + len];
        self.start += len;
        Ok(payload)
    }

    /// A whole frame (everything but Data, which streams).
    fn read_frame(&mut self) -> Result<(FrameHeader, &[u8]), Failure> {
        let header = self.header()?;
        Ok((header, self.payload(header.len)?))
    }
}

/// A request being relayed between Apache and the daemon.
struct Relay<'a, 'r> {
    request: &'a Request<'r>,
    link: Link,
    name: &'a str,
    pid: u32,
    /// Some of the response has been passed to Apache: from here on, a
    /// failure can only cut it short.
    passed_body: bool,
    /// The daemon said Goodbye: this connection takes no further request.
    goodbye: bool,
    /// The daemon cut the response short.
    aborted: bool,
    /// The connection may carry the next request: the response ended as
    /// the protocol says.
    reusable: bool,
}

impl<'a, 'r> Relay<'a, 'r> {
    fn new(request: &'a Request<'r>, link: Link, name: &'a str, pid: u32) -> Self {
        Self {
            request,
            link,
            name,
            pid,
            passed_body: false,
            goodbye: false,
            aborted: false,
            reusable: false,
        }
    }

    /// Keeps the connection for this thread's next request to the group.
    fn keep(self, generation: u64, index: usize) {
        if !self.reusable || self.link.buffered() > 0 || !self.link.fds.is_empty() {
            return;
        }
        let (pid, link) = (self.pid, self.link);
        KEPT.with_borrow_mut(|kept| {
            kept.retain(|k| !(k.generation == generation && k.index == index));
            kept.push(KeptLink {
                generation,
                index,
                pid,
                link,
            });
        });
    }

    fn follow(&mut self) -> i32 {
        loop {
            let header = match self.link.header() {
                Ok(header) => header,
                Err(failure) => return self.failed(&failure.to_string()),
            };
            let outcome = match header.kind {
                Kind::Data => self.data(header.len),
                Kind::End => match self.link.payload(header.len).and_then(|p| {
                    frame::decode_end(p).map_err(|e| Failure::Malformed(e.to_string()))
                }) {
                    Ok(status) => return self.ended(status),
                    Err(failure) => Err(failure),
                },
                Kind::Goodbye => {
                    // This connection takes no further request; this one
                    // is still served.
                    self.goodbye = true;
                    Ok(())
                }
                kind => self
                    .link
                    .payload(header.len)
                    .map(|p| p.to_vec())
                    .and_then(|p| self.other(kind, &p)),
            };
            if let Err(failure) = outcome {
                return self.failed(&failure.to_string());
            }
        }
    }

    fn other(&mut self, kind: Kind, payload: &[u8]) -> Result<(), Failure> {
        let malformed = |e: rwsgi_wire::frame::Malformed| Failure::Malformed(e.to_string());
        let r = self.request;
        match kind {
            Kind::Head => {
                let head = frame::Head::decode(payload).map_err(malformed)?;
                embedded::apply_head(
                    r,
                    head.code,
                    head.status_line,
                    head.headers.iter().copied(),
                    head.content_length,
                );
            }
            Kind::BodyWanted => {
                let wanted = BodyWanted::decode(payload).map_err(malformed)?;
                self.relay_body(wanted)?;
            }
            Kind::File => {
                let file = frame::File::decode(payload).map_err(malformed)?;
                if self.link.fds.is_empty() {
                    return Err(Failure::Malformed(
                        "a file frame without a descriptor".into(),
                    ));
                }
                let fd = self.link.fds.remove(0);
                self.passed_body = true;
                // Apache reads the file through its own descriptor (or
                // finishes with this one before returning); ours closes here.
                if r.write_file(fd.as_raw_fd(), file.offset, file.length, file.sendfile)
                    .is_err()
                {
                    return Err(Failure::Io(io::Error::other("the client went away")));
                }
            }
            Kind::Abort => {
                self.passed_body = true;
                self.aborted = true;
                r.abort_body();
            }
            Kind::ErrorHeader => {
                let (name, value) = frame::decode_error_header(payload).map_err(malformed)?;
                r.err_headers_out().add(name, value);
            }
            Kind::Log => {
                let (level, message) = frame::decode_log(payload).map_err(malformed)?;
                r.log(Level::relayed(level), &String::from_utf8_lossy(message));
            }
            other => return Err(Failure::Malformed(format!("an unexpected {other:?} frame"))),
        }
        // A descriptor arrives with the read that brings its File frame,
        // which may bring the frames before it too: they wait their turn,
        // but no more than a few.
        if self.link.fds.len() > 8 {
            return Err(Failure::Malformed("descriptors without File frames".into()));
        }
        Ok(())
    }

    /// A Data frame: its first byte says whether to flush; the block goes
    /// down the filters as it arrives, in pieces of the buffer's size.
    fn data(&mut self, len: u32) -> Result<(), Failure> {
        if len == 0 {
            return Err(Failure::Malformed(
                "a data frame without its flush byte".into(),
            ));
        }
        while self.link.buffered() < 1 {
            self.link.fill()?;
        }
        let flush = frame::data_flush(self.link.buf[self.link.start])
            .map_err(|e| Failure::Malformed(e.to_string()))?;
        self.link.start += 1;
        let mut left = len as usize - 1;
        if left > 0 {
            self.passed_body = true;
        }
        while left > 0 {
            if self.link.buffered() == 0 {
                self.link.fill()?;
            }
            let take = left.min(self.link.buffered());
            let piece = &self.link.buf[self.link.start..self.link.start + take];
            left -= take;
            let sent = self.request.write_body(piece, flush && left == 0);
            self.link.start += take;
            if sent.is_err() {
                return Err(Failure::Io(io::Error::other("the client went away")));
            }
        }
        Ok(())
    }

    /// Reads the client's body as the daemon asked and sends it on.
    fn relay_body(&mut self, wanted: BodyWanted) -> Result<(), Failure> {
        let max = wanted.max.min(MAX_DATA) as usize;
        let mut piece = vec![std::mem::MaybeUninit::<u8>::uninit(); max.min(64 * 1024)];
        let mut sent = 0;
        loop {
            let room = (max - sent).min(piece.len());
            let read = self.request.read_body(&mut piece[..room]);
            let mut out = Vec::with_capacity(HEADER_LEN + room);
            match read {
                Ok(n) => {
                    out.extend_from_slice(&FrameHeader::encode(Kind::Body, n as u32));
                    // SAFETY: read_body initialised the first n bytes.
                    out.extend(piece[..n].iter().map(|b| unsafe { b.assume_init() }));
                    socket::write_all_vectored(&self.link.stream, &[&out]).map_err(Failure::Io)?;
                    sent += n;
                    if n == 0 || !wanted.fill || sent == max {
                        return Ok(());
                    }
                }
                Err(_) => {
                    frame::encode_empty(Kind::BodyFailed, &mut out);
                    socket::write_all_vectored(&self.link.stream, &[&out]).map_err(Failure::Io)?;
                    return Ok(());
                }
            }
        }
    }

    fn ended(&mut self, status: i32) -> i32 {
        self.reusable = !self.goodbye && !self.aborted;
        if status == 0 { status::OK } else { status }
    }

    /// The daemon stopped answering: 502 (504 on a timeout) if nothing of
    /// the response went out yet, else the response is cut short.
    fn failed(&mut self, why: &str) -> i32 {
        let timed_out = why.contains("socket-timeout");
        let answer = if self.passed_body {
            "the response is cut short".to_string()
        } else if timed_out {
            "answering 504".to_string()
        } else {
            "answering 502".to_string()
        };
        self.request.log(
            Level::Error(LogId("RW0806")),
            &format!(
                "mod_rwsgi: daemon process group '{}' (pid {}) failed the request: {why}{}; {answer}",
                self.name,
                self.pid,
                if matches!(why, "the connection was closed") { " (the process may have died: see its log line)" } else { "" }
            ),
        );
        if self.passed_body {
            self.request.abort_body();
            return status::OK;
        }
        // Whatever head the daemon sent is dropped: Apache answers.
        self.request.clear_response();
        if timed_out {
            GATEWAY_TIMEOUT
        } else {
            BAD_GATEWAY
        }
    }
}
