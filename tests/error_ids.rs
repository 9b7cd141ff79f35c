//! The error reference: every error and warning mod_rwsgi logs carries an
//! identifier (`LogId("RW0502")` at its log site), each identifier is used
//! once, docs/errors.md documents exactly the identifiers the source uses,
//! and Apache's error log shows them. Only the last test runs Apache.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use common::Apache;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn source_files() -> Vec<PathBuf> {
    common::source::rust_files(&root().join("src"))
}

/// `text` without its comments, string literals kept: a `LogId("...")`
/// shown in a doc comment is not a log site.
fn without_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                out.push(c);
                while let Some(c) = chars.next() {
                    out.push(c);
                    if c == '\\' {
                        out.extend(chars.next());
                    } else if c == '"' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push(c);
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut last = ' ';
                for c in chars.by_ref() {
                    if last == '*' && c == '/' {
                        break;
                    }
                    last = c;
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// Each `LogId("...")` literal in `src/`, with the places it occurs.
fn ids_in_source() -> BTreeMap<String, Vec<String>> {
    const OPEN: &str = "LogId(\"";
    let mut ids: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for file in source_files() {
        let text = fs::read_to_string(&file).expect("read a source file");
        let code = without_comments(&text);
        let shown = file.strip_prefix(root()).unwrap_or(&file).display();
        for (number, line) in code.lines().enumerate() {
            let mut rest = line;
            while let Some(at) = rest.find(OPEN) {
                rest = &rest[at + OPEN.len()..];
                let end = rest.find('"').unwrap_or(rest.len());
                ids.entry(rest[..end].to_string())
                    .or_default()
                    .push(format!("{shown}:{}", number + 1));
                rest = &rest[end..];
            }
        }
    }
    ids
}

/// The identifiers docs/errors.md has a `### RWnnnn` section for.
fn ids_in_reference() -> BTreeSet<String> {
    let text = fs::read_to_string(root().join("docs/errors.md")).expect("read docs/errors.md");
    text.lines()
        .filter_map(|line| line.strip_prefix("### "))
        .map(|heading| heading.trim().to_string())
        .collect()
}

fn well_formed(id: &str) -> bool {
    id.len() == 6 && id.starts_with("RW") && id[2..].bytes().all(|b| b.is_ascii_digit())
}

#[test]
fn each_identifier_is_rw_and_four_digits() {
    let ids = ids_in_source();
    assert!(ids.len() > 50, "too few log identifiers found: {ids:?}");
    let bad: Vec<_> = ids.iter().filter(|(id, _)| !well_formed(id)).collect();
    assert!(
        bad.is_empty(),
        "identifiers not of the form RWnnnn: {bad:?}"
    );
}

#[test]
fn each_identifier_is_used_at_one_log_site() {
    let reused: Vec<_> = ids_in_source()
        .into_iter()
        .filter(|(_, sites)| sites.len() > 1)
        .collect();
    assert!(
        reused.is_empty(),
        "identifiers used at more than one site: {reused:?}"
    );
}

#[test]
fn the_reference_documents_exactly_the_identifiers_in_the_source() {
    let source: BTreeSet<String> = ids_in_source().into_keys().collect();
    let reference = ids_in_reference();
    let undocumented: Vec<_> = source.difference(&reference).collect();
    let unused: Vec<_> = reference.difference(&source).collect();
    assert!(
        undocumented.is_empty() && unused.is_empty(),
        "in src/ but not in docs/errors.md: {undocumented:?}; in docs/errors.md but not in src/: {unused:?}"
    );
}

#[test]
fn the_reference_lists_identifiers_in_numeric_order() {
    let text = fs::read_to_string(root().join("docs/errors.md")).expect("read docs/errors.md");
    let headings: Vec<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("### "))
        .map(str::trim)
        .collect();
    let mut sorted = headings.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(headings, sorted, "sections out of order or repeated");
}

#[test]
fn a_missing_script_is_logged_with_its_identifier() {
    let apache = Apache::start("WSGIScriptAlias /missing @APPS@/does_not_exist.wsgi\n");
    assert_eq!(apache.get("/missing").status, 404);
    let log = apache.wait_for_log("does_not_exist.wsgi");
    let line = log
        .lines()
        .find(|line| line.contains("Target WSGI script not found"))
        .unwrap_or_else(|| panic!("no not-found line in the log:\n{log}"));
    assert!(
        line.contains("] RW0502: mod_rwsgi: Target WSGI script not found"),
        "the line does not start its message with RW0502: {line}"
    );
}
