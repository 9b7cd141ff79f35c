//! How mod_wsgi's group names expand for a request: `%{GLOBAL}`,
//! `%{RESOURCE}`, `%{SERVER}`, `%{HOST}` and `%{ENV:name}`, alike for
//! application groups (WSGIApplicationGroup, application-group=) and
//! process groups (WSGIProcessGroup, process-group=, WSGIRestrictProcess),
//! as in mod_wsgi 4.9. Plain Rust: the caller hands in what it knows of
//! the request.

/// What a group name may depend on, for one request.
pub struct RequestFacts<'a> {
    /// The ServerName of the virtual host serving the request.
    pub server_hostname: &'a [u8],
    /// The host the client asked for (empty when it named none).
    pub request_hostname: &'a [u8],
    /// The port, as SERVER_PORT shows it.
    pub port: u16,
    /// SCRIPT_NAME: the mount point of the application.
    pub script_name: &'a [u8],
    /// A variable of the request's environment (SetEnv, mod_rewrite), its
    /// notes, or the process's environment.
    pub variable: &'a dyn Fn(&str) -> Option<Vec<u8>>,
}

/// Expands a group's name for a request, as mod_wsgi does; `%{GLOBAL}` is
/// the empty name (the main interpreter, or Apache's own processes).
pub fn expand_group(spec: &str, facts: &RequestFacts<'_>) -> Vec<u8> {
    let with_port = |host: &[u8]| -> Vec<u8> {
        let mut name = host.to_vec();
        if facts.port != 80 && facts.port != 443 {
            name.extend_from_slice(format!(":{}", facts.port).as_bytes());
        }
        name
    };
    match spec {
        "%{GLOBAL}" => Vec::new(),
        "%{SERVER}" => with_port(facts.server_hostname),
        "%{HOST}" => {
            let host = match facts.request_hostname {
                b"" => facts.server_hostname,
                host => host,
            };
            with_port(host)
        }
        "%{RESOURCE}" => {
            let mut name = with_port(facts.server_hostname);
            name.push(b'|');
            name.extend_from_slice(facts.script_name);
            name
        }
        _ => match env_variable_name(spec) {
            Some(variable) => match (facts.variable)(variable) {
                // A variable may itself name one of the groups above.
                Some(value) if value.starts_with(b"%{") && !value.starts_with(b"%{ENV:") => {
                    match std::str::from_utf8(&value) {
                        Ok(inner) => expand_group(inner, facts),
                        Err(_) => value,
                    }
                }
                Some(value) => value,
                // mod_wsgi then uses the text as written, as a name.
                None => spec.as_bytes().to_vec(),
            },
            None => spec.as_bytes().to_vec(),
        },
    }
}

/// `name` of a `%{ENV:name}` value.
pub fn env_variable_name(spec: &str) -> Option<&str> {
    spec.strip_prefix("%{ENV:")
        .and_then(|rest| rest.strip_suffix('}'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(
        port: u16,
        request_hostname: &'a [u8],
        variable: &'a dyn Fn(&str) -> Option<Vec<u8>>,
    ) -> RequestFacts<'a> {
        RequestFacts {
            server_hostname: b"example.org",
            request_hostname,
            port,
            script_name: b"/app",
            variable,
        }
    }

    const NONE: &dyn Fn(&str) -> Option<Vec<u8>> = &|_| None;

    #[test]
    fn global_is_the_empty_name() {
        assert_eq!(expand_group("%{GLOBAL}", &facts(80, b"", NONE)), b"");
    }

    #[test]
    fn resource_is_server_and_mount_point_with_a_port_other_than_80_and_443() {
        assert_eq!(
            expand_group("%{RESOURCE}", &facts(80, b"", NONE)),
            b"example.org|/app"
        );
        assert_eq!(
            expand_group("%{RESOURCE}", &facts(443, b"", NONE)),
            b"example.org|/app"
        );
        assert_eq!(
            expand_group("%{RESOURCE}", &facts(8080, b"", NONE)),
            b"example.org:8080|/app"
        );
    }

    #[test]
    fn host_is_the_requested_host_or_else_the_server_name() {
        assert_eq!(
            expand_group("%{HOST}", &facts(8080, b"www.example.org", NONE)),
            b"www.example.org:8080"
        );
        assert_eq!(
            expand_group("%{HOST}", &facts(80, b"", NONE)),
            b"example.org"
        );
    }

    #[test]
    fn server_ignores_the_requested_host() {
        assert_eq!(
            expand_group("%{SERVER}", &facts(80, b"other", NONE)),
            b"example.org"
        );
    }

    #[test]
    fn env_gives_the_variable_or_the_text_as_written() {
        let set = |name: &str| (name == "GROUP").then(|| b"mine".to_vec());
        assert_eq!(expand_group("%{ENV:GROUP}", &facts(80, b"", &set)), b"mine");
        assert_eq!(
            expand_group("%{ENV:OTHER}", &facts(80, b"", &set)),
            b"%{ENV:OTHER}"
        );
    }

    #[test]
    fn env_may_name_another_expansion_but_not_another_env() {
        let set = |name: &str| match name {
            "A" => Some(b"%{SERVER}".to_vec()),
            "B" => Some(b"%{ENV:A}".to_vec()),
            _ => None,
        };
        assert_eq!(
            expand_group("%{ENV:A}", &facts(80, b"", &set)),
            b"example.org"
        );
        assert_eq!(expand_group("%{ENV:B}", &facts(80, b"", &set)), b"%{ENV:A}");
    }

    #[test]
    fn a_literal_name_is_itself() {
        assert_eq!(expand_group("shared", &facts(80, b"", NONE)), b"shared");
    }
}
