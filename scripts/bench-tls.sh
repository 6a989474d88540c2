#!/usr/bin/env bash
# bench-tls.sh: the FXP-over-TLS benchmark of issue 8.
#
# The bed of bench-fxp.sh (lib/bench-common.sh bed_setup): client, s1, s2 in
# network namespaces, the client's link shaped to BENCH_RATE (100mbit) both
# ways, the servers' link unshaped. Both servers speak explicit TLS with
# certificates from a CA made for the run:
#   s1 198.18.0.2  proftpd with mod_tls on port 21 (offers SSCN), and a second
#                  proftpd on port 2121 over the same files with SSCN refused
#                  (<Limit SSCN CPSV> DenyAll): the same server without an
#                  encrypted FXP method, for the clear-FXP comparison
#   s2 198.18.0.3  pure-ftpd -Y 1 (TLS, clear data allowed)
# A BENCH_TLS_FILE_MB (200) MiB file is copied from s1 to s2 by
#   (a) cp through an fxpfs mount      encrypted FXP (SSCN, PROT P)
#   (b) fxpfs cp                       encrypted FXP (SSCN, PROT P)
#   (c) fxpfs cp, fxp_clear_data       clear FXP (PROT C) from s1:2121
#   (d) lftp FXP, ftp:ssl-protect-fxp no   clear FXP, TLS control connections
#   (e) cp between two rclone mounts   FTPS both, data through the client
#                                      (no_check_certificate: rclone's FTP
#                                      backend takes no CA file)
#   (f) curl in s2's namespace         a TLS download of the file from s1 to
#                                      /dev/null: how fast s1 sends over TLS
#                                      to a client that costs nothing (the
#                                      bound of any encrypted copy from s1)
# each timed, with the bytes that crossed the client's link, checked by
# sha256 on s2's disk, and, for fxpfs, how fxpfs says the data went.
#
# Environment: BENCH_TLS_FILE_MB=200, BENCH_TLS_REPEAT=3 (median reported),
# BENCH_RATE=100mbit, BENCH_SERVER_RATE="" (e.g. 1gbit shapes the servers'
# links too: unshaped, the servers' encryption is bound by this machine's
# CPUs), BENCH_TLS_METHODS="a b c d e f", BENCH_RESULTS=FILE.
set -euo pipefail
# shellcheck source=lib/bench-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/bench-common.sh"

FILE_MB=${BENCH_TLS_FILE_MB:-200}
REPEAT=${BENCH_TLS_REPEAT:-3}
RATE=${BENCH_RATE:-100mbit}
SERVER_RATE=${BENCH_SERVER_RATE:-} # "": the servers' link unshaped
METHODS=${BENCH_TLS_METHODS:-a b c d e f}
REPORTED=()

require_root
require_tools lftp rclone jq ip tc nsenter mountpoint fusermount3 sha256sum awk openssl
ensure_test_user
ensure_pureftpd
ensure_proftpd
fxpfs_check || log "fxpfs unavailable: $FXPFS_WHY (methods a-c will say FAILED)"

NMETH=$(wc -w <<<"$METHODS")
make_workdir $(((FILE_MB + 2) * (1 + NMETH * REPEAT) + 256))
bed_setup "$RATE" "$RATE" "$SERVER_RATE"
make_certs "$WORK/certs" "$S1_IP" "$S2_IP"

bed_roots
log "writing the ${FILE_MB} MiB file on s1"
make_sources "$S1_ROOT" "$FILE_MB" 1 1 1
rm -rf "${S1_ROOT:?}/src/tree"

start_proftpd "$NS_S1" "$S1_IP" 21 "$S1_ROOT" s1 "$WORK/certs/$S1_IP.pem"
S1_USER=$SRV_USER S1_PASS=$SRV_PASS
start_proftpd "$NS_S1" "$S1_IP" 2121 "$S1_ROOT" s1c "$WORK/certs/$S1_IP.pem" \
	"<Limit SSCN CPSV>" "  DenyAll" "</Limit>"
S1C_USER=$SRV_USER S1C_PASS=$SRV_PASS
start_pureftpd_tls "$NS_S2" "$S2_IP" 21 "$S2_ROOT" s2 "$WORK/certs/$S2_IP.pem"
S2_USER=$SRV_USER S2_PASS=$SRV_PASS
export FXPFS_PASSWORD_S1=$S1_PASS FXPFS_PASSWORD_S1C=$S1C_PASS FXPFS_PASSWORD_S2=$S2_PASS

CONFIG=$WORK/fxpfs.toml
cat >"$CONFIG" <<EOF
[servers.s1]
url = "ftp://$S1_USER@$S1_IP:21/"
tls = "explicit"
tls_ca_file = "$TLS_CA"

[servers.s1c]
url = "ftp://$S1C_USER@$S1_IP:2121/"
tls = "explicit"
tls_ca_file = "$TLS_CA"
fxp_clear_data = true

[servers.s2]
url = "ftp://$S2_USER@$S2_IP:21/"
tls = "explicit"
tls_ca_file = "$TLS_CA"
fxp_clear_data = true
EOF

declare -A T B V # [method,run] -> seconds, client-link bytes, verified

# measure M RUN DSTDIR CMD...: time CMD, count client-link bytes, verify.
measure() {
	local m=$1 r=$2 dst=$3 b0 b1 t rc=0
	shift 3
	log "($m) run $r: $*"
	b0=$(link_bytes)
	local out=$WORK/$m-$r.out
	timed t "$@" >"$out" 2>&1 || rc=$?
	b1=$(link_bytes)
	T[$m,$r]=$t B[$m,$r]=$((b1 - b0))
	if ((rc != 0)); then
		V[$m,$r]=FAILED
		note_fail "($m) run $r: exit status $rc: $(tail -c 400 "$out" | tr '\n' ' ')"
	elif verify_copy file "$dst"; then
		V[$m,$r]=ok
	else
		V[$m,$r]=MISMATCH
		note_fail "($m) run $r: the copy on s2 differs from the source (sha256)"
	fi
	log "($m) run $r: $(fmt "$t" 2) s, $((b1 - b0)) bytes over the client link, ${V[$m,$r]}"
}

# expect_protection M RUN TEXT WANT: fxpfs said how the data went; WANT is a
# prefix it must start with.
expect_protection() {
	REPORTED+=("($1) run $2: fxpfs said \`$3\`")
	[[ $3 == "$4"* ]] || note_fail "($1) run $2: fxpfs says \"$3\", want \"$4...\""
}

MNT=$WORK/mnt
method_a() {
	local r=$1 d p
	if [[ -z $FXPFS_OK ]] || ! fxpfs_mount "$NS_C" "$MNT" "$WORK/fxpfs-mount.log" --config "$CONFIG"; then
		note_fail "(a) fxpfs mount: $FXPFS_WHY"
		return
	fi
	d=$(dstdir "a$r")
	measure a "$r" "$d" cp "$MNT/s1/src/big.bin" "$MNT/s2/a$r/big.bin"
	p=$(fxpfs_status "$MNT" '.recent[0].Protection // ""') || p="?"
	expect_protection a "$r" "$p" "TLS, s1 is the TLS client (SSCN)"
	fxpfs_unmount "$MNT" "$MOUNT_PID"
}
cp_said() { grep -o '\[\(TLS\|clear\)[^]]*\]' "$1" | head -n1 | tr -d '[]'; }
method_b() {
	local r=$1 d
	[[ -n $FXPFS_OK ]] || {
		note_fail "(b) fxpfs cp: $FXPFS_WHY"
		return
	}
	d=$(dstdir "b$r")
	measure b "$r" "$d" "${FXPFS_CLIENT[@]}" cp --config "$CONFIG" s1:/src/big.bin "s2:/b$r/big.bin"
	expect_protection b "$r" "$(cp_said "$WORK/b-$r.out")" "TLS, s1 is the TLS client (SSCN)"
}
method_c() {
	local r=$1 d
	[[ -n $FXPFS_OK ]] || {
		note_fail "(c) fxpfs cp: $FXPFS_WHY"
		return
	}
	d=$(dstdir "c$r")
	measure c "$r" "$d" "${FXPFS_CLIENT[@]}" cp --config "$CONFIG" s1c:/src/big.bin "s2:/c$r/big.bin"
	expect_protection c "$r" "$(cp_said "$WORK/c-$r.out")" "clear, allowed by fxp_clear_data"
}
method_d() {
	local r=$1 d pre
	d=$(dstdir "d$r")
	pre="set ftp:use-fxp yes; set ftp:fxp-force yes; set ftp:ssl-force yes; set ftp:ssl-protect-data yes"
	pre+="; set ftp:ssl-protect-fxp no; set ssl:ca-file $TLS_CA; set cmd:fail-exit yes; set net:max-retries 2; set net:timeout 60"
	# The script holds the passwords (a 0600 file, not argv).
	printf '%s\nget ftp://%s:%s@%s:21/src/big.bin -o ftp://%s:%s@%s:21/d%s/big.bin\n' "${pre//; /$'\n'}" \
		"$S1_USER" "$S1_PASS" "$S1_IP" "$S2_USER" "$S2_PASS" "$S2_IP" "$r" >"$WORK/secret/lftp-$r"
	measure d "$r" "$d" in_ns "$NS_C" lftp -f "$WORK/secret/lftp-$r"
}
method_e() {
	local r=$1 d
	# rclone's FTP backend ignores --ca-cert (it applies to HTTP): it is told
	# not to check the certificates instead, which costs it nothing here.
	rclone_pair_mount EXPLICIT_TLS=true NO_CHECK_CERTIFICATE=true
	d=$(dstdir "e$r")
	measure e "$r" "$d" cp "$WORK/rc1/src/big.bin" "$WORK/rc2/e$r/big.bin"
	rclone_pair_unmount
}

method_f() {
	local r=$1 t rc=0
	[[ -f $WORK/secret/curl-s1-tls.cfg ]] || curl_config "$WORK/secret/curl-s1-tls.cfg" "$S1_USER" "$S1_PASS"
	log "(f) run $r: curl --ssl-reqd from s1 in s2's namespace"
	timed t in_ns "$NS_S2" curl -s -K "$WORK/secret/curl-s1-tls.cfg" --ssl-reqd --cacert "$TLS_CA" \
		-o /dev/null "ftp://$S1_IP:21/src/big.bin" || rc=$?
	T[f,$r]=$t B[f,$r]=0
	if ((rc == 0)); then V[f,$r]=ok; else
		V[f,$r]=FAILED
		note_fail "(f) run $r: curl exit status $rc"
	fi
	log "(f) run $r: $(fmt "$t" 2) s, ${V[f,$r]}"
}

for ((r = 1; r <= REPEAT; r++)); do
	for m in $METHODS; do "method_$m" "$r"; done
done

# ------------------------------------------------------------------- results
declare -A MT MB
for m in $METHODS; do
	ts=() bs=()
	for ((r = 1; r <= REPEAT; r++)); do
		[[ ${V[$m,$r]:-} == ok ]] || continue
		ts+=("${T[$m,$r]}") bs+=("${B[$m,$r]}")
	done
	if ((${#ts[@]})); then
		MT[$m]=$(median "${ts[@]}") MB[$m]=$(median "${bs[@]}")
	fi
done
declare -A LABEL=([a]="(a) cp through the fxpfs mount: encrypted FXP (SSCN)"
	[b]="(b) fxpfs cp: encrypted FXP (SSCN)" [c]="(c) fxpfs cp: clear FXP (fxp_clear_data)"
	[d]="(d) lftp FXP, ssl-protect-fxp off (clear)" [e]="(e) cp between two rclone mounts (FTPS)"
	[f]="(f) s1's own TLS send: curl FTPS download in s2's namespace (not a copy)")
cell_t() { if [[ -n ${MT[$1]:-} ]]; then fmt "${MT[$1]}" 2; else echo FAILED; fi; }
cell_b() { if [[ -n ${MB[$1]:-} ]]; then printf '%s (%s MiB)' "${MB[$1]}" "$(fmt "$(mib "${MB[$1]}")" 2)"; else echo -; fi; }
cell_p() { if [[ -n ${MB[$1]:-} ]]; then fmt "$(calc "100 * ${MB[$1]} / $FILE_BYTES")" 3; else echo -; fi; }
ratio() { if [[ -n ${1:-} && -n ${2:-} ]]; then fmt "$(calc "$1 / $2")" 2; else echo -; fi; }

md ""
md "### s1 (proftpd + mod_tls, $S1_IP) -> s2 (pure-ftpd -Y 1, $S2_IP), both TLS, client link $RATE, servers' links ${SERVER_RATE:-unshaped}, median of $REPEAT run(s)"
md ""
md "Copied: one file of $FILE_BYTES bytes ($(fmt "$(mib "$FILE_BYTES")" 1) MiB)."
md ""
md "| method | time (s) | client-link bytes | % of copied |"
md "|---|---:|---:|---:|"
for m in $METHODS; do
	md "| ${LABEL[$m]} | $(cell_t "$m") | $(cell_b "$m") | $(cell_p "$m") |"
done
md ""
md "| ratio (from the medians) | (a) mount cp | (b) fxpfs cp | target |"
md "|---|---:|---:|---|"
md "| encrypted FXP time / clear FXP time (c) | $(ratio "${MT[a]:-}" "${MT[c]:-}") | $(ratio "${MT[b]:-}" "${MT[c]:-}") | <= 1.25 |"
md "| encrypted FXP time / lftp clear FXP time (d) | $(ratio "${MT[a]:-}" "${MT[d]:-}") | $(ratio "${MT[b]:-}" "${MT[d]:-}") | (none) |"
md "| encrypted FXP time / s1's TLS send alone (f) | $(ratio "${MT[a]:-}" "${MT[f]:-}") | $(ratio "${MT[b]:-}" "${MT[f]:-}") | (none) |"
md "| rclone time / encrypted FXP time | $(ratio "${MT[e]:-}" "${MT[a]:-}") | $(ratio "${MT[e]:-}" "${MT[b]:-}") | (none) |"
md "| client-link bytes / copied bytes (%) | $(cell_p a) | $(cell_p b) | < 1 |"
if ((REPEAT > 1)); then
	md ""
	md "All runs (time s / client-link bytes / check):"
	for m in $METHODS; do
		line="" && for ((r = 1; r <= REPEAT; r++)); do
			line+=" $(fmt "${T[$m,$r]:-0}" 2)/${B[$m,$r]:--}/${V[$m,$r]:--}"
		done
		md "- ($m):$line"
	done
fi
md_list "How fxpfs said the data went:" ${REPORTED[@]+"${REPORTED[@]}"}
bench_exit
