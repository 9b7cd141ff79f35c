//! Request bodies as Apache frames them: Expect: 100-continue answered on
//! the first read, chunked bodies refused by default (as mod_wsgi does), and
//! transfer codings Apache does not know refused before the app runs.

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use common::{Apache, http};

const SITE: &str = "WSGIScriptAlias /echo @APPS@/echo.wsgi";

#[test]
fn expect_100_continue_is_answered_when_the_app_reads() {
    let apache = Apache::start(SITE);
    let mut stream = http::connect(apache.port);
    stream
        .write_all(b"POST /echo?read HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n")
        .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut interim = [0u8; 25];
    stream
        .read_exact(&mut interim)
        .expect("an interim response before the body is sent");
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    stream.write_all(b"hello").unwrap();
    let response = http::read_response(&mut stream);
    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"hello");
}

const CHUNKED_UPLOAD: &[u8] = b"POST /echo?read HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n";

#[test]
fn a_chunked_request_body_is_read_whole_with_wsgi_chunked_request_on() {
    let apache = Apache::start(&format!(
        "{SITE}\n<Location /echo>\n    WSGIChunkedRequest On\n</Location>"
    ));
    let response = apache.raw(CHUNKED_UPLOAD);
    assert_eq!(response.status, 200, "{}", apache.error_log());
    assert_eq!(response.text(), "hello, world");
}

#[test]
fn wsgi_chunked_request_off_in_a_more_specific_section_refuses_again() {
    let apache = Apache::start(&format!(
        "WSGIChunkedRequest On\n{SITE}\n<Location /echo>\n    WSGIChunkedRequest Off\n</Location>"
    ));
    assert_eq!(apache.raw(CHUNKED_UPLOAD).status, 411);
}

#[test]
fn wsgi_chunked_request_takes_only_on_or_off() {
    let (ok, output) = Apache::check_config("WSGIChunkedRequest Maybe");
    assert!(!ok, "{output}");
    assert!(
        output.contains("WSGIChunkedRequest: 'Maybe' is not accepted; use On or Off"),
        "{output}"
    );
}

#[test]
fn a_chunked_request_body_is_refused_with_411_by_default() {
    let apache = Apache::start(SITE);
    let response = apache.raw(
        b"POST /echo?read HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    );
    assert_eq!(response.status, 411);
}

/// Apache's core refuses a transfer coding other than chunked before any
/// module sees the request (2.4.71 answers 400; mod_wsgi's docs, written for
/// older cores, say 501). The app must never run, and the answer must be
/// exactly the core's.
#[test]
fn an_unknown_transfer_coding_is_refused_by_apache_before_the_app_runs() {
    let apache = Apache::start(SITE);
    let request = |path: &str| {
        apache.raw(format!("POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: gzip\r\nConnection: close\r\n\r\nxxxx").as_bytes())
    };
    let to_the_app = request("/echo?read");
    let to_apache_alone = request("/not-a-wsgi-url");
    assert!(
        matches!(to_the_app.status, 400 | 501),
        "{}",
        to_the_app.status
    );
    assert_eq!(to_the_app.status, to_apache_alone.status);
    assert!(!to_the_app.text().contains("xxxx"));
}

#[test]
fn a_body_over_limit_request_body_is_refused_with_413() {
    let apache = Apache::start(&format!("LimitRequestBody 10\n{SITE}"));
    let response = apache.post("/echo?read", b"more than ten bytes");
    assert_eq!(response.status, 413);
}

#[test]
fn readline_without_a_size_returns_a_long_line_in_bounded_pieces() {
    let apache = Apache::start(SITE);
    // 3 MiB and 5 bytes without a newline, then a newline and a short line.
    let mut body = vec![b'x'; 3 * 1024 * 1024 + 5];
    body.extend_from_slice(b"\nend");
    let response = apache.post("/echo?line-lengths", &body);
    assert_eq!(response.status, 200, "{}", apache.error_log());
    assert_eq!(response.text(), "[1048576, 1048576, 1048576, 6, 3]");
}

#[test]
fn a_body_without_newlines_read_by_readline_arrives_whole() {
    let apache = Apache::start(SITE);
    let body: Vec<u8> = (0..3 * 1024 * 1024 + 7)
        .map(|i| (i % 251) as u8 | 0x80)
        .collect();
    for how in ["readline", "iterate", "readlines"] {
        let response = apache.post(&format!("/echo?{how}"), &body);
        assert!(
            response.body == body,
            "{how}: {} bytes back",
            response.body.len()
        );
    }
}

#[test]
fn a_one_gib_upload_streams_through_with_flat_memory() {
    const GIB: u64 = 1 << 30;
    let apache =
        Apache::start("LimitRequestBody 0\nWSGIScriptAlias /upload @APPS@/upload_rss.wsgi\n");
    let mut stream = http::connect(apache.port);
    stream
        .set_write_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    write!(
        stream,
        "POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {GIB}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let piece = vec![b'u'; 64 * 1024];
    for _ in 0..GIB / piece.len() as u64 {
        stream.write_all(&piece).expect("the upload is accepted");
    }
    let response = http::read_response(&mut stream);
    assert_eq!(response.status, 200, "{}", apache.error_log());
    let report = response.text();
    let number = |key: &str| -> u64 {
        let at = report
            .find(key)
            .unwrap_or_else(|| panic!("{key} in {report}"))
            + key.len()
            + 3;
        report[at..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{key} in {report}"))
    };
    assert_eq!(number("received"), GIB, "{report}");
    let growth_kib = number("rss_max_kib").saturating_sub(number("rss_start_kib"));
    assert!(
        growth_kib < 16 * 1024,
        "the child grew by {growth_kib} KiB while reading 1 GiB: {report}"
    );
}
