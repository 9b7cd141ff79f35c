//! Daemon mode serving requests: WSGIDaemonProcess groups, requests routed
//! to them, and the gateway's behaviour there (environ, bodies, responses,
//! files, errors) the same as in Apache's own processes.

mod common;

use std::collections::BTreeMap;

use common::processes::fields;
use common::{Apache, SharedDir};

/// A group of two processes of two threads, and aliases into it.
const SITE: &str = "WSGIDaemonProcess site processes=2 threads=2 display-name=%{GROUP}
WSGIScriptAlias /probe @APPS@/process_probe.wsgi process-group=site
WSGIScriptAlias /echo @APPS@/echo.wsgi process-group=site
WSGIScriptAlias /stream @APPS@/streaming.wsgi process-group=site
WSGIScriptAlias /write @APPS@/write_callable.wsgi process-group=site
WSGIScriptAlias /raises @APPS@/raises.wsgi process-group=site
WSGIScriptAlias /after-output @APPS@/fails_after_output.wsgi process-group=site
WSGIScriptAlias /errors @APPS@/errors.wsgi process-group=site
WSGIScriptAlias /file @APPS@/file_wrapper.wsgi process-group=site
WSGIScriptAlias /embedded @APPS@/process_probe.wsgi
";

fn site() -> Apache {
    Apache::start(SITE)
}

#[test]
fn a_request_is_served_by_a_daemon_process_of_its_group() {
    let apache = site();
    let daemons = apache.wait_for_daemons(2);
    assert_eq!(daemons.len(), 2, "{daemons:?}");
    let probe = fields(&apache.get("/probe").text());
    let pid: u32 = probe["pid"].parse().unwrap();
    assert!(
        daemons.iter().any(|d| d.pid == pid),
        "{pid} not in {daemons:?}"
    );
    assert_eq!(probe["process_group"], "site");
    let embedded = fields(&apache.get("/embedded").text());
    assert_eq!(embedded["process_group"], "");
    assert_eq!(embedded["ppid"], apache.parent_pid().to_string());
}

#[test]
fn display_name_shows_whole_in_ps_for_every_daemon_and_its_supervisor() {
    let apache = Apache::start(
        "WSGIDaemonProcess site processes=2 threads=1 display-name=%{GROUP}\n\
         WSGIDaemonProcess other threads=1 display-name=a-display-name-longer-than-the-command-line-apache-started-with\n",
    );
    // A process shows its supervisor's title until it sets its own.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let commands = loop {
        let commands: Vec<String> = apache.daemons().into_iter().map(|d| d.command).collect();
        let settled = commands.len() == 3 && !commands.iter().any(|c| c.ends_with("supervisor"));
        if settled || std::time::Instant::now() > deadline {
            break commands;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(
        commands.iter().filter(|c| *c == "(wsgi:site)").count(),
        2,
        "{commands:?}"
    );
    assert!(
        commands
            .iter()
            .any(|c| c == "a-display-name-longer-than-the-command-line-apache-started-with"),
        "{commands:?}"
    );
    let supervisors = apache.supervisors();
    assert!(
        supervisors
            .iter()
            .any(|s| s.command == "(wsgi:site) supervisor"),
        "{supervisors:?}"
    );
}

#[test]
fn a_daemon_without_display_name_shows_apaches_command_line_as_mod_wsgis_do() {
    let apache = Apache::start("WSGIDaemonProcess plain threads=1\n");
    let parent = common::processes::all()
        .into_iter()
        .find(|p| p.pid == apache.parent_pid())
        .expect("Apache's parent")
        .command;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut commands = Vec::new();
    while std::time::Instant::now() < deadline {
        commands = apache.daemons().into_iter().map(|d| d.command).collect();
        if commands == [parent.clone()] {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(commands, [parent]);
}

#[test]
fn a_daemon_runs_as_its_user_and_group_with_its_home_umask_and_language() {
    let apache = Apache::start(
        "WSGIDaemonProcess site user=nobody group=nogroup home=/tmp umask=0027 lang=C.UTF-8 locale=C.UTF-8 threads=1\n\
         WSGIScriptAlias /probe @APPS@/process_probe.wsgi process-group=site\n",
    );
    let probe = fields(&apache.get("/probe").text());
    assert_eq!(probe["uid"], "65534", "{probe:?}");
    assert_eq!(probe["euid"], "65534");
    assert_eq!(probe["gid"], "65534");
    assert_eq!(probe["cwd"], "/tmp");
    assert_eq!(probe["umask"], "23"); // 0o027
    assert_eq!(probe["lang"], "C.UTF-8");
    assert_eq!(probe["lc_all"], "C.UTF-8");
    assert_eq!(probe["locale"], "C.UTF-8");
}

#[test]
fn a_daemon_as_apaches_user_keeps_root_as_its_directory() {
    let apache = Apache::start(
        "WSGIDaemonProcess site threads=1\nWSGIScriptAlias /probe @APPS@/process_probe.wsgi process-group=site\n",
    );
    let probe = fields(&apache.get("/probe").text());
    assert_eq!(probe["uid"], "33", "www-data: {probe:?}");
    assert_eq!(probe["cwd"], "/");
}

#[test]
fn multithread_and_multiprocess_follow_threads_and_processes() {
    let apache = Apache::start(
        "WSGIDaemonProcess one threads=1\n\
         WSGIDaemonProcess given processes=1 threads=4\n\
         WSGIScriptAlias /one @APPS@/process_probe.wsgi process-group=one\n\
         WSGIScriptAlias /given @APPS@/process_probe.wsgi process-group=given\n",
    );
    let one = fields(&apache.get("/one").text());
    assert_eq!(
        (one["multithread"].as_str(), one["multiprocess"].as_str()),
        ("False", "False")
    );
    // As with mod_wsgi, processes= given at all means several may run.
    let given = fields(&apache.get("/given").text());
    assert_eq!(
        (
            given["multithread"].as_str(),
            given["multiprocess"].as_str()
        ),
        ("True", "True")
    );
}

#[test]
fn python_path_and_home_of_the_group_apply_in_its_processes() {
    let shared = SharedDir::new("daemon-python");
    let venv = shared.virtualenv("venv");
    shared.write("lib/marker_module.py", "VALUE = 'from the group path'\n");
    shared.share();
    let apache = Apache::start(&format!(
        "WSGIDaemonProcess site threads=1 python-home={} python-path={}/lib switch-interval=0.002\n\
         WSGIScriptAlias /probe @APPS@/process_probe.wsgi process-group=site\n",
        venv.display(),
        shared.0.display()
    ));
    let probe = fields(&apache.get("/probe").text());
    assert_eq!(probe["prefix"], venv.display().to_string());
    assert!(
        probe["path"].contains(&format!("{}/lib", shared.0.display())),
        "{probe:?}"
    );
    assert_eq!(probe["switch_interval"], "0.002");
}

#[test]
fn a_request_body_reaches_the_app_whole_however_it_reads() {
    let apache = site();
    let body: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
    let mut with_lines = body.clone();
    for (i, byte) in with_lines.iter_mut().enumerate() {
        if i % 1000 == 999 {
            *byte = b'\n';
        }
    }
    for how in [
        "read",
        "read-1000",
        "read-70000",
        "readline",
        "readline-100",
        "readlines",
        "iterate",
    ] {
        let sent = if how.starts_with("read") && !how.starts_with("readline") {
            &body
        } else {
            &with_lines
        };
        let response = apache.post(&format!("/echo?{how}"), sent);
        assert_eq!(response.status, 200, "{how}");
        assert!(
            response.body == *sent,
            "{how}: {} bytes back",
            response.body.len()
        );
    }
}

#[test]
fn a_chunked_body_is_refused_with_411_unless_wsgi_chunked_request_is_on() {
    let request = b"POST /echo?read HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    let refused = site();
    assert_eq!(refused.raw(request).status, 411);
    let accepted = Apache::start(&format!("{SITE}WSGIChunkedRequest On\n"));
    let response = accepted.raw(request);
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "hello world");
}

#[test]
fn a_body_over_limit_request_body_fails_the_read_in_the_app() {
    let apache = Apache::start(&format!("{SITE}LimitRequestBody 1000\n"));
    // Declared too large: Apache answers 413 before the app runs.
    assert_eq!(apache.post("/echo?read", &[b'x'; 2000]).status, 413);
    assert_eq!(
        apache.post("/echo?read", &[b'x'; 1000]).text(),
        "x".repeat(1000)
    );
}

#[test]
fn blocks_stream_and_write_goes_out_before_the_iterable() {
    let apache = site();
    let streamed = apache.get("/stream");
    assert_eq!(streamed.status, 200);
    assert_eq!(streamed.header("Transfer-Encoding"), Some("chunked"));
    let expected: String = (0..100).map(|i| format!("line {i}\n")).collect();
    assert_eq!(streamed.text(), expected);
    assert_eq!(
        apache.get("/write").text(),
        "from write, then from the iterable\n"
    );
}

#[test]
fn an_exception_before_output_is_a_500_with_its_traceback_in_the_log() {
    let apache = site();
    assert_eq!(apache.get("/raises").status, 500);
    let log = apache.wait_for_log("RuntimeError: boom from the app");
    assert!(
        log.contains("Exception occurred processing WSGI script"),
        "{log}"
    );
    // Logged with the request, as in embedded mode.
    assert!(
        log.lines()
            .any(|l| l.contains("[client 127.0.0.1:") && l.contains("RuntimeError: boom")),
        "{log}"
    );
}

#[test]
fn an_exception_after_output_cuts_the_response_short() {
    let apache = site();
    let response = apache.get("/after-output");
    assert_eq!(response.status, 200);
    assert!(!response.complete, "{response:?}");
}

#[test]
fn wsgi_errors_lines_are_logged_with_their_request() {
    let apache = site();
    assert_eq!(apache.get("/errors").status, 200);
    let log = apache.wait_for_log("unterminated tail");
    for line in [
        "first line from the app",
        "second line from the app",
        "unterminated tail",
    ] {
        assert!(
            log.lines()
                .any(|l| l.contains(line) && l.contains("[client 127.0.0.1:")),
            "{line}: {log}"
        );
    }
}

fn data_file(apache: &Apache) -> Vec<u8> {
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
    let path = apache.root().join("htdocs/data.bin");
    std::fs::write(&path, &data).unwrap();
    data
}

#[test]
fn a_file_wrapper_file_is_passed_to_apache_and_sent_whole_from_its_position() {
    let apache = site();
    let data = data_file(&apache);
    let whole = apache.get("/file?whole");
    assert_eq!(whole.header("Content-Length"), Some("3000000"));
    assert!(whole.body == data);
    assert!(apache.get("/file?from-position").body == data[1000..]);
    assert!(apache.get("/file?content-length").body == data[..500]);
    assert!(apache.get("/file?temporary").body == data);
    assert!(apache.get("/file?in-memory").body == data);
}

#[test]
fn a_file_wrapper_file_leaves_no_descriptor_open_in_either_process() {
    let apache = Apache::start(&format!(
        "{}WSGIDaemonProcess site threads=1\nWSGIScriptAlias /file @APPS@/file_wrapper.wsgi process-group=site\n",
        common::one_child(2)
    ));
    data_file(&apache);
    let daemon = apache.wait_for_daemons(1)[0].pid;
    let fds = |pid: u32| -> Vec<String> {
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter_map(|e| std::fs::read_link(e.path()).ok())
                    .map(|target| target.display().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    let processes = || {
        let mut pids: Vec<u32> = apache.children().iter().map(|c| c.pid).collect();
        pids.push(daemon);
        pids
    };
    // Open descriptors of the file, in the daemon and Apache's children.
    let of_the_file = || -> usize {
        processes()
            .into_iter()
            .flat_map(fds)
            .filter(|t| t.ends_with("data.bin"))
            .count()
    };
    let daemon_base = fds(daemon).len();
    for round in 0..3 {
        for _ in 0..20 {
            assert_eq!(apache.get("/file?whole").status, 200);
        }
        // Apache closes a request's files with its pool, which may be a
        // moment after the response arrived.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while of_the_file() > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert_eq!(of_the_file(), 0, "round {round}");
        // At most one kept connection per Apache thread: a leak would grow
        // by 20 a round.
        let in_daemon = fds(daemon).len();
        assert!(
            in_daemon <= daemon_base + 3,
            "round {round}: {in_daemon} > {daemon_base} + 3"
        );
    }
}

/// Requests differing only in the header that picks the group, through
/// `WSGIProcessGroup %{ENV:...}`: the environ a daemon builds is the one
/// embedded mode builds, key by key.
#[test]
fn environ_in_a_daemon_is_the_one_embedded_mode_gives_key_by_key() {
    let apache = Apache::start(
        "LoadModule setenvif_module @MODULES@/mod_setenvif.so
WSGIDaemonProcess site processes=2 threads=2
SetEnvIf X-Mode daemon WSGI_GROUP=site
SetEnvIf X-Mode embedded WSGI_GROUP=%{GLOBAL}
WSGIProcessGroup %{ENV:WSGI_GROUP}
WSGIScriptAlias /env @APPS@/all_environ.wsgi
",
    );
    let environ = |mode: &str| -> BTreeMap<String, String> {
        let response = apache.raw(
            format!("GET /env/a/b?x=1&y=%20 HTTP/1.1\r\nHost: example.org\r\nX-Mode: {mode}\r\nCookie: c=1\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        );
        assert_eq!(response.status, 200, "{mode}: {}", apache.error_log());
        fields(&response.text())
    };
    let (daemon, embedded) = (environ("daemon"), environ("embedded"));
    // Deliberate differences: the header and variable that chose the group,
    // the group's name, and what differs between any two requests (the
    // client's port, a new connection each time, the request's id, its
    // times, and the serving process's and thread's request counts).
    let differs = [
        "HTTP_X_MODE",
        "WSGI_GROUP",
        "mod_rwsgi.process_group",
        "mod_wsgi.process_group",
        "REMOTE_PORT",
        "mod_rwsgi.request_id",
        "mod_wsgi.request_id",
        "mod_wsgi.request_start",
        "mod_wsgi.script_start",
        "mod_wsgi.thread_id",
        "mod_wsgi.thread_requests",
        "mod_wsgi.total_requests",
    ];
    // And the keys of the hop to a daemon, which only a daemon has (as in
    // mod_wsgi).
    let hop = [
        "mod_wsgi.queue_start",
        "mod_wsgi.daemon_start",
        "mod_wsgi.daemon_connects",
        "mod_wsgi.daemon_restarts",
    ];
    for key in hop {
        assert!(daemon.contains_key(key), "{key}: {daemon:?}");
        assert!(!embedded.contains_key(key), "{key}: {embedded:?}");
    }
    let keys: std::collections::BTreeSet<&String> = daemon.keys().chain(embedded.keys()).collect();
    let different: Vec<String> = keys
        .into_iter()
        .filter(|k| !differs.contains(&k.as_str()) && !hop.contains(&k.as_str()))
        .filter(|k| daemon.get(*k) != embedded.get(*k))
        .map(|k| {
            format!(
                "{k}: daemon {:?}, embedded {:?}",
                daemon.get(k),
                embedded.get(k)
            )
        })
        .collect();
    assert!(different.is_empty(), "{different:#?}");
    assert_eq!(daemon["PATH_INFO"], "'/a/b'");
    assert_eq!(daemon["QUERY_STRING"], "'x=1&y=%20'");
    assert_eq!(daemon["mod_rwsgi.process_group"], "'site'");
    assert_eq!(embedded["mod_rwsgi.process_group"], "''");
    assert_eq!(daemon["mod_wsgi.process_group"], "'site'");
    assert_eq!(embedded["mod_wsgi.process_group"], "''");
    assert_eq!(daemon["wsgi.input"], "Input");
}

/// mod_wsgi's daemon mode sends the whole request body before it reads the
/// answer, and documents that an app writing a large answer first
/// deadlocks. Here the body is read from the client only when the app
/// asks: a client sending 8 MiB while it reads an 8 MiB answer gets it all.
#[test]
fn an_app_that_answers_before_it_reads_the_body_cannot_deadlock_the_processes() {
    use std::io::{Read, Write};
    let apache = Apache::start(
        "WSGIDaemonProcess site threads=2\nWSGIScriptAlias /wr @APPS@/write_then_read.wsgi process-group=site\nLimitRequestBody 0\n",
    );
    let size = 8 * 1024 * 1024;
    let mut stream = common::http::connect(apache.port);
    let mut writer = stream.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        let head = format!(
            "POST /wr?{size} HTTP/1.1\r\nHost: a\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n"
        );
        writer.write_all(head.as_bytes()).unwrap();
        let block = vec![b'b'; 64 * 1024];
        for _ in 0..size / block.len() {
            writer.write_all(&block).unwrap();
        }
    });
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    sender.join().unwrap();
    let response = common::http::parse(&answer).expect("an HTTP answer");
    assert_eq!(response.status, 200);
    assert_eq!(response.body.len(), size + format!("\nread {size}").len());
    assert!(response.body.ends_with(format!("\nread {size}").as_bytes()));
}

#[test]
fn apaches_output_filters_apply_to_daemon_responses() {
    let apache = Apache::start(
        "LoadModule deflate_module @MODULES@/mod_deflate.so
LoadModule filter_module @MODULES@/mod_filter.so
LoadModule headers_module @MODULES@/mod_headers.so
WSGIDaemonProcess site threads=2
WSGIScriptAlias /stream @APPS@/streaming.wsgi process-group=site
AddOutputFilterByType DEFLATE text/plain
Header set X-From-Apache yes
",
    );
    let response = apache.raw(
        b"GET /stream HTTP/1.1\r\nHost: a\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(response.status, 200);
    assert_eq!(response.header("Content-Encoding"), Some("gzip"));
    assert_eq!(response.header("X-From-Apache"), Some("yes"));
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate_decoder(&response.body), &mut text).unwrap();
    assert!(
        text.starts_with("line 0\n") && text.ends_with("line 99\n"),
        "{text}"
    );
}

/// gunzip, as the client would (with the gzip command, no extra crate).
fn flate_decoder(body: &[u8]) -> std::io::Cursor<Vec<u8>> {
    use std::io::Write;
    let mut gunzip = std::process::Command::new("gzip")
        .arg("-dc")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("gzip");
    gunzip.stdin.take().unwrap().write_all(body).unwrap();
    let out = gunzip.wait_with_output().unwrap();
    std::io::Cursor::new(out.stdout)
}

#[test]
fn error_override_authorization_and_trusted_proxy_headers_apply_in_a_daemon() {
    let apache = Apache::start(
        "WSGIDaemonProcess site threads=2
WSGIScriptAlias /status @APPS@/error_status.wsgi process-group=site
WSGIScriptAlias /env @APPS@/cgi_environ.wsgi process-group=site
<Location /status>
    WSGIErrorOverride On
</Location>
WSGIPassAuthorization On
WSGITrustedProxyHeaders X-Forwarded-For X-Forwarded-Proto
WSGITrustedProxies 127.0.0.1
",
    );
    let overridden = apache.get("/status?404");
    assert_eq!(overridden.status, 404);
    assert!(
        overridden.text().contains("<title>404 Not Found</title>"),
        "Apache's page: {}",
        overridden.text()
    );
    let env = fields(
        &apache
            .raw(b"GET /env HTTP/1.1\r\nHost: a\r\nAuthorization: Basic eDp5\r\nX-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Proto: https\r\nConnection: close\r\n\r\n")
            .text(),
    );
    assert_eq!(env["HTTP_AUTHORIZATION"], "'Basic eDp5'");
    assert_eq!(env["REMOTE_ADDR"], "'203.0.113.9'");
    assert_eq!(env["wsgi.url_scheme"], "'https'");
}

#[test]
fn quoted_option_values_are_read_as_mod_wsgi_reads_them() {
    // mod_wsgi reads an option's value as a word of its own, so that it may
    // be quoted and hold spaces.
    let apache = Apache::start(
        "WSGIDaemonProcess site threads=1 display-name='my site'\n\
         WSGIScriptAlias /probe @APPS@/process_probe.wsgi process-group='site'\n",
    );
    let probe = fields(&apache.get("/probe").text());
    assert_eq!(probe["process_group"], "site");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let commands = loop {
        let commands: Vec<String> = apache.daemons().into_iter().map(|d| d.command).collect();
        if commands.iter().any(|c| c == "my site") || std::time::Instant::now() > deadline {
            break commands;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(commands.iter().any(|c| c == "my site"), "{commands:?}");
}
