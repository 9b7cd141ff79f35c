//! Malformed and hostile requests: Apache answers 4xx or closes, the app
//! never sees a smuggled request, and no child crashes (every server's
//! Drop fails the test on a crash line in the error log).

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use common::{Apache, http};

const SITE: &str = "WSGIScriptAlias /log @APPS@/request_log.wsgi\nWSGIChunkedRequest On\n";

/// Sends raw bytes and reads everything until the server closes.
fn exchange(apache: &Apache, request: &[u8]) -> String {
    let mut stream = http::connect(apache.port);
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

fn status_of(answer: &str) -> u16 {
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Markers the app left: one per request it saw.
fn seen(apache: &Apache) -> Vec<String> {
    std::fs::read_dir(apache.root().join("markers"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.replace("%20", " ").replace("%2F", "/")
        })
        .collect()
}

#[test]
fn content_length_with_transfer_encoding_smuggles_nothing() {
    let apache = Apache::start(SITE);
    let answer = exchange(
        &apache,
        b"POST /log/first HTTP/1.1\r\nHost: a\r\nContent-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /log/smuggled HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    let status = status_of(&answer);
    assert!(status == 400 || status == 200, "{answer}");
    assert!(
        !seen(&apache).iter().any(|s| s.contains("smuggled")),
        "the smuggled request reached the app: {:?}",
        seen(&apache)
    );
}

#[test]
fn bad_and_huge_chunk_sizes_are_refused() {
    let apache = Apache::start(SITE);
    for body in [
        &b"zz\r\nhello\r\n0\r\n\r\n"[..],
        b"ffffffffffffffffffff\r\nhello\r\n0\r\n\r\n",
        b"-5\r\nhello\r\n0\r\n\r\n",
    ] {
        let mut request = b"POST /log/chunks HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
        request.extend_from_slice(body);
        let answer = exchange(&apache, &request);
        let status = status_of(&answer);
        assert!(
            (400..500).contains(&status),
            "{}: {answer}",
            String::from_utf8_lossy(body)
        );
    }
    assert!(
        seen(&apache).iter().all(|s| !s.ends_with(" 5")),
        "{:?}",
        seen(&apache)
    );
}

#[test]
fn chunk_extensions_are_ignored_and_the_body_arrives() {
    let apache = Apache::start(SITE);
    let answer = exchange(
        &apache,
        b"POST /log/ext HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5;name=value\r\nhello\r\n0\r\n\r\n",
    );
    assert_eq!(status_of(&answer), 200, "{answer}");
    assert!(answer.ends_with("hello"), "{answer}");
}

#[test]
fn an_obs_folded_header_reaches_the_app_unfolded_or_not_at_all() {
    let apache = Apache::start(&format!("{SITE}WSGIScriptAlias /probe @APPS@/probe.wsgi\n"));
    let answer = exchange(
        &apache,
        b"GET /probe?environ=HTTP_X_FOLDED HTTP/1.1\r\nHost: a\r\nX-Folded: one\r\n two\r\nConnection: close\r\n\r\n",
    );
    // RFC 9112 lets a server refuse obs-fold or replace it with spaces;
    // Apache 2.4 replaces it. Either way no line break reaches environ.
    match status_of(&answer) {
        400 => {}
        200 => assert!(answer.ends_with(r#"{"value": "one two"}"#), "{answer}"),
        _ => panic!("{answer}"),
    }
}

#[test]
fn control_bytes_in_header_names_and_values_are_400() {
    let apache = Apache::start(SITE);
    for request in [
        &b"GET /log/nul HTTP/1.1\r\nHost: a\r\nX-Nul: a\x00b\r\nConnection: close\r\n\r\n"[..],
        b"GET /log/ctl HTTP/1.1\r\nHost: a\r\nX-Ctl: a\x01b\r\nConnection: close\r\n\r\n",
        b"GET /log/name HTTP/1.1\r\nHost: a\r\nX\x00Name: v\r\nConnection: close\r\n\r\n",
        b"GET /log/space HTTP/1.1\r\nHost: a\r\nX Name: v\r\nConnection: close\r\n\r\n",
    ] {
        let answer = exchange(&apache, request);
        assert_eq!(
            status_of(&answer),
            400,
            "{:?}: {answer}",
            String::from_utf8_lossy(request)
        );
    }
    assert!(seen(&apache).is_empty(), "the app saw: {:?}", seen(&apache));
}

#[test]
fn absurd_content_lengths_are_refused() {
    let apache = Apache::start(SITE);
    for length in ["99999999999999999999999", "-1", "12abc", "1, 2"] {
        let answer = exchange(
            &apache,
            format!("POST /log/cl HTTP/1.1\r\nHost: a\r\nContent-Length: {length}\r\nConnection: close\r\n\r\nxy").as_bytes(),
        );
        let status = status_of(&answer);
        assert!(
            (400..500).contains(&status),
            "Content-Length {length}: {answer}"
        );
    }
    assert!(seen(&apache).is_empty(), "the app saw: {:?}", seen(&apache));
}

#[test]
fn oversized_header_lines_and_too_many_headers_are_refused() {
    let apache = Apache::start(SITE);
    let long = format!(
        "GET /log/long HTTP/1.1\r\nHost: a\r\nX-Long: {}\r\nConnection: close\r\n\r\n",
        "v".repeat(10_000)
    );
    assert_eq!(status_of(&exchange(&apache, long.as_bytes())), 400);
    let many: String = (0..150).map(|i| format!("X-H{i}: v\r\n")).collect();
    let many = format!("GET /log/many HTTP/1.1\r\nHost: a\r\n{many}Connection: close\r\n\r\n");
    assert_eq!(status_of(&exchange(&apache, many.as_bytes())), 400);
    assert!(seen(&apache).is_empty(), "the app saw: {:?}", seen(&apache));
}

#[test]
fn a_body_slower_than_a_trickle_times_out_without_harm() {
    let apache = Apache::start(&format!(
        "Timeout 2\n{SITE}WSGIScriptAlias /hello @APPS@/hello.wsgi\n"
    ));
    let mut stream = http::connect(apache.port);
    stream
        .write_all(b"POST /log/slow HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nab")
        .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    // The app's read failed, it got a 500 or the connection was closed; the
    // next client is served as usual.
    assert_eq!(apache.get("/hello").status, 200);
    assert!(
        apache
            .wait_for_log("could not be read")
            .contains("request body could not be read")
    );
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let apache = Apache::start(SITE);
    let answer = exchange(
        &apache,
        b"POST /log/one HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\none\
          POST /log/two HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\ntwo\
          GET /log/three HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    let first = answer.find("one").expect("first answer");
    let second = answer.find("two").expect("second answer");
    assert!(first < second, "{answer}");
    assert_eq!(answer.matches("HTTP/1.1 200").count(), 3, "{answer}");
}
