//! Applications that misbehave: each gets a clear log line and a defined
//! response, and the other requests keep flowing.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::{Apache, one_child};

const SITE: &str =
    "WSGIScriptAlias /hostile @APPS@/hostile.wsgi\nWSGIScriptAlias /hello @APPS@/hello.wsgi\n";

#[test]
fn an_app_returning_none_or_an_int_is_a_500_naming_the_type() {
    let apache = Apache::start(SITE);
    for (case, logged) in [
        ("none", "'NoneType' object is not iterable"),
        ("int", "'int' object is not iterable"),
    ] {
        assert_eq!(
            apache.get(&format!("/hostile?{case}")).status,
            500,
            "{case}"
        );
        assert!(apache.wait_for_log(logged).contains(logged), "{case}");
    }
    assert_eq!(apache.get("/hello").status, 200);
}

#[test]
fn iteration_that_raises_is_a_500_and_close_is_still_called() {
    let apache = Apache::start(SITE);
    assert_eq!(apache.get("/hostile?iteration-raises").status, 500);
    assert!(apache.wait_for_marker("iteration-closed"));
    assert!(
        apache
            .wait_for_log("iteration refused")
            .contains("RuntimeError: iteration refused")
    );
}

#[test]
fn close_that_raises_is_logged_and_the_client_sees_an_incomplete_response() {
    let apache = Apache::start(SITE);
    let response = apache.get("/hostile?close-raises");
    // The body went out before close() failed: the response is cut short
    // (chunked without its last chunk), never passed off as complete.
    assert_eq!(response.status, 200);
    assert!(
        !response.complete,
        "a failed close() must not look like success"
    );
    assert!(
        apache
            .wait_for_log("close refused")
            .contains("RuntimeError: close refused")
    );
    assert_eq!(apache.get("/hello").status, 200);
}

#[test]
fn start_response_called_three_times_before_output_uses_the_last() {
    let apache = Apache::start(SITE);
    let response = apache.get("/hostile?three-start-responses");
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "third wins");
}

#[test]
fn an_app_blocked_forever_in_one_thread_does_not_stop_the_others() {
    let apache = std::sync::Arc::new(Apache::start(SITE));
    let blocked = {
        let apache = apache.clone();
        thread::spawn(move || {
            let mut stream = common::http::connect(apache.port);
            use std::io::Write;
            let _ = stream.write_all(b"GET /hostile?block HTTP/1.1\r\nHost: a\r\n\r\n");
            thread::sleep(Duration::from_secs(3));
        })
    };
    assert!(apache.wait_for_marker("blocking"));
    let started = Instant::now();
    for _ in 0..50 {
        assert_eq!(apache.get("/hello").status, 200);
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "requests stalled behind the blocked one"
    );
    blocked.join().unwrap();
}

#[test]
fn ten_megabytes_to_wsgi_errors_reach_the_log_and_serving_goes_on() {
    let apache = Apache::start(SITE);
    let response = apache.get("/hostile?flood-errors");
    assert_eq!(response.text(), "flooded");
    assert_eq!(apache.get("/hello").status, 200);
    let log = apache.error_log();
    let lines = log.lines().filter(|l| l.ends_with(&"x".repeat(99))).count();
    assert_eq!(lines, 100_000, "every line of the flood is logged");
}

#[test]
fn an_environ_leaked_into_a_global_cannot_touch_its_ended_request() {
    let apache = Apache::start(&format!(
        "{}WSGIScriptAlias /hostile @APPS@/hostile.wsgi\n",
        one_child(4)
    ));
    assert_eq!(apache.get("/hostile?leak-environ").text(), "leaked");
    assert_eq!(
        apache.get("/hostile?use-leaked").text(),
        "mod_rwsgi: wsgi.input was used after its request had ended"
    );
}

#[test]
fn an_app_changing_its_environ_changes_no_later_requests_environ() {
    let apache = Apache::start(&format!(
        "{}WSGIScriptAlias /hostile @APPS@/hostile.wsgi\n",
        one_child(4)
    ));
    for _ in 0..3 {
        assert_eq!(apache.get("/hostile?spoil-environ").text(), "spoiled");
        assert_eq!(
            apache.get("/hostile?show-environ-constants").text(),
            "(1, 0) True True 0.1.0 False"
        );
    }
}
