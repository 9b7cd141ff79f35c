//! Each directive line as Apache hands it over (its words), and what it
//! configures or the message Apache prints under "Syntax error on line N".
//! The option parsers of WSGIScriptAlias(Match) and WSGIDaemonProcess have
//! tests of their own, in script_alias.rs and daemon.rs.

use std::sync::{Mutex, MutexGuard};

use super::*;

fn directive(name: &str) -> &'static Directive {
    DIRECTIVES
        .iter()
        .find(|d| d.name.to_str() == Ok(name))
        .unwrap_or_else(|| panic!("{name} is not in DIRECTIVES"))
}

/// One server's configuration and one section's, as Apache keeps them.
#[derive(Default)]
struct Config {
    server: ServerConfig,
    dir: DirConfig,
}

impl Config {
    fn apply(&mut self, name: &str, args: &[&str]) -> Result<(), String> {
        let mut configuring = Configuring {
            server: &mut self.server,
            dir: &mut self.dir,
            compile_pattern: crate::config::script_alias::keep_pattern_text,
        };
        let directive = directive(name);
        if directive.raw() {
            // As Apache hands such a line over: whole. The words the tests
            // give hold no spaces of their own (raw_line for those that do).
            let line = args.join(" ");
            return directive.apply(&mut configuring, &[&line]);
        }
        directive.apply(&mut configuring, args)
    }

    /// A line handed over whole, quotes and all, as Apache hands it.
    fn raw_line(mut self, name: &str, line: &str) -> Self {
        let mut configuring = Configuring {
            server: &mut self.server,
            dir: &mut self.dir,
            compile_pattern: crate::config::script_alias::keep_pattern_text,
        };
        if let Err(message) = directive(name).apply(&mut configuring, &[line]) {
            panic!("{name} {line}: {message}");
        }
        self
    }

    fn line(mut self, name: &str, args: &[&str]) -> Self {
        if let Err(message) = self.apply(name, args) {
            panic!("{name} {args:?}: {message}");
        }
        self
    }
}

/// A fresh configuration after one line.
fn configured(name: &str, args: &[&str]) -> Config {
    Config::default().line(name, args)
}

/// The message of a line refused in a fresh configuration.
fn refused(name: &str, args: &[&str]) -> String {
    match Config::default().apply(name, args) {
        Ok(()) => panic!("{name} {args:?} was accepted"),
        Err(message) => message,
    }
}

// The table itself.

#[test]
fn directive_names_are_unique() {
    for (at, directive) in DIRECTIVES.iter().enumerate() {
        assert!(
            DIRECTIVES[at + 1..]
                .iter()
                .all(|d| d.name != directive.name),
            "{:?} is listed twice",
            directive.name
        );
    }
}

#[test]
fn directives_with_options_are_given_their_line_unsplit() {
    // mod_wsgi reads these lines itself, so that an option's value may be
    // quoted (display-name='my site', process-group='site').
    let raw: Vec<&CStr> = DIRECTIVES
        .iter()
        .filter(|d| d.raw())
        .map(|d| d.name)
        .collect();
    assert_eq!(
        raw,
        [
            c"WSGIScriptAlias",
            c"WSGIScriptAliasMatch",
            c"WSGIHandlerScript",
            c"WSGIImportScript",
            c"WSGIDaemonProcess",
            c"WSGIAccessScript",
            c"WSGIAuthUserScript",
            c"WSGIAuthGroupScript",
        ]
    );
}

#[test]
fn an_option_value_in_quotes_is_read_as_mod_wsgi_reads_it() {
    let _turn = defining_daemon_groups();
    let config = configured("WSGIDaemonProcess", &["qv-site"]).raw_line(
        "WSGIScriptAlias",
        "/app /srv/app.wsgi process-group='qv-site' application-group='my group'",
    );
    let alias = &config.server.script_aliases[0];
    assert_eq!(alias.process_group.as_deref(), Some("qv-site"));
    assert_eq!(alias.application_group.as_deref(), Some("my group"));
}

#[test]
fn a_daemon_process_display_name_in_quotes_may_hold_spaces() {
    let _turn = defining_daemon_groups();
    let config = Config::default().raw_line(
        "WSGIDaemonProcess",
        "dp-quoted display-name='my site' threads=2",
    );
    let group = &config.server.daemon_groups[0];
    assert_eq!(group.display_name.as_deref(), Some("my site"));
}

#[test]
fn process_wide_settings_are_allowed_only_outside_virtual_hosts() {
    // ServerConfig::merge keeps the main server's ProcessSettings: in a
    // <VirtualHost> these lines would do nothing, so Apache refuses them.
    for name in [
        "WSGISocketPrefix",
        "WSGISocketRotation",
        "WSGIPythonHome",
        "WSGIPythonPath",
        "WSGIPythonOptimize",
        "WSGIPythonHashSeed",
        "WSGIPythonWarnings",
        "WSGIDontWriteBytecode",
        "WSGIPythonEggs",
        "WSGINewRelicConfigFile",
        "WSGINewRelicEnvironment",
        "WSGILazyInitialization",
        "WSGIRestrictEmbedded",
        "WSGIRestrictStdin",
        "WSGIRestrictStdout",
        "WSGIRestrictSignal",
    ] {
        assert_eq!(directive(name).allowed, Allowed::GlobalServer, "{name}");
    }
}

#[test]
fn single_value_directives_take_exactly_one_argument() {
    for name in [
        "WSGICallableObject",
        "WSGIPassAuthorization",
        "WSGIScriptReloading",
        "WSGIChunkedRequest",
        "WSGIMapHEADToGET",
        "WSGIEnableSendfile",
        "WSGIErrorOverride",
        "WSGIIgnoreActivity",
        "WSGIApplicationGroup",
        "WSGIProcessGroup",
        "WSGISocketPrefix",
        "WSGISocketRotation",
        "WSGIAcceptMutex",
        "WSGIPythonHome",
        "WSGIPythonPath",
        "WSGIPythonOptimize",
        "WSGIPythonHashSeed",
        "WSGIPythonWarnings",
        "WSGIDontWriteBytecode",
        "WSGIPythonEggs",
        "WSGINewRelicConfigFile",
        "WSGINewRelicEnvironment",
        "WSGILazyInitialization",
        "WSGIRestrictEmbedded",
        "WSGIRestrictStdin",
        "WSGIRestrictStdout",
        "WSGIRestrictSignal",
        "WSGIDestroyInterpreter",
        "WSGICaseSensitivity",
        "WSGIVerboseDebugging",
        "WSGIGroupAuthoritative",
    ] {
        assert_eq!(
            refused(name, &[]),
            format!("{name} takes one argument, not 0")
        );
        assert_eq!(
            refused(name, &["a", "b"]),
            format!("{name} takes one argument, not 2")
        );
    }
}

#[test]
fn unsupported_directives_are_refused_with_a_pointer_to_the_docs() {
    for name in [
        "WSGIDispatchScript",
        "WSGIPassApacheRequest",
        "WSGIServerMetrics",
    ] {
        assert_eq!(
            refused(name, &["On"]),
            format!(
                "{name} is a mod_wsgi directive that mod_rwsgi does not support yet; see docs/directives.md"
            )
        );
    }
}

// Mapping URLs to scripts.

#[test]
fn script_alias_lines_add_aliases_in_the_order_written() {
    let config = configured("WSGIScriptAlias", &["/app", "/srv/app.wsgi"]).line(
        "WSGIScriptAlias",
        &["/", "/srv/root.wsgi", "process-group=site"],
    );
    let aliases = &config.server.script_aliases;
    assert_eq!(aliases.len(), 2);
    assert_eq!(
        (aliases[0].url_path.as_str(), aliases[0].script.as_path()),
        ("/app", Path::new("/srv/app.wsgi"))
    );
    assert_eq!(aliases[1].url_path, "/");
    assert_eq!(aliases[1].process_group.as_deref(), Some("site"));
}

#[test]
fn a_refused_script_alias_adds_no_alias() {
    let mut config = Config::default();
    assert!(
        config
            .apply("WSGIScriptAlias", &["app", "/srv/app.wsgi"])
            .is_err()
    );
    assert!(config.server.script_aliases.is_empty());
}

#[test]
fn a_script_alias_match_line_adds_a_pattern_alias() {
    let config = configured("WSGIScriptAliasMatch", &["^/(\\w+)", "/srv/$1.wsgi"]);
    let aliases = &config.server.script_aliases;
    assert_eq!(aliases.len(), 1);
    assert!(aliases[0].pattern.is_some());
    assert_eq!(aliases[0].script, PathBuf::from("/srv/$1.wsgi"));
}

#[test]
fn callable_object_names_the_scripts_callable() {
    let config = configured("WSGICallableObject", &["app"]);
    assert_eq!(config.dir.callable_object.as_deref(), Some("app"));
}

#[test]
fn callable_object_must_be_a_python_identifier() {
    assert_eq!(
        refused("WSGICallableObject", &["my-app"]),
        "WSGICallableObject: 'my-app' is not a Python identifier"
    );
}

#[test]
fn a_handler_script_serves_its_handler_with_handle_request_by_default() {
    let config = configured("WSGIHandlerScript", &["my-handler", "/srv/handler.wsgi"]);
    assert_eq!(
        config.dir.handler_scripts,
        [HandlerScript {
            handler: "my-handler".into(),
            script: "/srv/handler.wsgi".into(),
            callable: "handle_request".into(),
            application_group: None,
            process_group: None,
            pass_authorization: None,
        }]
    );
}

#[test]
fn handler_script_options_set_callable_groups_and_authorization() {
    let config = configured(
        "WSGIHandlerScript",
        &[
            "my-handler",
            "/srv/handler.wsgi",
            "callable-object=serve",
            "application-group=%{GLOBAL}",
            "process-group=site",
            "pass-authorization=On",
        ],
    );
    let handler = &config.dir.handler_scripts[0];
    assert_eq!(handler.callable, "serve");
    assert_eq!(handler.application_group.as_deref(), Some("%{GLOBAL}"));
    assert_eq!(handler.process_group.as_deref(), Some("site"));
    assert_eq!(handler.pass_authorization, Some(true));
}

#[test]
fn a_handler_script_pass_authorization_must_be_on_or_off() {
    assert_eq!(
        refused(
            "WSGIHandlerScript",
            &["h", "/srv/h.wsgi", "pass-authorization=yes"]
        ),
        "WSGIHandlerScript pass-authorization: 'yes' is not accepted; use On or Off"
    );
}

#[test]
fn a_later_handler_script_for_the_same_handler_replaces_the_earlier() {
    let config = configured("WSGIHandlerScript", &["a", "/srv/a1.wsgi"])
        .line("WSGIHandlerScript", &["b", "/srv/b.wsgi"])
        .line("WSGIHandlerScript", &["a", "/srv/a2.wsgi"]);
    let scripts: Vec<(&str, &Path)> = config
        .dir
        .handler_scripts
        .iter()
        .map(|h| (h.handler.as_str(), h.script.as_path()))
        .collect();
    assert_eq!(
        scripts,
        [
            ("b", Path::new("/srv/b.wsgi")),
            ("a", Path::new("/srv/a2.wsgi"))
        ]
    );
}

#[test]
fn a_handler_script_needs_a_handler_name_and_a_script_path() {
    assert_eq!(
        refused("WSGIHandlerScript", &["my-handler"]),
        "WSGIHandlerScript takes a handler name and a script path: WSGIHandlerScript my-handler /srv/handler.wsgi"
    );
}

#[test]
fn a_handler_script_path_must_be_absolute() {
    assert_eq!(
        refused("WSGIHandlerScript", &["my-handler", "handler.wsgi"]),
        "WSGIHandlerScript: 'handler.wsgi' must be an absolute path"
    );
}

#[test]
fn a_handler_script_callable_object_must_be_a_python_identifier() {
    assert_eq!(
        refused(
            "WSGIHandlerScript",
            &["h", "/srv/h.wsgi", "callable-object=a.b"]
        ),
        "WSGIHandlerScript: 'a.b' is not a Python identifier"
    );
}

#[test]
fn a_handler_script_process_group_must_not_be_empty() {
    assert_eq!(
        refused("WSGIHandlerScript", &["h", "/srv/h.wsgi", "process-group="]),
        "WSGIHandlerScript: the process group's name is empty"
    );
}

#[test]
fn a_handler_script_application_group_must_not_be_empty() {
    assert_eq!(
        refused(
            "WSGIHandlerScript",
            &["h", "/srv/h.wsgi", "application-group="]
        ),
        "WSGIHandlerScript: the application group's name is empty; %{GLOBAL} names the main interpreter"
    );
}

#[test]
fn a_handler_script_refuses_unknown_options() {
    assert_eq!(
        refused("WSGIHandlerScript", &["h", "/srv/h.wsgi", "threads=5"]),
        "WSGIHandlerScript: unknown option 'threads=5'; accepted: application-group, callable-object, pass-authorization, process-group"
    );
}

#[test]
fn an_import_script_runs_in_the_named_process_and_application_group() {
    let _turn = defining_daemon_groups();
    let config = configured("WSGIDaemonProcess", &["is-warm"]).line(
        "WSGIImportScript",
        &[
            "/srv/warm.py",
            "process-group=is-warm",
            "application-group=%{GLOBAL}",
        ],
    );
    assert_eq!(
        config.server.import_scripts,
        [ImportScript {
            script: "/srv/warm.py".into(),
            process_group: "is-warm".into(),
            application_group: "%{GLOBAL}".into(),
            directive: "WSGIImportScript",
            required: true,
        }]
    );
}

// Scripts of aliases loaded as their processes start.

/// The scripts a configuration loads as its processes start, with the
/// process and application groups.
fn preloaded(config: &Config) -> Vec<(&Path, &str, &str, &str)> {
    config
        .server
        .import_scripts
        .iter()
        .map(|i| {
            (
                i.script.as_path(),
                i.process_group.as_str(),
                i.application_group.as_str(),
                i.directive,
            )
        })
        .collect()
}

#[test]
fn an_alias_naming_both_groups_loads_its_script_as_the_processes_start() {
    let config = configured(
        "WSGIScriptAlias",
        &[
            "/",
            "/srv/site.wsgi",
            "process-group=%{GLOBAL}",
            "application-group=%{GLOBAL}",
        ],
    );
    assert_eq!(
        preloaded(&config),
        [(
            Path::new("/srv/site.wsgi"),
            "%{GLOBAL}",
            "%{GLOBAL}",
            "WSGIScriptAlias"
        )]
    );
    assert_eq!(config.server.script_aliases.len(), 1);
}

#[test]
fn an_alias_naming_one_group_loads_its_script_at_the_first_request() {
    for option in ["process-group=%{GLOBAL}", "application-group=%{GLOBAL}"] {
        let config = configured("WSGIScriptAlias", &["/", "/srv/site.wsgi", option]);
        assert!(preloaded(&config).is_empty(), "{option}");
    }
}

#[test]
fn an_alias_whose_group_is_an_expansion_loads_its_script_at_the_first_request() {
    for (process, application) in [
        ("process-group=%{GLOBAL}", "application-group=%{SERVER}"),
        ("process-group=%{ENV:SITE}", "application-group=%{GLOBAL}"),
    ] {
        let config = configured(
            "WSGIScriptAlias",
            &["/", "/srv/site.wsgi", process, application],
        );
        assert!(preloaded(&config).is_empty(), "{process} {application}");
    }
}

#[test]
fn an_alias_match_loads_a_fixed_script_but_not_one_of_back_references() {
    let groups = ["process-group=%{GLOBAL}", "application-group=%{GLOBAL}"];
    let fixed = configured(
        "WSGIScriptAliasMatch",
        &["^/(.*)", "/srv/site.wsgi", groups[0], groups[1]],
    );
    assert_eq!(preloaded(&fixed)[0].3, "WSGIScriptAliasMatch");
    for script in ["/srv/$1.wsgi", "/srv/&.wsgi"] {
        let referring = configured(
            "WSGIScriptAliasMatch",
            &["^/(.*)", script, groups[0], groups[1]],
        );
        assert!(preloaded(&referring).is_empty(), "{script}");
    }
}

#[test]
fn a_directory_alias_loads_nothing_at_start() {
    let config = configured(
        "WSGIScriptAlias",
        &[
            "/apps/",
            "/srv/apps/",
            "process-group=%{GLOBAL}",
            "application-group=%{GLOBAL}",
        ],
    );
    assert!(preloaded(&config).is_empty());
}

#[test]
fn an_aliass_script_may_fail_at_start_where_an_import_scripts_may_not() {
    let groups = ["process-group=%{GLOBAL}", "application-group=%{GLOBAL}"];
    let config = configured(
        "WSGIScriptAlias",
        &["/", "/srv/site.wsgi", groups[0], groups[1]],
    )
    .line("WSGIImportScript", &["/srv/warm.py", groups[0], groups[1]]);
    let required: Vec<bool> = config
        .server
        .import_scripts
        .iter()
        .map(|i| i.required)
        .collect();
    assert_eq!(required, [false, true]);
}

#[test]
fn an_alias_loading_its_script_needs_its_daemon_group_defined_before_it() {
    let _turn = defining_daemon_groups();
    let line = [
        "/",
        "/srv/site.wsgi",
        "process-group=sa-later",
        "application-group=%{GLOBAL}",
    ];
    assert_eq!(
        refused("WSGIScriptAlias", &line),
        "WSGIScriptAlias: no daemon process group 'sa-later' is defined before this line; put its WSGIDaemonProcess line first, as mod_wsgi requires"
    );
    // Without application-group= nothing is loaded early, and the group is
    // looked up per request, as in mod_wsgi.
    configured("WSGIScriptAlias", &line[..3]);
    let config = configured("WSGIDaemonProcess", &["sa-later"]).line("WSGIScriptAlias", &line);
    assert_eq!(preloaded(&config)[0].1, "sa-later");
}

#[test]
fn an_import_script_needs_its_daemon_group_defined_before_it() {
    let _turn = defining_daemon_groups();
    let line = [
        "/srv/warm.py",
        "process-group=is-later",
        "application-group=%{GLOBAL}",
    ];
    assert_eq!(
        refused("WSGIImportScript", &line),
        "WSGIImportScript: no daemon process group 'is-later' is defined before this line; put its WSGIDaemonProcess line first, as mod_wsgi requires"
    );
    // Defined in another virtual host's configuration, before: accepted.
    configured("WSGIDaemonProcess", &["is-later"]);
    configured("WSGIImportScript", &line);
}

#[test]
fn import_script_lines_accumulate() {
    let groups = ["process-group=%{GLOBAL}", "application-group=%{GLOBAL}"];
    let config = configured("WSGIImportScript", &["/srv/a.py", groups[0], groups[1]])
        .line("WSGIImportScript", &["/srv/b.py", groups[0], groups[1]]);
    let scripts: Vec<&Path> = config
        .server
        .import_scripts
        .iter()
        .map(|i| i.script.as_path())
        .collect();
    assert_eq!(scripts, [Path::new("/srv/a.py"), Path::new("/srv/b.py")]);
}

#[test]
fn an_import_script_needs_a_script_path() {
    assert_eq!(
        refused("WSGIImportScript", &[]),
        "WSGIImportScript takes a script path, process-group= and application-group="
    );
}

#[test]
fn an_import_script_path_must_be_absolute() {
    assert_eq!(
        refused(
            "WSGIImportScript",
            &["warm.py", "process-group=a", "application-group=b"]
        ),
        "WSGIImportScript: 'warm.py' must be an absolute path"
    );
}

#[test]
fn an_import_script_needs_both_a_process_and_an_application_group() {
    let message =
        "WSGIImportScript needs both process-group= and application-group=, as in mod_wsgi";
    assert_eq!(
        refused("WSGIImportScript", &["/srv/warm.py", "process-group=site"]),
        message
    );
    assert_eq!(
        refused("WSGIImportScript", &["/srv/warm.py", "application-group=x"]),
        message
    );
}

#[test]
fn an_import_script_process_group_must_not_be_empty() {
    assert_eq!(
        refused(
            "WSGIImportScript",
            &["/srv/warm.py", "process-group=", "application-group=x"]
        ),
        "WSGIImportScript: the process group's name is empty"
    );
}

#[test]
fn an_import_script_application_group_must_not_be_empty() {
    assert_eq!(
        refused(
            "WSGIImportScript",
            &[
                "/srv/warm.py",
                "process-group=%{GLOBAL}",
                "application-group="
            ]
        ),
        "WSGIImportScript: the application group's name is empty; %{GLOBAL} names the main interpreter"
    );
}

#[test]
fn an_import_script_refuses_unknown_options() {
    assert_eq!(
        refused("WSGIImportScript", &["/srv/warm.py", "callable-object=x"]),
        "WSGIImportScript: unknown option 'callable-object=x'; accepted: process-group, application-group"
    );
}

// On|Off settings.

/// What an On|Off directive sets.
type OnOffSetting = fn(&Config) -> Option<bool>;

/// Each On|Off directive that configures something, with what it sets.
const ON_OFF: [(&str, OnOffSetting); 12] = [
    ("WSGIPassAuthorization", |c| c.dir.pass_authorization),
    ("WSGIScriptReloading", |c| c.dir.script_reloading),
    ("WSGIChunkedRequest", |c| c.dir.chunked_request),
    ("WSGIEnableSendfile", |c| c.dir.enable_sendfile),
    ("WSGIErrorOverride", |c| c.dir.error_override),
    ("WSGIIgnoreActivity", |c| c.dir.ignore_activity),
    ("WSGISocketRotation", |c| c.server.process.socket_rotation),
    ("WSGIRestrictStdin", |c| c.server.process.restrict_stdin),
    ("WSGIRestrictStdout", |c| c.server.process.restrict_stdout),
    ("WSGIRestrictSignal", |c| c.server.process.restrict_signal),
    ("WSGIDontWriteBytecode", |c| {
        Some(c.server.process.dont_write_bytecode)
    }),
    ("WSGIRestrictEmbedded", |c| {
        Some(c.server.process.restrict_embedded)
    }),
];

#[test]
fn each_on_off_directive_sets_its_own_setting_in_any_case() {
    for (name, setting) in ON_OFF {
        let on = configured(name, &["on"]);
        for (other, other_setting) in ON_OFF {
            let set = other_setting(&on) == Some(true);
            assert_eq!(set, other == name, "{name} on: {other}");
        }
        let off = on.line(name, &["OFF"]);
        assert_eq!(setting(&off), Some(false), "{name} on, then OFF");
    }
}

#[test]
fn on_off_directives_refuse_other_words_naming_the_directive() {
    let ignored = [
        "WSGIDestroyInterpreter",
        "WSGICaseSensitivity",
        "WSGIVerboseDebugging",
        "WSGIGroupAuthoritative",
    ];
    for name in ON_OFF.map(|(name, _)| name).into_iter().chain(ignored) {
        assert_eq!(
            refused(name, &["yes"]),
            format!("{name}: 'yes' is not accepted; use On or Off")
        );
    }
}

// Directives accepted without effect.

#[test]
fn directives_without_effect_are_accepted_with_the_reason_noted() {
    for (name, value, note) in [
        (
            "WSGIAcceptMutex",
            "fcntl",
            "WSGIAcceptMutex has no effect: daemon processes take connections from a socket the kernel shares out, one idle thread at a time, so there is no accept mutex to choose",
        ),
        (
            "WSGIDestroyInterpreter",
            "On",
            "WSGIDestroyInterpreter has no effect: mod_rwsgi never finalises Python at child exit (Apache may still be running threads)",
        ),
        (
            "WSGICaseSensitivity",
            "Off",
            "WSGICaseSensitivity has no effect: it matters only on case-insensitive file systems (Windows, macOS)",
        ),
        (
            "WSGIVerboseDebugging",
            "On",
            "WSGIVerboseDebugging has no effect: use LogLevel rwsgi:debug for mod_rwsgi's own diagnostics",
        ),
        (
            "WSGILazyInitialization",
            "Off",
            "WSGILazyInitialization has no effect: mod_rwsgi always starts Python in each process after Apache forks it, never in Apache's root parent, as mod_wsgi does with On (its default)",
        ),
        (
            "WSGIGroupAuthoritative",
            "Off",
            "WSGIGroupAuthoritative has no effect: under Apache 2.4, Require wsgi-group is an authorization provider, and AuthMerging/RequireAny decide what a failed check means",
        ),
    ] {
        assert_eq!(configured(name, &[value]).server.ignored, [note]);
    }
}

#[test]
fn a_repeated_directive_without_effect_is_noted_once() {
    let config = configured("WSGIVerboseDebugging", &["On"])
        .line("WSGIVerboseDebugging", &["Off"])
        .line("WSGICaseSensitivity", &["On"]);
    assert_eq!(config.server.ignored.len(), 2);
}

#[test]
fn a_refused_directive_without_effect_notes_nothing() {
    let mut config = Config::default();
    assert!(config.apply("WSGIDestroyInterpreter", &["maybe"]).is_err());
    assert!(config.server.ignored.is_empty());
}

// Request handling.

#[test]
fn map_head_to_get_takes_off_on_or_auto_in_any_case() {
    for (value, expected) in [
        ("Off", MapHeadToGet::Off),
        ("ON", MapHeadToGet::On),
        ("auto", MapHeadToGet::Auto),
    ] {
        let config = configured("WSGIMapHEADToGET", &[value]);
        assert_eq!(config.dir.map_head_to_get, Some(expected), "{value}");
    }
}

#[test]
fn map_head_to_get_refuses_other_values() {
    assert_eq!(
        refused("WSGIMapHEADToGET", &["yes"]),
        "WSGIMapHEADToGET: 'yes' is not accepted; use Off, On or Auto"
    );
}

#[test]
fn trusted_proxy_headers_are_named_in_any_case_and_kept_in_order() {
    let config = configured(
        "WSGITrustedProxyHeaders",
        &["x-forwarded-proto", "X-Forwarded-For"],
    );
    assert_eq!(
        config.dir.trusted_proxy_headers,
        Some(vec![
            ProxyHeader::XForwardedProto,
            ProxyHeader::XForwardedFor
        ])
    );
}

#[test]
fn trusted_proxy_headers_need_at_least_one_header() {
    assert_eq!(
        refused("WSGITrustedProxyHeaders", &[]),
        "WSGITrustedProxyHeaders takes one or more header names"
    );
}

#[test]
fn an_unknown_proxy_header_is_refused_with_the_accepted_ones() {
    assert_eq!(
        refused("WSGITrustedProxyHeaders", &["X-Forwarded-For", "Forwarded"]),
        "WSGITrustedProxyHeaders: 'Forwarded' is not a proxy header mod_rwsgi knows; accepted: X-Forwarded-For, X-Client-IP, X-Real-IP, X-Forwarded-Host, X-Host, X-Forwarded-Server, X-Forwarded-Port, X-Script-Name, X-Forwarded-Script-Name, X-Forwarded-Proto, X-Forwarded-Scheme, X-Scheme, X-Forwarded-HTTPS, X-Forwarded-SSL, X-HTTPS"
    );
}

#[test]
fn trusted_proxies_are_the_addresses_and_networks_listed() {
    let config = configured("WSGITrustedProxies", &["10.0.0.1", "192.168.0.0/16", "::1"]);
    let proxies = config.dir.trusted_proxies.unwrap();
    let trusted = |ip: &str| proxies.iter().any(|p| p.contains(ip.parse().unwrap()));
    for ip in ["10.0.0.1", "192.168.3.4", "::1"] {
        assert!(trusted(ip), "{ip}");
    }
    for ip in ["10.0.0.2", "192.169.0.1", "::2"] {
        assert!(!trusted(ip), "{ip}");
    }
}

#[test]
fn trusted_proxies_need_at_least_one_address() {
    assert_eq!(
        refused("WSGITrustedProxies", &[]),
        "WSGITrustedProxies takes one or more addresses or networks"
    );
}

#[test]
fn a_trusted_proxy_must_be_an_address_or_a_network() {
    for bad in ["proxy.example.org", "10.0.0.0/33"] {
        assert_eq!(
            refused("WSGITrustedProxies", &["10.0.0.1", bad]),
            format!(
                "WSGITrustedProxies: '{bad}' is not an IP address or network (such as 10.0.0.1 or 10.0.0.0/8)"
            )
        );
    }
}

// Interpreters and process groups.

#[test]
fn application_group_is_kept_as_written_for_expansion_per_request() {
    for group in ["%{GLOBAL}", "%{ENV:GROUP}", "shared"] {
        let config = configured("WSGIApplicationGroup", &[group]);
        assert_eq!(config.dir.application_group.as_deref(), Some(group));
    }
}

#[test]
fn process_group_is_kept_as_written_for_expansion_per_request() {
    for group in ["site", "%{GLOBAL}", "%{ENV:GROUP}"] {
        let config = configured("WSGIProcessGroup", &[group]);
        assert_eq!(config.dir.process_group.as_deref(), Some(group));
    }
}

#[test]
fn process_group_must_not_be_empty() {
    assert_eq!(
        refused("WSGIProcessGroup", &[""]),
        "WSGIProcessGroup: the process group's name is empty"
    );
}

#[test]
fn restrict_process_lists_the_groups_applications_may_name() {
    let config = configured("WSGIRestrictProcess", &["a", "%{GLOBAL}"]);
    assert_eq!(
        config.dir.restrict_process,
        Some(vec!["a".to_string(), "%{GLOBAL}".to_string()])
    );
}

#[test]
fn restrict_process_needs_at_least_one_group() {
    assert_eq!(
        refused("WSGIRestrictProcess", &[]),
        "WSGIRestrictProcess takes one or more process group names"
    );
}

#[test]
fn restrict_process_group_names_must_not_be_empty() {
    assert_eq!(
        refused("WSGIRestrictProcess", &["a", ""]),
        "WSGIRestrictProcess: the process group's name is empty"
    );
}

/// Daemon group names are unique across the whole configuration
/// (DEFINED_GROUPS); tests that define groups take turns.
fn defining_daemon_groups() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn a_daemon_process_line_adds_its_group() {
    let _turn = defining_daemon_groups();
    let config = configured("WSGIDaemonProcess", &["dp-added processes=2 threads=3"]);
    let groups = &config.server.daemon_groups;
    assert_eq!(groups.len(), 1);
    assert_eq!(
        (
            groups[0].name.as_str(),
            groups[0].processes,
            groups[0].threads
        ),
        ("dp-added", 2, 3)
    );
}

#[test]
fn a_daemon_process_group_name_may_be_defined_only_once_across_servers() {
    let _turn = defining_daemon_groups();
    configured("WSGIDaemonProcess", &["dp-twice"]);
    // Another virtual host's configuration.
    assert_eq!(
        refused("WSGIDaemonProcess", &["dp-twice threads=2"]),
        "WSGIDaemonProcess dp-twice: a group of that name is already defined (names are unique across the whole server, as in mod_wsgi)"
    );
}

#[test]
fn a_refused_daemon_process_line_leaves_its_name_free() {
    let _turn = defining_daemon_groups();
    assert!(
        Config::default()
            .apply("WSGIDaemonProcess", &["dp-refused threads=0"])
            .is_err()
    );
    configured("WSGIDaemonProcess", &["dp-refused"]);
}

#[test]
fn daemon_process_names_are_free_again_when_the_configuration_is_read_again() {
    let _turn = defining_daemon_groups();
    configured("WSGIDaemonProcess", &["dp-reread"]);
    forget_daemon_groups();
    let again = configured("WSGIDaemonProcess", &["dp-reread"]);
    assert_eq!(again.server.daemon_groups[0].name, "dp-reread");
}

#[test]
fn a_daemon_process_python_home_is_checked_as_wsgi_python_home_is() {
    let _turn = defining_daemon_groups();
    assert_eq!(
        refused("WSGIDaemonProcess", &["dp-home python-home=venv"]),
        "WSGIDaemonProcess dp-home: python-home=venv: 'venv' must be an absolute path"
    );
}

#[test]
fn a_daemon_process_line_with_an_unclosed_quote_is_refused() {
    let _turn = defining_daemon_groups();
    assert_eq!(
        refused("WSGIDaemonProcess", &["dp-quote 'display-name=x"]),
        "WSGIDaemonProcess: a ' quote is not closed"
    );
}

#[test]
fn socket_prefix_is_a_path_prefix() {
    let config = configured("WSGISocketPrefix", &["run/wsgi"]);
    assert_eq!(
        config.server.process.socket_prefix,
        Some(PathBuf::from("run/wsgi"))
    );
}

#[test]
fn socket_prefix_must_name_a_file_prefix_not_a_directory() {
    for prefix in ["run/", ""] {
        assert_eq!(
            refused("WSGISocketPrefix", &[prefix]),
            format!("WSGISocketPrefix: '{prefix}' must name a file prefix, such as run/wsgi")
        );
    }
}

// Python in each child.

/// A directory of the test's own under the system's temporary directory,
/// removed when the test ends.
struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> Self {
        let path = std::env::temp_dir().join(format!("rwsgi-unit-{}-{label}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    fn with_file(self, relative: &str, text: &str) -> Self {
        let file = self.0.join(relative);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
        self
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn python_home(home: &str) -> Result<Option<PythonHome>, String> {
    let mut config = Config::default();
    config.apply("WSGIPythonHome", &[home])?;
    Ok(config.server.process.python_home)
}

#[test]
fn python_home_may_be_a_virtualenv_of_the_python_built_with() {
    let venv = TempDir::new("venv").with_file(
        "pyvenv.cfg",
        &format!("home = /usr/bin\nversion = {PYTHON_VERSION}.4\n"),
    );
    assert_eq!(
        python_home(venv.path()),
        Ok(Some(PythonHome::Venv(venv.0.clone())))
    );
}

#[test]
fn python_home_reads_the_version_info_line_uv_writes() {
    let venv = TempDir::new("uv-venv").with_file(
        "pyvenv.cfg",
        &format!("home = /usr/bin\nversion_info = {PYTHON_VERSION}.4.final.0\n"),
    );
    assert_eq!(
        python_home(venv.path()),
        Ok(Some(PythonHome::Venv(venv.0.clone())))
    );
}

#[test]
fn python_home_may_be_an_installation_prefix_of_the_python_built_with() {
    let prefix = TempDir::new("prefix").with_file(&format!("lib/python{PYTHON_VERSION}/os.py"), "");
    assert_eq!(
        python_home(prefix.path()),
        Ok(Some(PythonHome::Prefix(prefix.0.clone())))
    );
}

#[test]
fn python_home_must_be_absolute() {
    assert_eq!(
        python_home("venv"),
        Err("WSGIPythonHome: 'venv' must be an absolute path".to_string())
    );
}

#[test]
fn python_home_must_be_an_existing_directory() {
    let file = TempDir::new("not-a-dir").with_file("file", "");
    for home in [
        format!("{}/missing", file.path()),
        format!("{}/file", file.path()),
    ] {
        assert_eq!(
            python_home(&home),
            Err(format!(
                "WSGIPythonHome: {home} does not exist or is not a directory"
            ))
        );
    }
}

#[test]
fn python_home_refuses_a_virtualenv_of_another_python() {
    // Compared by major.minor: 3.1 is not 3.11, nor 3.11 3.110.
    for version in ["2.7.18".to_string(), format!("{PYTHON_VERSION}0.1")] {
        let venv =
            TempDir::new("other-venv").with_file("pyvenv.cfg", &format!("version = {version}\n"));
        assert_eq!(
            python_home(venv.path()),
            Err(format!(
                "WSGIPythonHome: {} is a virtualenv made from Python {version}, but mod_rwsgi was built for Python {PYTHON_VERSION}; recreate it with python{PYTHON_VERSION} -m venv",
                venv.path()
            ))
        );
    }
}

#[test]
fn python_home_refuses_a_virtualenv_without_a_version_line() {
    let venv = TempDir::new("versionless").with_file("pyvenv.cfg", "home = /usr/bin\n");
    let home = venv.path();
    assert_eq!(
        python_home(home),
        Err(format!(
            "WSGIPythonHome: {home}/pyvenv.cfg has no 'version' line, so {home} is not a virtualenv mod_rwsgi can use"
        ))
    );
}

#[test]
fn python_home_refuses_a_directory_that_is_neither_virtualenv_nor_prefix() {
    let empty = TempDir::new("neither");
    let home = empty.path();
    assert_eq!(
        python_home(home),
        Err(format!(
            "WSGIPythonHome: {home} is neither a virtualenv (no pyvenv.cfg) nor a Python {PYTHON_VERSION} installation prefix (no {home}/lib/python{PYTHON_VERSION}/os.py)"
        ))
    );
}

#[test]
fn python_path_is_split_on_colons_skipping_empty_parts() {
    let config = configured("WSGIPythonPath", &["/srv/a::/srv/b:"]);
    assert_eq!(
        config.server.process.python_path,
        [PathBuf::from("/srv/a"), PathBuf::from("/srv/b")]
    );
}

#[test]
fn python_optimize_takes_0_1_or_2() {
    for (level, expected) in [("0", 0), ("1", 1), ("2", 2)] {
        let config = configured("WSGIPythonOptimize", &[level]);
        assert_eq!(config.server.process.optimize, Some(expected));
    }
}

#[test]
fn python_optimize_refuses_other_levels() {
    assert_eq!(
        refused("WSGIPythonOptimize", &["3"]),
        "WSGIPythonOptimize: '3' is not accepted; use 0, 1 or 2"
    );
}

#[test]
fn python_hash_seed_is_a_number_or_random() {
    let config = configured("WSGIPythonHashSeed", &["4294967295"]);
    assert_eq!(config.server.process.hash_seed, Some(4_294_967_295));
    let config = config.line("WSGIPythonHashSeed", &["random"]);
    assert_eq!(config.server.process.hash_seed, None);
}

#[test]
fn python_hash_seed_must_fit_in_32_bits() {
    for seed in ["4294967296", "-1", "Random"] {
        assert_eq!(
            refused("WSGIPythonHashSeed", &[seed]),
            format!(
                "WSGIPythonHashSeed: '{seed}' is not accepted; use random or a number from 0 to 4294967295"
            )
        );
    }
}

#[test]
fn python_warnings_accumulate_in_the_order_written() {
    let config = configured("WSGIPythonWarnings", &["ignore::DeprecationWarning"])
        .line("WSGIPythonWarnings", &["error"]);
    assert_eq!(
        config.server.process.warnings,
        ["ignore::DeprecationWarning", "error"]
    );
}

#[test]
fn python_eggs_is_an_absolute_directory() {
    let config = configured("WSGIPythonEggs", &["/var/cache/eggs"]);
    assert_eq!(
        config.server.process.python_eggs,
        Some(PathBuf::from("/var/cache/eggs"))
    );
}

#[test]
fn python_eggs_must_be_absolute() {
    assert_eq!(
        refused("WSGIPythonEggs", &["eggs"]),
        "WSGIPythonEggs: 'eggs' must be an absolute path"
    );
}

#[test]
fn new_relic_directives_name_the_agents_file_and_environment() {
    let config = configured("WSGINewRelicConfigFile", &["/etc/newrelic.ini"])
        .line("WSGINewRelicEnvironment", &["staging"]);
    assert_eq!(
        config.server.process.new_relic,
        crate::config::NewRelic {
            config_file: Some(PathBuf::from("/etc/newrelic.ini")),
            environment: Some("staging".into()),
        }
    );
}

#[test]
fn new_relic_config_file_must_be_absolute() {
    assert_eq!(
        refused("WSGINewRelicConfigFile", &["newrelic.ini"]),
        "WSGINewRelicConfigFile: 'newrelic.ini' must be an absolute path"
    );
}

#[test]
fn new_relic_environment_must_not_be_empty() {
    assert_eq!(
        refused("WSGINewRelicEnvironment", &[""]),
        "WSGINewRelicEnvironment: the environment's name is empty"
    );
}

#[test]
fn lazy_initialization_takes_on_or_off() {
    assert_eq!(
        refused("WSGILazyInitialization", &["maybe"]),
        "WSGILazyInitialization: 'maybe' is not accepted; use On or Off"
    );
}

// Authentication and access.

/// The script an auth script directive sets.
type AuthScriptSetting = fn(&DirConfig) -> &Option<AuthScript>;

/// Each auth script directive, with the script it sets.
const AUTH_SCRIPTS: [(&str, AuthScriptSetting); 3] = [
    ("WSGIAccessScript", |d| &d.access_script),
    ("WSGIAuthUserScript", |d| &d.auth_user_script),
    ("WSGIAuthGroupScript", |d| &d.auth_group_script),
];

#[test]
fn each_auth_script_directive_sets_its_own_script() {
    for (name, _) in AUTH_SCRIPTS {
        let config = configured(name, &["/srv/auth.wsgi"]);
        for (other, script) in AUTH_SCRIPTS {
            let expected = (other == name).then(|| AuthScript {
                script: "/srv/auth.wsgi".into(),
                application_group: None,
            });
            assert_eq!(script(&config.dir), &expected, "{name}: {other}");
        }
    }
}

#[test]
fn an_auth_script_may_name_its_application_group() {
    for (name, script) in AUTH_SCRIPTS {
        let config = configured(name, &["/srv/auth.wsgi", "application-group=auth"]);
        let group = script(&config.dir)
            .as_ref()
            .unwrap()
            .application_group
            .as_deref();
        assert_eq!(group, Some("auth"), "{name}");
    }
}

#[test]
fn an_auth_script_accepts_process_group_global_only() {
    for (name, _) in AUTH_SCRIPTS {
        configured(name, &["/srv/auth.wsgi", "process-group=%{GLOBAL}"]);
        assert_eq!(
            refused(name, &["/srv/auth.wsgi", "process-group=site"]),
            format!(
                "{name}: unknown option 'process-group=site'; accepted: application-group (access and authentication scripts run in Apache's own processes, as with mod_wsgi)"
            )
        );
    }
}

#[test]
fn an_auth_script_application_group_must_not_be_empty() {
    for (name, _) in AUTH_SCRIPTS {
        assert_eq!(
            refused(name, &["/srv/auth.wsgi", "application-group="]),
            format!(
                "{name}: the application group's name is empty; %{{GLOBAL}} names the main interpreter"
            )
        );
    }
}

#[test]
fn an_auth_script_needs_a_script_path() {
    for (name, _) in AUTH_SCRIPTS {
        assert_eq!(
            refused(name, &[]),
            format!(
                "{name} takes a script path, then options: {name} /srv/auth.wsgi [application-group=name]"
            )
        );
    }
}

#[test]
fn an_auth_script_path_must_be_absolute() {
    for (name, _) in AUTH_SCRIPTS {
        assert_eq!(
            refused(name, &["auth.wsgi"]),
            format!("{name}: 'auth.wsgi' must be an absolute path")
        );
    }
}
