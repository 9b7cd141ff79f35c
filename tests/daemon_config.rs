//! Daemon mode's directives as real configurations use them: where
//! WSGIProcessGroup and process-group= may route a request, what
//! WSGIDaemonProcess accepts and refuses (with a sentence naming it), which
//! virtual hosts may use a group, WSGIRestrictProcess, WSGIRestrictEmbedded
//! and WSGISocketPrefix.

mod common;

use common::processes::fields;
use common::{Apache, SharedDir};

fn group_of(apache: &Apache, path: &str) -> String {
    let response = apache.get(path);
    assert_eq!(response.status, 200, "{path}: {}", apache.error_log());
    fields(&response.text())["process_group"].clone()
}

/// OpenStack keystone's shape: a group per vhost, WSGIProcessGroup at the
/// vhost, the main interpreter forced.
#[test]
fn a_keystone_shaped_virtual_host_is_served_by_its_group() {
    let apache = Apache::start(
        "<VirtualHost *:@PORT@>
    WSGIDaemonProcess keystone-public processes=2 threads=1 user=nobody group=nogroup display-name=%{GROUP}
    WSGIProcessGroup keystone-public
    WSGIScriptAlias / @APPS@/process_probe.wsgi
    WSGIApplicationGroup %{GLOBAL}
    WSGIPassAuthorization On
</VirtualHost>
",
    );
    let response = apache.get("/");
    let probe = fields(&response.text());
    assert_eq!(
        probe.get("process_group").map(String::as_str),
        Some("keystone-public"),
        "{response:?}\n{}",
        apache.error_log()
    );
    assert_eq!(probe["uid"], "65534");
    assert_eq!(probe["application_group"], "");
}

/// Flask's documentation: WSGIProcessGroup inside the script's <Directory>.
#[test]
fn wsgi_process_group_in_a_directory_routes_its_scripts() {
    let apache = Apache::start(
        "WSGIDaemonProcess yourapplication threads=5
WSGIScriptAlias / @APPS@/process_probe.wsgi
<Directory @APPS@>
    WSGIProcessGroup yourapplication
    WSGIApplicationGroup %{GLOBAL}
    Require all granted
</Directory>
",
    );
    assert_eq!(group_of(&apache, "/"), "yourapplication");
}

#[test]
fn wsgi_process_group_in_a_location_routes_only_that_location() {
    let apache = Apache::start(
        "WSGIDaemonProcess api threads=2
WSGIScriptAlias /site @APPS@/process_probe.wsgi
<Location /site/api>
    WSGIProcessGroup api
</Location>
",
    );
    assert_eq!(group_of(&apache, "/site/api/users"), "api");
    assert_eq!(group_of(&apache, "/site/pages"), "");
}

#[test]
fn a_script_directory_with_set_handler_is_served_by_its_group() {
    let apache = Apache::start(
        "LoadModule alias_module @MODULES@/mod_alias.so
WSGIDaemonProcess scripts threads=2
Alias /scripts @APPS@
<Directory @APPS@>
    Options +ExecCGI
    SetHandler wsgi-script
    WSGIProcessGroup scripts
</Directory>
",
    );
    assert_eq!(group_of(&apache, "/scripts/process_probe.wsgi"), "scripts");
}

/// Starts Apache with a two-process group `site` and `line`, and checks
/// that preload_marker.wsgi ran in each of the group's processes before
/// any request to it, and nowhere else (not in Apache's own children,
/// which have started once they answer /hello).
fn assert_marker_loaded_in_each_daemon_only(line: &str) {
    let apache = Apache::start(&format!(
        "WSGIDaemonProcess site processes=2 threads=1\n{line}\nWSGIScriptAlias /hello @APPS@/hello.wsgi\n"
    ));
    let daemons = apache.wait_for_daemons(2);
    for daemon in &daemons {
        assert!(
            apache.wait_for_marker(&format!("imported-{}", daemon.pid)),
            "{daemons:?}"
        );
    }
    assert_eq!(apache.get("/hello").status, 200);
    assert_eq!(apache.wait_for_markers("imported-").len(), 2);
}

#[test]
fn wsgi_import_script_runs_in_each_process_of_its_group_before_any_request() {
    assert_marker_loaded_in_each_daemon_only(
        "WSGIImportScript @APPS@/preload_marker.wsgi process-group=site application-group=%{GLOBAL}",
    );
}

#[test]
fn an_alias_naming_both_groups_loads_its_script_in_each_process_of_its_group() {
    assert_marker_loaded_in_each_daemon_only(
        "WSGIScriptAlias / @APPS@/preload_marker.wsgi process-group=site application-group=%{GLOBAL}",
    );
}

/// As mod_wsgi: the failure is logged, and the group serves on, the
/// script's own requests loading it again.
#[test]
fn an_alias_script_that_fails_to_load_at_start_leaves_its_daemon_group_serving() {
    let apache = Apache::start(
        "WSGIDaemonProcess site threads=2
WSGIScriptAlias /broken @APPS@/raises_on_import.wsgi process-group=site application-group=%{GLOBAL}
WSGIScriptAlias /hello @APPS@/hello.wsgi process-group=site application-group=%{GLOBAL}
",
    );
    let log = apache.wait_for_log("RW0724");
    assert!(
        log.contains("raises_on_import.wsgi' (WSGIScriptAlias); its requests will load it again"),
        "{log}"
    );
    assert_eq!(apache.get("/hello").status, 200, "{}", apache.error_log());
    assert_eq!(apache.get("/broken").status, 500);
    assert!(!apache.error_log().contains("could not start"));
}

#[test]
fn an_alias_that_loads_its_script_before_its_daemon_group_is_defined_is_a_config_error() {
    Apache::assert_config_refused(
        "WSGIScriptAlias / /srv/site.wsgi process-group=later application-group=%{GLOBAL}\nWSGIDaemonProcess later\n",
        "WSGIScriptAlias: no daemon process group 'later' is defined before this line",
    );
}

#[test]
fn an_import_script_before_its_daemon_group_is_defined_is_a_config_error() {
    Apache::assert_config_refused(
        "WSGIImportScript /srv/warm.py process-group=later application-group=%{GLOBAL}\nWSGIDaemonProcess later\n",
        "WSGIImportScript: no daemon process group 'later' is defined before this line",
    );
}

#[test]
fn a_handler_script_with_a_process_group_runs_in_that_group() {
    let apache = Apache::start(
        "WSGIDaemonProcess handlers threads=1
WSGIHandlerScript probe-handler @APPS@/process_probe.wsgi process-group=handlers callable-object=application
<Location /virtual>
    SetHandler probe-handler
</Location>
",
    );
    assert_eq!(group_of(&apache, "/virtual/x"), "handlers");
}

#[test]
fn authentication_scripts_run_beside_a_daemon_group() {
    let apache = Apache::start(
        "LoadModule auth_basic_module @MODULES@/mod_auth_basic.so
LoadModule authn_core_module @MODULES@/mod_authn_core.so
LoadModule authz_user_module @MODULES@/mod_authz_user.so
WSGIDaemonProcess site threads=2
WSGIScriptAlias /app @APPS@/process_probe.wsgi process-group=site
<Location /app>
    AuthType Basic
    AuthName private
    AuthBasicProvider wsgi
    WSGIAuthUserScript @APPS@/auth.wsgi
    Require valid-user
</Location>
",
    );
    assert_eq!(apache.get("/app").status, 401);
    let authorized = apache.raw(
        b"GET /app HTTP/1.1\r\nHost: a\r\nAuthorization: Basic YWxpY2U6czNjcmV0\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(authorized.status, 200);
    assert_eq!(fields(&authorized.text())["process_group"], "site");
}

#[test]
fn an_unknown_option_or_a_bad_value_is_a_configuration_error_naming_it() {
    for (line, message) in [
        (
            "WSGIDaemonProcess site thread=5",
            "WSGIDaemonProcess site: thread=5: unknown option 'thread'",
        ),
        (
            "WSGIDaemonProcess site threads=five",
            "WSGIDaemonProcess site: threads=five: not a whole number from 1 to 65533",
        ),
        (
            "WSGIDaemonProcess site user=no-such-user",
            "user=no-such-user: no user is called 'no-such-user'",
        ),
        (
            "WSGIDaemonProcess site user=root",
            "daemon processes never run as root",
        ),
        (
            "WSGIDaemonProcess site chroot=/srv",
            "chroot is not supported",
        ),
        (
            "WSGIDaemonProcess site threads",
            "'threads' is not an option=value pair",
        ),
        (
            "WSGIDaemonProcess",
            "the name of the daemon process group is missing",
        ),
        (
            "WSGIDaemonProcess a\nWSGIDaemonProcess a",
            "a group of that name is already defined",
        ),
        (
            "WSGIScriptAlias /x /srv/x.wsgi process-group=",
            "the process group's name is empty",
        ),
    ] {
        Apache::assert_config_refused(&format!("{line}\n"), message);
    }
}

#[test]
fn every_option_of_mod_wsgi_6_is_known() {
    let (ok, output) = Apache::check_config(
        "WSGIDaemonProcess all processes=2 threads=3 user=nobody group=nogroup supplementary-groups=nogroup umask=0022 \
         home=/tmp lang=C.UTF-8 locale=C.UTF-8 python-path=/tmp python-eggs=/tmp display-name=%{GROUP} \
         maximum-requests=100 restart-interval=3600 inactivity-timeout=300 request-timeout=60 interrupt-timeout=5 \
         deadlock-timeout=60 startup-timeout=15 graceful-timeout=15 eviction-timeout=5 shutdown-timeout=5 \
         connect-timeout=15 socket-timeout=60 queue-timeout=45 listen-backlog=100 response-socket-timeout=60 \
         response-buffer-size=65536 response-flush-delay=5 header-buffer-size=32768 send-buffer-size=65536 \
         receive-buffer-size=65536 stack-size=1048576 switch-interval=0.005 cpu-time-limit=3600 cpu-priority=5 \
         memory-limit=1000000000 virtual-memory-limit=4000000000 socket-user=www-data script-user=root \
         server-metrics=Off\n",
    );
    assert!(ok, "{output}");
}

#[test]
fn a_group_nobody_defined_is_a_500_naming_it() {
    let apache = Apache::start("WSGIScriptAlias /x @APPS@/hello.wsgi process-group=missing\n");
    assert_eq!(apache.get("/x").status, 500);
    let log = apache.wait_for_log("No WSGI daemon process called 'missing'");
    assert!(log.contains("has been configured"), "{log}");
}

#[test]
fn a_group_defined_in_a_virtual_host_serves_only_virtual_hosts_of_its_name() {
    let apache = Apache::start(
        "<VirtualHost *:@PORT@>
    ServerName one.test
    WSGIDaemonProcess one threads=1
    WSGIScriptAlias / @APPS@/process_probe.wsgi process-group=one
</VirtualHost>
<VirtualHost *:@PORT@>
    ServerName two.test
    WSGIScriptAlias / @APPS@/process_probe.wsgi process-group=one
</VirtualHost>
WSGIDaemonProcess shared threads=1
<VirtualHost *:@PORT@>
    ServerName three.test
    WSGIScriptAlias / @APPS@/process_probe.wsgi process-group=shared
</VirtualHost>
",
    );
    let get = |host: &str| {
        apache
            .raw(format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes())
    };
    assert_eq!(fields(&get("one.test").text())["process_group"], "one");
    assert_eq!(get("two.test").status, 500);
    let log = apache.wait_for_log("cannot be accessed by this WSGI application");
    assert!(
        log.contains("Daemon process called 'one' cannot be accessed"),
        "{log}"
    );
    // A group defined outside any virtual host serves them all.
    assert_eq!(fields(&get("three.test").text())["process_group"], "shared");
}

#[test]
fn wsgi_restrict_process_refuses_other_groups_and_embedded_mode() {
    let apache = Apache::start(
        "WSGIDaemonProcess allowed threads=1
WSGIDaemonProcess other threads=1
WSGIRestrictProcess allowed
WSGIScriptAlias /allowed @APPS@/process_probe.wsgi process-group=allowed
WSGIScriptAlias /other @APPS@/process_probe.wsgi process-group=other
WSGIScriptAlias /embedded @APPS@/process_probe.wsgi
",
    );
    assert_eq!(group_of(&apache, "/allowed"), "allowed");
    assert_eq!(apache.get("/other").status, 500);
    // As in mod_wsgi, embedded mode is a group too (%{GLOBAL}).
    assert_eq!(apache.get("/embedded").status, 500);
    let log = apache.wait_for_log("WSGIRestrictProcess allows only");
    assert!(
        log.contains("may not run in process group 'other'"),
        "{log}"
    );
}

#[test]
fn wsgi_restrict_embedded_leaves_daemon_groups_serving() {
    let apache = Apache::start(
        "WSGIRestrictEmbedded On
WSGIDaemonProcess site threads=1
WSGIScriptAlias /daemon @APPS@/process_probe.wsgi process-group=site
WSGIScriptAlias /embedded @APPS@/process_probe.wsgi
",
    );
    assert_eq!(group_of(&apache, "/daemon"), "site");
    assert_eq!(apache.get("/embedded").status, 500);
}

#[test]
fn wsgi_socket_prefix_places_the_sockets_and_rotation_off_keeps_their_names() {
    let apache = Apache::start(
        "WSGISocketPrefix run/sockets
WSGISocketRotation Off
WSGIDaemonProcess site threads=1
WSGIScriptAlias /p @APPS@/process_probe.wsgi process-group=site
",
    );
    assert_eq!(group_of(&apache, "/p"), "site");
    // Beside the group's, the manager of application groups has one
    // (".m.sock"), named anew each generation.
    let sockets: Vec<String> = std::fs::read_dir(apache.root().join("run"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| !name.ends_with(".m.sock"))
        .collect();
    assert_eq!(
        sockets,
        [format!("sockets.{}.u33.1.sock", apache.parent_pid())],
        "{sockets:?}"
    );
}

#[test]
fn a_socket_directory_apaches_user_cannot_reach_stops_apache_with_a_sentence() {
    let shared = SharedDir::new("private-sockets");
    let private = shared.0.join("private");
    std::fs::create_dir(&private).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
    let site = format!(
        "WSGISocketPrefix {}/wsgi\nWSGIDaemonProcess site threads=1\n",
        private.display()
    );
    // Apache listens before it runs post_config, so the harness may see it
    // up for a moment before it gives up: then its log tells.
    let message = match std::panic::catch_unwind(|| Apache::start(&site)) {
        Err(failure) => failure
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default(),
        Ok(apache) => apache.wait_for_log("cannot reach daemon sockets"),
    };
    assert!(
        message.contains("Apache's user (uid 33) cannot reach daemon sockets under")
            && message.contains("set WSGISocketPrefix to a directory it can reach"),
        "{message}"
    );
}
