#!/usr/bin/env bash
# make demo: install what the demo needs if missing (root), then run it.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
  echo "make demo: run as root (it starts vsftpd and pure-ftpd and mounts FUSE)" >&2
  exit 1
fi
if { ! command -v vsftpd >/dev/null && [ ! -x /usr/sbin/vsftpd ]; } \
   || [ ! -x /opt/fxpfs-test/pure-ftpd/usr/sbin/pure-ftpd ] || ! command -v fusermount3 >/dev/null; then
  echo "== Installing vsftpd, pure-ftpd and fuse3 (scripts/install-deps.sh)"
  ./scripts/install-deps.sh
fi
exec go run ./internal/demo
