#!/bin/sh
# Lays out the build context of the httpd:2.4 stand-in in DIR: this
# folder's Dockerfile and httpd-foreground, and PyPI's mod_wsgi-httpd sdist,
# which carries httpd's release tarball (the Dockerfile checks its
# SHA-256; pip checks the sdist against the index's digest).
#
#   docker/stand-ins/httpd/context.sh DIR && docker build -t httpd:2.4 DIR
#
# The sdist stays in DIR, so a second run downloads nothing. pip prepares
# an sdist's metadata before it saves it, and mod_wsgi-httpd's setup.py
# builds APR while doing so: a minute or two, the first time only.
set -eu
dir=$1
here=$(cd "$(dirname "$0")" && pwd)
version=2.4.69.1
sdist=mod_wsgi_httpd-$version.tar.gz
mkdir -p "$dir"
# One download at a time (make test starts one early, in the background).
exec 9>"$dir/.lock"
flock 9
cp "$here/Dockerfile" "$here/httpd-foreground" "$dir/"
if [ ! -s "$dir/$sdist" ]; then
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	if command -v pip3 >/dev/null; then pip=pip3; else pip="python3 -m pip"; fi
	$pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
		-d "$tmp" "mod_wsgi-httpd==$version" >"$tmp/log" 2>&1 || {
		tail -n 20 "$tmp/log" >&2
		exit 1
	}
	mv "$tmp/$sdist" "$dir/$sdist"
fi
