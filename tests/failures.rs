//! What happens when a script is missing, broken, or raises: a clear error
//! in Apache's log, the status Apache users expect, and a child that keeps
//! serving everything else.

mod common;

use common::Apache;

const SITE: &str = "\
WSGIScriptAlias /hello @APPS@/hello.wsgi
WSGIScriptAlias /missing @APPS@/does_not_exist.wsgi
WSGIScriptAlias /syntax @APPS@/syntax_error.wsgi
WSGIScriptAlias /raises @APPS@/raises.wsgi
WSGIScriptAlias /no-callable @APPS@/no_callable.wsgi
WSGIScriptAlias /fails-after-output @APPS@/fails_after_output.wsgi
";

#[test]
fn a_missing_script_is_404_and_logged() {
    let apache = Apache::start(SITE);
    assert_eq!(apache.get("/missing").status, 404);
    let log = apache.wait_for_log("does_not_exist.wsgi");
    assert!(log.contains("Target WSGI script not found"), "{log}");
}

#[test]
fn a_script_with_a_syntax_error_is_500_with_the_error_logged() {
    let apache = Apache::start(SITE);
    assert_eq!(apache.get("/syntax").status, 500);
    let log = apache.wait_for_log("SyntaxError");
    assert!(
        log.contains("Failed to load WSGI script") && log.contains("syntax_error.wsgi"),
        "{log}"
    );
    assert!(log.contains("SyntaxError"), "{log}");
}

#[test]
fn a_broken_script_does_not_stop_other_locations() {
    let apache = Apache::start(SITE);
    for _ in 0..3 {
        assert_eq!(apache.get("/syntax").status, 500);
        assert_eq!(apache.get("/hello").text(), "Hello, World!\n");
    }
}

#[test]
fn a_script_without_the_callable_is_500_naming_it() {
    let apache = Apache::start(SITE);
    assert_eq!(apache.get("/no-callable").status, 500);
    let log = apache.wait_for_log("does not contain WSGI application");
    assert!(
        log.contains("does not contain WSGI application 'application'"),
        "{log}"
    );
}

#[test]
fn an_app_that_raises_is_500_with_the_traceback_logged() {
    let apache = Apache::start(SITE);
    assert_eq!(apache.get("/raises").status, 500);
    let log = apache.wait_for_log("boom from the app");
    assert!(log.contains("Traceback (most recent call last):"), "{log}");
    assert!(log.contains("RuntimeError: boom from the app"), "{log}");
    assert!(
        log.contains("Exception occurred processing WSGI script"),
        "{log}"
    );
}

#[test]
fn the_request_after_an_exception_is_served_normally() {
    let apache = Apache::start(SITE);
    for _ in 0..5 {
        assert_eq!(apache.get("/raises").status, 500);
        let response = apache.get("/hello");
        assert_eq!(response.status, 200);
        assert_eq!(response.text(), "Hello, World!\n");
    }
}

#[test]
fn an_exception_after_output_leaves_the_response_visibly_incomplete() {
    let apache = Apache::start(SITE);
    let response = apache.get("/fails-after-output");
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "first part\n");
    assert!(
        !response.complete,
        "the client must be able to tell the body was cut short"
    );
    let log = apache.wait_for_log("failed in the middle of the body");
    assert!(
        log.contains("RuntimeError: failed in the middle of the body"),
        "{log}"
    );
}
