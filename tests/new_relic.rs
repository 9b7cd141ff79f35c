//! mod_wsgi 4.9's New Relic support: WSGINewRelicConfigFile and
//! WSGINewRelicEnvironment in Apache's children, newrelic-config-file= and
//! newrelic-environment= in a daemon group, with the real agent installed
//! from PyPI (its monitor_mode off, so it sends nothing anywhere).

mod common;

use common::{Apache, SharedDir};

/// A virtualenv with the agent, and an agent configuration whose default
/// section and `staging` section name different apps.
fn agent_site() -> (SharedDir, String) {
    let dir = SharedDir::new("newrelic");
    let venv = dir.virtualenv_with("env", &["newrelic"]);
    let ini = dir.write(
        "newrelic.ini",
        "[newrelic]\napp_name = rwsgi-default\nmonitor_mode = false\n\n[newrelic:staging]\napp_name = rwsgi-staging\n",
    );
    dir.share();
    let site = format!(
        "WSGIPythonHome {}\nWSGINewRelicConfigFile {}\n",
        venv.display(),
        ini.display()
    );
    (dir, site)
}

#[test]
fn the_config_file_directive_initialises_the_agent_in_apaches_children() {
    let (_dir, site) = agent_site();
    let apache = Apache::start(&format!(
        "{site}WSGIScriptAlias /probe @APPS@/new_relic_probe.wsgi\n"
    ));
    let answer = apache.get("/probe");
    assert_eq!(
        answer.text(),
        r#"{"agent": "rwsgi-default", "wrapped": true}"#,
        "{}",
        apache.error_log()
    );
    assert!(
        apache
            .error_log()
            .contains("initialised the New Relic agent with")
    );
}

#[test]
fn the_environment_directive_picks_the_section_of_the_config_file() {
    let (_dir, site) = agent_site();
    let apache = Apache::start(&format!(
        "{site}WSGINewRelicEnvironment staging\nWSGIScriptAlias /probe @APPS@/new_relic_probe.wsgi\n"
    ));
    assert_eq!(
        apache.get("/probe").text(),
        r#"{"agent": "rwsgi-staging", "wrapped": true}"#
    );
}

/// As mod_wsgi 4.9: a daemon process starts the agent with its group's
/// options only; the directives are for Apache's own processes.
#[test]
fn a_daemon_group_initialises_the_agent_with_its_own_options_only() {
    let (dir, site) = agent_site();
    let ini = dir.0.join("newrelic.ini");
    let apache = Apache::start(&format!(
        "{site}WSGIDaemonProcess monitored threads=2 newrelic-config-file={} newrelic-environment=staging
WSGIDaemonProcess plain threads=2
WSGIScriptAlias /monitored @APPS@/new_relic_probe.wsgi process-group=monitored
WSGIScriptAlias /plain @APPS@/new_relic_probe.wsgi process-group=plain
",
        ini.display()
    ));
    assert_eq!(
        apache.get("/monitored").text(),
        r#"{"agent": "rwsgi-staging", "wrapped": true}"#,
        "{}",
        apache.error_log()
    );
    // The agent's own default name: initialize() was never called there,
    // and nothing wraps the app.
    assert_eq!(
        apache.get("/plain").text(),
        r#"{"agent": "Python Application", "wrapped": false}"#
    );
}

#[test]
fn an_agent_that_cannot_start_is_logged_and_the_child_serves_on() {
    // No virtualenv: this Python has no newrelic package.
    let apache = Apache::start(
        "WSGINewRelicConfigFile /nonexistent/newrelic.ini\nWSGIScriptAlias /probe @APPS@/new_relic_probe.wsgi\n",
    );
    assert_eq!(apache.get("/probe").text(), r#"{"agent": null}"#);
    let log = apache.wait_for_log("RW0304");
    assert!(
        log.contains("the New Relic agent could not be initialised with /nonexistent/newrelic.ini, so this process serves without it: ModuleNotFoundError: No module named 'newrelic'"),
        "{log}"
    );
}
