#!/usr/bin/env bash
# install-deps.sh: install what fxpfs's build, tests and benchmarks need on Debian 12.
#
# Run as root. Idempotent: safe to run again; it re-installs nothing that is
# already present and up to date.
#
# - apt packages: vsftpd and python3-pyftpdlib (test servers), fuse3 (the mount),
#   rsync/curl/lftp/rclone/jq (tests and benchmarks), iproute2 (benchmark
#   namespaces), gio/gvfs/dbus (the desktop trash tests), and the libraries
#   pure-ftpd links against.
# - pure-ftpd and proftpd (proftpd-core + proftpd-mod-crypto, which has mod_tls)
#   conflict with vsftpd in apt (all provide ftp-server), so their .debs are
#   fetched with `apt-get download` and unpacked with `dpkg-deb -x` into
#   $FXPFS_TEST_PREFIX/pure-ftpd and .../proftpd (default /opt/fxpfs-test/...);
#   the libraries they link against come from apt. No service is started or
#   enabled; the tests start private instances (internal/realftpd finds the
#   binaries there).
# - Go modules: `go mod download` (Go itself is expected on PATH or in /usr/local/go).
set -euo pipefail

PREFIX="${FXPFS_TEST_PREFIX:-/opt/fxpfs-test}"
PUREDIR="$PREFIX/pure-ftpd"
PRODIR="$PREFIX/proftpd"
CACHE="$PREFIX/debs"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf 'install-deps: %s\n' "$*"; }

if [[ $(id -u) -ne 0 ]]; then
	echo "install-deps: must run as root (apt-get, /opt, system test user)" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive

APT_PKGS=(
	vsftpd fuse3 rsync curl lftp rclone iproute2 jq ca-certificates openssl
	python3-pyftpdlib # an asynchronous FTP server for FXP tests (internal/realftpd)
	libsodium23 libwrap0 libcap2 libpam0g libpam-modules libssl3 libcrypt1
	libhiredis0.14 libmemcached11 libmemcachedutil2 libpcre2-posix3 libidn2-0 libacl1 # proftpd
	build-essential # cgo for `go test -race`
	# The desktop trash tests: gio (GIO, as file managers use it), gvfs's
	# trash:// backend (gvfsd-trash) and a D-Bus session bus for it.
	libglib2.0-bin gvfs gvfs-daemons dbus dbus-bin dbus-daemon
)

missing=()
for p in "${APT_PKGS[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

if ((${#missing[@]} > 0)); then
	log "apt-get update"
	apt-get update -q
	log "apt-get install -y ${missing[*]}"
	apt-get install -y -q --no-install-recommends "${missing[@]}"
else
	log "apt packages already installed: ${APT_PKGS[*]}"
fi

# apt may start vsftpd as a system service where an init system runs; the tests
# never use it, and it would hold port 21. Stop it if it is running.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet vsftpd 2>/dev/null; then
	log "stopping the system vsftpd service (tests run private instances)"
	systemctl stop vsftpd || true
	systemctl disable vsftpd >/dev/null 2>&1 || true
fi

# unpack DIR PACKAGE...: the packages' .debs (downloaded into $CACHE once)
# unpacked into DIR, next to, not over, the system.
unpack() {
	local dir=$1 pkg debs
	shift
	mkdir -p "$CACHE" "$dir"
	shopt -s nullglob
	for pkg in "$@"; do
		debs=("$CACHE/${pkg}"_*.deb)
		if ((${#debs[@]} == 0)); then
			log "apt-get download $pkg into $CACHE"
			# apt-get download writes into the current directory, as user _apt
			# where possible: give it a directory it can write.
			chmod 0777 "$CACHE"
			if ! (cd "$CACHE" && apt-get download "$pkg"); then
				apt-get update -q
				(cd "$CACHE" && apt-get download "$pkg")
			fi
			debs=("$CACHE/${pkg}"_*.deb)
		fi
		log "dpkg-deb -x ${debs[0]} $dir"
		dpkg-deb -x "${debs[0]}" "$dir"
	done
}

if [[ -x "$PUREDIR/usr/sbin/pure-ftpd" && -x "$PUREDIR/usr/bin/pure-pw" ]]; then
	log "pure-ftpd already unpacked in $PUREDIR"
else
	unpack "$PUREDIR" pure-ftpd
fi
log "pure-ftpd: $("$PUREDIR/usr/sbin/pure-ftpd" --help 2>&1 | head -n1 || true)"

if [[ -x "$PRODIR/usr/sbin/proftpd" && -f "$PRODIR/usr/lib/proftpd/mod_tls.so" ]]; then
	log "proftpd already unpacked in $PRODIR"
else
	unpack "$PRODIR" proftpd-core proftpd-mod-crypto
fi
log "proftpd: $("$PRODIR/usr/sbin/proftpd" --version 2>&1 | head -n1 || true)"

# FUSE: tests mount as root; /dev/fuse must exist (containers may need --device).
if [[ -e /dev/fuse ]]; then
	log "/dev/fuse present"
else
	log "WARNING: /dev/fuse is missing; mount tests will be skipped (container without --device /dev/fuse?)"
fi

# Go modules.
GO="$(command -v go || true)"
if [[ -z "$GO" && -x /usr/local/go/bin/go ]]; then
	GO=/usr/local/go/bin/go
fi
if [[ -z "$GO" ]]; then
	echo "install-deps: Go not found (expected on PATH or /usr/local/go/bin/go)" >&2
	exit 1
fi
log "$("$GO" version)"
log "go mod download (in $REPO)"
(cd "$REPO" && "$GO" mod download)

log "done"
