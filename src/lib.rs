//! mod_rwsgi: an Apache httpd 2.4 module that runs Python WSGI applications
//! inside Apache's own child processes.
//!
//! Bottom first:
//! - `config`: what the directives configure, in plain Rust.
//! - `apache`: the only layer with raw Apache/APR access (module struct,
//!   hooks, directives, request, tables, output, log).
//! - `interpreter`: the embedded CPython's life in each child.
//! - `wsgi`: the PEP 3333 gateway (environ, input, errors, start_response,
//!   response writing, script loading).
//! - `embedded`: the gateway's exchange over Apache's request, for
//!   applications run in Apache's own processes.
//! - `daemon`: daemon mode: process groups supervised from Apache's
//!   parent, the daemon processes, and the Apache child's side of a
//!   request sent to one.
//! - `handler`: the glue between Apache's content hooks and the gateway.
//! - `auth`: the glue between Apache's access, authentication and
//!   authorization phases and the scripts that decide them.
//!
//! Each uses only those above it in docs/architecture.md's table
//! (tests/layers.rs checks it). This root exports the module structs
//! Apache loads, and hands the `apache` layer the glue its hooks call.

mod apache;
mod auth;
mod config;
mod daemon;
mod embedded;
mod handler;
mod interpreter;
mod wsgi;

use apache::{Authn, Authz, Glue, Module, Request, Server};
use config::{DirConfig, ImportScript, ProcessSettings, ServerConfig};

/// The module as `LoadModule rwsgi_module` loads it.
#[unsafe(no_mangle)]
pub static rwsgi_module: Module = Module::new::<Rwsgi>();

/// The same module as a configuration written for mod_wsgi loads it
/// (`LoadModule wsgi_module .../mod_rwsgi.so`): see apache/names.rs.
#[unsafe(no_mangle)]
pub static wsgi_module: Module = Module::new::<Rwsgi>();

/// What Apache's calls reach: the glue in handler/ and auth.rs. Handed
/// to the `apache` layer here, so that it names nothing above itself.
struct Rwsgi;

impl Glue for Rwsgi {
    fn exported() -> [&'static Module; 2] {
        [&rwsgi_module, &wsgi_module]
    }

    fn post_config(
        pool: apache::process::ConfigPool,
        servers: &[(Server, &ServerConfig)],
    ) -> Result<(), String> {
        handler::post_config(pool, servers)
    }

    fn child_init(main: Server, process: &ProcessSettings, imports: &[ImportScript]) {
        handler::child_init(main, process, imports)
    }

    fn child_exit() {
        handler::child_exit()
    }

    fn translate(request: &Request<'_>, config: &ServerConfig) -> i32 {
        handler::translate(request, config)
    }

    fn handle(request: Request<'_>, server: &ServerConfig, config: &DirConfig) -> i32 {
        handler::handle(request, server, config)
    }

    fn check_access(request: Request<'_>, config: &DirConfig) -> i32 {
        auth::check_access(request, config)
    }

    fn check_password(
        request: Request<'_>,
        config: &DirConfig,
        user: &[u8],
        password: &[u8],
    ) -> Authn {
        auth::check_password(request, config, user, password)
    }

    fn get_realm_hash(
        request: Request<'_>,
        config: &DirConfig,
        user: &[u8],
        realm: &[u8],
    ) -> Authn {
        auth::get_realm_hash(request, config, user, realm)
    }

    fn check_group(request: Request<'_>, config: &DirConfig, require_line: &[u8]) -> Authz {
        auth::check_group(request, config, require_line)
    }
}
