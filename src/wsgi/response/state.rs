//! What may go out of a response, and when: the head exactly once and
//! before any body, the body cut at the Content-Length in force, an error
//! status handed to Apache under WSGIErrorOverride, and a one-block
//! response kept for the handler. Plain Rust, no I/O and no Python: the
//! caller does what the answers say.

/// A validated status and header list.
pub struct Head {
    pub code: u16,
    pub status_line: Vec<u8>,
    /// Latin-1 names and values, already checked for control characters.
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    pub content_length: Option<u64>,
}

/// A whole one-block response (head and body) kept to be sent once the app
/// is done; `B` is how the body is kept.
pub struct Deferred<B> {
    pub head: Option<Head>,
    pub length: Option<u64>,
    pub body: B,
}

/// A block of body the state has let through: its length, and the head to
/// send before it when it is the first.
pub struct Claim {
    pub head: Option<Head>,
    pub length: Option<u64>,
    pub take: u64,
}

/// start_response() after the head went out.
#[derive(Debug, PartialEq, Eq)]
pub struct HeadersAlreadySent;

/// What ending the response takes.
pub enum Finish<B> {
    /// The app returned without calling start_response().
    NotStarted,
    /// WSGIErrorOverride: Apache answers the error status itself.
    HandToApache,
    /// The kept one-block response is complete; the handler sends it.
    Deferred,
    /// Send what is left: the kept block (if any) or the head (if it has
    /// not gone out), then close the connection if `sent` falls short of
    /// `length`.
    Send {
        deferred: Option<Deferred<B>>,
        head: Option<Head>,
        length: Option<u64>,
        sent: u64,
    },
}

pub struct State<B> {
    head: Option<Head>,
    headers_sent: bool,
    /// The Content-Length in force: the app's, or one we computed.
    length: Option<u64>,
    body_sent: u64,
    /// WSGIErrorOverride On: an error status is answered by Apache (its
    /// ErrorDocument), not with the app's body.
    error_override: bool,
    /// The head of an error response handed to Apache that way.
    overridden: Option<Head>,
    deferred: Option<Deferred<B>>,
}

impl<B> State<B> {
    pub fn new(error_override: bool) -> Self {
        Self {
            head: None,
            headers_sent: false,
            length: None,
            body_sent: 0,
            error_override,
            overridden: None,
            deferred: None,
        }
    }

    /// Records the status and headers of start_response(). mod_wsgi lets an
    /// app call it again before any output, with or without exc_info; the
    /// last call wins.
    pub fn start(&mut self, head: Head) -> Result<(), HeadersAlreadySent> {
        if self.headers_sent {
            return Err(HeadersAlreadySent);
        }
        self.length = head.content_length;
        self.head = Some(head);
        Ok(())
    }

    /// Whether start_response() has been called.
    pub fn started(&self) -> bool {
        self.head.is_some() || self.headers_sent
    }

    /// Whether the client has (or will have) the status and headers: not
    /// for an error handed to Apache, nor a kept block not yet sent.
    pub fn headers_sent(&self) -> bool {
        self.headers_sent && self.overridden.is_none() && self.deferred.is_none()
    }

    /// The error status handed to Apache under WSGIErrorOverride.
    pub fn overridden_status(&self) -> Option<u16> {
        self.overridden.as_ref().map(|head| head.code)
    }

    /// The WWW-Authenticate challenges of the error handed to Apache,
    /// without which a 401 is useless.
    pub fn overridden_challenges(&self) -> Vec<Vec<u8>> {
        self.overridden
            .iter()
            .flat_map(|head| &head.headers)
            .filter(|(name, _)| name.eq_ignore_ascii_case(b"www-authenticate"))
            .map(|(_, value)| value.clone())
            .collect()
    }

    /// Gives a one-block response a Content-Length when the app set none.
    pub fn set_length_if_unset(&mut self, length: u64) {
        if self.head.is_some() && self.length.is_none() && !self.headers_sent {
            self.length = Some(length);
        }
    }

    /// Lets through up to `len` more body bytes under the Content-Length in
    /// force. None when nothing needs to reach Apache.
    pub fn claim(&mut self, len: u64) -> Option<Claim> {
        if self.overridden.is_some() || self.override_error() {
            return None;
        }
        let allowed = self
            .length
            .map_or(u64::MAX, |length| length.saturating_sub(self.body_sent));
        let take = len.min(allowed);
        if take == 0 && self.headers_sent {
            return None;
        }
        self.body_sent += take;
        Some(Claim {
            head: self.head_to_send(),
            length: self.length,
            take,
        })
    }

    /// A file of `available` bytes: it gives the response its length when
    /// the app declared none and the head has not gone out.
    pub fn claim_file(&mut self, available: u64) -> Option<Claim> {
        if !self.headers_sent && self.length.is_none() {
            self.length = Some(available);
        }
        self.claim(available)
    }

    /// Keeps the body's only block, `len` bytes, as the whole response when
    /// nothing has gone out yet: `keep` is given the length let through and
    /// returns the body to keep. False when the block must be written as
    /// any other.
    pub fn defer_only_block(&mut self, len: u64, keep: impl FnOnce(u64) -> B) -> bool {
        if self.deferred.is_some() || self.headers_sent || self.override_error() {
            return false;
        }
        let Some(claim) = self.claim(len) else {
            return false;
        };
        self.deferred = Some(Deferred {
            head: claim.head,
            length: claim.length,
            body: keep(claim.take),
        });
        true
    }

    /// The kept one-block response, for the handler to send.
    pub fn take_deferred(&mut self) -> Option<Deferred<B>> {
        self.deferred.take()
    }

    /// Ends the response.
    pub fn finish(&mut self) -> Finish<B> {
        if !self.started() {
            return Finish::NotStarted;
        }
        if self.overridden.is_some() || self.override_error() {
            return Finish::HandToApache;
        }
        let short = matches!(self.length, Some(length) if self.body_sent < length);
        if self.deferred.is_some() && !short {
            return Finish::Deferred;
        }
        let deferred = self.deferred.take();
        let head = if deferred.is_some() {
            None
        } else {
            self.head_to_send()
        };
        Finish::Send {
            deferred,
            head,
            length: self.length,
            sent: self.body_sent,
        }
    }

    /// Under WSGIErrorOverride, takes an error head that has not gone out
    /// away from the response: nothing of it will be sent.
    fn override_error(&mut self) -> bool {
        let is_error = self.head.as_ref().is_some_and(|head| head.code >= 400);
        if self.error_override && is_error && !self.headers_sent {
            self.overridden = self.head.take();
            self.headers_sent = true;
            return true;
        }
        false
    }

    /// The head, the first time it is asked for: it goes out exactly once.
    fn head_to_send(&mut self) -> Option<Head> {
        let head = if self.headers_sent {
            None
        } else {
            self.head.take()
        };
        self.headers_sent = true;
        head
    }
}

#[cfg(test)]
mod tests;
