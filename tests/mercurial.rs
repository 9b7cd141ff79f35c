//! Mercurial's hgweb, from PyPI, served by mod_rwsgi to the real `hg`
//! client: clone, push of a commit with a 10 MB file, pull. Mercurial
//! takes sys.stdin.buffer, sys.stdout.buffer and sys.stderr.buffer when it
//! is imported, so it runs only where the standard streams are mod_wsgi's.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Apache, SharedDir, run};

/// A virtualenv with Mercurial (the server's hgweb and the client's `hg`),
/// a repository that Apache's user owns and lets anyone push to over plain
/// HTTP, and the hgweb script serving it.
fn hgweb_site() -> (SharedDir, PathBuf, PathBuf) {
    let dir = SharedDir::new("hgweb");
    let venv = dir.virtualenv_with("env", &["mercurial"]);
    let hg = venv.join("bin/hg");
    let repository = dir.0.join("served");
    run(hg_command(&hg).arg("init").arg(&repository), "hg init");
    dir.write(
        "served/.hg/hgrc",
        "[web]\nallow-push = *\npush_ssl = false\n",
    );
    dir.write(
        "site/hgweb.wsgi",
        &format!(
            "from mercurial.hgweb import hgweb\napplication = hgweb({:?}.encode())\n",
            repository.display().to_string()
        ),
    );
    dir.share();
    run(
        Command::new("chown")
            .args(["-R", "www-data:www-data"])
            .arg(&repository),
        "chown (coreutils)",
    );
    (dir, venv, hg)
}

/// `hg` with no user or system configuration, plain output, a fixed author.
fn hg_command(hg: &Path) -> Command {
    let mut command = Command::new(hg);
    command
        .env("HGRCPATH", "")
        .env("HGPLAIN", "1")
        .env("HGUSER", "rwsgi test <test@example.invalid>");
    command
}

/// Clones from `url`, pushes a commit with a 10 MB file from that clone,
/// and pulls it into a clone made before the push: the pulled file has
/// the pushed bytes.
fn assert_clone_push_and_pull(hg: &Path, work: &Path, url: &str) {
    let (pusher, puller) = (work.join("pusher"), work.join("puller"));
    for clone in [&pusher, &puller] {
        run(hg_command(hg).arg("clone").arg(url).arg(clone), "hg clone");
    }
    // Not compressible: 10 MB on the wire, not a few kilobytes.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let content: Vec<u8> = (0..10 * 1024 * 1024)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    std::fs::write(pusher.join("big.bin"), &content).unwrap();
    run(
        hg_command(hg)
            .current_dir(&pusher)
            .args(["commit", "-A", "-m", "a 10 MB file"]),
        "hg commit",
    );
    let pushed = run(
        hg_command(hg).current_dir(&pusher).args(["push", url]),
        "hg push",
    );
    let said = String::from_utf8_lossy(&pushed.stdout);
    assert!(
        said.contains("added 1 changesets with 1 changes to 1 files"),
        "{said}"
    );
    run(
        hg_command(hg)
            .current_dir(&puller)
            .args(["pull", "-u", url]),
        "hg pull",
    );
    let pulled = std::fs::read(puller.join("big.bin")).expect("the pulled file");
    assert!(
        pulled == content,
        "the pulled file differs from the pushed one"
    );
}

/// Serves hgweb with `site`, where @VENV@ is the virtualenv and @SCRIPT@
/// the hgweb script, and runs the round trip against it.
fn assert_hgweb_serves(site: &str) {
    let (dir, venv, hg) = hgweb_site();
    let site = site
        .replace("@VENV@", &venv.display().to_string())
        .replace("@SCRIPT@", &format!("{}/site/hgweb.wsgi", dir.0.display()));
    let apache = Apache::start(&format!(
        "{site}<Directory {}/site>\nRequire all granted\n</Directory>\n",
        dir.0.display()
    ));
    let url = format!("http://127.0.0.1:{}/repo", apache.port);
    assert_clone_push_and_pull(&hg, &dir.0, &url);
}

#[test]
fn hgweb_serves_clone_push_of_a_10_mb_file_and_pull() {
    assert_hgweb_serves("WSGIPythonHome @VENV@\nWSGIScriptAlias /repo @SCRIPT@\n");
}

#[test]
fn hgweb_serves_clone_push_of_a_10_mb_file_and_pull_in_daemon_mode() {
    assert_hgweb_serves(
        "WSGIDaemonProcess hg threads=4 python-home=@VENV@\n\
         WSGIScriptAlias /repo @SCRIPT@ process-group=hg\n",
    );
}
