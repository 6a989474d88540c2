package ftpclient

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// ErrCertificate: the server's TLS certificate is not trusted (unknown
// authority, expired, for another host, or not the pinned one).
var ErrCertificate = errors.New("TLS certificate not trusted")

// certError is a rejected server certificate, with what a user needs to
// decide whether to trust it (and how).
type certError struct {
	addr        string
	reason      string
	subject     string
	issuer      string
	notBefore   time.Time
	notAfter    time.Time
	fingerprint string
}

func (e *certError) Error() string {
	return fmt.Sprintf("%s: %s (certificate for %q issued by %q, valid %s to %s, fingerprint %s); "+
		"trust it with tls_ca_file or tls_fingerprint, or turn checks off with tls_insecure",
		e.addr, e.reason, e.subject, e.issuer, e.notBefore.UTC().Format(time.DateOnly),
		e.notAfter.UTC().Format(time.DateOnly), e.fingerprint)
}

func (e *certError) Unwrap() error { return ErrCertificate }

// Fingerprint returns "sha256:<hex>" of a DER certificate, the form
// tls_fingerprint takes.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// parseFingerprint accepts "sha256:<hex>" with or without colons between
// the bytes (as `openssl x509 -fingerprint -sha256` prints them), any case.
func parseFingerprint(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	algo, hexPart, ok := strings.Cut(s, ":")
	if !ok || !strings.EqualFold(algo, "sha256") {
		return nil, fmt.Errorf("tls_fingerprint %q: want \"sha256:<64 hex digits>\"", s)
	}
	b, err := hex.DecodeString(strings.ReplaceAll(hexPart, ":", ""))
	if err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("tls_fingerprint %q: want \"sha256:<64 hex digits>\"", s)
	}
	return b, nil
}

// loadTrust reads TLSCAFile and TLSFingerprint (New calls it once).
func (c *Client) loadTrust() error {
	cfg := c.cfg
	if cfg.TLSFingerprint != "" {
		pin, err := parseFingerprint(cfg.TLSFingerprint)
		if err != nil {
			return fmt.Errorf("server %s: %w", cfg.Name, err)
		}
		c.pin = pin
	}
	if cfg.TLSCAFile != "" {
		pemData, err := os.ReadFile(cfg.TLSCAFile)
		if err != nil {
			return fmt.Errorf("server %s: tls_ca_file: %w", cfg.Name, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemData) {
			return fmt.Errorf("server %s: tls_ca_file %s: no PEM certificate in it", cfg.Name, cfg.TLSCAFile)
		}
		c.roots = pool
	}
	return nil
}

// tlsConfig is the configuration of every TLS connection to the server,
// control and data alike. sessions is the control connection's own
// session store (see sessionStore).
//
// Certificates are checked in VerifyConnection rather than by crypto/tls
// (InsecureSkipVerify only turns off the built-in check), so that one place
// implements the three trust modes (system roots or tls_ca_file, a
// tls_fingerprint pin, tls_insecure) and a rejection names the certificate
// and the way to trust it. VerifyConnection runs on resumed sessions too.
func (c *Client) tlsConfig(sessions *sessionStore) *tls.Config {
	return &tls.Config{
		ServerName:         c.cfg.Host,
		InsecureSkipVerify: true, //nolint:gosec // verified in VerifyConnection (verifyCert)
		VerifyConnection:   c.verifyCert,
		ClientSessionCache: sessions,
		MinVersion:         tls.VersionTLS12,
		Time:               sessions.now,
	}
}

// verifyCert checks the server certificate: nothing with tls_insecure; with
// a pin, exactly the pinned certificate (issuer, name and dates are then
// the user's business); else a chain to the system roots (or tls_ca_file)
// for the configured host name, valid now.
func (c *Client) verifyCert(cs tls.ConnectionState) error {
	if c.cfg.TLSInsecure {
		return nil
	}
	if len(cs.PeerCertificates) == 0 {
		return fmt.Errorf("%s:%d: no certificate: %w", c.cfg.Host, c.cfg.Port, ErrCertificate)
	}
	leaf := cs.PeerCertificates[0]
	reject := func(reason string) error {
		return &certError{
			addr: fmt.Sprintf("%s:%d", c.cfg.Host, c.cfg.Port), reason: reason,
			subject: leaf.Subject.String(), issuer: leaf.Issuer.String(),
			notBefore: leaf.NotBefore, notAfter: leaf.NotAfter, fingerprint: Fingerprint(leaf.Raw),
		}
	}
	if c.pin != nil {
		sum := sha256.Sum256(leaf.Raw)
		if !bytes.Equal(sum[:], c.pin) {
			return reject("certificate does not match tls_fingerprint " + c.cfg.TLSFingerprint)
		}
		return nil
	}
	inter := x509.NewCertPool()
	for _, ic := range cs.PeerCertificates[1:] {
		inter.AddCert(ic)
	}
	_, err := leaf.Verify(x509.VerifyOptions{
		DNSName:       c.cfg.Host,
		Roots:         c.roots, // nil: the system's
		Intermediates: inter,
	})
	if err != nil {
		return reject(err.Error())
	}
	return nil
}

// sessionStore is one control connection's TLS session cache, shared with
// its own data connections only. Servers that require protected data
// connections to resume a TLS session (vsftpd's default require_ssl_reuse,
// proftpd, FileZilla Server) check that it is that control connection's
// session: a cache shared by all of a Client's connections hands a data
// connection another connection's session (rclone issue #7234; tested
// with proftpd in TestTLSRealServers). It holds the newest session: TLS 1.3
// tickets arrive after the control connection's handshake and on every
// data connection the client reads; vsftpd and proftpd accept a ticket more
// than once. crypto/tls resumes TLS 1.2 sessions only by ticket, never by
// session ID: a TLS 1.2-only server without tickets that requires reuse
// cannot be served (its data connections are refused, with its reply).
//
// crypto/tls never resumes a session whose certificate has expired, even
// when it was trusted by a pin or tls_insecure; such a server would refuse
// every data connection. So once the control connection has accepted an
// expired certificate (see setCert), its TLS clock (now) stands just before
// the certificate's end, for it and its data connections: the server still
// enforces its own ticket lifetimes, and nothing else uses that clock here
// (certificates are checked by verifyCert, on the real clock).
type sessionStore struct {
	mu       sync.Mutex
	cs       *tls.ClientSessionState
	notAfter time.Time // the control connection's certificate's end
}

func (s *sessionStore) Get(string) (*tls.ClientSessionState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cs, s.cs != nil
}

// Put stores a new session; nil (crypto/tls after a failed resumption or
// for an expired ticket) forgets it.
func (s *sessionStore) Put(_ string, cs *tls.ClientSessionState) {
	s.mu.Lock()
	s.cs = cs
	s.mu.Unlock()
}

// setCert records the certificate the control connection accepted.
func (s *sessionStore) setCert(cs tls.ConnectionState) {
	if len(cs.PeerCertificates) == 0 {
		return
	}
	s.mu.Lock()
	s.notAfter = cs.PeerCertificates[0].NotAfter
	s.mu.Unlock()
}

// now is the sessions' TLS clock (see above).
func (s *sessionStore) now() time.Time {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.notAfter.IsZero() && now.After(s.notAfter) {
		return s.notAfter.Add(-time.Minute)
	}
	return now
}
