//! The module loads into a real Apache under every MPM, exports only its
//! module structure, and starts Python in the children, never the parent.

mod common;

use std::process::Command;

use common::{Apache, Mpm, module_path};

const HELLO: &str = "WSGIScriptAlias /hello @APPS@/hello.wsgi";

fn serves_hello_under(mpm: Mpm) {
    let apache = Apache::start_with(mpm, HELLO);
    let response = apache.get("/hello");
    assert_eq!(response.status, 200, "{mpm:?}: {}", apache.error_log());
    assert_eq!(response.text(), "Hello, World!\n");
}

#[test]
fn serves_under_the_event_mpm() {
    serves_hello_under(Mpm::Event);
}

#[test]
fn serves_under_the_worker_mpm() {
    serves_hello_under(Mpm::Worker);
}

#[test]
fn serves_under_the_prefork_mpm() {
    serves_hello_under(Mpm::Prefork);
}

#[test]
/// Its own name, and mod_wsgi's for configurations that load it as
/// `wsgi_module` (docs/directives.md, "Switching from mod_wsgi").
fn exports_only_the_module_structures() {
    let out = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(module_path())
        .output()
        .expect("run nm");
    let exported: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().nth(2).map(str::to_string))
        .collect();
    assert_eq!(exported, ["rwsgi_module", "wsgi_module"]);
}

#[test]
fn python_starts_in_each_child_and_never_in_the_parent() {
    let apache = Apache::start_with(
        Mpm::Prefork,
        &format!("StartServers 2\nMinSpareServers 2\n{HELLO}"),
    );
    assert_eq!(apache.get("/hello").status, 200);
    let log = apache.wait_for_log("initialised in child");
    let children: Vec<u32> = log
        .lines()
        .filter_map(|line| line.split("initialised in child ").nth(1))
        .filter_map(|pid| pid.trim().parse().ok())
        .collect();
    assert!(!children.is_empty(), "no child initialised Python:\n{log}");
    assert!(
        !children.contains(&apache.parent_pid()),
        "Python was initialised in the parent:\n{log}"
    );
}
