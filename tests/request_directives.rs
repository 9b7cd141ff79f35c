//! mod_wsgi's per-request directives as a mod_wsgi site uses them, and the
//! way a configuration that mod_rwsgi cannot honour is refused.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::thread;
use std::time::Duration;

use common::{Apache, one_child};

#[test]
fn wsgi_callable_object_names_the_callable() {
    let apache = Apache::start(
        "WSGIScriptAlias /custom @APPS@/custom_callable.wsgi\n<Location /custom>\nWSGICallableObject app\n</Location>\n",
    );
    let response = apache.get("/custom");
    assert_eq!(response.status, 200, "{}", apache.error_log());
    assert_eq!(response.text(), "served by app\n");
}

#[test]
fn the_aliases_callable_object_wins_over_wsgi_callable_object() {
    let apache = Apache::start(
        "WSGICallableObject missing\nWSGIScriptAlias /custom @APPS@/custom_callable.wsgi callable-object=app\n",
    );
    assert_eq!(apache.get("/custom").text(), "served by app\n");
}

const AUTHORIZATION_PROBE: &str = "GET /probe?environ=HTTP_AUTHORIZATION HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer t0ken\r\nConnection: close\r\n\r\n";

#[test]
fn authorization_is_withheld_from_the_app_by_default() {
    let apache = Apache::start("WSGIScriptAlias /probe @APPS@/probe.wsgi\n");
    assert_eq!(
        apache.raw(AUTHORIZATION_PROBE.as_bytes()).text(),
        r#"{"value": null}"#
    );
}

#[test]
fn wsgi_pass_authorization_on_passes_it_as_http_authorization() {
    let apache =
        Apache::start("WSGIPassAuthorization On\nWSGIScriptAlias /probe @APPS@/probe.wsgi\n");
    assert_eq!(
        apache.raw(AUTHORIZATION_PROBE.as_bytes()).text(),
        r#"{"value": "Bearer t0ken"}"#
    );
}

#[test]
fn the_aliases_pass_authorization_option_wins_over_the_directive() {
    let on = Apache::start("WSGIScriptAlias /probe @APPS@/probe.wsgi pass-authorization=On\n");
    assert_eq!(
        on.raw(AUTHORIZATION_PROBE.as_bytes()).text(),
        r#"{"value": "Bearer t0ken"}"#
    );
    let off = Apache::start(
        "WSGIPassAuthorization On\nWSGIScriptAlias /probe @APPS@/probe.wsgi pass-authorization=Off\n",
    );
    assert_eq!(
        off.raw(AUTHORIZATION_PROBE.as_bytes()).text(),
        r#"{"value": null}"#
    );
}

/// As Debian's mod_wsgi 4.9.4 does: the handler script's option wins
/// over WSGIPassAuthorization either way.
#[test]
fn a_handler_scripts_pass_authorization_option_wins_over_the_directive() {
    let handler = |directive: &str, option: &str| {
        format!(
            "WSGIPassAuthorization {directive}\nWSGIHandlerScript probe-handler @APPS@/probe.wsgi callable-object=application pass-authorization={option}\n<Location /probe>\nSetHandler probe-handler\n</Location>\n"
        )
    };
    let on = Apache::start(&handler("Off", "On"));
    assert_eq!(
        on.raw(AUTHORIZATION_PROBE.as_bytes()).text(),
        r#"{"value": "Bearer t0ken"}"#
    );
    let off = Apache::start(&handler("On", "Off"));
    assert_eq!(
        off.raw(AUTHORIZATION_PROBE.as_bytes()).text(),
        r#"{"value": null}"#
    );
}

#[test]
fn a_location_can_turn_pass_authorization_off_again() {
    let apache = Apache::start(
        "WSGIPassAuthorization On\nWSGIScriptAlias /probe @APPS@/probe.wsgi\n<Location /probe>\nWSGIPassAuthorization Off\n</Location>\n",
    );
    assert_eq!(
        apache.raw(AUTHORIZATION_PROBE.as_bytes()).text(),
        r#"{"value": null}"#
    );
}

#[test]
fn wsgi_script_reloading_off_keeps_the_loaded_script() {
    let apache = Apache::start(&format!(
        "{}WSGIScriptReloading Off\nWSGIScriptAlias /count @APPS@/load_counter.wsgi\n",
        one_child(4)
    ));
    assert!(apache.get("/count").text().ends_with(" 1"));
    let script = apache.apps().join("load_counter.wsgi");
    let source = std::fs::read_to_string(&script).unwrap();
    thread::sleep(Duration::from_millis(1100));
    std::fs::write(&script, source).unwrap();
    assert!(apache.get("/count").text().ends_with(" 1"), "reloaded");
}

#[test]
fn application_groups_without_a_socket_for_their_processes_share_one_interpreter_said_once() {
    // Where no socket can be made, a second group cannot have a process of
    // its own: it shares the child's interpreter, and the log says so.
    let unreachable = common::SharedDir::new("private");
    std::fs::set_permissions(&unreachable.0, std::fs::Permissions::from_mode(0o700)).unwrap();
    let apache = Apache::start(&format!(
        "{}WSGISocketPrefix {}/wsgi\nWSGIScriptAlias /first @APPS@/hello.wsgi\nWSGIScriptAlias /second @APPS@/hello.wsgi application-group=other\n",
        one_child(4),
        unreachable.0.display()
    ));
    for _ in 0..3 {
        assert_eq!(apache.get("/first").status, 200);
        assert_eq!(apache.get("/second").status, 200);
    }
    let log = apache.wait_for_log("share this process's one Python interpreter");
    let lines: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("share this process's one Python interpreter"))
        .collect();
    assert_eq!(lines.len(), 1, "{log}");
    assert!(
        lines[0].contains("application groups '127.0.0.1|/first' and 'other'"),
        "{log}"
    );
    assert!(
        log.contains("cannot reach daemon sockets")
            && log.contains("application groups share the main interpreter"),
        "{log}"
    );
}

#[test]
fn one_application_group_is_not_reported() {
    let apache = Apache::start(&format!(
        "{}WSGIScriptAlias /first @APPS@/hello.wsgi\n",
        one_child(4)
    ));
    for _ in 0..3 {
        assert_eq!(apache.get("/first").status, 200);
    }
    assert!(!apache.error_log().contains("share this process"));
}

#[test]
fn a_directive_without_effect_is_accepted_and_logged_once_at_startup() {
    let apache = Apache::start(
        "WSGIAcceptMutex default\n<VirtualHost *:80>\nWSGIAcceptMutex flock\n</VirtualHost>\nWSGIScriptAlias /hello @APPS@/hello.wsgi\n",
    );
    assert_eq!(apache.get("/hello").status, 200);
    let log = apache.error_log();
    let notes = log.matches("WSGIAcceptMutex has no effect").count();
    assert_eq!(notes, 1, "{log}");
}

#[test]
fn the_embedded_process_group_is_accepted() {
    let (ok, output) = Apache::check_config(
        "WSGIProcessGroup %{GLOBAL}\nWSGIScriptAlias / /srv/site.wsgi process-group=%{GLOBAL}\n",
    );
    assert!(ok, "{output}");
}

#[test]
fn a_directive_not_supported_yet_is_refused_not_ignored() {
    Apache::assert_config_refused(
        "<Location />\nWSGIDispatchScript /srv/dispatch.py\n</Location>\n",
        "WSGIDispatchScript is a mod_wsgi directive that mod_rwsgi does not support yet",
    );
}

#[test]
fn a_directive_in_a_place_mod_wsgi_forbids_is_refused_by_apache() {
    Apache::assert_config_refused(
        "<Directory /srv>\nWSGIScriptAlias /a /srv/a.wsgi\n</Directory>\n",
        "WSGIScriptAlias not allowed in <Directory> context",
    );
}

#[test]
fn a_wrong_number_of_arguments_is_a_config_error() {
    Apache::assert_config_refused(
        "WSGIPassAuthorization On Off\n",
        "WSGIPassAuthorization takes one argument, not 2",
    );
}

#[test]
fn a_bad_regex_in_wsgi_script_alias_match_is_a_config_error() {
    Apache::assert_config_refused(
        "WSGIScriptAliasMatch ^/(unclosed /srv/$1.wsgi\n",
        "WSGIScriptAliasMatch: '^/(unclosed' is not a valid regular expression",
    );
}

#[test]
fn wsgi_import_script_runs_the_script_as_each_child_starts() {
    let apache = Apache::start(&format!(
        "{}WSGIImportScript @APPS@/preload_marker.wsgi process-group=%{{GLOBAL}} application-group=%{{GLOBAL}}\n",
        one_child(4)
    ));
    // No request is made: the child ran it on its own.
    let imported = apache.wait_for_markers("imported-");
    assert!(!imported.is_empty(), "{}", apache.error_log());
}

#[test]
fn an_imported_script_is_not_executed_again_by_its_first_request() {
    let apache = Apache::start(&format!(
        "{}WSGIImportScript @APPS@/load_counter.wsgi process-group=%{{GLOBAL}} application-group=%{{GLOBAL}}\nWSGIScriptAlias /count @APPS@/load_counter.wsgi\n",
        one_child(4)
    ));
    let answer = apache.get("/count").text();
    assert!(answer.ends_with(" 1"), "executed twice: {answer}");
}

/// As mod_wsgi does with an alias that names both its groups (checked
/// against Debian's mod_wsgi 4.9.4: one load per child, no request made).
#[test]
fn an_alias_naming_both_groups_loads_its_script_as_each_child_starts() {
    let apache = Apache::start(&format!(
        "{}WSGIScriptAlias / @APPS@/preload_marker.wsgi process-group=%{{GLOBAL}} application-group=%{{GLOBAL}}\n",
        one_child(4)
    ));
    let imported = apache.wait_for_markers("imported-");
    assert_eq!(imported.len(), 1, "{}", apache.error_log());
    // The request is served by what was loaded: by that process, with no
    // second execution.
    let answer = apache.get("/").text();
    assert_eq!(
        format!("imported-{}", &answer["imported ".len()..]),
        imported[0]
    );
    let marker = apache.root().join("markers").join(&imported[0]);
    assert_eq!(std::fs::read_to_string(marker).unwrap(), "executed\n");
}

#[test]
fn an_import_script_that_fails_is_logged_and_the_child_serves_on() {
    let apache = Apache::start(&format!(
        "{}WSGIImportScript @APPS@/raises_on_import.wsgi process-group=%{{GLOBAL}} application-group=%{{GLOBAL}}\nWSGIScriptAlias /hello @APPS@/hello.wsgi\n",
        one_child(4)
    ));
    assert_eq!(apache.get("/hello").status, 200);
    let log = apache.wait_for_log("Failed to import WSGI script");
    assert!(
        log.contains("raises_on_import.wsgi' (WSGIImportScript)"),
        "{log}"
    );
    assert!(
        log.contains("RuntimeError: raised while importing"),
        "{log}"
    );
}

#[test]
fn wsgi_import_script_needs_both_groups() {
    Apache::assert_config_refused(
        "WSGIImportScript /srv/a.wsgi process-group=%{GLOBAL}\n",
        "WSGIImportScript needs both process-group= and application-group=, as in mod_wsgi",
    );
}

#[test]
fn without_wsgi_error_override_the_apps_error_body_is_sent() {
    let apache = Apache::start(
        "WSGIScriptAlias /status @APPS@/error_status.wsgi\nErrorDocument 404 \"Apache's page\"\n",
    );
    let response = apache.get("/status?404");
    assert_eq!(response.status, 404);
    assert_eq!(response.text(), "the app's own body for 404");
    assert_eq!(response.header("X-From-App"), Some("yes"));
}

/// mod_wsgi 4.9 honours WSGIErrorOverride only in daemon mode; mod_rwsgi
/// honours it in Apache's own processes, as the directive's name promises.
#[test]
fn wsgi_error_override_answers_error_statuses_with_apaches_error_document() {
    let apache = Apache::start(
        "WSGIScriptAlias /status @APPS@/error_status.wsgi\nWSGIErrorOverride On\nErrorDocument 404 \"Apache's own not found page\"\n",
    );
    let not_found = apache.get("/status?404");
    assert_eq!(not_found.status, 404);
    assert_eq!(not_found.text(), "Apache's own not found page");
    assert_eq!(not_found.header("X-From-App"), None);
    let unauthorized = apache.get("/status?401");
    assert_eq!(unauthorized.status, 401);
    assert!(
        !unauthorized.text().contains("the app's own body"),
        "{}",
        unauthorized.text()
    );
    assert_eq!(
        unauthorized.header("WWW-Authenticate"),
        Some("Basic realm=\"app\"")
    );
    let fine = apache.get("/status?200");
    assert_eq!(fine.text(), "the app's own body for 200");
    assert_eq!(fine.header("X-From-App"), Some("yes"));
}

#[test]
fn without_wsgi_trusted_proxies_every_peer_is_believed() {
    let apache = Apache::start(
        "WSGIScriptAlias /probe @APPS@/probe.wsgi\nWSGITrustedProxyHeaders X-Forwarded-For\n",
    );
    let request = "GET /probe?environ=REMOTE_ADDR HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 198.51.100.7, 10.1.1.1\r\nConnection: close\r\n\r\n";
    assert_eq!(
        apache.raw(request.as_bytes()).text(),
        r#"{"value": "198.51.100.7"}"#
    );
}

#[test]
fn unknown_proxy_headers_and_bad_addresses_are_config_errors() {
    for (line, message) in [
        (
            "WSGITrustedProxyHeaders X-Forwarded-Colour",
            "WSGITrustedProxyHeaders: 'X-Forwarded-Colour' is not a proxy header mod_rwsgi knows; accepted: X-Forwarded-For,",
        ),
        (
            "WSGITrustedProxies 10.0.0.0/33",
            "WSGITrustedProxies: '10.0.0.0/33' is not an IP address or network",
        ),
        (
            "WSGITrustedProxies proxy.example",
            "WSGITrustedProxies: 'proxy.example' is not an IP address or network",
        ),
    ] {
        Apache::assert_config_refused(
            &format!(
                "{line}
"
            ),
            message,
        );
    }
}

#[test]
fn every_directive_mod_rwsgi_knows_is_documented_and_known_to_apache() {
    let source = include_str!("../src/config/directives.rs");
    let docs = include_str!("../docs/directives.md");
    // directive!(c"Name", ...), directive!(raw c"Name", ...),
    // directive!(options 2 c"Name", ...).
    let names: Vec<&str> = source
        .split("directive!(")
        .skip(1)
        .filter_map(|rest| rest.split_once("c\"")?.1.split('"').next())
        .filter(|name| name.starts_with("WSGI"))
        .collect();
    assert_eq!(names.len(), 45, "{names:?}");
    for name in &names {
        assert!(
            docs.contains(&format!("| `{name}` |")),
            "{name} is missing from docs/directives.md"
        );
        // Apache knows the name: a misuse gets our message, not "Invalid command".
        let (_, output) = Apache::check_config(&format!("{name}\n"));
        assert!(!output.contains("Invalid command"), "{name}: {output}");
    }
}

/// Apache serving probe.wsgi from the apps directory, whose .htaccess
/// holds `htaccess` under `AllowOverride allow`.
fn with_htaccess(allow: &str, htaccess: &str) -> Apache {
    let apache = Apache::start(&format!(
        "WSGIScriptAlias /probe @APPS@/probe.wsgi\n<Directory @APPS@>\nAllowOverride {allow}\n</Directory>\n"
    ));
    std::fs::write(apache.apps().join(".htaccess"), htaccess).unwrap();
    apache
}

#[test]
fn an_htaccess_file_sets_file_info_directives_where_allow_override_permits() {
    let apache = with_htaccess("FileInfo", "WSGIPassAuthorization On\n");
    assert_eq!(
        apache.raw(AUTHORIZATION_PROBE.as_bytes()).text(),
        r#"{"value": "Bearer t0ken"}"#
    );
}

#[test]
fn an_htaccess_file_is_ignored_where_allow_override_is_none() {
    let apache = with_htaccess("None", "WSGIPassAuthorization On\n");
    assert_eq!(
        apache.raw(AUTHORIZATION_PROBE.as_bytes()).text(),
        r#"{"value": null}"#
    );
}

#[test]
fn a_directive_of_another_override_class_in_htaccess_is_an_error() {
    // WSGIAuthUserScript belongs to AuthConfig, which is not allowed here.
    let apache = with_htaccess("FileInfo", "WSGIAuthUserScript /srv/auth.wsgi\n");
    assert_eq!(apache.raw(AUTHORIZATION_PROBE.as_bytes()).status, 500);
    assert!(
        apache
            .wait_for_log("not allowed here")
            .contains("WSGIAuthUserScript not allowed here")
    );
}
