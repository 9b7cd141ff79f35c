//! Sending the body: Content-Length honoured both ways, HEAD without a body,
//! bytes only, and the iterable's close() called however the request ends.

mod common;

use std::io::{Read, Write};

use common::{Apache, http};

const SITE: &str = "\
WSGIScriptAlias /length @APPS@/content_length.wsgi
WSGIScriptAlias /head @APPS@/head.wsgi
WSGIScriptAlias /str @APPS@/returns_str.wsgi
WSGIScriptAlias /close @APPS@/close_marker.wsgi
WSGIScriptAlias /hello @APPS@/hello.wsgi
WSGIScriptAlias /large @APPS@/large_block.wsgi
";

/// large_block.wsgi's block: 1 MiB holding every byte value in turn.
fn large_block() -> Vec<u8> {
    (0..1 << 20).map(|i| i as u8).collect()
}

#[test]
fn output_beyond_the_declared_content_length_is_cut() {
    let apache = Apache::start(SITE);
    let response = apache.get("/length?longer-than-declared");
    assert_eq!(response.header("Content-Length"), Some("5"));
    assert_eq!(response.text(), "12345");
}

#[test]
fn a_large_one_item_body_arrives_whole_with_a_content_length() {
    let apache = Apache::start(SITE);
    let response = apache.get("/large?whole");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("Content-Length"), Some("1048576"));
    assert!(response.body == large_block(), "the body differs");
}

#[test]
fn a_large_one_item_body_is_cut_at_the_declared_content_length() {
    let apache = Apache::start(SITE);
    let response = apache.get("/large?cut");
    assert_eq!(response.header("Content-Length"), Some("70000"));
    assert!(response.body == large_block()[..70000], "the body differs");
}

#[test]
fn a_large_one_item_body_shorter_than_its_content_length_closes_the_connection() {
    let apache = Apache::start(SITE);
    let mut stream = http::connect(apache.port);
    stream
        .write_all(b"GET /large?short HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let response = http::read_response(&mut stream);
    assert_eq!(response.header("Content-Length"), Some("1048586"));
    assert!(response.body == large_block(), "the body differs");
    assert!(!response.complete);
    apache.wait_for_log("(1048576 bytes) is shorter than its Content-Length (1048586)");
}

#[test]
fn the_server_lets_go_of_a_large_block_once_it_is_sent() {
    let apache = Apache::start(SITE);
    // One connection: every request reaches the same child.
    let mut stream = http::connect(apache.port);
    let mut ask = |query: &str| match http::keep_alive_request(
        &mut stream,
        format!("GET /large?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").as_bytes(),
    ) {
        http::KeepAliveAnswer::Whole(response) => response,
        _ => panic!("no whole answer to {query}: {}", apache.error_log()),
    };
    let before = ask("references").text();
    for _ in 0..20 {
        assert_eq!(ask("whole").body.len(), 1 << 20);
    }
    assert_eq!(ask("references").text(), before);
}

#[test]
fn a_body_shorter_than_its_content_length_closes_the_connection_and_is_logged() {
    let apache = Apache::start(SITE);
    let mut stream = http::connect(apache.port);
    // Keep-alive: only the server closing the connection ends the read.
    stream
        .write_all(b"GET /length?shorter-than-declared HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let response = http::read_response(&mut stream);
    assert_eq!(response.header("Content-Length"), Some("100"));
    assert_eq!(response.text(), "only ten b");
    assert!(!response.complete);
    let log = apache.wait_for_log("shorter than its Content-Length");
    assert!(
        log.contains("(10 bytes) is shorter than its Content-Length (100)"),
        "{log}"
    );
}

#[test]
fn a_generator_without_content_length_is_sent_chunked() {
    let apache = Apache::start(SITE);
    let response = apache.get("/length?generator-without-length");
    assert_eq!(response.header("Transfer-Encoding"), Some("chunked"));
    assert_eq!(response.text(), "ab");
    assert!(response.complete);
}

#[test]
fn head_sends_the_headers_and_no_body() {
    let apache = Apache::start(SITE);
    let mut stream = http::connect(apache.port);
    stream
        .write_all(b"HEAD /head HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    // The HEAD response is followed directly by the next response: no body.
    let (head, next) = text.split_once("\r\n\r\n").expect("HEAD response headers");
    assert!(head.contains("X-Method: HEAD"), "{head}");
    assert!(head.contains("Content-Length: 31"), "{head}");
    assert!(
        next.starts_with("HTTP/1.1 200 OK"),
        "HEAD sent a body: {next:?}"
    );
}

#[test]
fn a_str_item_instead_of_bytes_is_a_500_with_type_error() {
    let apache = Apache::start(SITE);
    assert_eq!(apache.get("/str").status, 500);
    let log = apache.wait_for_log("byte string values expected");
    assert!(
        log.contains("TypeError: sequence of byte string values expected, value of type str found"),
        "{log}"
    );
}

#[test]
fn close_is_called_after_a_successful_response() {
    let apache = Apache::start(SITE);
    let response = apache.get("/close?ok&ok-marker");
    assert_eq!(response.text(), "first\nlast\n");
    assert!(
        apache.wait_for_marker("ok-marker"),
        "close() was not called"
    );
}

#[test]
fn close_is_called_when_iteration_raises() {
    let apache = Apache::start(SITE);
    let response = apache.get("/close?raise-in-iteration&raise-marker");
    assert_eq!(response.text(), "first\n");
    assert!(!response.complete);
    assert!(
        apache.wait_for_marker("raise-marker"),
        "close() was not called"
    );
}

#[test]
fn close_is_called_when_a_str_item_is_yielded_after_output() {
    let apache = Apache::start(SITE);
    let response = apache.get("/close?str-item&str-marker");
    assert_eq!(response.text(), "first\n");
    assert!(!response.complete, "the cut response must look incomplete");
    assert!(
        apache.wait_for_marker("str-marker"),
        "close() was not called"
    );
    let log = apache.wait_for_log("value of type str found");
    assert!(log.contains("value of type str found"), "{log}");
}

#[test]
fn an_exception_in_the_app_itself_is_a_500() {
    let apache = Apache::start(SITE);
    assert_eq!(apache.get("/close?raise-in-app&app-marker").status, 500);
    assert!(apache.wait_for_marker("app-marker"), "the app did not run");
}

#[test]
fn an_endless_stream_stops_and_is_closed_when_the_client_disconnects() {
    let apache = Apache::start(SITE);
    let mut stream = http::connect(apache.port);
    stream
        .write_all(b"GET /close?endless&endless-marker HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let mut first = [0u8; 4096];
    let n = stream.read(&mut first).unwrap();
    assert!(String::from_utf8_lossy(&first[..n]).starts_with("HTTP/1.1 200 OK"));
    drop(stream);
    assert!(
        apache.wait_for_marker("endless-marker"),
        "close() was not called after the client left"
    );
    // The child is free for the next request.
    assert_eq!(apache.get("/hello").status, 200);
}
