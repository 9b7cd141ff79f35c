//! start_response's status and header rules, fed arbitrary strings and
//! bytes: whatever they accept can neither split the response nor carry
//! a malformed Content-Length.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rwsgi_wire::response_head::{Headers, latin1, parse_content_length, parse_status};

/// Bytes that would end a status or header line, or truncate it in C.
fn breaks_a_line(bytes: &[u8]) -> bool {
    bytes.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0)
}

fuzz_target!(|input: (String, Vec<(String, String)>, Vec<u8>)| {
    let (status, headers, raw) = input;

    for text in [&status]
        .into_iter()
        .chain(headers.iter().flat_map(|(n, v)| [n, v]))
    {
        if let Ok(bytes) = latin1(text, "text") {
            assert_eq!(bytes.len(), text.chars().count());
            assert!(
                bytes
                    .iter()
                    .zip(text.chars())
                    .all(|(&b, c)| u32::from(b) == u32::from(c))
            );
        } else {
            assert!(text.chars().any(|c| u32::from(c) > 255));
        }
    }

    for line in [status.as_bytes(), &raw] {
        if let Ok(code) = parse_status(line) {
            assert!((100..=999).contains(&code));
            assert_eq!(line[..3], *code.to_string().as_bytes());
            assert!(!breaks_a_line(line), "accepted status {line:?}");
        }
    }

    if let Ok(length) = parse_content_length(&raw) {
        assert!(raw.iter().all(u8::is_ascii_digit));
        assert_eq!(
            std::str::from_utf8(&raw).unwrap().parse::<u64>().unwrap(),
            length
        );
    }

    let mut accepted = Headers::default();
    let mut lengths = Vec::new();
    for (name, value) in headers {
        let (name, value) = (name.into_bytes(), value.into_bytes());
        let before = accepted.list.len();
        match accepted.push(name.clone(), value.clone()) {
            Ok(()) => {
                assert_eq!(accepted.list.len(), before + 1);
                assert!(!name.is_empty());
                assert!(!breaks_a_line(&name) && !breaks_a_line(&value));
                assert!(!name.iter().any(|&b| b == b':' || b == b' '));
                if name.eq_ignore_ascii_case(b"content-length") {
                    lengths.push(parse_content_length(&value).expect("accepted length parses"));
                }
            }
            Err(_) => assert_eq!(accepted.list.len(), before, "a refused header was kept"),
        }
    }
    // Every accepted Content-Length is the same one, and it is the one kept.
    assert!(lengths.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(accepted.content_length, lengths.first().copied());
});
