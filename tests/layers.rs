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
            i = block_comment_end(text, i);
        } else if let Some((opening, hashes)) = raw_string_opening(&text[i..])
            .filter(|_| !text[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_'))
        {
            // r"..." or r#"..."#: no escapes, ended by the quote and hashes.
            let close = format!("\"{}", "#".repeat(hashes));
            let body = i + opening;
            i = text[body..]
                .find(&close)
                .map_or(text.len(), |end| body + end + close.len());
            out.push_str("\"\"");
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

/// Where the block comment opening at `start` ends: block comments nest
/// in Rust, so `/* a /* b */ crate::x */` is one comment.
fn block_comment_end(text: &str, start: usize) -> usize {
    let mut depth = 0;
    let mut i = start;
    while i < text.len() {
        if text[i..].starts_with("/*") {
            depth += 1;
            i += 2;
        } else if text[i..].starts_with("*/") {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += text[i..].chars().next().map_or(1, char::len_utf8);
        }
    }
    text.len()
}

/// The length of the opening of a raw string literal at the start of
/// `code` and its number of hashes (`r"` (2, 0), `br#"` (4, 1), `cr"`
/// (3, 0)), if one opens there.
fn raw_string_opening(code: &str) -> Option<(usize, usize)> {
    let byte = usize::from(code.starts_with('b') || code.starts_with('c'));
    let rest = code[byte..].strip_prefix('r')?;
    let hashes = rest.bytes().take_while(|&b| b == b'#').count();
    rest[hashes..]
        .starts_with('"')
        .then_some((byte + 2 + hashes, hashes))
}

/// The first names of the paths that follow `prefix` in `code` (`a` in
/// `prefix a::b`), `prefix{a, b::c}` groups included. The prefix must not
/// be the end of a longer name (`rwsgi_crate::` is not `crate::`).
fn names_after(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find(prefix) {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + prefix.len()..];
        if !before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            path_heads(rest, &mut used);
        }
    }
    used
}

/// The first name of the path `rest` starts with, or of each path of the
/// group it starts with; `*` for a glob.
fn path_heads(rest: &str, used: &mut BTreeSet<String>) {
    let name = |from: &str| -> String {
        from.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    if let Some(group) = rest.strip_prefix('{') {
        let mut depth = 0;
        let mut segment_start = true;
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => segment_start = true,
                '*' if segment_start => {
                    used.insert("*".to_string());
                    segment_start = false;
                }
                c if segment_start && (c.is_alphabetic() || c == '_') => {
                    used.insert(name(&group[i..]));
                    segment_start = false;
                }
                _ => {}
            }
        }
    } else if rest.starts_with('*') {
        used.insert("*".to_string());
    } else {
        used.insert(name(rest));
    }
}

/// How deep a file's module is: `auth.rs` and `handler/mod.rs` 1,
/// `wsgi/input.rs` 2, `wsgi/response/state.rs` 3.
fn module_depth(relative: &str) -> usize {
    let parts: Vec<&str> = relative.split('/').collect();
    if parts.last() == Some(&"mod.rs") {
        parts.len() - 1
    } else {
        parts.len()
    }
}

/// The crate's top-level names a file's code reaches: through `crate::`
/// paths, and through `super::` chains that climb to the crate root from
/// where they stand (a file `depth` modules deep, plus the inline `mod x {`
/// blocks around the chain). A rename of the crate root (`use crate as
/// c;`, `extern crate self as c;`) would hide every path through it, so it counts as a use of
/// `crate as`, which no layer may make.
fn layers_used(code: &str, depth: usize) -> BTreeSet<String> {
    let mut used = names_after(code, "crate::");
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let renames_root = |after: &str| {
        let after = after.trim_start();
        let after = after.strip_prefix("self").unwrap_or(after);
        after.trim_start().starts_with("as ")
    };
    if code
        .match_indices("crate")
        .any(|(at, _)| !code[..at].ends_with(ident) && renames_root(&code[at + 5..]))
    {
        used.insert("crate as".to_string());
    }
    // For each open brace: whether it opened an inline module.
    let mut braces: Vec<bool> = Vec::new();
    let mut i = 0;
    while i < code.len() {
        let rest = &code[i..];
        let after_name = !code[..i].ends_with(ident);
        if after_name && rest.starts_with("mod") && rest[3..].starts_with(char::is_whitespace) {
            let name_start = rest.len() - rest[3..].trim_start().len();
            let name_end = rest[name_start..]
                .find(|c: char| !ident(c))
                .map_or(rest.len(), |n| n + name_start);
            if rest[name_end..].trim_start().starts_with('{') {
                i += name_end + rest[name_end..].find('{').expect("seen") + 1;
                braces.push(true);
                continue;
            }
        }
        // `self::super::` climbs as `super::` does.
        let chain = rest
            .strip_prefix("self::")
            .filter(|r| r.starts_with("super::"));
        if after_name
            && !code[..i].ends_with("::")
            && (chain.is_some() || rest.starts_with("super::"))
        {
            let rest = chain.unwrap_or(rest);
            let skipped = code.len() - i - rest.len();
            let climb = rest.len() - rest.trim_start_matches("super::").len();
            let modules = depth + braces.iter().filter(|&&module| module).count();
            if climb / "super::".len() >= modules {
                path_heads(&rest[climb..], &mut used);
            }
            i += skipped + climb;
            continue;
        }
        match rest.chars().next().expect("in bounds") {
            '{' => braces.push(false),
            '}' => {
                braces.pop();
            }
            _ => {}
        }
        i += rest.chars().next().map_or(1, char::len_utf8);
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
        for used in layers_used(&code, module_depth(&file)) {
            if used == own || used == "self" {
                continue;
            }
            match row_of(&used) {
                Some(row) if row < own_row => {}
                // Above or beside; or an item of the crate root, which
                // names the glue (`Rwsgi`) and is for Apache's calls only.
                _ => wrong.push((file.clone(), used)),
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
            names_after(&code, "apache::").contains("ffi")
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
    let used: Vec<_> = layers_used(&code, 1).into_iter().collect();
    assert_eq!(used, ["apache", "config", "wsgi"]);
}

#[test]
fn raw_strings_are_not_code() {
    let code = code_only(
        "let a = r\"crate::daemon \\\"; let b = r#\"crate::handler\"#;\n\
         let c = br\"crate::auth\"; let d = cr\"crate::daemon\"; crate::config::x(); let r#type = 1;",
    );
    let used: Vec<_> = layers_used(&code, 1).into_iter().collect();
    assert_eq!(used, ["config"], "{code}");
}

#[test]
fn super_paths_that_climb_to_the_crate_root_are_uses_of_what_they_name() {
    let code = "use super::super::{daemon, wsgi::x}; use super::environ; super::handler::f();\n\
                mod tests { use super::*; use super::super::*; }";
    // From wsgi/response/mod.rs (depth 2): super::super:: is the root,
    // but not in the inline module, where it takes a third.
    let used: Vec<_> = layers_used(code, 2).into_iter().collect();
    assert_eq!(used, ["daemon", "wsgi"]);
    // From auth.rs (depth 1): super:: is the root already, but for the
    // inline module's own super::*.
    let used: Vec<_> = layers_used(code, 1).into_iter().collect();
    assert_eq!(used, ["*", "daemon", "environ", "handler", "wsgi"]);
    assert_eq!(module_depth("auth.rs"), 1);
    assert_eq!(module_depth("handler/mod.rs"), 1);
    assert_eq!(module_depth("wsgi/response/state.rs"), 3);
}

#[test]
fn a_layer_may_not_reach_the_glue_through_the_crate_root() {
    let used = layers_used("crate::Rwsgi::handle(r);", 2);
    assert!(used.contains("Rwsgi"));
    assert_eq!(row_of("Rwsgi"), None, "so wrong_way_uses counts it");
}

#[test]
fn raw_bindings_are_found_inside_groups() {
    assert!(names_after("use crate::apache::{ffi, Request};", "apache::").contains("ffi"));
    assert!(names_after("crate::apache::ffi::ap_x()", "apache::").contains("ffi"));
    assert!(!names_after("use crate::apache::{Request};", "apache::").contains("ffi"));
}

#[test]
fn nested_block_comments_are_not_code() {
    let code = code_only("/* a /* b */ crate::daemon::x(); */ crate::config::y();");
    let used: Vec<_> = layers_used(&code, 1).into_iter().collect();
    assert_eq!(used, ["config"], "{code}");
}

#[test]
fn self_super_chains_climb_as_super_chains_do() {
    let used: Vec<_> = layers_used("use self::super::super::daemon;", 2)
        .into_iter()
        .collect();
    assert_eq!(used, ["daemon"]);
}

#[test]
fn an_inline_module_opened_across_lines_counts_for_super_chains() {
    // From auth.rs (depth 1), inside `mod\ntests {`: super:: is auth.
    let used = layers_used("mod\ntests {\n use super::handler; }", 1);
    assert!(used.is_empty(), "{used:?}");
}

#[test]
fn renaming_the_crate_root_is_a_use_no_layer_may_make() {
    let used = layers_used("use crate as root; root::daemon::x();", 1);
    assert!(used.contains("crate as"), "{used:?}");
    assert!(layers_used("extern crate self as root;", 1).contains("crate as"));
    assert_eq!(row_of("crate as"), None, "so wrong_way_uses counts it");
    assert!(!layers_used("let crate_as = 1; use crate::config;", 1).contains("crate as"));
}

/// The `.rs` files docs/architecture.md's "Files" section names, relative
/// to the repository: each bullet starts with a folder and names files
/// under it.
fn files_in_the_architecture_page() -> BTreeSet<String> {
    let page =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/architecture.md"))
            .expect("read docs/architecture.md");
    let section = page.split("\n## Files\n").nth(1).expect("a Files section");
    let section = section.split("\n## ").next().expect("its text");
    let mut named = BTreeSet::new();
    for bullet in section.split("\n- ").skip(1) {
        let mut quoted = bullet.split('`').skip(1).step_by(2);
        let folder = quoted.next().expect("a bullet starts with its folder");
        assert!(
            folder.ends_with('/'),
            "bullet does not start with a folder: {bullet}"
        );
        named.extend(
            quoted
                .filter(|name| name.ends_with(".rs"))
                .map(|name| format!("{folder}{name}")),
        );
    }
    named
}

#[test]
fn the_architecture_page_names_every_source_file_and_no_other() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut present = BTreeSet::new();
    for dir in ["src", "crates/wire/src"] {
        for path in common::source::rust_files(&root.join(dir)) {
            let path = path.strip_prefix(root).expect("under the repository");
            present.insert(path.to_string_lossy().into_owned());
        }
    }
    let named = files_in_the_architecture_page();
    let unnamed: Vec<_> = present.difference(&named).collect();
    let gone: Vec<_> = named.difference(&present).collect();
    assert!(
        unnamed.is_empty(),
        "not in docs/architecture.md's Files: {unnamed:?}"
    );
    assert!(
        gone.is_empty(),
        "in docs/architecture.md's Files, not in the source: {gone:?}"
    );
}
