# shellcheck shell=bash disable=SC2034 # variables here are used by the scripts that source it
# bench-common.sh: shared functions of the fxpfs benchmarks (scripts/bench*.sh).
#
# Sourced, not run. Provides: logging, a cleanup stack run on exit, process-tree
# killing, timing and arithmetic helpers, network namespaces, private vsftpd and
# pure-ftpd instances, and fxpfs/rclone mounts that are always unmounted.
#
# Conventions: every external step is bounded by `timeout`; every resource made
# (namespace, server, mount, tmpfs) pushes its own undo onto the cleanup stack
# the moment it exists; passwords never appear on a command line (they go
# through the environment, a 0600 file, or stdin).

BENCH_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$BENCH_LIB_DIR/../.." && pwd)"
FXPFS_BIN="${FXPFS_BIN:-$REPO/bin/fxpfs}"
STEP_TIMEOUT="${BENCH_STEP_TIMEOUT:-900}" # seconds for any one measured step

# Same system user, password and PAM service as internal/realftpd (Go tests).
TEST_USER=fxpfstest
TEST_PASSWORD=fxpfs-test-password
PAM_SERVICE=fxpfs-vsftpd-test
PURE_USER=fxpfs

# Progress goes to the script's stderr as it was when sourced, even from a
# trap that runs while a step's output is redirected.
exec {LOG_FD}>&2
log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&"$LOG_FD"; }
die() {
	log "FATAL: $*"
	exit 1
}

# ---------------------------------------------------------------- cleanup stack

CLEANUP=()
# on_exit CMD: run CMD (a string, eval'd) at exit; last pushed runs first.
on_exit() { CLEANUP+=("$1"); }
run_cleanup() {
	local rc=$? i
	trap - EXIT INT TERM HUP
	[[ -z ${STEP_PID:-} ]] || kill_tree "$STEP_PID"
	for ((i = ${#CLEANUP[@]} - 1; i >= 0; i--)); do
		eval "${CLEANUP[i]}" >/dev/null 2>&1 || true
	done
	CLEANUP=()
	return "$rc"
}
trap run_cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM HUP

# descendants PID: every process whose parent chain reaches PID.
descendants() {
	local root=$1 kids k
	kids=$(ps -o pid= --ppid "$root" 2>/dev/null || true)
	for k in $kids; do
		echo "$k"
		descendants "$k"
	done
}

# kill_tree PID: stop PID and everything it forked (so nothing forks or is
# reparented while we look), then SIGKILL them all and their process group.
kill_tree() {
	local root=$1 all p i
	kill -0 "$root" 2>/dev/null || return 0
	all="$root"
	for i in 1 2 3; do
		for p in $all; do kill -STOP "$p" 2>/dev/null || true; done
		all="$root $(descendants "$root" | tr '\n' ' ')"
	done
	kill -KILL -- "-$root" 2>/dev/null || true
	for p in $all; do kill -KILL "$p" 2>/dev/null || true; done
	wait "$root" 2>/dev/null || true
}

# ------------------------------------------------------------ numbers and time

now() { echo "$EPOCHREALTIME"; }
# calc EXPR: floating-point arithmetic (awk), printed with up to 6 decimals.
calc() { awk "BEGIN { v = ($1); printf \"%.6g\n\", v }"; }
# fmt N DECIMALS
fmt() { awk -v v="$1" -v d="${2:-2}" 'BEGIN { printf "%.*f\n", d, v }'; }
# median N...: median of the numbers given.
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
mib() { calc "$1 / 1048576"; }

# timed VAR CMD...: run CMD under the step timeout; VAR = wall seconds.
# Returns CMD's status (124 on timeout).
timed() {
	local __var=$1 t0 t1 rc=0
	shift
	# in_ns is a function, which timeout cannot run: expand it here.
	[[ $1 != in_ns ]] || set -- nsenter --net="/run/netns/$2" -- "${@:3}"
	t0=$(now)
	# In the background and waited for, so that a signal to this script runs
	# its trap at once (bash defers traps while a foreground child runs).
	timeout --kill-after=15 "$STEP_TIMEOUT" "$@" &
	STEP_PID=$!
	wait "$STEP_PID" || rc=$?
	STEP_PID=
	t1=$(now)
	printf -v "$__var" '%s' "$(calc "$t1 - $t0")"
	return "$rc"
}

# wait_until SECONDS CMD...: poll CMD every 0.1 s until it succeeds.
wait_until() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		((SECONDS < deadline)) || return 1
		sleep 0.1
	done
}

# -------------------------------------------------------------------- results

RESULTS=${BENCH_RESULTS:-/dev/null} # the markdown results are appended there too
FAILED=0                            # the script's exit status (bench_exit)
NOTES=()                            # what failed, listed under the results

# md LINE: one line of the markdown results, printed and appended to $RESULTS.
md() { printf '%s\n' "$*" | tee -a "$RESULTS"; }

# note_fail MSG: something failed: said now, listed by bench_exit, exit 1.
note_fail() {
	FAILED=1
	NOTES+=("$*")
	log "FAIL: $*"
}

# md_list TITLE ITEM...: a blank line, TITLE and one bullet per ITEM; nothing
# without items.
md_list() {
	local title=$1 item
	shift
	(($#)) || return 0
	md ""
	md "$title"
	for item in "$@"; do md "- $item"; done
}

# bench_exit: list the failures noted (note_fail) and exit 1 if any, else 0.
bench_exit() {
	md_list "Failures in this run:" ${NOTES[@]+"${NOTES[@]}"}
	exit "$FAILED"
}

# ---------------------------------------------------------------- environment

require_root() { [[ $(id -u) -eq 0 ]] || die "run as root (servers, namespaces, FUSE mounts)"; }

require_tools() {
	local t missing=()
	for t in "$@"; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
	((${#missing[@]} == 0)) || die "missing tools: ${missing[*]} (run scripts/install-deps.sh)"
}

PURE_PREFIX="${FXPFS_TEST_PREFIX:-/opt/fxpfs-test}/pure-ftpd"
PURE_BIN="$PURE_PREFIX/usr/sbin/pure-ftpd"
PURE_PW="$PURE_PREFIX/usr/bin/pure-pw"

# ensure_pureftpd: unpack pure-ftpd with scripts/install-deps.sh if missing.
ensure_pureftpd() {
	[[ -x $PURE_BIN && -x $PURE_PW ]] && return 0
	log "pure-ftpd not in $PURE_PREFIX: running scripts/install-deps.sh"
	timeout 900 "$REPO/scripts/install-deps.sh" >&2 || die "install-deps.sh failed"
	[[ -x $PURE_BIN && -x $PURE_PW ]] || die "pure-ftpd still missing in $PURE_PREFIX"
}

# ensure_test_user: the system user and PAM service the vsftpd instances use
# (created the same way internal/realftpd does, if absent).
ensure_test_user() {
	if ! id "$TEST_USER" >/dev/null 2>&1; then
		useradd --system --user-group --no-create-home --home-dir / \
			--shell /usr/sbin/nologin --comment "fxpfs test FTP user" "$TEST_USER" ||
			die "useradd $TEST_USER"
		printf '%s:%s\n' "$TEST_USER" "$TEST_PASSWORD" | chpasswd || die "chpasswd $TEST_USER"
	fi
	TEST_UID=$(id -u "$TEST_USER")
	TEST_GID=$(id -g "$TEST_USER")
	local pam=/etc/pam.d/$PAM_SERVICE
	if [[ ! -f $pam ]]; then
		printf '%s\n' "# fxpfs test vsftpd instances (written by internal/realftpd)." \
			"auth     required pam_unix.so" "account  required pam_permit.so" \
			"session  required pam_permit.so" >"$pam"
		chmod 0644 "$pam"
	fi
}

# make_workdir: WORK (private state: configs, logs, secrets) and DATA (a tmpfs
# holding the servers' roots and local sources, so disks add no noise).
make_workdir() {
	local size_mb=$1
	WORK=$(mktemp -d /tmp/fxpfs-bench.XXXXXX)
	chmod 0755 "$WORK" # servers running as $TEST_USER traverse it to their roots
	on_exit "rm -rf '$WORK'"
	[[ -z ${BENCH_LOGS:-} ]] || on_exit save_logs
	mkdir -p "$WORK/data" "$WORK/secret" "$WORK/home"
	chmod 0700 "$WORK/secret" "$WORK/home"
	mount -t tmpfs -o "size=${size_mb}m,mode=0755" fxpfs-bench "$WORK/data" || die "mount tmpfs"
	on_exit "umount -l '$WORK/data'"
	DATA=$WORK/data
	FXPFS_ENV=(env "HOME=$WORK/home" "XDG_CONFIG_HOME=$WORK/home/.config")
}

# save_logs: copy the run's logs and outputs (not secret/, not data/) to
# $BENCH_LOGS/<workdir name>/ for a look after the run.
save_logs() {
	local to=$BENCH_LOGS/${WORK##*/}
	mkdir -p "$to"
	(cd "$WORK" && find . -path ./data -prune -o -path ./secret -prune -o -path ./home -prune -o \
		-type f \( -name '*.log' -o -name '*.out' -o -name '*.stderr' -o -name '*.conf' \) -print0 |
		xargs -0 -r cp --parents -t "$to")
	log "logs saved in $to"
}

# make_root DIR: a server root owned by the test user.
make_root() {
	mkdir -p "$1"
	chown "$TEST_UID:$TEST_GID" "$1"
}

# random_file PATH MIB: MIB MiB of random bytes.
random_file() {
	head -c "$(($2 * 1048576))" /dev/urandom >"$1" || die "write $1"
}

# tree_manifest DIR: "sha256  relative/path" of every file, sorted.
tree_manifest() {
	(cd "$1" && find . -type f -print0 | sort -z | xargs -0 -r sha256sum)
}

# ------------------------------------------------------------------ namespaces

# netns_add NAME: a fresh namespace with lo up, deleted at exit.
netns_add() {
	ip netns add "$1" || die "ip netns add $1"
	on_exit "ip netns del '$1'"
	ip -n "$1" link set lo up
}

# in_ns NS CMD...: run CMD in NS's network namespace only (mounts stay shared,
# so a FUSE mount made there is visible to everyone).
in_ns() {
	local ns=$1
	shift
	nsenter --net="/run/netns/$ns" -- "$@"
}

# -------------------------------------------------------------------- servers

# start_bg LOGFILE CMD...: start CMD as its own session/process group; sets
# BG_PID and kills the whole tree at exit.
start_bg() {
	local out=$1
	shift
	setsid "$@" >"$out" 2>&1 </dev/null &
	BG_PID=$!
	on_exit "kill_tree $BG_PID"
}

# ftp_greets NS HOST PORT: the server at HOST:PORT answers with 220.
ftp_greets() {
	in_ns "$1" timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1" && head -c 3 <&3' "$2" "$3" 2>/dev/null | grep -q '^220'
}

# start_vsftpd NS HOST PORT ROOT NAME: vsftpd with FXP allowed. Sets
# SRV_USER, SRV_PASS, SRV_LOG (every FTP command is logged there).
start_vsftpd() {
	local ns=$1 host=$2 port=$3 root=$4 name=$5
	local st=$WORK/$name
	mkdir -p "$st/empty"
	chmod 0755 "$st" "$st/empty"
	SRV_LOG=$st/vsftpd.log
	cat >"$st/vsftpd.conf" <<EOF
listen=YES
listen_ipv6=NO
background=NO
listen_address=$host
listen_port=$port
anonymous_enable=NO
local_enable=YES
write_enable=YES
local_umask=022
file_open_mode=0666
chroot_local_user=YES
allow_writeable_chroot=YES
local_root=$root
passwd_chroot_enable=NO
seccomp_sandbox=NO
isolate=NO
isolate_network=NO
pam_service_name=$PAM_SERVICE
check_shell=NO
userlist_enable=NO
tcp_wrappers=NO
secure_chroot_dir=$st/empty
mdtm_write=YES
utf8_filesystem=YES
use_localtime=NO
dirmessage_enable=NO
connect_from_port_20=NO
pasv_enable=YES
port_enable=YES
pasv_promiscuous=YES
port_promiscuous=YES
async_abor_enable=YES
ls_recurse_enable=NO
force_dot_files=YES
hide_ids=NO
xferlog_enable=YES
xferlog_std_format=NO
log_ftp_protocol=YES
vsftpd_log_file=$SRV_LOG
idle_session_timeout=600
data_connection_timeout=300
EOF
	chmod 0600 "$st/vsftpd.conf"
	start_bg "$st/stderr.log" nsenter --net="/run/netns/$ns" -- vsftpd "$st/vsftpd.conf"
	wait_until 15 ftp_greets "$ns" "$host" "$port" ||
		die "vsftpd $name on $host:$port did not greet: $(tail -c 500 "$st/stderr.log")"
	SRV_USER=$TEST_USER SRV_PASS=$TEST_PASSWORD
	log "vsftpd $name on $host:$port (netns $ns), root $root"
}

# start_pureftpd NS HOST PORT ROOT NAME: pure-ftpd with a PureDB virtual user
# (random password) and FXP allowed (-W). Sets SRV_USER, SRV_PASS, SRV_LOG
# (transfers only: pure-ftpd has no per-command log without syslog).
start_pureftpd() {
	local ns=$1 host=$2 port=$3 root=$4 name=$5
	local st=$WORK/$name
	mkdir -p "$st"
	SRV_PASS=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
	SRV_USER=$PURE_USER
	SRV_LOG=$st/transfer.log
	local pf=$WORK/secret/$name.passwd hash
	if command -v openssl >/dev/null 2>&1; then
		# pure-pw would hash with argon2id at t=511: every login then costs
		# ~3.5 s of CPU, which would dominate anything that opens connections
		# (pools, rclone, lftp mirror). A SHA-512 crypt(3) hash is checked by
		# pure-ftpd with crypt() in milliseconds. Same line format as pure-pw.
		hash=$(printf '%s' "$SRV_PASS" | openssl passwd -6 -stdin) || die "openssl passwd"
		printf '%s:%s:%s:%s::%s/./::::::::::::\n' "$PURE_USER" "$hash" "$TEST_UID" "$TEST_GID" "$root" >"$pf"
		chmod 0600 "$pf"
		"$PURE_PW" mkdb "$WORK/secret/$name.pdb" -f "$pf" >"$st/pure-pw.log" 2>&1 ||
			die "pure-pw mkdb: $(cat "$st/pure-pw.log")"
	else
		log "WARNING: no openssl: pure-ftpd logins use pure-pw's argon2id hashes (~3.5 s each)"
		printf '%s\n%s\n' "$SRV_PASS" "$SRV_PASS" |
			"$PURE_PW" useradd "$PURE_USER" -f "$pf" -F "$WORK/secret/$name.pdb" \
				-u "$TEST_UID" -g "$TEST_GID" -d "$root" -m >"$st/pure-pw.log" 2>&1 ||
			die "pure-pw useradd: $(cat "$st/pure-pw.log")"
	fi
	start_bg "$st/stderr.log" nsenter --net="/run/netns/$ns" -- "$PURE_BIN" \
		-S "$host,$port" -l "puredb:$WORK/secret/$name.pdb" -A -E -H -D -4 -u 1 \
		-U 133:022 -O "clf:$SRV_LOG" -W -c 100 -C 100 ${PURE_EXTRA[@]+"${PURE_EXTRA[@]}"}
	wait_until 15 ftp_greets "$ns" "$host" "$port" ||
		die "pure-ftpd $name on $host:$port did not greet: $(tail -c 500 "$st/stderr.log")"
	log "pure-ftpd $name on $host:$port (netns $ns), root $root"
}

# start_server KIND NS HOST PORT ROOT NAME: KIND is vsftpd or pure-ftpd.
start_server() {
	case $1 in
	vsftpd) start_vsftpd "${@:2}" ;;
	pure-ftpd) start_pureftpd "${@:2}" ;;
	*) die "unknown server kind $1 (vsftpd|pure-ftpd)" ;;
	esac
}

# ------------------------------------------------------------------------- TLS

PRO_PREFIX="${FXPFS_TEST_PREFIX:-/opt/fxpfs-test}/proftpd"
PRO_BIN="$PRO_PREFIX/usr/sbin/proftpd"
PRO_MODULES="$PRO_PREFIX/usr/lib/proftpd"

# ensure_proftpd: unpack proftpd (with mod_tls) with scripts/install-deps.sh if missing.
ensure_proftpd() {
	[[ -x $PRO_BIN && -f $PRO_MODULES/mod_tls.so ]] && return 0
	log "proftpd not in $PRO_PREFIX: running scripts/install-deps.sh"
	timeout 900 "$REPO/scripts/install-deps.sh" >&2 || die "install-deps.sh failed"
	[[ -x $PRO_BIN && -f $PRO_MODULES/mod_tls.so ]] || die "proftpd still missing in $PRO_PREFIX"
}

# make_certs DIR IP...: a test CA (DIR/ca.pem) and, for each IP, DIR/IP.pem
# (private key then certificate, for that IP, signed by the CA). Sets TLS_CA.
make_certs() {
	local dir=$1 ip
	shift
	mkdir -p "$dir"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=fxpfs bench CA" -keyout "$dir/ca.key" -out "$dir/ca.pem" >/dev/null 2>&1 || die "openssl: CA"
	for ip in "$@"; do
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$ip" \
			-keyout "$dir/$ip.key" -out "$dir/$ip.csr" >/dev/null 2>&1 || die "openssl: key for $ip"
		printf 'subjectAltName=IP:%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$ip" >"$dir/$ip.ext"
		openssl x509 -req -in "$dir/$ip.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
			-days 2 -extfile "$dir/$ip.ext" -out "$dir/$ip.crt" >/dev/null 2>&1 || die "openssl: certificate for $ip"
		cat "$dir/$ip.key" "$dir/$ip.crt" >"$dir/$ip.pem"
		chmod 0600 "$dir/$ip.pem" "$dir/$ip.key"
	done
	TLS_CA=$dir/ca.pem
}

# start_pureftpd_tls NS HOST PORT ROOT NAME CERT: start_pureftpd with TLS
# offered (-Y 1: clear data stays allowed, for clear-FXP comparisons).
start_pureftpd_tls() {
	PURE_EXTRA=(-Y 1 -2 "$6")
	start_pureftpd "${@:1:5}"
	PURE_EXTRA=()
}

# start_proftpd NS HOST PORT ROOT NAME CERT [CONF_LINE...]: proftpd with
# mod_tls (TLS offered, SSCN available, the peer's certificate checked
# against TLS_CA when it is the TLS client of an FXP data connection), FXP
# allowed, a virtual user with a random password. Extra lines go into its
# config. Sets SRV_USER, SRV_PASS, SRV_LOG.
start_proftpd() {
	local ns=$1 host=$2 port=$3 root=$4 name=$5 cert=$6
	shift 6
	local st=$WORK/$name hash l
	mkdir -p "$st"
	chmod 0755 "$st"
	SRV_PASS=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
	SRV_USER=$PURE_USER
	SRV_LOG=$st/xferlog
	hash=$(printf '%s' "$SRV_PASS" | openssl passwd -6 -stdin) || die "openssl passwd"
	printf '%s:%s:%s:%s::%s:/bin/false\n' "$SRV_USER" "$hash" "$TEST_UID" "$TEST_GID" "$root" >"$WORK/secret/$name.passwd"
	printf '%s:x:%s:\n' "$SRV_USER" "$TEST_GID" >"$st/group"
	chmod 0600 "$WORK/secret/$name.passwd"
	cat >"$st/proftpd.conf" <<CONF
ServerType standalone
ServerName "fxpfs bench $name"
DefaultServer on
UseIPv6 off
DefaultAddress $host
SocketBindTight on
Port $port
User $TEST_USER
Group $TEST_USER
PidFile $st/proftpd.pid
ScoreboardFile $st/scoreboard
DelayTable none
WtmpLog off
UseReverseDNS off
UseLastlog off
ModulePath $PRO_MODULES
<IfModule mod_auth_pam.c>
  AuthPAM off
</IfModule>
AuthOrder mod_auth_file.c
AuthUserFile $WORK/secret/$name.passwd
AuthGroupFile $st/group
RequireValidShell off
DefaultRoot ~
Umask 022
AllowOverwrite on
AllowStoreRestart on
AllowRetrieveRestart on
TimesGMT on
AllowForeignAddress on
SystemLog $st/proftpd.log
TransferLog $SRV_LOG
TimeoutIdle 600
MaxInstances 200
LoadModule mod_tls.c
<IfModule mod_tls.c>
  TLSEngine on
  TLSLog $st/tls.log
  TLSProtocol TLSv1.2 TLSv1.3
  TLSECCertificateFile $cert
  TLSECCertificateKeyFile $cert
  TLSCACertificateFile $TLS_CA
  TLSVerifyClient off
  TLSVerifyServer on
  TLSRenegotiate none
  TLSRequired off
</IfModule>
CONF
	for l in "$@"; do printf '%s\n' "$l" >>"$st/proftpd.conf"; done
	chmod 0600 "$st/proftpd.conf"
	start_bg "$st/stderr.log" nsenter --net="/run/netns/$ns" -- "$PRO_BIN" --nodaemon --config "$st/proftpd.conf"
	wait_until 15 ftp_greets "$ns" "$host" "$port" ||
		die "proftpd $name on $host:$port did not greet: $(tail -c 500 "$st/stderr.log" "$st/proftpd.log" 2>/dev/null)"
	log "proftpd $name on $host:$port (netns $ns), root $root, TLS"
}

# curl_config FILE USER PASS: a curl -K file holding the credentials.
curl_config() {
	printf 'user = "%s:%s"\nsilent\nshow-error\n' "$2" "$3" >"$1"
	chmod 0600 "$1"
}

# --------------------------------------------------------------------- mounts

FXPFS_OK=""
# fxpfs_check: is bin/fxpfs there and answering? Sets FXPFS_WHY when not.
fxpfs_check() {
	if [[ ! -x $FXPFS_BIN ]]; then
		FXPFS_WHY="$FXPFS_BIN not built (make build)"
		return 1
	fi
	if ! timeout 20 "$FXPFS_BIN" --help >/dev/null 2>&1; then
		FXPFS_WHY="$FXPFS_BIN --help fails"
		return 1
	fi
	FXPFS_OK=1
}

# fxpfs_env: the environment fxpfs runs with (no user config or ~/.netrc;
# passwords from FXPFS_PASSWORD_<NAME>, exported by the caller).
# As a command prefix (usable under timeout): "${FXPFS_ENV[@]}" CMD...
fxpfs_env() { "${FXPFS_ENV[@]}" "$@"; }
FXPFS_ENV=(env HOME=/nonexistent XDG_CONFIG_HOME=/nonexistent) # set by make_workdir

# fxpfs_mount NS MNT LOG ARGS...: start `fxpfs mount ARGS MNT` in NS's network
# namespace and wait until the mount is usable. Sets MOUNT_PID. Fails (with
# FXPFS_WHY) if the daemon exits or the mount does not appear in 30 s.
fxpfs_mount() {
	local ns=$1 mnt=$2 lg=$3
	shift 3
	mkdir -p "$mnt"
	setsid "${FXPFS_ENV[@]}" nsenter --net="/run/netns/$ns" -- "$FXPFS_BIN" mount "$@" \
		--log-file "$lg" "$mnt" >"$lg.stderr" 2>&1 </dev/null &
	MOUNT_PID=$!
	on_exit "fxpfs_unmount '$mnt' $MOUNT_PID"
	local deadline=$((SECONDS + 30))
	until mountpoint -q "$mnt"; do
		if ! kill -0 "$MOUNT_PID" 2>/dev/null; then
			FXPFS_WHY="fxpfs mount exited: $(tail -c 600 "$lg.stderr" "$lg" 2>/dev/null | tr '\n' ' ')"
			return 1
		fi
		if ((SECONDS >= deadline)); then
			FXPFS_WHY="fxpfs mount not ready after 30 s: $(tail -c 600 "$lg.stderr" "$lg" 2>/dev/null | tr '\n' ' ')"
			fxpfs_unmount "$mnt" "$MOUNT_PID"
			return 1
		fi
		sleep 0.1
	done
}

# mount_dev MNT: "major:minor" of the file system mounted at MNT, from
# mountinfo (no stat: a FUSE mount whose daemon died answers ENOTCONN, and
# `mountpoint` then says it is not mounted).
mount_dev() { awk -v m="$1" '$5 == m { d = $3 } END { if (d == "") exit 1; print d }' /proc/self/mountinfo; }

# fuse_force_unmount MNT: abort our FUSE connection and detach MNT.
fuse_force_unmount() {
	local mnt=$1 dev
	dev=$(mount_dev "$mnt") || return 0
	if [[ -w /sys/fs/fuse/connections/${dev#*:}/abort ]]; then
		echo 1 >"/sys/fs/fuse/connections/${dev#*:}/abort" 2>/dev/null || true
	fi
	fusermount3 -u -z "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true
}

# fxpfs_unmount MNT PID: SIGTERM (fxpfs unmounts), then force after 20 s.
fxpfs_unmount() {
	local mnt=$1 pid=$2 deadline
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		deadline=$((SECONDS + 20))
		while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
	fi
	fuse_force_unmount "$mnt"
	kill_tree "$pid"
}

# fxpfs_status MNT JQ: evaluate JQ on the mount's first status snapshot.
fxpfs_status() {
	fxpfs_env timeout 20 "$FXPFS_BIN" status --json "$1" | jq -r ".[0] | $2"
}

# rclone_mount NS MNT REMOTE LOG [ARG...]: `rclone mount` (no VFS cache) in
# NS; the remote's config comes from RCLONE_CONFIG_* variables exported by the
# caller; extra ARGs go to rclone. Sets MOUNT_PID.
rclone_mount() {
	local ns=$1 mnt=$2 remote=$3 lg=$4
	shift 4
	mkdir -p "$mnt"
	setsid env HOME="$WORK/home" RCLONE_CONFIG=/dev/null nsenter --net="/run/netns/$ns" -- \
		rclone mount "$remote:" "$mnt" --vfs-cache-mode off --log-file "$lg" -v "$@" \
		>"$lg.stderr" 2>&1 </dev/null &
	MOUNT_PID=$!
	on_exit "fxpfs_unmount '$mnt' $MOUNT_PID"
	wait_until 30 mountpoint -q "$mnt" || die "rclone mount $remote not ready: $(tail -c 600 "$lg.stderr" "$lg" 2>/dev/null)"
}

# machine_line: what the results were measured on.
machine_line() {
	printf '%s, %s CPUs (%s), %s MiB RAM, kernel %s' "$(date -u +%Y-%m-%dT%H:%MZ)" "$(nproc)" \
		"$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)" \
		"$(awk '/MemTotal/ { printf "%d", $2 / 1024 }' /proc/meminfo)" "$(uname -r)"
}

# ------------------------------------------------------------ the test bed

# bed_setup DOWN UP [SERVERS]: three test hosts in network namespaces, joined
# by veth pairs to a bridge in a fourth namespace, addresses from
# 198.18.0.0/15 only:
#   client 198.18.0.1   its link shaped: DOWN towards it (tbf on the bridge's
#                       end of its veth), UP from it (tbf on its own end)
#   s1     198.18.0.2   source server, link unshaped (SERVERS: shaped to that
#   s2     198.18.0.3   destination server            rate both ways)
# Sets NS_BR NS_C NS_S1 NS_S2, C_IP S1_IP S2_IP, CLIENT_IF_NS CLIENT_IF, and
# FXPFS_CLIENT, the command prefix running fxpfs on the client (after
# make_workdir): "${FXPFS_CLIENT[@]}" cp ...
bed_setup() {
	local down=$1 up=$2 servers=${3:-} ns h spec dev rate
	local p=fxb$$
	NS_BR=${p}br NS_C=${p}c NS_S1=${p}s1 NS_S2=${p}s2
	C_IP=198.18.0.1 S1_IP=198.18.0.2 S2_IP=198.18.0.3
	for ns in $NS_BR $NS_C $NS_S1 $NS_S2; do netns_add "$ns"; done
	ip -n "$NS_BR" link add br0 type bridge
	ip -n "$NS_BR" link set br0 up
	declare -A hns=([c]=$NS_C [s1]=$NS_S1 [s2]=$NS_S2) hip=([c]=$C_IP [s1]=$S1_IP [s2]=$S2_IP)
	for h in c s1 s2; do
		ip -n "$NS_BR" link add "v$h" type veth peer name eth0 netns "${hns[$h]}"
		ip -n "$NS_BR" link set "v$h" master br0 up
		ip -n "${hns[$h]}" addr add "${hip[$h]}/24" dev eth0
		ip -n "${hns[$h]}" link set eth0 up
	done
	# tbf on the client's own end shapes what it sends (upload), on the
	# bridge's end what it receives (download). burst >= rate/HZ; 256 KiB
	# holds full-size GSO packets. (This kernel has no netem.)
	local specs=("$NS_C eth0 $up" "$NS_BR vc $down")
	[[ -z $servers ]] || specs+=("$NS_S1 eth0 $servers" "$NS_BR vs1 $servers" "$NS_S2 eth0 $servers" "$NS_BR vs2 $servers")
	for spec in "${specs[@]}"; do
		read -r ns dev rate <<<"$spec"
		tc -n "$ns" qdisc add dev "$dev" root tbf rate "$rate" burst 256kb latency 100ms ||
			die "tc tbf $rate on $dev in $ns"
	done
	CLIENT_IF_NS=$NS_BR CLIENT_IF=vc
	FXPFS_CLIENT=("${FXPFS_ENV[@]}" nsenter --net="/run/netns/$NS_C" -- "$FXPFS_BIN")
}

# link_bytes: bytes that crossed the client's link so far (both directions).
link_bytes() {
	ip -n "$CLIENT_IF_NS" -s -j link show dev "$CLIENT_IF" |
		jq '.[0].stats64.rx.bytes + .[0].stats64.tx.bytes'
}

# link_up_down: "UP DOWN", the bytes the client has sent (received by the
# bridge's end of its veth) and received (sent by that end) so far.
link_up_down() {
	ip -n "$CLIENT_IF_NS" -s -j link show dev "$CLIENT_IF" |
		jq -r '"\(.[0].stats64.rx.bytes) \(.[0].stats64.tx.bytes)"'
}

# make_sources ROOT FILE_MB TREE_FILES TREE_DIRS TREE_FILE_KB: ROOT/src/big.bin
# of FILE_MB MiB and ROOT/src/tree with TREE_FILES random files of
# TREE_FILE_KB KiB in TREE_DIRS directories, owned by the test user, with
# distinct mtimes (to the second). Sets FILE_BYTES FILE_SHA TREE_BYTES TREE_N
# and writes $WORK/tree.manifest.
make_sources() {
	local root=$1 file_mb=$2 files=$3 dirs=$4 kb=$5 per_dir n f d
	mkdir -p "$root/src/tree"
	random_file "$root/src/big.bin" "$file_mb"
	per_dir=$(((files + dirs - 1) / dirs))
	head -c "$((files * kb * 1024))" /dev/urandom | (cd "$root/src/tree" && split -b "${kb}k" -a 5 -d - f)
	n=0
	for f in "$root"/src/tree/f*; do
		d=$root/src/tree/d$((n / per_dir))
		mkdir -p "$d"
		mv "$f" "$d/"
		n=$((n + 1))
	done
	# Old, distinct mtimes with seconds, as on a real mirror.
	find "$root/src" -type f -printf '%P\n' | awk '{ printf "%s\t@%d\n", $0, 1700000000 + NR * 7 }' |
		while IFS=$'\t' read -r f t; do touch -m -d "$t" "$root/src/$f"; done
	chown -R "$TEST_UID:$TEST_GID" "$root/src"
	FILE_BYTES=$(stat -c %s "$root/src/big.bin")
	FILE_SHA=$(sha256sum "$root/src/big.bin" | cut -d' ' -f1)
	TREE_BYTES=$(find "$root/src/tree" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
	TREE_N=$(find "$root/src/tree" -type f | wc -l)
	tree_manifest "$root/src/tree" >"$WORK/tree.manifest"
}

# verify_copy KIND DIR: the copy in DIR (big.bin, or tree/) equals the source.
verify_copy() {
	if [[ $1 == file ]]; then
		[[ -f $2/big.bin && $(sha256sum "$2/big.bin" | cut -d' ' -f1) == "$FILE_SHA" ]]
	else
		[[ -d $2/tree ]] && tree_manifest "$2/tree" | cmp -s - "$WORK/tree.manifest"
	fi
}

# bed_roots: S1_ROOT and S2_ROOT, the two servers' roots (on the tmpfs).
bed_roots() {
	S1_ROOT=$DATA/s1 S2_ROOT=$DATA/s2
	make_root "$S1_ROOT"
	make_root "$S2_ROOT"
}

# bed_servers SRC_KIND DST_KIND: s1 and s2 (vsftpd or pure-ftpd) serving
# S1_ROOT and S2_ROOT on port 21. Sets S1_USER S1_PASS S2_USER S2_PASS,
# exports FXPFS_PASSWORD_S1/S2, sets SERVER_ARGS (fxpfs --server flags for
# both) and writes $WORK/secret/curl-s1.cfg (curl_config for s1).
bed_servers() {
	start_server "$1" "$NS_S1" "$S1_IP" 21 "$S1_ROOT" s1
	S1_USER=$SRV_USER S1_PASS=$SRV_PASS
	start_server "$2" "$NS_S2" "$S2_IP" 21 "$S2_ROOT" s2
	S2_USER=$SRV_USER S2_PASS=$SRV_PASS
	curl_config "$WORK/secret/curl-s1.cfg" "$S1_USER" "$S1_PASS"
	export FXPFS_PASSWORD_S1=$S1_PASS FXPFS_PASSWORD_S2=$S2_PASS
	SERVER_ARGS=(--server "s1=ftp://$S1_USER@$S1_IP:21/" --server "s2=ftp://$S2_USER@$S2_IP:21/")
}

# dstdir NAME: an empty directory NAME on s2's disk, owned by the servers'
# user; prints its path.
dstdir() {
	mkdir -p "$S2_ROOT/$1"
	chown "$TEST_UID:$TEST_GID" "$S2_ROOT/$1"
	echo "$S2_ROOT/$1"
}

# rclone_pair_mount [SETTING=VALUE...]: s1 and s2 mounted by rclone on the
# client at $WORK/rc1 and $WORK/rc2 (remotes from RCLONE_CONFIG_S1_*/S2_*,
# from S1_IP S1_USER S1_PASS...; each SETTING, e.g. EXPLICIT_TLS=true,
# applies to both). Undone by rclone_pair_unmount.
rclone_pair_mount() {
	local s host user pass obscured kv
	for s in S1 S2; do
		host=${s}_IP user=${s}_USER pass=${s}_PASS
		export "RCLONE_CONFIG_${s}_TYPE=ftp" "RCLONE_CONFIG_${s}_HOST=${!host}" \
			"RCLONE_CONFIG_${s}_PORT=21" "RCLONE_CONFIG_${s}_USER=${!user}"
		obscured=$(printf '%s' "${!pass}" | rclone obscure -)
		export "RCLONE_CONFIG_${s}_PASS=$obscured"
		for kv in "$@"; do export "RCLONE_CONFIG_${s}_$kv"; done
	done
	rclone_mount "$NS_C" "$WORK/rc1" s1 "$WORK/rclone-s1.log"
	RCLONE_PIDS=("$MOUNT_PID")
	rclone_mount "$NS_C" "$WORK/rc2" s2 "$WORK/rclone-s2.log"
	RCLONE_PIDS+=("$MOUNT_PID")
}

rclone_pair_unmount() {
	fxpfs_unmount "$WORK/rc1" "${RCLONE_PIDS[0]}"
	fxpfs_unmount "$WORK/rc2" "${RCLONE_PIDS[1]}"
	unset "${!RCLONE_CONFIG_@}"
}

# lftp_fxp_scripts DIR: $WORK/secret/lftp-file and lftp-tree, lftp scripts
# copying src/big.bin and src/tree from s1 into DIR on s2 by FXP only (get;
# mirror -P 8), without TLS. They hold the passwords (files in the private
# secret/, not argv).
lftp_fxp_scripts() {
	local u1="ftp://$S1_USER:$S1_PASS@$S1_IP:21" u2="ftp://$S2_USER:$S2_PASS@$S2_IP:21"
	local pre="set ftp:use-fxp yes; set ftp:fxp-force yes; set ftp:ssl-allow no; set cmd:fail-exit yes; set net:max-retries 2; set net:timeout 60"
	printf '%s\nget %s/src/big.bin -o %s/%s/big.bin\n' "${pre//; /$'\n'}" "$u1" "$u2" "$1" >"$WORK/secret/lftp-file"
	printf '%s\nmirror -P 8 %s/src/tree %s/%s/tree\n' "${pre//; /$'\n'}" "$u1" "$u2" "$1" >"$WORK/secret/lftp-tree"
}
