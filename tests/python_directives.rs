//! The WSGIPython* and WSGIRestrict* directives: how Python is set up in
//! each Apache child, proven from inside a running app.

mod common;

use common::{Apache, Mpm, SharedDir, python_version};

const PROBE: &str = "WSGIScriptAlias /probe @APPS@/probe.wsgi\n";

/// A virtualenv made from the Python mod_rwsgi was built with, holding one
/// module of its own.
fn virtualenv() -> SharedDir {
    let dir = SharedDir::new("venv");
    dir.virtualenv("env");
    let site_packages = dir.site_packages("env");
    dir.write(
        &format!("{site_packages}/rwsgi_venv_probe.py"),
        "WHERE = 'venv'\n",
    );
    dir.share();
    dir
}

#[test]
fn python_home_set_to_a_virtualenv_runs_the_app_in_it() {
    let venv = virtualenv();
    let home = venv.0.join("env");
    let apache = Apache::start(&format!("WSGIPythonHome {}\n{PROBE}", home.display()));
    let sys = apache.get("/probe?sys").text();
    assert!(
        sys.contains(&format!(r#""prefix": "{}""#, home.display())),
        "{sys}"
    );
    let imported = apache.get("/probe?import=rwsgi_venv_probe");
    assert_eq!(imported.status, 200, "{}", apache.error_log());
    assert!(
        imported
            .text()
            .contains("site-packages/rwsgi_venv_probe.py")
    );
}

#[test]
fn python_home_that_is_not_a_python_is_refused_at_config_time() {
    let empty = SharedDir::new("not-python");
    Apache::assert_config_refused(
        &format!("WSGIPythonHome {}\n", empty.0.display()),
        &format!(
            "WSGIPythonHome: {} is neither a virtualenv (no pyvenv.cfg) nor a Python {} installation prefix",
            empty.0.display(),
            python_version()
        ),
    );
}

#[test]
fn python_home_of_a_virtualenv_from_another_python_is_refused_at_config_time() {
    // One minor version above the Python mod_rwsgi is built with.
    let built = python_version();
    let minor: u32 = built[2..].parse().expect("3.X");
    let other = format!("3.{}.1", minor + 1);
    let venv = SharedDir::new("other-venv");
    venv.write(
        "pyvenv.cfg",
        &format!("home = /usr/local/bin\nversion = {other}\n"),
    );
    Apache::assert_config_refused(
        &format!("WSGIPythonHome {}\n", venv.0.display()),
        &format!(
            "is a virtualenv made from Python {other}, but mod_rwsgi was built for Python {built}"
        ),
    );
}

#[test]
fn python_home_cannot_be_set_inside_a_virtual_host() {
    Apache::assert_config_refused(
        "<VirtualHost *:80>\nWSGIPythonHome /usr\n</VirtualHost>\n",
        "WSGIPythonHome cannot occur within <VirtualHost> section",
    );
}

#[test]
fn python_path_directories_are_added_as_site_directories() {
    let dirs = SharedDir::new("pythonpath");
    dirs.write("first/rwsgi_path_probe.py", "WHERE = 'first'\n");
    // A .pth file in a site directory adds its lines to sys.path.
    let extra = dirs.0.join("extra");
    dirs.write("first/extra.pth", &format!("{}\n", extra.display()));
    dirs.write("extra/rwsgi_pth_probe.py", "WHERE = 'extra'\n");
    let apache = Apache::start(&format!(
        "WSGIPythonPath {}:{}\n{PROBE}",
        dirs.0.join("first").display(),
        dirs.0.join("second").display()
    ));
    for module in ["rwsgi_path_probe", "rwsgi_pth_probe"] {
        let response = apache.get(&format!("/probe?import={module}"));
        assert_eq!(response.status, 200, "{module}: {}", apache.error_log());
        assert!(response.text().contains(&format!("{module}.py")));
    }
}

#[test]
fn optimize_hash_seed_warnings_and_bytecode_settings_reach_python() {
    let apache = Apache::start(&format!(
        "WSGIPythonOptimize 2\nWSGIPythonHashSeed 0\nWSGIPythonWarnings error::DeprecationWarning\nWSGIPythonWarnings ignore::ResourceWarning\nWSGIDontWriteBytecode On\n{PROBE}"
    ));
    let sys = apache.get("/probe?sys").text();
    for expected in [
        r#""optimize": 2"#,
        r#""hash_randomization": 0"#,
        r#""warnoptions": ["error::DeprecationWarning", "ignore::ResourceWarning"]"#,
        r#""dont_write_bytecode": true"#,
    ] {
        assert!(sys.contains(expected), "{expected} not in {sys}");
    }
}

#[test]
fn by_default_python_runs_with_its_own_defaults() {
    let apache = Apache::start(PROBE);
    let sys = apache.get("/probe?sys").text();
    for expected in [
        r#""optimize": 0"#,
        r#""hash_randomization": 1"#,
        r#""warnoptions": []"#,
        r#""dont_write_bytecode": false"#,
        r#""prefix": "/usr""#,
    ] {
        assert!(sys.contains(expected), "{expected} not in {sys}");
    }
}

#[test]
fn bad_python_setting_values_are_config_errors() {
    for (line, message) in [
        (
            "WSGIPythonOptimize 3",
            "WSGIPythonOptimize: '3' is not accepted; use 0, 1 or 2",
        ),
        (
            "WSGIPythonHashSeed -1",
            "WSGIPythonHashSeed: '-1' is not accepted; use random or a number from 0 to 4294967295",
        ),
        (
            "WSGIDontWriteBytecode Yes",
            "WSGIDontWriteBytecode: 'Yes' is not accepted; use On or Off",
        ),
        (
            "WSGIPythonEggs relative/dir",
            "WSGIPythonEggs: 'relative/dir' must be an absolute path",
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
fn reading_stdin_gives_nothing_by_default() {
    // As mod_wsgi 4.9, whatever its documentation says: Apache's children
    // have /dev/null as their standard input.
    let apache = Apache::start(PROBE);
    assert_eq!(apache.get("/probe?stdin").text(), r#"{"read": ""}"#);
}

#[test]
fn restrict_stdin_on_makes_reading_stdin_raise() {
    let apache = Apache::start(&format!("WSGIRestrictStdin On\n{PROBE}"));
    let answer = apache.get("/probe?stdin").text();
    assert!(
        answer.contains("sys.stdin access is restricted (WSGIRestrictStdin On)"),
        "{answer}"
    );
}

#[test]
fn restrict_stdin_off_lets_the_app_read_stdin() {
    let apache = Apache::start(&format!("WSGIRestrictStdin Off\n{PROBE}"));
    assert_eq!(apache.get("/probe?stdin").text(), r#"{"read": ""}"#);
}

#[test]
fn restrict_stdout_on_makes_print_raise() {
    let apache = Apache::start(&format!("WSGIRestrictStdout On\n{PROBE}"));
    let answer = apache.get("/probe?stdout").text();
    assert!(
        answer.contains("sys.stdout access is restricted (WSGIRestrictStdout On)"),
        "{answer}"
    );
}

#[test]
fn signal_handlers_from_apps_are_ignored_and_logged_by_default() {
    // prefork: the request runs on the child's main thread, where Python
    // would otherwise let the app take over SIGTERM.
    let apache = Apache::start_with(Mpm::Prefork, PROBE);
    assert_eq!(apache.get("/probe?signal").text(), r#"{"changed": false}"#);
    let log = apache.wait_for_log("Callback registration for signal 15 ignored");
    assert!(
        log.contains("Callback registration for signal 15 ignored (WSGIRestrictSignal On)"),
        "{log}"
    );
}

#[test]
fn restrict_signal_off_lets_an_app_install_a_handler() {
    let apache = Apache::start_with(Mpm::Prefork, &format!("WSGIRestrictSignal Off\n{PROBE}"));
    assert_eq!(apache.get("/probe?signal").text(), r#"{"changed": true}"#);
}

#[test]
fn restrict_embedded_never_starts_python_and_answers_500() {
    let apache = Apache::start(&format!("WSGIRestrictEmbedded On\n{PROBE}"));
    assert_eq!(apache.get("/probe?sys").status, 500);
    let log = apache.wait_for_log("WSGIRestrictEmbedded is On");
    assert!(
        log.contains("Python does not run in Apache's processes"),
        "{log}"
    );
    assert!(!log.contains("initialised in child"), "{log}");
}
