//! `WSGIScriptAlias`: which URLs map to which script, with which options.

use std::fmt::Debug;
use std::path::PathBuf;
use std::sync::Arc;

use super::parse::{application_group_option, on_off, process_group_option};

/// WSGIScriptAliasMatch's compiled pattern. Apache's own regex (so that it
/// matches what AliasMatch and mod_wsgi match), which the `apache` layer
/// compiles: it hands the directives a [`CompilePattern`].
pub trait Pattern: Debug + Send + Sync {
    /// The byte ranges of the whole match and of each group ($0 to $9),
    /// None for a group that did not take part; None without a match.
    fn captures(&self, subject: &[u8]) -> Option<Vec<Option<(usize, usize)>>>;
}

/// Compiles a pattern, or says why it cannot.
pub type CompilePattern = fn(&str) -> Result<Arc<dyn Pattern>, String>;

/// `WSGIScriptAlias URL-path file-path [option=value ...]`. Options left
/// unset defer to the directives of the request's directory.
#[derive(Clone, Debug, Default)]
pub struct ScriptAlias {
    pub url_path: String,
    /// WSGIScriptAliasMatch: `url_path` as a compiled regex; `script` may
    /// then hold $0-$9 (or &) back-references.
    pub pattern: Option<Arc<dyn Pattern>>,
    pub script: PathBuf,
    pub callable: Option<String>,
    pub application_group: Option<String>,
    pub pass_authorization: Option<bool>,
    /// `process-group=`: the daemon process group (as written; expanded per
    /// request), winning over WSGIProcessGroup.
    pub process_group: Option<String>,
}

impl ScriptAlias {
    /// The file name `uri` maps to: the script path followed by the rest of
    /// the URI, which Apache's directory walk then turns into PATH_INFO.
    pub fn filename_for(&self, uri: &[u8]) -> Option<Vec<u8>> {
        if let Some(pattern) = &self.pattern {
            // As AliasMatch and mod_wsgi: the script with the groups put in,
            // then whatever of the URI follows the match.
            let groups = pattern.captures(uri)?;
            let (_, end) = groups[0]?;
            let script = self.script.as_os_str().as_encoded_bytes();
            let mut filename = substitute(script, uri, &groups);
            filename.extend_from_slice(&uri[end..]);
            return Some(filename);
        }
        let matched = alias_match(uri, self.url_path.as_bytes())?;
        let script = self.script.as_os_str().as_encoded_bytes();
        let mut rest = &uri[matched..];
        // An alias ending in '/' has eaten the slash before the rest; a
        // script file (not a directory of scripts) needs it back, so that
        // `WSGIScriptAlias / /srv/app.wsgi` maps /a to /srv/app.wsgi/a.
        if matched > 0 && uri[matched - 1] == b'/' && !script.ends_with(b"/") {
            rest = &uri[matched - 1..];
        }
        let mut filename = Vec::with_capacity(script.len() + rest.len());
        filename.extend_from_slice(script);
        filename.extend_from_slice(rest);
        Some(filename)
    }
}

/// `template` with $0-$9 and & replaced by the groups of a match of
/// `subject`, and \\x by x, as Apache's ap_pregsub does.
fn substitute(template: &[u8], subject: &[u8], groups: &[Option<(usize, usize)>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(template.len());
    let mut bytes = template.iter().copied().peekable();
    while let Some(byte) = bytes.next() {
        let group = match byte {
            b'&' => Some(0),
            b'$' if bytes.peek().is_some_and(u8::is_ascii_digit) => {
                bytes.next().map(|digit| usize::from(digit - b'0'))
            }
            b'\\' if matches!(bytes.peek(), Some(b'$' | b'&')) => {
                out.extend(bytes.next());
                continue;
            }
            _ => None,
        };
        match group {
            Some(n) => {
                if let Some(Some((start, end))) = groups.get(n) {
                    out.extend_from_slice(&subject[*start..*end]);
                }
            }
            None => out.push(byte),
        }
    }
    out
}

/// Parses the arguments of one `WSGIScriptAliasMatch` line.
pub fn parse_script_alias_match(
    args: &[&str],
    compile: CompilePattern,
) -> Result<ScriptAlias, String> {
    let [pattern, ..] = args else {
        return Err(MATCH_USAGE.into());
    };
    let compiled = compile(pattern).map_err(|error| {
        format!("WSGIScriptAliasMatch: '{pattern}' is not a valid regular expression: {error}")
    })?;
    let mut alias = parse_alias("WSGIScriptAliasMatch", MATCH_USAGE, args, false)?;
    alias.pattern = Some(compiled);
    Ok(alias)
}

/// Parses the arguments of one `WSGIScriptAlias` line.
pub fn parse_script_alias(args: &[&str]) -> Result<ScriptAlias, String> {
    parse_alias("WSGIScriptAlias", ALIAS_USAGE, args, true)
}

const ALIAS_USAGE: &str = "WSGIScriptAlias takes a URL path and a script path, then options: WSGIScriptAlias /app /srv/app.wsgi";
const MATCH_USAGE: &str = "WSGIScriptAliasMatch takes a regex and a script path, then options: WSGIScriptAliasMatch ^/([^/]+) /srv/$1.wsgi";

fn parse_alias(
    directive: &str,
    usage: &str,
    args: &[&str],
    url_is_path: bool,
) -> Result<ScriptAlias, String> {
    let [url_path, script, options @ ..] = args else {
        return Err(usage.to_string());
    };
    if url_is_path && !url_path.starts_with('/') {
        return Err(format!(
            "{directive}: the URL path '{url_path}' must start with '/'"
        ));
    }
    if !script.starts_with('/') {
        return Err(format!(
            "{directive}: the script path '{script}' must be absolute"
        ));
    }
    let mut alias = ScriptAlias {
        url_path: url_path.to_string(),
        script: PathBuf::from(script),
        ..ScriptAlias::default()
    };
    for option in options {
        let Some((name, value)) = option.split_once('=') else {
            return Err(format!(
                "{directive}: '{option}' is not an option; options look like callable-object=app"
            ));
        };
        match name {
            "callable-object" => {
                alias.callable = Some(parse_callable(
                    &format!("{directive} callable-object"),
                    value,
                )?)
            }
            "application-group" => {
                alias.application_group = Some(application_group_option(
                    &format!("{directive} application-group"),
                    value,
                )?)
            }
            "pass-authorization" => {
                alias.pass_authorization =
                    Some(on_off(&format!("{directive} pass-authorization"), value)?)
            }
            "process-group" => {
                alias.process_group = Some(process_group_option(
                    &format!("{directive} process-group"),
                    value,
                )?)
            }
            _ => {
                return Err(format!(
                    "{directive}: unknown option '{name}'; accepted: callable-object, application-group, pass-authorization, process-group"
                ));
            }
        }
    }
    Ok(alias)
}

/// A callable's name, which must be a Python identifier.
pub fn parse_callable(what: &str, name: &str) -> Result<String, String> {
    if is_identifier(name) {
        Ok(name.to_string())
    } else {
        Err(format!("{what}: '{name}' is not a Python identifier"))
    }
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}

/// mod_alias's matching rule: a run of '/' in the alias matches a run of '/'
/// in the URI, other bytes match literally, and the match must end at a path
/// segment boundary. Returns the number of URI bytes matched.
fn alias_match(uri: &[u8], alias: &[u8]) -> Option<usize> {
    let (mut u, mut a) = (0, 0);
    while a < alias.len() {
        if alias[a] == b'/' {
            if uri.get(u) != Some(&b'/') {
                return None;
            }
            while alias.get(a) == Some(&b'/') {
                a += 1;
            }
            while uri.get(u) == Some(&b'/') {
                u += 1;
            }
        } else {
            if uri.get(u) != Some(&alias[a]) {
                return None;
            }
            u += 1;
            a += 1;
        }
    }
    let ends_segment = alias.last() == Some(&b'/') || matches!(uri.get(u), None | Some(b'/'));
    ends_segment.then_some(u)
}

/// The unit tests' pattern compiler: Apache's PCRE is not in a test
/// binary, so a pattern is kept as its text and never matched here; what
/// PCRE makes of it is tested against the real Apache (tests/routing.rs).
#[cfg(test)]
pub(super) fn keep_pattern_text(pattern: &str) -> Result<Arc<dyn Pattern>, String> {
    #[derive(Debug)]
    struct Text(#[allow(dead_code)] String);
    impl Pattern for Text {
        fn captures(&self, _subject: &[u8]) -> Option<Vec<Option<(usize, usize)>>> {
            unreachable!("unit tests do not match with Apache's regular expressions")
        }
    }
    Ok(Arc::new(Text(pattern.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alias_maps_a_url_path_to_a_script_leaving_options_to_the_directory() {
        let alias = parse_script_alias(&["/app", "/srv/app.wsgi"]).unwrap();
        assert_eq!(alias.url_path, "/app");
        assert_eq!(alias.script, PathBuf::from("/srv/app.wsgi"));
        assert!(alias.pattern.is_none());
        assert_eq!(alias.callable, None);
        assert_eq!(alias.application_group, None);
        assert_eq!(alias.pass_authorization, None);
        assert_eq!(alias.process_group, None);
    }

    #[test]
    fn alias_options_set_callable_application_group_authorization_and_process_group() {
        let alias = parse_script_alias(&[
            "/app",
            "/srv/app.wsgi",
            "callable-object=app",
            "application-group=%{GLOBAL}",
            "pass-authorization=on",
            "process-group=site",
        ])
        .unwrap();
        assert_eq!(alias.callable.as_deref(), Some("app"));
        assert_eq!(alias.application_group.as_deref(), Some("%{GLOBAL}"));
        assert_eq!(alias.pass_authorization, Some(true));
        assert_eq!(alias.process_group.as_deref(), Some("site"));
    }

    #[test]
    fn an_alias_needs_a_url_path_and_a_script_path() {
        assert_eq!(
            parse_script_alias(&["/app"]).unwrap_err(),
            "WSGIScriptAlias takes a URL path and a script path, then options: WSGIScriptAlias /app /srv/app.wsgi"
        );
    }

    #[test]
    fn an_alias_url_path_must_start_with_a_slash() {
        assert_eq!(
            parse_script_alias(&["app", "/srv/app.wsgi"]).unwrap_err(),
            "WSGIScriptAlias: the URL path 'app' must start with '/'"
        );
    }

    #[test]
    fn an_alias_script_path_must_be_absolute() {
        assert_eq!(
            parse_script_alias(&["/app", "srv/app.wsgi"]).unwrap_err(),
            "WSGIScriptAlias: the script path 'srv/app.wsgi' must be absolute"
        );
    }

    #[test]
    fn an_alias_option_is_a_name_equals_value_pair() {
        assert_eq!(
            parse_script_alias(&["/app", "/srv/app.wsgi", "app"]).unwrap_err(),
            "WSGIScriptAlias: 'app' is not an option; options look like callable-object=app"
        );
    }

    #[test]
    fn an_unknown_alias_option_is_refused_with_the_accepted_ones() {
        assert_eq!(
            parse_script_alias(&["/app", "/srv/app.wsgi", "threads=5"]).unwrap_err(),
            "WSGIScriptAlias: unknown option 'threads'; accepted: callable-object, application-group, pass-authorization, process-group"
        );
    }

    #[test]
    fn alias_callable_object_must_be_a_python_identifier() {
        assert_eq!(
            parse_script_alias(&["/app", "/srv/app.wsgi", "callable-object=my-app"]).unwrap_err(),
            "WSGIScriptAlias callable-object: 'my-app' is not a Python identifier"
        );
    }

    #[test]
    fn alias_pass_authorization_must_be_on_or_off() {
        assert_eq!(
            parse_script_alias(&["/app", "/srv/app.wsgi", "pass-authorization=yes"]).unwrap_err(),
            "WSGIScriptAlias pass-authorization: 'yes' is not accepted; use On or Off"
        );
    }

    #[test]
    fn alias_process_group_must_not_be_empty() {
        assert_eq!(
            parse_script_alias(&["/app", "/srv/app.wsgi", "process-group="]).unwrap_err(),
            "WSGIScriptAlias process-group: the process group's name is empty"
        );
    }

    #[test]
    fn alias_application_group_must_not_be_empty() {
        assert_eq!(
            parse_script_alias(&["/app", "/srv/app.wsgi", "application-group="]).unwrap_err(),
            "WSGIScriptAlias application-group: the application group's name is empty; %{GLOBAL} names the main interpreter"
        );
    }

    fn refuse_every_pattern(_pattern: &str) -> Result<Arc<dyn Pattern>, String> {
        Err("missing closing parenthesis".into())
    }

    #[test]
    fn an_alias_match_whose_pattern_does_not_compile_is_refused_with_the_reason() {
        assert_eq!(
            parse_script_alias_match(&["^/(app", "/srv/app.wsgi"], refuse_every_pattern)
                .unwrap_err(),
            "WSGIScriptAliasMatch: '^/(app' is not a valid regular expression: missing closing parenthesis"
        );
    }

    #[test]
    fn an_alias_match_takes_a_pattern_where_an_alias_takes_a_path() {
        let alias = parse_script_alias_match(
            &["^/(\\w+)", "/srv/$1.wsgi", "process-group=site"],
            keep_pattern_text,
        )
        .unwrap();
        assert_eq!(alias.url_path, "^/(\\w+)");
        assert!(alias.pattern.is_some());
        assert_eq!(alias.script, PathBuf::from("/srv/$1.wsgi"));
        assert_eq!(alias.process_group.as_deref(), Some("site"));
    }

    #[test]
    fn an_alias_match_needs_a_pattern() {
        assert_eq!(
            parse_script_alias_match(&[], keep_pattern_text).unwrap_err(),
            "WSGIScriptAliasMatch takes a regex and a script path, then options: WSGIScriptAliasMatch ^/([^/]+) /srv/$1.wsgi"
        );
    }

    #[test]
    fn an_alias_match_needs_a_script_path_after_its_pattern() {
        assert_eq!(
            parse_script_alias_match(&["^/app"], keep_pattern_text).unwrap_err(),
            "WSGIScriptAliasMatch takes a regex and a script path, then options: WSGIScriptAliasMatch ^/([^/]+) /srv/$1.wsgi"
        );
    }

    #[test]
    fn an_alias_match_script_path_must_be_absolute() {
        assert_eq!(
            parse_script_alias_match(&["^/(\\w+)", "$1.wsgi"], keep_pattern_text).unwrap_err(),
            "WSGIScriptAliasMatch: the script path '$1.wsgi' must be absolute"
        );
    }

    #[test]
    fn an_alias_match_names_itself_in_option_errors() {
        assert_eq!(
            parse_script_alias_match(
                &["^/(\\w+)", "/srv/$1.wsgi", "callable-object=1st"],
                keep_pattern_text
            )
            .unwrap_err(),
            "WSGIScriptAliasMatch callable-object: '1st' is not a Python identifier"
        );
    }

    #[test]
    fn a_callable_may_be_any_python_identifier() {
        for name in ["application", "_app", "app2", "héllo"] {
            assert_eq!(parse_callable("X", name).as_deref(), Ok(name));
        }
    }

    #[test]
    fn a_callable_may_not_be_empty_dotted_or_start_with_a_digit() {
        for name in ["", "app.main", "2app", "my app"] {
            assert_eq!(
                parse_callable("X", name).unwrap_err(),
                format!("X: '{name}' is not a Python identifier")
            );
        }
    }
}
