//! environ's CGI variables, built as mod_wsgi builds them: the same requests
//! are sent to Apache with mod_rwsgi and with Debian's mod_wsgi, and every
//! key without a dot (plus wsgi.url_scheme) must be equal.

mod common;

use std::collections::BTreeMap;

use common::{Apache, Gateway};

/// Each module names itself in SERVER_SOFTWARE ("mod_wsgi/5.0.2",
/// "mod_rwsgi/0.1.0"): `value` with either name and its version, whatever
/// the version, as @GATEWAY@.
fn mask_gateway(value: &str) -> String {
    let mut masked = String::new();
    for (i, word) in value.split(' ').enumerate() {
        if i > 0 {
            masked.push(' ');
        }
        let gateway = ["mod_wsgi/", "mod_rwsgi/"]
            .iter()
            .any(|name| word.strip_prefix(name).is_some_and(|v| !v.is_empty()));
        masked.push_str(if gateway { "@GATEWAY@" } else { word });
    }
    masked
}

#[test]
fn gateway_names_are_masked_whatever_their_version() {
    assert_eq!(
        mask_gateway("Apache/2.4.65 (Debian) mod_wsgi/5.0.2 Python/3.13"),
        "Apache/2.4.65 (Debian) @GATEWAY@ Python/3.13"
    );
    assert_eq!(
        mask_gateway(&format!(
            "Apache/2.4.69 (Unix) mod_rwsgi/{} Python/3.14",
            env!("CARGO_PKG_VERSION")
        )),
        "Apache/2.4.69 (Unix) @GATEWAY@ Python/3.14"
    );
    assert_eq!(mask_gateway("/mod_wsgi/ x"), "/mod_wsgi/ x");
}

/// Status and CGI environ for `request`.
fn cgi_environ(apache: &Apache, request: &[u8]) -> (u16, BTreeMap<String, String>) {
    let response = apache.raw(request);
    let environ = if response.status == 200 {
        parse_environ(apache, &response.text())
    } else {
        BTreeMap::new()
    };
    (response.status, environ)
}

/// Reads cgi_environ.wsgi's answer, with the ServerRoot replaced by @ROOT@,
/// the module's name in SERVER_SOFTWARE by @GATEWAY@, and REMOTE_PORT (a new
/// connection each time) left out.
fn parse_environ(apache: &Apache, text: &str) -> BTreeMap<String, String> {
    let root = apache.root().display().to_string();
    text.lines()
        .filter_map(|line| line.split_once('\t'))
        .filter(|(key, _)| *key != "REMOTE_PORT")
        .map(|(key, value)| {
            let value = mask_gateway(&value.replace(&root, "@ROOT@"));
            (key.to_string(), value)
        })
        .collect()
}

/// What mod_rwsgi answered to one request: status and CGI environ.
type Answer = (u16, BTreeMap<String, String>);

/// Sends every request to both gateways configured with `site`; fails
/// naming each key that differs. Returns mod_rwsgi's answers, so that a
/// test can also check they are the answers it expects (two gateways
/// failing alike would otherwise pass).
fn assert_same_environ(site: &str, requests: &[&str]) -> Vec<Answer> {
    assert_same_environ_but(site, requests, &[])
}

/// As [`assert_same_environ`], leaving out `deliberate` keys, where
/// mod_rwsgi differs from mod_wsgi on purpose (each caller says why).
fn assert_same_environ_but(site: &str, requests: &[&str], deliberate: &[&str]) -> Vec<Answer> {
    let ours = Apache::start_gateway(Gateway::Rwsgi, site);
    let theirs = Apache::start_gateway(Gateway::ModWsgi, site);
    let mut differences = Vec::new();
    let mut answers = Vec::new();
    for request in requests {
        let request = request.replace("\n", "\r\n");
        let (our_status, our_env) = cgi_environ(&ours, request.as_bytes());
        let (their_status, their_env) = cgi_environ(&theirs, request.as_bytes());
        let first_line = request.lines().next().unwrap_or_default().to_string();
        if our_status != their_status {
            differences.push(format!(
                "{first_line}: status {our_status}, mod_wsgi {their_status}"
            ));
        }
        let keys: std::collections::BTreeSet<_> = our_env.keys().chain(their_env.keys()).collect();
        for key in keys
            .into_iter()
            .filter(|key| !deliberate.contains(&key.as_str()))
        {
            let (a, b) = (our_env.get(key), their_env.get(key));
            if a != b {
                differences.push(format!("{first_line}: {key} = {a:?}, mod_wsgi {b:?}"));
            }
        }
        answers.push((our_status, our_env));
    }
    assert!(
        differences.is_empty(),
        "environ differs from mod_wsgi's:\n{}\nmod_wsgi log:\n{}",
        differences.join("\n"),
        theirs.error_log()
    );
    answers
}

/// The repr() of `key` in an answer, or "absent".
fn value<'a>(answer: &'a Answer, key: &str) -> &'a str {
    answer.1.get(key).map_or("absent", String::as_str)
}

const ALIAS: &str = "WSGIScriptAlias /app @APPS@/cgi_environ.wsgi\n";

fn get(target: &str) -> String {
    format!("GET {target} HTTP/1.1\nHost: example.test\nConnection: close\n\n")
}

#[test]
fn script_name_and_path_info_are_split_as_mod_wsgi_splits_them() {
    let targets = [
        "/app",
        "/app/",
        "/app/a/b",
        "/app/a/b/",
        "/app//a//b//",
        "//app/a",
        "/app/a/../b",
        "/app/./a/./b",
        "/app/a/%2e%2e/b",
        "/app/a%20b",
        "/app/caf%C3%A9",
        "/app/caf%E9",
        "/app/a%2Fb",
        "/app/a%25b",
        "/app/a;b=c",
        "/app/a?q=1&r=%20&s",
        "/app?",
        "/appx",
        "/APP/a",
    ];
    let requests: Vec<String> = targets.iter().map(|t| get(t)).collect();
    let requests: Vec<&str> = requests.iter().map(String::as_str).collect();
    let answers = assert_same_environ(ALIAS, &requests);
    let a_b = &answers[2];
    assert_eq!(
        (value(a_b, "SCRIPT_NAME"), value(a_b, "PATH_INFO")),
        ("'/app'", "'/a/b'")
    );
    let dotted = &answers[6];
    assert_eq!(value(dotted, "PATH_INFO"), "'/b'");
    let latin1 = &answers[10];
    assert_eq!(
        value(latin1, "PATH_INFO"),
        "'/cafÃ©'",
        "UTF-8 bytes as latin-1"
    );
    assert_eq!(answers[17].0, 404, "/appx is not under /app");
}

#[test]
fn encoded_slashes_pass_as_mod_wsgi_passes_them_with_allow_encoded_slashes() {
    let requests = [get("/app/a%2Fb"), get("/app/a%2Fb/c%2f")];
    let requests: Vec<&str> = requests.iter().map(String::as_str).collect();
    for (setting, path_info) in [
        ("AllowEncodedSlashes On", "'/a/b'"),
        ("AllowEncodedSlashes NoDecode", "'/a%2Fb'"),
    ] {
        let answers = assert_same_environ(&format!("{setting}\n{ALIAS}"), &requests);
        assert_eq!(value(&answers[0], "PATH_INFO"), path_info, "{setting}");
    }
}

#[test]
fn a_script_mounted_at_the_root_gets_an_empty_script_name() {
    let requests = [get("/"), get("/a/b"), get("//a"), get("/a/?x")];
    let requests: Vec<&str> = requests.iter().map(String::as_str).collect();
    let answers = assert_same_environ("WSGIScriptAlias / @APPS@/cgi_environ.wsgi\n", &requests);
    assert_eq!(
        (
            value(&answers[1], "SCRIPT_NAME"),
            value(&answers[1], "PATH_INFO")
        ),
        ("''", "'/a/b'")
    );
}

#[test]
fn server_name_and_port_come_from_the_host_header_as_in_mod_wsgi() {
    let requests = [
        "GET /app HTTP/1.1\nHost: example.test:8080\nConnection: close\n\n",
        "GET /app HTTP/1.1\nHost: [::1]:81\nConnection: close\n\n",
        "GET /app HTTP/1.1\nHost: EXAMPLE.test\nConnection: close\n\n",
        "GET /app HTTP/1.0\n\n",
        "GET http://other.test:9/app?x HTTP/1.1\nHost: example.test\nConnection: close\n\n",
    ];
    let answers = assert_same_environ(ALIAS, &requests);
    assert_eq!(value(&answers[0], "SERVER_NAME"), "'example.test'");
    assert_eq!(value(&answers[0], "SERVER_PORT"), "'8080'");
    let answers = assert_same_environ(&format!("UseCanonicalName On\n{ALIAS}"), &requests);
    assert_eq!(value(&answers[0], "SERVER_NAME"), "'127.0.0.1'");
}

#[test]
fn request_headers_become_http_variables_as_in_mod_wsgi() {
    let requests = [
        // Repeated headers, which Apache joins.
        "GET /app HTTP/1.1\nHost: example.test\nX-Dup: a\nX-Dup: b\nCookie: c=1\nCookie: d=2\nAccept: x/y\nAccept: z/w\nConnection: close\n\n",
        // Case, an empty value, a non-ASCII value, and names Apache must drop.
        "GET /app HTTP/1.1\nHost: example.test\nx-lower-case: v\nX-Empty:\nX-Latin: caf\u{e9}\nX_Under_Score: no\nX.Dot: no\nProxy: http://evil\nAuthorization: Basic eDp5\nConnection: close\n\n",
        // A body's type and length.
        "POST /app HTTP/1.1\nHost: example.test\nContent-Type: application/x-www-form-urlencoded\nContent-Length: 3\nConnection: close\n\na=b",
        // Methods other than GET and POST.
        "DELETE /app/item/7 HTTP/1.1\nHost: example.test\nConnection: close\n\n",
        "OPTIONS /app HTTP/1.1\nHost: example.test\nConnection: close\n\n",
    ];
    let answers = assert_same_environ(ALIAS, &requests);
    assert_eq!(value(&answers[0], "HTTP_X_DUP"), "'a, b'");
    // The header's bytes are UTF-8 (C3 A9); environ holds them as latin-1.
    assert_eq!(value(&answers[1], "HTTP_X_LATIN"), "'cafÃ©'");
    for dropped in ["HTTP_X_UNDER_SCORE", "HTTP_PROXY", "HTTP_AUTHORIZATION"] {
        assert_eq!(value(&answers[1], dropped), "absent");
    }
    assert_eq!(value(&answers[2], "CONTENT_LENGTH"), "'3'");
}

#[test]
fn setenv_setenvif_and_rewrite_variables_reach_environ_as_in_mod_wsgi() {
    let site = format!(
        "LoadModule env_module @MODULES@/mod_env.so\n\
         LoadModule setenvif_module @MODULES@/mod_setenvif.so\n\
         LoadModule rewrite_module @MODULES@/mod_rewrite.so\n\
         SetEnv DEPLOYMENT staging\n\
         SetEnv PATH /opt/bin\n\
         SetEnvIf User-Agent ^probe PROBE=1\n\
         RewriteEngine On\n\
         RewriteRule ^/app/rewritten - [E=REWRITTEN:yes]\n\
         {ALIAS}"
    );
    let requests = [
        "GET /app/rewritten HTTP/1.1\nHost: example.test\nUser-Agent: probe/1\nConnection: close\n\n",
        "GET /app/other HTTP/1.1\nHost: example.test\nConnection: close\n\n",
    ];
    let answers = assert_same_environ(&site, &requests);
    assert_eq!(value(&answers[0], "DEPLOYMENT"), "'staging'");
    assert_eq!(value(&answers[0], "PROBE"), "'1'");
    assert_eq!(value(&answers[0], "REWRITTEN"), "'yes'");
    assert_eq!(value(&answers[1], "REWRITTEN"), "absent");
}

#[test]
fn an_authenticated_user_and_auth_type_reach_environ_as_in_mod_wsgi() {
    let htpasswd = std::env::temp_dir().join(format!("rwsgi-htpasswd-{}", std::process::id()));
    common::run(
        std::process::Command::new("htpasswd").args([
            "-bcB",
            &htpasswd.display().to_string(),
            "alice",
            "s3cret",
        ]),
        "htpasswd (Debian package apache2-utils)",
    );
    std::fs::set_permissions(
        &htpasswd,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .expect("chmod htpasswd");
    let site = format!(
        "LoadModule auth_basic_module @MODULES@/mod_auth_basic.so\n\
         LoadModule authn_core_module @MODULES@/mod_authn_core.so\n\
         LoadModule authn_file_module @MODULES@/mod_authn_file.so\n\
         LoadModule authz_user_module @MODULES@/mod_authz_user.so\n\
         {ALIAS}\
         <Location /app/private>\n\
           AuthType Basic\n\
           AuthName private\n\
           AuthUserFile {}\n\
           Require valid-user\n\
         </Location>\n",
        htpasswd.display()
    );
    // alice:s3cret, then a wrong password, then no credentials.
    let requests = [
        "GET /app/private HTTP/1.1\nHost: example.test\nAuthorization: Basic YWxpY2U6czNjcmV0\nConnection: close\n\n",
        "GET /app/private HTTP/1.1\nHost: example.test\nAuthorization: Basic YWxpY2U6d3Jvbmc=\nConnection: close\n\n",
        "GET /app/private HTTP/1.1\nHost: example.test\nConnection: close\n\n",
        "GET /app/public HTTP/1.1\nHost: example.test\nAuthorization: Basic YWxpY2U6czNjcmV0\nConnection: close\n\n",
    ];
    let answers = assert_same_environ(&site, &requests);
    let _ = std::fs::remove_file(&htpasswd);
    assert_eq!(value(&answers[0], "REMOTE_USER"), "'alice'");
    assert_eq!(value(&answers[0], "AUTH_TYPE"), "'Basic'");
    assert_eq!((answers[1].0, answers[2].0), (401, 401));
    assert_eq!(value(&answers[3], "REMOTE_USER"), "absent");
}

/// CGI environ over HTTPS, fetched with curl (the tests have no TLS client
/// of their own).
fn https_environ(apache: &Apache, path: &str) -> BTreeMap<String, String> {
    let out = std::process::Command::new("curl")
        .args(["--silent", "--show-error", "--insecure", "--fail"])
        .arg(format!("https://127.0.0.1:{}{path}", apache.port))
        .output()
        .expect("run curl (Debian package curl)");
    assert!(
        out.status.success(),
        "curl: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        apache.error_log()
    );
    parse_environ(apache, &String::from_utf8_lossy(&out.stdout))
}

#[test]
fn https_and_wsgi_url_scheme_under_mod_ssl_are_as_in_mod_wsgi() {
    let dir = common::SharedDir::new("tls");
    let (cert, key) = dir.certificate();
    dir.share();
    let site = format!(
        "LoadModule ssl_module @MODULES@/mod_ssl.so\n\
         SSLEngine on\n\
         SSLCertificateFile {}\n\
         SSLCertificateKeyFile {}\n\
         {ALIAS}",
        cert.display(),
        key.display()
    );
    let ours = Apache::start_gateway(Gateway::Rwsgi, &site);
    let theirs = Apache::start_gateway(Gateway::ModWsgi, &site);
    let (our_env, their_env) = (
        https_environ(&ours, "/app/x"),
        https_environ(&theirs, "/app/x"),
    );
    assert_eq!(our_env.get("HTTPS").map(String::as_str), Some("'on'"));
    assert_eq!(
        our_env.get("wsgi.url_scheme").map(String::as_str),
        Some("'https'")
    );
    // The two differ by the server port each picked, and by one deliberate
    // difference: mod_ssl puts HTTPS=on into the CGI environment of every
    // request it serves, and mod_rwsgi keeps it there as CGI scripts and
    // apps that read HTTPS expect; mod_wsgi 4.9.4 leaves it out.
    assert_eq!(their_env.get("HTTPS"), None, "mod_wsgi now passes HTTPS");
    let comparable = |env: &BTreeMap<String, String>| {
        env.iter()
            .filter(|(key, _)| !matches!(key.as_str(), "SERVER_PORT" | "HTTP_HOST" | "HTTPS"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(comparable(&our_env), comparable(&their_env));
}

#[test]
fn application_groups_are_named_as_mod_wsgi_names_them() {
    let hosts = [
        "GET /group/x HTTP/1.1\nHost: example.test\nConnection: close\n\n",
        "GET /group/x HTTP/1.1\nHost: example.test:8080\nConnection: close\n\n",
        "GET /group HTTP/1.0\n\n",
    ];
    let mut seen = Vec::new();
    for spec in [
        "%{GLOBAL}",
        "%{RESOURCE}",
        "%{SERVER}",
        "%{HOST}",
        "%{ENV:GROUP_NAME}",
        "%{ENV:GROUP_MACRO}",
        "%{ENV:UNSET_NAME}",
        "literal-name",
    ] {
        let site = format!(
            "LoadModule env_module @MODULES@/mod_env.so\n\
             SetEnv GROUP_NAME from-env\n\
             SetEnv GROUP_MACRO %{{SERVER}}\n\
             WSGIScriptAlias /group @APPS@/application_group.wsgi\n\
             WSGIApplicationGroup {spec}\n"
        );
        let ours = Apache::start_gateway(Gateway::Rwsgi, &site);
        let theirs = Apache::start_gateway(Gateway::ModWsgi, &site);
        for request in hosts {
            let request = request.replace('\n', "\r\n");
            let (a, b) = (ours.raw(request.as_bytes()), theirs.raw(request.as_bytes()));
            assert_eq!(a.status, 200, "{spec}: {}", ours.error_log());
            assert_eq!(
                a.text(),
                b.text(),
                "{spec}: {}",
                request.lines().next().unwrap()
            );
            seen.push(a.text());
        }
    }
    // The specs above name different groups; equal answers everywhere would
    // mean the directive was ignored.
    for expected in [
        "''",
        "'127.0.0.1|/group'",
        "'127.0.0.1:8080'",
        "'example.test'",
        "'from-env'",
        "'literal-name'",
    ] {
        assert!(
            seen.iter().any(|s| s == expected),
            "{expected} never seen: {seen:?}"
        );
    }
}

#[test]
fn the_application_group_option_of_the_alias_names_the_group_as_mod_wsgi_does() {
    let site = "WSGIScriptAlias /group @APPS@/application_group.wsgi application-group=%{GLOBAL}\n\
                WSGIApplicationGroup other\n";
    let ours = Apache::start_gateway(Gateway::Rwsgi, site);
    let theirs = Apache::start_gateway(Gateway::ModWsgi, site);
    let request = get("/group");
    let request = request.replace('\n', "\r\n");
    let (a, b) = (ours.raw(request.as_bytes()), theirs.raw(request.as_bytes()));
    assert_eq!(a.text(), "''");
    assert_eq!(a.text(), b.text());
}

#[test]
fn wsgi_script_alias_match_maps_urls_as_mod_wsgi_maps_them() {
    let site = "WSGIScriptAliasMatch ^/apps/([^/]+) @APPS@/$1.wsgi\n";
    let requests = [
        get("/apps/cgi_environ"),
        get("/apps/cgi_environ/a/b?x=1"),
        get("/apps/cgi_environ/"),
        get("/apps/missing/a"),
        get("/apps/"),
    ];
    let requests: Vec<&str> = requests.iter().map(String::as_str).collect();
    let answers = assert_same_environ(site, &requests);
    let mapped = &answers[1];
    assert_eq!(mapped.0, 200);
    assert_eq!(
        (value(mapped, "SCRIPT_NAME"), value(mapped, "PATH_INFO")),
        ("'/apps/cgi_environ'", "'/a/b'")
    );
    assert_eq!(
        value(mapped, "SCRIPT_FILENAME"),
        "'@ROOT@/apps/cgi_environ.wsgi'"
    );
    assert_eq!(answers[3].0, 404);
}

const PROXIED: &str = "GET /app/x HTTP/1.1\nHost: internal.test\n\
    X-Forwarded-For: 203.0.113.9, 127.0.0.1\nX-Real-IP: 6.6.6.6\n\
    X-Forwarded-Host: public.example\nX-Forwarded-Port: 443\n\
    X-Forwarded-Proto: https\nX-Script-Name: /mount\nConnection: close\n\n";

fn proxy_site(proxies: &str) -> String {
    format!(
        "{ALIAS}WSGITrustedProxyHeaders X-Forwarded-For X-Forwarded-Host X-Forwarded-Port X-Forwarded-Proto X-Script-Name\n\
         WSGITrustedProxies {proxies}\n"
    )
}

#[test]
fn headers_from_a_trusted_proxy_replace_apaches_view_as_in_mod_wsgi() {
    let answers = assert_same_environ(&proxy_site("127.0.0.1 10.0.0.0/8"), &[PROXIED]);
    let env = &answers[0];
    assert_eq!(value(env, "REMOTE_ADDR"), "'203.0.113.9'");
    assert_eq!(value(env, "HTTP_HOST"), "'public.example'");
    assert_eq!(value(env, "SERVER_PORT"), "'443'");
    assert_eq!(value(env, "SCRIPT_NAME"), "'/mount'");
    assert_eq!(value(env, "wsgi.url_scheme"), "'https'");
    assert_eq!(
        value(env, "HTTP_X_REAL_IP"),
        "absent",
        "a synonym of a trusted header"
    );
}

#[test]
fn headers_from_an_untrusted_peer_are_stripped_as_in_mod_wsgi() {
    // Debian's mod_wsgi 4.9.4 leaves X-Forwarded-Port from an untrusted
    // peer in environ, where an app may still believe it; mod_rwsgi strips
    // it like every other trusted header (newer mod_wsgi does too).
    let answers = assert_same_environ_but(
        &proxy_site("10.0.0.1"),
        &[PROXIED],
        &["HTTP_X_FORWARDED_PORT"],
    );
    let env = &answers[0];
    assert_eq!(value(env, "REMOTE_ADDR"), "'127.0.0.1'");
    assert_eq!(value(env, "HTTP_HOST"), "'internal.test'");
    assert_eq!(value(env, "SCRIPT_NAME"), "'/app'");
    assert_eq!(value(env, "wsgi.url_scheme"), "'http'");
    for stripped in [
        "HTTP_X_FORWARDED_FOR",
        "HTTP_X_FORWARDED_HOST",
        "HTTP_X_FORWARDED_PORT",
        "HTTP_X_FORWARDED_PROTO",
        "HTTP_X_SCRIPT_NAME",
        "HTTP_X_REAL_IP",
    ] {
        assert_eq!(value(env, stripped), "absent", "{stripped}");
    }
}

/// Daemon mode on both sides, the same configuration: the CGI part of
/// environ travels from Apache's child to the daemon whole.
#[test]
fn in_daemon_mode_environ_is_the_one_mod_wsgis_daemon_mode_gives() {
    let site = "WSGISocketPrefix @ROOT@/wsgi
WSGIDaemonProcess site processes=2 threads=2
WSGIProcessGroup site
WSGIScriptAlias /app @APPS@/cgi_environ.wsgi
";
    let requests = [
        get("/app"),
        get("/app/a/b?x=1&y=%20"),
        get("/app/caf%E9"),
        "GET /app/h HTTP/1.1\nHost: example.test:8080\nUser-Agent: test\nAccept: */*\nCookie: a=1; b=2\nX-Custom-Header: v\nConnection: close\n\n".to_string(),
        "POST /app/form HTTP/1.1\nHost: example.test\nContent-Type: application/x-www-form-urlencoded\nContent-Length: 7\nConnection: close\n\na=1&b=2".to_string(),
    ];
    let requests: Vec<&str> = requests.iter().map(String::as_str).collect();
    let answers = assert_same_environ(site, &requests);
    assert_eq!(value(&answers[1], "PATH_INFO"), "'/a/b'");
    assert_eq!(value(&answers[4], "CONTENT_LENGTH"), "'7'");
    assert_eq!(value(&answers[3], "HTTP_COOKIE"), "'a=1; b=2'");
}

/// mod_wsgi's keys, from mod_wsgi_keys.wsgi: those that are times, ids and
/// counters by their form (each gateway's own value), the rest as values.
fn mod_wsgi_keys(apache: &Apache, path: &str) -> BTreeMap<String, String> {
    let response = apache.get(path);
    assert_eq!(response.status, 200, "{}", apache.error_log());
    let digits = |v: &str, quoted: bool| {
        let v = if quoted { v.trim_matches('\'') } else { v };
        !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit())
    };
    response
        .text()
        .lines()
        .filter_map(|line| line.split_once('\t'))
        .map(|(key, value)| {
            let form = match key {
                "mod_wsgi.request_start"
                | "mod_wsgi.queue_start"
                | "mod_wsgi.daemon_start"
                | "mod_wsgi.script_start" => {
                    assert!(digits(value, true) && value.len() == 18, "{key} = {value}");
                    "'<microseconds>'".to_string()
                }
                "mod_wsgi.request_id" => {
                    assert!(
                        value.len() > 2 && value.starts_with('\''),
                        "{key} = {value}"
                    );
                    "'<log id>'".to_string()
                }
                "mod_wsgi.thread_id" | "mod_wsgi.thread_requests" | "mod_wsgi.total_requests" => {
                    assert!(digits(value, false), "{key} = {value}");
                    "<int>".to_string()
                }
                _ => value.to_string(),
            };
            (key.to_string(), form)
        })
        .collect()
}

#[test]
fn mod_wsgis_own_keys_are_in_environ_as_mod_wsgi_sets_them() {
    let site = "WSGISocketPrefix @ROOT@/wsgi\n\
        WSGIDaemonProcess keys threads=2\n\
        WSGIScriptAlias /embedded @APPS@/mod_wsgi_keys.wsgi\n\
        WSGIScriptAlias /daemon @APPS@/mod_wsgi_keys.wsgi process-group=keys application-group=%{GLOBAL}\n\
        WSGIScriptAlias /embedded-other @APPS@/mod_wsgi_keys.wsgi application-group=other\n\
        WSGIScriptAlias /daemon-other @APPS@/mod_wsgi_keys.wsgi process-group=keys application-group=other\n\
        WSGIScriptReloading Off\n";
    let ours = Apache::start_gateway(Gateway::Rwsgi, site);
    let theirs = Apache::start_gateway(Gateway::ModWsgi, site);
    // The second application group of each scope runs in a process of its
    // own under mod_rwsgi (a sub-interpreter under mod_wsgi): environ must
    // not tell, the hop keys included (a daemon's only).
    for path in [
        "/embedded/a/b?q=1",
        "/daemon",
        "/embedded-other",
        "/daemon-other",
    ] {
        let (mine, expected) = (mod_wsgi_keys(&ours, path), mod_wsgi_keys(&theirs, path));
        let mut expected: BTreeMap<_, _> = expected
            .into_iter()
            .map(|(key, value)| {
                let value = value.replace(&theirs.port.to_string(), "@PORT@");
                (key, value)
            })
            .collect();
        let mut mine: BTreeMap<_, _> = mine
            .into_iter()
            .map(|(key, value)| (key, value.replace(&ours.port.to_string(), "@PORT@")))
            .collect();
        // Deliberate: mod_rwsgi answers as the mod_wsgi it is compared
        // with on Debian (4.9.4), whichever mod_wsgi this test runs
        // against (PyPI's in the Docker images).
        let version = |map: &mut BTreeMap<String, String>| map.remove("mod_wsgi.version");
        assert_eq!(version(&mut mine), Some("(4, 9, 4)".to_string()), "{path}");
        assert!(version(&mut expected).is_some(), "{path}");
        assert_eq!(mine, expected, "{path}");
        assert!(expected.len() >= 18, "{path}: {expected:?}");
    }
}

#[test]
fn the_hop_to_a_daemon_is_timed_in_order_from_request_to_script() {
    let site = "WSGISocketPrefix @ROOT@/wsgi\n\
        WSGIDaemonProcess keys threads=2\n\
        WSGIScriptAlias /daemon @APPS@/mod_wsgi_keys.wsgi process-group=keys application-group=%{GLOBAL}\n";
    for gateway in [Gateway::Rwsgi, Gateway::ModWsgi] {
        let apache = Apache::start_gateway(gateway, site);
        for _ in 0..3 {
            let text = apache.get("/daemon").text();
            let time = |key: &str| -> u64 {
                text.lines()
                    .find_map(|line| line.strip_prefix(&format!("mod_wsgi.{key}\t")))
                    .and_then(|value| value.trim_matches('\'').parse().ok())
                    .unwrap_or_else(|| panic!("{gateway:?}: no {key}: {text}"))
            };
            let times = [
                "request_start",
                "queue_start",
                "daemon_start",
                "script_start",
            ]
            .map(time);
            assert!(times.is_sorted(), "{gateway:?}: {times:?}");
            // All in microseconds, within the one request.
            assert!(times[3] - times[0] < 10_000_000, "{gateway:?}: {times:?}");
        }
    }
}

#[test]
fn mod_wsgis_request_counters_count_as_mod_wsgis_do() {
    let site = format!(
        "{}WSGIScriptAlias /keys @APPS@/mod_wsgi_keys.wsgi\n",
        common::one_child(1)
    );
    let counters = |gateway| {
        let apache = Apache::start_gateway(gateway, &site);
        (0..3)
            .map(|_| {
                let text = apache.get("/keys").text();
                let value = |key: &str| {
                    text.lines()
                        .find_map(|line| line.strip_prefix(&format!("mod_wsgi.{key}\t")))
                        .unwrap_or("absent")
                        .to_string()
                };
                [
                    value("thread_id"),
                    value("thread_requests"),
                    value("total_requests"),
                ]
            })
            .collect::<Vec<_>>()
    };
    let ours = counters(Gateway::Rwsgi);
    assert_eq!(ours, counters(Gateway::ModWsgi));
    assert_eq!(ours[2], ["1", "2", "2"]);
}
