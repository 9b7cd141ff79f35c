//! What the WSGI directives configure, per server (virtual host). Pure Rust:
//! the `apache` layer parses the config file and stores these values.

use std::path::PathBuf;

/// The callable mod_wsgi looks up when nothing else is configured.
pub const DEFAULT_CALLABLE: &str = "application";

#[derive(Clone, Debug, Default)]
pub struct ServerConfig {
    pub script_aliases: Vec<ScriptAlias>,
}

/// Settings that directories, locations and .htaccess files may change.
#[derive(Clone, Debug, Default)]
pub struct DirConfig {
    /// `WSGIChunkedRequest`: accept request bodies sent chunked (default Off,
    /// which answers them 411 Length Required, as mod_wsgi does).
    pub chunked_request: Option<bool>,
    /// `WSGIMapHEADToGET`: whether a HEAD request reaches the app as GET.
    pub map_head_to_get: Option<MapHeadToGet>,
}

/// `WSGIMapHEADToGET Off|On|Auto`, as in mod_wsgi.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapHeadToGet {
    /// The app sees HEAD.
    Off,
    /// The app always sees GET, so it produces the headers it would for GET.
    On,
    /// GET only when a content filter (mod_deflate, ...) sits before the
    /// protocol filters: it may need the body to produce the right headers.
    Auto,
}

impl MapHeadToGet {
    pub fn parse(arg: &str) -> Result<Self, String> {
        match arg.to_ascii_lowercase().as_str() {
            "off" => Ok(Self::Off),
            "on" => Ok(Self::On),
            "auto" => Ok(Self::Auto),
            _ => Err(format!(
                "WSGIMapHEADToGET: '{arg}' is not accepted; use Off, On or Auto"
            )),
        }
    }
}

impl DirConfig {
    /// The more specific section wins where it says anything.
    pub fn merge(base: &Self, specific: &Self) -> Self {
        Self {
            chunked_request: specific.chunked_request.or(base.chunked_request),
            map_head_to_get: specific.map_head_to_get.or(base.map_head_to_get),
        }
    }

    pub fn accepts_chunked_requests(&self) -> bool {
        self.chunked_request.unwrap_or(false)
    }

    pub fn map_head_to_get(&self) -> MapHeadToGet {
        self.map_head_to_get.unwrap_or(MapHeadToGet::Auto)
    }
}

/// `WSGIScriptAlias URL-path file-path [callable-object=name]`.
#[derive(Clone, Debug)]
pub struct ScriptAlias {
    pub url_path: String,
    pub script: PathBuf,
    pub callable: Option<String>,
}

impl ServerConfig {
    /// A virtual host's aliases come first, then the main server's, as with
    /// mod_alias: the vhost wins where both match.
    pub fn merge(base: &Self, vhost: &Self) -> Self {
        let mut script_aliases = vhost.script_aliases.clone();
        script_aliases.extend(base.script_aliases.iter().cloned());
        Self { script_aliases }
    }

    /// The first alias matching `uri`, with the file name the URI maps to.
    pub fn find_alias(&self, uri: &[u8]) -> Option<(&ScriptAlias, Vec<u8>)> {
        self.script_aliases
            .iter()
            .find_map(|alias| alias.filename_for(uri).map(|filename| (alias, filename)))
    }
}

impl ScriptAlias {
    /// The file name `uri` maps to: the script path followed by the rest of
    /// the URI, which Apache's directory walk then turns into PATH_INFO.
    pub fn filename_for(&self, uri: &[u8]) -> Option<Vec<u8>> {
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

/// Parses the arguments of one `WSGIScriptAlias` line.
pub fn parse_script_alias(args: &[&str]) -> Result<ScriptAlias, String> {
    let [url_path, script, options @ ..] = args else {
        return Err("WSGIScriptAlias takes a URL path, a script path, and options: WSGIScriptAlias /app /srv/app.wsgi".into());
    };
    if !url_path.starts_with('/') {
        return Err(format!(
            "WSGIScriptAlias: the URL path '{url_path}' must start with '/'"
        ));
    }
    if !script.starts_with('/') {
        return Err(format!(
            "WSGIScriptAlias: the script path '{script}' must be absolute"
        ));
    }
    let mut alias = ScriptAlias {
        url_path: url_path.to_string(),
        script: PathBuf::from(script),
        callable: None,
    };
    for option in options {
        let Some((name, value)) = option.split_once('=') else {
            return Err(format!(
                "WSGIScriptAlias: '{option}' is not an option; options look like callable-object=app"
            ));
        };
        match name {
            "callable-object" if is_identifier(value) => alias.callable = Some(value.to_string()),
            "callable-object" => {
                return Err(format!(
                    "WSGIScriptAlias: callable-object '{value}' is not a Python identifier"
                ));
            }
            "process-group" | "application-group" | "pass-authorization" => {
                return Err(format!(
                    "WSGIScriptAlias: the option '{name}' is not supported by mod_rwsgi yet"
                ));
            }
            _ => {
                return Err(format!(
                    "WSGIScriptAlias: unknown option '{name}'; accepted: callable-object (process-group, application-group and pass-authorization are not supported yet)"
                ));
            }
        }
    }
    Ok(alias)
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
