//! `make bench`: mod_rwsgi against Apache's own ceiling (C handlers sending
//! the same bytes as each app, benches/native, and a static file) and
//! against Debian's mod_wsgi in embedded and daemon mode, all on the same
//! Apache build with the same MPM settings, driven by wrk in interleaved
//! rounds. Prints medians, min/max and every ratio, and writes the table to
//! target/bench-results.md.
//!
//! It also counts instructions per request under callgrind (hello, the
//! 64 KiB block, the 30-header request, the 1 MiB stream), a measure that
//! does not move with the machine's load.
//!
//! `make bench-smoke` (`-- --smoke`) runs every workload for about a second
//! after checking each target's answer, and counts hello's instructions over
//! 100 requests, so the harness never rots.
//! `-- --only hello --rounds 5 --seconds 3` narrows a run while profiling;
//! `-- --only gil` runs only the GIL contention section (gil.rs), `-- --only
//! groups` only the two application groups (groups.rs).

#[path = "../../tests/common/mod.rs"]
mod common;
mod gil;
mod groups;
mod wrk;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Apache, Gateway, SharedDir};
use wrk::{Sample, Summary, wrk};

/// Same MPM settings for every target: two processes of 32 threads (64
/// workers, one per connection of the latency workload), started up front,
/// keep-alive without a request limit.
const MPM: &str = "\
StartServers 2
ServerLimit 2
ThreadsPerChild 32
ThreadLimit 32
MaxRequestWorkers 64
MinSpareThreads 64
MaxSpareThreads 64
MaxKeepAliveRequests 0
KeepAliveTimeout 5
LogLevel warn
";

const FILE_SIZE: usize = 10 * 1024 * 1024;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Workload {
    Hello,
    Block64k,
    Stream1m,
    File10m,
    Post1m,
    Headers30,
    Latency64,
}

impl Workload {
    const ALL: [Workload; 7] = [
        Workload::Hello,
        Workload::Block64k,
        Workload::Stream1m,
        Workload::File10m,
        Workload::Post1m,
        Workload::Headers30,
        Workload::Latency64,
    ];

    fn name(self) -> &'static str {
        match self {
            Workload::Hello => "hello (13 B)",
            Workload::Block64k => "64 KiB one-item list",
            Workload::Stream1m => "1 MiB as 16 KiB chunks",
            Workload::File10m => "10 MiB file (file_wrapper / static)",
            Workload::Post1m => "1 MiB POST echoed",
            Workload::Headers30 => "30 headers, environ read",
            Workload::Latency64 => "hello at 64 connections",
        }
    }

    fn connections(self) -> u32 {
        match self {
            Workload::Latency64 => 64,
            Workload::File10m | Workload::Stream1m | Workload::Post1m => 8,
            _ => 32,
        }
    }

    fn wsgi_path(self) -> &'static str {
        match self {
            Workload::Hello | Workload::Latency64 => "/hello",
            Workload::Block64k => "/block",
            Workload::Stream1m => "/stream",
            Workload::File10m => "/file",
            Workload::Post1m => "/echo",
            Workload::Headers30 => "/headers",
        }
    }

    fn script(self, dir: &Path) -> Option<PathBuf> {
        match self {
            Workload::Post1m => Some(dir.join("post.lua")),
            Workload::Headers30 => Some(dir.join("headers.lua")),
            _ => None,
        }
    }

    /// What a correct answer looks like: (length, first bytes).
    fn expected(self) -> (usize, &'static [u8]) {
        match self {
            Workload::Hello | Workload::Latency64 => (13, b"Hello, World!"),
            Workload::Block64k => (65536, b"xxxx"),
            Workload::Stream1m => (1 << 20, b"ssss"),
            Workload::File10m => (FILE_SIZE, b"\x00\x01\x02\x03"),
            Workload::Post1m => (1 << 20, b"pppp"),
            Workload::Headers30 => (0, b""),
        }
    }
}

struct Contender {
    name: &'static str,
    apache: Apache,
    native: bool,
}

impl Contender {
    /// The path serving `workload`: the same for every target but the
    /// native one's file, which Apache serves statically.
    fn path(&self, workload: Workload) -> &'static str {
        match workload {
            Workload::File10m if self.native => "/static/file.bin",
            _ => workload.wsgi_path(),
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let smoke = args.iter().any(|a| a == "--smoke");
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let (mut rounds, mut seconds) = if smoke { (1, 1) } else { (5, 3) };
    if let Some(n) = value("--rounds").and_then(|v| v.parse().ok()) {
        rounds = n;
    }
    if let Some(n) = value("--seconds").and_then(|v| v.parse().ok()) {
        seconds = n;
    }
    let only = value("--only");
    let workloads: Vec<Workload> = Workload::ALL
        .into_iter()
        .filter(|w| only.as_deref().is_none_or(|o| w.name().starts_with(o)))
        .collect();
    let bench_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches");
    let shared = SharedDir::new("bench");
    for app in [
        "hello", "block", "stream", "file", "echo", "headers", "cpu", "wait",
    ] {
        let source = std::fs::read_to_string(bench_dir.join(format!("apps/{app}.wsgi"))).unwrap();
        shared.write(&format!("apps/{app}.wsgi"), &source);
    }
    let data: Vec<u8> = (0..FILE_SIZE).map(|i| (i % 251) as u8).collect();
    std::fs::create_dir_all(shared.0.join("static")).unwrap();
    std::fs::write(shared.0.join("static/file.bin"), &data).unwrap();
    let native_module = build_native_module(&shared, &bench_dir);
    shared.share();

    let mut report = String::new();
    if !matches!(only.as_deref(), Some("gil" | "groups")) {
        report = side_by_side(&shared, &native_module, &workloads, rounds, seconds, smoke);
    }
    if only.as_deref().is_none_or(|o| o == "gil") {
        eprintln!("GIL contention: one child of 25 threads against 25 children");
        report.push('\n');
        report.push_str(&gil::run(&shared, &native_module, rounds, seconds));
    }
    if only.as_deref().is_none_or(|o| o == "groups") {
        eprintln!(
            "two application groups: mod_wsgi's sub-interpreters against processes of their own"
        );
        report.push('\n');
        report.push_str(&groups::run(&shared, rounds, seconds));
    }
    println!("{report}");
    if !smoke && only.is_none() {
        let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-results.md");
        std::fs::write(&out, &report).unwrap();
        eprintln!("written to {}", out.display());
    }
}

/// The main comparison: every workload against every target; returns the
/// report.
fn side_by_side(
    shared: &SharedDir,
    native_module: &Path,
    workloads: &[Workload],
    rounds: usize,
    seconds: u32,
    smoke: bool,
) -> String {
    let bench_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches");
    let targets = start_targets(shared, native_module);
    for target in &targets {
        for workload in Workload::ALL {
            check_answer(target, workload, target.path(workload));
        }
    }
    eprintln!(
        "answers checked; {rounds} interleaved round(s) of {seconds} s per workload and target"
    );

    let mut samples: BTreeMap<(Workload, &'static str), Vec<Sample>> = BTreeMap::new();
    for round in 0..rounds {
        for &workload in workloads {
            for target in &targets {
                let path = target.path(workload);
                let script = workload.script(&bench_dir);
                let sample = wrk(
                    target.apache.port,
                    path,
                    workload.connections(),
                    script.as_deref(),
                    seconds,
                );
                assert_eq!(
                    sample.failed,
                    0,
                    "{} {}: failed answers (round {round}): {}",
                    target.name,
                    workload.name(),
                    target.apache.error_log()
                );
                samples
                    .entry((workload, target.name))
                    .or_default()
                    .push(sample);
            }
        }
    }
    // Every child's RSS, largest first: connections are not spread evenly
    // over the children, so the largest alone can mislead. Daemon
    // processes (titled by display-name) are counted apart, and the
    // supervisor (no Python) not at all.
    let rss: Vec<(&str, Vec<f64>, Vec<f64>)> = targets
        .iter()
        .map(|t| {
            let (mut children, mut daemons) = (Vec::new(), Vec::new());
            for process in descendants(t.apache.parent_pid()) {
                let mib = process.rss_kib as f64 / 1024.0;
                if process.command.ends_with("supervisor") {
                    continue;
                } else if process.command.starts_with("(wsgi:") {
                    daemons.push(mib);
                } else {
                    children.push(mib);
                }
            }
            children.sort_by(|a, b| b.total_cmp(a));
            daemons.sort_by(|a, b| b.total_cmp(a));
            (t.name, children, daemons)
        })
        .collect();
    let counted: Vec<Workload> = workloads
        .iter()
        .copied()
        .filter(|&w| {
            w == Workload::Hello
                || (!smoke
                    && matches!(
                        w,
                        Workload::Block64k | Workload::Headers30 | Workload::Stream1m
                    ))
        })
        .collect();
    let (warm, measured) = if smoke { (20, 100) } else { (200, 2000) };
    eprintln!("counting instructions per request under callgrind ({measured} requests)");
    let instructions = count_instructions(shared, native_module, &counted, warm, measured);
    report(&targets, &samples, &rss, &instructions, rounds, seconds)
}

/// Compiles the native handlers with apxs, for the benchmark only.
fn build_native_module(shared: &SharedDir, bench_dir: &Path) -> PathBuf {
    let source = std::fs::read_to_string(bench_dir.join("native/mod_native.c")).unwrap();
    let path = shared.write("native/mod_native.c", &source);
    let apxs = std::env::var("APXS").unwrap_or_else(|_| "apxs".into());
    common::run(
        Command::new(&apxs)
            .arg("-c")
            .arg(&path)
            .current_dir(shared.0.join("native")),
        "apxs -c (Debian package apache2-dev)",
    );
    shared.0.join("native/.libs/mod_native.so")
}

/// The configurations: (native handlers and static file, WSGI apps, WSGI
/// apps in mod_wsgi's daemon mode).
fn sites(shared: &SharedDir, native_module: &Path, mpm: &str) -> (String, String, String) {
    let root = shared.0.display();
    let apps = shared.0.join("apps");
    let apps = apps.display();
    let wsgi_site = format!(
        "{mpm}LoadModule env_module @MODULES@/mod_env.so\n\
         SetEnv BENCH_FILE {root}/static/file.bin\n\
         WSGIApplicationGroup %{{GLOBAL}}\n\
         WSGIScriptAlias /hello {apps}/hello.wsgi\n\
         WSGIScriptAlias /block {apps}/block.wsgi\n\
         WSGIScriptAlias /stream {apps}/stream.wsgi\n\
         WSGIScriptAlias /file {apps}/file.wsgi\n\
         WSGIScriptAlias /echo {apps}/echo.wsgi\n\
         WSGIScriptAlias /headers {apps}/headers.wsgi\n\
         WSGIScriptAlias /cpu {apps}/cpu.wsgi\n\
         WSGIScriptAlias /wait {apps}/wait.wsgi\n\
         LimitRequestBody 0\n"
    );
    let native_site = format!(
        "{mpm}LoadModule alias_module @MODULES@/mod_alias.so\n\
         LoadModule native_module {}\n\
         <Location /hello>\nSetHandler native-hello\n</Location>\n\
         <Location /block>\nSetHandler native-block\n</Location>\n\
         <Location /stream>\nSetHandler native-stream\n</Location>\n\
         <Location /echo>\nSetHandler native-echo\n</Location>\n\
         <Location /headers>\nSetHandler native-headers\n</Location>\n\
         LimitRequestBody 0\n\
         Alias /static {root}/static\n\
         <Directory {root}/static>\nRequire all granted\n</Directory>\n",
        native_module.display()
    );
    let daemon_site = format!(
        "WSGISocketPrefix @ROOT@/wsgi\n\
         WSGIDaemonProcess bench processes=2 threads=32 display-name=%{{GROUP}}\n\
         WSGIProcessGroup bench\n{wsgi_site}"
    );
    (native_site, wsgi_site, daemon_site)
}

fn start_targets(shared: &SharedDir, native_module: &Path) -> Vec<Contender> {
    let (native_site, wsgi_site, daemon_site) = sites(shared, native_module, MPM);
    vec![
        Contender {
            name: "native",
            apache: Apache::start_gateway(Gateway::None, &native_site),
            native: true,
        },
        Contender {
            name: "mod_rwsgi",
            apache: Apache::start_gateway(Gateway::Rwsgi, &wsgi_site),
            native: false,
        },
        Contender {
            name: "mod_wsgi",
            apache: Apache::start_gateway(Gateway::ModWsgi, &wsgi_site),
            native: false,
        },
        Contender {
            name: "mod_wsgi-daemon",
            apache: Apache::start_gateway(Gateway::ModWsgi, &daemon_site),
            native: false,
        },
        Contender {
            name: "mod_rwsgi-daemon",
            apache: Apache::start_gateway(Gateway::Rwsgi, &daemon_site),
            native: false,
        },
    ]
}

/// The 30 extra headers of the environ workload.
fn bench_headers() -> Vec<String> {
    (1..=30)
        .map(|i| format!("X-Bench-Header-{i}: value number {i} for the environ workload"))
        .collect()
}

/// Instructions per request, counted by callgrind in a single Apache
/// process (-X): the same count for the same binaries and requests however
/// busy the machine is, unlike requests per second. Each target runs twice,
/// `warm` requests then `warm + counted`; the difference is per request.
/// Daemon mode counts every process (the Apache process and the group's),
/// callgrind following each fork.
fn count_instructions(
    shared: &SharedDir,
    native_module: &Path,
    workloads: &[Workload],
    warm: u32,
    counted: u32,
) -> Vec<(Workload, &'static str, f64)> {
    let (native_site, wsgi_site, daemon_site) = sites(shared, native_module, MPM);
    let targets = [
        ("native", Gateway::None, &native_site),
        ("mod_rwsgi", Gateway::Rwsgi, &wsgi_site),
        ("mod_wsgi", Gateway::ModWsgi, &wsgi_site),
        ("mod_rwsgi-daemon", Gateway::Rwsgi, &daemon_site),
        ("mod_wsgi-daemon", Gateway::ModWsgi, &daemon_site),
    ];
    let mut counts = Vec::new();
    for &workload in workloads {
        let (headers, counted) = match workload {
            Workload::Hello | Workload::Block64k => (Vec::new(), counted),
            Workload::Headers30 => (bench_headers(), counted),
            // A megabyte each: a tenth as many requests tell as much.
            Workload::Stream1m => (Vec::new(), (counted / 10).max(10)),
            _ => continue,
        };
        for &(name, gateway, site) in &targets {
            let path = workload.wsgi_path();
            let total = |requests: u32| {
                let apache = Apache::start_counting(gateway, site);
                let mut ab = Command::new("ab");
                ab.args(["-q", "-k", "-c", "1", "-n", &requests.to_string()]);
                for header in &headers {
                    ab.arg("-H").arg(header);
                }
                let out = ab
                    .arg(format!("http://127.0.0.1:{}{path}", apache.port))
                    .output()
                    .expect("run ab (Debian package apache2-utils)");
                let report = String::from_utf8_lossy(&out.stdout);
                assert!(
                    out.status.success()
                        && report.contains(&format!("Complete requests:      {requests}"))
                        && report.contains("Failed requests:        0")
                        && !report.contains("Non-2xx"),
                    "{name} {}: ab under callgrind failed:\n{report}",
                    workload.name()
                );
                apache.stop_counting()
            };
            let (base, more) = (total(warm), total(warm + counted));
            counts.push((
                workload,
                name,
                more.saturating_sub(base) as f64 / f64::from(counted),
            ));
        }
    }
    counts
}

/// One request with the workload's method and body; the answer must be the
/// right one before any timing counts.
fn check_answer(target: &Contender, workload: Workload, path: &str) {
    let response = match workload {
        Workload::Post1m => common::http::post(target.apache.port, path, &vec![b'p'; 1 << 20]),
        Workload::Headers30 => {
            let headers: String = bench_headers()
                .iter()
                .map(|header| format!("{header}\r\n"))
                .collect();
            common::http::raw(
                target.apache.port,
                format!(
                    "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Connection: close\r\n\r\n"
                )
                .as_bytes(),
            )
        }
        _ => common::http::get(target.apache.port, path),
    };
    let context = format!(
        "{} {}: {}",
        target.name,
        workload.name(),
        target.apache.error_log()
    );
    assert_eq!(response.status, 200, "{context}");
    if workload == Workload::Headers30 {
        // Host and Connection too.
        assert_eq!(response.text(), "32", "{context}");
        return;
    }
    let (length, start) = workload.expected();
    assert_eq!(response.body.len(), length, "{context}");
    assert!(response.body.starts_with(start), "{context}");
}

fn report(
    targets: &[Contender],
    samples: &BTreeMap<(Workload, &'static str), Vec<Sample>>,
    rss: &[(&str, Vec<f64>, Vec<f64>)],
    instructions: &[(Workload, &str, f64)],
    rounds: usize,
    seconds: u32,
) -> String {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Measured in one run on {cores} cores: wrk -t2, {rounds} interleaved round(s) of {seconds} s per workload and target, medians (min-max) of requests/s; ratios are of medians from this run. The native rows are Apache's own C handler sending the same bytes (the static file for the file workload): its ratio to mod_wsgi is the most any gateway could reach over mod_wsgi on this machine.\n"
    );
    table_head(
        &mut out,
        &[
            "workload",
            "target",
            "req/s median (min-max)",
            "vs native/static",
            "vs mod_wsgi embedded",
            "vs mod_wsgi daemon",
            "p50 ms",
            "p99 ms",
            "socket errors",
        ],
    );
    for workload in Workload::ALL {
        let rate = |name: &str| samples.get(&(workload, name)).map(|s| Summary::of(s).rate);
        let (native, mod_wsgi, wsgi_daemon) =
            (rate("native"), rate("mod_wsgi"), rate("mod_wsgi-daemon"));
        for target in targets {
            let Some(runs) = samples.get(&(workload, target.name)) else {
                continue;
            };
            let summary = Summary::of(runs);
            let ratio = |base: Option<f64>| match base {
                Some(base) if base > 0.0 => format!("{:.2}", summary.rate / base),
                _ => "-".into(),
            };
            let vs_native = if target.native {
                "-".into()
            } else {
                ratio(native)
            };
            let vs_wsgi = if target.name == "mod_wsgi" {
                "-".into()
            } else {
                ratio(mod_wsgi)
            };
            let vs_daemon = if target.name == "mod_rwsgi-daemon" {
                ratio(wsgi_daemon)
            } else {
                "-".into()
            };
            let _ = writeln!(
                out,
                "| {} | {} | {:.0} ({:.0}-{:.0}) | {} | {} | {} | {:.2} | {:.2} | {} |",
                workload.name(),
                target.name,
                summary.rate,
                summary.min,
                summary.max,
                vs_native,
                vs_wsgi,
                vs_daemon,
                summary.p50_ms,
                summary.p99_ms,
                summary.socket_errors
            );
        }
    }
    out.push('\n');
    table_head(
        &mut out,
        &[
            "target",
            "largest Apache child RSS after the run (MiB)",
            "every Apache child (MiB)",
            "daemon processes (MiB)",
        ],
    );
    for (name, children, daemons) in rss {
        let list = |values: &[f64]| {
            let each: Vec<String> = values.iter().map(|mib| format!("{mib:.1}")).collect();
            if each.is_empty() {
                "-".to_string()
            } else {
                each.join(", ")
            }
        };
        let largest = children.first().copied().unwrap_or(0.0);
        let _ = writeln!(
            out,
            "| {name} | {largest:.1} | {} | {} |",
            list(children),
            list(daemons)
        );
    }
    if !instructions.is_empty() {
        let _ = writeln!(
            out,
            "\nInstructions per request, counted by callgrind in one Apache process (`-X`) and, in daemon mode, the group's processes too, one keep-alive connection: the same for the same binaries whatever the machine is doing. \"Added\" is what the target executes beyond Apache's own native handler.\n"
        );
        table_head(
            &mut out,
            &[
                "workload",
                "target",
                "instructions per request",
                "added over native",
                "vs mod_wsgi embedded",
                "vs mod_wsgi daemon",
            ],
        );
        let find = |workload: Workload, name: &str| {
            instructions
                .iter()
                .find(|(w, n, _)| *w == workload && *n == name)
                .map(|&(_, _, count)| count)
        };
        for &(workload, name, count) in instructions {
            let added = match find(workload, "native") {
                Some(native) if name != "native" => format!("{:.0}", count - native),
                _ => "-".into(),
            };
            let vs_wsgi = match find(workload, "mod_wsgi") {
                Some(wsgi) if name == "mod_rwsgi" => format!("{:.2}x fewer", wsgi / count),
                _ => "-".into(),
            };
            let vs_daemon = match find(workload, "mod_wsgi-daemon") {
                Some(wsgi) if name == "mod_rwsgi-daemon" => format!("{:.2}x fewer", wsgi / count),
                _ => "-".into(),
            };
            let _ = writeln!(
                out,
                "| {} | {name} | {count:.0} | {added} | {vs_wsgi} | {vs_daemon} |",
                workload.name()
            );
        }
    }
    out
}

/// Every process descending from `parent`.
fn descendants(parent: u32) -> Vec<common::processes::Process> {
    let all = common::processes::all();
    let mut found: Vec<common::processes::Process> = Vec::new();
    let mut parents = vec![parent];
    while let Some(p) = parents.pop() {
        for process in all.iter().filter(|q| q.ppid == p) {
            parents.push(process.pid);
            found.push(process.clone());
        }
    }
    found
}

/// A markdown table's heading row and the separator under it.
fn table_head(out: &mut String, columns: &[&str]) {
    let _ = writeln!(out, "| {} |", columns.join(" | "));
    let _ = writeln!(out, "|{}", " --- |".repeat(columns.len()));
}
