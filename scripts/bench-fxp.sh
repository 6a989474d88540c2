#!/usr/bin/env bash
# bench-fxp.sh: the server-to-server copy benchmark of issue 3.
#
# Three test hosts in network namespaces joined by veth pairs to a bridge that
# lives in a fourth namespace, addresses from 198.18.0.0/15 only:
#   client 198.18.0.1   its link shaped to 100mbit in both directions (tbf on
#                       both ends of its veth; this kernel has no netem)
#   s1     198.18.0.2   source server (vsftpd by default), link unshaped
#   s2     198.18.0.3   destination server (pure-ftpd by default), unshaped
# A large file and a many-file tree are copied from s1 to s2 by
#   (a) cp through an fxpfs mount       (b) fxpfs cp -r -j 8
#   (c) cp between two rclone mounts    (d) lftp FXP get / mirror -P 8
# each timed, with the bytes that crossed the client's link (rx+tx counters of
# the bridge-side end of the client's veth, read before and after), and each
# copy checked by sha256 on the servers' disks. Prints a table and the ratios
# the issue sets targets for.
#
# Environment (defaults are the issue's sizes):
#   BENCH_FXP_FILE_MB=200   the single file (MiB)
#   BENCH_TREE_FILES=1000   files in the tree (in BENCH_TREE_DIRS directories)
#   BENCH_TREE_DIRS=10
#   BENCH_TREE_FILE_KB=32   size of each tree file (KiB)
#   BENCH_FXP_REPEAT=3      runs of each copy (median reported)
#   BENCH_RATE=100mbit      the client link's rate
#   BENCH_SRC_SERVER=vsftpd, BENCH_DST_SERVER=pure-ftpd   (vsftpd|pure-ftpd)
#   BENCH_METHODS="a b c d" which copies to run
#   BENCH_RESULTS=FILE      append the markdown results there too
set -euo pipefail
# shellcheck source=lib/bench-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/bench-common.sh"

FILE_MB=${BENCH_FXP_FILE_MB:-200}
TREE_FILES=${BENCH_TREE_FILES:-1000}
TREE_DIRS=${BENCH_TREE_DIRS:-10}
TREE_FILE_KB=${BENCH_TREE_FILE_KB:-32}
REPEAT=${BENCH_FXP_REPEAT:-3}
RATE=${BENCH_RATE:-100mbit}
SRC_KIND=${BENCH_SRC_SERVER:-vsftpd}
DST_KIND=${BENCH_DST_SERVER:-pure-ftpd}
METHODS=${BENCH_METHODS:-a b c d}
require_root
require_tools vsftpd curl lftp rclone jq ip tc nsenter mountpoint fusermount3 sha256sum awk
ensure_test_user
[[ "$SRC_KIND $DST_KIND" == *pure-ftpd* ]] && ensure_pureftpd
fxpfs_check || log "fxpfs unavailable: $FXPFS_WHY (methods a and b will say FAILED)"

TREE_KIB=$((TREE_FILES * TREE_FILE_KB))
NMETH=$(wc -w <<<"$METHODS")
make_workdir $(((FILE_MB + TREE_KIB / 1024 + 2) * (1 + NMETH * REPEAT) + 256))

# ------------------------------------------------------------------- network
bed_setup "$RATE" "$RATE"

# ------------------------------------------------------------------- servers
bed_roots
log "writing the ${FILE_MB} MiB file and the ${TREE_FILES}-file tree on s1"
make_sources "$S1_ROOT" "$FILE_MB" "$TREE_FILES" "$TREE_DIRS" "$TREE_FILE_KB"
bed_servers "$SRC_KIND" "$DST_KIND"

# Link check: the client's shaped link and the servers' unshaped one.
LINK_MB=$((FILE_MB < 32 ? FILE_MB : 32))
lc() { # NS: MiB/s of a LINK_MB MiB download from s1
	local t
	timed t in_ns "$1" curl -K "$WORK/secret/curl-s1.cfg" -r "0-$((LINK_MB * 1048576 - 1))" \
		-o /dev/null "ftp://$S1_IP:21/src/big.bin" || return 1
	fmt "$(calc "$LINK_MB / $t")" 1
}
LC_CLIENT=$(lc "$NS_C") || die "client cannot fetch from s1"
LC_SERVERS=$(lc "$NS_S2") || die "s2 cannot fetch from s1"
log "link check: s1 -> client $LC_CLIENT MiB/s (shaped $RATE), s1 -> s2 $LC_SERVERS MiB/s"

# ------------------------------------------------------------------- methods
declare -A T B V # [method,kind,run] -> seconds, client-link bytes, verified

# verify KIND DIR: the copy in DIR (on s2's disk) equals the source.
verify() { verify_copy "$@"; }

# measure M KIND RUN DSTDIR CMD...: time CMD, count client-link bytes, verify.
measure() {
	local m=$1 kind=$2 r=$3 dst=$4 b0 b1 t rc=0
	shift 4
	log "($m) $kind run $r: $*"
	b0=$(link_bytes)
	local out=$WORK/$m-$kind-$r.out
	timed t "$@" >"$out" 2>&1 || rc=$?
	b1=$(link_bytes)
	T[$m,$kind,$r]=$t B[$m,$kind,$r]=$((b1 - b0))
	if ((rc != 0)); then
		V[$m,$kind,$r]=FAILED
		note_fail "($m) $kind run $r: exit status $rc: $(tail -c 400 "$out" | tr '\n' ' ')"
	elif verify "$kind" "$dst"; then
		V[$m,$kind,$r]=ok
	else
		V[$m,$kind,$r]=MISMATCH
		note_fail "($m) $kind run $r: the copy on s2 differs from the source (sha256)"
	fi
	log "($m) $kind run $r: $(fmt "$t" 2) s, $((b1 - b0)) bytes over the client link, ${V[$m,$kind,$r]}"
}

MNT=$WORK/mnt
FXP_COUNTERS=()
method_a() { # cp through the fxpfs mount
	local r=$1 d
	if [[ -z $FXPFS_OK ]] || ! fxpfs_mount "$NS_C" "$MNT" "$WORK/fxpfs-mount.log" "${SERVER_ARGS[@]}"; then
		note_fail "(a) fxpfs mount: $FXPFS_WHY"
		return
	fi
	local c0 c1
	c0=$(fxpfs_status "$MNT" '.counters | tojson') || c0="?"
	d=$(dstdir "a$r")
	measure a file "$r" "$d" cp "$MNT/s1/src/big.bin" "$MNT/s2/a$r/big.bin"
	measure a tree "$r" "$d" cp -r "$MNT/s1/src/tree" "$MNT/s2/a$r/tree"
	c1=$(fxpfs_status "$MNT" '.counters | tojson') || c1="?"
	FXP_COUNTERS+=("(a) run $r: \`fxpfs status\` counters before the copies: \`$c0\`, after: \`$c1\`")
	fxpfs_unmount "$MNT" "$MOUNT_PID"
}
method_b() { # fxpfs cp (-r -j 8 for the tree)
	local r=$1 d
	if [[ -z $FXPFS_OK ]]; then
		note_fail "(b) fxpfs cp: $FXPFS_WHY"
		return
	fi
	d=$(dstdir "b$r")
	measure b file "$r" "$d" "${FXPFS_CLIENT[@]}" cp "${SERVER_ARGS[@]}" s1:/src/big.bin "s2:/b$r/big.bin"
	measure b tree "$r" "$d" "${FXPFS_CLIENT[@]}" cp -r -j 8 "${SERVER_ARGS[@]}" s1:/src/tree "s2:/b$r/tree"
	local k
	for k in file tree; do
		FXP_COUNTERS+=("(b) $k run $r: \`fxpfs cp\` said: $(tail -n 1 "$WORK/b-$k-$r.out")")
	done
}
method_c() { # cp between two rclone mounts (no VFS cache)
	local r=$1 d
	rclone_pair_mount
	d=$(dstdir "c$r")
	measure c file "$r" "$d" cp "$WORK/rc1/src/big.bin" "$WORK/rc2/c$r/big.bin"
	measure c tree "$r" "$d" cp -r "$WORK/rc1/src/tree" "$WORK/rc2/c$r/tree"
	rclone_pair_unmount
}
method_d() { # lftp: FXP get (file), mirror -P 8 (tree)
	local r=$1 d
	d=$(dstdir "d$r")
	lftp_fxp_scripts "d$r"
	measure d file "$r" "$d" in_ns "$NS_C" lftp -f "$WORK/secret/lftp-file"
	measure d tree "$r" "$d" in_ns "$NS_C" lftp -f "$WORK/secret/lftp-tree"
}

for ((r = 1; r <= REPEAT; r++)); do
	for m in $METHODS; do "method_$m" "$r"; done
done

# ------------------------------------------------------------------- results
declare -A MT MB # medians [method,kind]
for m in $METHODS; do
	for kind in file tree; do
		ts=() bs=()
		for ((r = 1; r <= REPEAT; r++)); do
			[[ ${V[$m,$kind,$r]:-} == ok ]] || continue
			ts+=("${T[$m,$kind,$r]}") bs+=("${B[$m,$kind,$r]}")
		done
		if ((${#ts[@]})); then
			MT[$m,$kind]=$(median "${ts[@]}") MB[$m,$kind]=$(median "${bs[@]}")
		fi
	done
done
declare -A LABEL=([a]="(a) cp through the fxpfs mount" [b]="(b) fxpfs cp (-r -j 8)"
	[c]="(c) cp between two rclone mounts" [d]="(d) lftp FXP get / mirror -P 8")
cell_t() { if [[ -n ${MT[$1,$2]:-} ]]; then fmt "${MT[$1,$2]}" 2; else echo FAILED; fi; }
cell_b() {
	if [[ -n ${MB[$1,$2]:-} ]]; then
		printf '%s (%s MiB)' "${MB[$1,$2]}" "$(fmt "$(mib "${MB[$1,$2]}")" 2)"
	else echo -; fi
}
cell_p() { # client bytes as % of the copied bytes
	local copied=$FILE_BYTES
	[[ $2 == tree ]] && copied=$TREE_BYTES
	if [[ -n ${MB[$1,$2]:-} ]]; then fmt "$(calc "100 * ${MB[$1,$2]} / $copied")" 3; else echo -; fi
}
# ratio X Y: X / Y from the medians, or "-".
ratio() { if [[ -n ${1:-} && -n ${2:-} ]]; then fmt "$(calc "$1 / $2")" 2; else echo -; fi; }

md ""
md "### s1 ($SRC_KIND, $S1_IP) -> s2 ($DST_KIND, $S2_IP), client link $RATE, median of $REPEAT run(s)"
md ""
md "Copied: one file of $FILE_BYTES bytes ($(fmt "$(mib "$FILE_BYTES")" 1) MiB); a tree of $TREE_N files in $TREE_DIRS directories, $TREE_BYTES bytes. Link check (curl, ${LINK_MB} MiB): s1 -> client $LC_CLIENT MiB/s, s1 -> s2 $LC_SERVERS MiB/s."
md ""
md "| method | file: time (s) | file: client-link bytes | % of copied | tree: time (s) | tree: client-link bytes | % of copied |"
md "|---|---:|---:|---:|---:|---:|---:|"
for m in $METHODS; do
	md "| ${LABEL[$m]} | $(cell_t "$m" file) | $(cell_b "$m" file) | $(cell_p "$m" file) | $(cell_t "$m" tree) | $(cell_b "$m" tree) | $(cell_p "$m" tree) |"
done
md ""
md "| ratio (from the medians) | (a) mount cp | (b) fxpfs cp | target |"
md "|---|---:|---:|---|"
md "| file: rclone time / fxpfs time | $(ratio "${MT[c,file]:-}" "${MT[a,file]:-}") | $(ratio "${MT[c,file]:-}" "${MT[b,file]:-}") | >= 20 |"
md "| file: fxpfs time / lftp FXP time | $(ratio "${MT[a,file]:-}" "${MT[d,file]:-}") | $(ratio "${MT[b,file]:-}" "${MT[d,file]:-}") | <= 1.25 |"
md "| tree: fxpfs time / lftp mirror time | $(ratio "${MT[a,tree]:-}" "${MT[d,tree]:-}") | $(ratio "${MT[b,tree]:-}" "${MT[d,tree]:-}") | <= 1.00 |"
md "| tree: rclone time / fxpfs time | $(ratio "${MT[c,tree]:-}" "${MT[a,tree]:-}") | $(ratio "${MT[c,tree]:-}" "${MT[b,tree]:-}") | (none) |"
md "| file: client-link bytes / copied bytes (%) | $(cell_p a file) | $(cell_p b file) | < 1 |"
md "| tree: client-link bytes / copied bytes (%) | $(cell_p a tree) | $(cell_p b tree) | < 1 |"
perfile() { if [[ -n ${MB[$1,tree]:-} ]]; then fmt "$(calc "${MB[$1,tree]} / $TREE_N")" 0; else echo -; fi; }
md "| tree: client-link bytes per file | $(perfile a) | $(perfile b) | (none; lftp mirror: $(perfile d), rclone: $(perfile c)) |"
if ((REPEAT > 1)); then
	md ""
	md "All runs (time s / client-link bytes / check):"
	for m in $METHODS; do
		for kind in file tree; do
			line="" && for ((r = 1; r <= REPEAT; r++)); do
				line+=" $(fmt "${T[$m,$kind,$r]:-0}" 2)/${B[$m,$kind,$r]:--}/${V[$m,$kind,$r]:--}"
			done
			md "- ($m) $kind:$line"
		done
	done
fi
md_list "What fxpfs reported:" ${FXP_COUNTERS[@]+"${FXP_COUNTERS[@]}"}
bench_exit
