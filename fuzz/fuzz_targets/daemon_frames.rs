//! The frames between an Apache child and a daemon process, fed arbitrary
//! bytes from either side: nothing panics, every header accepted has a
//! kind that side may read and a bounded length, and every payload accepted
//! encodes back to the same bytes, so nothing is read that was not sent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rwsgi_wire::frame::{
    self, BodyWanted, Challenge, File, FrameHeader, HEADER_LEN, Head, Kind, MAX_DATA, MAX_REQUEST,
    Reader, Request,
};
use rwsgi_wire::response_head::check_header;

fuzz_target!(|bytes: &[u8]| {
    let Some((header, payload)) = bytes.split_first_chunk::<HEADER_LEN>() else {
        return;
    };
    for reader in [Reader::Child, Reader::Daemon] {
        let Ok(parsed) = FrameHeader::parse(*header, reader) else {
            continue;
        };
        if payload.len() != parsed.len as usize {
            continue;
        }
        assert!(parsed.len <= MAX_REQUEST.max(MAX_DATA + 1));
        assert_eq!(FrameHeader::encode(parsed.kind, parsed.len), *header);
        let mut again = Vec::new();
        match parsed.kind {
            Kind::Request => {
                if let Ok(request) = Request::decode(payload) {
                    assert!(request.script.starts_with(b"/"));
                    assert!(!request.script.contains(&0));
                    assert!(request.variables.iter().all(|(name, _)| !name.is_empty()));
                    request.encode(&mut again);
                }
            }
            Kind::Head => {
                if let Ok(head) = Head::decode(payload) {
                    for (name, value) in &head.headers {
                        assert!(check_header(name, value).is_ok());
                    }
                    assert!(!head.status_line.iter().any(|&b| b == b'\r' || b == b'\n'));
                    head.encode(&mut again);
                }
            }
            Kind::Challenge => {
                if let Ok(challenge) = Challenge::decode(payload) {
                    challenge.encode(&mut again);
                }
            }
            Kind::BodyWanted => {
                if let Ok(wanted) = BodyWanted::decode(payload) {
                    assert!(wanted.max > 0);
                    wanted.encode(&mut again);
                }
            }
            Kind::File => {
                if let Ok(file) = File::decode(payload) {
                    assert!(file.offset.checked_add(file.length).is_some_and(|end| end <= i64::MAX as u64));
                    file.encode(&mut again);
                }
            }
            Kind::Log => {
                if let Ok((level, message)) = frame::decode_log(payload) {
                    frame::encode_log(level, message, &mut again);
                }
            }
            Kind::Spawn => {
                if let Ok(spawn) = frame::Spawn::decode(payload) {
                    spawn.encode(&mut again);
                }
            }
            Kind::Spawned => {
                if let Ok(number) = frame::decode_spawned(payload) {
                    frame::encode_spawned(number, &mut again);
                }
            }
            Kind::End => {
                if let Ok(status) = frame::decode_end(payload) {
                    assert!(status == 0 || (100..=599).contains(&status));
                    frame::encode_end(status, &mut again);
                }
            }
            Kind::ErrorHeader => {
                if let Ok((name, value)) = frame::decode_error_header(payload) {
                    frame::encode_error_header(name, value, &mut again);
                }
            }
            _ => {}
        }
        if !again.is_empty() {
            assert_eq!(&again[HEADER_LEN..], payload, "{:?} re-encoded differently", parsed.kind);
        }
    }
});
