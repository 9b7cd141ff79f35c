//! Apps wrapped in wsgiref.validate.validator, which asserts PEP 3333's rules
//! about the server, never fail, with warnings turned into errors: GET,
//! HEAD, HTTP/1.0, POST sized and chunked, queries, odd paths, many headers,
//! and responses from a list, a generator, write() and wsgi.file_wrapper.

mod common;

use common::Apache;

#[test]
fn validated_app_passes_every_method_body_and_response_kind() {
    let apache = Apache::start(
        "WSGIScriptAlias /v @APPS@/validated.wsgi\nWSGIScriptAlias /root-v @APPS@/validated.wsgi\nWSGIChunkedRequest On\n",
    );
    let many_headers: String = (0..40)
        .map(|i| format!("X-Header-{i}: value {i}\r\n"))
        .collect();
    let requests = [
        "GET /v HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".to_string(),
        "GET /v/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".to_string(),
        "GET /v/a/b%20c//d?x=1&y=%41 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".to_string(),
        "HEAD /v/head HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".to_string(),
        "GET /v HTTP/1.0\r\n\r\n".to_string(),
        format!("GET /v/headers HTTP/1.1\r\nHost: 127.0.0.1\r\n{many_headers}Connection: close\r\n\r\n"),
        "POST /v/post?q=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: 11\r\nConnection: close\r\n\r\nhello\nworld".to_string(),
        "OPTIONS /v HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".to_string(),
        "POST /v/chunked HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n".to_string(),
        "GET /v/file HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".to_string(),
        "GET /v/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".to_string(),
        "POST /v/write HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi".to_string(),
    ];
    for request in &requests {
        let response = apache.raw(request.as_bytes());
        let first_line = request.lines().next().unwrap();
        assert_eq!(
            response.status,
            200,
            "{first_line}:\n{}",
            apache.error_log()
        );
        if first_line.contains("/file") {
            assert!(
                response.text().contains("wsgiref.validate"),
                "{first_line}: {}",
                response.text()
            );
        } else if !first_line.starts_with("HEAD") {
            assert!(
                response.text().starts_with("ok:"),
                "{first_line}: {}",
                response.text()
            );
        }
    }
    let post = apache.raw(requests[6].as_bytes());
    assert_eq!(post.text(), "ok:hello\nworld");
    assert_eq!(apache.raw(requests[8].as_bytes()).text(), "ok:hello world");
    assert_eq!(apache.raw(requests[10].as_bytes()).text(), "ok:0ok:1ok:2");
    assert_eq!(apache.raw(requests[11].as_bytes()).text(), "ok:hi");
    let log = apache.error_log();
    for bad in ["AssertionError", "Warning", "Traceback"] {
        assert!(!log.contains(bad), "{bad} in the error log:\n{log}");
    }
}
