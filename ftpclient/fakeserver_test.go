package ftpclient_test

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// fakeServer is a scripted FTP server for hostile and broken behaviour that
// no real server shows on demand. Each command is answered by a handler;
// defaults log in any user and refuse EPSV (so PASV is used).
type fakeServer struct {
	t        *testing.T
	ln       net.Listener
	greeting string // "" means never greet
	pasvIP   string // the address put in PASV replies
	handlers map[string]func(fc *fakeConn, arg string)
	tlsCfg   *tls.Config // for AUTH TLS and PROT P
	implicit bool        // TLS from the first byte

	mu       sync.Mutex
	received []string
	conns    []net.Conn
}

type fakeConn struct {
	net.Conn
	srv  *fakeServer
	r    *bufio.Reader
	data net.Listener
	prot bool // PROT P: data connections use TLS
}

func (fc *fakeConn) reply(lines ...string) {
	for _, l := range lines {
		fmt.Fprintf(fc, "%s\r\n", l)
	}
}

// acceptData waits for the client's data connection to the last PASV.
func (fc *fakeConn) acceptData() net.Conn {
	if fc.data == nil {
		return nil
	}
	if tl, ok := fc.data.(*net.TCPListener); ok {
		tl.SetDeadline(time.Now().Add(5 * time.Second))
	}
	dc, err := fc.data.Accept()
	fc.data.Close()
	fc.data = nil
	if err != nil {
		return nil
	}
	return dc
}

// newFakeServer applies the setups before it starts serving.
func newFakeServer(t *testing.T, setups ...func(*fakeServer)) *fakeServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeServer{t: t, ln: ln, greeting: "220 fake ready", pasvIP: "127,0,0,1"}
	s.handlers = map[string]func(*fakeConn, string){
		"USER": func(fc *fakeConn, _ string) { fc.reply("331 password please") },
		"PASS": func(fc *fakeConn, _ string) { fc.reply("230 ok") },
		"FEAT": func(fc *fakeConn, _ string) { fc.reply("211-Features:", " UTF8", " SIZE", "211 End") },
		"TYPE": func(fc *fakeConn, _ string) { fc.reply("200 ok") },
		"OPTS": func(fc *fakeConn, _ string) { fc.reply("200 ok") },
		"NOOP": func(fc *fakeConn, _ string) { fc.reply("200 ok") },
		"CWD":  func(fc *fakeConn, _ string) { fc.reply("250 ok") },
		"EPSV": func(fc *fakeConn, _ string) { fc.reply("502 no EPSV here") },
		"PASV": func(fc *fakeConn, _ string) {
			dl, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				fc.reply("425 no")
				return
			}
			if fc.prot {
				dl = tls.NewListener(dl, s.tlsCfg)
			}
			fc.data = dl
			p := dl.Addr().(*net.TCPAddr).Port
			fc.reply(fmt.Sprintf("227 Entering Passive Mode (%s,%d,%d)", s.pasvIP, p>>8, p&0xff))
		},
	}
	s.handlers["AUTH"] = func(fc *fakeConn, _ string) {
		if s.tlsCfg == nil {
			fc.reply("502 no TLS")
			return
		}
		fc.reply("234 go ahead")
		tc := tls.Server(fc.Conn, s.tlsCfg)
		if tc.Handshake() != nil {
			fc.Close()
			return
		}
		fc.Conn, fc.r = tc, bufio.NewReader(tc)
	}
	s.handlers["PBSZ"] = func(fc *fakeConn, _ string) { fc.reply("200 ok") }
	s.handlers["PROT"] = func(fc *fakeConn, arg string) { fc.prot = arg == "P"; fc.reply("200 ok") }
	for _, setup := range setups {
		setup(s)
	}
	go s.serve()
	t.Cleanup(s.close)
	return s
}

func (s *fakeServer) serve() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		go s.handle(&fakeConn{Conn: c, srv: s, r: bufio.NewReader(c)})
	}
}

func (s *fakeServer) handle(fc *fakeConn) {
	defer fc.Close()
	if s.implicit {
		fc.Conn = tls.Server(fc.Conn, s.tlsCfg)
		fc.r = bufio.NewReader(fc.Conn)
	}
	if s.greeting == "" {
		_, _ = fc.r.ReadByte() // never answer; wait for the client to go away
		return
	}
	fc.reply(s.greeting)
	for {
		line, err := fc.r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		s.mu.Lock()
		s.received = append(s.received, line)
		s.mu.Unlock()
		verb, arg, _ := strings.Cut(line, " ")
		h := s.handlers[strings.ToUpper(verb)]
		if h == nil {
			fc.reply("502 not implemented")
			continue
		}
		h(fc, arg)
	}
}

// selfSigned makes a certificate for 127.0.0.1 that no client trusts.
func selfSigned(t *testing.T) *tls.Config {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "fake"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

func (s *fakeServer) close() {
	s.ln.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
}

func (s *fakeServer) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.received...)
}

func (s *fakeServer) config() ftpclient.ServerConfig {
	a := s.ln.Addr().(*net.TCPAddr)
	return ftpclient.ServerConfig{
		Name: "fake", Host: "127.0.0.1", Port: a.Port, User: "bob", Password: "hunter2-secret",
		DialTimeout: 2 * time.Second, CmdTimeout: 2 * time.Second, DataTimeout: 2 * time.Second,
	}
}
