//! The frames an Apache child and a daemon process exchange over their UNIX
//! socket. Each side treats the other's bytes as untrusted: a daemon runs
//! application code that can write anything to its descriptors, and any
//! local process of Apache's user can connect to a daemon. So every frame is
//! length-prefixed, every length is bounded before anything is allocated,
//! and a frame that breaks a rule is refused whole.
//!
//! A frame is a 5-byte header (the payload's length as a little-endian u32,
//! then the kind) followed by the payload. Integers are little-endian;
//! strings are a u32 length and the bytes.
//!
//! One request on a connection:
//! ```text
//! daemon  -> child   Challenge   (once per connection: nonce, daemon pid)
//! child   -> daemon  Proof       (once per connection: MAC of the nonce)
//! child   -> daemon  Request     (environ and what the configuration chose)
//! daemon  -> child   BodyWanted  (the app reads wsgi.input) ...
//! child   -> daemon  Body ...    (the bytes, or BodyFailed)
//! daemon  -> child   Head, Data, File, Log, ErrorHeader, Abort ...
//! daemon  -> child   End         (the status for Apache; the connection is
//!                                 free for the next request)
//! ```
//! A connection carries one request after another; a daemon on its way
//! out sends Goodbye on the idle ones and still serves a request that
//! crossed it, so no request is lost to a connection closing under it.
//! The child reads the client's body only when the daemon asks for it, and
//! the daemon asks only when it will read the answer, so neither side can
//! fill the socket while the other waits: no order of reads and writes by
//! the application can deadlock the two processes.

use std::fmt;

use crate::response_head::{check_header, parse_status};

/// Bytes before every payload: its length (u32) and its kind (u8).
pub const HEADER_LEN: usize = 5;

/// The largest Request frame: the whole environ of one request. Apache's
/// own limits (LimitRequestFields x LimitRequestFieldSize) keep real ones
/// far below.
pub const MAX_REQUEST: u32 = 16 * 1024 * 1024;
/// The largest Head frame: a status line and its headers.
pub const MAX_HEAD: u32 = 1024 * 1024;
/// The largest Data or Body frame; larger blocks go as several frames.
pub const MAX_DATA: u32 = 4 * 1024 * 1024;
/// The largest Log frame (one message from wsgi.errors or print()).
pub const MAX_LOG: u32 = 256 * 1024;
/// The most CGI variables, and the most headers, one frame may carry.
pub const MAX_ENTRIES: u32 = 64 * 1024;

/// The longest application group name a Spawn frame may carry.
pub const MAX_GROUP_NAME: u32 = 16 * 1024;

/// The size of a challenge's nonce and of a proof's MAC.
pub const NONCE_LEN: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    // Child to daemon.
    Proof = 1,
    Request = 2,
    Body = 3,
    BodyFailed = 4,
    /// To the group manager: start a process for an application group.
    Spawn = 5,
    // Daemon to child.
    Challenge = 16,
    BodyWanted = 17,
    Head = 18,
    Data = 19,
    File = 20,
    Abort = 21,
    ErrorHeader = 22,
    Log = 23,
    End = 24,
    /// The daemon takes no new request on this (idle) connection; one
    /// already sent is still served.
    Goodbye = 25,
    /// From the group manager: the application group's number.
    Spawned = 26,
}

/// Which end of the connection reads a frame: each accepts only the kinds
/// the other end sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reader {
    /// The Apache child reads what the daemon sends.
    Child,
    /// The daemon reads what the Apache child sends.
    Daemon,
}

/// Why bytes were refused as a frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Malformed(String);

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Malformed {}

fn malformed<T>(why: impl Into<String>) -> Result<T, Malformed> {
    Err(Malformed(why.into()))
}

impl Kind {
    fn from_byte(byte: u8) -> Option<Self> {
        use Kind::*;
        Some(match byte {
            1 => Proof,
            2 => Request,
            3 => Body,
            4 => BodyFailed,
            5 => Spawn,
            16 => Challenge,
            17 => BodyWanted,
            18 => Head,
            19 => Data,
            20 => File,
            21 => Abort,
            22 => ErrorHeader,
            23 => Log,
            24 => End,
            25 => Goodbye,
            26 => Spawned,
            _ => return None,
        })
    }

    /// Who may read a frame of this kind.
    fn reader(self) -> Reader {
        if (self as u8) < 16 {
            Reader::Daemon
        } else {
            Reader::Child
        }
    }

    /// The payload lengths a frame of this kind may have.
    fn lengths(self) -> (u32, u32) {
        use Kind::*;
        match self {
            Proof => (NONCE_LEN as u32, NONCE_LEN as u32),
            Challenge => (NONCE_LEN as u32 + 4, NONCE_LEN as u32 + 4),
            Request => (0, MAX_REQUEST),
            Body | Data => (0, MAX_DATA + 1),
            BodyFailed | Abort | Goodbye => (0, 0),
            Spawn => (4, 4 + MAX_GROUP_NAME),
            Spawned => (4, 4),
            BodyWanted => (5, 5),
            Head => (0, MAX_HEAD),
            File => (17, 17),
            ErrorHeader => (0, MAX_HEAD),
            Log => (1, MAX_LOG + 1),
            End => (4, 4),
        }
    }
}

/// A frame's header, checked: a kind this end may read, and a length that
/// kind allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    pub kind: Kind,
    pub len: u32,
}

impl FrameHeader {
    pub fn parse(bytes: [u8; HEADER_LEN], reader: Reader) -> Result<Self, Malformed> {
        let len = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        let Some(kind) = Kind::from_byte(bytes[4]) else {
            return malformed(format!("unknown frame kind {}", bytes[4]));
        };
        if kind.reader() != reader {
            return malformed(format!("a {kind:?} frame cannot come from this side"));
        }
        let (min, max) = kind.lengths();
        if len < min || len > max {
            return malformed(format!(
                "a {kind:?} frame of {len} bytes (allowed: {min} to {max})"
            ));
        }
        Ok(Self { kind, len })
    }

    pub fn encode(kind: Kind, len: u32) -> [u8; HEADER_LEN] {
        let l = len.to_le_bytes();
        [l[0], l[1], l[2], l[3], kind as u8]
    }
}

/// Reads a payload front to back, never past its end.
struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn new(payload: &'a [u8]) -> Self {
        Self { rest: payload }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        let Some((taken, rest)) = self.rest.split_at_checked(n) else {
            return malformed(format!(
                "a frame ends early ({n} bytes wanted, {} left)",
                self.rest.len()
            ));
        };
        self.rest = rest;
        Ok(taken)
    }

    fn u8(&mut self) -> Result<u8, Malformed> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, Malformed> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, Malformed> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, Malformed> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }

    fn bytes(&mut self) -> Result<&'a [u8], Malformed> {
        let len = self.u32()? as usize;
        self.take(len)
    }

    /// A string that will become a C string: no NUL inside.
    fn c_bytes(&mut self, what: &str) -> Result<&'a [u8], Malformed> {
        let bytes = self.bytes()?;
        if bytes.contains(&0) {
            return malformed(format!("a NUL byte in {what}"));
        }
        Ok(bytes)
    }

    fn count(&mut self, what: &str) -> Result<usize, Malformed> {
        let n = self.u32()?;
        if n > MAX_ENTRIES {
            return malformed(format!("{n} {what} (at most {MAX_ENTRIES})"));
        }
        Ok(n as usize)
    }

    fn end(self) -> Result<(), Malformed> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            malformed(format!(
                "{} bytes after the end of a frame",
                self.rest.len()
            ))
        }
    }
}

fn put_u32(out: &mut Vec<u8>, n: u32) {
    out.extend_from_slice(&n.to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_u32(out, bytes.len() as u32);
    out.extend_from_slice(bytes);
}

/// Starts a frame in `out`; [`finish`] writes its length once the payload
/// is in.
fn start(out: &mut Vec<u8>, kind: Kind) -> usize {
    let at = out.len();
    out.extend_from_slice(&FrameHeader::encode(kind, 0));
    at
}

fn finish(out: &mut [u8], at: usize) {
    let len = (out.len() - at - HEADER_LEN) as u32;
    out[at..at + 4].copy_from_slice(&len.to_le_bytes());
}

/// The daemon's first frame on a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    pub nonce: [u8; NONCE_LEN],
    pub pid: u32,
}

impl Challenge {
    pub fn encode(&self, out: &mut Vec<u8>) {
        let at = start(out, Kind::Challenge);
        out.extend_from_slice(&self.nonce);
        put_u32(out, self.pid);
        finish(out, at);
    }

    pub fn decode(payload: &[u8]) -> Result<Self, Malformed> {
        let mut c = Cursor::new(payload);
        let nonce = c.take(NONCE_LEN)?.try_into().expect("NONCE_LEN bytes");
        let pid = c.u32()?;
        c.end()?;
        Ok(Self { nonce, pid })
    }
}

/// How the daemon should treat the request body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyLength {
    /// This many bytes are to come (0: no body).
    Known(u64),
    /// Chunked: the length is known only at its end.
    Chunked,
}

/// What a request asks of a daemon: its environ, and what the Apache
/// child's configuration chose for it. Borrows the frame's bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    pub script: &'a [u8],
    pub callable: &'a [u8],
    pub application_group: &'a [u8],
    /// The script's modification time as Apache's stat() gave it.
    pub mtime: i64,
    pub scheme: &'a [u8],
    pub log_id: Option<&'a [u8]>,
    pub body: BodyLength,
    pub header_only: bool,
    pub reload: bool,
    pub error_override: bool,
    pub sendfile: Option<bool>,
    pub forwarded_https: Option<bool>,
    /// WSGIIgnoreActivity: this request does not count as activity for the
    /// daemon's inactivity-timeout.
    pub ignore_activity: bool,
    /// The CGI variables, in Apache's order.
    pub variables: Vec<(&'a [u8], &'a [u8])>,
}

const HEADER_ONLY: u16 = 1;
const RELOAD: u16 = 2;
const ERROR_OVERRIDE: u16 = 4;
const SENDFILE_SET: u16 = 8;
const SENDFILE_ON: u16 = 16;
const HTTPS_SET: u16 = 32;
const HTTPS_ON: u16 = 64;
const CHUNKED: u16 = 128;
const IGNORE_ACTIVITY: u16 = 256;
const REQUEST_FLAGS: u16 = 511;

fn tristate(flags: u16, set: u16, on: u16) -> Option<bool> {
    (flags & set != 0).then_some(flags & on != 0)
}

fn tristate_flags(value: Option<bool>, set: u16, on: u16) -> u16 {
    match value {
        None => 0,
        Some(false) => set,
        Some(true) => set | on,
    }
}

impl<'a> Request<'a> {
    /// The bytes `encode` adds: reserved at once, so the frame is built
    /// without growing.
    pub fn encoded_len(&self) -> usize {
        let strings = [
            self.script,
            self.callable,
            self.application_group,
            self.scheme,
        ]
        .iter()
        .map(|s| 4 + s.len())
        .sum::<usize>();
        let variables = self
            .variables
            .iter()
            .map(|(n, v)| 8 + n.len() + v.len())
            .sum::<usize>();
        HEADER_LEN
            + 2
            + 8
            + 8
            + strings
            + 1
            + self.log_id.map_or(0, |id| 4 + id.len())
            + 4
            + variables
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.reserve(self.encoded_len());
        let at = start(out, Kind::Request);
        let mut flags = tristate_flags(self.sendfile, SENDFILE_SET, SENDFILE_ON)
            | tristate_flags(self.forwarded_https, HTTPS_SET, HTTPS_ON);
        for (on, flag) in [
            (self.header_only, HEADER_ONLY),
            (self.reload, RELOAD),
            (self.error_override, ERROR_OVERRIDE),
            (self.body == BodyLength::Chunked, CHUNKED),
            (self.ignore_activity, IGNORE_ACTIVITY),
        ] {
            if on {
                flags |= flag;
            }
        }
        out.extend_from_slice(&flags.to_le_bytes());
        let length = match self.body {
            BodyLength::Known(n) => n,
            BodyLength::Chunked => 0,
        };
        out.extend_from_slice(&length.to_le_bytes());
        out.extend_from_slice(&self.mtime.to_le_bytes());
        for text in [
            self.script,
            self.callable,
            self.application_group,
            self.scheme,
        ] {
            put_bytes(out, text);
        }
        match self.log_id {
            Some(id) => {
                out.push(1);
                put_bytes(out, id);
            }
            None => out.push(0),
        }
        put_u32(out, self.variables.len() as u32);
        for (name, value) in &self.variables {
            put_bytes(out, name);
            put_bytes(out, value);
        }
        finish(out, at);
    }

    pub fn decode(payload: &'a [u8]) -> Result<Self, Malformed> {
        let mut c = Cursor::new(payload);
        let flags = c.u16()?;
        if flags & !REQUEST_FLAGS != 0
            || flags & (SENDFILE_SET | SENDFILE_ON) == SENDFILE_ON
            || flags & (HTTPS_SET | HTTPS_ON) == HTTPS_ON
        {
            return malformed(format!("request flags {flags:#x}"));
        }
        let length = c.u64()?;
        let mtime = i64::from_le_bytes(c.take(8)?.try_into().expect("8 bytes"));
        let script = c.c_bytes("the script path")?;
        if script.first() != Some(&b'/') {
            return malformed("the script path is not absolute");
        }
        let callable = c.c_bytes("the callable's name")?;
        let application_group = c.bytes()?;
        let scheme = c.c_bytes("the scheme")?;
        let log_id = match c.u8()? {
            0 => None,
            1 => Some(c.c_bytes("the log id")?),
            other => return malformed(format!("log id marker {other}")),
        };
        let count = c.count("CGI variables")?;
        let mut variables = Vec::with_capacity(count.min(256));
        // Names and values become Python strings only, where any byte is
        // safe: bounded, not scanned.
        for _ in 0..count {
            let name = c.bytes()?;
            if name.is_empty() {
                return malformed("a CGI variable without a name");
            }
            variables.push((name, c.bytes()?));
        }
        c.end()?;
        let body = if flags & CHUNKED != 0 {
            if length != 0 {
                return malformed("a chunked body with a length");
            }
            BodyLength::Chunked
        } else {
            BodyLength::Known(length)
        };
        Ok(Self {
            script,
            callable,
            application_group,
            mtime,
            scheme,
            log_id,
            body,
            header_only: flags & HEADER_ONLY != 0,
            reload: flags & RELOAD != 0,
            error_override: flags & ERROR_OVERRIDE != 0,
            sendfile: tristate(flags, SENDFILE_SET, SENDFILE_ON),
            forwarded_https: tristate(flags, HTTPS_SET, HTTPS_ON),
            ignore_activity: flags & IGNORE_ACTIVITY != 0,
            variables,
        })
    }
}

/// The daemon asks for up to `max` bytes of the body: with `fill`, as
/// many Body frames as make `max` bytes (or the end of the body, marked by
/// an empty Body frame); without, one Body frame with what one read gives
/// (empty at the end of the body). BodyFailed answers either when the read
/// fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyWanted {
    pub max: u32,
    pub fill: bool,
}

impl BodyWanted {
    pub fn encode(&self, out: &mut Vec<u8>) {
        let at = start(out, Kind::BodyWanted);
        put_u32(out, self.max);
        out.push(u8::from(self.fill));
        finish(out, at);
    }

    pub fn decode(payload: &[u8]) -> Result<Self, Malformed> {
        let mut c = Cursor::new(payload);
        let max = c.u32()?;
        let fill = match c.u8()? {
            0 => false,
            1 => true,
            other => return malformed(format!("body fill flag {other}")),
        };
        c.end()?;
        if max == 0 {
            return malformed("a body request for 0 bytes");
        }
        Ok(Self { max, fill })
    }
}

/// The response's status and headers, checked again on arrival by the same
/// rules start_response applied in the daemon.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head<'a> {
    pub code: u16,
    pub status_line: &'a [u8],
    pub content_length: Option<u64>,
    pub headers: Vec<(&'a [u8], &'a [u8])>,
}

impl<'a> Head<'a> {
    pub fn encode(&self, out: &mut Vec<u8>) {
        let at = start(out, Kind::Head);
        out.extend_from_slice(&self.code.to_le_bytes());
        put_bytes(out, self.status_line);
        match self.content_length {
            Some(length) => {
                out.push(1);
                out.extend_from_slice(&length.to_le_bytes());
            }
            None => out.push(0),
        }
        put_u32(out, self.headers.len() as u32);
        for (name, value) in &self.headers {
            put_bytes(out, name);
            put_bytes(out, value);
        }
        finish(out, at);
    }

    pub fn decode(payload: &'a [u8]) -> Result<Self, Malformed> {
        let mut c = Cursor::new(payload);
        let code = c.u16()?;
        let status_line = c.bytes()?;
        match parse_status(status_line) {
            Ok(parsed) if parsed == code => {}
            _ => return malformed("the status line does not match its code or is invalid"),
        }
        let content_length = match c.u8()? {
            0 => None,
            1 => Some(c.u64()?),
            other => return malformed(format!("content length marker {other}")),
        };
        let count = c.count("headers")?;
        let mut headers = Vec::with_capacity(count.min(64));
        for _ in 0..count {
            let (name, value) = (c.bytes()?, c.bytes()?);
            if let Err(invalid) = check_header(name, value) {
                return malformed(invalid.to_string());
            }
            headers.push((name, value));
        }
        c.end()?;
        Ok(Self {
            code,
            status_line,
            content_length,
            headers,
        })
    }
}

/// A block of the response body (Data) or of the request body (Body).
/// Data's first payload byte says whether to flush it to the client.
pub fn encode_data_header(len: usize, flush: bool) -> [u8; HEADER_LEN + 1] {
    let h = FrameHeader::encode(Kind::Data, len as u32 + 1);
    [h[0], h[1], h[2], h[3], h[4], u8::from(flush)]
}

/// The flush byte of a Data frame.
pub fn data_flush(byte: u8) -> Result<bool, Malformed> {
    match byte {
        0 => Ok(false),
        1 => Ok(true),
        other => malformed(format!("data flush flag {other}")),
    }
}

/// A file the daemon passes with the frame (its descriptor travels as
/// SCM_RIGHTS): `length` bytes from `offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct File {
    pub offset: u64,
    pub length: u64,
    pub sendfile: Option<bool>,
}

impl File {
    pub fn encode(&self, out: &mut Vec<u8>) {
        let at = start(out, Kind::File);
        out.extend_from_slice(&self.offset.to_le_bytes());
        out.extend_from_slice(&self.length.to_le_bytes());
        out.push(tristate_flags(self.sendfile, SENDFILE_SET, SENDFILE_ON) as u8);
        finish(out, at);
    }

    pub fn decode(payload: &[u8]) -> Result<Self, Malformed> {
        let mut c = Cursor::new(payload);
        let offset = c.u64()?;
        let length = c.u64()?;
        let flags = u16::from(c.u8()?);
        c.end()?;
        if flags & !(SENDFILE_SET | SENDFILE_ON) != 0 || flags == SENDFILE_ON {
            return malformed(format!("file flags {flags}"));
        }
        // Both must fit an off_t for Apache.
        if offset > i64::MAX as u64 || length > i64::MAX as u64 - offset {
            return malformed("a file range beyond an off_t");
        }
        Ok(Self {
            offset,
            length,
            sendfile: tristate(flags, SENDFILE_SET, SENDFILE_ON),
        })
    }
}

/// A header to keep on Apache's own error response (WSGIErrorOverride).
pub fn encode_error_header(name: &[u8], value: &[u8], out: &mut Vec<u8>) {
    let at = start(out, Kind::ErrorHeader);
    put_bytes(out, name);
    put_bytes(out, value);
    finish(out, at);
}

pub fn decode_error_header(payload: &[u8]) -> Result<(&[u8], &[u8]), Malformed> {
    let mut c = Cursor::new(payload);
    let (name, value) = (c.bytes()?, c.bytes()?);
    c.end()?;
    if let Err(invalid) = check_header(name, value) {
        return malformed(invalid.to_string());
    }
    Ok((name, value))
}

/// The severity of a Log frame, as Apache's levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    Error,
    Warning,
    Notice,
    Info,
    Debug,
}

impl LogLevel {
    fn byte(self) -> u8 {
        self as u8
    }

    fn from_byte(byte: u8) -> Option<Self> {
        use LogLevel::*;
        [Error, Warning, Notice, Info, Debug]
            .into_iter()
            .find(|l| l.byte() == byte)
    }
}

/// A message for the request's error log, from the daemon. The child
/// escapes control characters when it writes it, as for any log line.
pub fn encode_log(level: LogLevel, message: &[u8], out: &mut Vec<u8>) {
    let message = &message[..message.len().min(MAX_LOG as usize)];
    let at = start(out, Kind::Log);
    out.push(level.byte());
    out.extend_from_slice(message);
    finish(out, at);
}

pub fn decode_log(payload: &[u8]) -> Result<(LogLevel, &[u8]), Malformed> {
    let (&level, message) = payload
        .split_first()
        .ok_or_else(|| Malformed("an empty log frame".into()))?;
    let level =
        LogLevel::from_byte(level).ok_or_else(|| Malformed(format!("log level {level}")))?;
    Ok((level, message))
}

/// The end of a response: the status the Apache child's handler returns
/// (0 once a response was sent, an HTTP status for Apache to answer).
pub fn encode_end(status: i32, out: &mut Vec<u8>) {
    let at = start(out, Kind::End);
    out.extend_from_slice(&status.to_le_bytes());
    finish(out, at);
}

pub fn decode_end(payload: &[u8]) -> Result<i32, Malformed> {
    let mut c = Cursor::new(payload);
    let status = i32::from_le_bytes(c.take(4)?.try_into().expect("4 bytes"));
    c.end()?;
    // OK, or an HTTP status Apache can answer with.
    if status != 0 && !(100..=599).contains(&status) {
        return malformed(format!("end status {status}"));
    }
    Ok(status)
}

/// Asks the group manager for the process of application group `name`
/// within `scope` (a daemon group's index, or the embedded scope's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spawn<'a> {
    pub scope: u32,
    pub name: &'a [u8],
}

impl<'a> Spawn<'a> {
    pub fn encode(&self, out: &mut Vec<u8>) {
        let at = start(out, Kind::Spawn);
        put_u32(out, self.scope);
        out.extend_from_slice(self.name);
        finish(out, at);
    }

    pub fn decode(payload: &'a [u8]) -> Result<Self, Malformed> {
        let mut c = Cursor::new(payload);
        let scope = c.u32()?;
        Ok(Self {
            scope,
            name: c.rest,
        })
    }
}

/// The manager's answer: the application group's number, or u32::MAX
/// when it cannot start one.
pub fn encode_spawned(number: u32, out: &mut Vec<u8>) {
    let at = start(out, Kind::Spawned);
    put_u32(out, number);
    finish(out, at);
}

pub fn decode_spawned(payload: &[u8]) -> Result<u32, Malformed> {
    let mut c = Cursor::new(payload);
    let number = c.u32()?;
    c.end()?;
    Ok(number)
}

/// An empty frame of `kind` (Abort, BodyFailed, the end of a body).
pub fn encode_empty(kind: Kind, out: &mut Vec<u8>) {
    out.extend_from_slice(&FrameHeader::encode(kind, 0));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(frame: &[u8], reader: Reader) -> (FrameHeader, &[u8]) {
        let header = FrameHeader::parse(frame[..HEADER_LEN].try_into().unwrap(), reader).unwrap();
        let payload = &frame[HEADER_LEN..];
        assert_eq!(payload.len(), header.len as usize);
        (header, payload)
    }

    fn request() -> Request<'static> {
        Request {
            script: b"/srv/app.wsgi",
            callable: b"application",
            application_group: b"example.org|/app",
            mtime: 1_700_000_000_123_456,
            scheme: b"https",
            log_id: Some(b"aBc"),
            body: BodyLength::Known(1024),
            header_only: false,
            reload: true,
            error_override: false,
            sendfile: Some(false),
            forwarded_https: None,
            ignore_activity: true,
            variables: vec![(b"REQUEST_METHOD", b"POST"), (b"HTTP_HOST", b"\xe9t\xe9")],
        }
    }

    #[test]
    fn a_request_comes_back_as_it_was_sent() {
        let mut out = Vec::new();
        request().encode(&mut out);
        assert_eq!(out.len(), request().encoded_len());
        let (header, payload) = split(&out, Reader::Daemon);
        assert_eq!(header.kind, Kind::Request);
        assert_eq!(Request::decode(payload).unwrap(), request());
    }

    #[test]
    fn a_chunked_request_with_a_length_is_refused() {
        let mut req = request();
        req.body = BodyLength::Chunked;
        let mut out = Vec::new();
        req.encode(&mut out);
        let mut payload = out[HEADER_LEN..].to_vec();
        payload[2] = 7;
        assert!(Request::decode(&payload).is_err());
        assert_eq!(
            Request::decode(&out[HEADER_LEN..]).unwrap().body,
            BodyLength::Chunked
        );
    }

    #[test]
    fn a_nul_in_the_script_path_or_a_relative_script_is_refused() {
        let mut req = request();
        req.script = b"/srv/a\0.wsgi";
        let mut out = Vec::new();
        req.encode(&mut out);
        assert!(Request::decode(&out[HEADER_LEN..]).is_err());
        let mut req = request();
        req.script = b"app.wsgi";
        let mut out = Vec::new();
        req.encode(&mut out);
        assert!(Request::decode(&out[HEADER_LEN..]).is_err());
    }

    #[test]
    fn every_truncation_of_a_request_is_refused() {
        let mut out = Vec::new();
        request().encode(&mut out);
        let payload = &out[HEADER_LEN..];
        for end in 0..payload.len() {
            assert!(Request::decode(&payload[..end]).is_err(), "cut at {end}");
        }
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let mut out = Vec::new();
        encode_end(0, &mut out);
        out.push(0);
        assert!(decode_end(&out[HEADER_LEN..]).is_err());
    }

    #[test]
    fn a_count_beyond_the_limit_is_refused_before_allocating() {
        let mut payload = vec![0u8; 18];
        for text in [&b"/a"[..], b"app", b"", b"http"] {
            put_bytes(&mut payload, text);
        }
        payload.push(0);
        put_u32(&mut payload, u32::MAX);
        assert!(
            Request::decode(&payload)
                .unwrap_err()
                .to_string()
                .contains("CGI variables")
        );
    }

    #[test]
    fn headers_accept_only_kinds_from_the_other_side_and_bounded_lengths() {
        let request = FrameHeader::encode(Kind::Request, 10);
        assert!(FrameHeader::parse(request, Reader::Daemon).is_ok());
        assert!(FrameHeader::parse(request, Reader::Child).is_err());
        let head = FrameHeader::encode(Kind::Head, MAX_HEAD + 1);
        assert!(FrameHeader::parse(head, Reader::Child).is_err());
        let end = FrameHeader::encode(Kind::End, 3);
        assert!(FrameHeader::parse(end, Reader::Child).is_err());
        assert!(FrameHeader::parse([0, 0, 0, 0, 99], Reader::Child).is_err());
        let data = FrameHeader::encode(Kind::Data, MAX_DATA + 2);
        assert!(FrameHeader::parse(data, Reader::Child).is_err());
    }

    #[test]
    fn a_head_is_checked_again_on_arrival() {
        let good = Head {
            code: 200,
            status_line: b"200 OK",
            content_length: Some(5),
            headers: vec![(b"Content-Type", b"text/plain")],
        };
        let mut out = Vec::new();
        good.encode(&mut out);
        assert_eq!(Head::decode(&out[HEADER_LEN..]).unwrap(), good);
        for bad in [
            Head {
                headers: vec![(b"X-Split", b"a\r\nSet-Cookie: x")],
                ..good.clone()
            },
            Head {
                headers: vec![(b"Transfer-Encoding", b"chunked")],
                ..good.clone()
            },
            Head {
                status_line: b"200 OK\r\n",
                ..good.clone()
            },
            Head {
                code: 404,
                ..good.clone()
            },
        ] {
            let mut out = Vec::new();
            bad.encode(&mut out);
            assert!(Head::decode(&out[HEADER_LEN..]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn body_wanted_file_log_and_end_round_trip() {
        let mut out = Vec::new();
        let wanted = BodyWanted {
            max: 65536,
            fill: true,
        };
        wanted.encode(&mut out);
        assert_eq!(BodyWanted::decode(&out[HEADER_LEN..]).unwrap(), wanted);

        let file = File {
            offset: 10,
            length: 1 << 40,
            sendfile: None,
        };
        out.clear();
        file.encode(&mut out);
        assert_eq!(File::decode(&out[HEADER_LEN..]).unwrap(), file);

        out.clear();
        encode_log(LogLevel::Warning, b"careful\n", &mut out);
        assert_eq!(
            decode_log(&out[HEADER_LEN..]).unwrap(),
            (LogLevel::Warning, &b"careful\n"[..])
        );

        out.clear();
        encode_end(503, &mut out);
        assert_eq!(decode_end(&out[HEADER_LEN..]).unwrap(), 503);
    }

    #[test]
    fn an_end_status_apache_cannot_answer_is_refused() {
        for status in [-1, 1, 99, 600, i32::MAX] {
            let mut out = Vec::new();
            encode_end(status, &mut out);
            assert!(decode_end(&out[HEADER_LEN..]).is_err(), "{status}");
        }
    }

    #[test]
    fn a_file_range_beyond_an_off_t_is_refused() {
        let file = File {
            offset: i64::MAX as u64,
            length: 1,
            sendfile: Some(true),
        };
        let mut out = Vec::new();
        file.encode(&mut out);
        assert!(File::decode(&out[HEADER_LEN..]).is_err());
    }

    #[test]
    fn a_body_request_for_nothing_is_refused() {
        let mut out = Vec::new();
        BodyWanted {
            max: 0,
            fill: false,
        }
        .encode(&mut out);
        assert!(BodyWanted::decode(&out[HEADER_LEN..]).is_err());
    }

    #[test]
    fn spawn_and_spawned_round_trip_and_bound_the_name() {
        let mut out = Vec::new();
        Spawn {
            scope: 3,
            name: b"example.org|/app",
        }
        .encode(&mut out);
        let (header, payload) = split(&out, Reader::Daemon);
        assert_eq!(header.kind, Kind::Spawn);
        assert_eq!(
            Spawn::decode(payload).unwrap(),
            Spawn {
                scope: 3,
                name: b"example.org|/app"
            }
        );
        let too_long = FrameHeader::encode(Kind::Spawn, 4 + MAX_GROUP_NAME + 1);
        assert!(FrameHeader::parse(too_long, Reader::Daemon).is_err());
        out.clear();
        encode_spawned(7, &mut out);
        let (_, payload) = split(&out, Reader::Child);
        assert_eq!(decode_spawned(payload).unwrap(), 7);
    }

    #[test]
    fn a_data_header_counts_its_flush_byte_and_the_flag_is_0_or_1() {
        for (len, flush) in [(0, false), (16 * 1024, true), (MAX_DATA as usize, false)] {
            let header = encode_data_header(len, flush);
            let parsed =
                FrameHeader::parse(header[..HEADER_LEN].try_into().unwrap(), Reader::Child)
                    .unwrap();
            assert_eq!(parsed.kind, Kind::Data);
            assert_eq!(parsed.len as usize, len + 1);
            assert_eq!(data_flush(header[HEADER_LEN]).unwrap(), flush);
        }
        for byte in [2, 0x80, 0xff] {
            assert!(data_flush(byte).is_err(), "{byte}");
        }
        // One byte more than a block may hold is refused by the header.
        let header = encode_data_header(MAX_DATA as usize + 1, false);
        assert!(
            FrameHeader::parse(header[..HEADER_LEN].try_into().unwrap(), Reader::Child).is_err()
        );
    }

    #[test]
    fn an_error_header_round_trips_and_is_checked_as_a_response_header() {
        let mut out = Vec::new();
        encode_error_header(b"WWW-Authenticate", b"Basic realm=\"x\"", &mut out);
        let (header, payload) = split(&out, Reader::Child);
        assert_eq!(header.kind, Kind::ErrorHeader);
        assert_eq!(
            decode_error_header(payload).unwrap(),
            (&b"WWW-Authenticate"[..], &b"Basic realm=\"x\""[..])
        );
        for (name, value) in [
            (&b"X-Split"[..], &b"a\r\nSet-Cookie: b"[..]),
            (b"Bad Name", b"v"),
            (b"", b"v"),
        ] {
            let mut out = Vec::new();
            encode_error_header(name, value, &mut out);
            let (_, payload) = split(&out, Reader::Child);
            assert!(decode_error_header(payload).is_err(), "{name:?}: {value:?}");
        }
        let mut out = Vec::new();
        encode_error_header(b"X-A", b"1", &mut out);
        out.push(0);
        assert!(
            decode_error_header(&out[HEADER_LEN..]).is_err(),
            "a trailing byte"
        );
    }

    #[test]
    fn empty_frames_have_no_payload_and_only_their_reader_accepts_them() {
        for (kind, reader, other) in [
            (Kind::Abort, Reader::Child, Reader::Daemon),
            (Kind::BodyFailed, Reader::Daemon, Reader::Child),
            (Kind::Goodbye, Reader::Child, Reader::Daemon),
        ] {
            let mut out = Vec::new();
            encode_empty(kind, &mut out);
            assert_eq!(out.len(), HEADER_LEN);
            let (header, payload) = split(&out, reader);
            assert_eq!((header.kind, payload.len()), (kind, 0));
            assert!(
                FrameHeader::parse(out[..].try_into().unwrap(), other).is_err(),
                "{kind:?}"
            );
        }
        // Abort with a payload is refused.
        let header = FrameHeader::encode(Kind::Abort, 1);
        assert!(FrameHeader::parse(header, Reader::Child).is_err());
    }

    #[test]
    fn a_challenge_round_trips() {
        let challenge = Challenge {
            nonce: [7; NONCE_LEN],
            pid: 4242,
        };
        let mut out = Vec::new();
        challenge.encode(&mut out);
        let (header, payload) = split(&out, Reader::Child);
        assert_eq!(header.kind, Kind::Challenge);
        assert_eq!(Challenge::decode(payload).unwrap(), challenge);
    }
}
