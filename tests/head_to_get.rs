//! WSGIMapHEADToGET: whether the app sees a HEAD request as GET. Off: never;
//! On: always; Auto (the default): only when a content output filter (here
//! mod_deflate) may need the body. Apache never sends the body of a HEAD.

mod common;

use common::Apache;

fn site(setting: &str, deflate: bool) -> String {
    let filter = if deflate {
        "LoadModule deflate_module @MODULES@/mod_deflate.so\nSetOutputFilter DEFLATE\n"
    } else {
        ""
    };
    format!("{filter}WSGIScriptAlias /head @APPS@/head.wsgi\n{setting}\n")
}

/// The method the app saw for a HEAD request, after checking Apache sent
/// no body.
fn method_seen_for_head(apache: &Apache) -> String {
    let response = apache.raw(b"HEAD /head HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n");
    assert_eq!(response.status, 200, "{}", apache.error_log());
    assert!(response.body.is_empty(), "HEAD sent a body");
    response.header("X-Method").expect("X-Method").to_string()
}

#[test]
fn by_default_head_reaches_the_app_as_head() {
    let apache = Apache::start(&site("", false));
    assert_eq!(method_seen_for_head(&apache), "HEAD");
}

#[test]
fn by_default_head_reaches_the_app_as_get_when_a_content_filter_is_set() {
    let apache = Apache::start(&site("", true));
    assert_eq!(method_seen_for_head(&apache), "GET");
}

#[test]
fn an_explicit_auto_presents_head_as_get_with_a_content_filter() {
    let apache = Apache::start(&site("WSGIMapHEADToGET Auto", true));
    assert_eq!(method_seen_for_head(&apache), "GET");
}

#[test]
fn on_always_presents_head_as_get() {
    let apache = Apache::start(&site("WSGIMapHEADToGET On", false));
    assert_eq!(method_seen_for_head(&apache), "GET");
}

#[test]
fn off_presents_head_as_head_even_with_a_content_filter() {
    let apache = Apache::start(&site("WSGIMapHEADToGET Off", true));
    assert_eq!(method_seen_for_head(&apache), "HEAD");
}

#[test]
fn a_get_request_is_unaffected() {
    let apache = Apache::start(&site("WSGIMapHEADToGET On", false));
    let response = apache.get("/head");
    assert_eq!(response.header("X-Method"), Some("GET"));
    assert_eq!(response.text(), "a body that HEAD must not send\n");
}

#[test]
fn a_value_other_than_off_on_or_auto_is_a_config_error() {
    let (ok, output) = Apache::check_config("WSGIMapHEADToGET Sometimes\n");
    assert!(!ok, "{output}");
    assert!(
        output.contains("WSGIMapHEADToGET: 'Sometimes' is not accepted; use Off, On or Auto"),
        "{output}"
    );
    assert!(output.contains("httpd.conf"), "names the file: {output}");
}
