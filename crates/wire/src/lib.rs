//! The byte-level rules mod_rwsgi applies to what it does not control:
//! the status and headers a WSGI application gives start_response, the
//! lines of a request body, the headers a reverse proxy sends, which
//! environ strings may be reused from one request to the next, and the
//! frames (and the proof of origin) an Apache child and a daemon process
//! exchange.
//!
//! Plain Rust, with neither Apache nor Python: the gateway calls it, the
//! unit tests below each module state it, and the fuzz targets in `fuzz/`
//! feed it arbitrary bytes.

pub mod environ_names;
pub mod forwarded;
pub mod frame;
pub mod lines;
pub mod proof;
pub mod response_head;
