//! How Python lives in Apache's processes and threads: each script loaded
//! once per process, one thread state per Apache thread kept for its life,
//! and the GIL released while Apache blocks.

mod common;

use std::io::Write;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::{Apache, http, one_child};

/// One child process, so every request meets the same interpreter.
#[test]
fn a_script_is_loaded_once_per_process() {
    let apache = Apache::start(&format!(
        "{}WSGIScriptAlias /count @APPS@/load_counter.wsgi",
        one_child(4)
    ));
    let answers: Vec<String> = (0..10).map(|_| apache.get("/count").text()).collect();
    let pid = answers[0].split(' ').next().unwrap().to_string();
    for answer in &answers {
        assert_eq!(
            answer,
            &format!("{pid} 1"),
            "script executed again: {answers:?}"
        );
    }
}

#[test]
fn a_changed_script_is_executed_again() {
    let apache = Apache::start(&format!(
        "{}WSGIScriptAlias /count @APPS@/load_counter.wsgi",
        one_child(4)
    ));
    assert!(apache.get("/count").text().ends_with(" 1"));
    let script = apache.apps().join("load_counter.wsgi");
    let source = std::fs::read_to_string(&script).unwrap();
    // A later modification time, whatever the file system's resolution.
    thread::sleep(Duration::from_millis(1100));
    std::fs::write(&script, source).unwrap();
    assert!(apache.get("/count").text().ends_with(" 2"));
    assert!(apache.get("/count").text().ends_with(" 2"));
}

#[test]
fn each_apache_thread_keeps_its_python_thread_state() {
    let apache = Apache::start(&format!(
        "{}WSGIScriptAlias /local @APPS@/thread_local.wsgi",
        one_child(4)
    ));
    let mut seen: std::collections::HashMap<String, Vec<u32>> = Default::default();
    for _ in 0..40 {
        let text = apache.get("/local").text();
        let (thread, count) = text.split_once(' ').expect("'thread count'");
        seen.entry(thread.to_string())
            .or_default()
            .push(count.parse().unwrap());
    }
    // Per thread, threading.local keeps counting: 1, 2, 3, ...
    for (thread, counts) in &seen {
        let expected: Vec<u32> = (1..=counts.len() as u32).collect();
        assert_eq!(
            counts, &expected,
            "thread {thread} lost its threading.local"
        );
    }
    assert!(
        seen.values().any(|counts| counts.len() > 1),
        "no thread served twice: {seen:?}"
    );
}

#[test]
fn other_requests_run_while_one_waits_for_its_body() {
    let apache = Apache::start(&format!(
        "{}WSGIScriptAlias /echo @APPS@/echo.wsgi\nWSGIScriptAlias /hello @APPS@/hello.wsgi",
        one_child(4)
    ));
    // The upload sends half its body; the app blocks in wsgi.input.read().
    let mut upload = http::connect(apache.port);
    upload
        .write_all(b"POST /echo?read HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\nConnection: close\r\n\r\nhello")
        .unwrap();
    thread::sleep(Duration::from_millis(300));

    // If the GIL were held while reading, this request could not finish.
    let port = apache.port;
    let (done, finished) = mpsc::channel();
    thread::spawn(move || done.send(http::get(port, "/hello")).unwrap());
    let hello = finished
        .recv_timeout(Duration::from_secs(15))
        .expect("hello served while the upload waits");
    assert_eq!(hello.text(), "Hello, World!\n");

    upload.write_all(b"world").unwrap();
    let response = http::read_response(&mut upload);
    assert_eq!(response.body, b"helloworld");
}
