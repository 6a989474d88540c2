package ftpclient_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
	"github.com/fxpfs/fxpfs/internal/realftpd"
	"github.com/fxpfs/fxpfs/internal/testutil"
)

type tlsServer struct {
	name  string
	start func(realftpd.TB, realftpd.Options) *realftpd.Server
	opts  realftpd.Options
}

// tlsServers are the FTPS set-ups the client must work with, each with its
// server's defaults except where named: vsftpd and proftpd require every
// protected data connection to resume the control connection's TLS session.
var tlsServers = []tlsServer{
	{"vsftpd/explicit", realftpd.StartVsftpd, realftpd.Options{TLS: true}},
	{"vsftpd/required", realftpd.StartVsftpd, realftpd.Options{TLSRequired: true}},
	{"vsftpd/implicit", realftpd.StartVsftpd, realftpd.Options{TLSImplicit: true, TLSRequired: true}},
	{"pure-ftpd/Y1", realftpd.StartPureFTPd, realftpd.Options{TLS: true}},
	{"pure-ftpd/Y3", realftpd.StartPureFTPd, realftpd.Options{TLSRequired: true}},
	{"proftpd/explicit", realftpd.StartProFTPD, realftpd.Options{TLS: true}},
	{"proftpd/required", realftpd.StartProFTPD, realftpd.Options{TLSRequired: true}},
	{"proftpd/implicit", realftpd.StartProFTPD, realftpd.Options{TLSImplicit: true}},
}

// TestTLSRealServers runs listings, uploads and downloads over TLS, verified
// against the test CA, on every set-up above: first many data connections
// one after another on one control connection (uploads in a row too, which
// consume TLS 1.3 tickets without reading new ones on the way), then on
// several control connections at once (each data connection must resume its
// own control connection's session). The --debug trace never shows the
// password.
func TestTLSRealServers(t *testing.T) {
	for _, ts := range tlsServers {
		t.Run(ts.name, func(t *testing.T) {
			srv := ts.start(t, ts.opts)
			var trace testutil.SyncBuffer
			cfg := srv.Config("tls")
			cfg.MaxConns = 1
			c, err := ftpclient.New(cfg, slog.New(slog.NewTextHandler(&trace, &slog.HandlerOptions{Level: slog.LevelDebug})))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx := ctxT(t)
			data := bytes.Repeat([]byte("tls data "), 30000)
			for i := range 4 {
				if err := put(ctx, c, fmt.Sprintf("/up%d", i), data); err != nil {
					t.Fatalf("upload %d: %v", i, err)
				}
			}
			ents, err := c.List(ctx, "/")
			if err != nil || len(ents) != 4 {
				t.Fatalf("List: %v %v", ents, err)
			}
			// An APPE of nothing (the check before a file is replaced) still
			// owes the server a TLS handshake on its data connection.
			if err := c.ProbeWritable(ctx, "/up0"); err != nil {
				t.Fatalf("ProbeWritable of an existing file: %v", err)
			}
			for i := range 3 {
				if err := get(ctx, c, fmt.Sprintf("/up%d", i), data); err != nil {
					t.Fatalf("download %d: %v", i, err)
				}
				if err := put(ctx, c, fmt.Sprintf("/again%d", i), data); err != nil {
					t.Fatalf("upload after download %d: %v", i, err)
				}
			}
			if d := c.Stats().Dials; d != 1 {
				t.Errorf("dials %d, want 1 (a failed data connection costs its control connection)", d)
			}
			log := trace.String()
			if strings.Contains(log, srv.Password) || !strings.Contains(log, "PASS ****") {
				t.Errorf("trace shows the password or no redacted PASS")
			}
			if !strings.Contains(log, "PROT P") {
				t.Errorf("no PROT P in the trace")
			}

			cfg.MaxConns = 4
			cp, err := ftpclient.New(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer cp.Close()
			var wg sync.WaitGroup
			errs := make(chan error, 16)
			for w := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 3 {
						p := fmt.Sprintf("/par%d-%d", w, i)
						if err := put(ctx, cp, p, data); err != nil {
							errs <- err
							return
						}
						if err := get(ctx, cp, p, data); err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if srv.TLSLog != "" {
				b, _ := os.ReadFile(srv.TLSLog)
				if n := strings.Count(string(b), "client reused TLS session for data connection"); n < 20 {
					t.Errorf("proftpd logged %d resumed data connections, want >= 20", n)
				}
			}
		})
	}
}

func put(ctx context.Context, c *ftpclient.Client, p string, data []byte) error {
	w, err := c.OpenWrite(ctx, p, 0, ftpclient.WriteTruncate)
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

func get(ctx context.Context, c *ftpclient.Client, p string, want []byte) error {
	r, err := c.OpenRead(ctx, p, 0)
	if err != nil {
		return err
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		return err
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("%s: read %d bytes, not what was written", p, len(got))
	}
	return nil
}

// TestTLSCertificateChecks: a certificate that is expired, for another host,
// or from an unknown authority fails the login at once with ErrCertificate
// and a message that names the problem and the certificate; a pinned
// fingerprint or tls_insecure lets it in.
func TestTLSCertificateChecks(t *testing.T) {
	cases := []struct {
		cert realftpd.CertKind
		want string
	}{
		{realftpd.CertExpired, "expired"},
		{realftpd.CertWrongHost, "valid for 192.0.2.1, not 127.0.0.1"},
		{realftpd.CertSelfSigned, "unknown authority"},
	}
	for _, tc := range cases {
		t.Run(tc.cert.String(), func(t *testing.T) {
			srv := realftpd.StartVsftpd(t, realftpd.Options{Cert: tc.cert})
			cfg := srv.Config("cert")
			c, err := ftpclient.New(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			start := time.Now()
			err = c.Connect(ctxT(t))
			if !errors.Is(err, ftpclient.ErrCertificate) || !strings.Contains(err.Error(), tc.want) ||
				!strings.Contains(err.Error(), srv.Fingerprint) {
				t.Fatalf("Connect = %v, want ErrCertificate saying %q and the fingerprint %s", err, tc.want, srv.Fingerprint)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("rejection took %v", d)
			}
			for _, trust := range []func(*ftpclient.ServerConfig){
				func(c *ftpclient.ServerConfig) { c.TLSFingerprint = srv.Fingerprint },
				func(c *ftpclient.ServerConfig) { c.TLSInsecure = true },
			} {
				cfg := srv.Config("cert")
				trust(&cfg)
				c, err := ftpclient.New(cfg, nil)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := c.List(ctxT(t), "/"); err != nil {
					t.Errorf("trusted by pin/insecure: %v", err)
				}
				c.Close()
			}
		})
	}
	t.Run("wrong-pin", func(t *testing.T) {
		srv := realftpd.StartVsftpd(t, realftpd.Options{TLS: true})
		cfg := srv.Config("cert")
		cfg.TLSFingerprint = "sha256:" + strings.Repeat("ab", 32)
		c, err := ftpclient.New(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Connect(ctxT(t)); !errors.Is(err, ftpclient.ErrCertificate) || !strings.Contains(err.Error(), "tls_fingerprint") {
			t.Fatalf("a CA-signed certificate that is not the pinned one: %v", err)
		}
	})
}

// TestRawTLSModes: a raw connection left in PROT C or SSCN ON (FXP between
// TLS servers) is not pooled; put back with PROT P or SSCN OFF it is kept;
// the pool's own transfers work on it afterwards.
func TestRawTLSModes(t *testing.T) {
	srv := realftpd.StartProFTPD(t, realftpd.Options{TLS: true})
	c, err := ftpclient.New(srv.Config("modes"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := ctxT(t)
	if f, err := c.Features(ctx); err != nil || !f.SSCN {
		t.Fatalf("proftpd FEAT: SSCN %v, %v", f.SSCN, err)
	}
	for _, tt := range []struct {
		cmds []string
		kept bool
	}{
		{[]string{"PROT C"}, false},
		{[]string{"PROT C", "PROT P"}, true},
		{[]string{"SSCN ON"}, false},
		{[]string{"SSCN ON", "SSCN"}, false},
		{[]string{"SSCN ON", "SSCN OFF"}, true},
	} {
		r, err := c.AcquireRaw(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, cmd := range tt.cmds {
			if rep, err := r.Cmd(ctx, "%s", cmd); err != nil || rep.Code/100 != 2 {
				t.Fatalf("%v: %s: %+v %v", tt.cmds, cmd, rep, err)
			}
		}
		before := c.Stats().Dials
		r.Release(nil)
		if _, err := c.List(ctx, "/"); err != nil {
			t.Fatalf("%v: List after: %v", tt.cmds, err)
		}
		if kept := c.Stats().Dials == before; kept != tt.kept {
			t.Errorf("%v: connection kept = %v, want %v", tt.cmds, kept, tt.kept)
		}
	}
}

// TestTLS12Resumption: crypto/tls resumes TLS 1.2 sessions by ticket only.
// A TLS 1.2 proftpd that issues session tickets has every data connection
// resume the control connection's session; one that does not (proftpd's
// default: session IDs) refuses them at once, and the error says so (the
// limit README states).
func TestTLS12Resumption(t *testing.T) {
	data := bytes.Repeat([]byte("tls 1.2 "), 10000)
	for _, tickets := range []bool{true, false} {
		t.Run(fmt.Sprintf("tickets=%v", tickets), func(t *testing.T) {
			srv := realftpd.StartProFTPD(t, realftpd.Options{TLS12: true, TLSTickets: tickets})
			c, err := ftpclient.New(srv.Config("tls12"), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx := ctxT(t)
			start := time.Now()
			err = put(ctx, c, "/a", data)
			if err == nil {
				err = get(ctx, c, "/a", data)
			}
			if err == nil {
				_, err = c.List(ctx, "/")
			}
			log, _ := os.ReadFile(srv.TLSLog)
			reused := strings.Count(string(log), "client reused TLS session for data connection")
			if tickets {
				if err != nil || reused < 3 {
					t.Fatalf("with tickets: %v; %d data connections resumed, want 3", err, reused)
				}
				return
			}
			if err == nil || reused != 0 || !strings.Contains(err.Error(), "425") {
				t.Fatalf("without tickets: err %v, %d resumed; want the server's 425", err, reused)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("the refusal took %v", d)
			}
			t.Logf("without tickets: %v", err)
		})
	}
}
