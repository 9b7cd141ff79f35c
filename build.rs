//! Finds Apache through apxs, generates Rust bindings to its headers, compiles
//! the C shim, and checks that the chosen Python can be embedded.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, exit};

fn main() {
    println!("cargo:rerun-if-env-changed=APXS");
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
    println!("cargo:rerun-if-changed=shim/wrapper.h");
    println!("cargo:rerun-if-changed=shim/shim.h");
    println!("cargo:rerun-if-changed=shim/shim.c");

    check_python();
    // The module's own references to its exported symbols (rwsgi_module,
    // wsgi_module) bind to its own definitions: with mod_wsgi loaded
    // first, `wsgi_module` would otherwise resolve to mod_wsgi's struct.
    println!("cargo:rustc-link-arg-cdylib=-Wl,-Bsymbolic");
    let apache = ApacheBuildInfo::from_apxs();
    compile_shim(&apache);
    generate_bindings(&apache);
}

/// Stops the build with one sentence on stderr, which cargo shows.
fn fail(sentence: &str) -> ! {
    eprintln!("error: {sentence}");
    exit(1);
}

struct ApacheBuildInfo {
    include_dirs: Vec<PathBuf>,
    defines: Vec<String>,
}

impl ApacheBuildInfo {
    fn from_apxs() -> Self {
        let apxs = find_apxs();
        // Debian's apxs comes with apache2-dev; any other (a from-source
        // /usr/local/apache2, Docker's httpd image) comes with its Apache.
        let debian = apxs.starts_with("/usr/bin");
        let query = |var: &str| -> String {
            let out = Command::new(&apxs)
                .args(["-q", var])
                .output()
                .unwrap_or_else(|e| {
                    fail(&format!(
                        "running `{} -q {var}` failed ({e}); {}",
                        apxs.display(),
                        if debian {
                            "install apache2-dev"
                        } else {
                            "set APXS to your Apache's apxs"
                        }
                    ))
                });
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        let httpd_dir = PathBuf::from(query("INCLUDEDIR"));
        if !httpd_dir.join("httpd.h").exists() {
            fail(&format!(
                "Apache's headers (httpd.h) are not in {}, where {} says they are; {}",
                httpd_dir.display(),
                apxs.display(),
                if debian {
                    "install apache2-dev"
                } else {
                    "install your Apache's headers, or set APXS to another apxs"
                }
            ));
        }
        let mut include_dirs = vec![httpd_dir];
        let apr = query("APR_INCLUDEDIR");
        if !apr.is_empty() {
            include_dirs.push(PathBuf::from(apr));
        } else if let Ok(out) = Command::new("apr-1-config").arg("--includedir").output() {
            include_dirs.push(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
        }
        // APR and APR-util are packaged apart from Apache: an Apache built
        // from source against Debian's libapr (Docker's httpd image) has
        // apxs but not their headers.
        let apr_dir = include_dirs.get(1).cloned().unwrap_or_default();
        for (header, packages) in [
            ("apr.h", "libapr1-dev libaprutil1-dev"),
            ("apu.h", "libaprutil1-dev"),
        ] {
            if !apr_dir.join(header).exists() && !include_dirs[0].join(header).exists() {
                fail(&format!(
                    "APR's headers ({header}) are not in {}; install {}",
                    apr_dir.display(),
                    if debian { "apache2-dev" } else { packages }
                ));
            }
        }
        // CFLAGS and EXTRA_CPPFLAGS carry defines that change type sizes
        // (apr_off_t under large-file support), so both sides must see them.
        let flags = format!("{} {}", query("CFLAGS"), query("EXTRA_CPPFLAGS"));
        let defines = flags
            .split_whitespace()
            .filter(|f| f.starts_with("-D"))
            .map(str::to_string)
            .collect();
        Self {
            include_dirs,
            defines,
        }
    }
}

fn find_apxs() -> PathBuf {
    if let Some(apxs) = env::var_os("APXS") {
        return PathBuf::from(apxs);
    }
    for name in ["apxs", "apxs2"] {
        for dir in env::split_paths(&env::var_os("PATH").unwrap_or_default()).chain([
            PathBuf::from("/usr/bin"),
            PathBuf::from("/usr/local/apache2/bin"),
        ]) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    fail("apxs was not found; install apache2-dev (Debian/Ubuntu) or set APXS=/path/to/apxs");
}

fn compile_shim(apache: &ApacheBuildInfo) {
    let mut build = cc::Build::new();
    build.file("shim/shim.c").include("shim").warnings(true);
    for dir in &apache.include_dirs {
        build.include(dir);
    }
    for define in &apache.defines {
        let define = &define[2..];
        match define.split_once('=') {
            Some((name, value)) => build.define(name, value),
            None => build.define(define, None),
        };
    }
    build.compile("rwsgi_shim");
}

fn generate_bindings(apache: &ApacheBuildInfo) {
    let mut builder = bindgen::Builder::default()
        .header("shim/wrapper.h")
        .clang_arg("-Iapache")
        .allowlist_function("ap_.*|apr_.*|rwsgi_.*")
        .allowlist_type("process_rec|module|request_rec|server_rec|conn_rec|command_rec|cmd_parms|apr_table_entry_t|ap_regex_t|ap_regmatch_t|authn_provider|authz_provider")
        .allowlist_var("MODULE_MAGIC_.*|APR_HOOK_.*|OK|DECLINED|DONE|HTTP_.*|APLOG_.*|OPT_.*|RSRC_CONF|ACCESS_CONF|OR_.*|AP_MPMQ_.*|APR_SUCCESS|REQUEST_CHUNKED_.*|APR_NOFILE|APR_REG|APR_DIR|M_GET|GLOBAL_ONLY|NOT_IN_.*|AP_SQ_.*|AP_AUTH_INTERNAL_PER_CONF|APR_OC_REASON_.*|ap_unixd_config|ap_server_conf|ap_top_module")
        .blocklist_function("ap_log_.*|apr_.*printf.*|ap_.*printf.*|apr_.*_vformat.*|ap_vrprintf|apr_pvsprintf")
        .derive_default(true)
        .layout_tests(false)
        .generate_comments(false);
    for dir in &apache.include_dirs {
        builder = builder.clang_arg(format!("-I{}", dir.display()));
    }
    for define in &apache.defines {
        builder = builder.clang_arg(define);
    }
    // bindgen panics when libclang cannot be loaded; turn that into the one
    // sentence a user needs.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let generated =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || builder.generate()));
    std::panic::set_hook(default_hook);
    let bindings = match generated {
        Ok(Ok(bindings)) => bindings,
        Ok(Err(e)) => fail(&format!("bindgen could not read Apache's headers: {e}")),
        Err(_) => fail(
            "libclang was not found; install libclang-dev (Debian/Ubuntu) or set LIBCLANG_PATH",
        ),
    };
    let out =
        PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("apache_bindings.rs");
    // bindgen marks bitfield accessors #[allow(unnecessary_transmutes)], a
    // lint rustc knows from 1.88 on; older ones (Debian trixie's 1.85, the
    // crate's minimum) warn that it is unknown.
    let text = bindings.to_string().replace(
        "unnecessary_transmutes",
        "unknown_lints, unnecessary_transmutes",
    );
    std::fs::write(&out, text)
        .unwrap_or_else(|e| fail(&format!("writing {} failed: {e}", out.display())));
}

fn check_python() {
    let config = pyo3_build_config::get();
    // rwsgi-express checks apps with the same Python the module embeds.
    println!(
        "cargo:rustc-env=RWSGI_PYTHON={}",
        env::var("PYO3_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".into())
    );
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
    // Shown in SERVER_SOFTWARE and the Server header, as mod_wsgi does.
    println!(
        "cargo:rustc-env=RWSGI_PYTHON_VERSION={}.{}",
        config.version().major,
        config.version().minor
    );
    // environ is built presized where libpython exports
    // _PyDict_NewPresized (a private API, which Cython also relies on).
    println!("cargo::rustc-check-cfg=cfg(rwsgi_presized_dict)");
    if config.shared() && libpython_exports(config, "_PyDict_NewPresized") {
        println!("cargo:rustc-cfg=rwsgi_presized_dict");
    }
    if !config.shared() {
        let python = env::var("PYO3_PYTHON").unwrap_or_else(|_| "python3".into());
        fail(&format!(
            "{python} has no shared libpython, which an Apache module must link against; \
             use a Python built with --enable-shared (Debian: python3-dev with /usr/bin/python3)"
        ));
    }
    if let Some(dir) = config.lib_dir() {
        if !Path::new(dir).exists() {
            fail(&format!("libpython's directory {dir} does not exist"));
        }
        // Apache's children run as an unprivileged user (www-data), who
        // usually cannot read a Python installed in a home directory.
        if dir.starts_with("/root/") || dir.starts_with("/home/") {
            println!(
                "cargo:warning=libpython is in {dir}, which Apache's user may not be able to read; \
                 build with PYTHON=/usr/bin/python3 unless you made it readable"
            );
        }
    }
}

/// Whether a program calling `symbol` links against the libpython that
/// pyo3 links: what the library exports decides, not its version.
fn libpython_exports(config: &pyo3_build_config::InterpreterConfig, symbol: &str) -> bool {
    let (Some(dir), Some(name)) = (config.lib_dir(), config.lib_name()) else {
        return false;
    };
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let source = out.join(format!("probe{symbol}.c"));
    let program = out.join(format!("probe{symbol}"));
    let written = std::fs::write(
        &source,
        format!("extern void *{symbol}(long);\nint main(void) {{ {symbol}(0); return 0; }}\n"),
    );
    let compiler = cc::Build::new().cargo_metadata(false).get_compiler();
    written.is_ok()
        && compiler
            .to_command()
            .arg(&source)
            .arg("-o")
            .arg(&program)
            .arg(format!("-L{dir}"))
            .arg(format!("-l{name}"))
            .output()
            .is_ok_and(|o| o.status.success())
}
