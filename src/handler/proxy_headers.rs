//! WSGITrustedProxyHeaders and WSGITrustedProxies: what a reverse proxy in
//! front of Apache says about the original request (client address, host,
//! port, scheme, mount point) replaces Apache's view in environ, but only
//! when the peer is a trusted proxy. Every synonym of a trusted header that
//! did not win is removed from environ, so a client cannot spoof one through
//! another.

use std::ffi::CStr;
use std::net::IpAddr;

use rwsgi_wire::forwarded::{self, flag, parse_ip, scheme_name};

use crate::apache::{Request, Table};
use crate::config::{ProxyHeader, TrustedProxy};

/// What each kind of header sets.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Category {
    Client,
    Host,
    Server,
    Port,
    ScriptName,
    Scheme,
}

fn category(header: ProxyHeader) -> Category {
    use ProxyHeader::*;
    match header {
        XForwardedFor | XClientIp | XRealIp => Category::Client,
        XForwardedHost | XHost => Category::Host,
        XForwardedServer => Category::Server,
        XForwardedPort => Category::Port,
        XScriptName | XForwardedScriptName => Category::ScriptName,
        XForwardedProto | XForwardedScheme | XScheme | XForwardedHttps | XForwardedSsl | XHttps => {
            Category::Scheme
        }
    }
}

/// Applies the trusted headers to the CGI environment of `request`.
/// Returns the scheme a trusted header decided (Some(true) for https).
pub fn apply(
    request: &Request<'_>,
    headers: &[ProxyHeader],
    proxies: Option<&[TrustedProxy]>,
) -> Option<bool> {
    if headers.is_empty() {
        return None;
    }
    let env = request.subprocess_env();
    let peer_trusted = match proxies {
        None => true,
        Some(proxies) => env
            .get(c"REMOTE_ADDR")
            .and_then(parse_ip)
            .is_some_and(|ip| proxies.iter().any(|p| p.contains(ip))),
    };
    let mut winners: Vec<(Category, ProxyHeader)> = Vec::new();
    let mut https = None;
    for &header in headers {
        let category = category(header);
        if !peer_trusted {
            continue;
        }
        let Some(value) = env.get(header.env_name()) else {
            continue;
        };
        let value = value.to_vec();
        if let Some(scheme) = apply_one(&env, header, &value, proxies) {
            https = Some(scheme);
        }
        // As in mod_wsgi: applied in the order configured, the last of a
        // kind wins.
        winners.retain(|(c, _)| *c != category);
        winners.push((category, header));
    }
    // Synonyms of every trusted header's kind go, but for the winner.
    for &header in headers {
        let category = category(header);
        let winner = winners
            .iter()
            .find(|(c, _)| *c == category)
            .map(|(_, h)| *h);
        for synonym in ProxyHeader::ALL {
            if self::category(synonym) == category && Some(synonym) != winner {
                env.unset(synonym.env_name());
            }
        }
    }
    https
}

/// Applies one trusted header's value; Some(https) for a scheme header.
fn apply_one(
    env: &Table<'_>,
    header: ProxyHeader,
    value: &[u8],
    proxies: Option<&[TrustedProxy]>,
) -> Option<bool> {
    use ProxyHeader::*;
    match header {
        XForwardedFor => forwarded_for(env, value, proxies),
        XClientIp | XRealIp => env.set(b"REMOTE_ADDR", value),
        XForwardedHost | XHost => env.set(b"HTTP_HOST", value),
        XForwardedServer => env.set(b"SERVER_NAME", value),
        XForwardedPort => env.set(b"SERVER_PORT", value),
        XScriptName | XForwardedScriptName => env.set(b"SCRIPT_NAME", value),
        XForwardedProto | XForwardedScheme | XScheme => {
            return scheme_name(value).inspect(|&https| set_https(env, https));
        }
        XForwardedHttps | XForwardedSsl | XHttps => {
            return flag(value).inspect(|&https| set_https(env, https));
        }
    }
    None
}

/// wsgi.url_scheme carries the forwarded scheme; an HTTPS variable from
/// mod_ssl (about the hop from the proxy) must not contradict it.
fn set_https(env: &Table<'_>, https: bool) {
    if !https {
        env.unset(c"HTTPS");
    }
}

/// X-Forwarded-For: REMOTE_ADDR becomes the client it names; with a list of
/// trusted proxies, the header keeps only the client and what follows.
fn forwarded_for(env: &Table<'_>, value: &[u8], proxies: Option<&[TrustedProxy]>) {
    let trusted = proxies.map(|list| move |ip: IpAddr| list.iter().any(|p| p.contains(ip)));
    let Some(read) = forwarded::forwarded_for(value, trusted) else {
        return;
    };
    env.set(b"REMOTE_ADDR", &read.client);
    if let Some(kept) = read.kept {
        env.set(b"HTTP_X_FORWARDED_FOR", &kept);
    }
}

impl ProxyHeader {
    fn env_name(self) -> &'static CStr {
        use ProxyHeader::*;
        match self {
            XForwardedFor => c"HTTP_X_FORWARDED_FOR",
            XClientIp => c"HTTP_X_CLIENT_IP",
            XRealIp => c"HTTP_X_REAL_IP",
            XForwardedHost => c"HTTP_X_FORWARDED_HOST",
            XHost => c"HTTP_X_HOST",
            XForwardedServer => c"HTTP_X_FORWARDED_SERVER",
            XForwardedPort => c"HTTP_X_FORWARDED_PORT",
            XScriptName => c"HTTP_X_SCRIPT_NAME",
            XForwardedScriptName => c"HTTP_X_FORWARDED_SCRIPT_NAME",
            XForwardedProto => c"HTTP_X_FORWARDED_PROTO",
            XForwardedScheme => c"HTTP_X_FORWARDED_SCHEME",
            XScheme => c"HTTP_X_SCHEME",
            XForwardedHttps => c"HTTP_X_FORWARDED_HTTPS",
            XForwardedSsl => c"HTTP_X_FORWARDED_SSL",
            XHttps => c"HTTP_X_HTTPS",
        }
    }
}
