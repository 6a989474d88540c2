package realftpd

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// SystemUser is the system account vsftpd logs in and both servers write files as.
const SystemUser = "fxpfstest"

// SystemPassword is SystemUser's password (a test account without shell or home).
const SystemPassword = "fxpfs-test-password"

// pamService is the PAM service the vsftpd instances authenticate with.
const pamService = "fxpfs-vsftpd-test"

const pamConfig = `# fxpfs test vsftpd instances (written by internal/realftpd).
auth     required pam_unix.so
account  required pam_permit.so
session  required pam_permit.so
`

// StartVsftpd starts a private vsftpd for the test and stops it at cleanup.
func StartVsftpd(t TB, opts Options) *Server {
	t.Helper()
	skipShort(t)
	bin := lookBin("vsftpd", "/usr/sbin/vsftpd")
	if bin == "" {
		missing(t, "vsftpd not found (apt-get install vsftpd)")
	}
	if os.Geteuid() != 0 {
		missing(t, "vsftpd test instances need root (they log in a system user and chroot)")
	}
	if opts.TLS12 || opts.TLSTickets {
		t.Fatalf("realftpd: TLS12/TLSTickets: proftpd only")
	}
	if err := ensurePAM(); err != nil {
		t.Fatalf("realftpd: %v", err)
	}
	srv, state := newServer(t, Vsftpd, &opts, true) // state: config, log, empty chroot dir, outside root
	srv.User, srv.Password = SystemUser, SystemPassword
	srv.LogFile = filepath.Join(state, "vsftpd.log")
	empty := filepath.Join(state, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatalf("realftpd: %v", err)
	}
	cert := setupTLS(t, srv, opts, state).cert
	conf := filepath.Join(state, "vsftpd.conf")
	if err := os.WriteFile(conf, []byte(vsftpdConfig(srv, opts, empty, cert)), 0o600); err != nil {
		t.Fatalf("realftpd: %v", err)
	}
	srv.launch(t, opts, []string{bin, conf}, filepath.Join(state, "stderr.log"))
	return srv
}

func vsftpdConfig(s *Server, o Options, emptyDir, cert string) string {
	yn := func(b bool) string {
		if b {
			return "YES"
		}
		return "NO"
	}
	lines := []string{
		"listen=YES",
		"listen_ipv6=NO",
		"background=NO",
		"listen_address=" + s.Host,
		"listen_port=" + strconv.Itoa(s.Port),
		"anonymous_enable=NO",
		"local_enable=YES",
		"write_enable=YES",
		"local_umask=022",
		"file_open_mode=0666",
		"chroot_local_user=YES",
		"allow_writeable_chroot=YES",
		"local_root=" + s.Root,
		"passwd_chroot_enable=NO",
		"seccomp_sandbox=NO",
		"isolate=NO",
		"isolate_network=NO",
		"pam_service_name=" + pamService,
		"check_shell=NO",
		"userlist_enable=NO",
		"tcp_wrappers=NO",
		"secure_chroot_dir=" + emptyDir,
		"mdtm_write=YES",
		"utf8_filesystem=YES",
		"use_localtime=NO",
		"dirmessage_enable=NO",
		"connect_from_port_20=NO",
		"pasv_enable=YES",
		"port_enable=YES",
		"pasv_promiscuous=" + yn(o.FXP),
		"port_promiscuous=" + yn(o.FXP),
		"async_abor_enable=YES",
		"ls_recurse_enable=NO",
		"force_dot_files=YES",
		"hide_ids=NO",
		"xferlog_enable=YES",
		"xferlog_std_format=NO",
		"log_ftp_protocol=YES",
		"vsftpd_log_file=" + s.LogFile,
		"idle_session_timeout=600",
		"data_connection_timeout=120",
	}
	if o.MaxClients > 0 {
		lines = append(lines,
			"max_clients="+strconv.Itoa(o.MaxClients),
			"max_per_ip="+strconv.Itoa(o.MaxClients))
	}
	if cert != "" {
		// require_ssl_reuse stays at vsftpd's default (YES). The default
		// ssl_ciphers (DES-CBC3-SHA) is refused by OpenSSL 3 below TLS 1.3;
		// HIGH is what configurations in use set.
		lines = append(lines,
			"ssl_enable=YES",
			"rsa_cert_file="+cert,
			"rsa_private_key_file="+cert,
			"allow_anon_ssl=NO",
			"force_local_logins_ssl="+yn(o.TLSRequired),
			"force_local_data_ssl="+yn(o.TLSRequired),
			"implicit_ssl="+yn(o.TLSImplicit),
			"ssl_ciphers=HIGH",
			"debug_ssl=YES",
		)
		if o.TLSNoReuse {
			lines = append(lines, "require_ssl_reuse=NO")
		}
	}
	if o.MaxRate > 0 {
		lines = append(lines, "local_max_rate="+strconv.Itoa(o.MaxRate))
	}
	if o.PassivePorts[0] > 0 {
		lines = append(lines,
			"pasv_min_port="+strconv.Itoa(o.PassivePorts[0]),
			"pasv_max_port="+strconv.Itoa(o.PassivePorts[1]))
	}
	return strings.Join(lines, "\n") + "\n"
}

// ensureSystemUser creates SystemUser (system account, home "/", no shell) with
// SystemPassword if it does not exist, under a lock shared by all test
// processes, and returns its uid and gid.
func ensureSystemUser() (uid, gid int, err error) {
	unlock, err := lockSetup()
	if err != nil {
		return 0, 0, err
	}
	defer unlock()
	u, err := user.Lookup(SystemUser)
	if err != nil {
		out, cerr := exec.Command("useradd", "--system", "--user-group", "--no-create-home",
			"--home-dir", "/", "--shell", "/usr/sbin/nologin",
			"--comment", "fxpfs test FTP user", SystemUser).CombinedOutput()
		if cerr != nil {
			return 0, 0, fmt.Errorf("useradd %s: %w: %s", SystemUser, cerr, out)
		}
		cmd := exec.Command("chpasswd")
		cmd.Stdin = strings.NewReader(SystemUser + ":" + SystemPassword + "\n")
		if out, cerr := cmd.CombinedOutput(); cerr != nil {
			return 0, 0, fmt.Errorf("chpasswd %s: %w: %s", SystemUser, cerr, out)
		}
		if u, err = user.Lookup(SystemUser); err != nil {
			return 0, 0, fmt.Errorf("look up %s after useradd: %w", SystemUser, err)
		}
	}
	if u.HomeDir != "/" {
		// vsftpd changes into the home directory before local_root: it must exist.
		if out, cerr := exec.Command("usermod", "--home", "/", SystemUser).CombinedOutput(); cerr != nil {
			return 0, 0, fmt.Errorf("usermod --home / %s: %w: %s", SystemUser, cerr, out)
		}
	}
	uid, err = strconv.Atoi(u.Uid)
	if err != nil {
		return 0, 0, fmt.Errorf("uid of %s: %w", SystemUser, err)
	}
	gid, err = strconv.Atoi(u.Gid)
	if err != nil {
		return 0, 0, fmt.Errorf("gid of %s: %w", SystemUser, err)
	}
	return uid, gid, nil
}

// ensurePAM writes the PAM service file if it is absent or different.
func ensurePAM() error {
	p := filepath.Join("/etc/pam.d", pamService)
	if b, err := os.ReadFile(p); err == nil && bytes.Equal(b, []byte(pamConfig)) {
		return nil
	}
	tmp, err := os.CreateTemp("/etc/pam.d", ".fxpfs-*")
	if err != nil {
		return fmt.Errorf("write PAM service: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(pamConfig); err != nil {
		tmp.Close()
		return fmt.Errorf("write PAM service: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write PAM service: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write PAM service: %w", err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return fmt.Errorf("write PAM service: %w", err)
	}
	return nil
}

// lockSetup takes an exclusive lock shared by all test processes on the host.
func lockSetup() (func(), error) {
	f, err := os.OpenFile("/run/lock/fxpfs-realftpd.lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		f, err = os.OpenFile(filepath.Join(os.TempDir(), "fxpfs-realftpd.lock"), os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			return nil, fmt.Errorf("setup lock: %w", err)
		}
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("setup lock: %w", err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// unpacked lists where scripts/install-deps.sh unpacks the Debian package
// of a server that cannot be installed with apt beside vsftpd:
// $FXPFS_TEST_PREFIX/<dir> (if set), then /opt/fxpfs-test/<dir>.
func unpacked(dir string) []string {
	var prefixes []string
	if p := os.Getenv("FXPFS_TEST_PREFIX"); p != "" {
		prefixes = append(prefixes, filepath.Join(p, dir))
	}
	return append(prefixes, filepath.Join("/opt/fxpfs-test", dir))
}

// lookBin finds name on PATH, else at the given fallback paths.
func lookBin(name string, fallbacks ...string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, f := range fallbacks {
		if isExec(f) {
			return f
		}
	}
	return ""
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}
