//! X-Forwarded-For and the scheme headers, read from arbitrary bytes: the
//! client reported is always one of the listed addresses, and with trusted
//! proxies it is never one that a trusted hop did not vouch for.
#![no_main]

use std::net::IpAddr;

use libfuzzer_sys::fuzz_target;
use rwsgi_wire::forwarded::{flag, forwarded_for, parse_ip, scheme_name};

fuzz_target!(|input: (Vec<u8>, u8)| {
    let (value, trusted_octet) = input;
    // The trusted proxies: addresses whose first byte is `trusted_octet`.
    let is_trusted = |ip: IpAddr| match ip {
        IpAddr::V4(v4) => v4.octets()[0] == trusted_octet,
        IpAddr::V6(v6) => v6.octets()[0] == trusted_octet,
    };
    let items: Vec<&[u8]> = value
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|item| !item.is_empty())
        .collect();

    let plain = forwarded_for(&value, None::<fn(IpAddr) -> bool>);
    assert_eq!(plain.is_none(), items.is_empty());
    if let Some(read) = plain {
        assert_eq!(read.client, items[0]);
        assert_eq!(read.kept, None);
    }

    if let Some(read) = forwarded_for(&value, Some(is_trusted)) {
        assert!(items.contains(&read.client.as_slice()));
        assert!(!read.client.contains(&b','));
        let kept = read
            .kept
            .expect("with trusted proxies the header is rewritten");
        assert!(kept.starts_with(&read.client));
        assert!(kept.ends_with(items.last().unwrap()));
        // Everything after the client in the kept list is a trusted proxy.
        let after: Vec<&[u8]> = kept
            .split(|&b| b == b',')
            .map(<[u8]>::trim_ascii)
            .skip(1)
            .collect();
        assert!(
            after
                .iter()
                .all(|hop| parse_ip(hop).is_some_and(is_trusted))
        );
    } else {
        assert!(items.is_empty());
    }

    if let Some(https) = scheme_name(&value) {
        assert_eq!(
            value.to_ascii_lowercase(),
            if https { &b"https"[..] } else { b"http" }
        );
    }
    if let Some(on) = flag(&value) {
        let word = value.to_ascii_lowercase();
        let words: [&[u8]; 3] = if on {
            [b"on", b"true", b"1"]
        } else {
            [b"off", b"false", b"0"]
        };
        assert!(words.contains(&word.as_slice()));
    }
});
