package ftpstest

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
	"github.com/fxpfs/fxpfs/internal/realftpd"
)

// Ext is how a server treats one of the FXP TLS extensions (SSCN, CPSV).
type Ext int

// Ways to treat SSCN or CPSV.
const (
	// ExtNone: not implemented ("500 ... not understood"), not in FEAT.
	ExtNone Ext = iota
	// ExtHidden: implemented, not listed in FEAT (found only by trying).
	ExtHidden
	// ExtListed: implemented and listed in FEAT.
	ExtListed
	// ExtRefused: listed in FEAT, yet the command is refused (504).
	ExtRefused
	// ExtBroken: listed and accepted, but the next transfer in the TLS
	// client role is answered at once with Options.BrokenReply, without a
	// data connection.
	ExtBroken
	// ExtIgnored: listed and accepted, but the server stays the TLS server
	// of its data connections (both ends then wait for a ClientHello until
	// HandshakeTimeout).
	ExtIgnored
)

func (e Ext) listed() bool { return e >= ExtListed }
func (e Ext) works() bool  { return e == ExtHidden || e == ExtListed }
func (e Ext) accepts() bool {
	return e == ExtHidden || e == ExtListed || e == ExtBroken || e == ExtIgnored
}

// ClearData is how a TLS server treats clear data connections.
type ClearData int

// Treatments of clear data.
const (
	// ClearAllowed: PROT C and clear data connections are accepted.
	ClearAllowed ClearData = iota
	// ClearRefusedAtProt: PROT C is answered 534.
	ClearRefusedAtProt
	// ClearRefusedAtTransfer: PROT C is accepted, but a transfer is then
	// answered "522 Data connections must be encrypted." (vsftpd's
	// force_local_data_ssl), before any data connection.
	ClearRefusedAtTransfer
)

// Options of one server. The zero value is a TLS server without SSCN or
// CPSV that accepts any TLS client on its data connections.
type Options struct {
	Name string // the server's name in Config; default "ftps-<addr>"
	Addr string // loopback address to listen on (IPv6: EPSV/EPRT only); default 127.0.0.1
	Root string // directory served; default t.TempDir()

	NoTLS bool              // plain FTP: AUTH TLS refused
	Cert  realftpd.CertKind // the certificate presented (default valid, from the test CA)

	SSCN, CPSV Ext
	// BrokenReply answers a transfer in the TLS client role of a broken
	// extension (ExtBroken); default "522 SSL connection failed".
	BrokenReply string
	// VerifyPeer: as the TLS client of a data connection, check the peer's
	// certificate against the test CA for the peer's IP address (proftpd's
	// TLSVerifyServer). Else any certificate is accepted.
	VerifyPeer bool
	// RequireReuse: a data connection this server is TLS server of must
	// resume the TLS session of the control connection that asked for the
	// transfer, else "522 SSL connection failed: session reuse required"
	// (vsftpd's require_ssl_reuse). The FXP peer acting as TLS client never
	// can.
	RequireReuse bool
	ClearData    ClearData
	// BreakAfter > 0: as the TLS client of a data connection (SSCN or
	// CPSV), the connection is cut after this many bytes of data (closed
	// without close_notify) and the transfer answered 426.
	BreakAfter int64
	// ResetOnClose: as the TLS client of a data connection, sending, the
	// server ends it with a reset right after close_notify, as proftpd
	// does (it closes with the session tickets of a TLS 1.3 server
	// unread). A receiver still reading loses what it had not read.
	ResetOnClose bool
	// LaxEnd: an upload whose data connection ends badly (a reset, TLS
	// without close_notify) is answered 226 with what arrived, as servers
	// do that take any end of the connection for the end of the file.
	LaxEnd bool
	// HandshakeTimeout bounds a data connection's TLS handshake (default
	// 10 s); a failed handshake is answered "425 Unable to build data
	// connection: ...".
	HandshakeTimeout time.Duration
	// Rate limits each data transfer to this many bytes per second (0: no
	// limit).
	Rate int
	// TLS12 offers TLS 1.2 and no newer, on every connection. TLS 1.3
	// sends session tickets after the handshake, which a peer that is the
	// TLS client and only sends never reads: its close then resets the
	// connection, and the receiving server can lose the tail of the file
	// (proftpd sending by SSCN; see fxpcopy's TestEncryptedFXPRealPeers).
	// TLS 1.2 sends them within the handshake.
	TLS12 bool
}

// Server is a running test server.
type Server struct {
	Name, Host     string
	Port           int
	Root           string
	User, Password string
	TLS            bool
	CAFile         string // the test CA's certificate (PEM file), which signed the server's (unless self-signed)
	Fingerprint    string // "sha256:<hex>" of the server's certificate

	opts  Options
	ln    net.Listener
	cert  tls.Certificate
	roots *x509.CertPool // the test CA, for VerifyPeer

	mu       sync.Mutex
	nextID   int
	cmds     []string
	data     []DataConn
	conns    map[net.Conn]bool // open connections, closed by Close
	sessions atomic.Int64
	closed   chan struct{}
	once     sync.Once
	wg       sync.WaitGroup
}

// DataConn records one data connection (or a transfer refused before one).
type DataConn struct {
	Session int    // control connection, numbered from 1
	Cmd     string // RETR, STOR, APPE, MLSD, LIST
	Path    string
	Passive bool   // accepted (PASV/EPSV/CPSV) rather than opened (PORT/EPRT)
	Peer    string // the other end's IP address ("" if none came)
	// TLS is the role this server took: "client", "server", "clear", or
	// "" when no data connection came about.
	TLS      string
	Resumed  bool  // server role: the client resumed a session
	Verified bool  // client role: the peer's certificate was checked and trusted
	Bytes    int64 // data moved
	Reply    string
}

// Start starts a server on opts.Addr (random port); t.Cleanup stops it.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1"
	}
	if opts.Name == "" {
		opts.Name = "ftps-" + opts.Addr
	}
	if opts.Root == "" {
		opts.Root = t.TempDir()
	}
	if opts.BrokenReply == "" {
		opts.BrokenReply = "522 SSL connection failed"
	}
	if opts.HandshakeTimeout == 0 {
		opts.HandshakeTimeout = 10 * time.Second
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(opts.Addr, "0"))
	if err != nil {
		t.Fatalf("ftpstest: listen: %v", err)
	}
	s := &Server{
		Name: opts.Name, Host: opts.Addr, Port: ln.Addr().(*net.TCPAddr).Port, Root: opts.Root,
		User: "fxpfs", Password: "ftps-test-pw", TLS: !opts.NoTLS,
		opts: opts, ln: ln, conns: map[net.Conn]bool{}, closed: make(chan struct{}),
	}
	if s.TLS {
		cert, caPEM, err := realftpd.TestCertificate(opts.Addr, opts.Cert)
		if err != nil {
			ln.Close()
			t.Fatalf("ftpstest: %v", err)
		}
		s.cert = cert
		s.roots = x509.NewCertPool()
		s.roots.AppendCertsFromPEM(caPEM)
		s.CAFile = filepath.Join(t.TempDir(), "ca.pem")
		if err := os.WriteFile(s.CAFile, caPEM, 0o644); err != nil {
			ln.Close()
			t.Fatalf("ftpstest: %v", err)
		}
		s.Fingerprint = ftpclient.Fingerprint(cert.Certificate[0])
	}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(s.Close)
	return s
}

// Config is a client configuration for the server: explicit TLS trusting
// the test CA (or, for a certificate the CA did not sign, pinned by its
// fingerprint), short timeouts.
func (s *Server) Config() ftpclient.ServerConfig {
	cfg := ftpclient.ServerConfig{
		Name: s.Name, Host: s.Host, Port: s.Port, User: s.User, Password: ftpclient.Secret(s.Password),
		TLS:         ftpclient.TLSNone,
		DialTimeout: 5 * time.Second, CmdTimeout: 5 * time.Second, DataTimeout: 10 * time.Second,
	}
	if s.TLS {
		cfg.TLS = ftpclient.TLSExplicit
		if s.opts.Cert == realftpd.CertValid {
			cfg.TLSCAFile = s.CAFile
		} else {
			cfg.TLSFingerprint = s.Fingerprint
		}
	}
	return cfg
}

// Addr is "host:port".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Path is the file on disk behind server path p.
func (s *Server) Path(p string) string {
	return filepath.Join(s.Root, filepath.FromSlash(path.Clean("/"+p)))
}

// WriteFile puts a file on the server.
func (s *Server) WriteFile(t testing.TB, p string, data []byte) {
	t.Helper()
	fp := s.Path(p)
	if err := os.MkdirAll(filepath.Dir(fp), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fp, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Files lists every file under the root (server paths), hidden ones included.
func (s *Server) Files(t testing.TB) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(s.Root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(s.Root, p)
			out = append(out, "/"+filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Commands returns every command received, as "<session> <line>" (the
// argument of PASS redacted).
func (s *Server) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.cmds...)
}

// Count returns how many commands received start with prefix (case-insensitive).
func (s *Server) Count(prefix string) int {
	n := 0
	for _, c := range s.Commands() {
		_, line, _ := strings.Cut(c, " ")
		if len(line) >= len(prefix) && strings.EqualFold(line[:len(prefix)], prefix) {
			n++
		}
	}
	return n
}

// DataConns returns the data connections so far, oldest first.
func (s *Server) DataConns() []DataConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]DataConn(nil), s.data...)
}

// Sessions is the number of control connections open now.
func (s *Server) Sessions() int64 { return s.sessions.Load() }

// WaitSessions waits up to d for at most n open control connections, and
// returns the number open.
func (s *Server) WaitSessions(n int64, d time.Duration) int64 {
	deadline := time.Now().Add(d)
	for {
		got := s.sessions.Load()
		if got <= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Close stops the server and closes every connection. Idempotent.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.closed)
		s.ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
	})
	s.wg.Wait()
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.nextID++
		id := s.nextID
		s.mu.Unlock()
		if !s.track(c) {
			return
		}
		s.sessions.Add(1)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.sessions.Add(-1)
			defer s.untrack(c)
			newSession(s, id, c.(*net.TCPConn)).run()
		}()
	}
}

// track registers a connection for Close; false (and c closed) once the
// server is closed.
func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.closed:
		c.Close()
		return false
	default:
	}
	s.conns[c] = true
	return true
}

func (s *Server) untrack(c net.Conn) {
	c.Close()
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *Server) logCmd(id int, line string) {
	if v, _, _ := strings.Cut(line, " "); strings.EqualFold(v, "PASS") {
		line = "PASS [redacted]"
	}
	s.mu.Lock()
	s.cmds = append(s.cmds, fmt.Sprintf("%d %s", id, line))
	s.mu.Unlock()
}

func (s *Server) logData(dc DataConn) {
	s.mu.Lock()
	s.data = append(s.data, dc)
	s.mu.Unlock()
}
