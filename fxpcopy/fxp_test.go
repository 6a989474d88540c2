package fxpcopy

import (
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
	"github.com/fxpfs/fxpfs/internal/realftpd"
)

// TestFXPCopy copies between vsftpd (127.0.0.2) and pure-ftpd (127.0.0.3),
// both allowing FXP, in both directions and within each server: the data is
// equal on disk and no data byte passes through this host.
func TestFXPCopy(t *testing.T) {
	vs, pure := servers(t, true, true)
	e := newEngine(t)
	cvs, cpure := client(t, vs, ftpclient.FXPAuto), client(t, pure, ftpclient.FXPAuto)
	data := randomBytes(t, 3<<20+17)
	mtime := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	for _, s := range []*realftpd.Server{vs, pure} {
		s.WriteFile(t, "/src/file name.bin", data)
		if err := os.Chtimes(s.Path("/src/file name.bin"), mtime, mtime); err != nil {
			t.Fatal(err)
		}
		s.MkdirAll(t, "/out")
	}
	tests := []struct {
		name     string
		src, dst *ftpclient.Client
		ss, ds   *realftpd.Server
	}{
		{"vsftpd to pure-ftpd", cvs, cpure, vs, pure},
		{"pure-ftpd to vsftpd", cpure, cvs, pure, vs},
		{"within vsftpd", cvs, cvs, vs, vs},
		{"within pure-ftpd", cpure, cpure, pure, pure},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dstPath := "/out/copy" + string(rune('a'+i)) + ".bin"
			relayed := e.Counters().RelayBytes
			var seen []Record
			rec, err := e.Copy(ctxT(t, time.Minute),
				Endpoint{tc.src, "/src/file name.bin"}, Endpoint{tc.dst, dstPath},
				Options{Progress: func(r Record) { seen = append(seen, r) }})
			if err != nil {
				t.Fatalf("Copy: %v", err)
			}
			t.Logf("record: %+v", rec)
			if rec.Mode != ModeFXP && rec.Mode != ModeFXPRev {
				t.Errorf("mode %q (fallback %q), want FXP", rec.Mode, rec.Fallback)
			}
			if rec.Size != int64(len(data)) || rec.Bytes != rec.Size || rec.Verified == "" || rec.Active {
				t.Errorf("record: size %d bytes %d verified %q active %v", rec.Size, rec.Bytes, rec.Verified, rec.Active)
			}
			if got := fileSHA(t, tc.ds.Path(dstPath)); got != sha(data) {
				t.Fatalf("destination sha256 %s, want %s", got, sha(data))
			}
			if got := e.Counters().RelayBytes; got != relayed {
				t.Errorf("RelayBytes grew from %d to %d on an FXP copy", relayed, got)
			}
			if len(seen) < 2 || !seen[0].Active || seen[len(seen)-1].Active {
				t.Errorf("progress callbacks: %d, want a first active and a last finished record", len(seen))
			}
			if f, _ := tc.dst.Features(ctxT(t, 10*time.Second)); f.MFMT {
				fi, err := os.Stat(tc.ds.Path(dstPath))
				if err != nil || !fi.ModTime().Equal(mtime) {
					t.Errorf("destination mtime %v, want %v (server has MFMT)", fi.ModTime(), mtime)
				}
			}
		})
	}
	c := e.Counters()
	if c.FXPFiles != int64(len(tests)) || c.FXPBytes != int64(len(tests)*len(data)) || c.RelayBytes != 0 {
		t.Errorf("counters %+v", c)
	}
	if got := e.Recent(2); len(got) != 2 || got[0].ID <= got[1].ID {
		t.Errorf("Recent(2) = %+v, want the two newest, newest first", got)
	}
	if n := len(e.Active()); n != 0 {
		t.Errorf("%d transfers still active", n)
	}
}

// TestFXPRefused: vsftpd with its default port_promiscuous=NO and
// pasv_promiscuous=NO refuses a foreign PORT address and foreign data
// connections. The copy still succeeds (other orientation or relay), and the
// record says why.
func TestFXPRefused(t *testing.T) {
	vs, pure := servers(t, false, true)
	e := newEngine(t)
	cvs, cpure := client(t, vs, ftpclient.FXPAuto), client(t, pure, ftpclient.FXPAuto)
	data := randomBytes(t, 1<<20+3)
	vs.WriteFile(t, "/a.bin", data)
	pure.WriteFile(t, "/b.bin", data)
	for _, tc := range []struct {
		name     string
		src, dst Endpoint
		ds       *realftpd.Server
	}{
		{"from refusing vsftpd", Endpoint{cvs, "/a.bin"}, Endpoint{cpure, "/a-copy.bin"}, pure},
		{"to refusing vsftpd", Endpoint{cpure, "/b.bin"}, Endpoint{cvs, "/b-copy.bin"}, vs},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := e.Copy(ctxT(t, time.Minute), tc.src, tc.dst, Options{})
			if err != nil {
				t.Fatalf("Copy: %v", err)
			}
			t.Logf("mode %s, fallback: %s", rec.Mode, rec.Fallback)
			if rec.Fallback == "" || rec.Mode == ModeFXP {
				t.Errorf("mode %q fallback %q: want the reversed orientation or relay, with a reason", rec.Mode, rec.Fallback)
			}
			if got := fileSHA(t, tc.ds.Path(tc.dst.Path)); got != sha(data) {
				t.Fatalf("destination sha256 %s, want %s", got, sha(data))
			}
		})
	}
}

// TestFXPForceRefused: with fxp = "force" and both servers refusing foreign
// addresses, the copy fails with a clear error naming the refused step, and
// leaves no destination file.
func TestFXPForceRefused(t *testing.T) {
	vs, pure := servers(t, false, false)
	e := newEngine(t)
	cvs, cpure := client(t, vs, ftpclient.FXPAuto), client(t, pure, ftpclient.FXPForce)
	vs.WriteFile(t, "/a.bin", randomBytes(t, 100_000))
	_, err := e.Copy(ctxT(t, time.Minute), Endpoint{cvs, "/a.bin"}, Endpoint{cpure, "/a.bin"}, Options{})
	if !errors.Is(err, ErrFXPRefused) {
		t.Fatalf("err = %v, want ErrFXPRefused", err)
	}
	t.Logf("error: %v", err)
	for _, want := range []string{"force", "PORT", string(ModeFXPRev)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if _, serr := os.Stat(pure.Path("/a.bin")); !os.IsNotExist(serr) {
		t.Errorf("destination left behind: %v", serr)
	}
	if c := e.Counters(); c.Failed != 1 || c.RelayBytes != 0 {
		t.Errorf("counters %+v", c)
	}
}

// TestPolicyOff: fxp = "off" on one side relays, and the counters say so.
func TestPolicyOff(t *testing.T) {
	vs, pure := servers(t, true, true)
	e := newEngine(t)
	cvs, cpure := client(t, vs, ftpclient.FXPOff), client(t, pure, ftpclient.FXPAuto)
	data := randomBytes(t, 2<<20)
	vs.WriteFile(t, "/a.bin", data)
	rec, err := e.Copy(ctxT(t, time.Minute), Endpoint{cvs, "/a.bin"}, Endpoint{cpure, "/a.bin"}, Options{})
	if err != nil {
		t.Fatalf("Copy: %v", err)
	}
	if rec.Mode != ModeRelay || !strings.Contains(rec.Fallback, "off") {
		t.Errorf("mode %q fallback %q", rec.Mode, rec.Fallback)
	}
	if got := fileSHA(t, pure.Path("/a.bin")); got != sha(data) {
		t.Fatalf("destination sha256 %s, want %s", got, sha(data))
	}
	if c := e.Counters(); c.RelayBytes != int64(len(data)) || c.RelayFiles != 1 || c.FXPBytes != 0 {
		t.Errorf("counters %+v", c)
	}
}

// TestFXPOverTLS: two TLS servers without SSCN/CPSV (vsftpd, pure-ftpd)
// whose configs allow clear FXP data (fxp_clear_data) copy by FXP with PROT
// C, which the record says; the sessions are put back to PROT P and kept,
// so the pools' own (encrypted) transfers work afterwards and the next copy
// reuses them. (Without fxp_clear_data such a pair is relayed: see
// TestFXPTLSNoClearText.)
func TestFXPOverTLS(t *testing.T) {
	vs := realftpd.StartVsftpd(t, realftpd.Options{Addr: "127.0.0.2", FXP: true, TLS: true})
	pure := realftpd.StartPureFTPd(t, realftpd.Options{Addr: "127.0.0.3", FXP: true, TLS: true})
	e := newEngine(t)
	cvs, cpure := tlsClient(t, vs, true), tlsClient(t, pure, true)
	data := randomBytes(t, 1<<20)
	vs.WriteFile(t, "/a.bin", data)
	rec, err := e.Copy(ctxT(t, time.Minute), Endpoint{cvs, "/a.bin"}, Endpoint{cpure, "/a.bin"}, Options{})
	if err != nil {
		t.Fatalf("Copy: %v", err)
	}
	if rec.Mode == ModeRelay || !strings.HasPrefix(rec.Protection, "clear, allowed by fxp_clear_data") || e.Counters().RelayBytes != 0 {
		t.Errorf("mode %s protection %q counters %+v", rec.Mode, rec.Protection, e.Counters())
	}
	if got := fileSHA(t, pure.Path("/a.bin")); got != sha(data) {
		t.Fatalf("destination sha256 %s, want %s", got, sha(data))
	}
	dials := cvs.Stats().Dials + cpure.Stats().Dials
	if _, err := e.Copy(ctxT(t, time.Minute), Endpoint{cvs, "/a.bin"}, Endpoint{cpure, "/b.bin"}, Options{}); err != nil {
		t.Fatalf("second copy: %v", err)
	}
	if d := cvs.Stats().Dials + cpure.Stats().Dials; d != dials {
		t.Errorf("the second copy dialled %d new connections: sessions not put back", d-dials)
	}
	rd, err := cpure.OpenRead(ctxT(t, time.Minute), "/b.bin", 0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rd)
	rd.Close()
	if err != nil || sha(got) != sha(data) {
		t.Fatalf("read back over TLS: %d bytes, %v", len(got), err)
	}
}
