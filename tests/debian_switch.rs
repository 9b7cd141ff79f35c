//! Switching a Debian Apache from mod_wsgi to mod_rwsgi with Debian's own
//! tools: `a2dismod wsgi && a2enmod rwsgi`, with the rwsgi.load and
//! rwsgi.conf that `make install` writes into mods-available. Run on a
//! copy of /etc/apache2 (APACHE_CONFDIR), started by apache2ctl.

mod common;

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{SharedDir, free_port, http, module_path, run};

/// A copy of Debian's /etc/apache2 whose run, lock and log directories are
/// its own, serving `site` on one port; stopped when dropped.
struct DebianApache {
    confdir: PathBuf,
    port: u16,
}

/// Debian's packaging tools are here (not in Docker's httpd image, whose
/// Apache has none); said when they are not.
fn debian_tools() -> bool {
    let found =
        Path::new("/usr/sbin/a2enmod").exists() && Path::new("/usr/sbin/apache2ctl").exists();
    if !found {
        eprintln!("debian_switch: not run, this Apache is not Debian's (no a2enmod, apache2ctl)");
    }
    found
}

impl DebianApache {
    fn new(dir: &SharedDir, script: &Path) -> Self {
        let confdir = dir.0.join("apache2");
        run(
            Command::new("cp")
                .arg("-a")
                .arg("/etc/apache2")
                .arg(&confdir),
            "cp (coreutils)",
        );
        let own = dir.0.join("var");
        for sub in ["run", "lock", "log"] {
            fs::create_dir_all(own.join(sub)).unwrap();
        }
        let mut envvars = fs::read_to_string(confdir.join("envvars")).unwrap();
        envvars.push_str(&format!(
            "\nexport APACHE_RUN_DIR={own}/run\nexport APACHE_PID_FILE={own}/run/apache2.pid\n\
             export APACHE_LOCK_DIR={own}/lock\nexport APACHE_LOG_DIR={own}/log\n",
            own = own.display()
        ));
        fs::write(confdir.join("envvars"), envvars).unwrap();
        let port = free_port();
        fs::write(
            confdir.join("ports.conf"),
            format!("Listen 127.0.0.1:{port}\n"),
        )
        .unwrap();
        let site_dir = script.parent().unwrap().display().to_string();
        fs::write(
            confdir.join("sites-available/000-default.conf"),
            format!(
                "<VirtualHost 127.0.0.1:{port}>\nWSGIScriptAlias / {}\n\
                 <Directory {site_dir}>\nRequire all granted\n</Directory>\n</VirtualHost>\n",
                script.display()
            ),
        )
        .unwrap();
        // What `make install` writes (the Makefile's sed), with the module
        // where this build put it.
        let load = fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/conf/rwsgi.load"))
            .unwrap()
            .replace(
                "@LIBEXECDIR@",
                &module_path().parent().unwrap().display().to_string(),
            );
        fs::write(confdir.join("mods-available/rwsgi.load"), load).unwrap();
        fs::copy(
            concat!(env!("CARGO_MANIFEST_DIR"), "/conf/rwsgi.conf"),
            confdir.join("mods-available/rwsgi.conf"),
        )
        .unwrap();
        DebianApache { confdir, port }
    }

    /// `program` with the environment an init system gives Apache (the
    /// test runner's would reach the children: stdio, cargo's variables).
    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command
            .env_clear()
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .env("LANG", "C")
            .env("APACHE_CONFDIR", &self.confdir)
            .stdin(std::process::Stdio::null());
        command
    }

    fn apache2ctl(&self, action: &str) {
        run(
            self.command("apache2ctl").arg(action),
            &format!("apache2ctl {action}"),
        );
    }

    fn a2(&self, tool: &str, module: &str) {
        run(self.command(tool).args(["-q", module]), tool);
    }

    fn enabled(&self, name: &str) -> bool {
        self.confdir.join("mods-enabled").join(name).exists()
    }

    /// The gateway's answer once Apache serves (the first connections of
    /// a starting Apache may be closed unanswered).
    fn answer(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let _ = stream
                    .write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
                let mut bytes = Vec::new();
                let _ = stream.read_to_end(&mut bytes);
                if let Some(response) = http::parse(&bytes) {
                    assert_eq!(response.status, 200, "{}", self.error_log());
                    return response.text();
                }
            }
            assert!(
                Instant::now() < deadline,
                "Apache did not answer:\n{}",
                self.error_log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops Apache: gracefully, then (mod_wsgi 4.9.4's children can take
    /// seconds to end) by killing what is left of its process group.
    fn stop(&self) {
        let pid_file = self.confdir.parent().unwrap().join("var/run/apache2.pid");
        let Some(pid) = fs::read_to_string(&pid_file)
            .ok()
            .and_then(|pid| pid.trim().parse::<i32>().ok())
        else {
            return;
        };
        let _ = self.command("apache2ctl").arg("stop").output();
        let deadline = Instant::now() + Duration::from_secs(3);
        // SAFETY: probing (signal 0) the process group Apache leads.
        while unsafe { libc::kill(-pid, 0) } == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        // SAFETY: the group of the Apache this test started (apache2
        // detaches into a session of its own), and what is left of it.
        unsafe { libc::killpg(pid, libc::SIGKILL) };
        let deadline = Instant::now() + Duration::from_secs(5);
        // SAFETY: probing the group again, until its processes are gone.
        while unsafe { libc::kill(-pid, 0) } == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = fs::remove_file(pid_file);
    }

    fn error_log(&self) -> String {
        fs::read_to_string(self.confdir.parent().unwrap().join("var/log/error.log"))
            .unwrap_or_default()
    }
}

impl Drop for DebianApache {
    fn drop(&mut self) {
        self.stop();
    }
}

#[test]
fn a2dismod_wsgi_and_a2enmod_rwsgi_switch_a_debian_apache_to_mod_rwsgi() {
    if !debian_tools() {
        return;
    }
    let dir = SharedDir::new("debian-switch");
    let script = dir.write(
        "site/which.wsgi",
        "def application(environ, start_response):\n\
         \x20   start_response('200 OK', [('Content-Type', 'text/plain')])\n\
         \x20   served_by = 'mod_rwsgi' if 'mod_rwsgi.application_group' in environ else 'mod_wsgi'\n\
         \x20   return [('%s %s' % (served_by, environ['mod_wsgi.process_group'] or '-')).encode()]\n",
    );
    dir.share();
    let apache = DebianApache::new(&dir, &script);
    apache.a2("a2enmod", "wsgi");
    apache.apache2ctl("start");
    assert_eq!(apache.answer(), "mod_wsgi -");
    apache.stop();

    apache.a2("a2dismod", "wsgi");
    apache.a2("a2enmod", "rwsgi");
    assert!(apache.enabled("rwsgi.load") && !apache.enabled("wsgi.load"));
    apache.apache2ctl("start");
    assert_eq!(apache.answer(), "mod_rwsgi -");
}

#[test]
fn enabling_rwsgi_beside_wsgi_is_refused_by_the_configuration_test() {
    if !debian_tools() {
        return;
    }
    let dir = SharedDir::new("debian-both");
    let script = dir.write("site/which.wsgi", "");
    dir.share();
    let apache = DebianApache::new(&dir, &script);
    apache.a2("a2enmod", "wsgi");
    apache.a2("a2enmod", "rwsgi");
    let tested = apache
        .command("apache2ctl")
        .arg("configtest")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&tested.stderr);
    assert!(!tested.status.success(), "{said}");
    assert!(said.contains("a2dismod wsgi"), "{said}");
}
