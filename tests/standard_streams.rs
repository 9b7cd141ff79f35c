//! sys.stdin, sys.stdout and sys.stderr as Debian's mod_wsgi 4.9 sets them
//! up with its defaults, compared live, in embedded and in daemon mode:
//! code that takes `sys.stdout.buffer` at import (Mercurial does) runs.

mod common;

use std::collections::BTreeMap;

use common::{Apache, Gateway};

const EMBEDDED: &str = "WSGIScriptAlias /streams @APPS@/standard_streams.wsgi\n";
const DAEMON: &str = "WSGISocketPrefix @ROOT@/wsgi\nWSGIDaemonProcess streams threads=2\n\
    WSGIScriptAlias /streams @APPS@/standard_streams.wsgi process-group=streams\n";

/// standard_streams.wsgi's facts from one gateway, each module's name in
/// its messages masked as @GATEWAY@.
fn stream_facts(gateway: Gateway, site: &str) -> BTreeMap<String, String> {
    let apache = Apache::start_gateway(gateway, site);
    let response = apache.get("/streams?facts");
    assert_eq!(response.status, 200, "{gateway:?}: {}", apache.error_log());
    let masked = response
        .text()
        .replace("mod_rwsgi", "@GATEWAY@")
        .replace("mod_wsgi", "@GATEWAY@");
    common::tab_separated(&masked)
}

/// Fails naming each fact that differs, but `stdin.encoding`: mod_rwsgi
/// starts Python with PEP 538/540's handling of Apache's C locale (utf-8),
/// as mod_wsgi 5 does, where Debian's mod_wsgi 4.9.4 keeps ascii.
fn assert_same_as_mod_wsgi(site: &str) -> BTreeMap<String, String> {
    let mut ours = stream_facts(Gateway::Rwsgi, site);
    let mut theirs = stream_facts(Gateway::ModWsgi, site);
    assert_eq!(ours.remove("stdin.encoding").as_deref(), Some("utf-8"));
    let their_encoding = theirs.remove("stdin.encoding");
    assert!(
        matches!(their_encoding.as_deref(), Some("ascii" | "utf-8")),
        "{their_encoding:?}"
    );
    common::assert_same_as_mod_wsgis(&ours, &theirs);
    ours
}

/// What both gateways answer (checked apart, so that two gateways failing
/// alike cannot pass).
fn assert_streams_as_mod_wsgi_has_them(facts: &BTreeMap<String, String>) {
    let fact = |name: &str| facts.get(name).map(String::as_str).unwrap_or("(missing)");
    assert_eq!(fact("stdin.type"), "TextIOWrapper");
    assert_eq!(fact("stdin.buffer"), "BufferedReader");
    assert_eq!(fact("stdin.read"), "''");
    assert_eq!(fact("stdin.buffer.read"), "b''");
    assert_eq!(fact("stdin.fileno"), "0");
    for stream in ["stdout", "stderr"] {
        let fact = |name: &str| fact(&format!("{stream}.{name}")).to_string();
        assert_eq!(fact("type"), "TextIOWrapper");
        assert_eq!(fact("buffer"), "Log");
        assert_eq!(fact("encoding"), "utf-8");
        assert_eq!(fact("errors"), "replace");
        assert_eq!(fact("line_buffering"), "True");
        assert_eq!(fact("isatty"), "False");
        assert_eq!(
            fact("write"),
            format!("{}", format!("{stream} text facts\n").len())
        );
        assert_eq!(fact("buffer.write"), "None");
        assert_eq!(
            fact("fileno"),
            "raises OSError: Apache/@GATEWAY@ log object is not associated with a file descriptor."
        );
    }
}

#[test]
fn the_standard_streams_are_mod_wsgis_in_embedded_mode() {
    assert_streams_as_mod_wsgi_has_them(&assert_same_as_mod_wsgi(EMBEDDED));
}

#[test]
fn the_standard_streams_are_mod_wsgis_in_daemon_mode() {
    assert_streams_as_mod_wsgi_has_them(&assert_same_as_mod_wsgi(DAEMON));
}

/// Text and bytes written to sys.stdout, sys.stderr and their buffers.
fn assert_written_lines_logged_for_the_client(site: &str) {
    let apache = Apache::start(site);
    assert_eq!(apache.get("/streams?logged-4711").status, 200);
    for line in ["stdout text", "stdout bytes", "stderr text", "stderr bytes"] {
        let log = apache.wait_for_log(&format!("{line} logged-4711"));
        let entry = log
            .lines()
            .find(|entry| entry.contains(&format!("{line} logged-4711")))
            .unwrap();
        assert!(entry.contains("[client 127.0.0.1:"), "{entry}");
    }
}

#[test]
fn text_and_bytes_written_to_stdout_and_stderr_are_logged_for_the_request() {
    assert_written_lines_logged_for_the_client(EMBEDDED);
}

#[test]
fn text_and_bytes_written_to_stdout_and_stderr_are_logged_for_the_request_in_daemon_mode() {
    assert_written_lines_logged_for_the_client(DAEMON);
}
