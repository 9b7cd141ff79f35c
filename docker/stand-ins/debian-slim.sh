#!/bin/sh
# Makes a local stand-in for Docker's official debian:SUITE-slim image, for
# machines that cannot pull it: a root file system from Debian's own
# packages (debootstrap --variant=minbase), trimmed as the slim images are,
# loaded with `docker import` under TAG (debian:trixie-slim, debian:sid-slim).
#
#   docker/stand-ins/debian-slim.sh trixie debian:trixie-slim
#
# Differences from the official image: any CA certificates the machine
# added to /usr/local/share/ca-certificates (a proxy that intercepts TLS)
# are copied there too, so that installing ca-certificates in an image
# trusts them as the machine does; on sid, whose Release file on the
# mirror may be past its Valid-Until date, apt does not check that date.
set -eu
PATH=$PATH:/usr/sbin:/sbin
suite=$1
tag=$2

root=$(mktemp -d /tmp/rwsgi-rootfs.XXXXXX)
trap 'rm -rf "$root"' EXIT
# debootstrap's default mirror, or DEBIAN_MIRROR.
debootstrap --variant=minbase "$suite" "$root" ${DEBIAN_MIRROR:-} >"$root.log" 2>&1 || {
	tail -n 20 "$root.log" >&2
	rm -f "$root.log"
	exit 1
}
rm -f "$root.log"

# Sources in deb822 form, as the official images have them.
mirror=$(awk '$1 == "deb" { print $2; exit }' "$root/etc/apt/sources.list")
rm -f "$root/etc/apt/sources.list"
if [ "$suite" = sid ] || [ "$suite" = unstable ]; then
	suites=$suite
	printf 'Acquire::Check-Valid-Until "false";\n' >"$root/etc/apt/apt.conf.d/99stand-in-valid-until"
else
	suites="$suite $suite-updates"
fi
cat >"$root/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $mirror
Suites: $suites
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES

# Slim: no documentation, manual pages or translations, now or later.
cat >"$root/etc/dpkg/dpkg.cfg.d/slim" <<'SLIM'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
SLIM
find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
rm -rf "$root/usr/share/man/"* "$root/usr/share/info/"* "$root/usr/share/locale/"*
# No package lists or downloaded packages kept in the image; autoremove
# removes what only suggestions hold.
cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'CLEAN'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::Languages "none";
Apt::AutoRemove::SuggestsImportant "false";
CLEAN
rm -rf "$root/var/lib/apt/lists/"* "$root/var/cache/apt/"*.bin "$root/var/log/"*.log

if [ -d /usr/local/share/ca-certificates ]; then
	cp -R /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
fi

tar -C "$root" --numeric-owner -c . | docker import --change 'CMD ["bash"]' - "$tag" >/dev/null
echo "$tag: Debian $suite from debootstrap, $(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%d MB", $1/1e6}')"
