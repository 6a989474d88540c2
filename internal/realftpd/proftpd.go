package realftpd

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// proUser is the login of proftpd instances (a virtual user in an
// AuthUserFile, mapped to SystemUser's uid and gid).
const proUser = "fxpfs"

// proftpdDirs finds proftpd and its module directory: unpacked by
// scripts/install-deps.sh (proftpd-core and proftpd-mod-crypto conflict with
// vsftpd in apt), else the system's.
func proftpdDirs() (bin, modules string) {
	for _, p := range append(unpacked("proftpd"), "/") {
		b, m := filepath.Join(p, "usr/sbin/proftpd"), filepath.Join(p, "usr/lib/proftpd")
		if isExec(b) {
			if _, err := os.Stat(filepath.Join(m, "mod_tls.so")); err == nil {
				return b, m
			}
		}
	}
	return "", ""
}

// StartProFTPD starts a private proftpd (mod_tls loaded; TLS as Options say)
// for the test and stops it at cleanup. Its TLS log (Server.TLSLog) says
// for each data connection whether it was encrypted and in which role.
func StartProFTPD(t TB, opts Options) *Server {
	t.Helper()
	skipShort(t)
	bin, modules := proftpdDirs()
	if bin == "" {
		missing(t, "proftpd with mod_tls not found in /opt/fxpfs-test/proftpd or /usr")
	}
	if lookBin("openssl") == "" {
		missing(t, "openssl (to hash the proftpd test password) not found")
	}
	if os.Geteuid() != 0 {
		missing(t, "proftpd test instances need root (they chroot and change user)")
	}
	srv, state := newServer(t, ProFTPD, &opts, true)
	srv.User, srv.Password = proUser, randomPassword(t)
	srv.LogFile = filepath.Join(state, "xferlog")
	cf := setupTLS(t, srv, opts, state)
	if srv.TLS {
		srv.TLSLog = filepath.Join(state, "tls.log")
	}
	hash, err := cryptPassword(srv.Password)
	if err != nil {
		t.Fatalf("realftpd: %v", err)
	}
	passwd := filepath.Join(state, "passwd")
	line := fmt.Sprintf("%s:%s:%d:%d::%s:/bin/false\n", proUser, hash, srv.UID, srv.GID, srv.Root)
	if err := os.WriteFile(passwd, []byte(line), 0o600); err != nil {
		t.Fatalf("realftpd: %v", err)
	}
	group := filepath.Join(state, "group")
	if err := os.WriteFile(group, []byte(fmt.Sprintf("%s:x:%d:\n", proUser, srv.GID)), 0o600); err != nil {
		t.Fatalf("realftpd: %v", err)
	}
	conf := filepath.Join(state, "proftpd.conf")
	if err := os.WriteFile(conf, []byte(proftpdConfig(srv, opts, modules, state, passwd, group, cf)), 0o600); err != nil {
		t.Fatalf("realftpd: %v", err)
	}
	srv.launch(t, opts, []string{bin, "--nodaemon", "--config", conf}, filepath.Join(state, "stderr.log"))
	return srv
}

func proftpdConfig(s *Server, o Options, modules, state, passwd, group string, cf certFiles) string {
	onOff := func(b bool) string {
		if b {
			return "on"
		}
		return "off"
	}
	lines := []string{
		"ServerType standalone",
		`ServerName "fxpfs test proftpd"`,
		"DefaultServer on",
		"UseIPv6 off",
		"DefaultAddress " + s.Host,
		"SocketBindTight on",
		"Port " + strconv.Itoa(s.Port),
		"User " + SystemUser,
		"Group " + SystemUser,
		"PidFile " + filepath.Join(state, "proftpd.pid"),
		"ScoreboardFile " + filepath.Join(state, "scoreboard"),
		"DelayTable none",
		"WtmpLog off",
		"UseReverseDNS off",
		"UseLastlog off",
		"ModulePath " + modules,
		"<IfModule mod_auth_pam.c>",
		"  AuthPAM off",
		"</IfModule>",
		"AuthOrder mod_auth_file.c",
		"AuthUserFile " + passwd,
		"AuthGroupFile " + group,
		"RequireValidShell off",
		"DefaultRoot ~",
		"Umask 022",
		"AllowOverwrite on",
		"AllowStoreRestart on",
		"AllowRetrieveRestart on",
		"ListOptions -a",
		"TimesGMT on",
		"AllowForeignAddress " + onOff(o.FXP),
		"SystemLog " + filepath.Join(state, "proftpd.log"),
		"TransferLog " + s.LogFile,
		"TimeoutIdle 600",
		"TimeoutNoTransfer 600",
		"TimeoutStalled 120",
		"MaxInstances 200",
	}
	if o.MaxClients > 0 {
		n := strconv.Itoa(o.MaxClients)
		lines = append(lines, "MaxClients "+n, "MaxClientsPerHost "+n)
	}
	if o.PassivePorts[0] > 0 {
		lines = append(lines, fmt.Sprintf("PassivePorts %d %d", o.PassivePorts[0], o.PassivePorts[1]))
	}
	if o.MaxRate > 0 {
		lines = append(lines, fmt.Sprintf("TransferRate RETR,STOR,APPE %d", max(o.MaxRate/1024, 1)))
	}
	if s.TLS {
		opts := []string{"EnableDiags"}
		if o.TLSNoReuse {
			opts = append(opts, "NoSessionReuseRequired")
		}
		if o.TLSImplicit {
			opts = append(opts, "UseImplicitSSL")
		}
		lines = append(lines,
			"LoadModule mod_tls.c",
			"<IfModule mod_tls.c>",
			"  TLSEngine on",
			"  TLSLog "+s.TLSLog,
			"  TLSProtocol "+map[bool]string{false: "TLSv1.2 TLSv1.3", true: "TLSv1.2"}[o.TLS12],
			"  TLSSessionTickets "+onOff(o.TLSTickets),
			"  TLSECCertificateFile "+cf.cert,
			"  TLSECCertificateKeyFile "+cf.cert,
			"  TLSCACertificateFile "+cf.ca,
			"  TLSVerifyClient off",
			// As the TLS client of an FXP data connection (SSCN ON), the
			// peer server's certificate is checked against the test CA.
			"  TLSVerifyServer on",
			"  TLSRenegotiate none",
			"  TLSRequired "+onOff(o.TLSRequired),
			"  TLSOptions "+strings.Join(opts, " "),
			"</IfModule>",
		)
	}
	return strings.Join(lines, "\n") + "\n"
}
