//! Which requests reach which script: WSGIScriptAlias (with its options and
//! per virtual host), SetHandler wsgi-script, and configuration errors that
//! stop Apache with a clear message.

mod common;

use common::Apache;

#[test]
fn script_alias_splits_script_name_and_path_info() {
    let apache = Apache::start("WSGIScriptAlias /app @APPS@/environ.wsgi");
    for (path, path_info) in [("/app", ""), ("/app/", "/"), ("/app/a/b", "/a/b")] {
        let text = apache.get(path).text();
        assert!(text.contains(r#""SCRIPT_NAME": "/app""#), "{path}: {text}");
        assert!(
            text.contains(&format!(r#""PATH_INFO": "{path_info}""#)),
            "{path}: {text}"
        );
    }
}

#[test]
fn script_alias_at_the_root_gives_an_empty_script_name() {
    let apache = Apache::start("WSGIScriptAlias / @APPS@/environ.wsgi");
    let text = apache.get("/some/page").text();
    assert!(text.contains(r#""SCRIPT_NAME": """#), "{text}");
    assert!(text.contains(r#""PATH_INFO": "/some/page""#), "{text}");
}

#[test]
fn script_alias_ending_in_a_slash_keeps_the_slash_in_path_info() {
    let apache = Apache::start("WSGIScriptAlias /app/ @APPS@/environ.wsgi");
    let text = apache.get("/app/x").text();
    assert!(text.contains(r#""SCRIPT_NAME": "/app""#), "{text}");
    assert!(text.contains(r#""PATH_INFO": "/x""#), "{text}");
}

#[test]
fn script_alias_to_a_directory_serves_the_scripts_in_it() {
    let apache = Apache::start("WSGIScriptAlias /scripts/ @APPS@/");
    let response = apache.get("/scripts/hello.wsgi");
    assert_eq!(response.status, 200, "{}", apache.error_log());
    assert_eq!(response.text(), "Hello, World!\n");
}

#[test]
fn script_alias_matches_whole_path_segments_only() {
    let apache = Apache::start("WSGIScriptAlias /app @APPS@/hello.wsgi");
    assert_eq!(apache.get("/app/x").status, 200);
    assert_eq!(apache.get("/apple").status, 404);
}

#[test]
fn callable_object_option_names_the_callable() {
    let apache =
        Apache::start("WSGIScriptAlias /custom @APPS@/custom_callable.wsgi callable-object=app");
    let response = apache.get("/custom");
    assert_eq!(response.status, 200, "{}", apache.error_log());
    assert_eq!(response.text(), "served by app\n");
}

#[test]
fn each_virtual_host_has_its_own_aliases() {
    let apache = Apache::start(
        "<VirtualHost *>
    ServerName first.test
    WSGIScriptAlias /app @APPS@/hello.wsgi
</VirtualHost>
<VirtualHost *>
    ServerName second.test
    WSGIScriptAlias /app @APPS@/custom_callable.wsgi callable-object=app
</VirtualHost>",
    );
    let first = apache.raw(b"GET /app HTTP/1.1\r\nHost: first.test\r\nConnection: close\r\n\r\n");
    let second = apache.raw(b"GET /app HTTP/1.1\r\nHost: second.test\r\nConnection: close\r\n\r\n");
    assert_eq!(first.text(), "Hello, World!\n");
    assert_eq!(second.text(), "served by app\n");
}

#[test]
fn set_handler_serves_scripts_in_an_exec_cgi_directory() {
    let apache = Apache::start(
        "LoadModule alias_module @MODULES@/mod_alias.so
Alias /scripts @APPS@
<Directory @APPS@>
    Options +ExecCGI
    SetHandler wsgi-script
</Directory>",
    );
    let response = apache.get("/scripts/hello.wsgi");
    assert_eq!(response.status, 200, "{}", apache.error_log());
    assert_eq!(response.text(), "Hello, World!\n");
}

#[test]
fn set_handler_without_exec_cgi_is_forbidden() {
    let apache = Apache::start(
        "LoadModule alias_module @MODULES@/mod_alias.so
Alias /scripts @APPS@
<Directory @APPS@>
    Options -ExecCGI
    SetHandler wsgi-script
</Directory>",
    );
    assert_eq!(apache.get("/scripts/hello.wsgi").status, 403);
    let log = apache.wait_for_log("ExecCGI");
    assert!(
        log.contains("Options ExecCGI is off in this directory"),
        "{log}"
    );
}

#[test]
fn a_relative_script_path_is_refused_at_config_time() {
    Apache::assert_config_refused("WSGIScriptAlias /app relative/app.wsgi", "must be absolute");
}

#[test]
fn an_unknown_option_is_refused_at_config_time() {
    Apache::assert_config_refused(
        "WSGIScriptAlias /app /srv/app.wsgi colour=blue",
        "unknown option 'colour'",
    );
}

#[test]
fn a_script_alias_needs_two_paths() {
    Apache::assert_config_refused(
        "WSGIScriptAlias /app",
        "WSGIScriptAlias takes a URL path and a script path, then options",
    );
}
