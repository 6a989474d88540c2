#!/usr/bin/env bash
# bench.sh: fxpfs's benchmarks (`make bench`). Run as root on the machine to
# measure; it starts its own FTP servers, namespaces and mounts, and removes
# them all on exit.
#
#   scripts/bench.sh [mount|fxp|sync|read|tls|all]     (default: all)
#
#   mount  issue 2: read/write throughput through the mount vs curl on
#          loopback, FTP commands of a cold and a warm find over 1,110
#          directories (scripts/bench-mount.sh)
#   fxp    issue 3: a 200 MiB file and a 1,000-file tree copied between two
#          servers in network namespaces, client link shaped to 100mbit:
#          fxpfs mount cp, fxpfs cp, rclone mounts, lftp FXP
#          (scripts/bench-fxp.sh)
#   sync   issue 6: the same copies on an asymmetric line (100mbit down,
#          10mbit up): rsync -a and gio copy through fxpfs vs two rclone
#          mounts, fxpfs sync vs lftp mirror -P 8 (scripts/bench-sync.sh;
#          BENCH_SYNC_METHODS=mount|sync|all picks a part)
#   read   issue 9: reads through the mount by block size (dd bs=4k, 32k,
#          1M) vs curl, a second read of the same file (page cache), and
#          rclone mount side by side (scripts/bench-read.sh)
#   tls    issue 8: a 200 MiB file between two TLS servers (proftpd with
#          SSCN, pure-ftpd) on the fxp bed: encrypted FXP (mount cp, fxpfs
#          cp) vs clear FXP (fxpfs cp with fxp_clear_data, lftp with
#          ssl-protect-fxp off) vs two rclone mounts (scripts/bench-tls.sh;
#          BENCH_SERVER_RATE=1gbit also shapes the servers' links)
#
# Results are printed as markdown tables and appended to $BENCH_RESULTS
# (default /tmp/fxpfs-bench-<date>.md). BENCH_QUICK=1 uses small sizes (a
# smoke test of the harness; not figures to publish). Every size is an
# environment variable: see the header of each script. Exit status: 0 when
# every measure ran and every copy verified, 1 otherwise.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
WHAT=${1:-all}
case $WHAT in
mount | fxp | sync | read | tls | all) ;;
-h | --help)
	sed -n '2,32p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
	;;
*)
	echo "usage: $0 [mount|fxp|sync|read|tls|all]" >&2
	exit 2
	;;
esac
if [[ $(id -u) -ne 0 ]]; then
	echo "bench.sh: run as root (FTP servers, network namespaces, FUSE mounts)" >&2
	exit 1
fi

if [[ -n ${BENCH_QUICK:-} ]]; then
	: "${BENCH_FILE_MB:=64}" "${BENCH_REPEAT:=1}" "${BENCH_FIND_FANOUT:=4}"
	: "${BENCH_FXP_FILE_MB:=20}" "${BENCH_TREE_FILES:=100}" "${BENCH_FXP_REPEAT:=1}"
	: "${BENCH_SYNC_FILE_MB:=8}" "${BENCH_SYNC_TREE_FILES:=50}"
	: "${BENCH_READ_MB:=32}" "${BENCH_READ_REPEAT:=1}"
	: "${BENCH_TLS_FILE_MB:=20}" "${BENCH_TLS_REPEAT:=1}"
	export BENCH_FILE_MB BENCH_REPEAT BENCH_FIND_FANOUT BENCH_FXP_FILE_MB BENCH_TREE_FILES BENCH_FXP_REPEAT
	export BENCH_SYNC_FILE_MB BENCH_SYNC_TREE_FILES BENCH_READ_MB BENCH_READ_REPEAT BENCH_TLS_FILE_MB BENCH_TLS_REPEAT
fi
export BENCH_RESULTS=${BENCH_RESULTS:-/tmp/fxpfs-bench-$(date -u +%Y%m%dT%H%M%SZ).md}
LIMIT=${BENCH_TIMEOUT:-5400} # seconds per benchmark script

# shellcheck source=lib/bench-common.sh
source "$HERE/lib/bench-common.sh"

header() {
	md "## $1"
	md ""
	md "- command: \`$2\`"
	md "- machine: $(machine_line)"
	md "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine adds noise)"
	md "- fxpfs: $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$REPO" diff --quiet 2>/dev/null || echo ' + uncommitted changes'), $("$FXPFS_BIN" --version 2>/dev/null | head -n1 || echo "$FXPFS_BIN")"
}
md() { printf '%s\n' "$*" | tee -a "$BENCH_RESULTS"; }

env_line() { # the BENCH_* settings in effect
	local v out=""
	for v in $(compgen -e | grep '^BENCH_' | grep -v '^BENCH_RESULTS$' | sort); do out+="$v=${!v} "; done
	echo "${out% }"
}

rc=0
run() { # NAME SCRIPT TITLE
	local cmd="scripts/$2"
	[[ -n $(env_line) ]] && cmd="$(env_line) $cmd"
	md ""
	header "$3" "$cmd"
	timeout --kill-after=60 "$LIMIT" "$HERE/$2" || {
		local s=$?
		md ""
		if ((s == 124)); then md "**$1 benchmark timed out after ${LIMIT} s**"; else md "**$1 benchmark: failures reported above (exit status $s)**"; fi
		rc=1
	}
}

md "# fxpfs benchmark run $(date -u +%Y-%m-%dT%H:%M:%SZ)"
[[ $WHAT == mount || $WHAT == all ]] && run mount bench-mount.sh "Issue 2: throughput through the mount vs curl, FTP commands of find"
[[ $WHAT == fxp || $WHAT == all ]] && run fxp bench-fxp.sh "Issue 3: server-to-server copies vs rclone mount and lftp FXP"
[[ $WHAT == sync || $WHAT == all ]] && run sync bench-sync.sh "Issue 6: rsync/gio through the mount vs rclone, fxpfs sync vs lftp mirror, asymmetric line"
[[ $WHAT == read || $WHAT == all ]] && run read bench-read.sh "Issue 9: reads by block size through the mount vs curl, second read, rclone mount"
[[ $WHAT == tls || $WHAT == all ]] && run tls bench-tls.sh "Issue 8: FXP between two TLS servers, encrypted vs clear, vs rclone mounts"
log "results appended to $BENCH_RESULTS"
exit "$rc"
