//! A real Flask application, installed from PyPI into a virtualenv, served
//! by mod_rwsgi and by Debian's mod_wsgi on the same Apache: the same
//! requests get the same status, headers and body.

mod common;

use std::process::Command;

use common::{Apache, Gateway, SharedDir, http};

/// A virtualenv with Flask, and the app beside it.
fn flask_site() -> (SharedDir, String) {
    let dir = SharedDir::new("flask");
    let venv = dir.0.join("env");
    let made = Command::new("/usr/bin/python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "python3 -m venv (Debian package python3-venv): {}",
        String::from_utf8_lossy(&made.stderr)
    );
    let pip = Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check", "flask"])
        .output()
        .unwrap();
    assert!(
        pip.status.success(),
        "pip install flask: {}",
        String::from_utf8_lossy(&pip.stderr)
    );
    let app = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/frameworks/flask_app.py"
    ))
    .unwrap();
    dir.write("site/flask_app.py", &app);
    dir.share();
    let site = format!(
        "WSGIPythonHome {}\nWSGIApplicationGroup %{{GLOBAL}}\nWSGIScriptAlias /app {}/site/flask_app.py callable-object=app\n<Directory {}/site>\nRequire all granted\n</Directory>\n",
        venv.display(),
        dir.0.display(),
        dir.0.display()
    );
    (dir, site)
}

/// Status, headers and body, compared as HTTP compares them: headers by
/// name (their order between names means nothing), without Date and Server
/// (each gateway names itself), cookie values masked (Flask signs its
/// session with the time), Allow's methods sorted (Flask lists a set).
fn normalized(response: &http::Response) -> String {
    let mut out = format!("{}\n", response.status);
    let mut headers = response.headers.clone();
    headers.sort_by_key(|(name, _)| name.to_ascii_lowercase());
    for (name, value) in &headers {
        if name.eq_ignore_ascii_case("date") || name.eq_ignore_ascii_case("server") {
            continue;
        }
        let value = if name.eq_ignore_ascii_case("allow") {
            // Flask lists methods from a set: the order changes with each
            // process's hash seed.
            let mut methods: Vec<&str> = value.split(", ").collect();
            methods.sort();
            methods.join(", ")
        } else if name.eq_ignore_ascii_case("set-cookie") {
            let (cookie, attributes) = value.split_once(';').unwrap_or((value, ""));
            let cookie_name = cookie.split('=').next().unwrap_or_default();
            format!("{cookie_name}=<value>;{attributes}")
        } else {
            value.clone()
        };
        out.push_str(&format!("{name}: {value}\n"));
    }
    out.push('\n');
    out.push_str(&String::from_utf8_lossy(&response.body));
    out
}

/// The session cookie a response set, as "name=value".
fn cookie(response: &http::Response) -> String {
    response
        .header("Set-Cookie")
        .and_then(|c| c.split(';').next())
        .unwrap_or_default()
        .to_string()
}

fn get(path: &str, extra: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: example.test\r\n{extra}Connection: close\r\n\r\n")
}

fn post(path: &str, content_type: &str, body: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: example.test\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn a_flask_app_answers_as_it_does_under_mod_wsgi() {
    let (_dir, site) = flask_site();
    let ours = Apache::start_gateway(Gateway::Rwsgi, &site);
    let theirs = Apache::start_gateway(Gateway::ModWsgi, &site);
    let boundary = "XyZ";
    let upload = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"data.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n{}\r\n--{boundary}--\r\n",
        "abcdefghij".repeat(100)
    );
    let requests = vec![
        get("/app/", ""),
        get("/app", ""),
        get("/app/json?x=1&y=2&y=3", ""),
        get("/app/json?name=%C3%A9t%C3%A9", ""),
        get("/app/json/", ""),
        get("/app/form", ""),
        post(
            "/app/form",
            "application/x-www-form-urlencoded",
            "name=Ada&item=a&item=b&item=%26",
        ),
        post("/app/form", "application/x-www-form-urlencoded", ""),
        get("/app/redirect", ""),
        get("/app/whoami", ""),
        get("/app/cookie", ""),
        get("/app/cookie", "Cookie: flavour=chocolate\r\n"),
        post(
            "/app/upload",
            &format!("multipart/form-data; boundary={boundary}"),
            &upload,
        ),
        get("/app/stream", ""),
        get("/app/status/404", ""),
        get("/app/status/403", ""),
        get("/app/status/410", ""),
        get("/app/crash", ""),
        get("/app/missing", ""),
        post("/app/json", "text/plain", "not allowed"),
        get(
            "/app/echo-headers",
            "X-One: 1\r\nX-Two: two words\r\nX-Dup: a\r\nX-Dup: b\r\n",
        ),
        get("/app/unicode/w%C3%B6rld", ""),
        format!("HEAD /app/json HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n"),
        format!("OPTIONS /app/form HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n"),
        get("/app/json?%zz=bad-escape", ""),
        get("/app//json", ""),
        get("/app/static/nothing.css", ""),
        get("/app/", "Accept-Language: fr\r\nUser-Agent: corpus\r\n"),
        format!("GET /app/ HTTP/1.0\r\n\r\n"),
        format!(
            "GET http://example.test/app/json?abs=1 HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n"
        ),
    ];
    let mut differences = Vec::new();
    for request in &requests {
        let (a, b) = (ours.raw(request.as_bytes()), theirs.raw(request.as_bytes()));
        let (a, b) = (normalized(&a), normalized(&b));
        if a != b {
            differences.push(format!(
                "{}\n--- mod_rwsgi\n{a}\n--- mod_wsgi\n{b}",
                request.lines().next().unwrap_or_default()
            ));
        }
    }
    // The session: log in, then ask who we are, each with its own cookie.
    for apache in [&ours, &theirs] {
        let login = apache.raw(
            post(
                "/app/login",
                "application/x-www-form-urlencoded",
                "user=grace",
            )
            .as_bytes(),
        );
        assert_eq!(login.status, 302, "{}", apache.error_log());
        let whoami =
            apache.raw(get("/app/whoami", &format!("Cookie: {}\r\n", cookie(&login))).as_bytes());
        assert_eq!(whoami.text(), "user=grace");
    }
    assert!(
        differences.is_empty(),
        "{} of {} answers differ:\n{}",
        differences.len(),
        requests.len(),
        differences.join("\n\n")
    );
    // And they are the answers a Flask app gives.
    let check = |request: &str| ours.raw(request.as_bytes());
    assert_eq!(check(&get("/app/redirect", "")).status, 302);
    assert_eq!(check(&get("/app/crash", "")).status, 500);
    assert!(
        check(&get("/app/stream", ""))
            .text()
            .ends_with("chunk 49\n")
    );
    assert_eq!(
        check(&post(
            "/app/upload",
            &format!("multipart/form-data; boundary={boundary}"),
            &upload
        ))
        .text(),
        "uploaded data.bin 1000 bytes, sum 101500"
    );
    assert!(
        ours.wait_for_log("the view failed")
            .contains("RuntimeError: the view failed")
    );
}
