//! The byte-level rules mod_rwsgi applies to what it does not control:
//! the status and headers a WSGI application gives start_response, the
//! lines of a request body, and the headers a reverse proxy sends.
//!
//! Plain Rust, with neither Apache nor Python: the gateway calls it, the
//! unit tests below each module state it, and the fuzz targets in `fuzz/`
//! feed it arbitrary bytes.

pub mod forwarded;
pub mod lines;
pub mod response_head;
