//! wsgi.input's buffer under any body, any piece sizes from Apache, read
//! failures, and any sequence of read(n), read() and readline(limit):
//! every byte comes back once and in order, and every line keeps its limit.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use rwsgi_wire::lines::LineBuffer;

#[derive(Arbitrary, Debug)]
enum Call {
    Read(u16),
    ReadAll,
    ReadLine(u16),
}

#[derive(Arbitrary, Debug)]
struct Input {
    body: Vec<u8>,
    read_size: u8,
    /// Bytes the source hands out per read, in turn; 0 makes that read fail.
    pieces: Vec<u8>,
    calls: Vec<Call>,
}

fuzz_target!(|input: Input| {
    let Input {
        body,
        read_size,
        pieces,
        calls,
    } = input;
    let mut buffer = LineBuffer::new(usize::from(read_size));
    let (mut sent, mut turn) = (0usize, 0usize);
    let mut source = |into: &mut [u8]| -> Result<usize, ()> {
        let piece = pieces.get(turn % pieces.len().max(1)).copied().unwrap_or(7);
        turn += 1;
        if piece == 0 {
            return Err(());
        }
        let n = usize::from(piece).min(into.len()).min(body.len() - sent);
        into[..n].copy_from_slice(&body[sent..sent + n]);
        sent += n;
        Ok(n)
    };

    let mut returned = Vec::new();
    for call in calls {
        let remaining_before = body.len() - returned.len();
        match call {
            Call::Read(n) => {
                let n = usize::from(n);
                if let Ok(got) = buffer.read(Some(n), &mut source) {
                    // Short only at the end of the body.
                    assert_eq!(got.len(), n.min(remaining_before));
                    returned.extend_from_slice(got);
                }
            }
            Call::ReadAll => {
                if let Ok(got) = buffer.read(None, &mut source) {
                    assert_eq!(got.len(), remaining_before);
                    returned.extend_from_slice(got);
                }
            }
            Call::ReadLine(limit) => {
                let limit = usize::from(limit);
                if let Ok(line) = buffer.read_line(limit, &mut source) {
                    assert!(line.len() <= limit);
                    let newline = line.iter().position(|&b| b == b'\n');
                    assert!(
                        newline.is_none_or(|at| at == line.len() - 1),
                        "newline inside {line:?}"
                    );
                    if newline.is_none() && line.len() < limit {
                        assert_eq!(line.len(), remaining_before, "a line stopped early");
                    }
                    returned.extend_from_slice(line);
                }
            }
        }
        assert_eq!(
            returned,
            body[..returned.len()],
            "bytes lost, repeated or reordered"
        );
    }
});
