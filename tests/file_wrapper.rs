//! wsgi.file_wrapper: a real file goes to Apache as a file (sendfile or mmap
//! as for static files), from its current position, cut at the app's
//! Content-Length; other file-likes are read in blocks; close() closes.

mod common;

use std::fs;
use std::io::Write;

use common::{Apache, http};

const SITE: &str = "WSGIScriptAlias /file @APPS@/file_wrapper.wsgi\n";

/// 1 MiB that no offset mistake can go unnoticed in.
fn data() -> Vec<u8> {
    (0u32..262_144).flat_map(|i| i.to_le_bytes()).collect()
}

fn start_with_data(site: &str) -> (Apache, Vec<u8>) {
    let apache = Apache::start(site);
    let data = data();
    fs::write(apache.root().join("htdocs/data.bin"), &data).expect("write data.bin");
    (apache, data)
}

#[test]
fn a_file_is_sent_whole_with_its_length() {
    let (apache, data) = start_with_data(SITE);
    let response = apache.get("/file?whole");
    assert_eq!(response.status, 200, "{}", apache.error_log());
    assert_eq!(response.header("Content-Length"), Some("1048576"));
    assert!(
        response.body == data,
        "body differs ({} bytes)",
        response.body.len()
    );
}

#[test]
fn a_file_is_sent_the_same_with_sendfile_with_mmap_and_with_plain_reads_whichever_directive_chose()
{
    for setting in [
        "EnableSendfile On",
        "EnableSendfile Off\nEnableMMAP On",
        "EnableSendfile Off\nEnableMMAP Off",
        "EnableSendfile Off\nWSGIEnableSendfile On",
        "EnableSendfile On\nWSGIEnableSendfile Off\nEnableMMAP Off",
    ] {
        let (apache, data) = start_with_data(&format!("{SITE}{setting}\n"));
        let response = apache.get("/file?whole");
        assert_eq!(response.status, 200, "{setting}: {}", apache.error_log());
        assert!(response.body == data, "{setting}: body differs");
    }
}

#[test]
fn a_file_is_sent_from_its_current_position() {
    let (apache, data) = start_with_data(SITE);
    let response = apache.get("/file?from-position");
    assert_eq!(response.header("Content-Length"), Some("1047576"));
    assert!(response.body == data[1000..], "body differs");
}

#[test]
fn a_file_is_cut_at_the_apps_content_length() {
    let (apache, data) = start_with_data(SITE);
    let response = apache.get("/file?content-length");
    assert_eq!(response.header("Content-Length"), Some("500"));
    assert_eq!(response.body, data[..500]);
}

#[test]
fn a_file_shorter_than_the_apps_content_length_closes_the_connection() {
    let (apache, data) = start_with_data(SITE);
    let mut stream = http::connect(apache.port);
    stream
        .write_all(b"GET /file?longer-than-file HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let response = http::read_response(&mut stream);
    assert_eq!(response.header("Content-Length"), Some("1048676"));
    assert!(!response.complete);
    assert!(response.body == data, "the whole file still arrives");
    assert!(
        apache
            .wait_for_log("shorter than its Content-Length")
            .contains("(1048576 bytes)")
    );
}

#[test]
fn head_sends_the_files_length_and_no_body() {
    let (apache, _) = start_with_data(SITE);
    let response = apache.raw(b"HEAD /file?whole HTTP/1.0\r\n\r\n");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("Content-Length"), Some("1048576"));
    assert!(response.body.is_empty());
}

#[test]
fn close_closes_the_file_after_it_was_sent() {
    let (apache, data) = start_with_data(SITE);
    let response = apache.get("/file?closes-file");
    assert!(response.body == data, "body differs");
    assert!(apache.wait_for_marker("file-closed"));
}

#[test]
fn a_file_like_without_fileno_is_read_in_blocks_and_closed() {
    let (apache, data) = start_with_data(SITE);
    let response = apache.get("/file?in-memory");
    assert_eq!(response.status, 200, "{}", apache.error_log());
    // Read in blocks, its length is not known up front.
    assert_eq!(response.header("Transfer-Encoding"), Some("chunked"));
    assert!(response.body == data, "body differs");
    assert!(apache.wait_for_marker("bytes-closed"));
}
