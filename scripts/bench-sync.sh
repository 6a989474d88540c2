#!/usr/bin/env bash
# bench-sync.sh: the benchmark of issue 6 — read/write copies (rsync, gio)
# between two servers through fxpfs vs through rclone mounts, and `fxpfs sync`
# vs `lftp mirror -P 8` (FXP), on a home-like line.
#
# The bed (bed_setup in lib/bench-common.sh): client, s1, s2 in network
# namespaces; the client's line shaped ASYMMETRIC, BENCH_DOWN (default 100mbit)
# towards it and BENCH_UP (default 10mbit) from it, tbf on each end of its
# veth; the servers' link unshaped. A BENCH_SYNC_FILE_MB (200) MiB file and a
# BENCH_SYNC_TREE_FILES (1000)-file tree are copied from s1 (vsftpd) to s2
# (pure-ftpd) by each method, once (one run: figures and ratios come from the
# same run), timed, with the bytes the client uploaded and downloaded (the
# counters of its veth), and each copy checked by sha256 on s2's disk:
#
#   rsync-fxpfs    rsync -a between the two servers' folders of one fxpfs mount
#   gio-fxpfs      gio copy, the same (the tree: one gio copy per directory)
#   rsync-rclone   rsync -a between two rclone mounts (--vfs-cache-mode off)
#   gio-rclone     gio copy between two rclone mounts
#   sync           fxpfs sync (-j 8 for the tree)
#   lftp           lftp FXP: get (the file), mirror -P 8 (the tree)
#
# BENCH_SYNC_METHODS picks them: a list of the names above, or "mount" (the
# four mount methods), "sync" (sync and lftp), "all" (default).
# BENCH_SYNC_REPEAT=N (default 1) runs sync and lftp N times each, interleaved
# (sync, lftp, sync, lftp, ...), each run into a destination of its own; the
# table then gives the median of each figure over the runs (every run listed
# below it). The mount methods run once whatever N.
# Other settings: BENCH_SYNC_TREE_DIRS=10, BENCH_SYNC_TREE_FILE_KB=32,
# BENCH_RESULTS=FILE (append the markdown there too).
#
# Through the mount the figures depend on stream matching (issue 6 §1): until
# it lands, rsync and gio upload every byte through the client, as with rclone.
set -euo pipefail
# shellcheck source=lib/bench-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/bench-common.sh"

FILE_MB=${BENCH_SYNC_FILE_MB:-200}
TREE_FILES=${BENCH_SYNC_TREE_FILES:-1000}
TREE_DIRS=${BENCH_SYNC_TREE_DIRS:-10}
TREE_FILE_KB=${BENCH_SYNC_TREE_FILE_KB:-32}
DOWN=${BENCH_DOWN:-100mbit}
UP=${BENCH_UP:-10mbit}
METHODS=${BENCH_SYNC_METHODS:-all}
REPEAT=${BENCH_SYNC_REPEAT:-1}
[[ $REPEAT =~ ^[1-9][0-9]*$ ]] || die "BENCH_SYNC_REPEAT=$REPEAT: want a positive number"
case $METHODS in
all) METHODS="rsync-fxpfs gio-fxpfs rsync-rclone gio-rclone sync lftp" ;;
mount) METHODS="rsync-fxpfs gio-fxpfs rsync-rclone gio-rclone" ;;
sync) METHODS="sync lftp" ;;
esac
require_root
tools=(vsftpd lftp jq ip tc nsenter sha256sum awk)
[[ $METHODS == *fxpfs* || $METHODS == *rclone* ]] && tools+=(mountpoint fusermount3 rsync gio)
[[ $METHODS == *rclone* ]] && tools+=(rclone)
require_tools "${tools[@]}"
ensure_test_user
ensure_pureftpd
fxpfs_check || log "fxpfs unavailable: $FXPFS_WHY (its methods will say FAILED)"

TREE_KIB=$((TREE_FILES * TREE_FILE_KB))
NMETH=$(wc -w <<<"$METHODS")
make_workdir $(((FILE_MB + TREE_KIB / 1024 + 2) * (1 + NMETH * REPEAT) + 256))

bed_setup "$DOWN" "$UP"
bed_roots
log "writing the ${FILE_MB} MiB file and the ${TREE_FILES}-file tree on s1"
make_sources "$S1_ROOT" "$FILE_MB" "$TREE_FILES" "$TREE_DIRS" "$TREE_FILE_KB"
bed_servers vsftpd pure-ftpd

# Line check: what the shaping gives (curl, 8 MiB each way).
t_down=0 t_up=0
head -c $((8 << 20)) /dev/urandom >"$WORK/up.bin"
timed t_down in_ns "$NS_C" curl -K "$WORK/secret/curl-s1.cfg" -r 0-$((8 * 1048576 - 1)) -o /dev/null \
	"ftp://$S1_IP:21/src/big.bin" || die "client cannot fetch from s1"
timed t_up in_ns "$NS_C" curl -K "$WORK/secret/curl-s1.cfg" -T "$WORK/up.bin" "ftp://$S1_IP:21/up.bin" ||
	die "client cannot upload to s1"
rm -f "$S1_ROOT/up.bin"
LINE="down $(fmt "$(calc "8 * 8.388608 / $t_down")" 1) Mbit/s, up $(fmt "$(calc "8 * 8.388608 / $t_up")" 1) Mbit/s"
log "line check: $LINE (shaped $DOWN down, $UP up)"

declare -A T U D V # [method,kind,run] -> seconds, client uploaded, client downloaded, check
REPORTED=()

# measure M KIND RUN DSTDIR CMD...: time CMD, count the client's bytes, verify.
measure() {
	local m=$1 kind=$2 r=$3 dst=$4 u0 d0 u1 d1 t rc=0
	shift 4
	log "($m) $kind run $r: $*"
	read -r u0 d0 < <(link_up_down)
	local out=$WORK/$m-$kind-$r.out
	timed t "$@" >"$out" 2>&1 || rc=$?
	read -r u1 d1 < <(link_up_down)
	T[$m,$kind,$r]=$t U[$m,$kind,$r]=$((u1 - u0)) D[$m,$kind,$r]=$((d1 - d0))
	if ((rc != 0)); then
		V[$m,$kind,$r]=FAILED
		note_fail "($m) $kind run $r: exit status $rc: $(tail -c 400 "$out" | tr '\n' ' ')"
	elif verify_copy "$kind" "$dst"; then
		V[$m,$kind,$r]=ok
	else
		V[$m,$kind,$r]=MISMATCH
		note_fail "($m) $kind run $r: the copy on s2 differs from the source (sha256)"
	fi
	log "($m) $kind run $r: $(fmt "$t" 2) s, up $((u1 - u0)) B, down $((d1 - d0)) B, ${V[$m,$kind,$r]}"
}

# gio_tree SRC DST: gio copy has no -r: one gio copy per directory.
gio_tree() {
	local src=$1 dst=$2 d
	mkdir "$dst" || return 1
	for d in "$src"/*/; do
		d=${d%/}
		mkdir "$dst/${d##*/}" || return 1
		gio copy "$d"/* "$dst/${d##*/}/" || return 1
	done
}

export -f gio_tree

# copies M A B: the file and the tree from folder A (s1's) to B (s2's) by M.
# The destination folder is made through the mount (a listing cached before
# would not show one made on the server's disk).
copies() {
	local m=$1 a=$2 b=$3 d=$S2_ROOT/$1
	mkdir "$b/$m" || {
		note_fail "($m) mkdir $b/$m through the mount failed"
		return
	}
	case $m in
	rsync-*)
		measure "$m" file 1 "$d" rsync -a "$a/src/big.bin" "$b/$m/"
		measure "$m" tree 1 "$d" rsync -a "$a/src/tree" "$b/$m/"
		;;
	gio-*)
		measure "$m" file 1 "$d" gio copy "$a/src/big.bin" "$b/$m/big.bin"
		measure "$m" tree 1 "$d" bash -c 'gio_tree "$@"' gio_tree "$a/src/tree" "$b/$m/tree"
		;;
	esac
}

MNT=$WORK/mnt
fxpfs_methods() { # rsync-fxpfs, gio-fxpfs: one mount for both
	local m c0 c1
	if [[ -z $FXPFS_OK ]] || ! fxpfs_mount "$NS_C" "$MNT" "$WORK/fxpfs-mount.log" "${SERVER_ARGS[@]}"; then
		note_fail "fxpfs mount: $FXPFS_WHY"
		return
	fi
	for m in "$@"; do
		c0=$(fxpfs_status "$MNT" '.counters | tojson') || c0="?"
		copies "$m" "$MNT/s1" "$MNT/s2"
		c1=$(fxpfs_status "$MNT" '.counters | tojson') || c1="?"
		REPORTED+=("($m) \`fxpfs status\` counters before: \`$c0\`, after: \`$c1\`")
	done
	fxpfs_unmount "$MNT" "$MOUNT_PID"
}
rclone_methods() { # rsync-rclone, gio-rclone: two rclone mounts
	local m
	rclone_pair_mount
	for m in "$@"; do copies "$m" "$WORK/rc1" "$WORK/rc2"; done
	rclone_pair_unmount
}
declare -A AGAIN # [run] -> "seconds up down" of the second sync
method_sync() { # run R: into s2:/syncR
	local r=$1 d
	if [[ -z $FXPFS_OK ]]; then
		note_fail "(sync) fxpfs: $FXPFS_WHY"
		return
	fi
	d=$(dstdir "sync$r")
	measure sync file "$r" "$d" "${FXPFS_CLIENT[@]}" sync "${SERVER_ARGS[@]}" s1:/src/big.bin "s2:/sync$r/big.bin"
	measure sync tree "$r" "$d" "${FXPFS_CLIENT[@]}" sync -j 8 "${SERVER_ARGS[@]}" s1:/src/tree "s2:/sync$r/tree"
	local k
	for k in file tree; do
		REPORTED+=("(sync) $k run $r: \`fxpfs sync\` said: $(tail -n 1 "$WORK/sync-$k-$r.out")")
	done
	# A second sync right after copies nothing: its cost is the comparison.
	local ta u0 d0 u1 d1
	read -r u0 d0 < <(link_up_down)
	timed ta "${FXPFS_CLIENT[@]}" sync -j 8 "${SERVER_ARGS[@]}" s1:/src/tree "s2:/sync$r/tree" >"$WORK/sync-again-$r.out" 2>&1 ||
		note_fail "(sync) second run $r: $(tail -c 300 "$WORK/sync-again-$r.out")"
	read -r u1 d1 < <(link_up_down)
	AGAIN[$r]="$ta $((u1 - u0)) $((d1 - d0))"
	REPORTED+=("(sync) tree again right after, run $r: $(fmt "$ta" 2) s, up $((u1 - u0)) B, down $((d1 - d0)) B: $(tail -n 1 "$WORK/sync-again-$r.out")")
}
method_lftp() { # run R: into s2:/lftpR
	local r=$1 d
	d=$(dstdir "lftp$r")
	lftp_fxp_scripts "lftp$r"
	measure lftp file "$r" "$d" in_ns "$NS_C" lftp -f "$WORK/secret/lftp-file"
	measure lftp tree "$r" "$d" in_ns "$NS_C" lftp -f "$WORK/secret/lftp-tree"
}

fx=() rc=()
for m in $METHODS; do
	case $m in
	rsync-fxpfs | gio-fxpfs) fx+=("$m") ;;
	rsync-rclone | gio-rclone) rc+=("$m") ;;
	sync | lftp) ;;
	*) die "unknown method $m" ;;
	esac
done
((${#fx[@]} == 0)) || fxpfs_methods "${fx[@]}"
((${#rc[@]} == 0)) || rclone_methods "${rc[@]}"
for ((r = 1; r <= REPEAT; r++)); do
	[[ " $METHODS " != *" sync "* ]] || method_sync "$r"
	[[ " $METHODS " != *" lftp "* ]] || method_lftp "$r"
done

# ------------------------------------------------------------------- results
# Each method's figures: the median over its runs that verified (the mount
# methods have one run). V[m,kind] is ok when at least one run verified (a
# failed run is listed under the failures).
for m in $METHODS; do
	for kind in file tree; do
		ts=() us=() ds=() r=1
		V[$m,$kind]=${V[$m,$kind,1]:-}
		while [[ -n ${V[$m,$kind,$r]:-} ]]; do
			if [[ ${V[$m,$kind,$r]} == ok ]]; then
				ts+=("${T[$m,$kind,$r]}") us+=("${U[$m,$kind,$r]}") ds+=("${D[$m,$kind,$r]}")
			fi
			r=$((r + 1))
		done
		if ((${#ts[@]})); then
			V[$m,$kind]=ok T[$m,$kind]=$(median "${ts[@]}") U[$m,$kind]=$(median "${us[@]}") D[$m,$kind]=$(median "${ds[@]}")
		fi
	done
done
declare -A LABEL=([rsync-fxpfs]="rsync -a through fxpfs" [gio-fxpfs]="gio copy through fxpfs"
	[rsync-rclone]="rsync -a through 2 rclone mounts" [gio-rclone]="gio copy through 2 rclone mounts"
	[sync]="fxpfs sync (-j 8)" [lftp]="lftp FXP get / mirror -P 8")
ok() { [[ ${V[$1,$2]:-} == ok ]]; }
cell_t() { if ok "$1" "$2"; then fmt "${T[$1,$2]}" 2; else echo "${V[$1,$2]:-not run}"; fi; }
cell_b() { if ok "$1" "$2"; then fmt "$(mib "$3")" 2; else echo -; fi; }
copied() { if [[ $1 == tree ]]; then echo "$TREE_BYTES"; else echo "$FILE_BYTES"; fi; }
pct() { if ok "$1" "$2"; then fmt "$(calc "100 * $3 / $(copied "$2")")" 3; else echo -; fi; }
ratio() { if ok "$1" "$3" && ok "$2" "$3"; then fmt "$(calc "${T[$1,$3]} / ${T[$2,$3]}")" 2; else echo -; fi; }

md ""
runs="one run"
((REPEAT == 1)) || runs="sync and lftp: median of $REPEAT interleaved runs, the others one run"
md "### s1 (vsftpd, $S1_IP) -> s2 (pure-ftpd, $S2_IP); client line $DOWN down / $UP up (measured: $LINE); servers' link unshaped; $runs"
md ""
md "Copied: one file of $FILE_BYTES bytes ($(fmt "$(mib "$FILE_BYTES")" 1) MiB); a tree of $TREE_N files in $TREE_DIRS directories, $TREE_BYTES bytes ($(fmt "$(mib "$TREE_BYTES")" 1) MiB). Up/down: MiB the client sent/received (its veth's counters), % of the bytes copied."
md ""
md "| method | file: s | up MiB | down MiB | up % | tree: s | up MiB | down MiB | up % |"
md "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for m in $METHODS; do
	md "| ${LABEL[$m]} | $(cell_t "$m" file) | $(cell_b "$m" file "${U[$m,file]:-0}") | $(cell_b "$m" file "${D[$m,file]:-0}") | $(pct "$m" file "${U[$m,file]:-0}") | $(cell_t "$m" tree) | $(cell_b "$m" tree "${U[$m,tree]:-0}") | $(cell_b "$m" tree "${D[$m,tree]:-0}") | $(pct "$m" tree "${U[$m,tree]:-0}") |"
done
md ""
rt="ratio (this run)"
((REPEAT == 1)) || rt="ratio (this run, of the medians)"
md "| $rt | file | tree | target |"
md "|---|---:|---:|---|"
has() { [[ " $METHODS " == *" $1 "* && " $METHODS " == *" $2 "* ]]; }
if has rsync-rclone rsync-fxpfs; then
	md "| rsync: rclone time / fxpfs time | $(ratio rsync-rclone rsync-fxpfs file) | $(ratio rsync-rclone rsync-fxpfs tree) | >= 5 |"
fi
if has gio-rclone gio-fxpfs; then
	md "| gio copy: rclone time / fxpfs time | $(ratio gio-rclone gio-fxpfs file) | $(ratio gio-rclone gio-fxpfs tree) | >= 5 |"
fi
for m in rsync-fxpfs gio-fxpfs; do
	[[ " $METHODS " == *" $m "* ]] &&
		md "| $m: client upload % of copied | $(pct "$m" file "${U[$m,file]:-0}") | $(pct "$m" tree "${U[$m,tree]:-0}") | < 1 |"
done
if has sync lftp; then
	md "| fxpfs sync time / lftp time | $(ratio sync lftp file) | $(ratio sync lftp tree) | <= 1 |"
fi
for m in sync lftp; do
	if [[ " $METHODS " == *" $m "* ]]; then
		both_f=$((${U[$m,file]:-0} + ${D[$m,file]:-0})) both_t=$((${U[$m,tree]:-0} + ${D[$m,tree]:-0}))
		md "| $m: client bytes (up + down) % of copied | $(pct "$m" file "$both_f") | $(pct "$m" tree "$both_t") | < 1 (fxpfs sync) |"
	fi
done
if ((REPEAT > 1)); then
	runs=()
	for m in sync lftp; do
		[[ " $METHODS " == *" $m "* ]] || continue
		for kind in file tree; do
			line="" && for ((r = 1; r <= REPEAT; r++)); do
				line+=" $(fmt "${T[$m,$kind,$r]:-0}" 2)/${U[$m,$kind,$r]:--}/${D[$m,$kind,$r]:--}/${V[$m,$kind,$r]:--}"
			done
			runs+=("($m) $kind:$line")
		done
	done
	if [[ " $METHODS " == *" sync "* ]]; then
		line="" && for ((r = 1; r <= REPEAT; r++)); do
			read -r ta ua da <<<"${AGAIN[$r]:-0 - -}"
			line+=" $(fmt "$ta" 2)/$ua/$da"
		done
		runs+=("(sync) tree again right after:$line")
	fi
	md_list "All runs (seconds / bytes up / bytes down / check), in order:" "${runs[@]}"
fi
md_list "What fxpfs reported:" ${REPORTED[@]+"${REPORTED[@]}"}
bench_exit
