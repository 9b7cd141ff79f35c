//! Driving a target with wrk and reading its report.

use std::path::Path;
use std::process::Command;

#[derive(Default, Clone)]
pub struct Sample {
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Answers other than 2xx/3xx: real failures.
    pub failed: u64,
    /// Connection-level errors wrk counts (a read or timeout at the end of a
    /// run happens against Apache's own handler too): reported, not fatal.
    pub socket_errors: u64,
}

/// One target's rounds of one workload: medians, and the range of the rate.
pub struct Summary {
    pub rate: f64,
    pub min: f64,
    pub max: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub socket_errors: u64,
}

impl Summary {
    pub fn of(runs: &[Sample]) -> Summary {
        let mut rates: Vec<f64> = runs.iter().map(|s| s.requests_per_second).collect();
        let mut p50: Vec<f64> = runs.iter().map(|s| s.p50_ms).collect();
        let mut p99: Vec<f64> = runs.iter().map(|s| s.p99_ms).collect();
        Summary {
            min: rates.iter().cloned().fold(f64::MAX, f64::min),
            max: rates.iter().cloned().fold(0.0, f64::max),
            rate: median(&mut rates),
            p50_ms: median(&mut p50),
            p99_ms: median(&mut p99),
            socket_errors: runs.iter().map(|s| s.socket_errors).sum(),
        }
    }
}

/// Drives `path` with wrk (two threads) for `seconds`, over `connections`
/// keep-alive connections, with an optional Lua script for the request.
pub fn wrk(port: u16, path: &str, connections: u32, script: Option<&Path>, seconds: u32) -> Sample {
    let mut command = Command::new("wrk");
    command
        .arg("-t2")
        .arg(format!("-c{connections}"))
        .arg(format!("-d{seconds}s"))
        .arg("--latency");
    if let Some(script) = script {
        command.arg("-s").arg(script);
    }
    let out = command
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .output()
        .expect("run wrk (Debian package wrk)");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut sample = Sample::default();
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", value] => sample.requests_per_second = value.parse().unwrap_or(0.0),
            ["50%", value] => sample.p50_ms = millis(value),
            ["99%", value] => sample.p99_ms = millis(value),
            ["Non-2xx", "or", "3xx", "responses:", n] => {
                sample.failed += n.parse::<u64>().unwrap_or(1)
            }
            ["Socket", "errors:", rest @ ..] => {
                sample.socket_errors += rest
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                    .sum::<u64>();
            }
            _ => {}
        }
    }
    assert!(
        sample.requests_per_second > 0.0,
        "wrk printed no rate:\n{text}"
    );
    sample
}

fn millis(text: &str) -> f64 {
    let (number, unit) =
        text.split_at(text.find(|c: char| c.is_alphabetic()).unwrap_or(text.len()));
    let value: f64 = number.parse().unwrap_or(0.0);
    match unit {
        "us" => value / 1000.0,
        "s" => value * 1000.0,
        _ => value,
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}
