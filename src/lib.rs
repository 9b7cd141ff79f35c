//! mod_rwsgi: an Apache httpd 2.4 module that runs Python WSGI applications
//! inside Apache's own child processes.
//!
//! - `apache`: the only layer with raw Apache/APR access (module struct,
//!   hooks, directives, request, tables, output, log).
//! - `config`: what the directives configure, in plain Rust.
//! - `interpreter`: the embedded CPython's life in each child.
//! - `wsgi`: the PEP 3333 gateway (environ, input, errors, start_response,
//!   response writing, script loading).
//! - `daemon`: daemon mode: process groups supervised from Apache's
//!   parent, the daemon processes, and the Apache child's side of a
//!   request sent to one.
//! - `embedded`: the gateway's exchange over Apache's request, for
//!   applications run in Apache's own processes.
//! - `handler`: the glue between Apache's content hooks and the gateway.
//! - `auth`: the glue between Apache's access, authentication and
//!   authorization phases and the scripts that decide them.

mod apache;
mod auth;
mod config;
mod daemon;
mod embedded;
mod handler;
mod interpreter;
mod wsgi;
