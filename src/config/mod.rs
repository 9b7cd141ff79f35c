//! What the WSGI directives configure, per server (virtual host) and per
//! directory. Pure Rust: the `apache` layer hands each directive line to
//! [`directives`] and stores the values here.

pub mod accounts;
pub mod daemon;
pub mod directives;
pub mod groups;
pub mod parse;
mod script_alias;

use std::path::PathBuf;

pub use daemon::DaemonGroup;
pub use script_alias::{Pattern, ScriptAlias};

/// The callable mod_wsgi looks up when nothing else is configured.
pub const DEFAULT_CALLABLE: &str = "application";

/// mod_wsgi's default application group: one per host and mount point.
pub const DEFAULT_APPLICATION_GROUP: &str = "%{RESOURCE}";

#[derive(Clone, Debug, Default)]
pub struct ServerConfig {
    pub script_aliases: Vec<ScriptAlias>,
    /// WSGIImportScript: scripts executed when each process of their group
    /// starts.
    pub import_scripts: Vec<ImportScript>,
    /// WSGIDaemonProcess groups defined in this server (or virtual host).
    pub daemon_groups: Vec<DaemonGroup>,
    /// Process-wide settings; only the main server's count (the directives
    /// are refused inside <VirtualHost>).
    pub process: ProcessSettings,
    /// Directives accepted without effect, each with the reason, for one
    /// log line at startup.
    pub ignored: Vec<String>,
}

/// How Python is set up in each child, and what it may touch.
#[derive(Clone, Debug, Default)]
pub struct ProcessSettings {
    /// `WSGIPythonHome`: a Python installation prefix or a virtualenv.
    pub python_home: Option<PythonHome>,
    /// `WSGIPythonPath`: directories added with site.addsitedir().
    pub python_path: Vec<PathBuf>,
    /// `WSGIPythonOptimize`: 0, 1 or 2, as -O / -OO.
    pub optimize: Option<u8>,
    /// `WSGIPythonHashSeed`: None for random (Python's default).
    pub hash_seed: Option<u32>,
    /// `WSGIPythonWarnings`: -W options, in order.
    pub warnings: Vec<String>,
    /// `WSGIDontWriteBytecode On`.
    pub dont_write_bytecode: bool,
    /// `WSGIPythonEggs`: PYTHON_EGG_CACHE for pkg_resources.
    pub python_eggs: Option<PathBuf>,
    /// `WSGINewRelicConfigFile` and `WSGINewRelicEnvironment` (mod_wsgi
    /// 4.9's): with a file, the New Relic agent is initialised as Python
    /// starts.
    pub new_relic: NewRelic,
    /// `WSGIRestrictEmbedded On`: Python is never started.
    pub restrict_embedded: bool,
    /// `WSGIRestrictStdin On`: using sys.stdin raises. mod_wsgi 4.9 documents
    /// On as the default but leaves stdin alone unless On is written.
    pub restrict_stdin: Option<bool>,
    /// `WSGIRestrictStdout` (default Off): writing sys.stdout raises.
    pub restrict_stdout: Option<bool>,
    /// `WSGIRestrictSignal` (default On): signal.signal() is ignored, since
    /// signals belong to Apache.
    pub restrict_signal: Option<bool>,
    /// `WSGISocketPrefix`: where daemon sockets go (relative: to ServerRoot).
    pub socket_prefix: Option<PathBuf>,
    /// `WSGISocketRotation` (default On): a new socket path per generation.
    pub socket_rotation: Option<bool>,
}

/// A script executed as each process of its group starts: one of
/// `WSGIImportScript`, or the script of a WSGIScriptAlias(Match) that
/// names both its process and its application group, as mod_wsgi preloads
/// it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportScript {
    pub script: PathBuf,
    /// As written: a daemon group's name, or `%{GLOBAL}` for Apache's own.
    pub process_group: String,
    pub application_group: String,
    /// The directive that asked for it, for the log.
    pub directive: &'static str,
    /// WSGIImportScript's: a daemon process that cannot load it does not
    /// start. An alias's script that fails is logged, and its requests
    /// load it again, as mod_wsgi does with both.
    pub required: bool,
}

/// The New Relic agent's configuration file and environment (a section
/// of that file), as mod_wsgi 4.9 hands them to newrelic.agent.initialize.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewRelic {
    pub config_file: Option<PathBuf>,
    pub environment: Option<String>,
}

/// What `WSGIPythonHome` points at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PythonHome {
    /// An installation prefix (PYTHONHOME).
    Prefix(PathBuf),
    /// A virtual environment (a directory with pyvenv.cfg): Python starts
    /// as its bin/python would, so sys.prefix is the venv.
    Venv(PathBuf),
}

/// Settings that directories, locations and .htaccess files may change.
#[derive(Clone, Debug, Default)]
pub struct DirConfig {
    /// `WSGIChunkedRequest`: accept request bodies sent chunked (default Off,
    /// which answers them 411 Length Required, as mod_wsgi does).
    pub chunked_request: Option<bool>,
    /// `WSGIMapHEADToGET`: whether a HEAD request reaches the app as GET.
    pub map_head_to_get: Option<MapHeadToGet>,
    /// `WSGICallableObject`.
    pub callable_object: Option<String>,
    /// `WSGIPassAuthorization`: pass the Authorization header as
    /// HTTP_AUTHORIZATION (default Off).
    pub pass_authorization: Option<bool>,
    /// `WSGIScriptReloading` (default On): a script whose file changed is
    /// loaded again on its next request.
    pub script_reloading: Option<bool>,
    /// `WSGIApplicationGroup`.
    pub application_group: Option<String>,
    /// `WSGIEnableSendfile`: force sendfile for wsgi.file_wrapper on or off
    /// (unset: Apache's EnableSendfile decides, as for static files).
    pub enable_sendfile: Option<bool>,
    /// `WSGIErrorOverride` (default Off): an error status from the app is
    /// answered with Apache's own error document.
    pub error_override: Option<bool>,
    /// `WSGITrustedProxyHeaders`: headers from a proxy that may replace
    /// Apache's view of the request.
    pub trusted_proxy_headers: Option<Vec<ProxyHeader>>,
    /// `WSGITrustedProxies`: the peers those headers are believed from
    /// (unset: every peer).
    pub trusted_proxies: Option<Vec<TrustedProxy>>,
    /// `WSGIAccessScript`: allow_access(environ, host) decides who may in.
    pub access_script: Option<AuthScript>,
    /// `WSGIAuthUserScript`: the `wsgi` AuthBasicProvider/AuthDigestProvider
    /// (check_password, get_realm_hash).
    pub auth_user_script: Option<AuthScript>,
    /// `WSGIAuthGroupScript`: groups_for_user for `Require wsgi-group`.
    pub auth_group_script: Option<AuthScript>,
    /// `WSGIHandlerScript`: Apache handler names served by a script's
    /// handle_request (or callable-object=).
    pub handler_scripts: Vec<HandlerScript>,
    /// `WSGIProcessGroup`, as written (expanded per request).
    pub process_group: Option<String>,
    /// `WSGIRestrictProcess`: the only groups applications here may use.
    pub restrict_process: Option<Vec<String>>,
    /// `WSGIIgnoreActivity`: requests here do not keep a daemon process from
    /// its inactivity-timeout.
    pub ignore_activity: Option<bool>,
}

/// `WSGIHandlerScript name /path/script.wsgi [options]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandlerScript {
    pub handler: String,
    pub script: PathBuf,
    pub callable: String,
    pub application_group: Option<String>,
    pub process_group: Option<String>,
    /// `pass-authorization=`, winning over WSGIPassAuthorization.
    pub pass_authorization: Option<bool>,
}

/// A script of access or authentication functions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthScript {
    pub script: PathBuf,
    pub application_group: Option<String>,
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

impl DirConfig {
    /// The more specific section wins where it says anything.
    pub fn merge(base: &Self, specific: &Self) -> Self {
        fn pick<T: Clone>(specific: &Option<T>, base: &Option<T>) -> Option<T> {
            specific.clone().or_else(|| base.clone())
        }
        Self {
            chunked_request: pick(&specific.chunked_request, &base.chunked_request),
            map_head_to_get: pick(&specific.map_head_to_get, &base.map_head_to_get),
            callable_object: pick(&specific.callable_object, &base.callable_object),
            pass_authorization: pick(&specific.pass_authorization, &base.pass_authorization),
            script_reloading: pick(&specific.script_reloading, &base.script_reloading),
            application_group: pick(&specific.application_group, &base.application_group),
            enable_sendfile: pick(&specific.enable_sendfile, &base.enable_sendfile),
            error_override: pick(&specific.error_override, &base.error_override),
            trusted_proxy_headers: pick(
                &specific.trusted_proxy_headers,
                &base.trusted_proxy_headers,
            ),
            trusted_proxies: pick(&specific.trusted_proxies, &base.trusted_proxies),
            access_script: pick(&specific.access_script, &base.access_script),
            auth_user_script: pick(&specific.auth_user_script, &base.auth_user_script),
            auth_group_script: pick(&specific.auth_group_script, &base.auth_group_script),
            process_group: pick(&specific.process_group, &base.process_group),
            restrict_process: pick(&specific.restrict_process, &base.restrict_process),
            ignore_activity: pick(&specific.ignore_activity, &base.ignore_activity),
            // A more specific section's handler of the same name wins.
            handler_scripts: specific
                .handler_scripts
                .iter()
                .chain(&base.handler_scripts)
                .cloned()
                .collect(),
        }
    }

    pub fn accepts_chunked_requests(&self) -> bool {
        self.chunked_request.unwrap_or(false)
    }

    pub fn map_head_to_get(&self) -> MapHeadToGet {
        self.map_head_to_get.unwrap_or(MapHeadToGet::Auto)
    }

    /// The handler script registered for Apache handler `name`.
    pub fn handler_script(&self, name: &[u8]) -> Option<&HandlerScript> {
        self.handler_scripts
            .iter()
            .find(|h| h.handler.as_bytes() == name)
    }

    pub fn reloads_scripts(&self) -> bool {
        self.script_reloading.unwrap_or(true)
    }
}

impl ServerConfig {
    /// A virtual host's aliases come first, then the main server's, as with
    /// mod_alias: the vhost wins where both match. Process settings are the
    /// main server's.
    pub fn merge(base: &Self, vhost: &Self) -> Self {
        let mut script_aliases = vhost.script_aliases.clone();
        script_aliases.extend(base.script_aliases.iter().cloned());
        Self {
            script_aliases,
            // Imports are per process: each server's own are run once.
            import_scripts: vhost.import_scripts.clone(),
            // A group belongs to the server that defined it.
            daemon_groups: vhost.daemon_groups.clone(),
            process: base.process.clone(),
            ignored: Vec::new(),
        }
    }

    /// The first alias matching `uri`: its index, and the file name the URI
    /// maps to.
    pub fn find_alias(&self, uri: &[u8]) -> Option<(usize, Vec<u8>)> {
        self.script_aliases
            .iter()
            .enumerate()
            .find_map(|(index, alias)| alias.filename_for(uri).map(|filename| (index, filename)))
    }
}

/// A header WSGITrustedProxyHeaders may name: mod_wsgi's set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(clippy::enum_variant_names, reason = "named after the headers")]
pub enum ProxyHeader {
    XForwardedFor,
    XClientIp,
    XRealIp,
    XForwardedHost,
    XHost,
    XForwardedServer,
    XForwardedPort,
    XScriptName,
    XForwardedScriptName,
    XForwardedProto,
    XForwardedScheme,
    XScheme,
    XForwardedHttps,
    XForwardedSsl,
    XHttps,
}

impl ProxyHeader {
    pub const ALL: [ProxyHeader; 15] = [
        Self::XForwardedFor,
        Self::XClientIp,
        Self::XRealIp,
        Self::XForwardedHost,
        Self::XHost,
        Self::XForwardedServer,
        Self::XForwardedPort,
        Self::XScriptName,
        Self::XForwardedScriptName,
        Self::XForwardedProto,
        Self::XForwardedScheme,
        Self::XScheme,
        Self::XForwardedHttps,
        Self::XForwardedSsl,
        Self::XHttps,
    ];

    /// The header's name as a client sends it.
    pub fn header_name(self) -> &'static str {
        match self {
            Self::XForwardedFor => "X-Forwarded-For",
            Self::XClientIp => "X-Client-IP",
            Self::XRealIp => "X-Real-IP",
            Self::XForwardedHost => "X-Forwarded-Host",
            Self::XHost => "X-Host",
            Self::XForwardedServer => "X-Forwarded-Server",
            Self::XForwardedPort => "X-Forwarded-Port",
            Self::XScriptName => "X-Script-Name",
            Self::XForwardedScriptName => "X-Forwarded-Script-Name",
            Self::XForwardedProto => "X-Forwarded-Proto",
            Self::XForwardedScheme => "X-Forwarded-Scheme",
            Self::XScheme => "X-Scheme",
            Self::XForwardedHttps => "X-Forwarded-HTTPS",
            Self::XForwardedSsl => "X-Forwarded-SSL",
            Self::XHttps => "X-HTTPS",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|header| header.header_name().eq_ignore_ascii_case(name))
    }
}

/// An address or network in WSGITrustedProxies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrustedProxy {
    network: std::net::IpAddr,
    prefix: u8,
}

impl TrustedProxy {
    /// "10.0.0.1", "10.0.0.0/8", "::1", "fd00::/8".
    pub fn parse(text: &str) -> Option<Self> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix.parse::<u8>().ok()?)),
            None => (text, None),
        };
        let network: std::net::IpAddr = address.parse().ok()?;
        let bits = if network.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(bits);
        (prefix <= bits).then_some(Self { network, prefix })
    }

    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        use std::net::IpAddr::{V4, V6};
        // An IPv4 client may reach an IPv6 socket as ::ffff:a.b.c.d.
        let ip = match ip {
            V6(v6) => v6.to_ipv4_mapped().map_or(ip, V4),
            v4 => v4,
        };
        let (network, ip, bits) = match (self.network, ip) {
            (V4(n), V4(i)) => (u128::from(u32::from(n)), u128::from(u32::from(i)), 32),
            (V6(n), V6(i)) => (u128::from(n), u128::from(i), 128),
            _ => return false,
        };
        let shift = bits - u32::from(self.prefix);
        shift >= bits || (network >> shift) == (ip >> shift)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn network(text: &str) -> Option<(std::net::IpAddr, u8)> {
        TrustedProxy::parse(text).map(|proxy| (proxy.network, proxy.prefix))
    }

    #[test]
    fn a_trusted_proxy_address_alone_is_a_network_of_one() {
        assert_eq!(network("10.0.0.1"), Some(("10.0.0.1".parse().unwrap(), 32)));
        assert_eq!(network("::1"), Some(("::1".parse().unwrap(), 128)));
    }

    #[test]
    fn a_trusted_proxy_network_has_its_prefix_length() {
        assert_eq!(
            network("10.0.0.0/8"),
            Some(("10.0.0.0".parse().unwrap(), 8))
        );
        assert_eq!(network("fd00::/8"), Some(("fd00::".parse().unwrap(), 8)));
        assert_eq!(network("0.0.0.0/0"), Some(("0.0.0.0".parse().unwrap(), 0)));
    }

    #[test]
    fn a_trusted_proxy_prefix_may_not_exceed_the_address_length() {
        assert_eq!(network("10.0.0.0/33"), None);
        assert_eq!(network("fd00::/129"), None);
        assert!(network("fd00::/128").is_some());
    }

    #[test]
    fn a_trusted_proxy_is_not_a_host_name_or_a_malformed_address() {
        for text in [
            "",
            "proxy.example.org",
            "10.0.0.300",
            "10.0.0.0/",
            "10.0.0.0/x",
            "/8",
        ] {
            assert_eq!(network(text), None, "{text}");
        }
    }

    #[test]
    fn every_proxy_header_is_known_by_its_name_in_any_case() {
        for header in ProxyHeader::ALL {
            assert_eq!(ProxyHeader::parse(header.header_name()), Some(header));
            let lower = header.header_name().to_ascii_lowercase();
            assert_eq!(ProxyHeader::parse(&lower), Some(header));
        }
    }

    #[test]
    fn a_header_outside_mod_wsgis_set_is_no_proxy_header() {
        for name in ["Forwarded", "X-Forwarded", "HTTP_X_FORWARDED_FOR", ""] {
            assert_eq!(ProxyHeader::parse(name), None, "{name}");
        }
    }
}
