//! Serving WSGI applications: responses, request bodies, streaming, and
//! many clients at once.

mod common;

use std::thread;

use common::Apache;

const SITE: &str = "\
WSGIScriptAlias /hello @APPS@/hello.wsgi
WSGIScriptAlias /echo @APPS@/echo.wsgi
WSGIScriptAlias /environ @APPS@/environ.wsgi
WSGIScriptAlias /errors @APPS@/errors.wsgi
WSGIScriptAlias /streaming @APPS@/streaming.wsgi
WSGIScriptAlias /write @APPS@/write_callable.wsgi
";

#[test]
fn hello_world_is_served_with_its_headers() {
    let apache = Apache::start(SITE);
    let response = apache.get("/hello");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("Content-Type"), Some("text/plain"));
    assert_eq!(response.text(), "Hello, World!\n");
}

#[test]
fn a_one_item_response_gets_a_content_length() {
    let apache = Apache::start(SITE);
    let response = apache.get("/hello");
    assert_eq!(response.header("Content-Length"), Some("14"));
    assert_eq!(response.header("Transfer-Encoding"), None);
}

#[test]
fn a_post_body_is_echoed_back() {
    let apache = Apache::start(SITE);
    let response = apache.post("/echo?read", b"name=value&other=1");
    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"name=value&other=1");
}

#[test]
fn a_large_post_body_arrives_whole_through_every_read_method() {
    let apache = Apache::start(SITE);
    // 3 MiB of numbered lines: many Apache reads, lines crossing them.
    let body: Vec<u8> = (0..200_000)
        .flat_map(|i| format!("line {i:07}\n").into_bytes())
        .collect();
    for how in [
        "read",
        "read-1000",
        "read-65536",
        "readline",
        "readline-5",
        "readlines",
        "iterate",
    ] {
        let response = apache.post(&format!("/echo?{how}"), &body);
        assert_eq!(response.status, 200, "{how}: {}", apache.error_log());
        assert!(
            response.body == body,
            "{how}: echoed {} bytes of {}",
            response.body.len(),
            body.len()
        );
    }
}

#[test]
fn an_empty_body_reads_as_empty() {
    let apache = Apache::start(SITE);
    let response = apache.post("/echo?read", b"");
    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"");
}

#[test]
fn a_generator_response_streams_every_block() {
    let apache = Apache::start(SITE);
    let response = apache.get("/streaming");
    assert_eq!(response.status, 200);
    assert!(response.complete);
    let expected: String = (0..100).map(|i| format!("line {i}\n")).collect();
    assert_eq!(response.text(), expected);
}

#[test]
fn write_output_comes_before_the_iterable() {
    let apache = Apache::start(SITE);
    let response = apache.get("/write");
    assert_eq!(response.text(), "from write, then from the iterable\n");
}

#[test]
fn environ_carries_the_request_and_wsgi_keys() {
    let apache = Apache::start(SITE);
    let request = format!(
        "GET /environ/sub/path?a=1&b=2 HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nX-Custom: yes\r\nConnection: close\r\n\r\n",
        apache.port
    );
    let response = apache.raw(request.as_bytes());
    assert_eq!(response.status, 200);
    let text = response.text();
    for expected in [
        r#""REQUEST_METHOD": "GET""#,
        r#""SCRIPT_NAME": "/environ""#,
        r#""PATH_INFO": "/sub/path""#,
        r#""QUERY_STRING": "a=1&b=2""#,
        r#""SERVER_PROTOCOL": "HTTP/1.1""#,
        r#""HTTP_X_CUSTOM": "yes""#,
        r#""wsgi.url_scheme": "http""#,
        r#""wsgi.version": [1, 0]"#,
        r#""wsgi.multithread": true"#,
        r#""wsgi.run_once": false"#,
        r#""wsgi.input_terminated": true"#,
        r#""wsgi.input": "Input""#,
        r#""wsgi.errors": "Log""#,
    ] {
        assert!(text.contains(expected), "environ lacks {expected}: {text}");
    }
    assert!(
        text.contains(&format!(r#""SERVER_PORT": "{}""#, apache.port)),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            r#""mod_rwsgi.application_group": "127.0.0.1:{}|/environ""#,
            apache.port
        )),
        "{text}"
    );
    assert!(text.contains(r#""mod_rwsgi.process_group": """#), "{text}");
    assert!(text.contains(r#""mod_rwsgi.version": "0.1.0""#), "{text}");
}

#[test]
fn each_request_has_its_own_request_id() {
    let apache = Apache::start(SITE);
    let id = |text: String| -> String {
        let start = text
            .find(r#""mod_rwsgi.request_id": ""#)
            .unwrap_or_else(|| panic!("no request_id: {text}"))
            + 25;
        text[start..].split('"').next().unwrap().to_string()
    };
    let (first, second) = (
        id(apache.get("/environ").text()),
        id(apache.get("/environ").text()),
    );
    assert!(!first.is_empty());
    assert_ne!(first, second);
}

#[test]
fn wsgi_errors_lines_reach_the_error_log() {
    let apache = Apache::start(SITE);
    assert_eq!(apache.get("/errors").status, 200);
    let log = apache.wait_for_log("unterminated tail");
    for line in [
        "first line from the app",
        "second line from the app",
        "unterminated tail",
    ] {
        assert!(
            log.lines()
                .any(|l| l.contains("[rwsgi:error]") && l.ends_with(line)),
            "{line} not logged:\n{log}"
        );
    }
}

#[test]
fn two_hundred_concurrent_requests_all_succeed() {
    let apache = Apache::start(SITE);
    let port = apache.port;
    let clients: Vec<_> = (0..200)
        .map(|i| {
            thread::spawn(move || {
                if i % 2 == 0 {
                    let response = common::http::get(port, "/hello");
                    (response.status, response.text() == "Hello, World!\n")
                } else {
                    let body = format!("client {i}").into_bytes();
                    let response = common::http::post(port, "/echo?read", &body);
                    (response.status, response.body == body)
                }
            })
        })
        .collect();
    let results: Vec<(u16, bool)> = clients
        .into_iter()
        .map(|c| c.join().expect("client thread"))
        .collect();
    let failed: Vec<_> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| **r != (200, true))
        .collect();
    assert!(
        failed.is_empty(),
        "{} of 200 failed: {:?}",
        failed.len(),
        &failed[..failed.len().min(5)]
    );
}

#[test]
fn print_to_stdout_and_stderr_reaches_the_error_log_attributed_to_the_request() {
    let apache = Apache::start("WSGIScriptAlias /prints @APPS@/prints.wsgi");
    assert_eq!(apache.get("/prints").status, 200);
    let log = apache.wait_for_log("printed by a thread of the app");
    let line = |text: &str| {
        log.lines()
            .find(|l| l.ends_with(text))
            .unwrap_or_else(|| panic!("{text} not logged:\n{log}"))
    };
    for text in [
        "printed to stdout by the app",
        "printed to stderr by the app",
        "partial line completed",
    ] {
        assert!(
            line(text).contains("[client 127.0.0.1:"),
            "not attributed to the request: {}",
            line(text)
        );
    }
    // A thread of the app's own serves no request: logged for the server.
    assert!(
        !line("printed by a thread of the app").contains("[client"),
        "{log}"
    );
}

#[test]
fn headers_that_could_spoof_cgi_variables_never_reach_environ() {
    let apache = Apache::start(SITE);
    let response = apache.raw(
        b"GET /environ HTTP/1.1\r\nHost: 127.0.0.1\r\nX_Forwarded_For: 10.9.9.9\r\nX-Forwarded.For: 10.8.8.8\r\n\
Proxy: http://evil.test/\r\nAuthorization: Basic dXNlcjpwYXNz\r\nX-Real-Header: kept\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(response.status, 200);
    let text = response.text();
    assert!(text.contains(r#""HTTP_X_REAL_HEADER": "kept""#), "{text}");
    for spoofed in [
        "HTTP_X_FORWARDED_FOR",
        "10.9.9.9",
        "10.8.8.8",
        "HTTP_PROXY",
        "evil.test",
        "HTTP_AUTHORIZATION",
        "dXNlcjpwYXNz",
    ] {
        assert!(!text.contains(spoofed), "{spoofed} reached environ: {text}");
    }
}

/// environ's strings are reused across requests where the bytes repeat
/// (src/wsgi/environ_strings.rs): under concurrent clients whose values
/// partly repeat (Host) and partly never do (User-Agent, query), every
/// request still sees exactly its own values.
#[test]
fn every_request_sees_its_own_environ_values_under_concurrent_clients() {
    let apache = std::sync::Arc::new(Apache::start(SITE));
    let clients: Vec<_> = (0..4)
        .map(|client| {
            let apache = apache.clone();
            thread::spawn(move || {
                for i in 0..150 {
                    let host = ["a.example", "b.example", "a.example:8080"][i % 3];
                    let method = ["GET", "POST"][(i / 3) % 2];
                    let request = format!(
                        "{method} /environ?q={client}-{i} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: ua-{client}-{i}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    );
                    let text = apache.raw(request.as_bytes()).text();
                    for expected in [
                        format!(r#""HTTP_HOST": "{host}""#),
                        format!(r#""REQUEST_METHOD": "{method}""#),
                        format!(r#""QUERY_STRING": "q={client}-{i}""#),
                        format!(r#""HTTP_USER_AGENT": "ua-{client}-{i}""#),
                    ] {
                        assert!(text.contains(&expected), "{expected} missing: {text}");
                    }
                }
            })
        })
        .collect();
    for client in clients {
        client.join().unwrap();
    }
}
