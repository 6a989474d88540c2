package realftpd

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"
)

type starter func(TB, Options) *Server

var kinds = []struct {
	name  string
	start starter
}{
	{"vsftpd", StartVsftpd},
	{"pure-ftpd", StartPureFTPd},
	{"proftpd", StartProFTPD},
}

func dial(t *testing.T, s *Server) *ftp.ServerConn {
	t.Helper()
	c, err := ftp.Dial(s.Addr(), ftp.DialWithTimeout(10*time.Second))
	if err != nil {
		t.Fatalf("dial %s: %v", s.Addr(), err)
	}
	t.Cleanup(func() { _ = c.Quit() })
	if err := c.Login(s.User, s.Password); err != nil {
		t.Fatalf("login %s: %v", s.Name, err)
	}
	return c
}

// TestStoreListRetrieve starts each kind on two loopback addresses and checks
// that a stored file is listed, read back, and lands on disk under Root.
func TestStoreListRetrieve(t *testing.T) {
	for _, k := range kinds {
		for _, addr := range []string{"127.0.0.2", "127.0.0.3"} {
			t.Run(k.name+"/"+addr, func(t *testing.T) {
				s := k.start(t, Options{Addr: addr})
				if s.Host != addr || s.Kind == "" || s.Port == 0 {
					t.Fatalf("server fields: %+v", s)
				}
				c := dial(t, s)
				data := make([]byte, 300_000)
				if _, err := rand.Read(data); err != nil {
					t.Fatal(err)
				}
				if err := c.MakeDir("/dir one"); err != nil {
					t.Fatalf("mkdir: %v", err)
				}
				if err := c.Stor("/dir one/file.bin", bytes.NewReader(data)); err != nil {
					t.Fatalf("stor: %v", err)
				}
				entries, err := c.List("/dir one")
				if err != nil {
					t.Fatalf("list: %v", err)
				}
				found := false
				for _, e := range entries {
					if e.Name == "file.bin" {
						found = true
						if e.Size != uint64(len(data)) {
							t.Errorf("listed size %d, want %d", e.Size, len(data))
						}
					}
				}
				if !found {
					t.Fatalf("file.bin not listed: %+v", entries)
				}
				r, err := c.Retr("/dir one/file.bin")
				if err != nil {
					t.Fatalf("retr: %v", err)
				}
				got, err := io.ReadAll(r)
				r.Close()
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("retr: %d bytes, err %v, equal %v", len(got), err, bytes.Equal(got, data))
				}
				disk, err := os.ReadFile(s.Path("/dir one/file.bin"))
				if err != nil {
					t.Fatalf("on disk: %v", err)
				}
				if !bytes.Equal(disk, data) {
					t.Fatal("file on disk differs from what was stored")
				}
				fi, _ := os.Stat(s.Path("/dir one/file.bin"))
				if fi.Mode().Perm()&0o004 == 0 {
					t.Errorf("stored file mode %v, want world-readable", fi.Mode().Perm())
				}
				// A file put on disk by the test is visible and replaceable.
				s.WriteFile(t, "/pre/made.txt", []byte("hello"))
				if err := c.Delete("/pre/made.txt"); err != nil {
					t.Fatalf("delete a file made on disk: %v", err)
				}
			})
		}
	}
}

// TestWrongPassword checks that the servers really authenticate.
func TestWrongPassword(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel() // both servers delay failed logins by seconds
			s := k.start(t, Options{Addr: "127.0.0.2"})
			c, err := ftp.Dial(s.Addr(), ftp.DialWithTimeout(10*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Quit()
			if err := c.Login(s.User, s.Password+"x"); err == nil {
				t.Fatal("login with a wrong password succeeded")
			}
		})
	}
}

// TestPortForeignAddress checks the FXP switch: with FXP off a PORT to a
// foreign address is refused; with FXP on it is accepted.
func TestPortForeignAddress(t *testing.T) {
	for _, k := range kinds {
		for _, fxp := range []bool{false, true} {
			t.Run(k.name+map[bool]string{false: "/nofxp", true: "/fxp"}[fxp], func(t *testing.T) {
				s := k.start(t, Options{Addr: "127.0.0.2", FXP: fxp})
				// Control connection from 127.0.0.1; PORT to 127.0.0.9.
				code := rawPort(t, s, "127,0,0,9,200,10")
				refused := code >= 400
				if refused == fxp {
					t.Fatalf("fxp=%v: PORT to a foreign address got %d", fxp, code)
				}
			})
		}
	}
}

func rawPort(t *testing.T, s *Server, arg string) int {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 0, 4096)
	read := func() int {
		tmp := make([]byte, 4096)
		for {
			lines := strings.Split(string(buf), "\r\n")
			for i, l := range lines[:len(lines)-1] {
				if len(l) >= 4 && l[3] == ' ' {
					buf = []byte(strings.Join(lines[i+1:], "\r\n"))
					var code int
					for _, ch := range l[:3] {
						code = code*10 + int(ch-'0')
					}
					return code
				}
			}
			n, err := c.Read(tmp)
			if err != nil {
				t.Fatalf("read reply: %v", err)
			}
			buf = append(buf, tmp[:n]...)
		}
	}
	send := func(cmd string) int {
		if _, err := c.Write([]byte(cmd + "\r\n")); err != nil {
			t.Fatal(err)
		}
		return read()
	}
	read() // greeting
	send("USER " + s.User)
	if code := send("PASS " + s.Password); code != 230 {
		t.Fatalf("login: %d", code)
	}
	return send("PORT " + arg)
}

// TestKillStopsTransfer checks that Kill ends a download in flight.
func TestKillStopsTransfer(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			s := k.start(t, Options{Addr: "127.0.0.3"})
			f, err := os.Create(s.Path("/big"))
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Truncate(1 << 40); err != nil { // sparse 1 TiB
				t.Fatal(err)
			}
			f.Close()
			c := dial(t, s)
			r, err := c.Retr("/big")
			if err != nil {
				t.Fatalf("retr: %v", err)
			}
			defer r.Close()
			if _, err := io.ReadFull(r, make([]byte, 1<<20)); err != nil {
				t.Fatalf("first MiB: %v", err)
			}
			s.Kill()
			done := make(chan error, 1)
			go func() {
				_, err := io.Copy(io.Discard, r)
				done <- err
			}()
			select {
			case err := <-done:
				// A clean EOF is also possible; what matters is that it ended.
				if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Logf("read after kill: %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("transfer still running 20s after Kill")
			}
			if _, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
				t.Fatal("server still accepts connections after Kill")
			}
		})
	}
}

// TestMaxRate checks that MaxRate slows transfers down (a lower bound only).
func TestMaxRate(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			s := k.start(t, Options{Addr: "127.0.0.2", MaxRate: 256 << 10})
			s.WriteFile(t, "/f", make([]byte, 512<<10))
			c := dial(t, s)
			start := time.Now()
			r, err := c.Retr("/f")
			if err != nil {
				t.Fatal(err)
			}
			n, err := io.Copy(io.Discard, r)
			r.Close()
			if err != nil || n != 512<<10 {
				t.Fatalf("read %d bytes: %v", n, err)
			}
			if d := time.Since(start); d < 1500*time.Millisecond {
				t.Errorf("512 KiB at 256 KiB/s took %v", d)
			}
		})
	}
}

// TestTLS logs in with explicit TLS (data channel protected too), the
// certificate verified against the test CA, and checks the fields Config
// and the server give TLS clients.
func TestTLS(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			s := k.start(t, Options{Addr: "127.0.0.3", TLS: true})
			pemData, err := os.ReadFile(s.CAFile)
			if err != nil {
				t.Fatal(err)
			}
			roots := x509.NewCertPool()
			if !roots.AppendCertsFromPEM(pemData) {
				t.Fatal("no certificate in CAFile")
			}
			var seen []byte
			tc := &tls.Config{RootCAs: roots, ServerName: s.Host,
				ClientSessionCache: tls.NewLRUClientSessionCache(4),
				VerifyConnection: func(cs tls.ConnectionState) error {
					seen = cs.PeerCertificates[0].Raw
					return nil
				}}
			c, err := ftp.Dial(s.Addr(), ftp.DialWithTimeout(10*time.Second), ftp.DialWithExplicitTLS(tc))
			if err != nil {
				t.Fatalf("dial with TLS: %v", err)
			}
			defer c.Quit()
			if err := c.Login(s.User, s.Password); err != nil {
				t.Fatalf("login: %v", err)
			}
			data := []byte("over TLS")
			if err := c.Stor("/t.txt", bytes.NewReader(data)); err != nil {
				t.Fatalf("stor: %v", err)
			}
			if got, _ := os.ReadFile(s.Path("/t.txt")); !bytes.Equal(got, data) {
				t.Fatalf("on disk %q", got)
			}
			sum := sha256.Sum256(seen)
			if fp := "sha256:" + hex.EncodeToString(sum[:]); fp != s.Fingerprint {
				t.Errorf("Fingerprint %s, the server presented %s", s.Fingerprint, fp)
			}
			if cfg := s.Config(""); cfg.TLS != "explicit" || cfg.TLSInsecure || cfg.TLSCAFile != s.CAFile {
				t.Errorf("Config TLS %q insecure %v CA %q", cfg.TLS, cfg.TLSInsecure, cfg.TLSCAFile)
			}
		})
	}
}

// TestCertKinds: each CertKind fails verification against the test CA the
// way it should.
func TestCertKinds(t *testing.T) {
	dir := t.TempDir()
	for kind, want := range map[CertKind]string{
		CertValid: "", CertExpired: "expired", CertWrongHost: "valid for 192.0.2.1", CertSelfSigned: "unknown authority",
	} {
		cf, err := writeCert(dir, "127.0.0.5", kind)
		if err != nil {
			t.Fatal(err)
		}
		pair, err := tls.LoadX509KeyPair(cf.cert, cf.cert)
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := x509.ParseCertificate(pair.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		pemData, _ := os.ReadFile(cf.ca)
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(pemData)
		_, err = leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "127.0.0.5"})
		if (want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("%v: verify = %v, want %q", kind, err, want)
		}
	}
}
