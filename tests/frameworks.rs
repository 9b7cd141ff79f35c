//! A real Flask application and a real Django project, installed from PyPI
//! into virtualenvs, served by mod_rwsgi and by Debian's mod_wsgi on the
//! same Apache: the same requests get the same status, headers and body.

mod common;

use std::process::Command;

use common::{Apache, Client, Gateway, SharedDir, http};

/// A virtualenv with Flask, and the app beside it.
fn flask_site() -> (SharedDir, String) {
    let dir = SharedDir::new("flask");
    let venv = dir.virtualenv_with("env", &["flask"]);
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
/// (each gateway names itself), cookie values and expiry times masked
/// (sessions and CSRF tokens are random, and signed with the time), Allow's
/// methods sorted (Flask lists a set).
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
            // Expiry dates count from the second the cookie was set.
            let attributes: Vec<String> = attributes
                .split(';')
                .map(|a| {
                    if a.trim_start().to_ascii_lowercase().starts_with("expires=") {
                        " expires=<time>".to_string()
                    } else {
                        a.to_string()
                    }
                })
                .collect();
            format!("{cookie_name}=<value>;{}", attributes.join(";"))
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

/// A virtualenv with Django, the project copied beside it, migrated, with
/// one user; the database directory writable by Apache's user.
fn django_site() -> (SharedDir, String) {
    let dir = SharedDir::new("django");
    let venv = dir.virtualenv_with("env", &["django"]);
    let source =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/frameworks/django_site");
    for file in [
        "manage.py",
        "mysite/__init__.py",
        "mysite/settings.py",
        "mysite/urls.py",
        "mysite/views.py",
        "mysite/wsgi.py",
        "static/site.css",
    ] {
        dir.write(
            &format!("site/{file}"),
            &std::fs::read_to_string(source.join(file)).unwrap(),
        );
    }
    std::fs::create_dir_all(dir.0.join("site/db")).unwrap();
    let python = venv.join("bin/python");
    let manage = |args: &[&str]| {
        common::run(
            Command::new(&python)
                .arg("manage.py")
                .args(args)
                .current_dir(dir.0.join("site")),
            &format!("manage.py {args:?}"),
        );
    };
    manage(&["migrate", "--verbosity", "0"]);
    manage(&[
        "shell",
        "-c",
        "from django.contrib.auth.models import User; User.objects.create_user('ada', 'ada@example.test', 'analytical')",
    ]);
    dir.share();
    // SQLite writes the database and its journal: Apache's user must too.
    let chmod = Command::new("chmod")
        .args(["-R", "a+rwX"])
        .arg(dir.0.join("site/db"))
        .status();
    assert!(chmod.is_ok_and(|s| s.success()));
    let (root, venv) = (dir.0.join("site"), venv.display().to_string());
    let root = root.display();
    let site = format!(
        "LoadModule alias_module @MODULES@/mod_alias.so\n\
         WSGIPythonHome {venv}\nWSGIPythonPath {root}\nWSGIApplicationGroup %{{GLOBAL}}\n\
         WSGIScriptAlias /app {root}/mysite/wsgi.py\n\
         <Directory {root}/mysite>\nRequire all granted\n</Directory>\n\
         Alias /static {root}/static\n<Directory {root}/static>\nRequire all granted\n</Directory>\n"
    );
    (dir, site)
}

/// The Django corpus: every answer, normalized, with CSRF tokens masked.
fn django_answers(apache: &Apache) -> Vec<(String, String)> {
    let mut client = Client::new(apache, "example.test");
    let form = "application/x-www-form-urlencoded";
    let mut answers = Vec::new();
    let mut record = |what: &str, response: &http::Response| {
        let text = normalized(response);
        let token = Client::token(response);
        let text = if token.is_empty() {
            text
        } else {
            text.replace(&token, "<token>")
        };
        answers.push((what.to_string(), text));
    };
    record("index", &client.send("GET", "/app/", "", ""));
    record("ORM users", &client.send("GET", "/app/users/", "", ""));
    record("append slash", &client.send("GET", "/app/form", "", ""));
    let page = client.send("GET", "/app/form/", "", "");
    record("form page", &page);
    let token = Client::token(&page);
    record(
        "form with token",
        &client.send(
            "POST",
            "/app/form/",
            form,
            &format!("csrfmiddlewaretoken={token}&name=Ada"),
        ),
    );
    record(
        "form without token",
        &client.send("POST", "/app/form/", form, "name=Mallory"),
    );
    record(
        "bad login",
        &client.send(
            "POST",
            "/app/login/",
            form,
            &format!("csrfmiddlewaretoken={token}&username=ada&password=wrong"),
        ),
    );
    record(
        "login",
        &client.send(
            "POST",
            "/app/login/",
            form,
            &format!("csrfmiddlewaretoken={token}&username=ada&password=analytical"),
        ),
    );
    record(
        "whoami logged in",
        &client.send("GET", "/app/whoami/", "", ""),
    );
    record("logout", &client.send("GET", "/app/logout/", "", ""));
    record(
        "whoami logged out",
        &client.send("GET", "/app/whoami/", "", ""),
    );
    let boundary = "DjB";
    let upload = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"d.bin\"\r\n\r\n{}\r\n--{boundary}--\r\n",
        "0123456789".repeat(50)
    );
    record(
        "upload",
        &client.send(
            "POST",
            "/app/upload/",
            &format!("multipart/form-data; boundary={boundary}"),
            &upload,
        ),
    );
    record("upload by GET", &client.send("GET", "/app/upload/", "", ""));
    record("streaming", &client.send("GET", "/app/stream/", "", ""));
    record("404", &client.send("GET", "/app/missing/", "", ""));
    record("500", &client.send("GET", "/app/crash/", "", ""));
    record("HEAD", &client.send("HEAD", "/app/users/", "", ""));
    record(
        "static via Alias",
        &client.send("GET", "/static/site.css", "", ""),
    );
    record("query", &client.send("GET", "/app/?q=%C3%A9&x=1", "", ""));
    record("double slash", &client.send("GET", "/app//users/", "", ""));
    record("OPTIONS", &client.send("OPTIONS", "/app/form/", "", ""));
    answers
}

#[test]
fn a_django_project_answers_as_it_does_under_mod_wsgi() {
    let (_dir, site) = django_site();
    let ours = Apache::start_gateway(Gateway::Rwsgi, &site);
    let theirs = Apache::start_gateway(Gateway::ModWsgi, &site);
    let (a, b) = (django_answers(&ours), django_answers(&theirs));
    let differences: Vec<String> = a
        .iter()
        .zip(&b)
        .filter(|(x, y)| x.1 != y.1)
        .map(|(x, y)| format!("{}\n--- mod_rwsgi\n{}\n--- mod_wsgi\n{}", x.0, x.1, y.1))
        .collect();
    assert!(
        differences.is_empty(),
        "{} of {} differ:\n{}\n{}",
        differences.len(),
        a.len(),
        differences.join("\n\n"),
        ours.error_log()
    );
    // And they are what the project answers.
    let find = |what: &str| &a.iter().find(|(w, _)| w == what).unwrap().1;
    assert!(
        find("index").ends_with("users=1 path=/app/ script=/app"),
        "{}",
        find("index")
    );
    assert!(
        find("form with token").ends_with("accepted Ada"),
        "{}",
        find("form with token")
    );
    assert!(
        find("form without token").starts_with("403"),
        "{}",
        find("form without token")
    );
    assert!(
        find("whoami logged in").ends_with("user=ada"),
        "{}",
        find("whoami logged in")
    );
    assert!(find("whoami logged out").ends_with("user=anonymous"));
    assert!(
        find("upload").ends_with("uploaded 500 bytes, sum 26250"),
        "{}",
        find("upload")
    );
    assert!(find("streaming").ends_with("row 39\n"));
    assert!(find("500").starts_with("500"));
    assert!(find("static via Alias").ends_with("body { margin: 0 }\n"));
}

/// An MPM sized for 200 connections: a worker each, no cap on requests per
/// connection.
const SIZED_FOR_200: &str = "StartServers 8\nServerLimit 16\nThreadsPerChild 25\nMaxRequestWorkers 200\nMinSpareThreads 200\nMaxSpareThreads 200\nMaxKeepAliveRequests 0\n";

/// What a keep-alive load saw.
struct LoadOutcome {
    answered: usize,
    /// Requests sent again after Apache closed their idle connection
    /// before any byte of an answer, as HTTP clients do (RFC 9112, 9.3.1).
    resent: usize,
    failures: Vec<String>,
}

/// `connections` keep-alive clients requesting `path` until `during`
/// returns. A request fails when it gets anything but a whole 200.
fn keep_alive_load(
    port: u16,
    path: &str,
    connections: usize,
    during: impl FnOnce(),
) -> LoadOutcome {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").into_bytes();
    let stop = Arc::new(AtomicBool::new(false));
    let (answered, resent) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let clients: Vec<_> = (0..connections)
        .map(|_| {
            let (stop, answered, resent) = (stop.clone(), answered.clone(), resent.clone());
            let request = request.clone();
            std::thread::spawn(move || -> Vec<String> {
                let mut failures = Vec::new();
                let mut stream = http::connect(port);
                while !stop.load(Ordering::Relaxed) {
                    match http::keep_alive_request(&mut stream, &request) {
                        http::KeepAliveAnswer::Whole(answer) if answer.status == 200 => {
                            answered.fetch_add(1, Ordering::Relaxed);
                        }
                        http::KeepAliveAnswer::Whole(answer) => {
                            failures.push(format!("status {}", answer.status));
                        }
                        http::KeepAliveAnswer::ClosedBeforeAnswer => {
                            resent.fetch_add(1, Ordering::Relaxed);
                            stream = http::connect(port);
                        }
                        http::KeepAliveAnswer::Broken(why) => {
                            failures.push(why);
                            stream = http::connect(port);
                        }
                    }
                }
                failures
            })
        })
        .collect();
    during();
    stop.store(true, Ordering::Relaxed);
    let failures = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    let outcome = LoadOutcome {
        answered: answered.load(Ordering::Relaxed),
        resent: resent.load(Ordering::Relaxed),
        failures,
    };
    eprintln!(
        "{} answered, {} sent again after an idle close, {} failed",
        outcome.answered,
        outcome.resent,
        outcome.failures.len()
    );
    outcome
}

fn assert_no_failure(outcome: &LoadOutcome, apache: &Apache) {
    assert!(
        outcome.failures.is_empty(),
        "{} failed: {:?}\n{}",
        outcome.failures.len(),
        &outcome.failures[..outcome.failures.len().min(5)],
        apache.error_log()
    );
}

/// The Flask app under mod_rwsgi, sized for 200 connections, answering.
fn flask_for_200_connections() -> (SharedDir, Apache) {
    let (dir, site) = flask_site();
    let apache = Apache::start_gateway(Gateway::Rwsgi, &format!("{SIZED_FOR_200}{site}"));
    assert_eq!(
        apache.get("/app/json").status,
        200,
        "{}",
        apache.error_log()
    );
    (dir, apache)
}

/// 200 keep-alive clients for a minute: every request gets its whole 200.
/// (Apache closes idle keep-alive connections when every worker is busy;
/// a request that meets such a close before any byte of its answer is sent
/// again, and counted apart.)
#[test]
fn the_flask_app_answers_200_keep_alive_connections_for_a_minute_without_a_failure() {
    let (_dir, apache) = flask_for_200_connections();
    let outcome = keep_alive_load(apache.port, "/app/json?load=1", 200, || {
        std::thread::sleep(std::time::Duration::from_secs(60));
    });
    assert_no_failure(&outcome, &apache);
    assert!(
        outcome.answered > 10_000,
        "only {} answered",
        outcome.answered
    );
}

/// 200 keep-alive clients against the Flask app through two graceful
/// restarts (SIGUSR1, what `apachectl -k graceful` sends): every request
/// gets its whole 200.
#[test]
fn the_flask_app_loses_no_request_through_two_graceful_restarts_under_200_keep_alive_connections() {
    let (_dir, apache) = flask_for_200_connections();
    let outcome = keep_alive_load(apache.port, "/app/json?load=1", 200, || {
        for _ in 0..2 {
            std::thread::sleep(std::time::Duration::from_secs(5));
            // SAFETY: signalling the Apache parent this test started.
            unsafe { libc::kill(apache.parent_pid() as i32, libc::SIGUSR1) };
        }
        std::thread::sleep(std::time::Duration::from_secs(5));
    });
    assert_no_failure(&outcome, &apache);
    // Other tests of this file run beside it: the rate varies widely.
    assert!(outcome.answered > 500, "only {} answered", outcome.answered);
    let log = apache.error_log();
    assert_eq!(log.matches("Doing graceful restart").count(), 2, "{log}");
}
