//! The names a configuration written for mod_wsgi knows the module by:
//! `LoadModule wsgi_module .../mod_rwsgi.so` loads it, and `<IfModule>`
//! finds it by mod_wsgi's names and its own whichever name loaded it, so
//! a section guarded for mod_wsgi is read, and a fallback that loads
//! mod_wsgi when it is missing is skipped. Twice loaded, or loaded beside
//! mod_wsgi itself, it refuses the configuration.

mod common;

use common::{Apache, Gateway, Mpm, module_path};

/// A location per `<IfModule>` test: `/yes-N` inside the sections that
/// must be read, `/no-N` inside those that must be skipped, and the
/// fallback packages ship, which would fail to load a missing mod_wsgi.
fn guarded_sections() -> String {
    let mut site = String::new();
    for (n, name) in ["wsgi_module", "mod_wsgi.c", "rwsgi_module", "mod_rwsgi.c"]
        .iter()
        .enumerate()
    {
        site += &format!(
            "<IfModule {name}>\nWSGIScriptAlias /yes-{n} @APPS@/hello.wsgi\n</IfModule>\n\
             <IfModule !{name}>\nWSGIScriptAlias /no-{n} @APPS@/hello.wsgi\n</IfModule>\n"
        );
    }
    site + "<IfModule !wsgi_module>\nLoadModule wsgi_module /nonexistent/mod_wsgi.so\n</IfModule>\n"
}

fn assert_sections_read_as_for_mod_wsgi(apache: &Apache) {
    for n in 0..4 {
        assert_eq!(
            apache.get(&format!("/yes-{n}")).status,
            200,
            "/yes-{n}\n{}",
            apache.error_log()
        );
        assert_eq!(apache.get(&format!("/no-{n}")).status, 404, "/no-{n}");
    }
}

#[test]
fn loaded_as_wsgi_module_it_serves_and_if_module_finds_it_by_every_name() {
    let site = format!(
        "LoadModule wsgi_module {}\n{}",
        module_path().display(),
        guarded_sections()
    );
    let apache = Apache::start_full(Mpm::Event, Gateway::None, &site);
    assert_sections_read_as_for_mod_wsgi(&apache);
    assert_eq!(apache.get("/yes-0").text(), "Hello, World!\n");
}

#[test]
fn loaded_as_rwsgi_module_if_module_finds_it_by_mod_wsgis_names_too() {
    let apache = Apache::start(&guarded_sections());
    assert_sections_read_as_for_mod_wsgi(&apache);
}

#[test]
fn the_names_hold_across_a_graceful_restart() {
    let apache = Apache::start(&guarded_sections());
    assert_eq!(apache.get("/yes-1").status, 200);
    // SAFETY: signalling the test's own Apache: a graceful restart.
    unsafe { libc::kill(apache.parent_pid() as i32, libc::SIGUSR1) };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while apache
        .error_log()
        .matches("resuming normal operations")
        .count()
        < 2
    {
        assert!(
            std::time::Instant::now() < deadline,
            "{}",
            apache.error_log()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_sections_read_as_for_mod_wsgi(&apache);
    let log = apache.error_log();
    assert!(!log.contains("Cannot remove module"), "{log}");
}

#[test]
fn loading_both_names_is_a_configuration_error_that_says_so() {
    let site = format!("LoadModule wsgi_module {}\n", module_path().display());
    let (accepted, output) = Apache::check_config(&site);
    assert!(!accepted, "{output}");
    assert!(
        output.contains("mod_rwsgi is loaded twice, as rwsgi_module and as wsgi_module"),
        "{output}"
    );
}

/// mod_wsgi loaded first (Debian's `wsgi.load` left enabled, included
/// before a load file that sorts after it).
#[test]
fn mod_wsgi_loaded_before_mod_rwsgi_is_a_configuration_error_that_says_so() {
    let site = format!(
        "LoadModule rwsgi_module {}\nWSGIScriptAlias / @APPS@/hello.wsgi\n",
        module_path().display()
    );
    let (accepted, output) = Apache::check_config_with(Gateway::ModWsgi, &site);
    assert!(!accepted, "{output}");
    assert!(
        output.contains("mod_wsgi is loaded beside mod_rwsgi, which takes its place"),
        "{output}"
    );
}

/// mod_wsgi loaded after mod_rwsgi (Debian's `wsgi.load` left enabled
/// beside `rwsgi.load`, which sorts first), with its directives: its code
/// finds mod_rwsgi's `wsgi_module` symbol where it means its own, which
/// crashed Apache while it read them; now refused with the sentence.
#[test]
fn mod_wsgi_loaded_after_mod_rwsgi_is_a_configuration_error_that_says_so() {
    for directives in [
        "",
        "WSGIScriptAlias / @APPS@/hello.wsgi
WSGIDaemonProcess site threads=2
",
    ] {
        let site = format!(
            "LoadModule wsgi_module {}
{directives}",
            common::apache_modules_dir().join("mod_wsgi.so").display()
        );
        let (accepted, output) = Apache::check_config_with(Gateway::Rwsgi, &site);
        assert!(!accepted, "{output}");
        assert!(!output.contains("Segmentation fault"), "{output}");
        assert!(
            output.contains("mod_wsgi is loaded beside mod_rwsgi, which takes its place"),
            "{output}"
        );
    }
}

/// mod_rwsgi's info line as each child starts Python.
const INFO_LINE: &str = "mod_rwsgi: Python ";

fn info_logged(log_level: &str, gateway: Gateway) -> bool {
    let apache = Apache::start_gateway(
        gateway,
        &format!("{log_level}\nWSGIScriptAlias / @APPS@/hello.wsgi\n"),
    );
    assert_eq!(apache.get("/").status, 200);
    apache.error_log().contains(INFO_LINE)
}

#[test]
fn log_level_takes_mod_wsgis_name_as_well_as_its_own() {
    for gateway in [Gateway::Rwsgi, Gateway::RwsgiAsWsgiModule] {
        assert!(!info_logged("LogLevel warn", gateway), "{gateway:?}");
        for name in ["wsgi", "rwsgi", "wsgi_module", "rwsgi_module", "mod_wsgi.c"] {
            assert!(
                info_logged(&format!("LogLevel warn {name}:info"), gateway),
                "{gateway:?} {name}"
            );
        }
    }
}

#[test]
fn log_level_for_its_own_name_wins_over_mod_wsgis() {
    assert!(!info_logged(
        "LogLevel warn wsgi:info rwsgi:warn",
        Gateway::Rwsgi
    ));
    assert!(info_logged(
        "LogLevel warn wsgi:warn rwsgi:info",
        Gateway::Rwsgi
    ));
}

/// Whether what prints.wsgi printed in a virtual host with `log_level`
/// reached the error log.
fn printed_in_virtual_host(log_level: &str) -> bool {
    let apache = Apache::start(&format!(
        "<VirtualHost 127.0.0.1:@PORT@>\nServerName 127.0.0.1\n{log_level}\n\
         WSGIScriptAlias / @APPS@/prints.wsgi\n</VirtualHost>\n"
    ));
    assert_eq!(apache.get("/").status, 200);
    std::thread::sleep(std::time::Duration::from_millis(300));
    apache.error_log().contains("printed to stdout by the app")
}

#[test]
fn log_level_with_mod_wsgis_name_holds_in_a_virtual_host() {
    // A virtual host's LogLevel naming modules only leaves the others
    // unset (APLOG_UNSET), not "no module level" (APLOG_NO_MODULE).
    assert!(printed_in_virtual_host(""));
    assert!(!printed_in_virtual_host("LogLevel wsgi:crit"));
    assert!(!printed_in_virtual_host("LogLevel warn wsgi:crit"));
}
