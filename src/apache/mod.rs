//! The one layer that touches Apache httpd and APR through raw pointers.
//!
//! Everything else in the crate speaks through the small safe types exported
//! here: [`Request`] for the request being served, [`Server`] for logging
//! without a request, and the module struct in `module`, with Apache's
//! calls into it by job: `hooks`, `commands`, `auth_providers`,
//! `module_config`.

mod auth_providers;
mod commands;
mod ffi;
mod hooks;
mod log;
mod module;
mod module_config;
mod names;
mod pool;
pub mod process;
mod regex;
mod request;
mod server;
mod table;

pub use hooks::Glue;
pub use log::{Level, LogId};
pub use module::Module;
pub use request::{BodyError, ChunkedPolicy, ClientGone, FileType, Request};
pub use server::{Mpm, Server};
pub use table::Table;

/// What an authentication provider answers Apache about a user.
pub enum Authn {
    Granted,
    Denied,
    /// For Digest: the user exists, with this hex MD5 of user:realm:password.
    UserFound(Vec<u8>),
    UserNotFound,
    Error,
}

/// What an authorization provider answers about a `Require` line.
pub enum Authz {
    Granted,
    Denied,
    /// No authenticated user to decide about (Apache then authenticates).
    DeniedNoUser,
    Error,
}

/// The status codes a handler returns to Apache.
pub mod status {
    pub const OK: i32 = 0;
    pub const DECLINED: i32 = -1;
    pub const FORBIDDEN: i32 = 403;
    pub const NOT_FOUND: i32 = 404;
    pub const INTERNAL_SERVER_ERROR: i32 = 500;
    pub const GATEWAY_TIMEOUT: i32 = 504;
}
