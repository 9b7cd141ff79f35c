//! Values of the headers a reverse proxy sends about the original request
//! (X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-SSL, ...). They come
//! from the client unless a trusted proxy replaced them, so every byte is
//! suspect.

use std::net::IpAddr;

/// What X-Forwarded-For says, read as mod_wsgi reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardedFor {
    /// The address to report as REMOTE_ADDR.
    pub client: Vec<u8>,
    /// With trusted proxies: the header's new value, from the client on
    /// (what a client wrote before it is dropped). None: keep the header.
    pub kept: Option<Vec<u8>>,
}

/// X-Forwarded-For: "client, proxy1, proxy2". With `trusted` (the list of
/// trusted proxies), the client is the address left of the trusted ones at
/// the right end; without it, the first address. None for an empty list.
pub fn forwarded_for(
    value: &[u8],
    trusted: Option<impl Fn(IpAddr) -> bool>,
) -> Option<ForwardedFor> {
    let items: Vec<&[u8]> = value
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|item| !item.is_empty())
        .collect();
    let &last = items.last()?;
    let Some(trusted) = trusted else {
        return Some(ForwardedFor {
            client: items[0].to_vec(),
            kept: None,
        });
    };
    let mut first_trusted = None;
    for (i, item) in items.iter().enumerate().rev() {
        match parse_ip(item) {
            Some(ip) if trusted(ip) => first_trusted = Some(i),
            _ => break,
        }
    }
    let (client, kept) = match first_trusted {
        Some(i) => {
            let start = i.saturating_sub(1);
            (items[start], items[start..].join(&b", "[..]))
        }
        None => (last, last.to_vec()),
    };
    Some(ForwardedFor {
        client: client.to_vec(),
        kept: Some(kept),
    })
}

/// X-Forwarded-Proto and its synonyms: Some(true) for https, Some(false)
/// for http, None for anything else.
pub fn scheme_name(value: &[u8]) -> Option<bool> {
    if value.eq_ignore_ascii_case(b"https") {
        Some(true)
    } else if value.eq_ignore_ascii_case(b"http") {
        Some(false)
    } else {
        None
    }
}

/// X-Forwarded-SSL and its synonyms: on/true/1 or off/false/0.
pub fn flag(value: &[u8]) -> Option<bool> {
    let is = |words: [&[u8]; 3]| words.iter().any(|w| value.eq_ignore_ascii_case(w));
    if is([b"on", b"true", b"1"]) {
        Some(true)
    } else if is([b"off", b"false", b"0"]) {
        Some(false)
    } else {
        None
    }
}

/// An IPv4 or IPv6 address, as REMOTE_ADDR or X-Forwarded-For write it.
pub fn parse_ip(text: &[u8]) -> Option<IpAddr> {
    std::str::from_utf8(text).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No list of trusted proxies.
    const NOBODY: Option<fn(IpAddr) -> bool> = None;

    fn in_ten(ip: IpAddr) -> bool {
        matches!(ip, IpAddr::V4(v4) if v4.octets()[0] == 10)
    }

    #[test]
    fn without_trusted_proxies_the_first_address_is_the_client() {
        let read = forwarded_for(b" 1.2.3.4 , 10.0.0.1", NOBODY).unwrap();
        assert_eq!(read.client, b"1.2.3.4");
        assert_eq!(read.kept, None);
    }

    #[test]
    fn with_trusted_proxies_the_client_is_left_of_the_trusted_ones() {
        let read = forwarded_for(b"6.6.6.6, 1.2.3.4, 10.0.0.2,10.0.0.1", Some(in_ten)).unwrap();
        assert_eq!(read.client, b"1.2.3.4");
        assert_eq!(
            read.kept.as_deref(),
            Some(&b"1.2.3.4, 10.0.0.2, 10.0.0.1"[..])
        );
    }

    #[test]
    fn an_untrusted_last_hop_is_the_client_whatever_came_before() {
        let read = forwarded_for(b"10.0.0.1, 9.9.9.9", Some(in_ten)).unwrap();
        assert_eq!(read.client, b"9.9.9.9");
        assert_eq!(read.kept.as_deref(), Some(&b"9.9.9.9"[..]));
    }

    #[test]
    fn an_empty_list_says_nothing() {
        assert_eq!(forwarded_for(b" , ,", NOBODY), None);
        assert_eq!(forwarded_for(b"", Some(in_ten)), None);
    }

    #[test]
    fn schemes_and_flags_are_read_in_any_case_and_nothing_else_is() {
        assert_eq!(scheme_name(b"HTTPS"), Some(true));
        assert_eq!(scheme_name(b"http"), Some(false));
        assert_eq!(scheme_name(b"https "), None);
        assert_eq!(flag(b"On"), Some(true));
        assert_eq!(flag(b"0"), Some(false));
        assert_eq!(flag(b"yes"), None);
    }
}
