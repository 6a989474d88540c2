// Package realftpd starts private instances of real FTP servers (vsftpd,
// pure-ftpd, proftpd and pyftpdlib) for tests: each has its own config, loopback
// address and port, root directory and user, is not the distribution's
// system service, and is killed and waited for by t.Cleanup.
//
// Requirements (scripts/install-deps.sh installs them on Debian 12):
//   - root (the servers change to the login user and chroot);
//   - vsftpd on PATH or in /usr/sbin;
//   - pure-ftpd and pure-pw, unpacked by install-deps.sh into
//     /opt/fxpfs-test/pure-ftpd (or $FXPFS_TEST_PREFIX/pure-ftpd), or on PATH;
//   - proftpd with mod_tls (Debian's proftpd-core and proftpd-mod-crypto),
//     unpacked into /opt/fxpfs-test/proftpd, or installed in /usr;
//   - pyftpdlib for /usr/bin/python3 (Debian's python3-pyftpdlib).
//
// TLS. With Options.TLS (or TLSRequired, TLSImplicit) a server presents a
// certificate for its address signed by the test CA, a CA made once per
// test process; Server.CAFile holds it and Server.Config trusts it
// (tls_ca_file), so clients verify certificates as they do in real use.
// Options.Cert selects an expired, wrong-host or self-signed certificate
// instead. The servers keep their TLS defaults otherwise: vsftpd and
// proftpd require protected data connections to resume the control
// connection's TLS session; proftpd offers SSCN (FXP between TLS servers)
// and logs every data connection's TLS in Server.TLSLog.
//
// When a requirement is missing the test is skipped with the reason, unless
// the environment variable CI is set: then it fails, so CI never hides a
// missing server. Under `go test -short` (make test-short) the Start
// functions skip the test: real servers are not unit tests.
//
// Users. vsftpd authenticates a real system user: the package creates the
// system user "fxpfstest" (home "/", no shell) with the fixed password
// SystemPassword if it is missing, and a PAM service
// /etc/pam.d/fxpfs-vsftpd-test (pam_unix for auth, pam_permit for account and
// session). pure-ftpd uses a virtual user with a random password in a private
// PureDB, mapped to the same system uid/gid. Either way the server writes files
// as that system user, so the root directory is chowned to it; files a test
// puts into Root by hand must be chowned too (WriteFile, MkdirAll and ChownAll
// do that) before the server can replace or delete them. Files the servers
// write are world-readable (umask 022), so tests can compare them on disk.
//
// Kill stops a server and every session process it forked (SIGSTOP of the
// whole tree, then SIGKILL), so a transfer in flight dies: for fault tests.
package realftpd

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// TB is the part of testing.TB these helpers use, so that a program (the
// demo, the benchmarks) can start servers too, with an adapter of its own.
type TB interface {
	Helper()
	Cleanup(func())
	Fatalf(format string, args ...any)
	Skip(args ...any)
	Skipf(format string, args ...any)
	Logf(format string, args ...any)
	TempDir() string
}

// Kind names a server implementation.
type Kind string

// Server kinds.
const (
	Vsftpd   Kind = "vsftpd"
	PureFTPd Kind = "pure-ftpd"
	ProFTPD  Kind = "proftpd" // with mod_tls (SSCN for FXP between TLS servers)
)

// Options configure one instance. The zero value is usable.
type Options struct {
	// Addr is the loopback address to listen on; default "127.0.0.1". Use
	// different addresses (127.0.0.2, 127.0.0.3, ...) for FXP tests: servers
	// check foreign addresses only across different IPs.
	Addr string
	// Port to listen on; 0 picks a free one.
	Port int
	// Root is the directory the user sees as "/"; default a new t.TempDir().
	// It is chowned (not recursively) to the server's user.
	Root string
	// FXP allows data connections to and from foreign addresses (vsftpd
	// pasv_promiscuous + port_promiscuous; pure-ftpd -W). When false, both
	// servers refuse a PORT to an address other than the client's.
	FXP bool
	// MaxClients caps concurrent sessions, in total and per client IP
	// (vsftpd max_clients + max_per_ip; pure-ftpd -c + -C). 0: no cap.
	MaxClients int
	// PassivePorts is the passive port range; zero values let the server pick.
	PassivePorts [2]int
	// MaxRate caps each data transfer at about this many bytes per second
	// (vsftpd local_max_rate; pure-ftpd -T, in KiB/s), for tests that need a
	// transfer to last. 0: no cap.
	MaxRate int
	// TLS offers explicit TLS (AUTH TLS) with a certificate for Addr signed
	// by the test CA (Server.CAFile); clear logins and clear data stay
	// allowed (pure-ftpd -Y 1). Otherwise each server keeps its own TLS
	// defaults: vsftpd (require_ssl_reuse=YES) and proftpd require every
	// protected data connection to resume the control connection's TLS
	// session. Config then asks for TLS and trusts the test CA.
	TLS bool
	// TLSRequired (implies TLS) refuses clear logins and clear data
	// connections: vsftpd force_local_logins_ssl + force_local_data_ssl,
	// pure-ftpd -Y 3, proftpd TLSRequired on.
	TLSRequired bool
	// TLSImplicit (implies TLS) speaks TLS from the first byte (ftps://):
	// vsftpd implicit_ssl, proftpd UseImplicitSSL. pure-ftpd cannot (the
	// test fails).
	TLSImplicit bool
	// TLSNoReuse lifts the session-reuse requirement on data connections
	// (vsftpd require_ssl_reuse=NO, proftpd NoSessionReuseRequired).
	TLSNoReuse bool
	// Cert is the certificate the server presents (default CertValid), for
	// tests of certificate checks.
	Cert CertKind
	// TLS12 (proftpd only, implies TLS) offers TLS 1.2 and no newer, with
	// session tickets only if TLSTickets: proftpd's default is session IDs.
	TLS12, TLSTickets bool
	// Name is the server's name in Config; default "<kind>-<addr>".
	Name string
}

// Server is one running instance.
type Server struct {
	Kind     Kind
	Name     string
	Host     string
	Port     int
	User     string
	Password string
	Root     string // directory on disk that the user sees as "/"
	UID, GID int    // the system user the server writes files as
	LogFile  string // server log, if the server writes one (for debugging)
	TLS      bool   // TLS offered (explicit, or implicit with TLSImplicit)
	// TLSImplicit: TLS from the first byte.
	TLSImplicit bool
	// CAFile is the test CA's certificate (PEM), which signed the server's
	// certificate (unless Options.Cert is CertSelfSigned). "" without TLS.
	CAFile string
	// Fingerprint is "sha256:<hex>" of the server's certificate.
	Fingerprint string
	// TLSLog is the server's own TLS log where it has one (proftpd), else "".
	TLSLog string

	proc *process
}

// Addr returns "host:port".
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// Config returns a client configuration for this server; name "" uses s.Name.
func (s *Server) Config(name string) ftpclient.ServerConfig {
	if name == "" {
		name = s.Name
	}
	cfg := ftpclient.ServerConfig{
		Name:     name,
		Host:     s.Host,
		Port:     s.Port,
		User:     s.User,
		Password: ftpclient.Secret(s.Password),
		TLS:      ftpclient.TLSNone,
		FXP:      ftpclient.FXPAuto,
	}
	if s.TLS {
		cfg.TLS, cfg.TLSCAFile = ftpclient.TLSExplicit, s.CAFile
		if s.TLSImplicit {
			cfg.TLS = ftpclient.TLSImplicit
		}
	}
	return cfg
}

// Kill sends SIGKILL to the server and every process it forked (sessions and
// their helpers), so transfers in flight die mid-way. Idempotent.
func (s *Server) Kill() { s.proc.kill() }

// Sessions returns how many live processes the server has forked (its
// sessions and their helpers; zombies excluded). A session that outlives
// its client shows here: a server blocked waiting for a data connection
// keeps its session process after the client has gone.
func (s *Server) Sessions() int {
	n := 0
	for _, pid := range descendants(s.proc.cmd.Process.Pid) {
		if alive(pid) {
			n++
		}
	}
	return n
}

// Path returns the on-disk path of rel (a server path like "/a/b").
func (s *Server) Path(rel string) string { return filepath.Join(s.Root, filepath.FromSlash(rel)) }

// WriteFile writes data to rel under Root (making parents) and chowns what it
// made to the server's user.
func (s *Server) WriteFile(t TB, rel string, data []byte) {
	t.Helper()
	p := s.Path(rel)
	s.MkdirAll(t, filepath.Dir(relOf(s.Root, p)))
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatalf("realftpd: %v", err)
	}
	if err := os.Chown(p, s.UID, s.GID); err != nil {
		t.Fatalf("realftpd: %v", err)
	}
}

// MkdirAll makes directory rel under Root and chowns each new level to the
// server's user.
func (s *Server) MkdirAll(t TB, rel string) {
	t.Helper()
	p := s.Path(rel)
	var missing []string
	for d := p; d != s.Root && len(d) > len(s.Root); d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		}
		missing = append(missing, d)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(missing[i], 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			t.Fatalf("realftpd: %v", err)
		}
		if err := os.Chown(missing[i], s.UID, s.GID); err != nil {
			t.Fatalf("realftpd: %v", err)
		}
	}
}

// ChownAll chowns everything under Root to the server's user (call it after
// populating Root by other means).
func (s *Server) ChownAll(t TB) {
	t.Helper()
	err := filepath.WalkDir(s.Root, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, s.UID, s.GID)
	})
	if err != nil {
		t.Fatalf("realftpd: chown %s: %v", s.Root, err)
	}
}

func relOf(root, p string) string {
	r, err := filepath.Rel(root, p)
	if err != nil {
		return "/"
	}
	return "/" + filepath.ToSlash(r)
}

// skipShort skips under `go test -short` (unit tests only: `make test-short`).
func skipShort(t TB) {
	t.Helper()
	if testing.Testing() && testing.Short() {
		t.Skip("realftpd: -short: real FTP servers are not started")
	}
}

// missing reports an absent prerequisite: a skip locally, a failure in CI.
func missing(t TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...) + " (scripts/install-deps.sh installs the servers; the tests must run as root)"
	if os.Getenv("CI") != "" {
		t.Fatalf("realftpd: %s [CI is set: a missing server is a failure]", msg)
	}
	t.Skipf("realftpd: %s", msg)
}

func (o *Options) defaults(t TB, kind Kind) {
	if o.Addr == "" {
		o.Addr = "127.0.0.1"
	}
	if o.Name == "" {
		o.Name = fmt.Sprintf("%s-%s", kind, o.Addr)
	}
	if o.Root == "" {
		o.Root = t.TempDir()
	}
	if o.TLSRequired || o.TLSImplicit || o.Cert != CertValid || o.TLSNoReuse || o.TLS12 {
		o.TLS = true
	}
}

// setupTLS writes the certificate files into state and fills the server's
// TLS fields; it returns the certificate files ("" fields without TLS).
func setupTLS(t TB, srv *Server, o Options, state string) certFiles {
	t.Helper()
	if !o.TLS {
		return certFiles{}
	}
	cf, err := writeCert(state, o.Addr, o.Cert)
	if err != nil {
		t.Fatalf("realftpd: %v", err)
	}
	srv.TLS, srv.TLSImplicit = true, o.TLSImplicit
	srv.CAFile, srv.Fingerprint = cf.ca, cf.fingerprint
	return cf
}

// prepareRoot makes root usable by a server running as uid:gid: every parent
// traversable by others, root itself owned by the user.
func prepareRoot(root string, uid, gid int) (string, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return "", fmt.Errorf("root %q: %w", root, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return "", fmt.Errorf("root: %w", err)
	}
	for d := abs; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return "", fmt.Errorf("root parent: %w", err)
		}
		if d != abs && fi.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(d, fi.Mode().Perm()|0o055); err != nil {
				return "", fmt.Errorf("make %s traversable: %w", d, err)
			}
		}
		if d == filepath.Dir(d) {
			break
		}
	}
	if err := os.Chmod(abs, 0o755); err != nil {
		return "", fmt.Errorf("root: %w", err)
	}
	if err := os.Chown(abs, uid, gid); err != nil {
		return "", fmt.Errorf("root: %w", err)
	}
	return abs, nil
}

// listenPort is the port to start the server on: Options.Port, or one free
// on Options.Addr a moment ago.
func (o *Options) listenPort(t TB) int {
	t.Helper()
	if o.Port != 0 {
		return o.Port
	}
	port, err := freePort(o.Addr)
	if err != nil {
		t.Fatalf("realftpd: %v", err)
	}
	return port
}

// freePort returns a port that was free on addr a moment ago.
func freePort(addr string) (int, error) {
	l, err := net.Listen("tcp4", net.JoinHostPort(addr, "0"))
	if err != nil {
		return 0, fmt.Errorf("find a free port on %s: %w", addr, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// greetingTimeout bounds how long a server may take to answer its first 220.
const greetingTimeout = 15 * time.Second

// newServer is what every Start function does before its own server's setup:
// fill opts' defaults, make the system user (without systemUser the server
// runs and writes as root: UID, GID 0), prepare the root for it, make a state
// directory outside the root (traversable, for servers that change to that
// user) and pick the port. It returns the Server with those fields set
// (User, Password and LogFile are the caller's) and the state directory.
func newServer(t TB, kind Kind, opts *Options, systemUser bool) (*Server, string) {
	t.Helper()
	opts.defaults(t, kind)
	uid, gid := 0, 0
	if systemUser {
		var err error
		if uid, gid, err = ensureSystemUser(); err != nil {
			t.Fatalf("realftpd: %v", err)
		}
	}
	root, err := prepareRoot(opts.Root, uid, gid)
	if err != nil {
		t.Fatalf("realftpd: %v", err)
	}
	state := t.TempDir()
	if err := os.Chmod(state, 0o755); err != nil {
		t.Fatalf("realftpd: %v", err)
	}
	srv := &Server{Kind: kind, Name: opts.Name, Host: opts.Addr, Port: opts.listenPort(t), Root: root, UID: uid, GID: gid}
	return srv, state
}

// launch starts the server's process (argv; its own output to output),
// waits for its greeting and logs where it runs; it fails the test if the
// server does not come up.
func (s *Server) launch(t TB, opts Options, argv []string, output string) {
	t.Helper()
	p, err := startProcess(t, argv, output)
	if err != nil {
		t.Fatalf("realftpd: %s: %v", s.Kind, err)
	}
	s.proc = p
	if err := p.waitGreeting(s.Addr(), s.TLSImplicit); err != nil {
		t.Fatalf("realftpd: %s on %s: %v", s.Kind, s.Addr(), err)
	}
	t.Logf("realftpd: %s %s on %s root %s (fxp=%v tls=%v)", s.Kind, s.Name, s.Addr(), s.Root, opts.FXP, s.TLS)
}

// randomPassword is a fresh password for a server's virtual user.
func randomPassword(t TB) string {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("realftpd: random password: %v", err)
	}
	return hex.EncodeToString(b)
}
