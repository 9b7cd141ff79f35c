//! A client that keeps its cookies between requests, for the frameworks'
//! sessions and logins.

use super::{Apache, Response};

/// One client of one gateway, with its own cookie jar.
pub struct Client<'a> {
    apache: &'a Apache,
    host: String,
    cookies: std::collections::BTreeMap<String, String>,
}

impl<'a> Client<'a> {
    /// A client with an empty cookie jar, asking for virtual host `host`.
    pub fn new(apache: &'a Apache, host: &str) -> Self {
        Client {
            apache,
            host: host.to_string(),
            cookies: Default::default(),
        }
    }

    /// Sends one request (its Cookie header from the jar) and keeps the
    /// cookies the answer sets.
    pub fn send(&mut self, method: &str, path: &str, content_type: &str, body: &str) -> Response {
        let cookies: Vec<String> = self
            .cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        let cookie = if cookies.is_empty() {
            String::new()
        } else {
            format!("Cookie: {}\r\n", cookies.join("; "))
        };
        let body_headers = if method == "POST" {
            format!(
                "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
                body.len()
            )
        } else {
            String::new()
        };
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\n{cookie}{body_headers}Connection: close\r\n\r\n{body}",
            self.host
        );
        let response = self.apache.raw(request.as_bytes());
        for (name, value) in &response.headers {
            if name.eq_ignore_ascii_case("set-cookie") {
                let pair = value.split(';').next().unwrap_or_default();
                if let Some((n, v)) = pair.split_once('=') {
                    if v.is_empty() || value.contains("Max-Age=0") {
                        self.cookies.remove(n);
                    } else {
                        self.cookies.insert(n.to_string(), v.to_string());
                    }
                }
            }
        }
        response
    }

    /// The CSRF token in a form Django rendered.
    pub fn token(response: &Response) -> String {
        let text = response.text();
        text.split("name=\"csrfmiddlewaretoken\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_default()
            .to_string()
    }
}
