//! The example configurations in conf/examples, as a mod_wsgi site would
//! have them: each runs verbatim (its LoadModule line aside) under mod_rwsgi
//! and under Debian's mod_wsgi, and both answer the same requests alike.

mod common;

use common::{Apache, Gateway, SharedDir};

/// What Debian's apache2.conf loads and the examples rely on.
const BASE_MODULES: &str = "LoadModule alias_module @MODULES@/mod_alias.so\n";

/// The /srv tree the examples name: a copy of the site probe per site, a
/// static file, and a virtualenv.
fn srv() -> SharedDir {
    let srv = SharedDir::new("srv");
    let probe = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/apps/site_probe.py"
    ))
    .expect("site_probe.py");
    for (path, site) in [
        ("site/site.wsgi", "site"),
        ("shop/wsgi.py", "shop"),
        ("blog/wsgi.py", "blog"),
        ("api/api.wsgi", "api"),
        ("project/project/wsgi.py", "project"),
    ] {
        srv.write(
            path,
            &probe.replace("SITE = \"site\"", &format!("SITE = \"{site}\"")),
        );
    }
    srv.write("site/static/style.css", "body { color: black }\n");
    srv.write("www/index.html", "<p>static</p>\n");
    srv.virtualenv("venv");
    srv.share();
    srv
}

/// conf/examples/NAME with its LoadModule line left to the harness, /srv
/// moved to the test's tree, and port 80 to the test's port.
fn example(name: &str, srv: &SharedDir) -> String {
    let path = format!("{}/conf/examples/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("example config");
    let body: String = text
        .lines()
        .filter(|line| !line.trim_start().starts_with("LoadModule"))
        .map(|line| format!("{line}\n"))
        .collect();
    let srv_path = srv.0.display().to_string();
    format!(
        "{BASE_MODULES}{}",
        body.replace("/srv/", &format!("{srv_path}/"))
            .replace("*:80", "*:@PORT@")
    )
}

/// Sends `requests` to the example under mod_wsgi and under mod_rwsgi
/// loaded by either LoadModule line (its own, and mod_wsgi's: switching is
/// changing the path); returns mod_rwsgi's answers after checking the
/// others are the same.
fn serve_alike(name: &str, requests: &[&str]) -> Vec<(u16, String)> {
    let srv = srv();
    let site = example(name, &srv);
    let ours = Apache::start_gateway(Gateway::Rwsgi, &site);
    let switched = Apache::start_gateway(Gateway::RwsgiAsWsgiModule, &site);
    let theirs = Apache::start_gateway(Gateway::ModWsgi, &site);
    requests
        .iter()
        .map(|request| {
            let request = request.replace('\n', "\r\n");
            let a = ours.raw(request.as_bytes());
            let first = request.lines().next().unwrap_or_default().to_string();
            for (other, what) in [(&switched, "as wsgi_module"), (&theirs, "mod_wsgi")] {
                let b = other.raw(request.as_bytes());
                assert_eq!(
                    a.status,
                    b.status,
                    "{name} ({what}): {first}\n{}",
                    ours.error_log()
                );
                assert_eq!(a.text(), b.text(), "{name} ({what}): {first}");
            }
            (a.status, a.text())
        })
        .collect()
}

#[test]
fn the_single_app_example_serves_the_app_and_its_static_files() {
    let answers = serve_alike(
        "single-app.conf",
        &[
            "GET /a/page HTTP/1.1\nHost: www.example.org\nAuthorization: Bearer x\nConnection: close\n\n",
            "GET /static/style.css HTTP/1.1\nHost: www.example.org\nConnection: close\n\n",
        ],
    );
    assert!(
        answers[0].1.contains(r#""PATH_INFO": "/a/page""#),
        "{}",
        answers[0].1
    );
    assert!(
        answers[0].1.contains(r#""authorization": "Bearer x""#),
        "{}",
        answers[0].1
    );
    assert_eq!(answers[1], (200, "body { color: black }\n".to_string()));
}

#[test]
fn the_virtual_hosts_example_serves_each_site_by_host() {
    let answers = serve_alike(
        "virtual-hosts.conf",
        &[
            "GET / HTTP/1.1\nHost: shop.example.org\nConnection: close\n\n",
            "GET /post/1 HTTP/1.1\nHost: blog.example.org\nConnection: close\n\n",
        ],
    );
    assert!(
        answers[0].1.contains(r#""site": "shop""#),
        "{}",
        answers[0].1
    );
    assert!(
        answers[1].1.contains(r#""site": "blog""#),
        "{}",
        answers[1].1
    );
}

#[test]
fn the_sub_path_example_mounts_the_app_under_api_next_to_static_files() {
    let answers = serve_alike(
        "sub-path.conf",
        &[
            "GET /api/items HTTP/1.1\nHost: example.org\nX-Forwarded-For: 203.0.113.5\nConnection: close\n\n",
            "GET /index.html HTTP/1.1\nHost: example.org\nConnection: close\n\n",
        ],
    );
    assert!(
        answers[0].1.contains(r#""SCRIPT_NAME": "/api""#),
        "{}",
        answers[0].1
    );
    // The peer (127.0.0.1) is not the configured proxy: its header is not
    // believed.
    assert!(
        answers[0].1.contains(r#""REMOTE_ADDR": "127.0.0.1""#),
        "{}",
        answers[0].1
    );
    assert_eq!(answers[1], (200, "<p>static</p>\n".to_string()));
}

#[test]
fn the_virtualenv_example_runs_the_project_in_its_virtualenv() {
    let answers = serve_alike(
        "virtualenv.conf",
        &["GET / HTTP/1.1\nHost: example.org\nConnection: close\n\n"],
    );
    assert!(
        answers[0].1.contains(r#""site": "project""#),
        "{}",
        answers[0].1
    );
    assert!(
        answers[0].1.contains("/venv\""),
        "sys.prefix is the venv: {}",
        answers[0].1
    );
}
