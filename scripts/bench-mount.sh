#!/usr/bin/env bash
# bench-mount.sh: the mount benchmark of issue 2 ("Done when").
#
# On loopback (127.0.0.2 vsftpd, 127.0.0.3 pure-ftpd, inside a private network
# namespace so no port can clash with anything else on the machine), with the
# servers' roots on a tmpfs:
#   1. sequential read of a large file: `dd` from the fxpfs mount to /dev/null
#      vs `curl ftp://...` to /dev/null, same server, same file;
#   2. sequential write: `dd` from a tmpfs file into the mount vs `curl -T`;
#   3. FTP commands sent for a cold and a warm `find DIR -type f` over a tree
#      of more than 1,000 directories (fxpfs's own counter via `fxpfs status --json`, and
#      the listing commands vsftpd logged).
#   4. the same read and write as 1 and 2 over a link shaped like a real
#      network: the servers in their own network namespace (198.18.1.2 vsftpd,
#      198.18.1.3 pure-ftpd), joined to a client namespace (198.18.1.1, where
#      curl and the fxpfs daemon run) by a veth pair with `tc ... tbf rate
#      $BENCH_SHAPED_RATE` on both ends. Loopback on tmpfs is a CPU-bound
#      micro-benchmark (server, client and kernel share the CPUs); the shaped
#      link is what a user's network looks like.
# Prints the figures and the ratios (targets: fxpfs/curl >= 0.90; cold find =
# one listing per directory + a small constant; warm find = 0 commands).
#
# Environment (defaults are the issue's sizes):
#   BENCH_FILE_MB=1024       size of the large file (MiB)
#   BENCH_REPEAT=5           runs of each throughput measure (median reported)
#   BENCH_FIND_FANOUT=10     tree of F + F^2 + F^3 directories (10: 1,110)
#   BENCH_SERVERS="vsftpd pure-ftpd"
#   BENCH_SHAPED_RATE=1gbit  rate of the shaped link ("off": skip part 4)
#   BENCH_SHAPED_REPEAT=3    runs of each measure over the shaped link
#   BENCH_RESULTS=FILE       append the markdown results there too
#   BENCH_STEP_TIMEOUT=900   bound on any one measured step (s)
set -euo pipefail
# shellcheck source=lib/bench-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/bench-common.sh"

FILE_MB=${BENCH_FILE_MB:-1024}
REPEAT=${BENCH_REPEAT:-5}
FANOUT=${BENCH_FIND_FANOUT:-10}
SERVERS=${BENCH_SERVERS:-vsftpd pure-ftpd}
RESULTS=${BENCH_RESULTS:-/dev/null}
SHAPED_RATE=${BENCH_SHAPED_RATE:-1gbit}
[[ $SHAPED_RATE != off ]] || SHAPED_RATE=
SHAPED_REPEAT=${BENCH_SHAPED_REPEAT:-3}
FAILED=0

md() { printf '%s\n' "$*" | tee -a "$RESULTS"; }
note_fail() {
	FAILED=1
	NOTES+=("$*")
	log "FAIL: $*"
}
NOTES=()

require_root
require_tools vsftpd curl jq ip tc nsenter mountpoint fusermount3 sha256sum awk
ensure_test_user
[[ " $SERVERS " == *" pure-ftpd "* ]] && ensure_pureftpd
fxpfs_check || log "fxpfs unavailable: $FXPFS_WHY (the fxpfs columns will say FAILED)"

make_workdir $((2 * FILE_MB + 512))
NS=fxb$$lo
netns_add "$NS"

# Data: one random file, hard-linked into every server root (no extra RAM),
# and the find tree, written straight onto the servers' disks.
SRC=$DATA/src.bin
log "writing a ${FILE_MB} MiB random file"
random_file "$SRC" "$FILE_MB"
chown "$TEST_UID:$TEST_GID" "$SRC"
SRC_SHA=$(sha256sum "$SRC" | cut -d' ' -f1)
SIZE=$((FILE_MB * 1048576))

make_tree() { # DIR: F^3 leaf directories with one small file each
	local d=$1 a b c
	mkdir -p "$d"
	for ((a = 0; a < FANOUT; a++)); do
		for ((b = 0; b < FANOUT; b++)); do
			for ((c = 0; c < FANOUT; c++)); do
				mkdir -p "$d/a$a/b$b/c$c"
				echo "$a $b $c" >"$d/a$a/b$b/c$c/f.txt"
			done
		done
	done
	chown -R "$TEST_UID:$TEST_GID" "$d"
}

declare -A HOST NAME CURLCFG LOGF
MOUNT_ARGS=()
i=2
for kind in $SERVERS; do
	name=${kind//-/}
	root=$DATA/root-$name
	make_root "$root"
	ln "$SRC" "$root/big.bin"
	make_tree "$root/tree"
	HOST[$kind]=127.0.0.$i
	NAME[$kind]=$name
	start_server "$kind" "$NS" "127.0.0.$i" 21 "$root" "srv-$name"
	LOGF[$kind]=$SRV_LOG
	CURLCFG[$kind]=$WORK/secret/curl-$name.cfg
	curl_config "${CURLCFG[$kind]}" "$SRV_USER" "$SRV_PASS"
	export "FXPFS_PASSWORD_${name^^}=$SRV_PASS"
	MOUNT_ARGS+=(--server "$name=ftp://$SRV_USER@127.0.0.$i:21/")
	i=$((i + 1))
done
DIRS=$(find "$DATA/root-${NAME[${SERVERS%% *}]}/tree" -type d | wc -l)
FILES=$(find "$DATA/root-${NAME[${SERVERS%% *}]}/tree" -type f | wc -l)
MNT=$WORK/mnt

# mount_fresh: a new fxpfs mount of every server (no page or listing cache).
mount_fresh() {
	[[ -n $FXPFS_OK ]] || return 1
	if [[ -n ${MOUNT_PID:-} ]]; then
		fxpfs_unmount "$MNT" "$MOUNT_PID"
		MOUNT_PID=
	fi
	fxpfs_mount "$MOUNT_NS" "$MNT" "$WORK/fxpfs-mount.log" "${MOUNT_ARGS[@]}"
}
MOUNT_NS=$NS

# disk_ok FILE: FILE on the server's disk is complete and equal to the source.
disk_ok() {
	local f=$1 got
	got=$(stat -c %s "$f" 2>/dev/null || echo missing)
	[[ $got == "$SIZE" ]] || {
		echo "size $got, want $SIZE"
		return 1
	}
	[[ $(sha256sum "$f" | cut -d' ' -f1) == "$SRC_SHA" ]] || {
		echo "sha256 differs"
		return 1
	}
}

mbps() { calc "$SIZE / 1048576 / $1"; }

# measure_rw KIND NS URL NAME ROOT REPEAT: interleaved sequential reads and
# writes of the file by curl (run in NS) and through the mount (server NAME,
# a fresh mount for every read); fills the arrays rc rf wc wf (MiB/s).
measure_rw() {
	local kind=$1 ns=$2 url=$3 name=$4 root=$5 repeat=$6 r t why
	rc=() rf=() wc=() wf=()
	for ((r = 1; r <= repeat; r++)); do
		log "$kind ($url) run $r/$repeat"
		# read: curl
		if timed t in_ns "$ns" curl -K "${CURLCFG[$kind]}" -o /dev/null "$url/big.bin"; then
			rc+=("$(mbps "$t")")
		else note_fail "$kind ($url): curl read failed"; fi
		# read: fxpfs (fresh mount, so nothing comes from the page cache)
		if mount_fresh; then
			if timed t dd if="$MNT/$name/big.bin" of=/dev/null bs=1M status=none; then
				rf+=("$(mbps "$t")")
			else note_fail "$kind ($url): dd read through the mount failed (run $r)"; fi
		fi
		# write: curl
		if timed t in_ns "$ns" curl -K "${CURLCFG[$kind]}" -T "$SRC" "$url/up-curl.bin"; then
			if why=$(disk_ok "$root/up-curl.bin"); then wc+=("$(mbps "$t")"); else note_fail "$kind ($url): curl upload: $why"; fi
		else note_fail "$kind ($url): curl upload failed"; fi
		rm -f "$root/up-curl.bin"
		# write: fxpfs (dd's time includes close(), i.e. the upload's end)
		if [[ -n $FXPFS_OK ]] && mountpoint -q "$MNT"; then
			if timed t dd if="$SRC" of="$MNT/$name/up-fxpfs.bin" bs=1M status=none; then
				if why=$(disk_ok "$root/up-fxpfs.bin"); then wf+=("$(mbps "$t")"); else
					note_fail "$kind ($url): dd write through the mount: file on the server after close(): $why"
				fi
			else note_fail "$kind ($url): dd write through the mount failed (run $r)"; fi
			rm -f "$root/up-fxpfs.bin"
		fi
	done
}

ratio() { # FXPFS CURL -> ratio or FAILED
	if [[ -n $1 && -n $2 ]]; then fmt "$(calc "$1 / $2")" 2; else echo FAILED; fi
}
show() { if [[ -n $1 ]]; then fmt "$1" 1; else echo FAILED; fi; }
all() { if (($#)); then for v; do fmt "$v" 0; done | paste -sd' '; else echo -; fi; }

# rw_table TITLE: the markdown table of the arrays measure_rw filled.
rw_table() {
	local mrc="" mrf="" mwc="" mwf=""
	if ((${#rc[@]})); then mrc=$(median "${rc[@]}"); fi
	if ((${#rf[@]})); then mrf=$(median "${rf[@]}"); fi
	if ((${#wc[@]})); then mwc=$(median "${wc[@]}"); fi
	if ((${#wf[@]})); then mwf=$(median "${wf[@]}"); fi
	md ""
	md "### $1"
	md ""
	md "| sequential | fxpfs mount (MiB/s) | curl (MiB/s) | fxpfs / curl | target | all runs fxpfs; curl (MiB/s) |"
	md "|---|---:|---:|---:|---:|---|"
	md "| read  | $(show "$mrf") | $(show "$mrc") | $(ratio "$mrf" "$mrc") | >= 0.90 | $(all "${rf[@]}"); $(all "${rc[@]}") |"
	md "| write | $(show "$mwf") | $(show "$mwc") | $(ratio "$mwf" "$mwc") | >= 0.90 | $(all "${wf[@]}"); $(all "${wc[@]}") |"
}

for kind in $SERVERS; do
	name=${NAME[$kind]}
	root=$DATA/root-$name
	measure_rw "$kind" "$NS" "ftp://${HOST[$kind]}:21" "$name" "$root" "$REPEAT"

	# One untimed read through the mount, checked against the source.
	if mount_fresh; then
		got=$(timeout "$STEP_TIMEOUT" sha256sum "$MNT/$name/big.bin" | cut -d' ' -f1) || true
		[[ $got == "$SRC_SHA" ]] || note_fail "$kind: data read through the mount differs from the file (sha256)"
	fi

	# find: cold right after a fresh mount, then warm (well within the TTL).
	fc=() ft=()
	if mount_fresh; then
		for pass in cold warm; do
			c0=$(fxpfs_status "$MNT" ".servers[] | select(.name == \"$name\") | .stats.Commands") || c0=
			off=$(stat -c %s "${LOGF[$kind]}")
			if timed t find "$MNT/$name/tree" -type f -printf x >"$WORK/find.out" && [[ -n $c0 ]]; then
				c1=$(fxpfs_status "$MNT" ".servers[] | select(.name == \"$name\") | .stats.Commands")
				seen=$(wc -c <"$WORK/find.out")
				[[ $seen == "$FILES" ]] || note_fail "$kind: $pass find saw $seen files, want $FILES"
				fc+=("$((c1 - c0))")
				ft+=("$(fmt "$t" 2)")
				if [[ $kind == vsftpd ]]; then
					lst=$(tail -c +$((off + 1)) "${LOGF[$kind]}" | grep -cE 'FTP command: .*"(LIST|MLSD|NLST|STAT)' || true)
					all=$(tail -c +$((off + 1)) "${LOGF[$kind]}" | grep -c 'FTP command:' || true)
					fc+=("$lst/$all")
					[[ $pass == cold ]] && VERBS=$(tail -c +$((off + 1)) "${LOGF[$kind]}" |
						sed -n 's/.*FTP command: Client "[^"]*", "\([A-Za-z]*\).*/\1/p' |
						sort | uniq -c | sort -rn | awk '{ printf "%s%s %s", sep, $2, $1; sep = ", " }')
				else
					fc+=("n/a")
				fi
			else
				note_fail "$kind: $pass find through the mount failed or status unavailable"
				fc+=(FAILED FAILED) ft+=(-)
			fi
		done
	else
		fc=(FAILED FAILED FAILED FAILED) ft=(- -)
	fi
	[[ -z ${FXPFS_WHY:-} ]] || note_fail "$kind: fxpfs: $FXPFS_WHY"

	rw_table "$kind on ${HOST[$kind]} (loopback), ${FILE_MB} MiB file, median of $REPEAT runs"
	md ""
	md "| \`find -type f\` over $DIRS directories ($FILES files) | FTP commands (fxpfs counter) | per directory | listing / all commands seen by the server | time (s) | target |"
	md "|---|---:|---:|---:|---:|---|"
	per() { if [[ $1 =~ ^[0-9]+$ ]]; then fmt "$(calc "$1 / $DIRS")" 2; else echo -; fi; }
	md "| cold | ${fc[0]} | $(per "${fc[0]}") | ${fc[1]} | ${ft[0]} | one listing per directory + small constant |"
	md "| warm | ${fc[2]:-FAILED} | $(per "${fc[2]:-x}") | ${fc[3]:-FAILED} | ${ft[1]:-} | 0 |"
	if [[ -n ${VERBS:-} ]]; then
		md ""
		md "Commands vsftpd received during the cold find: $VERBS."
	fi
	VERBS=
done

# ------------------------------------------------------ over a shaped link
if [[ -n $SHAPED_RATE ]]; then
	if [[ -n ${MOUNT_PID:-} ]]; then
		fxpfs_unmount "$MNT" "$MOUNT_PID"
		MOUNT_PID=
	fi
	NS_C=fxb$$c NS_S=fxb$$s
	netns_add "$NS_C"
	netns_add "$NS_S"
	ip -n "$NS_C" link add eth0 type veth peer name eth0 netns "$NS_S" || die "veth pair"
	ip -n "$NS_C" addr add 198.18.1.1/24 dev eth0
	ip -n "$NS_C" link set eth0 up
	ip -n "$NS_S" link set eth0 up
	# tbf on both ends: the client end's egress shapes uploads, the servers'
	# end's downloads. burst >= rate/HZ, and more than one GSO packet.
	for ns in "$NS_C" "$NS_S"; do
		tc -n "$ns" qdisc add dev eth0 root tbf rate "$SHAPED_RATE" burst 512kb latency 50ms ||
			die "tc tbf on eth0 in $ns"
	done
	declare -A WHOST
	MOUNT_ARGS=()
	i=2
	for kind in $SERVERS; do
		name=${NAME[$kind]}
		WHOST[$kind]=198.18.1.$i
		ip -n "$NS_S" addr add "198.18.1.$i/24" dev eth0
		# A second instance of the server, on the same root (the same file).
		start_server "$kind" "$NS_S" "198.18.1.$i" 21 "$DATA/root-$name" "wan-$name"
		curl_config "${CURLCFG[$kind]}" "$SRV_USER" "$SRV_PASS"
		export "FXPFS_PASSWORD_${name^^}=$SRV_PASS"
		MOUNT_ARGS+=(--server "$name=ftp://$SRV_USER@198.18.1.$i:21/")
		i=$((i + 1))
	done
	MOUNT_NS=$NS_C
	for kind in $SERVERS; do
		name=${NAME[$kind]}
		measure_rw "$kind" "$NS_C" "ftp://${WHOST[$kind]}:21" "$name" "$DATA/root-$name" "$SHAPED_REPEAT"
		rw_table "$kind on ${WHOST[$kind]}, veth link shaped to $SHAPED_RATE (tbf, both directions), ${FILE_MB} MiB file, median of $SHAPED_REPEAT runs"
	done
fi

if [[ -n ${MOUNT_PID:-} ]]; then fxpfs_unmount "$MNT" "$MOUNT_PID"; fi
if ((${#NOTES[@]})); then
	md ""
	md "Failures in this run:"
	for n in "${NOTES[@]}"; do md "- $n"; done
fi
exit "$FAILED"
