//! Application groups never share a Python: two sites in one Apache, each
//! in mod_wsgi's default application group, each importing its own
//! `settings`, see only their own modules, os.environ and module state, as
//! under mod_wsgi (which gives each group a sub-interpreter; mod_rwsgi
//! gives each a main interpreter in a process of its own).

mod common;

use std::collections::BTreeSet;

use common::{Apache, Gateway, Mpm, SharedDir};

/// Each site puts its own directory first on sys.path and imports its own
/// `settings` and `visits` modules: in one shared interpreter the second
/// site would find the first one's in sys.modules.
const SITE_SCRIPT: &str = r#"import json, os, sys
sys.path.insert(0, os.path.dirname(__file__))
import settings, visits
os.environ["SITE_NAME"] = settings.NAME

def application(environ, start_response):
    visits.seen.add(settings.NAME)
    body = json.dumps({
        "settings": settings.NAME,
        "environ": os.environ.get("SITE_NAME"),
        "visits": sorted(visits.seen),
        "group": environ.get("mod_rwsgi.application_group", environ.get("mod_wsgi.application_group")),
    }).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("X-Pid", str(os.getpid()))])
    return [body]
"#;

/// Two sites, `one` and `two`, in a directory Apache's user can read.
fn two_sites() -> SharedDir {
    let dir = SharedDir::new("sites");
    for name in ["one", "two"] {
        dir.write(&format!("{name}/site.wsgi"), SITE_SCRIPT);
        dir.write(
            &format!("{name}/settings.py"),
            &format!("NAME = {name:?}\n"),
        );
        dir.write(&format!("{name}/visits.py"), "seen = set()\n");
    }
    dir.share();
    dir
}

/// Two name-based virtual hosts, one.test and two.test, each serving its
/// site at /, with `extra` in each and `server` at server level.
fn two_vhosts(sites: &SharedDir, server: &str, extra: &str) -> String {
    let root = sites.0.display();
    let mut config = format!("{server}<Directory {root}>\nRequire all granted\n</Directory>\n");
    for name in ["one", "two"] {
        config.push_str(&format!(
            "<VirtualHost *:@PORT@>\nServerName {name}.test\n{extra}WSGIScriptAlias / {root}/{name}/site.wsgi\n</VirtualHost>\n"
        ));
    }
    config
}

fn request(host: &str) -> String {
    format!("GET /page HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
}

/// Asks each site in turn, `rounds` times: every answer, and the pids that
/// gave them.
fn ask_both(apache: &Apache, rounds: usize) -> (Vec<String>, BTreeSet<String>) {
    let mut answers = Vec::new();
    let mut pids = BTreeSet::new();
    for _ in 0..rounds {
        for host in ["one.test", "two.test"] {
            let response = apache.raw(request(host).as_bytes());
            assert_eq!(response.status, 200, "{host}: {}", apache.error_log());
            pids.insert(response.header("X-Pid").unwrap_or_default().to_string());
            answers.push(response.text());
        }
    }
    (answers, pids)
}

/// What each site must answer: its own settings, environ and visits only.
fn own_answer(name: &str) -> String {
    format!(
        r#"{{"settings": "{name}", "environ": "{name}", "visits": ["{name}"], "group": "{name}.test|"}}"#
    )
}

/// Runs both sites under `mpm` with mod_rwsgi and mod_wsgi, the same
/// configuration: every answer is the site's own, and the same as
/// mod_wsgi's.
fn assert_sites_isolated(mpm: Mpm, server: &str, extra: &str) {
    let sites = two_sites();
    let config = two_vhosts(&sites, server, extra);
    let ours = Apache::start_full(mpm, Gateway::Rwsgi, &config);
    let theirs = Apache::start_full(mpm, Gateway::ModWsgi, &config);
    let (our_answers, _) = ask_both(&ours, 10);
    let (their_answers, _) = ask_both(&theirs, 10);
    for (i, answer) in our_answers.iter().enumerate() {
        let site = if i % 2 == 0 { "one" } else { "two" };
        assert_eq!(answer, &own_answer(site), "request {i}");
    }
    assert_eq!(our_answers, their_answers);
}

const DAEMON_GROUP: &str =
    "WSGISocketPrefix @ROOT@/wsgi\nWSGIDaemonProcess shared processes=2 threads=4\n";
const IN_DAEMON_GROUP: &str = "WSGIProcessGroup shared\n";

#[test]
fn two_sites_in_apaches_children_see_only_their_own_modules_under_event() {
    assert_sites_isolated(Mpm::Event, "", "");
}

#[test]
fn two_sites_in_apaches_children_see_only_their_own_modules_under_worker() {
    assert_sites_isolated(Mpm::Worker, "", "");
}

#[test]
fn two_sites_in_apaches_children_see_only_their_own_modules_under_prefork() {
    assert_sites_isolated(Mpm::Prefork, "", "");
}

#[test]
fn two_sites_in_one_daemon_group_see_only_their_own_modules_under_event() {
    assert_sites_isolated(Mpm::Event, DAEMON_GROUP, IN_DAEMON_GROUP);
}

#[test]
fn two_sites_in_one_daemon_group_see_only_their_own_modules_under_worker() {
    assert_sites_isolated(Mpm::Worker, DAEMON_GROUP, IN_DAEMON_GROUP);
}

#[test]
fn two_sites_in_one_daemon_group_see_only_their_own_modules_under_prefork() {
    assert_sites_isolated(Mpm::Prefork, DAEMON_GROUP, IN_DAEMON_GROUP);
}

#[test]
fn the_global_application_group_puts_both_sites_in_one_interpreter() {
    // %{GLOBAL} asks for one interpreter: the second site then finds the
    // first one's modules, under mod_rwsgi as under mod_wsgi.
    let sites = two_sites();
    let config = two_vhosts(
        &sites,
        &common::one_child(4),
        "WSGIApplicationGroup %{GLOBAL}\n",
    );
    let apache = Apache::start(&config);
    let (answers, pids) = ask_both(&apache, 3);
    assert_eq!(pids.len(), 1, "one child serves both: {pids:?}");
    let first = &answers[0];
    assert!(answers.iter().all(|a| a == first), "{answers:?}");
    assert!(first.contains(r#""visits": ["one"]"#), "{first}");
}

#[test]
fn the_second_application_group_of_apaches_children_runs_in_a_process_of_its_own() {
    let sites = two_sites();
    let apache = Apache::start(&two_vhosts(&sites, &common::one_child(4), ""));
    let (_, pids) = ask_both(&apache, 3);
    assert_eq!(pids.len(), 2, "{pids:?}");
    let child = apache.children()[0].pid.to_string();
    assert!(
        pids.contains(&child),
        "one.test runs in the child: {pids:?}"
    );
    let log = apache.wait_for_log("runs in a process of its own");
    assert!(
        log.contains(
            "application group 'two.test|' of Apache's own processes runs in a process of its own"
        ),
        "{log}"
    );
}

#[test]
fn where_each_application_group_runs_is_logged_once() {
    let sites = two_sites();
    let apache = Apache::start(&two_vhosts(&sites, &common::one_child(4), ""));
    ask_both(&apache, 5);
    let log = apache.wait_for_log("runs in a process of its own");
    let primary = "application group 'one.test|' runs in the main interpreter of Apache's children";
    let own =
        "application group 'two.test|' of Apache's own processes runs in a process of its own";
    assert_eq!(log.matches(primary).count(), 1, "{log}");
    assert_eq!(log.matches(own).count(), 1, "{log}");
}

/// NumPy, cryptography (built with PyO3) and pydantic (pydantic-core, PyO3
/// too): each refuses a second sub-interpreter, and works in the main
/// interpreter every application group gets.
const EXTENSIONS_SCRIPT: &str = r#"import json, os
import numpy
import pydantic
from cryptography.fernet import Fernet

class Point(pydantic.BaseModel):
    x: int
    y: int

def application(environ, start_response):
    fernet = Fernet(Fernet.generate_key())
    body = json.dumps({
        "numpy": int(numpy.arange(10).sum()),
        "cryptography": fernet.decrypt(fernet.encrypt(b"secret")).decode(),
        "pydantic": Point.model_validate({"x": "1", "y": 2}).model_dump(),
        "group": environ["mod_rwsgi.application_group"],
    }).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("X-Pid", str(os.getpid()))])
    return [body]
"#;

#[test]
fn numpy_cryptography_and_pydantic_work_in_two_application_groups_and_the_global_one() {
    let dir = SharedDir::new("extensions");
    let venv = dir.virtualenv_with("env", &["numpy", "cryptography", "pydantic"]);
    let script = dir.write("site/app.wsgi", EXTENSIONS_SCRIPT);
    dir.share();
    let apache = Apache::start(&format!(
        "{}WSGIPythonHome {venv}\n<Directory {site}>\nRequire all granted\n</Directory>\n\
         WSGIScriptAlias /a {script}\nWSGIScriptAlias /b {script}\n\
         WSGIScriptAlias /global {script} application-group=%{{GLOBAL}}\n",
        common::one_child(4),
        venv = venv.display(),
        site = dir.0.join("site").display(),
        script = script.display(),
    ));
    let mut pids = BTreeSet::new();
    for _ in 0..2 {
        for (path, group) in [
            ("/a", "127.0.0.1|/a"),
            ("/b", "127.0.0.1|/b"),
            ("/global", ""),
        ] {
            let response = apache.get(path);
            assert_eq!(response.status, 200, "{path}: {}", apache.error_log());
            assert_eq!(
                response.text(),
                format!(
                    r#"{{"numpy": 45, "cryptography": "secret", "pydantic": {{"x": 1, "y": 2}}, "group": "{group}"}}"#
                ),
                "{path}"
            );
            pids.insert(response.header("X-Pid").unwrap_or_default().to_string());
        }
    }
    assert_eq!(pids.len(), 3, "each group in its own process: {pids:?}");
}

/// Appended to each project's urls.py: the admin's header names the
/// project, and /about/ says whose settings, database and key it runs with.
const DJANGO_URLS: &str = r#"
import hashlib
from django.conf import settings
from django.contrib.auth.models import User
from django.http import HttpResponse

admin.site.site_header = settings.PROJECT + " administration"

def about(request):
    users = ",".join(u.username for u in User.objects.order_by("username"))
    key = hashlib.sha256(settings.SECRET_KEY.encode()).hexdigest()[:12]
    return HttpResponse(f"{settings.PROJECT} users={users} key={key}")

urlpatterns.append(path("about/", about))
"#;

/// The WSGI script of a project: its own directory first on sys.path, as
/// a project served from a virtual host of its own is set up.
const DJANGO_SCRIPT: &str = r#"import os, sys
sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
from django.core.wsgi import get_wsgi_application
application = get_wsgi_application()
"#;

/// Two projects made by `django-admin startproject mysite` (the same
/// package name, each its own random SECRET_KEY), each migrated, with its
/// own superuser (alpha: ada, beta: bob): the directory and the
/// virtualenv with Django.
fn two_django_projects() -> (SharedDir, std::path::PathBuf) {
    let dir = SharedDir::new("two-django");
    let venv = dir.virtualenv_with("env", &["django"]);
    for (name, user, password) in [("alpha", "ada", "analytical"), ("beta", "bob", "builder")] {
        let project = dir.0.join(name);
        std::fs::create_dir_all(&project).unwrap();
        common::run(
            std::process::Command::new(venv.join("bin/django-admin"))
                .args(["startproject", "mysite"])
                .arg(&project),
            "django-admin startproject",
        );
        let settings = project.join("mysite/settings.py");
        let mut text = std::fs::read_to_string(&settings).unwrap();
        text.push_str(&format!(
            "\nPROJECT = {name:?}\nALLOWED_HOSTS = [\"{name}.test\"]\nDATABASES['default']['NAME'] = BASE_DIR / 'db' / 'db.sqlite3'\n"
        ));
        std::fs::write(&settings, text).unwrap();
        let urls = project.join("mysite/urls.py");
        let mut text = std::fs::read_to_string(&urls).unwrap();
        text.push_str(DJANGO_URLS);
        std::fs::write(&urls, text).unwrap();
        dir.write(&format!("{name}/site.wsgi"), DJANGO_SCRIPT);
        std::fs::create_dir_all(project.join("db")).unwrap();
        let manage = |args: &[&str]| {
            common::run(
                std::process::Command::new(venv.join("bin/python"))
                    .arg("manage.py")
                    .args(args)
                    .current_dir(&project),
                &format!("manage.py {args:?}"),
            );
        };
        manage(&["migrate", "--verbosity", "0"]);
        manage(&[
            "shell",
            "-c",
            &format!(
                "from django.contrib.auth.models import User; User.objects.create_superuser({user:?}, '{user}@example.test', {password:?})"
            ),
        ]);
    }
    dir.share();
    for name in ["alpha", "beta"] {
        // SQLite writes the database and its journal: Apache's user must too.
        common::run(
            std::process::Command::new("chmod")
                .args(["-R", "a+rwX"])
                .arg(dir.0.join(name).join("db")),
            "chmod",
        );
    }
    (dir, venv)
}

/// Logs in to the admin of `client`'s host; the answer to the login form.
fn admin_login(client: &mut common::Client<'_>, user: &str, password: &str) -> common::Response {
    let page = client.send("GET", "/admin/login/?next=/admin/", "", "");
    assert_eq!(page.status, 200, "{}", page.text());
    let token = common::Client::token(&page);
    client.send(
        "POST",
        "/admin/login/?next=/admin/",
        "application/x-www-form-urlencoded",
        &format!("csrfmiddlewaretoken={token}&username={user}&password={password}&next=/admin/"),
    )
}

#[test]
fn two_django_projects_in_two_virtual_hosts_each_see_only_their_own_settings_and_data() {
    let (dir, venv) = two_django_projects();
    let root = dir.0.display();
    let mut config = format!(
        "WSGIPythonHome {}\n<Directory {root}>\nRequire all granted\n</Directory>\n",
        venv.display()
    );
    for name in ["alpha", "beta"] {
        config.push_str(&format!(
            "<VirtualHost *:@PORT@>\nServerName {name}.test\nWSGIScriptAlias / {root}/{name}/site.wsgi\n</VirtualHost>\n"
        ));
    }
    for gateway in [Gateway::Rwsgi, Gateway::ModWsgi] {
        let apache = Apache::start_gateway(gateway, &config);
        let mut alpha = common::Client::new(&apache, "alpha.test");
        let mut beta = common::Client::new(&apache, "beta.test");
        let (a, b) = (
            alpha.send("GET", "/about/", "", ""),
            beta.send("GET", "/about/", "", ""),
        );
        assert!(
            a.text().starts_with("alpha users=ada key="),
            "{gateway:?}: {}",
            a.text()
        );
        assert!(
            b.text().starts_with("beta users=bob key="),
            "{gateway:?}: {}",
            b.text()
        );
        assert_ne!(
            a.text()[a.text().len() - 12..],
            b.text()[b.text().len() - 12..],
            "one SECRET_KEY"
        );

        // Each admin knows its own user only.
        assert_eq!(
            admin_login(&mut alpha, "bob", "builder").status,
            200,
            "{gateway:?}: bob logged in to alpha"
        );
        assert_eq!(
            admin_login(&mut beta, "ada", "analytical").status,
            200,
            "{gateway:?}: ada logged in to beta"
        );
        let login = admin_login(&mut alpha, "ada", "analytical");
        assert_eq!(login.status, 302, "{gateway:?}: {}", apache.error_log());
        let index = alpha.send("GET", "/admin/", "", "");
        assert_eq!(index.status, 200);
        assert!(index.text().contains("alpha administration"), "{gateway:?}");
        assert!(index.text().contains("<strong>ada</strong>"), "{gateway:?}");

        // alpha's session means nothing to beta (another key, another
        // database): beta sends it to its login page.
        let session = login
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
            .find_map(|(_, v)| v.split(';').next().filter(|c| c.starts_with("sessionid=")))
            .expect("a session cookie")
            .to_string();
        let stolen = apache.raw(
            format!("GET /admin/ HTTP/1.1\r\nHost: beta.test\r\nCookie: {session}\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        assert_eq!(stolen.status, 302, "{gateway:?}");
        assert!(
            stolen
                .header("Location")
                .unwrap_or_default()
                .starts_with("/admin/login/")
        );
        let index = beta.send("GET", "/admin/", "", "");
        assert_eq!(
            index.status, 302,
            "{gateway:?}: beta was never logged in to"
        );
        assert_eq!(admin_login(&mut beta, "bob", "builder").status, 302);
        assert!(
            beta.send("GET", "/admin/", "", "")
                .text()
                .contains("beta administration")
        );
    }
}

/// The managers of application groups of `apache` (children of its
/// parent): one, and another while one of an older generation ends.
fn managers(apache: &Apache) -> Vec<u32> {
    common::processes::all()
        .into_iter()
        .filter(|p| {
            p.ppid == apache.parent_pid() && p.command.starts_with("mod_rwsgi application groups")
        })
        .map(|p| p.pid)
        .collect()
}

/// The one manager of application groups of `apache`.
fn manager(apache: &Apache) -> u32 {
    let managers = managers(apache);
    assert_eq!(managers.len(), 1, "{managers:?}");
    managers[0]
}

/// The pid that answered `host`.
fn pid_for(apache: &Apache, host: &str) -> String {
    let response = apache.raw(request(host).as_bytes());
    assert_eq!(response.status, 200, "{host}: {}", apache.error_log());
    response.header("X-Pid").unwrap_or_default().to_string()
}

/// Asks `host` until a process other than `old` answers (at most 20 s).
fn answered_by_another(apache: &Apache, host: &str, old: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let response = apache.raw(request(host).as_bytes());
        let pid = response.header("X-Pid").unwrap_or_default().to_string();
        if response.status == 200 && pid != old {
            return pid;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{host} stays with {old}: {}",
            apache.error_log()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn a_killed_process_of_an_application_group_is_replaced() {
    let sites = two_sites();
    let apache = Apache::start(&two_vhosts(&sites, &common::one_child(4), ""));
    let child = pid_for(&apache, "one.test");
    let own = pid_for(&apache, "two.test");
    // SAFETY: killing the test's own Apache's process of two.test.
    unsafe { libc::kill(own.parse().unwrap(), libc::SIGKILL) };
    answered_by_another(&apache, "two.test", &own);
    assert_eq!(pid_for(&apache, "one.test"), child);
    assert_eq!(
        apache.raw(request("two.test").as_bytes()).text(),
        own_answer("two")
    );
}

#[test]
fn a_killed_manager_is_replaced_and_its_groups_start_again() {
    let sites = two_sites();
    let apache = Apache::start(&two_vhosts(&sites, &common::one_child(4), ""));
    let child = pid_for(&apache, "one.test");
    let own = pid_for(&apache, "two.test");
    let first = manager(&apache);
    // SAFETY: killing the test's own Apache's manager.
    unsafe { libc::kill(first as i32, libc::SIGKILL) };
    // Its groups' processes go with it; the next request of two.test
    // starts them again, under a new manager.
    answered_by_another(&apache, "two.test", &own);
    assert_ne!(manager(&apache), first);
    assert_eq!(pid_for(&apache, "one.test"), child);
    assert_eq!(
        apache.raw(request("two.test").as_bytes()).text(),
        own_answer("two")
    );
    let log = apache.error_log();
    assert!(
        log.contains("the manager of application groups") && log.contains("ended unexpectedly"),
        "{log}"
    );
}

#[test]
fn a_graceful_restart_replaces_the_manager_and_leaves_no_socket_behind() {
    let sites = two_sites();
    let apache = Apache::start(&two_vhosts(&sites, &common::one_child(4), ""));
    let child = pid_for(&apache, "one.test");
    let own = pid_for(&apache, "two.test");
    let first = manager(&apache);
    let sockets = || -> Vec<String> {
        std::fs::read_dir(apache.root())
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sock"))
            .collect()
    };
    assert_eq!(
        sockets().len(),
        2,
        "the manager's and two.test's: {:?}\n{}",
        sockets(),
        apache.error_log()
    );
    // SAFETY: signalling the test's own Apache: a graceful restart.
    unsafe { libc::kill(apache.parent_pid() as i32, libc::SIGUSR1) };
    // The new generation's child, then two.test's process of its own.
    answered_by_another(&apache, "one.test", &child);
    answered_by_another(&apache, "two.test", &own);
    // The old manager goes once its groups' processes have.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while (sockets().len() != 2 || managers(&apache).len() != 1)
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_ne!(manager(&apache), first);
    assert_eq!(
        sockets().len(),
        2,
        "the old generation's are gone: {:?}",
        sockets()
    );
}

#[test]
fn a_process_that_cannot_prove_it_is_apaches_child_cannot_ask_the_manager() {
    let sites = two_sites();
    let apache = Apache::start(&two_vhosts(&sites, "", ""));
    // The manager may still be starting when Apache's port answers.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let socket = loop {
        let found = std::fs::read_dir(apache.root())
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .find(|p| p.to_string_lossy().ends_with(".m.sock"));
        match found {
            Some(socket) => break socket,
            None if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(50))
            }
            None => panic!(
                "no manager's socket in DefaultRuntimeDir\n{}",
                apache.error_log()
            ),
        }
    };
    let rest = common::forged_connection(&socket);
    assert!(
        rest.is_empty(),
        "the manager answered a forged connection: {rest:?}"
    );
    let log = apache.wait_for_log("the manager of application groups refused a connection");
    assert!(
        log.contains("a wrong proof of origin; only this Apache's children may ask it"),
        "{log}"
    );
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = std::fs::metadata(&socket).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(meta.uid(), 33);
    assert!(!apache.error_log().contains("runs in a process of its own"));
    assert_eq!(apache.raw(request("two.test").as_bytes()).status, 200);
}
