#!/usr/bin/env bash
# Usage: run-example.sh MODULE APP PORT
# Writes a throwaway Apache configuration serving APP at / and runs Apache in
# the foreground until Ctrl-C. The ServerRoot is a fresh temporary directory
# that Apache's user can read, with a copy of the app.
set -euo pipefail
module=$(realpath "$1"); app=$2; port=$3
here=$(cd "$(dirname "$0")" && pwd)
apxs=${APXS:-apxs}
modules=$("$apxs" -q LIBEXECDIR)
httpd="$("$apxs" -q SBINDIR)/$("$apxs" -q TARGET)"

root=$(mktemp -d /tmp/rwsgi-run.XXXXXX)
chmod 755 "$root"
trap 'rm -rf "$root"' EXIT
install -m 644 "$app" "$root/app.wsgi"
sed -e "s|@ROOT@|$root|g" -e "s|@PORT@|$port|g" -e "s|@MODULE@|$module|g" -e "s|@MODULES@|$modules|g" \
    "$here/example-site.conf" > "$root/httpd.conf"

defines=()
[ "$(id -u)" = 0 ] && defines=(-DRUN_AS_ROOT)
"$httpd" -t -f "$root/httpd.conf" "${defines[@]}" >/dev/null
echo "Serving $app at http://127.0.0.1:$port/ (Ctrl-C stops)"
# Apache treats SIGINT like SIGTERM: Ctrl-C stops it and its children.
"$httpd" -f "$root/httpd.conf" "${defines[@]}" -DFOREGROUND &
pid=$!
stop() { kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$root"; exit 0; }
trap stop INT TERM
wait $pid
