//! The buffer behind wsgi.input: bytes read from a source in pieces and
//! handed back as read(n), read() and readline(limit) ask, each byte
//! exactly once and in order, with a line never longer than its limit.

/// Body bytes read from the source but not yet returned.
#[derive(Debug)]
pub struct LineBuffer {
    data: Vec<u8>,
    start: usize,
    eof: bool,
    /// How much room each read from the source is given.
    read_size: usize,
}

impl LineBuffer {
    /// `read_size`: the room given to each read from the source (at least 1).
    pub fn new(read_size: usize) -> Self {
        Self {
            data: Vec::new(),
            start: 0,
            eof: false,
            read_size: read_size.max(1),
        }
    }

    /// The buffered bytes not yet returned.
    pub fn available(&self) -> &[u8] {
        &self.data[self.start..]
    }

    /// Whether the source has said it has no more.
    pub fn is_eof(&self) -> bool {
        self.eof
    }

    /// Records that the source has no more (learnt by a read made elsewhere).
    pub fn set_eof(&mut self) {
        self.eof = true;
    }

    /// Forgets the buffered bytes (after the caller has used them).
    pub fn clear(&mut self) {
        self.data.clear();
        self.start = 0;
    }

    /// Reads one more piece from `source` (which returns how many bytes it
    /// wrote, 0 at the end); Ok(false) at the end. An error leaves the
    /// buffer as it was.
    pub fn fill<E>(
        &mut self,
        source: impl FnOnce(&mut [u8]) -> Result<usize, E>,
    ) -> Result<bool, E> {
        if self.eof {
            return Ok(false);
        }
        if self.start > 0 {
            self.data.drain(..self.start);
            self.start = 0;
        }
        let old_len = self.data.len();
        self.data.resize(old_len + self.read_size, 0);
        let got = match source(&mut self.data[old_len..]) {
            Ok(got) => got.min(self.read_size),
            Err(error) => {
                self.data.truncate(old_len);
                return Err(error);
            }
        };
        self.data.truncate(old_len + got);
        self.eof = got == 0;
        Ok(got > 0)
    }

    /// The next `n` buffered bytes (fewer when fewer are buffered).
    pub fn take(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.available().len());
        let taken = &self.data[self.start..self.start + n];
        self.start += n;
        taken
    }

    /// read(n) (`wanted` Some) or read() of everything (None): reads from
    /// `source` until enough is buffered or it ends.
    pub fn read<E>(
        &mut self,
        wanted: Option<usize>,
        mut source: impl FnMut(&mut [u8]) -> Result<usize, E>,
    ) -> Result<&[u8], E> {
        while wanted.is_none_or(|wanted| self.available().len() < wanted) {
            if !self.fill(&mut source)? {
                break;
            }
        }
        Ok(self.take(wanted.unwrap_or(usize::MAX)))
    }

    /// readline(limit): up to and including the next newline, at most
    /// `limit` bytes, or what is left at the end.
    pub fn read_line<E>(
        &mut self,
        limit: usize,
        mut source: impl FnMut(&mut [u8]) -> Result<usize, E>,
    ) -> Result<&[u8], E> {
        let mut searched = 0;
        loop {
            let available = self.available();
            if let Some(pos) = available[searched..].iter().position(|&b| b == b'\n') {
                let end = searched + pos + 1;
                return Ok(self.take(limit.min(end)));
            }
            if available.len() >= limit {
                return Ok(self.take(limit));
            }
            searched = available.len();
            if !self.fill(&mut source)? {
                return Ok(self.take(usize::MAX));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    /// A source that hands out `body` at most `piece` bytes per read.
    fn source(body: &[u8], piece: usize) -> impl FnMut(&mut [u8]) -> Result<usize, Infallible> {
        let mut rest = body.to_vec();
        move |into: &mut [u8]| {
            let n = rest.len().min(into.len()).min(piece);
            into[..n].copy_from_slice(&rest[..n]);
            rest.drain(..n);
            Ok(n)
        }
    }

    #[test]
    fn lines_end_after_their_newline_across_reads() {
        let mut buffer = LineBuffer::new(3);
        let mut body = source(b"first\nsecond\nlast", 2);
        assert_eq!(buffer.read_line(100, &mut body).unwrap(), b"first\n");
        assert_eq!(buffer.read_line(100, &mut body).unwrap(), b"second\n");
        assert_eq!(buffer.read_line(100, &mut body).unwrap(), b"last");
        assert_eq!(buffer.read_line(100, &mut body).unwrap(), b"");
    }

    #[test]
    fn a_line_longer_than_the_limit_comes_in_pieces() {
        let mut buffer = LineBuffer::new(4);
        let mut body = source(b"abcdefghij\nk", 4);
        assert_eq!(buffer.read_line(4, &mut body).unwrap(), b"abcd");
        assert_eq!(buffer.read_line(4, &mut body).unwrap(), b"efgh");
        assert_eq!(buffer.read_line(4, &mut body).unwrap(), b"ij\n");
        assert_eq!(buffer.read_line(4, &mut body).unwrap(), b"k");
    }

    #[test]
    fn read_of_n_returns_n_until_the_end() {
        let mut buffer = LineBuffer::new(2);
        let mut body = source(b"0123456789", 3);
        assert_eq!(buffer.read(Some(4), &mut body).unwrap(), b"0123");
        assert_eq!(buffer.read_line(100, &mut body).unwrap(), b"456789");
        assert_eq!(buffer.read(Some(4), &mut body).unwrap(), b"");
    }

    #[test]
    fn read_of_everything_follows_a_partial_line() {
        let mut buffer = LineBuffer::new(5);
        let mut body = source(b"a\nbcdefgh", 5);
        assert_eq!(buffer.read_line(1, &mut body).unwrap(), b"a");
        assert_eq!(buffer.read(None, &mut body).unwrap(), b"\nbcdefgh");
        assert!(buffer.is_eof());
    }

    #[test]
    fn a_failed_read_loses_no_buffered_byte() {
        let mut buffer = LineBuffer::new(4);
        let mut first = source(b"ab", 4);
        assert_eq!(buffer.read(Some(1), &mut first).unwrap(), b"a");
        let failed: Result<&[u8], &str> = buffer.read(Some(10), |_| Err("client gone"));
        assert_eq!(failed, Err("client gone"));
        assert_eq!(buffer.available(), b"b");
    }
}
