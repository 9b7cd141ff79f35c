//! GIL contention. In one child of 25 threads every thread's Python runs
//! under that child's one GIL; in 25 children of one thread each (prefork)
//! nothing is shared. The same apps on the same cores in both layouts, for
//! mod_rwsgi, mod_wsgi and Apache's native handler (whose own ratio is what
//! the two layouts cost Apache without any Python).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use crate::common::{self, Apache, Gateway, Mpm, SharedDir};
use crate::wrk::{Sample, Summary, wrk};

/// One connection per worker in either layout.
const CONNECTIONS: u32 = 25;

const ONE_CHILD: &str = "\
StartServers 1
ServerLimit 1
ThreadsPerChild 25
ThreadLimit 25
MaxRequestWorkers 25
MinSpareThreads 25
MaxSpareThreads 25
MaxKeepAliveRequests 0
KeepAliveTimeout 5
LogLevel warn
";

const CHILDREN: &str = "\
StartServers 25
ServerLimit 25
MaxRequestWorkers 25
MinSpareServers 25
MaxSpareServers 25
MaxKeepAliveRequests 0
KeepAliveTimeout 5
LogLevel warn
";

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum App {
    Hello,
    Python1ms,
    Wait2ms,
}

impl App {
    const ALL: [App; 3] = [App::Hello, App::Python1ms, App::Wait2ms];

    fn name(self) -> &'static str {
        match self {
            App::Hello => "hello (13 B)",
            App::Python1ms => "1 ms of Python (GIL held)",
            App::Wait2ms => "2 ms waiting (GIL released)",
        }
    }

    fn path(self) -> &'static str {
        match self {
            App::Hello => "/hello",
            App::Python1ms => "/cpu",
            App::Wait2ms => "/wait",
        }
    }

    /// What a correct answer looks like: (length, first bytes).
    fn expected(self) -> (usize, &'static [u8]) {
        match self {
            App::Hello => (13, b"Hello, World!"),
            App::Python1ms => (90667, b"[{\"id\": 0,"),
            App::Wait2ms => (6, b"waited"),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Layout {
    OneChild,
    Children,
}

struct Contender {
    name: &'static str,
    layout: Layout,
    apache: Apache,
}

impl Contender {
    fn serves(&self, app: App) -> bool {
        self.name != "native" || app == App::Hello
    }
}

/// Runs every app against every target in interleaved rounds; returns the
/// report.
pub fn run(shared: &SharedDir, native_module: &Path, rounds: usize, seconds: u32) -> String {
    let mut targets = Vec::new();
    for (layout, mpm, settings) in [
        (Layout::OneChild, Mpm::Event, ONE_CHILD),
        (Layout::Children, Mpm::Prefork, CHILDREN),
    ] {
        let (native_site, wsgi_site, _) = crate::sites(shared, native_module, settings);
        for (name, gateway, site) in [
            ("native", Gateway::None, &native_site),
            ("mod_rwsgi", Gateway::Rwsgi, &wsgi_site),
            ("mod_wsgi", Gateway::ModWsgi, &wsgi_site),
        ] {
            let apache = Apache::start_full(mpm, gateway, site);
            targets.push(Contender {
                name,
                layout,
                apache,
            });
        }
    }
    for target in &targets {
        for app in App::ALL.into_iter().filter(|&app| target.serves(app)) {
            let response = common::http::get(target.apache.port, app.path());
            let context = format!(
                "{} {:?} {}: {}",
                target.name,
                target.layout,
                app.name(),
                target.apache.error_log()
            );
            assert_eq!(response.status, 200, "{context}");
            let (length, start) = app.expected();
            assert_eq!(response.body.len(), length, "{context}");
            assert!(response.body.starts_with(start), "{context}");
        }
    }
    let mut samples: BTreeMap<(App, &'static str, Layout), Vec<Sample>> = BTreeMap::new();
    for round in 0..rounds {
        for app in App::ALL {
            for target in targets.iter().filter(|t| t.serves(app)) {
                let sample = wrk(target.apache.port, app.path(), CONNECTIONS, None, seconds);
                assert_eq!(
                    sample.failed,
                    0,
                    "{} {:?} {}: failed answers (round {round}): {}",
                    target.name,
                    target.layout,
                    app.name(),
                    target.apache.error_log()
                );
                samples
                    .entry((app, target.name, target.layout))
                    .or_default()
                    .push(sample);
            }
        }
    }
    report(&samples, rounds, seconds)
}

fn report(
    samples: &BTreeMap<(App, &'static str, Layout), Vec<Sample>>,
    rounds: usize,
    seconds: u32,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "GIL contention: one child of 25 threads (one GIL) against 25 children of one thread (prefork), {CONNECTIONS} connections, {rounds} interleaved round(s) of {seconds} s; medians (min-max) of requests/s.\n"
    );
    crate::table_head(
        &mut out,
        &[
            "app",
            "target",
            "1 child x 25 threads: req/s",
            "p99 ms",
            "25 children x 1 thread: req/s",
            "p99 ms",
            "1 child / 25 children",
        ],
    );
    for app in App::ALL {
        for name in ["native", "mod_rwsgi", "mod_wsgi"] {
            let summary = |layout: Layout| {
                samples
                    .get(&(app, name, layout))
                    .map(|runs| Summary::of(runs))
            };
            let (Some(one), Some(many)) = (summary(Layout::OneChild), summary(Layout::Children))
            else {
                continue;
            };
            let _ = writeln!(
                out,
                "| {} | {name} | {:.0} ({:.0}-{:.0}) | {:.2} | {:.0} ({:.0}-{:.0}) | {:.2} | {:.2} |",
                app.name(),
                one.rate,
                one.min,
                one.max,
                one.p99_ms,
                many.rate,
                many.min,
                many.max,
                many.p99_ms,
                one.rate / many.rate
            );
        }
    }
    out
}
