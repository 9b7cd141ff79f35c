//! The status line and headers a WSGI application passes to
//! start_response, checked so that nothing it gives can split a response,
//! smuggle a header or contradict the body's framing.

use std::fmt;

/// Why a status or header was refused, as one sentence for the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(String);

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Invalid {}

/// Encodes as latin-1, as PEP 3333 requires of status and header strings.
/// `what` names the string in the error ("status", "header name").
pub fn latin1(text: &str, what: &str) -> Result<Vec<u8>, Invalid> {
    // Nearly every status and header is ASCII, whose UTF-8 is its latin-1.
    if text.is_ascii() {
        return Ok(text.as_bytes().to_vec());
    }
    text.chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(|| Invalid(format!("{what} {text:?} has characters outside latin-1")))
}

/// "NNN" or "NNN reason": three digits, the first 1-9, then nothing or a
/// space and a reason with no control characters. Returns NNN.
pub fn parse_status(line: &[u8]) -> Result<u16, Invalid> {
    let invalid = || {
        Invalid(format!(
            "invalid status {:?}: expected three digits and a reason, like '200 OK'",
            String::from_utf8_lossy(line)
        ))
    };
    let (digits, rest) = line.split_at_checked(3).ok_or_else(invalid)?;
    if !digits.iter().all(u8::is_ascii_digit) || digits[0] == b'0' {
        return Err(invalid());
    }
    if !rest.is_empty() && (rest[0] != b' ' || rest.iter().copied().any(is_control)) {
        return Err(invalid());
    }
    Ok(digits
        .iter()
        .fold(0u16, |code, d| code * 10 + u16::from(d - b'0')))
}

/// Headers that describe one connection and must not come from a WSGI app.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
];

/// Control characters other than tab: CR and LF would split the response.
pub fn is_control(byte: u8) -> bool {
    (byte < 0x20 && byte != b'\t') || byte == 0x7f
}

/// RFC 9110 token characters, the only ones a header name may hold.
pub fn is_token(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

/// A name of token characters, a value without control characters, and not
/// a hop-by-hop header (those are Apache's to send).
pub fn check_header(name: &[u8], value: &[u8]) -> Result<(), Invalid> {
    let shown = || {
        format!(
            "{:?}: {:?}",
            String::from_utf8_lossy(name),
            String::from_utf8_lossy(value)
        )
    };
    if name.is_empty() || !name.iter().copied().all(is_token) {
        return Err(Invalid(format!("invalid header name in {}", shown())));
    }
    if value.iter().copied().any(is_control) {
        return Err(Invalid(format!(
            "control character in header value {}",
            shown()
        )));
    }
    if HOP_BY_HOP
        .iter()
        .any(|hop| name.eq_ignore_ascii_case(hop.as_bytes()))
    {
        return Err(Invalid(format!(
            "hop-by-hop header not allowed from a WSGI application: {}",
            shown()
        )));
    }
    Ok(())
}

/// Digits only: no sign, no spaces, no list, no overflow.
pub fn parse_content_length(value: &[u8]) -> Result<u64, Invalid> {
    let invalid = || {
        Invalid(format!(
            "invalid Content-Length {:?}",
            String::from_utf8_lossy(value)
        ))
    };
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    std::str::from_utf8(value)
        .ok()
        .and_then(|v| v.parse().ok())
        .ok_or_else(invalid)
}

/// A response's header list as it is accepted, one header at a time.
#[derive(Debug, Default)]
pub struct Headers {
    /// Latin-1 names and values, checked by [`check_header`].
    pub list: Vec<(Vec<u8>, Vec<u8>)>,
    /// The Content-Length the app declared, if it did.
    pub content_length: Option<u64>,
}

impl Headers {
    pub fn with_capacity(n: usize) -> Self {
        Self {
            list: Vec::with_capacity(n),
            content_length: None,
        }
    }

    /// Checks and adds one header; two Content-Lengths must agree.
    pub fn push(&mut self, name: Vec<u8>, value: Vec<u8>) -> Result<(), Invalid> {
        check_header(&name, &value)?;
        if name.eq_ignore_ascii_case(b"content-length") {
            let length = parse_content_length(&value)?;
            if self
                .content_length
                .is_some_and(|previous| previous != length)
            {
                return Err(Invalid(
                    "response has two different Content-Length headers".into(),
                ));
            }
            self.content_length = Some(length);
        }
        self.list.push((name, value));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_is_three_digits_then_a_reason() {
        assert_eq!(parse_status(b"200 OK"), Ok(200));
        assert_eq!(parse_status(b"404"), Ok(404));
        assert_eq!(parse_status(b"599 Whatever It Says"), Ok(599));
    }

    #[test]
    fn status_without_three_leading_digits_is_refused() {
        for bad in [
            &b""[..],
            b"20",
            b"OK 200",
            b"020 OK",
            b"2000 OK",
            b"-20 OK",
            b"200OK",
        ] {
            assert!(parse_status(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn status_with_a_line_break_is_refused() {
        assert!(parse_status(b"200 OK\r\nSet-Cookie: x=1").is_err());
        assert!(parse_status(b"200 OK\n").is_err());
        assert!(parse_status(b"200 O\0K").is_err());
    }

    #[test]
    fn header_value_with_cr_or_lf_is_refused() {
        assert!(check_header(b"X-A", b"1\r\nSet-Cookie: x=1").is_err());
        assert!(check_header(b"X-A", b"1\nX: y").is_err());
        assert!(check_header(b"X-A", b"a\tb").is_ok());
    }

    #[test]
    fn header_name_must_be_a_token() {
        assert!(check_header(b"", b"v").is_err());
        assert!(check_header(b"X A", b"v").is_err());
        assert!(check_header(b"X:A", b"v").is_err());
        assert!(check_header(b"X\xe9", b"v").is_err());
        assert!(check_header(b"X_Under-score.ok", b"v").is_ok());
    }

    #[test]
    fn hop_by_hop_headers_are_refused_in_any_case() {
        for name in [&b"Connection"[..], b"TRANSFER-ENCODING", b"upgrade", b"Te"] {
            assert!(check_header(name, b"x").is_err(), "{name:?} was accepted");
        }
    }

    #[test]
    fn content_length_is_plain_digits_without_overflow() {
        assert_eq!(parse_content_length(b"0"), Ok(0));
        assert_eq!(parse_content_length(b"18446744073709551615"), Ok(u64::MAX));
        for bad in [
            &b""[..],
            b"+1",
            b"-1",
            b" 1",
            b"1 ",
            b"1,1",
            b"0x10",
            b"18446744073709551616",
        ] {
            assert!(parse_content_length(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn two_equal_content_lengths_are_one_and_two_different_are_refused() {
        let mut headers = Headers::default();
        headers
            .push(b"Content-Length".to_vec(), b"5".to_vec())
            .unwrap();
        headers
            .push(b"content-length".to_vec(), b"5".to_vec())
            .unwrap();
        assert_eq!(headers.content_length, Some(5));
        assert!(
            headers
                .push(b"CONTENT-LENGTH".to_vec(), b"6".to_vec())
                .is_err()
        );
        assert_eq!(headers.list.len(), 2, "the refused header was kept");
    }

    #[test]
    fn latin1_refuses_characters_above_255() {
        assert_eq!(latin1("caf\u{e9}", "status").unwrap(), b"caf\xe9");
        let error = latin1("\u{20ac}", "header value").unwrap_err();
        assert!(error.to_string().starts_with("header value"), "{error}");
    }
}
