//! Two applications in two application groups of one Apache (mod_wsgi's
//! default, one group per script), both driven at once: mod_wsgi gives
//! each a sub-interpreter in the same processes; mod_rwsgi runs the first
//! in Apache's (or the daemon group's) processes and the second in
//! processes of its own. `%{GLOBAL}` (both in one interpreter, what the two
//! applications must not do) shows what isolation costs.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::common::{self, Apache, Gateway, SharedDir};
use crate::wrk::{Sample, Summary, wrk};

/// Connections per application.
const CONNECTIONS: u32 = 16;

const PATHS: [&str; 2] = ["/one", "/two"];

/// (name, gateway, site) of each target.
fn targets(shared: &SharedDir) -> Vec<(&'static str, Gateway, String)> {
    let apps = shared.0.join("apps");
    let aliases = format!(
        "{}WSGIScriptAlias /one {apps}/hello.wsgi\nWSGIScriptAlias /two {apps}/hello.wsgi\n",
        super::MPM,
        apps = apps.display()
    );
    let daemon = format!(
        "WSGISocketPrefix @ROOT@/wsgi\nWSGIDaemonProcess shared processes=2 threads=16\nWSGIProcessGroup shared\n{aliases}"
    );
    let global = format!("WSGIApplicationGroup %{{GLOBAL}}\n{aliases}");
    vec![
        ("mod_rwsgi", Gateway::Rwsgi, aliases.clone()),
        ("mod_wsgi", Gateway::ModWsgi, aliases),
        ("mod_rwsgi-daemon", Gateway::Rwsgi, daemon.clone()),
        ("mod_wsgi-daemon", Gateway::ModWsgi, daemon),
        ("mod_rwsgi %{GLOBAL}", Gateway::Rwsgi, global),
    ]
}

/// Runs the comparison; returns its report.
pub fn run(shared: &SharedDir, rounds: usize, seconds: u32) -> String {
    let started: Vec<(&str, Apache)> = targets(shared)
        .into_iter()
        .map(|(name, gateway, site)| (name, Apache::start_gateway(gateway, &site)))
        .collect();
    for (name, apache) in &started {
        for path in PATHS {
            // With wrk's Host (the port in it): %{RESOURCE} names the
            // group after it.
            let response = common::http::raw(
                apache.port,
                format!(
                    "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
                    apache.port
                )
                .as_bytes(),
            );
            assert_eq!(
                response.status,
                200,
                "{name} {path}: {}",
                apache.error_log()
            );
            assert_eq!(response.body, b"Hello, World!", "{name} {path}");
        }
    }
    let mut samples: BTreeMap<(&str, &str), Vec<Sample>> = BTreeMap::new();
    for _ in 0..rounds {
        for (name, apache) in &started {
            let port = apache.port;
            let runs: Vec<_> = PATHS
                .iter()
                .map(|&path| {
                    std::thread::spawn(move || (path, wrk(port, path, CONNECTIONS, None, seconds)))
                })
                .collect();
            for run in runs {
                let (path, sample) = run.join().unwrap();
                assert_eq!(sample.failed, 0, "{name} {path}: {}", apache.error_log());
                samples.entry((name, path)).or_default().push(sample);
            }
        }
    }
    report(&started, &samples, rounds, seconds)
}

fn report(
    started: &[(&str, Apache)],
    samples: &BTreeMap<(&str, &str), Vec<Sample>>,
    rounds: usize,
    seconds: u32,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Two applications, /one and /two (hello, each its own application group), driven at once, {CONNECTIONS} connections each: {rounds} round(s) of {seconds} s, medians (min-max) of requests/s; memory is every process of the Apache after the run (children, daemon and application-group processes; not the supervisors and manager, which run no Python).\n"
    );
    let _ = writeln!(
        out,
        "| target | /one req/s | /two req/s | both | vs mod_wsgi, same mode | Python processes | their RSS (MiB) |"
    );
    let _ = writeln!(out, "|{}", " --- |".repeat(7));
    let rate = |name: &str, path: &str| samples.get(&(name, path)).map(|s| Summary::of(s));
    let both = |name: &str| -> f64 {
        PATHS
            .iter()
            .filter_map(|p| rate(name, p))
            .map(|s| s.rate)
            .sum()
    };
    for (name, apache) in started {
        let base = if name.contains("daemon") {
            "mod_wsgi-daemon"
        } else {
            "mod_wsgi"
        };
        let vs = if name.starts_with("mod_wsgi") {
            "-".to_string()
        } else {
            format!("{:.2}", both(name) / both(base))
        };
        let cell = |path: &str| {
            rate(name, path).map_or("-".into(), |s| {
                format!("{:.0} ({:.0}-{:.0})", s.rate, s.min, s.max)
            })
        };
        let python: Vec<f64> = super::descendants(apache.parent_pid())
            .iter()
            .filter(|p| !p.command.ends_with("supervisor") && !p.command.starts_with("mod_rwsgi "))
            .map(|p| p.rss_kib as f64 / 1024.0)
            .collect();
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {:.0} | {vs} | {} | {:.1} |",
            cell(PATHS[0]),
            cell(PATHS[1]),
            both(name),
            python.len(),
            python.iter().sum::<f64>()
        );
    }
    out
}
