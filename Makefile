# mod_rwsgi: `make run` serves examples/hello.py on http://127.0.0.1:8000/
# with rwsgi-express, `make test` runs every test. Both install what is
# missing first.

PYTHON ?= /usr/bin/python3
export PYO3_PYTHON := $(PYTHON)
APXS ?= $(shell command -v apxs 2>/dev/null || command -v apxs2 2>/dev/null || echo apxs)
export APXS

# Debian/Ubuntu packages the build and the tests need.
# libapache2-mod-wsgi-py3, apache2-utils (htpasswd), openssl, curl and
# python3-venv: tests that compare with mod_wsgi, run under Basic auth and
# over HTTPS, and install Flask from PyPI into a virtualenv.
# g++: libFuzzer, which the fuzz targets link, is C++. gdb: a test that
# sees an Apache child crash reports the backtraces in its core.
BUILD_PACKAGES := libclang-dev python3-dev gcc g++ binutils openssl curl python3-venv
# Debian's Apache, only when building for it: APXS unset or Debian's own.
# For another Apache (APXS=/usr/local/apache2/bin/apxs, Docker's httpd
# image) nothing installs a second Apache beside it; such a tree brings its
# own htpasswd, needs Debian's APR headers only if it was built against
# Debian's APR, and /etc/mime.types from media-types.
ifneq ($(filter apxs apxs2 /usr/bin/apxs /usr/bin/apxs2,$(APXS)),)
PACKAGES := apache2 apache2-dev libapache2-mod-wsgi-py3 apache2-utils gdb $(BUILD_PACKAGES)
else
PACKAGES := media-types $(BUILD_PACKAGES) \
  $(if $(filter /usr/include/apr-1.0,$(shell $(APXS) -q APR_INCLUDEDIR 2>/dev/null)),libapr1-dev libaprutil1-dev)
endif
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
MODULE := target/release/mod_rwsgi.so
EXPRESS := target/release/rwsgi-express
# Where `make run` puts the example: a directory Apache's user can read
# even when the checkout is in a private home directory.
RUN_DIR := /tmp/rwsgi-example

# Fuzzing (fuzz/, over crates/wire): every target for FUZZ_SECONDS each.
# Stable Rust: the coverage instrumentation cargo-fuzz would add, without
# its nightly-only AddressSanitizer (the code under test has no unsafe).
FUZZ_SECONDS ?= 30
FUZZ_TARGETS := response_head input_lines forwarded_headers environ_values daemon_frames
FUZZ_HOST := $(shell rustc -vV 2>/dev/null | sed -n 's/^host: //p')
FUZZ_RUSTFLAGS := -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
  -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
  -Cllvm-args=-sanitizer-coverage-pc-table \
  -Cllvm-args=-sanitizer-coverage-trace-compares \
  --cfg fuzzing -Cdebug-assertions -Coverflow-checks

.PHONY: all deps build test clippy run install clean bench bench-smoke bench-deps fuzz docker-test docker-prefetch

all: build

deps:
	@missing=""; for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing:$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi
	@command -v cargo >/dev/null || { echo "cargo was not found: install Rust 1.85 or newer (https://rustup.rs)"; exit 1; }

# A module file is replaced by a new file renamed over it, never rewritten
# in place: an Apache that has the old one loaded (rwsgi-express from the
# checkout, a benchmark) keeps the copy it mapped instead of crashing.
build: deps
	cargo build --release
	install -m 644 target/release/libmod_rwsgi.so $(MODULE).new
	mv -f $(MODULE).new $(MODULE)

# clippy with the workspace's lints (Cargo.toml), the benchmark's smoke
# run, the fuzzers (every workload about a second, answers checked; each
# fuzz target FUZZ_SECONDS) and the tests in Docker's httpd image first,
# so that the output ends with cargo test's summary.
test: build clippy docker-prefetch bench-smoke fuzz docker-test
	cargo test --release --workspace

clippy: deps
	cargo clippy --workspace --all-targets -- -D warnings

# The httpd stand-in's build context: fetching its sdist costs minutes of
# CPU (pip prepares its metadata), so make test starts it in the background,
# to overlap the benchmark's smoke run and the fuzzers (timed runs).
docker-prefetch:
	@if docker info >/dev/null 2>&1; then \
	  mkdir -p target/docker; \
	  docker/stand-ins/httpd/context.sh target/docker/httpd-context >target/docker/httpd-prefetch.log 2>&1 & \
	fi

# tests/docker_image.rs, where a Docker engine answers: docker/Dockerfile
# built and served in the httpd:2.4 image, then this suite inside that
# image (Python 3.13) and on Debian sid (Python 3.14). The base images are
# local stand-ins (docker/stand-ins), made with debootstrap when missing.
docker-test: build
	@if docker info >/dev/null 2>&1; then \
	  dpkg-query -W -f='$${Status}' debootstrap 2>/dev/null | grep -q 'ok installed' || { $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	    $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap; } && \
	  cargo test --release --test docker_image -- --ignored --nocapture --test-threads=1; \
	else \
	  echo "docker-test: skipped, no Docker engine answers (docker info failed)"; \
	fi

run: build
	install -d -m 755 $(RUN_DIR)
	install -m 644 examples/hello.py $(RUN_DIR)/hello.py
	$(EXPRESS) start-server $(RUN_DIR)/hello.py --port 8000 --log-to-terminal --access-log

# The benchmark's own needs: wrk drives it, valgrind counts instructions
# per request (mod_wsgi and ab come with PACKAGES).
BENCH_PACKAGES := wrk valgrind
bench-deps:
	@missing=""; for p in $(BENCH_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

bench: build bench-deps
	cargo bench --bench side_by_side

bench-smoke: build bench-deps
	cargo bench --bench side_by_side -- --smoke

# A crash stops here with the input that caused it in
# fuzz/artifacts/TARGET/ (replay: fuzz/target/HOST/release/TARGET FILE).
fuzz: deps
	cd fuzz && RUSTFLAGS="$(FUZZ_RUSTFLAGS)" cargo build --release --bins --target $(FUZZ_HOST)
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p fuzz/corpus/$$t fuzz/artifacts/$$t; \
	  if fuzz/target/$(FUZZ_HOST)/release/$$t -max_total_time=$(FUZZ_SECONDS) \
	      -artifact_prefix=fuzz/artifacts/$$t/ fuzz/corpus/$$t 2>fuzz/artifacts/$$t/log; then \
	    echo "fuzz $$t: $$(grep -o 'Done [0-9]* runs in [0-9]* second(s)' fuzz/artifacts/$$t/log), no crash"; \
	  else \
	    tail -n 40 fuzz/artifacts/$$t/log; echo "fuzz $$t: CRASH, input saved in fuzz/artifacts/$$t/"; exit 1; \
	  fi; \
	done

install: build
	install -D -m 644 $(MODULE) "$$($(APXS) -q LIBEXECDIR)/mod_rwsgi.so.new"
	mv -f "$$($(APXS) -q LIBEXECDIR)/mod_rwsgi.so.new" "$$($(APXS) -q LIBEXECDIR)/mod_rwsgi.so"
	install -D -m 755 $(EXPRESS) /usr/local/bin/rwsgi-express
	@if [ -d /etc/apache2/mods-available ]; then \
	  sed "s|@LIBEXECDIR@|$$($(APXS) -q LIBEXECDIR)|" conf/rwsgi.load > /etc/apache2/mods-available/rwsgi.load; \
	  install -m 644 conf/rwsgi.conf /etc/apache2/mods-available/rwsgi.conf; \
	  echo "Installed. Enable with: a2enmod rwsgi (and a2dismod wsgi if mod_wsgi is enabled)"; \
	fi

clean:
	cargo clean
