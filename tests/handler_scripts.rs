//! WSGIHandlerScript: an Apache handler name served by a script's
//! handle_request, through AddHandler or SetHandler, compared with Debian's
//! mod_wsgi on the same configuration.

mod common;

use common::{Apache, Gateway};

const SITE: &str = "\
LoadModule mime_module @MODULES@/mod_mime.so
TypesConfig /etc/mime.types
WSGIHandlerScript md-handler @APPS@/handler_script.wsgi
<Directory @ROOT@/htdocs>
    AddHandler md-handler .md
</Directory>
<Directory @ROOT@/htdocs/exec>
    Options +ExecCGI
</Directory>
<Location /virtual>
    SetHandler md-handler
</Location>
";

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n")
}

#[test]
fn handler_scripts_serve_what_apache_hands_them_as_mod_wsgi_does() {
    let ours = Apache::start_gateway(Gateway::Rwsgi, SITE);
    let theirs = Apache::start_gateway(Gateway::ModWsgi, SITE);
    for apache in [&ours, &theirs] {
        std::fs::create_dir_all(apache.root().join("htdocs/exec")).unwrap();
        std::fs::write(apache.root().join("htdocs/doc.md"), "# doc\n").unwrap();
        std::fs::write(apache.root().join("htdocs/exec/doc.md"), "# doc\n").unwrap();
    }
    let mut answers = Vec::new();
    for path in [
        "/doc.md",
        "/doc.md/extra",
        "/exec/doc.md",
        "/missing.md",
        "/virtual/a/b",
    ] {
        let (a, b) = (
            ours.raw(get(path).as_bytes()),
            theirs.raw(get(path).as_bytes()),
        );
        assert_eq!(a.status, b.status, "{path}\n{}", ours.error_log());
        assert_eq!(a.text(), b.text(), "{path}");
        answers.push((a.status, a.text()));
    }
    assert_eq!(
        answers[0],
        (
            200,
            "handled SCRIPT_NAME=/doc.md PATH_INFO= file=doc.md".to_string()
        )
    );
    // As with mod_wsgi: no ExecCGI needed, and the file need not exist.
    assert_eq!(
        answers[3],
        (
            200,
            "handled SCRIPT_NAME=/missing.md PATH_INFO= file=missing.md".to_string()
        )
    );
    assert_eq!(
        answers[4],
        (
            200,
            "handled SCRIPT_NAME=/virtual PATH_INFO=/a/b file=virtual".to_string()
        )
    );
}

/// mod_wsgi 4.9's WSGIHandlerScript always calls handle_request; mod_rwsgi
/// also takes callable-object=, as WSGIScriptAlias does.
#[test]
fn a_handler_script_may_name_another_callable() {
    let apache = Apache::start(
        "WSGIHandlerScript other-handler @APPS@/handler_script.wsgi callable-object=other
<Location /other>
SetHandler other-handler
</Location>
",
    );
    assert_eq!(apache.get("/other").text(), "other callable");
}
