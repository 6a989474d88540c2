#!/usr/bin/env bash
# bench-read.sh: reads through the mount by block size (issue 9, item 2).
#
# On loopback in a private network namespace (127.0.0.2 vsftpd, 127.0.0.3
# pure-ftpd, roots on a tmpfs), one random file of BENCH_READ_MB MiB:
#   - curl ftp://... > /dev/null (the peer: one RETR, no file system);
#   - through a fresh fxpfs mount: dd bs=4k, bs=32k and bs=1M to /dev/null,
#     each on a new mount (nothing cached), and a second dd bs=1M of the
#     same file on the same mount right after (the page cache; fxpfs's FTP
#     command counter tells whether anything was sent);
#   - the same through `rclone mount --vfs-cache-mode off` side by side
#     (rclone's default mount mode, also without a local file cache).
# The runs are interleaved (curl, fxpfs 4k/32k/1M/again, rclone 4k/32k/1M/
# again, repeated) and the median of BENCH_READ_REPEAT runs is reported.
# Targets (issue 9): fxpfs 4k >= 0.5 x fxpfs 1M; fxpfs 1M >= 0.95 x curl;
# the second read sends no FTP command.
#
# Environment:
#   BENCH_READ_MB=512         size of the file (MiB)
#   BENCH_READ_REPEAT=5       runs of each measure
#   BENCH_READ_SERVERS="vsftpd pure-ftpd"
#   BENCH_READ_RCLONE=1       0: skip rclone
#   BENCH_FXPFS_ARGS=         extra `fxpfs mount` flags (e.g. --direct-io)
#   BENCH_RESULTS=FILE        append the markdown results there too
set -euo pipefail
# shellcheck source=lib/bench-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/bench-common.sh"

FILE_MB=${BENCH_READ_MB:-512}
REPEAT=${BENCH_READ_REPEAT:-5}
SERVERS=${BENCH_READ_SERVERS:-vsftpd pure-ftpd}
RCLONE=${BENCH_READ_RCLONE:-1}
read -r -a EXTRA <<<"${BENCH_FXPFS_ARGS:-}"
RESULTS=${BENCH_RESULTS:-/dev/null}
FAILED=0
NOTES=()
md() { printf '%s\n' "$*" | tee -a "$RESULTS"; }
note_fail() {
	FAILED=1
	NOTES+=("$*")
	log "FAIL: $*"
}

require_root
require_tools vsftpd curl jq ip nsenter mountpoint fusermount3 sha256sum awk dd
[[ $RCLONE == 0 ]] || require_tools rclone
ensure_test_user
[[ " $SERVERS " == *" pure-ftpd "* ]] && ensure_pureftpd
fxpfs_check || die "fxpfs unavailable: $FXPFS_WHY"

make_workdir $((FILE_MB + 256))
NS=fxr$$
netns_add "$NS"
SRC=$DATA/src.bin
log "writing a ${FILE_MB} MiB random file"
random_file "$SRC" "$FILE_MB"
chown "$TEST_UID:$TEST_GID" "$SRC"
SRC_SHA=$(sha256sum "$SRC" | cut -d' ' -f1)
SIZE=$((FILE_MB * 1048576))
mbps() { calc "$SIZE / 1048576 / $1"; }

declare -A HOST NAME CURLCFG
i=2
for kind in $SERVERS; do
	name=${kind//-/}
	make_root "$DATA/root-$name"
	ln "$SRC" "$DATA/root-$name/big.bin"
	HOST[$kind]=127.0.0.$i
	NAME[$kind]=$name
	start_server "$kind" "$NS" "127.0.0.$i" 21 "$DATA/root-$name" "srv-$name"
	CURLCFG[$kind]=$WORK/secret/curl-$name.cfg
	curl_config "${CURLCFG[$kind]}" "$SRV_USER" "$SRV_PASS"
	export "FXPFS_PASSWORD_${name^^}=$SRV_PASS"
	eval "USER_$name=\$SRV_USER PASS_$name=\$SRV_PASS"
	i=$((i + 1))
done
MNT=$WORK/mnt

# fresh_fxpfs KIND: a new fxpfs mount of that server alone (empty caches).
fresh_fxpfs() {
	local kind=$1 name=${NAME[$1]} u
	if [[ -n ${MOUNT_PID:-} ]]; then fxpfs_unmount "$MNT" "$MOUNT_PID"; fi
	MOUNT_PID=
	u="USER_$name"
	fxpfs_mount "$NS" "$MNT" "$WORK/fxpfs-$name.log" --server "$name=ftp://${!u}@${HOST[$kind]}:21/" "${EXTRA[@]}" ||
		die "fxpfs mount: $FXPFS_WHY"
	FILE=$MNT/$name/big.bin
}

# fresh_rclone KIND: a new rclone mount (--vfs-cache-mode off) of that server.
fresh_rclone() {
	local kind=$1 name=${NAME[$1]} u p
	if [[ -n ${MOUNT_PID:-} ]]; then fxpfs_unmount "$MNT" "$MOUNT_PID"; fi
	MOUNT_PID=
	u="USER_$name" p="PASS_$name"
	RCLONE_CONFIG_R_TYPE=ftp RCLONE_CONFIG_R_HOST=${HOST[$kind]} RCLONE_CONFIG_R_PORT=21 RCLONE_CONFIG_R_USER=${!u} \
		RCLONE_CONFIG_R_PASS=$(printf '%s' "${!p}" | rclone obscure -) rclone_mount "$NS" "$MNT" r "$WORK/rclone-$name.log"
	FILE=$MNT/big.bin
}

commands() { fxpfs_status "$MNT" ".servers[0].stats.Commands"; }

# read_mbps BS: dd the file through $MNT with block size BS; echoes MiB/s,
# or nothing if it failed or read the wrong bytes (checked on one run of each).
read_mbps() {
	local bs=$1 t
	if ! timed t dd if="$FILE" of=/dev/null bs="$bs" status=none; then
		note_fail "$KIND $WHO: dd bs=$bs failed"
		return 0
	fi
	mbps "$t"
}

for kind in $SERVERS; do
	KIND=$kind
	declare -A V=()
	for ((r = 1; r <= REPEAT; r++)); do
		log "$kind run $r/$REPEAT"
		if timed t in_ns "$NS" curl -K "${CURLCFG[$kind]}" -o /dev/null "ftp://${HOST[$kind]}:21/big.bin"; then
			V[curl]+=" $(mbps "$t")"
		else note_fail "$kind: curl failed"; fi
		for who in fxpfs rclone; do
			[[ $who == rclone && $RCLONE == 0 ]] && continue
			WHO=$who
			for bs in 4k 32k 1M; do
				"fresh_$who" "$kind"
				V[$who-$bs]+=" $(read_mbps "$bs")"
			done
			# The second read, on the mount the 1M read just used.
			[[ $who == fxpfs ]] && c0=$(commands)
			V[$who-again]+=" $(read_mbps 1M)"
			if [[ $who == fxpfs ]]; then
				c1=$(commands)
				V[fxpfs-cmds]+=" $((c1 - c0))"
				if ((r == 1)); then
					got=$(sha256sum "$FILE" | cut -d' ' -f1)
					[[ $got == "$SRC_SHA" ]] || note_fail "$kind: data read through fxpfs differs from the file"
				fi
			fi
			fxpfs_unmount "$MNT" "$MOUNT_PID"
			MOUNT_PID=
		done
	done

	med() { # KEY -> median or empty
		# shellcheck disable=SC2086
		if [[ -n ${V[$1]// /} ]]; then median ${V[$1]}; fi
	}
	show() { if [[ -n $1 ]]; then fmt "$1" 0; else echo FAILED; fi; }
	ratio() { if [[ -n $1 && -n $2 ]]; then fmt "$(calc "$1 / $2")" 2; else echo -; fi; }
	curl_m=$(med curl)
	md ""
	md "### $kind (${HOST[$kind]}, loopback), ${FILE_MB} MiB file, median of $REPEAT runs (MiB/s)"
	md ""
	md "| reader | dd bs=4k | bs=32k | bs=1M | second read (bs=1M) | 4k / 1M | 1M / curl | FTP commands of the second read |"
	md "|---|---:|---:|---:|---:|---:|---:|---|"
	for who in fxpfs rclone; do
		[[ $who == rclone && $RCLONE == 0 ]] && continue
		k4=$(med "$who-4k") k32=$(med "$who-32k") k1m=$(med "$who-1M") again=$(med "$who-again")
		cmds="-"
		[[ $who == fxpfs ]] && cmds="${V[fxpfs-cmds]# }"
		label=$who
		[[ $who == fxpfs && ${#EXTRA[@]} -gt 0 ]] && label="fxpfs ${EXTRA[*]}"
		[[ $who == rclone ]] && label="rclone mount (--vfs-cache-mode off)"
		md "| $label | $(show "$k4") | $(show "$k32") | $(show "$k1m") | $(show "$again") | $(ratio "$k4" "$k1m") | $(ratio "$k1m" "$curl_m") | $cmds |"
	done
	md "| curl (one RETR) | | | $(show "$curl_m") | | | 1.00 | |"
	md ""
	md "All runs (MiB/s): curl${V[curl]}; fxpfs 4k${V[fxpfs-4k]}, 32k${V[fxpfs-32k]}, 1M${V[fxpfs-1M]}, again${V[fxpfs-again]}$(
		[[ $RCLONE == 0 ]] || echo "; rclone 4k${V[rclone-4k]}, 32k${V[rclone-32k]}, 1M${V[rclone-1M]}, again${V[rclone-again]}")."
	md "Targets: fxpfs 4k / 1M >= 0.50; fxpfs 1M / curl >= 0.95; second read: 0 FTP commands."
	unset V
done

if ((${#NOTES[@]})); then
	md ""
	md "Failures in this run:"
	for n in "${NOTES[@]}"; do md "- $n"; done
fi
exit "$FAILED"
