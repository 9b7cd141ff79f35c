//! The layer rule of docs/architecture.md, checked on the source: each of
//! the crate's top-level modules may use only the modules below it, and
//! only the `apache` layer touches Apache's raw bindings. No Apache runs
//! here; the test reads `src/`.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// The layers, bottom first, as docs/architecture.md draws them. A module
/// may use the ones listed before its own row; modules in one row do not
/// use each other.
const LAYERS: &[&[&str]] = &[
    &["config"],
    &["apache"],
    &["interpreter"],
    &["wsgi"],
    &["embedded"],
    &["daemon"],
    &["auth", "handler"],
];

fn source_files() -> Vec<PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = common::source::rust_files(&src);
    // rwsgi-express is a binary of its own, outside the module's layers.
    files.retain(|f| !f.starts_with(src.join("bin")));
    files
}

/// `path` relative to `src/`, with `/` separators.
fn relative(path: &Path) -> String {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    path.strip_prefix(&src)
        .expect("under src/")
        .to_string_lossy()
        .into_owned()
}

/// The top-level module a file belongs to (`wsgi/input.rs` -> `wsgi`,
/// `auth.rs` -> `auth`); None for the crate root.
fn layer_of(relative: &str) -> Option<&str> {
    match relative.split_once('/') {
        Some((dir, _)) => Some(dir),
        None if relative == "lib.rs" => None,
        None => relative.strip_suffix(".rs"),
    }
}

/// The code of a Rust file without its comments and string literals, so
/// that a path named in a comment or a message is not taken for a use.
fn code_only(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if text[i..].starts_with("//") {
            i += text[i..].find('\n').unwrap_or(text.len() - i);
        } else if text[i..].starts_with("/*") {
            i += text[i..].find("*/").map_or(text.len() - i, |end| end + 2);
        } else if bytes[i] == b'"' {
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if bytes[i] == b'\'' && text[i..].chars().nth(2) == Some('\'') {
            // A character literal such as '"' (lifetimes have no closing quote).
            i += text[i + 1..].chars().next().map_or(1, char::len_utf8) + 2;
        } else if bytes[i] == b'\'' && text[i..].starts_with("'\\") {
            i += text[i + 2..]
                .find('\'')
                .map_or(text.len() - i, |end| end + 3);
        } else {
            let c = text[i..].chars().next().expect("in bounds");
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// The crate's top-level modules a file's code names through `crate::`
/// paths, `use crate::{a, b::c}` groups included.
fn layers_used(code: &str) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // rwsgi_crate::, not crate::
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut segment_start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => segment_start = true,
                    c if segment_start && (c.is_alphabetic() || c == '_') => {
                        let name: String = group[i..]
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect();
                        used.insert(name);
                        segment_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            used.insert(name);
        }
    }
    used
}

fn row_of(layer: &str) -> Option<usize> {
    LAYERS.iter().position(|row| row.contains(&layer))
}

/// Every (file, layer) use against the rule.
fn wrong_way_uses() -> Vec<(String, String)> {
    let mut wrong = Vec::new();
    for path in source_files() {
        let file = relative(&path);
        let Some(own) = layer_of(&file) else { continue };
        let own_row = row_of(own).unwrap_or_else(|| {
            panic!("src/{file} is in `{own}`, which tests/layers.rs's LAYERS does not place")
        });
        let code = code_only(&fs::read_to_string(&path).expect("read source"));
        for used in layers_used(&code) {
            if used == own {
                continue;
            }
            match row_of(&used) {
                Some(row) if row < own_row => {}
                Some(_) => wrong.push((file.clone(), used)),
                None => {} // not a layer: a crate-root item
            }
        }
    }
    wrong
}

#[test]
fn no_module_uses_a_layer_above_its_own_or_beside_it() {
    let wrong = wrong_way_uses();
    assert!(
        wrong.is_empty(),
        "these files use a layer that is not below their own (docs/architecture.md): {wrong:?}"
    );
}

#[test]
fn every_top_level_module_has_its_place_in_the_layers() {
    let lib = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs"))
        .expect("read src/lib.rs");
    let declared: Vec<&str> = lib
        .lines()
        .filter_map(|line| line.trim().strip_prefix("mod "))
        .map(|rest| rest.trim_end_matches(';').trim())
        .collect();
    assert!(!declared.is_empty(), "no `mod` line found in src/lib.rs");
    let unplaced: Vec<_> = declared.iter().filter(|m| row_of(m).is_none()).collect();
    assert!(unplaced.is_empty(), "not in LAYERS: {unplaced:?}");
}

#[test]
fn only_the_apache_layer_uses_apaches_raw_bindings() {
    let outside: Vec<String> = source_files()
        .into_iter()
        .map(|path| relative(&path))
        .filter(|file| layer_of(file) != Some("apache"))
        .filter(|file| {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(file);
            let code = code_only(&fs::read_to_string(path).expect("read source"));
            code.contains("apache::ffi")
        })
        .collect();
    assert!(
        outside.is_empty(),
        "apache::ffi used outside src/apache/: {outside:?}"
    );
}

#[test]
fn uses_are_found_in_paths_and_groups_but_not_in_comments_or_strings() {
    let code = code_only(
        "use crate::{config::{A, B}, apache};\n\
         // crate::daemon in a comment\n\
         let s = \"crate::handler\"; let c = '\"';\n\
         crate::wsgi::serve(); rwsgi_crate::auth::x();",
    );
    let used: Vec<_> = layers_used(&code).into_iter().collect();
    assert_eq!(used, ["apache", "config", "wsgi"]);
}
