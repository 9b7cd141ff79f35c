//! The glue between Apache's access, authentication and authorization
//! phases and the Python functions that decide them: WSGIAccessScript's
//! allow_access, WSGIAuthUserScript's check_password and get_realm_hash
//! (`AuthBasicProvider wsgi`, `AuthDigestProvider wsgi`), and
//! WSGIAuthGroupScript's groups_for_user (`Require wsgi-group`).

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::apache::{Authn, Authz, Level, LogId, Request, status};
use crate::config::{AuthScript, DEFAULT_APPLICATION_GROUP, DirConfig};
use crate::embedded::{self, Embedded};
use crate::{interpreter, wsgi};

/// The access checker: allow_access(environ, host) returns True (allowed),
/// False (403), or None (no decision: the other access rules decide), as
/// with mod_wsgi; other values count by their truth.
pub fn check_access(request: Request<'_>, config: &DirConfig) -> i32 {
    let Some(script) = &config.access_script else {
        return status::DECLINED;
    };
    let host = latin1(request.useragent_ip());
    call(request, config, script, "allow_access", &[host], |result| {
        if result.is_none() {
            return Ok(status::DECLINED);
        }
        match result.is_truthy() {
            Ok(true) => Ok(status::OK),
            Ok(false) => Ok(status::FORBIDDEN),
            Err(_) => Err("allow_access() returned a value without a truth value"),
        }
    })
    .unwrap_or(status::INTERNAL_SERVER_ERROR)
}

/// `AuthBasicProvider wsgi`: check_password(environ, user, password)
/// returns True, False, or None for a user it does not know. Like mod_wsgi,
/// any other value counts by its truth.
pub fn check_password(
    request: Request<'_>,
    config: &DirConfig,
    user: &[u8],
    password: &[u8],
) -> Authn {
    let Some(script) = &config.auth_user_script else {
        return no_script(&request, "WSGIAuthUserScript", "AuthBasicProvider wsgi");
    };
    let args = [latin1(user), latin1(password)];
    call(request, config, script, "check_password", &args, |result| {
        if result.is_none() {
            return Ok(Authn::UserNotFound);
        }
        match result.is_truthy() {
            Ok(true) => Ok(Authn::Granted),
            Ok(false) => Ok(Authn::Denied),
            Err(_) => Err("check_password() returned a value without a truth value"),
        }
    })
    .unwrap_or(Authn::Error)
}

/// `AuthDigestProvider wsgi`: get_realm_hash(environ, user, realm) returns
/// the hex MD5 of "user:realm:password", or None for an unknown user.
pub fn get_realm_hash(
    request: Request<'_>,
    config: &DirConfig,
    user: &[u8],
    realm: &[u8],
) -> Authn {
    let Some(script) = &config.auth_user_script else {
        return no_script(&request, "WSGIAuthUserScript", "AuthDigestProvider wsgi");
    };
    let args = [latin1(user), latin1(realm)];
    call(request, config, script, "get_realm_hash", &args, |result| {
        if result.is_none() {
            Ok(Authn::UserNotFound)
        } else {
            name_bytes(result)
                .map(Authn::UserFound)
                .ok_or("get_realm_hash() must return a string or None")
        }
    })
    .unwrap_or(Authn::Error)
}

/// `Require wsgi-group name ...`: granted when groups_for_user(environ,
/// user) names one of the groups.
pub fn check_group(request: Request<'_>, config: &DirConfig, require_line: &[u8]) -> Authz {
    let Some(user) = request.user().map(latin1) else {
        return Authz::DeniedNoUser;
    };
    let Some(script) = &config.auth_group_script else {
        request.log(
            Level::Error(LogId("RW0521")),
            "mod_rwsgi: Require wsgi-group is used, but no WSGIAuthGroupScript applies here",
        );
        return Authz::Error;
    };
    let wanted: Vec<&[u8]> = require_line
        .split(u8::is_ascii_whitespace)
        .filter(|group| !group.is_empty())
        .collect();
    const KIND: &str = "groups_for_user() must return an iterable of str or bytes";
    call(
        request,
        config,
        script,
        "groups_for_user",
        &[user],
        |result| {
            let mut found = false;
            for group in result.try_iter().map_err(|_| KIND)? {
                let name = group.ok().as_ref().and_then(name_bytes).ok_or(KIND)?;
                found |= wanted.contains(&name.as_slice());
            }
            Ok(if found { Authz::Granted } else { Authz::Denied })
        },
    )
    .unwrap_or(Authz::Error)
}

fn no_script(request: &Request<'_>, directive: &str, provider: &str) -> Authn {
    request.log(
        Level::Error(LogId("RW0522")),
        &format!("mod_rwsgi: {provider} is used, but no {directive} applies here"),
    );
    Authn::Error
}

/// Latin-1, as every CGI value reaches Python.
fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// A str (as UTF-8) or bytes value.
fn name_bytes(value: &Bound<'_, PyAny>) -> Option<Vec<u8>> {
    if let Ok(text) = value.cast::<PyString>() {
        Some(text.to_string_lossy().into_owned().into_bytes())
    } else {
        value.cast::<PyBytes>().ok().map(|b| b.as_bytes().to_vec())
    }
}

/// Calls `function(environ, *args)` of `script` and reads its result with
/// `interpret`. An exception, or a result `interpret` refuses, is logged
/// and gives None.
fn call<T>(
    request: Request<'_>,
    config: &DirConfig,
    script: &AuthScript,
    function: &str,
    args: &[String],
    interpret: impl for<'py> FnOnce(&Bound<'py, PyAny>) -> Result<T, &'static str>,
) -> Option<T> {
    request.add_cgi_environment();
    let log_to = request.server();
    let mtime = match wsgi::script_mtime(&script.script) {
        Ok(mtime) => mtime,
        Err(reason) => {
            request.log(
                Level::Error(LogId("RW0523")),
                &format!("mod_rwsgi: {reason}"),
            );
            return None;
        }
    };
    let group = script
        .application_group
        .as_deref()
        .or(config.application_group.as_deref())
        .unwrap_or(DEFAULT_APPLICATION_GROUP);
    let application = wsgi::Application {
        script: script.script.clone(),
        callable: function.to_string(),
        mtime,
        application_group: embedded::group_name(&request, group),
        reload: true,
        sendfile: None,
        error_override: false,
        forwarded_https: None,
    };
    let exchange = Embedded::new(&request);
    let outcome = interpreter::with_python(|py| {
        wsgi::auth_script::call(py, &exchange, &application, args, interpret)
    });
    match outcome {
        Ok(answer) => answer,
        Err(interpreter::Unavailable(reason)) => {
            log_to.log(
                Level::Error(LogId("RW0524")),
                &format!(
                    "mod_rwsgi: cannot run {function}() of {}: {reason}",
                    script.script.display()
                ),
            );
            None
        }
    }
}
