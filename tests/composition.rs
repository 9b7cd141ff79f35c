//! mod_rwsgi next to Apache's own modules: mod_deflate compresses its
//! output, mod_headers edits it, mod_http2 carries it over TLS and h2c, and
//! HTTP/1.0 keep-alive works.

mod common;

use std::io::{Read, Write};
use std::process::Command;
use std::time::Duration;

use common::{Apache, SharedDir, http};

#[test]
fn mod_deflate_compresses_a_wsgi_response() {
    let apache = Apache::start(
        "LoadModule deflate_module @MODULES@/mod_deflate.so\nLoadModule filter_module @MODULES@/mod_filter.so\n\
         AddOutputFilterByType DEFLATE text/plain\nWSGIScriptAlias /stream @APPS@/streaming.wsgi\n",
    );
    let out = Command::new("curl")
        .args(["--silent", "--compressed", "--dump-header", "-"])
        .arg(format!("http://127.0.0.1:{}/stream", apache.port))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.to_ascii_lowercase().contains("content-encoding: gzip"),
        "{text}"
    );
    let expected: String = (0..100).map(|i| format!("line {i}\n")).collect();
    assert!(text.ends_with(&expected), "{text}");
}

#[test]
fn mod_headers_edits_a_wsgi_response() {
    let apache = Apache::start(
        "LoadModule headers_module @MODULES@/mod_headers.so\n\
         Header always set X-Frame-Options DENY\nHeader unset X-Method\n\
         WSGIScriptAlias /head @APPS@/head.wsgi\n",
    );
    let response = apache.get("/head");
    assert_eq!(response.header("X-Frame-Options"), Some("DENY"));
    assert_eq!(
        response.header("X-Method"),
        None,
        "the app's header was unset"
    );
}

#[test]
fn http2_over_tls_and_h2c_carry_a_wsgi_response() {
    let dir = SharedDir::new("h2");
    let (cert, key) = dir.certificate();
    dir.share();
    let tls = Apache::start(&format!(
        "LoadModule ssl_module @MODULES@/mod_ssl.so\nLoadModule http2_module @MODULES@/mod_http2.so\n\
         Protocols h2 http/1.1\nSSLEngine on\nSSLCertificateFile {}\nSSLCertificateKeyFile {}\n\
         WSGIScriptAlias /hello @APPS@/hello.wsgi\n",
        cert.display(),
        key.display()
    ));
    let h2 = Command::new("curl")
        .args([
            "--silent",
            "--insecure",
            "--http2",
            "--write-out",
            " %{http_version}",
        ])
        .arg(format!("https://127.0.0.1:{}/hello", tls.port))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&h2.stdout),
        "Hello, World!\n 2",
        "{}",
        tls.error_log()
    );
    let plain = Apache::start(
        "LoadModule http2_module @MODULES@/mod_http2.so\nProtocols h2c http/1.1\nWSGIScriptAlias /hello @APPS@/hello.wsgi\n",
    );
    let h2c = Command::new("curl")
        .args([
            "--silent",
            "--http2-prior-knowledge",
            "--write-out",
            " %{http_version}",
        ])
        .arg(format!("http://127.0.0.1:{}/hello", plain.port))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&h2c.stdout),
        "Hello, World!\n 2",
        "{}",
        plain.error_log()
    );
}

#[test]
fn http_1_0_keep_alive_serves_two_requests_on_one_connection() {
    let apache = Apache::start("WSGIScriptAlias /hello @APPS@/hello.wsgi\n");
    let mut stream = http::connect(apache.port);
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answers = String::new();
    for _ in 0..2 {
        stream
            .write_all(b"GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .unwrap();
        // A 14-byte body with its Content-Length: read exactly one response.
        let mut buf = [0u8; 4096];
        let mut got = Vec::new();
        while !String::from_utf8_lossy(&got).ends_with("Hello, World!\n") {
            let n = stream.read(&mut buf).unwrap();
            assert!(
                n > 0,
                "the connection closed after {}",
                String::from_utf8_lossy(&got)
            );
            got.extend_from_slice(&buf[..n]);
        }
        answers.push_str(&String::from_utf8_lossy(&got));
    }
    assert_eq!(answers.matches("HTTP/1.1 200 OK").count(), 2, "{answers}");
    assert_eq!(
        answers.matches("Connection: Keep-Alive").count(),
        2,
        "{answers}"
    );
}
