package realftpd

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// CertKind selects the certificate a TLS server presents, for tests of
// certificate checks. Every kind but CertSelfSigned is signed by the test CA
// (see Server.CAFile).
type CertKind int

// Certificate kinds.
const (
	CertValid      CertKind = iota // for the server's address, valid now
	CertExpired                    // for the server's address, expired yesterday
	CertWrongHost                  // valid now, for another name and address
	CertSelfSigned                 // for the server's address, signed by itself (not the test CA)
)

func (k CertKind) String() string {
	switch k {
	case CertValid:
		return "valid"
	case CertExpired:
		return "expired"
	case CertWrongHost:
		return "wrong-host"
	case CertSelfSigned:
		return "self-signed"
	}
	return fmt.Sprintf("CertKind(%d)", int(k))
}

// testCA is the certificate authority of one test process: made on first
// use, kept in memory, written next to each server that needs it.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

var (
	caOnce sync.Once
	ca     *testCA
	caErr  error
)

func theCA() (*testCA, error) {
	caOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			caErr = fmt.Errorf("test CA key: %w", err)
			return
		}
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(1),
			Subject:               pkix.Name{CommonName: "fxpfs test CA"},
			NotBefore:             time.Now().Add(-time.Hour),
			NotAfter:              time.Now().Add(7 * 24 * time.Hour),
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
			BasicConstraintsValid: true,
			IsCA:                  true,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			caErr = fmt.Errorf("test CA: %w", err)
			return
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			caErr = fmt.Errorf("test CA: %w", err)
			return
		}
		ca = &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
	})
	return ca, caErr
}

// certFiles are the files a TLS server instance uses.
type certFiles struct {
	cert        string // private key then certificate, one PEM file (what all three servers accept)
	ca          string // the test CA's certificate
	fingerprint string // "sha256:<hex>" of the server certificate (DER)
}

// writeCert writes a server certificate of the given kind for host, and the
// test CA's certificate, into dir (readable by root only).
func writeCert(dir, host string, kind CertKind) (certFiles, error) {
	var out certFiles
	auth, der, key, err := makeCert(host, kind)
	if err != nil {
		return out, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return out, fmt.Errorf("test certificate key: %w", err)
	}
	pemData := append(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	out.cert = filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(out.cert, pemData, 0o600); err != nil {
		return out, fmt.Errorf("test certificate: %w", err)
	}
	out.ca = filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(out.ca, auth.pem, 0o644); err != nil {
		return out, fmt.Errorf("test CA file: %w", err)
	}
	out.fingerprint = fingerprint(der)
	return out, nil
}

// TestCertificate returns a certificate of the given kind for host (an IP
// address), made like the real servers' (signed by the test CA unless
// CertSelfSigned, usable for server and client authentication), and the
// test CA's certificate (PEM): for in-process TLS servers that must trust,
// and be trusted by, the real ones (internal/ftpstest).
func TestCertificate(host string, kind CertKind) (cert tls.Certificate, caPEM []byte, err error) {
	auth, der, key, err := makeCert(host, kind)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("test certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, auth.pem, nil
}

func fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// makeCert makes a server certificate of the given kind for host (DER) and
// its key; auth is the test CA.
func makeCert(host string, kind CertKind) (auth *testCA, der []byte, key *ecdsa.PrivateKey, err error) {
	auth, err = theCA()
	if err != nil {
		return nil, nil, nil, err
	}
	key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("test certificate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("test certificate serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: host},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		// Client auth too: a server that connects to its FXP peer as the
		// TLS client (SSCN) may present the same certificate.
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{net.ParseIP(host)},
	}
	parent, signer := auth.cert, auth.key
	switch kind {
	case CertExpired:
		tmpl.NotBefore = time.Now().Add(-48 * time.Hour)
		tmpl.NotAfter = time.Now().Add(-24 * time.Hour)
	case CertWrongHost:
		tmpl.Subject.CommonName = "wrong.fxpfs.invalid"
		tmpl.DNSNames = []string{"wrong.fxpfs.invalid"}
		tmpl.IPAddresses = []net.IP{net.ParseIP("192.0.2.1")}
	case CertSelfSigned:
		parent, signer = tmpl, key
	}
	der, err = x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("test certificate: %w", err)
	}
	return auth, der, key, nil
}
