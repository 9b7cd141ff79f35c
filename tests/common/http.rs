//! A small HTTP/1.1 client over raw TCP, so tests control every byte sent
//! and see every byte received.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Whether the body arrived whole (its full Content-Length, or a chunked
    /// body with its last chunk).
    pub complete: bool,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub fn connect(port: u16) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to Apache");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("read timeout");
    stream
}

pub fn get(port: u16, path: &str) -> Response {
    raw(
        port,
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

pub fn post(port: u16, path: &str, body: &[u8]) -> Response {
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    raw(port, &request)
}

/// Sends `request` as is and reads the response until the server closes.
pub fn raw(port: u16, request: &[u8]) -> Response {
    let mut stream = connect(port);
    stream.write_all(request).expect("send request");
    read_response(&mut stream)
}

pub fn read_response(stream: &mut TcpStream) -> Response {
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes);
    parse(&bytes).unwrap_or_else(|| {
        panic!(
            "not an HTTP response: {:?}",
            String::from_utf8_lossy(&bytes)
        )
    })
}

pub fn parse(bytes: &[u8]) -> Option<Response> {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&bytes[..end]).ok()?;
    let rest = &bytes[end + 4..];
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut response = Response {
        status,
        headers,
        body: Vec::new(),
        complete: true,
    };
    if response
        .header("Transfer-Encoding")
        .is_some_and(|te| te.eq_ignore_ascii_case("chunked"))
    {
        let (body, complete) = dechunk(rest);
        response.body = body;
        response.complete = complete;
    } else if let Some(length) = response
        .header("Content-Length")
        .and_then(|l| l.parse::<usize>().ok())
    {
        response.complete = rest.len() >= length;
        response.body = rest[..rest.len().min(length)].to_vec();
    } else {
        response.body = rest.to_vec();
    }
    Some(response)
}

/// Decodes a chunked body: (data, whether the last chunk arrived).
fn dechunk(mut rest: &[u8]) -> (Vec<u8>, bool) {
    let mut body = Vec::new();
    loop {
        let Some(line_end) = rest.windows(2).position(|w| w == b"\r\n") else {
            return (body, false);
        };
        let size_text = String::from_utf8_lossy(&rest[..line_end]);
        let Ok(size) = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
        else {
            return (body, false);
        };
        rest = &rest[line_end + 2..];
        if size == 0 {
            return (body, true);
        }
        if rest.len() < size + 2 {
            body.extend_from_slice(&rest[..rest.len().min(size)]);
            return (body, false);
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

/// How one request on a keep-alive connection ended.
pub enum KeepAliveAnswer {
    /// A whole response (its Content-Length read).
    Whole(Response),
    /// The server closed the connection before any byte of an answer: an
    /// idle keep-alive connection it was closing as the request went out.
    /// HTTP clients send the request again on a new connection (RFC 9112,
    /// 9.3.1).
    ClosedBeforeAnswer,
    /// Anything else: an error, or a connection lost mid-answer.
    Broken(String),
}

/// Sends `request` on `stream` and reads one response with a
/// Content-Length, leaving the connection open for the next.
pub fn keep_alive_request(stream: &mut TcpStream, request: &[u8]) -> KeepAliveAnswer {
    if stream.write_all(request).is_err() {
        return KeepAliveAnswer::ClosedBeforeAnswer;
    }
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            let Some(head) = parse(&bytes[..end + 4]) else {
                return KeepAliveAnswer::Broken(format!(
                    "bad head: {:?}",
                    String::from_utf8_lossy(&bytes)
                ));
            };
            let Some(length) = head
                .header("content-length")
                .and_then(|l| l.parse::<usize>().ok())
            else {
                return KeepAliveAnswer::Broken("answer without Content-Length".into());
            };
            if bytes.len() >= end + 4 + length {
                let mut whole = parse(&bytes[..end + 4 + length]).expect("parsed above");
                whole.complete = true;
                return KeepAliveAnswer::Whole(whole);
            }
        }
        match stream.read(&mut chunk) {
            Ok(0) if bytes.is_empty() => return KeepAliveAnswer::ClosedBeforeAnswer,
            Err(e) if bytes.is_empty() && e.kind() == std::io::ErrorKind::ConnectionReset => {
                return KeepAliveAnswer::ClosedBeforeAnswer;
            }
            Ok(0) => {
                return KeepAliveAnswer::Broken(format!(
                    "closed mid-answer after {} bytes",
                    bytes.len()
                ));
            }
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            Err(e) => return KeepAliveAnswer::Broken(format!("{e} after {} bytes", bytes.len())),
        }
    }
}
