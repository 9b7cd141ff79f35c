//! WSGIAccessScript, WSGIAuthUserScript (AuthBasicProvider and
//! AuthDigestProvider `wsgi`) and WSGIAuthGroupScript (`Require
//! wsgi-group`): the same configuration under mod_rwsgi and under Debian's
//! mod_wsgi answers the same requests with the same statuses.

mod common;

use std::process::Command;

use common::{Apache, Gateway};

const SITE: &str = "\
LoadModule authn_core_module @MODULES@/mod_authn_core.so
LoadModule auth_basic_module @MODULES@/mod_auth_basic.so
LoadModule auth_digest_module @MODULES@/mod_auth_digest.so
LoadModule authz_user_module @MODULES@/mod_authz_user.so
WSGIScriptAlias /app @APPS@/probe.wsgi
WSGIScriptAlias /hello @APPS@/hello.wsgi
<Location /app/basic>
    AuthType Basic
    AuthName private
    AuthBasicProvider wsgi
    WSGIAuthUserScript @APPS@/auth.wsgi
    Require valid-user
</Location>
<Location /app/group>
    AuthType Basic
    AuthName private
    AuthBasicProvider wsgi
    WSGIAuthUserScript @APPS@/auth.wsgi
    WSGIAuthGroupScript @APPS@/auth.wsgi
    Require wsgi-group admin
</Location>
<Location /app/digest>
    AuthType Digest
    AuthName realm1
    AuthDigestProvider wsgi
    WSGIAuthUserScript @APPS@/auth.wsgi
    Require valid-user
</Location>
<Location /hello>
    WSGIAccessScript @APPS@/auth.wsgi
</Location>
";

fn basic(path: &str, credentials: Option<&str>) -> String {
    let authorization = credentials
        .map(|c| format!("Authorization: Basic {}\r\n", base64(c.as_bytes())))
        .unwrap_or_default();
    format!("GET {path} HTTP/1.1\r\nHost: example.test\r\n{authorization}Connection: close\r\n\r\n")
}

fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    bytes
        .chunks(3)
        .flat_map(|chunk| {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
            (0..4).map(move |i| {
                if i <= chunk.len() {
                    TABLE[(n >> (18 - 6 * i) & 63) as usize] as char
                } else {
                    '='
                }
            })
        })
        .collect()
}

/// Status and body from both gateways, which must agree on the status.
fn both(requests: &[(&str, String)]) -> Vec<(u16, String)> {
    let ours = Apache::start_gateway(Gateway::Rwsgi, SITE);
    let theirs = Apache::start_gateway(Gateway::ModWsgi, SITE);
    requests
        .iter()
        .map(|(what, request)| {
            let (a, b) = (ours.raw(request.as_bytes()), theirs.raw(request.as_bytes()));
            assert_eq!(a.status, b.status, "{what}\nours:\n{}", ours.error_log());
            (a.status, a.text())
        })
        .collect()
}

#[test]
fn basic_authentication_asks_check_password_as_mod_wsgi_does() {
    let answers = both(&[
        (
            "right password",
            basic("/app/basic?environ=REMOTE_USER", Some("alice:s3cret")),
        ),
        (
            "wrong password",
            basic("/app/basic?environ=REMOTE_USER", Some("alice:nope")),
        ),
        (
            "unknown user",
            basic("/app/basic?environ=REMOTE_USER", Some("mallory:x")),
        ),
        (
            "no credentials",
            basic("/app/basic?environ=REMOTE_USER", None),
        ),
        (
            "check_password raises",
            basic("/app/basic?environ=REMOTE_USER", Some("crash:x")),
        ),
        (
            "check_password returns a str",
            basic("/app/basic?environ=REMOTE_USER", Some("odd:x")),
        ),
    ]);
    assert_eq!(answers[0], (200, r#"{"value": "alice"}"#.to_string()));
    assert_eq!(answers[1].0, 401);
    assert_eq!(answers[2].0, 401);
    assert_eq!(answers[3].0, 401);
    assert_eq!(answers[4].0, 500);
    // Like mod_wsgi, a value other than True/False/None counts by its truth.
    assert_eq!(answers[5].0, 200);
}

#[test]
fn require_wsgi_group_asks_groups_for_user_as_mod_wsgi_does() {
    let answers = both(&[
        (
            "in the group",
            basic("/app/group?environ=REMOTE_USER", Some("alice:s3cret")),
        ),
        (
            "not in the group",
            basic("/app/group?environ=REMOTE_USER", Some("bob:hunter2")),
        ),
        (
            "no credentials",
            basic("/app/group?environ=REMOTE_USER", None),
        ),
    ]);
    assert_eq!(answers[0].0, 200);
    assert_eq!(answers[1].0, 401);
    assert_eq!(answers[2].0, 401);
}

#[test]
fn wsgi_access_script_decides_with_allow_access_as_mod_wsgi_does() {
    let answers = both(&[
        ("allowed", basic("/hello?allow", None)),
        ("denied", basic("/hello?deny", None)),
        ("no decision", basic("/hello?none", None)),
    ]);
    assert_eq!(answers[0].0, 200);
    assert_eq!(answers[1].0, 403);
    // None: no decision, so the other access rules (none here) decide.
    assert_eq!(answers[2].0, 200);
}

/// curl speaks Digest; the tests have no MD5 of their own.
fn curl_digest(apache: &Apache, credentials: &str) -> String {
    let out = Command::new("curl")
        .args([
            "--silent",
            "--digest",
            "--user",
            credentials,
            "--write-out",
            " %{http_code}",
        ])
        .arg(format!(
            "http://127.0.0.1:{}/app/digest?environ=REMOTE_USER",
            apache.port
        ))
        .output()
        .expect("run curl");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn digest_authentication_asks_get_realm_hash_as_mod_wsgi_does() {
    let ours = Apache::start_gateway(Gateway::Rwsgi, SITE);
    let theirs = Apache::start_gateway(Gateway::ModWsgi, SITE);
    let right = curl_digest(&ours, "alice:s3cret");
    assert_eq!(right, r#"{"value": "alice"} 200"#, "{}", ours.error_log());
    assert_eq!(right, curl_digest(&theirs, "alice:s3cret"));
    let wrong = curl_digest(&ours, "alice:nope");
    assert!(wrong.ends_with(" 401"), "{wrong}");
    assert_eq!(
        wrong.rsplit(' ').next(),
        curl_digest(&theirs, "alice:nope").rsplit(' ').next()
    );
}

#[test]
fn an_exception_in_check_password_is_logged_with_its_traceback() {
    let apache = Apache::start(SITE);
    assert_eq!(
        apache
            .raw(basic("/app/basic?environ=REMOTE_USER", Some("crash:x")).as_bytes())
            .status,
        500
    );
    let log = apache.wait_for_log("the user database is down");
    assert!(
        log.contains("Exception occurred processing WSGI script"),
        "{log}"
    );
    assert!(
        log.contains("RuntimeError: the user database is down"),
        "{log}"
    );
}
