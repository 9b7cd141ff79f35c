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
PACKAGES := apache2 apache2-dev libclang-dev python3-dev gcc binutils \
  libapache2-mod-wsgi-py3 apache2-utils openssl curl python3-venv
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
MODULE := target/release/mod_rwsgi.so
EXPRESS := target/release/rwsgi-express
# Where `make run` puts the example: a directory Apache's user can read
# even when the checkout is in a private home directory.
RUN_DIR := /tmp/rwsgi-example

.PHONY: all deps build test run install clean bench bench-smoke bench-deps

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

build: deps
	cargo build --release
	cp -f target/release/libmod_rwsgi.so $(MODULE)

# The benchmark's smoke run first (every workload about a second, answers
# checked), so that the output ends with cargo test's summary.
test: build bench-smoke
	cargo test --release

run: build
	install -d -m 755 $(RUN_DIR)
	install -m 644 examples/hello.py $(RUN_DIR)/hello.py
	$(EXPRESS) start-server $(RUN_DIR)/hello.py --port 8000 --log-to-terminal --access-log

# The benchmark's own needs: wrk drives it, mod_wsgi is compared.
bench-deps:
	@dpkg-query -W -f='$${Status}' wrk 2>/dev/null | grep -q "ok installed" || { \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends wrk; }

bench: build bench-deps
	cargo bench --bench side_by_side

bench-smoke: build bench-deps
	cargo bench --bench side_by_side -- --smoke

install: build
	install -D -m 644 $(MODULE) "$$($(APXS) -q LIBEXECDIR)/mod_rwsgi.so"
	install -D -m 755 $(EXPRESS) /usr/local/bin/rwsgi-express
	@if [ -d /etc/apache2/mods-available ]; then \
	  sed "s|@LIBEXECDIR@|$$($(APXS) -q LIBEXECDIR)|" conf/rwsgi.load > /etc/apache2/mods-available/rwsgi.load; \
	  install -m 644 conf/rwsgi.conf /etc/apache2/mods-available/rwsgi.conf; \
	  echo "Installed. Enable with: a2enmod rwsgi (and a2dismod wsgi if mod_wsgi is enabled)"; \
	fi

clean:
	cargo clean
