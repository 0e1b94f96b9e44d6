#!/bin/sh
# scripts/deps.sh - install the packages ckpt-oci needs to build and test
# (Debian 12). Idempotent: when all are installed it only asks dpkg.
set -eu

PKGS="build-essential pkg-config libseccomp-dev libmnl-dev libyajl-dev libsodium-dev libzstd-dev libnftables-dev libarchive-dev
bats bats-support bats-assert runc crun busybox-static iproute2 nftables
clang clang-format libclang-rt-14-dev jq gnuplot-nox python3 strace procps util-linux file
time libprotobuf-c-dev protobuf-c-compiler podman containerd"

if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "deps.sh: not a Debian system; install by hand:" $PKGS >&2
	exit 1
fi

# Debian's nginx for container-apps.bats, unpacked where the test finds it,
# never installed: installing it would start a server on the host.
NGINX_DIR=/var/cache/ckpt-oci/nginx
nginx_unpack()
{
	[ -x "$NGINX_DIR/usr/sbin/nginx" ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps.sh: not root: nginx for the tests not fetched" >&2
		return 0
	fi
	tmp=$(mktemp -d)
	chmod 755 "$tmp" # apt's download user writes there
	ret=1
	if (cd "$tmp" && apt-get download -q nginx) && [ -f "$tmp"/nginx_*.deb ]; then
		rm -rf "$NGINX_DIR.new" && mkdir -p "$NGINX_DIR.new" &&
			dpkg-deb -x "$tmp"/nginx_*.deb "$NGINX_DIR.new" && rm -rf "$NGINX_DIR" &&
			mv "$NGINX_DIR.new" "$NGINX_DIR" && ret=0
	fi
	rm -rf "$tmp"
	return $ret
}

# One dpkg-query for all; a package dpkg never heard of prints nothing.
installed=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' $PKGS 2>/dev/null |
	awk '$2 == "installed" { print $1 }') || true
missing=
for p in $PKGS; do
	echo "$installed" | grep -qx "$p" || missing="$missing $p"
done
if [ -z "$missing" ]; then
	# package lists older than the archive: update once and retry
	nginx_unpack 2>/dev/null || { apt-get update && nginx_unpack; }
	exit 0
fi

echo "deps.sh: installing:$missing"
if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: need root to install packages (run make deps as root)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
# shellcheck disable=SC2086
apt-get install -y --no-install-recommends $missing
nginx_unpack
