//! start_response(): status and headers are validated at the call, so a bad
//! value raises inside the app and reaches the client as a 500, never as a
//! split or malformed response; exc_info follows PEP 3333.

mod common;

use common::Apache;

const SITE: &str = "\
WSGIScriptAlias /cases @APPS@/start_response_cases.wsgi
WSGIScriptAlias /exc-info @APPS@/exc_info.wsgi
";

fn assert_refused(apache: &Apache, case: &str, raised: &str) {
    let response = apache.get(&format!("/cases?{case}"));
    assert_eq!(response.status, 500, "{case} was accepted");
    assert!(
        response.header("X-Injected").is_none(),
        "{case} split the response"
    );
    let log = apache.wait_for_log(&format!("start_response raised {raised}"));
    assert!(
        log.contains(&format!("start_response raised {raised}")),
        "{case}: no {raised} in\n{log}"
    );
}

#[test]
fn a_status_of_three_digits_without_reason_is_accepted() {
    let apache = Apache::start(SITE);
    let response = apache.get("/cases?no-reason");
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "accepted\n");
}

#[test]
fn a_status_that_is_not_three_digits_and_a_reason_raises_value_error() {
    let apache = Apache::start(SITE);
    assert_refused(&apache, "two-digit-status", "ValueError");
    assert_refused(&apache, "letters-in-status", "ValueError");
}

#[test]
fn a_control_character_in_the_reason_raises_value_error() {
    let apache = Apache::start(SITE);
    assert_refused(&apache, "newline-in-reason", "ValueError");
}

#[test]
fn a_status_that_is_not_str_raises_type_error() {
    let apache = Apache::start(SITE);
    assert_refused(&apache, "bytes-status", "TypeError");
}

#[test]
fn headers_that_are_not_a_list_of_str_pairs_raise_type_error() {
    let apache = Apache::start(SITE);
    assert_refused(&apache, "tuple-headers", "TypeError");
    assert_refused(&apache, "three-tuple-header", "TypeError");
    assert_refused(&apache, "bytes-header-value", "TypeError");
}

#[test]
fn cr_lf_or_nul_in_a_header_value_raises_value_error() {
    let apache = Apache::start(SITE);
    assert_refused(&apache, "newline-in-value", "ValueError");
    assert_refused(&apache, "nul-in-value", "ValueError");
}

#[test]
fn a_header_name_that_is_not_a_token_raises_value_error() {
    let apache = Apache::start(SITE);
    assert_refused(&apache, "colon-in-name", "ValueError");
    assert_refused(&apache, "space-in-name", "ValueError");
}

#[test]
fn a_header_value_outside_latin1_raises_value_error() {
    let apache = Apache::start(SITE);
    assert_refused(&apache, "non-latin1-value", "ValueError");
}

#[test]
fn hop_by_hop_headers_raise_value_error() {
    let apache = Apache::start(SITE);
    assert_refused(&apache, "connection-header", "ValueError");
    assert_refused(&apache, "transfer-encoding-header", "ValueError");
}

#[test]
fn a_content_length_that_is_not_digits_raises_value_error() {
    let apache = Apache::start(SITE);
    assert_refused(&apache, "negative-content-length", "ValueError");
    assert_refused(&apache, "text-content-length", "ValueError");
}

#[test]
fn exc_info_before_output_replaces_status_and_headers() {
    let apache = Apache::start(SITE);
    let response = apache.get("/exc-info?replace-before-output");
    assert_eq!(response.status, 503);
    assert_eq!(response.header("X-First"), None);
    assert_eq!(response.text(), "replaced\n");
}

#[test]
fn a_second_call_before_output_replaces_the_first_as_mod_wsgi_allows() {
    let apache = Apache::start(SITE);
    let response = apache.get("/exc-info?second-call-before-output");
    assert_eq!(response.status, 202);
    assert_eq!(response.header("X-First"), None);
    assert_eq!(response.text(), "second wins\n");
}

#[test]
fn exc_info_after_output_reraises_the_apps_exception() {
    let apache = Apache::start(SITE);
    let response = apache.get("/exc-info?exc-info-after-output");
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "already sent\n");
    assert!(!response.complete, "the cut response must look incomplete");
    let log = apache.wait_for_log("reraised by start_response");
    assert!(
        log.contains("KeyError: 'reraised by start_response'"),
        "{log}"
    );
}

#[test]
fn a_second_call_without_exc_info_after_output_raises() {
    let apache = Apache::start(SITE);
    let response = apache.get("/exc-info?second-call-after-output");
    assert_eq!(response.text(), "already sent\n");
    assert!(!response.complete);
    let log = apache.wait_for_log("after the headers were sent");
    assert!(
        log.contains("RuntimeError: start_response() called again after the headers were sent"),
        "{log}"
    );
}
