//! Objects an app keeps past its request (wsgi.input, wsgi.errors,
//! start_response, write) raise a clear exception when used later, and never
//! touch the ended request's memory.

mod common;

use common::{Apache, one_child};

#[test]
fn per_request_objects_used_after_their_request_raise_runtime_error() {
    let apache = Apache::start(&format!(
        "{}WSGIScriptAlias /keep @APPS@/keeps_objects.wsgi",
        one_child(2)
    ));
    assert_eq!(apache.get("/keep?keep").text(), "kept\n");
    let text = apache.get("/keep?use").text();
    for name in ["input", "errors", "start_response", "write"] {
        let expected = format!("{name}: RuntimeError: mod_rwsgi: ");
        assert!(text.contains(&expected), "{name} did not raise: {text}");
    }
    assert!(text.contains("after its request had ended"), "{text}");
}
