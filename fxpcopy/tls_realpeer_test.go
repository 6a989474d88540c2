package fxpcopy

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/internal/ftpstest"
	"github.com/fxpfs/fxpfs/internal/realftpd"
	"github.com/fxpfs/fxpfs/internal/testutil"
)

// TestEncryptedFXPRealPeers: the in-process server's CPSV and SSCN against
// real servers, so that its TLS roles are checked by another TLS stack
// than Go's: a CPSV server with pure-ftpd -Y 3 (the CPSV server is TLS
// client, pure-ftpd serves a client that could not resume its session),
// proftpd's SSCN with an ftpstest server (proftpd is the TLS client and
// checks the certificate against the test CA, TLSVerifyServer on), both
// directions each, TLS on the wire and no marker; and proftpd rejecting a
// self-signed certificate: the copy is relayed and the failure remembered.
func TestEncryptedFXPRealPeers(t *testing.T) {
	ips := testutil.LoopbackAddrs(4)
	data, marker := markedData(t, 2<<20)
	check := func(t *testing.T, e *Engine, a, b string, src, dst Endpoint, dstFile string, want string) Record {
		t.Helper()
		capt := testutil.CaptureLoopback(t, a, b, marker)
		rec, err := e.Copy(ctxT(t, time.Minute), src, dst, Options{})
		st := capt.Stop()
		t.Logf("%s to %s: %+v; capture %v", src, dst, rec, st)
		if err != nil {
			t.Fatal(err)
		}
		if got := fileSHA(t, dstFile); got != sha(data) {
			t.Fatalf("destination differs")
		}
		if rec.Protection != want {
			t.Errorf("protection %q, want %q (fallback %q)", rec.Protection, want, rec.Fallback)
		}
		if st.Hits[0] != 0 || st.Dropped != 0 || rec.Mode != ModeRelay && (st.TLSFlows < 1 || st.Payload < int64(len(data))) {
			t.Errorf("between the servers: %v; want the file over TLS, never in clear", st)
		}
		return rec
	}

	t.Run("CPSV with pure-ftpd", func(t *testing.T) {
		cp := startFTPS(t, "cpsv", ftpstest.Options{Addr: ips[0], CPSV: ftpstest.ExtListed})
		pure := realftpd.StartPureFTPd(t, realftpd.Options{Addr: ips[1], FXP: true, TLSRequired: true, Name: "pure-ftpd"})
		cp.WriteFile(t, "/src.bin", data)
		pure.WriteFile(t, "/src.bin", data)
		e := newEngine(t)
		ccp, cpure := ftpsClient(t, cp), tlsClient(t, pure, false)
		want := "TLS, cpsv is the TLS client (CPSV)"
		check(t, e, ips[0], ips[1], Endpoint{cpure, "/src.bin"}, Endpoint{ccp, "/in.bin"}, cp.Path("/in.bin"), want)
		check(t, e, ips[0], ips[1], Endpoint{ccp, "/src.bin"}, Endpoint{cpure, "/out.bin"}, pure.Path("/out.bin"), want)
		for _, dc := range cp.DataConns() {
			if dc.Cmd != "MLSD" && dc.Peer == ips[1] && (dc.TLS != "client" || !dc.Passive) {
				t.Errorf("cpsv's data connection with pure-ftpd: %+v, want passive, TLS client", dc)
			}
		}
	})

	t.Run("proftpd SSCN with ftpstest", func(t *testing.T) {
		pro := realftpd.StartProFTPD(t, realftpd.Options{Addr: ips[2], FXP: true, TLS: true, Name: "proftpd"})
		srv := startFTPS(t, "ftps", ftpstest.Options{Addr: ips[3]})
		pro.WriteFile(t, "/src.bin", data)
		srv.WriteFile(t, "/src.bin", data)
		e := newEngine(t)
		cpro, csrv := tlsClient(t, pro, false), ftpsClient(t, srv)
		want := "TLS, proftpd is the TLS client (SSCN)"
		check(t, e, ips[2], ips[3], Endpoint{cpro, "/src.bin"}, Endpoint{csrv, "/in.bin"}, srv.Path("/in.bin"), want)
		check(t, e, ips[2], ips[3], Endpoint{csrv, "/src.bin"}, Endpoint{cpro, "/out.bin"}, pro.Path("/out.bin"), want)
		n := 0
		for _, dc := range srv.DataConns() {
			if dc.Peer == ips[2] {
				n++
				if dc.TLS != "server" || dc.Resumed || dc.Reply[:3] != "226" {
					t.Errorf("ftps's data connection with proftpd: %+v, want TLS server, not resumed, 226", dc)
				}
			}
		}
		if n != 2 {
			t.Errorf("%d data connections between proftpd and ftps, want 2", n)
		}
		if log, _ := os.ReadFile(pro.TLSLog); bytes.Count(log, []byte("making TLS connection for data connection")) < 2 {
			t.Errorf("proftpd's TLS log shows fewer than 2 data connections made as TLS client")
		}
	})

	t.Run("proftpd rejects a self-signed certificate", func(t *testing.T) {
		pro := realftpd.StartProFTPD(t, realftpd.Options{Addr: ips[2], FXP: true, TLS: true, Name: "proftpd"})
		srv := startFTPS(t, "selfsigned", ftpstest.Options{Addr: ips[3], Cert: realftpd.CertSelfSigned})
		pro.WriteFile(t, "/src.bin", data)
		e := newEngine(t)
		cpro, csrv := tlsClient(t, pro, false), ftpsClient(t, srv)
		want := "TLS from proftpd, TLS to selfsigned (through this host)"
		for i := range 2 {
			dst := fmt.Sprintf("/copy%d.bin", i)
			rec := check(t, e, ips[2], ips[3], Endpoint{cpro, "/src.bin"}, Endpoint{csrv, dst}, srv.Path(dst), want)
			if rec.Mode != ModeRelay {
				t.Errorf("mode %s, want a relay", rec.Mode)
			}
			if i == 1 && !strings.Contains(rec.Fallback, "proftpd as TLS client of selfsigned failed at") {
				t.Errorf("second copy's fallback %q does not say the failure is remembered", rec.Fallback)
			}
		}
		if files := srv.Files(t); len(files) != 2 {
			t.Errorf("destination holds %v, want the two copies only", files)
		}
	})
}
