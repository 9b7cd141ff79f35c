//! `WSGIDaemonProcess name option=value ...`: a daemon process group, with
//! every option of mod_wsgi 6 known. Each is either applied, accepted with
//! one start-up line saying why it cannot matter, or refused with a
//! sentence; an unknown option or a bad value is a configuration error that
//! names it. Stricter than mod_wsgi where mod_wsgi is silently lenient
//! (`threads=5x` is an error here, not 5).

use std::path::PathBuf;
use std::time::Duration;

use super::parse::option_words;
use super::{NewRelic, PythonHome};

/// A group's settings, as its WSGIDaemonProcess line gave them.
#[derive(Clone, Debug, PartialEq)]
pub struct DaemonGroup {
    pub name: String,
    pub processes: u32,
    /// `processes=` was given: wsgi.multiprocess is True even for 1, as in
    /// mod_wsgi.
    pub multiprocess: bool,
    pub threads: u32,
    /// The account the processes run as; None: Apache's `User`.
    pub user: Option<Account>,
    /// None: Apache's `Group` (not the user's own group, as in mod_wsgi).
    pub group: Option<Account>,
    /// Replaces the user's supplementary groups (initgroups otherwise).
    pub supplementary_groups: Option<Vec<Account>>,
    pub umask: Option<u32>,
    /// The working directory; None: the user's home when the user is not
    /// Apache's, else `/`.
    pub home: Option<PathBuf>,
    pub lang: Option<String>,
    pub locale: Option<String>,
    pub python_home: Option<PythonHome>,
    /// Replaces WSGIPythonPath in this group's processes, as in mod_wsgi.
    pub python_path: Option<Vec<PathBuf>>,
    pub python_eggs: Option<PathBuf>,
    /// newrelic-config-file= and newrelic-environment=: in this group's
    /// processes they replace the WSGINewRelic* directives, as in mod_wsgi.
    pub new_relic: NewRelic,
    /// The process title `ps` shows, whole.
    pub display_name: Option<String>,
    /// 0: never.
    pub maximum_requests: u64,
    pub restart_interval: Option<Duration>,
    pub inactivity_timeout: Option<Duration>,
    pub request_timeout: Option<Duration>,
    pub interrupt_timeout: Option<Duration>,
    pub deadlock_timeout: Option<Duration>,
    pub startup_timeout: Option<Duration>,
    pub graceful_timeout: Option<Duration>,
    pub eviction_timeout: Option<Duration>,
    pub shutdown_timeout: Option<Duration>,
    pub connect_timeout: Duration,
    /// None: Apache's Timeout.
    pub socket_timeout: Option<Duration>,
    pub queue_timeout: Option<Duration>,
    pub listen_backlog: u32,
    pub send_buffer_size: Option<u32>,
    pub receive_buffer_size: Option<u32>,
    pub stack_size: Option<usize>,
    pub switch_interval: Option<f64>,
    pub cpu_time_limit: Option<u64>,
    pub cpu_priority: i32,
    /// Bytes of resident memory above which a process is recycled.
    pub memory_limit: Option<u64>,
    pub virtual_memory_limit: Option<u64>,
    pub socket_user: Option<Account>,
    pub script_user: Option<Account>,
    pub script_group: Option<Account>,
    /// Options accepted without effect, each with why, for the start-up log.
    pub ignored: Vec<String>,
}

/// A user or group, resolved when the configuration is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// As written: a name, or `#id`.
    pub written: String,
    pub id: u32,
    /// The user's name (for initgroups) and home directory; groups have
    /// neither.
    pub name: Option<String>,
    pub home: Option<PathBuf>,
}

impl DaemonGroup {
    fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            processes: 1,
            multiprocess: false,
            threads: 15,
            user: None,
            group: None,
            supplementary_groups: None,
            umask: None,
            home: None,
            lang: None,
            locale: None,
            python_home: None,
            python_path: None,
            python_eggs: None,
            new_relic: NewRelic::default(),
            display_name: None,
            maximum_requests: 0,
            restart_interval: None,
            inactivity_timeout: None,
            request_timeout: None,
            interrupt_timeout: None,
            deadlock_timeout: Some(Duration::from_secs(300)),
            startup_timeout: None,
            graceful_timeout: Some(Duration::from_secs(15)),
            eviction_timeout: None,
            shutdown_timeout: Some(Duration::from_secs(5)),
            connect_timeout: Duration::from_secs(15),
            socket_timeout: None,
            queue_timeout: None,
            listen_backlog: 100,
            send_buffer_size: None,
            receive_buffer_size: None,
            stack_size: None,
            switch_interval: None,
            cpu_time_limit: None,
            cpu_priority: 0,
            memory_limit: None,
            virtual_memory_limit: None,
            socket_user: None,
            script_user: None,
            script_group: None,
            ignored: Vec::new(),
        }
    }

    /// The settings of the process an application group gets of its own,
    /// when it would otherwise share Apache's children's interpreter.
    pub fn for_application_group(name: &str, processes: u32, threads: u32) -> Self {
        let mut group = Self::new(name);
        group.processes = processes.max(1);
        group.threads = threads.max(1);
        group
    }

    /// The title `ps` shows: display-name with `%{GROUP}` as mod_wsgi
    /// expands it.
    pub fn title(&self) -> Option<String> {
        self.display_name.as_ref().map(|name| {
            if name == "%{GROUP}" {
                format!("(wsgi:{})", self.name)
            } else {
                name.clone()
            }
        })
    }
}

/// How users and groups are looked up: the system's databases, or a test's.
pub trait Accounts {
    fn user(&self, name: &str) -> Option<Account>;
    fn user_by_id(&self, id: u32) -> Option<Account>;
    fn group(&self, name: &str) -> Option<Account>;
    fn group_by_id(&self, id: u32) -> Option<Account>;
}

/// Parses the raw text of a WSGIDaemonProcess line (everything after the
/// directive's name).
pub fn parse_daemon_process(
    raw: &str,
    accounts: &dyn Accounts,
    python_home: &dyn Fn(&str) -> Result<PythonHome, String>,
) -> Result<DaemonGroup, String> {
    const D: &str = "WSGIDaemonProcess";
    let words = option_words(raw, 1).map_err(|why| format!("{D}: {why}"))?;
    let Some((name, options)) = words.split_first() else {
        return Err(format!(
            "{D}: the name of the daemon process group is missing"
        ));
    };
    if name.starts_with("%{") || name.contains('=') {
        return Err(format!(
            "{D}: '{name}' cannot name a daemon process group (WSGIProcessGroup would read it as an expansion or it is an option without a name before it)"
        ));
    }
    let mut group = DaemonGroup::new(name);
    for option in options {
        let Some((key, value)) = option.split_once('=') else {
            return Err(format!(
                "{D} {name}: '{option}' is not an option=value pair"
            ));
        };
        let bad = |why: &str| format!("{D} {name}: {key}={value}: {why}");
        apply(&mut group, key, value, accounts, python_home).map_err(|why| bad(&why))?;
    }
    if group.script_user.is_some() && group.script_group.is_some() {
        return Err(format!(
            "{D} {name}: only one of script-user and script-group may be given, as in mod_wsgi"
        ));
    }
    Ok(group)
}

fn apply(
    g: &mut DaemonGroup,
    key: &str,
    value: &str,
    accounts: &dyn Accounts,
    python_home: &dyn Fn(&str) -> Result<PythonHome, String>,
) -> Result<(), String> {
    match key {
        "processes" => {
            g.processes = number(value, 1, 10_000)?;
            g.multiprocess = true;
        }
        "threads" => {
            g.threads = number(value, 1, 65_533).map_err(|why| {
                if value == "0" {
                    "threads=0 (a service script without request threads) is not supported; use 1 or more".to_string()
                } else {
                    why
                }
            })?
        }
        "user" => {
            let user = user(value, accounts)?;
            if user.id == 0 {
                return Err(
                    "daemon processes never run as root (uid 0): name another user".into(),
                );
            }
            g.user = Some(user);
        }
        "group" => g.group = Some(group(value, accounts)?),
        "supplementary-groups" => {
            let groups = value
                .split(',')
                .filter(|name| !name.is_empty())
                .map(|name| group(name, accounts))
                .collect::<Result<Vec<_>, _>>()?;
            if groups.len() > 1024 {
                return Err("more than 1024 supplementary groups".into());
            }
            g.supplementary_groups = Some(groups);
        }
        "umask" => {
            g.umask = Some(
                u32::from_str_radix(value, 8)
                    .ok()
                    .filter(|&mask| mask <= 0o777)
                    .ok_or("not an octal umask from 0 to 0777")?,
            )
        }
        "home" => g.home = Some(absolute(value)?),
        "lang" => g.lang = Some(text(value)?),
        "locale" => g.locale = Some(text(value)?),
        "python-home" => g.python_home = Some(python_home(value)?),
        "python-path" => {
            g.python_path = Some(
                value
                    .split(':')
                    .filter(|dir| !dir.is_empty())
                    .map(PathBuf::from)
                    .collect(),
            )
        }
        "python-eggs" => g.python_eggs = Some(absolute(value)?),
        "display-name" => {
            if value.contains('\0') {
                return Err("a NUL byte in the name".into());
            }
            g.display_name = Some(value.to_string());
        }
        "maximum-requests" => g.maximum_requests = number(value, 0, u64::MAX)?,
        "restart-interval" => g.restart_interval = seconds(value)?,
        "inactivity-timeout" => g.inactivity_timeout = seconds(value)?,
        "request-timeout" => g.request_timeout = seconds(value)?,
        "interrupt-timeout" => g.interrupt_timeout = seconds(value)?,
        "deadlock-timeout" => g.deadlock_timeout = seconds(value)?,
        "startup-timeout" => g.startup_timeout = seconds(value)?,
        "graceful-timeout" => g.graceful_timeout = seconds(value)?,
        "eviction-timeout" => g.eviction_timeout = seconds(value)?,
        "shutdown-timeout" => g.shutdown_timeout = seconds(value)?,
        "connect-timeout" => {
            g.connect_timeout = seconds(value)?.unwrap_or(Duration::from_secs(15))
        }
        "socket-timeout" => g.socket_timeout = seconds(value)?,
        "queue-timeout" => g.queue_timeout = seconds(value)?,
        "listen-backlog" => g.listen_backlog = number(value, 1, 65_535)?,
        "send-buffer-size" => g.send_buffer_size = buffer_size(value, 512)?,
        "receive-buffer-size" => g.receive_buffer_size = buffer_size(value, 512)?,
        "header-buffer-size" => {
            buffer_size(value, 8192)?;
            ignore(g, key, "response heads travel as one bounded frame (up to 1 MiB), not through a line buffer");
        }
        "response-buffer-size" => {
            buffer_size(value, 65536)?;
            ignore(g, key, "each block the application yields is passed to Apache and flushed as it arrives; nothing accumulates to be bounded");
        }
        "response-flush-delay" => {
            number::<u64>(value, 0, u64::MAX)?;
            ignore(g, key, "each block is flushed as it arrives, as PEP 3333 asks, with no delay to tune");
        }
        "response-socket-timeout" => {
            seconds(value)?;
            ignore(g, key, "Apache's Timeout bounds every write to the client, as for any response");
        }
        "stack-size" => g.stack_size = Some(number(value, 65_536, 1 << 30)?),
        "switch-interval" => {
            g.switch_interval = Some(
                value
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s > 0.0)
                    .ok_or("not a number of seconds above 0")?,
            )
        }
        "cpu-time-limit" => g.cpu_time_limit = seconds(value)?.map(|d| d.as_secs()),
        "cpu-priority" => g.cpu_priority = number(value, -20, 19)?,
        "memory-limit" => g.memory_limit = Some(number(value, 1, u64::MAX)?).filter(|&n| n > 0),
        "virtual-memory-limit" => {
            g.virtual_memory_limit = Some(number(value, 1, u64::MAX)?).filter(|&n| n > 0)
        }
        "socket-user" => g.socket_user = Some(user(value, accounts)?),
        "script-user" => g.script_user = Some(user(value, accounts)?),
        "script-group" => g.script_group = Some(group(value, accounts)?),
        "server-metrics" => {
            super::parse::on_off("server-metrics", value)?;
            ignore(g, key, "mod_rwsgi keeps no server metrics for applications to read");
        }
        "chroot" => {
            return Err("chroot is not supported: a Python and the application would have to be copied into the new root, and mod_wsgi's own documentation deprecates it; use a container instead".into());
        }
        "newrelic-config-file" => g.new_relic.config_file = Some(absolute(value)?),
        "newrelic-environment" => g.new_relic.environment = Some(text(value)?),
        "python-eggs-cache" => {
            return Err(format!("{key} is not an option of mod_wsgi 4.9 or 6, nor of mod_rwsgi"));
        }
        _ => {
            return Err(format!(
                "unknown option '{key}' (option names are lower case, as in mod_wsgi; see docs/directives.md)"
            ));
        }
    }
    Ok(())
}

fn ignore(g: &mut DaemonGroup, key: &str, why: &str) {
    g.ignored.push(format!("{key} has no effect: {why}"));
}

fn number<T: std::str::FromStr + PartialOrd + std::fmt::Display>(
    value: &str,
    min: T,
    max: T,
) -> Result<T, String> {
    value
        .parse::<T>()
        .ok()
        .filter(|n| *n >= min && *n <= max)
        .ok_or_else(|| format!("not a whole number from {min} to {max}"))
}

/// Whole seconds; 0 means "none", as in mod_wsgi.
fn seconds(value: &str) -> Result<Option<Duration>, String> {
    let n: u64 = number(value, 0, 100 * 365 * 24 * 3600)
        .map_err(|_| "not a whole number of seconds".to_string())?;
    Ok((n > 0).then(|| Duration::from_secs(n)))
}

fn buffer_size(value: &str, min: u32) -> Result<Option<u32>, String> {
    let n: u32 = number(value, 0, 1 << 30)?;
    match n {
        0 => Ok(None),
        n if n < min => Err(format!("must be 0 (the default) or at least {min} bytes")),
        n => Ok(Some(n)),
    }
}

fn absolute(value: &str) -> Result<PathBuf, String> {
    if value.starts_with('/') {
        Ok(PathBuf::from(value))
    } else {
        Err("must be an absolute path".into())
    }
}

fn text(value: &str) -> Result<String, String> {
    if value.is_empty() || value.contains(['\0', '\n']) {
        Err("must be a non-empty name".into())
    } else {
        Ok(value.to_string())
    }
}

fn user(value: &str, accounts: &dyn Accounts) -> Result<Account, String> {
    match value.strip_prefix('#') {
        Some(id) => {
            let id = id.parse().map_err(|_| "not a user name or #uid")?;
            accounts
                .user_by_id(id)
                .ok_or_else(|| format!("no user has uid {id}"))
        }
        None if !value.is_empty() => accounts
            .user(value)
            .ok_or_else(|| format!("no user is called '{value}'")),
        None => Err("a user name or #uid is needed".into()),
    }
}

fn group(value: &str, accounts: &dyn Accounts) -> Result<Account, String> {
    match value.strip_prefix('#') {
        Some(id) => {
            let id = id.parse().map_err(|_| "not a group name or #gid")?;
            Ok(accounts.group_by_id(id).unwrap_or(Account {
                written: value.to_string(),
                id,
                name: None,
                home: None,
            }))
        }
        None if !value.is_empty() => accounts
            .group(value)
            .ok_or_else(|| format!("no group is called '{value}'")),
        None => Err("a group name or #gid is needed".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct TestAccounts;

    fn account(written: &str, id: u32, name: Option<&str>) -> Account {
        Account {
            written: written.to_string(),
            id,
            name: name.map(str::to_string),
            home: name.map(|n| PathBuf::from(format!("/home/{n}"))),
        }
    }

    impl Accounts for TestAccounts {
        fn user(&self, name: &str) -> Option<Account> {
            match name {
                "root" => Some(account(name, 0, Some("root"))),
                "site" => Some(account(name, 1000, Some("site"))),
                _ => None,
            }
        }
        fn user_by_id(&self, id: u32) -> Option<Account> {
            (id == 1000).then(|| account("#1000", 1000, Some("site")))
        }
        fn group(&self, name: &str) -> Option<Account> {
            match name {
                "site" => Some(account(name, 1000, None)),
                "web" => Some(account(name, 1001, None)),
                _ => None,
            }
        }
        fn group_by_id(&self, _: u32) -> Option<Account> {
            None
        }
    }

    fn parse(raw: &str) -> Result<DaemonGroup, String> {
        parse_daemon_process(raw, &TestAccounts, &|home| {
            Ok(PythonHome::Venv(PathBuf::from(home)))
        })
    }

    #[test]
    fn defaults_are_mod_wsgis() {
        let g = parse("site").unwrap();
        assert_eq!((g.processes, g.threads, g.multiprocess), (1, 15, false));
        assert_eq!(g.graceful_timeout, Some(Duration::from_secs(15)));
        assert_eq!(g.shutdown_timeout, Some(Duration::from_secs(5)));
        assert_eq!(g.deadlock_timeout, Some(Duration::from_secs(300)));
        assert_eq!(g.connect_timeout, Duration::from_secs(15));
        assert_eq!(g.listen_backlog, 100);
        assert_eq!(g.socket_timeout, None);
    }

    #[test]
    fn a_typical_line_is_read_whole() {
        let g = parse(
            "keystone user=site group=site processes=5 threads=1 display-name=%{GROUP} python-path=/srv/a:/srv/b home=/srv maximum-requests=1000 lang=en_US.UTF-8 locale=en_US.UTF-8",
        )
        .unwrap();
        assert_eq!(g.name, "keystone");
        assert_eq!((g.processes, g.threads, g.multiprocess), (5, 1, true));
        assert_eq!(g.user.as_ref().unwrap().id, 1000);
        assert_eq!(g.title().unwrap(), "(wsgi:keystone)");
        assert_eq!(
            g.python_path.unwrap(),
            [PathBuf::from("/srv/a"), PathBuf::from("/srv/b")]
        );
        assert_eq!(g.maximum_requests, 1000);
        assert_eq!(g.lang.as_deref(), Some("en_US.UTF-8"));
    }

    #[test]
    fn processes_1_given_still_makes_the_group_multiprocess() {
        assert!(parse("site processes=1").unwrap().multiprocess);
    }

    #[test]
    fn quoted_values_lose_their_quotes_and_may_hold_spaces() {
        let g = parse(r#"site display-name='%{GROUP}'"#).unwrap();
        assert_eq!(g.title().unwrap(), "(wsgi:site)");
        let g = parse(r#"site "display-name=my site""#).unwrap();
        assert_eq!(g.display_name.unwrap(), "my site");
    }

    #[test]
    fn an_unknown_option_is_named() {
        let err = parse("site thread=5").unwrap_err();
        assert!(
            err.contains("thread=5") && err.contains("unknown option 'thread'"),
            "{err}"
        );
        let err = parse("site Threads=5").unwrap_err();
        assert!(err.contains("unknown option 'Threads'"), "{err}");
    }

    #[test]
    fn bad_values_are_named_with_what_is_accepted() {
        for (line, expected) in [
            (
                "site threads=5x",
                "threads=5x: not a whole number from 1 to 65533",
            ),
            ("site threads=0", "threads=0"),
            ("site processes=0", "processes=0: not a whole number from 1"),
            (
                "site request-timeout=1.5",
                "request-timeout=1.5: not a whole number of seconds",
            ),
            ("site umask=0999", "umask=0999: not an octal umask"),
            ("site home=srv", "home=srv: must be an absolute path"),
            (
                "site send-buffer-size=100",
                "must be 0 (the default) or at least 512",
            ),
            (
                "site cpu-priority=40",
                "cpu-priority=40: not a whole number from -20 to 19",
            ),
            ("site server-metrics=maybe", "use On or Off"),
        ] {
            let err = parse(line).unwrap_err();
            assert!(err.contains(expected), "{line}: {err}");
        }
    }

    #[test]
    fn root_and_unknown_accounts_are_refused() {
        assert!(
            parse("site user=root")
                .unwrap_err()
                .contains("never run as root")
        );
        assert!(
            parse("site user=nobody-here")
                .unwrap_err()
                .contains("no user is called")
        );
        assert!(
            parse("site user=#12")
                .unwrap_err()
                .contains("no user has uid 12")
        );
        assert!(
            parse("site group=nope")
                .unwrap_err()
                .contains("no group is called")
        );
        assert_eq!(parse("site group=#77").unwrap().group.unwrap().id, 77);
        assert_eq!(parse("site user=#1000").unwrap().user.unwrap().id, 1000);
    }

    #[test]
    fn script_user_and_script_group_exclude_each_other() {
        assert!(
            parse("site script-user=site script-group=site")
                .unwrap_err()
                .contains("only one of script-user and script-group")
        );
    }

    #[test]
    fn a_missing_name_or_a_pair_without_equals_is_refused() {
        assert!(parse("").unwrap_err().contains("name"));
        assert!(parse("threads=5").unwrap_err().contains("cannot name"));
        assert!(
            parse("site threads")
                .unwrap_err()
                .contains("not an option=value pair")
        );
    }

    #[test]
    fn buffer_options_are_accepted_with_a_reason() {
        let g = parse("site header-buffer-size=65536 response-buffer-size=0").unwrap();
        assert_eq!(g.ignored.len(), 2);
        assert!(g.ignored[0].starts_with("header-buffer-size has no effect: "));
    }

    #[test]
    fn chroot_is_refused_with_why() {
        assert!(
            parse("site chroot=/jail")
                .unwrap_err()
                .contains("chroot is not supported")
        );
    }

    #[test]
    fn zero_timeouts_mean_none() {
        let g = parse("site graceful-timeout=0 deadlock-timeout=0 inactivity-timeout=60").unwrap();
        assert_eq!(g.graceful_timeout, None);
        assert_eq!(g.deadlock_timeout, None);
        assert_eq!(g.inactivity_timeout, Some(Duration::from_secs(60)));
    }

    /// What an option that takes seconds sets.
    type SecondsSetting = fn(&DaemonGroup) -> Option<Duration>;

    /// Every option that takes whole seconds (0: none), with what it sets.
    const SECONDS: [(&str, SecondsSetting); 12] = [
        ("restart-interval", |g| g.restart_interval),
        ("inactivity-timeout", |g| g.inactivity_timeout),
        ("request-timeout", |g| g.request_timeout),
        ("interrupt-timeout", |g| g.interrupt_timeout),
        ("deadlock-timeout", |g| g.deadlock_timeout),
        ("startup-timeout", |g| g.startup_timeout),
        ("graceful-timeout", |g| g.graceful_timeout),
        ("eviction-timeout", |g| g.eviction_timeout),
        ("shutdown-timeout", |g| g.shutdown_timeout),
        ("socket-timeout", |g| g.socket_timeout),
        ("queue-timeout", |g| g.queue_timeout),
        ("connect-timeout", |g| Some(g.connect_timeout)),
    ];

    #[test]
    fn every_seconds_option_sets_its_timeout() {
        for (key, setting) in SECONDS {
            let g = parse(&format!("site {key}=7")).unwrap();
            assert_eq!(setting(&g), Some(Duration::from_secs(7)), "{key}");
        }
    }

    #[test]
    fn every_seconds_option_refuses_what_is_not_whole_seconds() {
        for (key, _) in SECONDS {
            for value in ["-1", "1.5", "5s", ""] {
                let err = parse(&format!("site {key}={value}")).unwrap_err();
                assert_eq!(
                    err,
                    format!("WSGIDaemonProcess site: {key}={value}: not a whole number of seconds"),
                );
            }
        }
    }

    #[test]
    fn connect_timeout_of_0_keeps_the_default() {
        let g = parse("site connect-timeout=0").unwrap();
        assert_eq!(g.connect_timeout, Duration::from_secs(15));
    }

    #[test]
    fn cpu_time_limit_is_whole_seconds() {
        assert_eq!(
            parse("site cpu-time-limit=30").unwrap().cpu_time_limit,
            Some(30)
        );
        assert_eq!(parse("site cpu-time-limit=0").unwrap().cpu_time_limit, None);
        assert!(parse("site cpu-time-limit=x").is_err());
    }

    #[test]
    fn maximum_requests_of_0_means_no_limit() {
        assert_eq!(
            parse("site maximum-requests=0").unwrap().maximum_requests,
            0
        );
        assert!(
            parse("site maximum-requests=-5")
                .unwrap_err()
                .contains("maximum-requests=-5: not a whole number from 0")
        );
    }

    #[test]
    fn socket_buffer_sizes_are_0_or_at_least_512_bytes() {
        let g = parse("site send-buffer-size=4096 receive-buffer-size=0").unwrap();
        assert_eq!(
            (g.send_buffer_size, g.receive_buffer_size),
            (Some(4096), None)
        );
        assert_eq!(
            parse("site receive-buffer-size=511").unwrap_err(),
            "WSGIDaemonProcess site: receive-buffer-size=511: must be 0 (the default) or at least 512 bytes"
        );
    }

    #[test]
    fn listen_backlog_is_from_1_to_65535() {
        assert_eq!(
            parse("site listen-backlog=500").unwrap().listen_backlog,
            500
        );
        for value in ["0", "65536"] {
            assert!(
                parse(&format!("site listen-backlog={value}"))
                    .unwrap_err()
                    .contains("not a whole number from 1 to 65535")
            );
        }
    }

    #[test]
    fn stack_size_is_from_64_kib_to_1_gib() {
        assert_eq!(
            parse("site stack-size=524288").unwrap().stack_size,
            Some(524_288)
        );
        assert!(
            parse("site stack-size=4096")
                .unwrap_err()
                .contains("not a whole number from 65536 to 1073741824")
        );
    }

    #[test]
    fn switch_interval_is_seconds_above_0() {
        assert_eq!(
            parse("site switch-interval=0.002").unwrap().switch_interval,
            Some(0.002)
        );
        for value in ["0", "-1", "inf", "NaN", "fast"] {
            assert!(
                parse(&format!("site switch-interval={value}"))
                    .unwrap_err()
                    .contains("not a number of seconds above 0"),
                "{value}"
            );
        }
    }

    #[test]
    fn memory_limits_are_bytes_above_0() {
        let g = parse("site memory-limit=1000000 virtual-memory-limit=2000000").unwrap();
        assert_eq!(
            (g.memory_limit, g.virtual_memory_limit),
            (Some(1_000_000), Some(2_000_000))
        );
        for key in ["memory-limit", "virtual-memory-limit"] {
            assert!(parse(&format!("site {key}=0")).is_err(), "{key}");
        }
    }

    #[test]
    fn umask_is_octal() {
        assert_eq!(parse("site umask=0027").unwrap().umask, Some(0o027));
        assert!(parse("site umask=1000").is_err());
    }

    #[test]
    fn supplementary_groups_are_a_comma_separated_list_of_known_groups() {
        let g = parse("site supplementary-groups=site,,web").unwrap();
        let ids: Vec<u32> = g
            .supplementary_groups
            .unwrap()
            .iter()
            .map(|a| a.id)
            .collect();
        assert_eq!(ids, [1000, 1001]);
        assert!(
            parse("site supplementary-groups=site,nope")
                .unwrap_err()
                .contains("no group is called 'nope'")
        );
    }

    #[test]
    fn socket_and_script_accounts_are_looked_up() {
        let g = parse("site socket-user=site script-user=#1000").unwrap();
        assert_eq!(g.socket_user.unwrap().id, 1000);
        assert_eq!(g.script_user.unwrap().id, 1000);
        assert_eq!(
            parse("site script-group=web")
                .unwrap()
                .script_group
                .unwrap()
                .id,
            1001
        );
        assert!(
            parse("site socket-user=")
                .unwrap_err()
                .contains("a user name or #uid is needed")
        );
    }

    #[test]
    fn python_options_keep_their_paths() {
        let g =
            parse("site python-home=/srv/venv python-path=/a::/b python-eggs=/tmp/eggs").unwrap();
        assert_eq!(g.python_home, Some(PythonHome::Venv("/srv/venv".into())));
        assert_eq!(
            g.python_path.unwrap(),
            [PathBuf::from("/a"), PathBuf::from("/b")]
        );
        assert_eq!(g.python_eggs, Some(PathBuf::from("/tmp/eggs")));
        assert!(
            parse("site python-eggs=eggs")
                .unwrap_err()
                .contains("must be an absolute path")
        );
    }

    #[test]
    fn a_refused_python_home_gives_the_checks_reason() {
        let err = parse_daemon_process("site python-home=/nowhere", &TestAccounts, &|_| {
            Err("/nowhere does not exist or is not a directory".into())
        })
        .unwrap_err();
        assert_eq!(
            err,
            "WSGIDaemonProcess site: python-home=/nowhere: /nowhere does not exist or is not a directory"
        );
    }

    #[test]
    fn lang_and_locale_must_be_non_empty_names() {
        let g = parse("site lang=C.UTF-8 locale=de_DE.UTF-8").unwrap();
        assert_eq!(
            (g.lang.as_deref(), g.locale.as_deref()),
            (Some("C.UTF-8"), Some("de_DE.UTF-8"))
        );
        assert!(
            parse("site lang=")
                .unwrap_err()
                .contains("must be a non-empty name")
        );
    }

    #[test]
    fn response_tuning_options_are_accepted_with_a_reason() {
        let g = parse("site response-flush-delay=5 response-socket-timeout=10 server-metrics=On")
            .unwrap();
        let keys: Vec<&str> = g
            .ignored
            .iter()
            .map(|note| note.split(' ').next().unwrap())
            .collect();
        assert_eq!(
            keys,
            [
                "response-flush-delay",
                "response-socket-timeout",
                "server-metrics"
            ]
        );
        // Their values are still checked.
        assert!(parse("site response-socket-timeout=soon").is_err());
    }

    #[test]
    fn python_eggs_cache_is_refused_by_name() {
        assert_eq!(
            parse("site python-eggs-cache=x").unwrap_err(),
            "WSGIDaemonProcess site: python-eggs-cache=x: python-eggs-cache is not an option of mod_wsgi 4.9 or 6, nor of mod_rwsgi"
        );
    }

    #[test]
    fn new_relic_options_name_the_agents_file_and_environment() {
        let g = parse("site newrelic-config-file=/etc/newrelic.ini newrelic-environment=staging")
            .unwrap();
        assert_eq!(
            g.new_relic,
            NewRelic {
                config_file: Some("/etc/newrelic.ini".into()),
                environment: Some("staging".into()),
            }
        );
        assert!(
            parse("site newrelic-config-file=newrelic.ini")
                .unwrap_err()
                .contains("must be an absolute path")
        );
    }
}
