package fxpcopy

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
	"github.com/fxpfs/fxpfs/internal/realftpd"
	"github.com/fxpfs/fxpfs/internal/testutil"
)

// Addresses of the TLS test servers: FXP checks need different IPs, and
// the captures need addresses that no other test uses at the same time.
var vsAddr, pureAddr, proAddr = func() (string, string, string) {
	a := testutil.LoopbackAddrs(3)
	return a[0], a[1], a[2]
}()

// markedData is a file made of a recognisable clear-text marker, so that a
// capture can tell whether the file crossed the wire in clear.
func markedData(t *testing.T, n int) (data, marker []byte) {
	marker = []byte("FXPFS-CLEAR-" + sha(randomBytes(t, 16))[:16] + "\n")
	return bytes.Repeat(marker, n/len(marker)+1)[:n], marker
}

func tlsClient(t *testing.T, srv *realftpd.Server, clear bool) *ftpclient.Client {
	t.Helper()
	cfg := srv.Config("")
	cfg.FXPClearData = clear
	c, err := ftpclient.New(cfg, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestFXPEncrypted: between proftpd (SSCN) and pure-ftpd, both TLS, FXP
// runs with PROT P on both and proftpd as the TLS client, in both
// directions: the data goes straight from server to server (nothing
// relayed), the connection between them starts with a TLS handshake, and
// the file's clear-text marker never crosses the wire. A resumed copy
// (REST) works the same way. The negative control, vsftpd and pure-ftpd
// with fxp_clear_data on both (no SSCN/CPSV between them), shows the marker
// in clear: the capture does see clear data when there is some.
func TestFXPEncrypted(t *testing.T) {
	pro := realftpd.StartProFTPD(t, realftpd.Options{Addr: proAddr, FXP: true, TLS: true, Name: "proftpd"})
	pure := realftpd.StartPureFTPd(t, realftpd.Options{Addr: pureAddr, FXP: true, TLSRequired: true, Name: "pure-ftpd"})
	e := newEngine(t)
	cpro, cpure := tlsClient(t, pro, false), tlsClient(t, pure, false)
	data, marker := markedData(t, 4<<20)
	pro.WriteFile(t, "/src.bin", data)
	pure.WriteFile(t, "/src.bin", data)
	for _, tc := range []struct {
		name     string
		src, dst Endpoint
		dstSrv   *realftpd.Server
	}{
		{"proftpd to pure-ftpd", Endpoint{cpro, "/src.bin"}, Endpoint{cpure, "/copy.bin"}, pure},
		{"pure-ftpd to proftpd", Endpoint{cpure, "/src.bin"}, Endpoint{cpro, "/copy.bin"}, pro},
	} {
		t.Run(tc.name, func(t *testing.T) {
			capt := testutil.CaptureLoopback(t, proAddr, pureAddr, marker)
			rec, err := e.Copy(ctxT(t, time.Minute), tc.src, tc.dst, Options{})
			st := capt.Stop()
			t.Logf("record %+v; capture: %v", rec, st)
			if err != nil {
				t.Fatalf("Copy: %v", err)
			}
			if rec.Mode != ModeFXP && rec.Mode != ModeFXPRev || !strings.Contains(rec.Protection, "TLS, proftpd") {
				t.Errorf("mode %s protection %q, want encrypted FXP with proftpd as TLS client", rec.Mode, rec.Protection)
			}
			if got := fileSHA(t, tc.dstSrv.Path("/copy.bin")); got != sha(data) {
				t.Fatalf("destination sha256 %s, want %s", got, sha(data))
			}
			if st.Hits[0] != 0 || st.TLSFlows < 1 || st.Payload < int64(len(data)) || st.Truncated != 0 || st.Dropped != 0 {
				t.Errorf("between the servers: %v; want the whole file, TLS, no clear marker", st)
			}
		})
	}
	if c := e.Counters(); c.RelayBytes != 0 || c.FXPFiles != 2 {
		t.Errorf("counters %+v, want 2 FXP copies and nothing relayed", c)
	}
	if log, _ := os.ReadFile(pro.TLSLog); !bytes.Contains(log, []byte("making TLS connection for data connection")) {
		t.Errorf("proftpd's TLS log shows no data connection made as TLS client")
	}

	t.Run("resume", func(t *testing.T) {
		half := len(data) / 2
		pure.WriteFile(t, "/resume.bin", data[:half])
		capt := testutil.CaptureLoopback(t, proAddr, pureAddr, marker)
		rec, err := e.Copy(ctxT(t, time.Minute), Endpoint{cpro, "/src.bin"}, Endpoint{cpure, "/resume.bin"}, Options{Continue: true})
		st := capt.Stop()
		if err != nil || rec.Resumed != int64(half) || !strings.Contains(rec.Protection, "TLS") {
			t.Fatalf("resume: %+v %v", rec, err)
		}
		if got := fileSHA(t, pure.Path("/resume.bin")); got != sha(data) {
			t.Fatalf("resumed destination differs")
		}
		if st.Hits[0] != 0 || st.TLSFlows < 1 || st.Dropped != 0 {
			t.Errorf("resume between the servers: %v", st)
		}
	})

	t.Run("clear control", func(t *testing.T) {
		// pure-ftpd -Y 1 this time: -Y 3 refuses clear data (521), and
		// fxpfs then relays.
		pure1 := realftpd.StartPureFTPd(t, realftpd.Options{Addr: pureAddr, FXP: true, TLS: true, Name: "pure-ftpd-Y1"})
		vs := realftpd.StartVsftpd(t, realftpd.Options{Addr: vsAddr, FXP: true, TLS: true, Name: "vsftpd"})
		pure1.WriteFile(t, "/src.bin", data)
		cvs, cpure := tlsClient(t, vs, true), tlsClient(t, pure1, true)
		capt := testutil.CaptureLoopback(t, vsAddr, pureAddr, marker)
		rec, err := e.Copy(ctxT(t, time.Minute), Endpoint{cpure, "/src.bin"}, Endpoint{cvs, "/clear.bin"}, Options{})
		st := capt.Stop()
		if err != nil || rec.Mode == ModeRelay || !strings.HasPrefix(rec.Protection, "clear, allowed by fxp_clear_data") {
			t.Fatalf("clear FXP allowed on both: %+v %v", rec, err)
		}
		if st.Hits[0] == 0 || st.Dropped != 0 {
			t.Errorf("clear FXP: the capture saw no marker (%v): it cannot tell", st)
		}
		// The sessions were put back to PROT P and kept: the pool's own
		// transfers are still encrypted and work.
		if _, err := cvs.List(ctxT(t, time.Minute), "/"); err != nil {
			t.Fatal(err)
		}
	})
}

// TestFXPTLSNoClearText: two TLS servers without SSCN/CPSV (vsftpd,
// pure-ftpd), and a TLS server with a plain one, are relayed (encrypted on
// every TLS leg) unless fxp_clear_data allows clear data for every TLS
// server in the pair; the record says which and why; with fxp = "force"
// the copy fails instead. Nothing goes between the servers directly.
func TestFXPTLSNoClearText(t *testing.T) {
	vs := realftpd.StartVsftpd(t, realftpd.Options{Addr: vsAddr, FXP: true, TLS: true, Name: "vsftpd"})
	pure := realftpd.StartPureFTPd(t, realftpd.Options{Addr: pureAddr, FXP: true, TLS: true, Name: "pure-ftpd"})
	plain := realftpd.StartVsftpd(t, realftpd.Options{Addr: proAddr, FXP: true, Name: "plain"})
	data, marker := markedData(t, 1<<20)
	vs.WriteFile(t, "/src.bin", data)
	plainClient := client(t, plain, ftpclient.FXPAuto)
	for _, tc := range []struct {
		name         string
		src, dst     *ftpclient.Client
		dstSrv       *realftpd.Server
		a, b         string
		wantMode     []Mode
		wantProt     string
		wantFallback string
	}{
		{"TLS pair, clear not allowed", tlsClient(t, vs, false), tlsClient(t, pure, true), pure, vsAddr, pureAddr,
			[]Mode{ModeRelay}, "TLS from vsftpd, TLS to pure-ftpd (through this host)", "fxp_clear_data is not set on vsftpd"},
		{"TLS to plain, clear not allowed", tlsClient(t, vs, false), plainClient, plain, vsAddr, proAddr,
			[]Mode{ModeRelay}, "TLS from vsftpd, clear to plain (through this host)", "plain has no TLS"},
		{"TLS to plain, clear allowed", tlsClient(t, vs, true), plainClient, plain, vsAddr, proAddr,
			[]Mode{ModeFXP, ModeFXPRev}, "clear, allowed by fxp_clear_data on vsftpd (plain has no TLS)", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t)
			capt := testutil.CaptureLoopback(t, tc.a, tc.b, marker)
			dst := "/" + strings.ReplaceAll(tc.name, " ", "-") + ".bin"
			rec, err := e.Copy(ctxT(t, time.Minute), Endpoint{tc.src, "/src.bin"}, Endpoint{tc.dst, dst}, Options{})
			st := capt.Stop()
			t.Logf("record %+v; capture %v", rec, st)
			if err != nil {
				t.Fatal(err)
			}
			if !contains(tc.wantMode, rec.Mode) || rec.Protection != tc.wantProt || !strings.Contains(rec.Fallback, tc.wantFallback) {
				t.Errorf("mode %s protection %q fallback %q; want %v, %q, fallback saying %q",
					rec.Mode, rec.Protection, rec.Fallback, tc.wantMode, tc.wantProt, tc.wantFallback)
			}
			if got := fileSHA(t, tc.dstSrv.Path(dst)); got != sha(data) {
				t.Fatalf("destination differs")
			}
			if rec.Mode == ModeRelay && st.Payload != 0 {
				t.Errorf("relayed, yet %d bytes went between the servers", st.Payload)
			}
		})
	}
	t.Run("force", func(t *testing.T) {
		cfg := vs.Config("")
		cfg.FXP = ftpclient.FXPForce
		cvs, err := ftpclient.New(cfg, testLog(t))
		if err != nil {
			t.Fatal(err)
		}
		defer cvs.Close()
		_, err = newEngine(t).Copy(ctxT(t, time.Minute), Endpoint{cvs, "/src.bin"}, Endpoint{tlsClient(t, pure, false), "/forced.bin"}, Options{})
		if !errors.Is(err, ErrFXPRefused) || !strings.Contains(err.Error(), "fxp_clear_data") {
			t.Fatalf("fxp=force without an encrypted way: %v", err)
		}
		if _, serr := os.Stat(pure.Path("/forced.bin")); !os.IsNotExist(serr) {
			t.Errorf("a destination was left: %v", serr)
		}
	})
}

// TestFXPTLSPlanMemory: proftpd as TLS client of vsftpd fails (vsftpd
// requires the data connection to resume its own control session: 522).
// The first copy tries it, removes what it wrote and relays; the next copy
// relays at once and says why; both destinations are complete.
func TestFXPTLSPlanMemory(t *testing.T) {
	pro := realftpd.StartProFTPD(t, realftpd.Options{Addr: proAddr, FXP: true, TLS: true, Name: "proftpd"})
	vs := realftpd.StartVsftpd(t, realftpd.Options{Addr: vsAddr, FXP: true, TLS: true, Name: "vsftpd"})
	e := newEngine(t)
	cpro, cvs := tlsClient(t, pro, false), tlsClient(t, vs, false)
	data := randomBytes(t, 2<<20)
	pro.WriteFile(t, "/src.bin", data)
	rec, err := e.Copy(ctxT(t, time.Minute), Endpoint{cpro, "/src.bin"}, Endpoint{cvs, "/one.bin"}, Options{})
	t.Logf("first: %+v", rec)
	if err != nil || rec.Mode != ModeRelay || !strings.Contains(rec.Fallback, "encrypted FXP") {
		t.Fatalf("first copy: %+v %v", rec, err)
	}
	start := time.Now()
	rec, err = e.Copy(ctxT(t, time.Minute), Endpoint{cpro, "/src.bin"}, Endpoint{cvs, "/two.bin"}, Options{})
	t.Logf("second: %+v (%v)", rec, time.Since(start))
	if err != nil || rec.Mode != ModeRelay || !strings.Contains(rec.Fallback, "proftpd as TLS client of vsftpd failed") {
		t.Fatalf("second copy: %+v %v", rec, err)
	}
	for _, p := range []string{"/one.bin", "/two.bin"} {
		if fileSHA(t, vs.Path(p)) != sha(data) {
			t.Errorf("%s differs", p)
		}
	}
	entries, _ := os.ReadDir(vs.Root)
	if len(entries) != 2 {
		t.Errorf("destination directory holds %d entries, want the 2 copies", len(entries))
	}
}

// TestFXPTLSCancel: cancelling an encrypted FXP copy ends it promptly,
// removes the destination, and leaves no hidden partial file.
func TestFXPTLSCancel(t *testing.T) {
	pro := realftpd.StartProFTPD(t, realftpd.Options{Addr: proAddr, FXP: true, TLS: true, MaxRate: 1 << 20})
	pure := realftpd.StartPureFTPd(t, realftpd.Options{Addr: pureAddr, FXP: true, TLS: true})
	e := newEngine(t)
	cpro, cpure := tlsClient(t, pro, false), tlsClient(t, pure, false)
	pro.WriteFile(t, "/big.bin", randomBytes(t, 32<<20))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	moving := make(chan struct{})
	var once bool
	go func() {
		_, err := e.Copy(ctx, Endpoint{cpro, "/big.bin"}, Endpoint{cpure, "/big.bin"}, Options{Progress: func(r Record) {
			if r.Active && r.Bytes > 0 && !once {
				once = true
				close(moving)
			}
		}})
		done <- err
	}()
	select {
	case <-moving:
	case err := <-done:
		t.Fatalf("copy ended before any progress: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("no progress in 30 s")
	}
	if a := e.Active(); len(a) != 1 || !strings.Contains(a[0].Protection, "TLS") {
		t.Errorf("active: %+v, want one encrypted FXP", a)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("copy still running 20 s after cancel")
	}
	// pure-ftpd may finish its upload session a moment after the control
	// connection is gone; give it a bounded time, then nothing may remain.
	deadline := time.Now().Add(10 * time.Second)
	var left []string
	for {
		left = left[:0]
		filepath.WalkDir(pure.Root, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				left = append(left, p)
			}
			return nil
		})
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(left) != 0 {
		t.Errorf("files left on the destination: %v", left)
	}
}
