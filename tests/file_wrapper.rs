//! wsgi.file_wrapper: a real file goes to Apache as a file (sendfile or mmap
//! as for static files), from its current position, cut at the app's
//! Content-Length; other file-likes are read in blocks; close() closes.

mod common;

use std::fs;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::{Apache, http, one_child};

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

/// The response to `/file?{case}`, checked to be the whole of data.bin.
fn served_whole(case: &str) -> (Apache, http::Response) {
    let (apache, data) = start_with_data(SITE);
    let response = apache.get(&format!("/file?{case}"));
    assert_eq!(response.status, 200, "{}", apache.error_log());
    assert!(
        response.body == data,
        "body differs ({} bytes)",
        response.body.len()
    );
    (apache, response)
}

/// Makes htdocs/large.bin, `size` bytes of zeros (sparse: nothing written).
fn make_large_file(apache: &Apache, size: u64) {
    let large = fs::File::create(apache.root().join("htdocs/large.bin")).expect("create large.bin");
    large.set_len(size).expect("size large.bin");
}

/// Asks for large.bin and reads no more than its status line.
fn ask_for_the_large_file(apache: &Apache) -> std::net::TcpStream {
    let mut stream = http::connect(apache.port);
    stream
        .write_all(b"GET /file?large HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .expect("send request");
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).expect("read the status line");
    assert_eq!(&head, b"HTTP/1.1 200", "{}", apache.error_log());
    stream
}

#[test]
fn a_file_is_sent_whole_with_its_length() {
    let (_apache, response) = served_whole("whole");
    assert_eq!(response.header("Content-Length"), Some("1048576"));
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
fn a_temporary_file_without_a_name_is_sent_whole() {
    let (_apache, response) = served_whole("temporary");
    assert_eq!(response.header("Content-Length"), Some("1048576"));
}

#[test]
fn a_file_like_without_fileno_is_read_in_blocks_and_closed() {
    let (apache, response) = served_whole("in-memory");
    // Read in blocks, its length is not known up front.
    assert_eq!(response.header("Transfer-Encoding"), Some("chunked"));
    assert!(apache.wait_for_marker("bytes-closed"));
}

#[test]
fn with_sendfile_clients_that_read_nothing_of_a_large_file_hold_no_worker_thread() {
    // Both worker threads of the only child get a file far larger than the
    // socket buffers, for clients that read nothing past the head. With
    // sendfile, Apache writes the rest from the event MPM's write
    // completion, as it does for static files, so the threads are free to
    // answer someone else. (Without sendfile Apache maps the file into
    // memory, and more than 64 KiB of mapped data waiting makes its core
    // output filter block the thread, static files included.)
    let apache = Apache::start(&format!(
        "{}EnableSendfile On\n{SITE}WSGIScriptAlias /hello @APPS@/hello.wsgi\n",
        one_child(2)
    ));
    make_large_file(&apache, 256 << 20);
    let stalled: Vec<_> = (0..2).map(|_| ask_for_the_large_file(&apache)).collect();
    let asked = Instant::now();
    let response = apache.get("/hello");
    assert_eq!(response.status, 200, "{}", apache.error_log());
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "answered only after {:?}: a worker waited for a client that reads nothing",
        asked.elapsed()
    );
    drop(stalled);
}

#[test]
fn file_responses_leave_no_descriptor_open_even_when_the_client_hangs_up() {
    // One child, so that no child started or stopped meanwhile moves the
    // count.
    let (apache, data) = start_with_data(&format!("{}EnableSendfile On\n{SITE}", one_child(8)));
    make_large_file(&apache, 64 << 20);
    let open_fds = || -> usize { apache.children().iter().map(|c| c.open_fds).sum() };
    assert!(apache.get("/file?whole").body == data);
    let before = open_fds();
    for _ in 0..20 {
        assert!(apache.get("/file?whole").body == data);
        // Gone after the head, with most of 64 MiB still to send.
        drop(ask_for_the_large_file(&apache));
    }
    // The hung-up responses end when Apache next writes to them.
    let deadline = Instant::now() + Duration::from_secs(10);
    while open_fds() > before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let after = open_fds();
    assert!(after <= before, "{} descriptors left open", after - before);
}
