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
// directions each, TLS on the wire and no marker; proftpd sending as TLS
// client to a TLS 1.3 server that reads slowly (its close resets the
// connection: 426); and proftpd rejecting a self-signed certificate. A
// failure is relayed, leaves only the complete file, and is remembered.
func TestEncryptedFXPRealPeers(t *testing.T) {
	ips := testutil.LoopbackAddrs(4)
	data, marker := markedData(t, 2<<20)
	check := func(t *testing.T, e *Engine, a, b string, src, dst Endpoint, dstFile string, want string) Record {
		t.Helper()
		return checkCopy(t, e, a, b, src, dst, dstFile, want, data, marker)
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
		// TLS 1.2: see the next test for what TLS 1.3 does to proftpd
		// sending as TLS client.
		srv := startFTPS(t, "ftps", ftpstest.Options{Addr: ips[3], TLS12: true})
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

	for _, lax := range []bool{false, true} {
		t.Run(fmt.Sprintf("proftpd sending as TLS client resets the connection, lax=%v", lax), func(t *testing.T) {
			// proftpd, the TLS client, only writes, so it never reads the
			// session tickets a TLS 1.3 server sends after the handshake; its
			// close with them unread is a reset, and a receiver still reading
			// (here at 1 MiB/s) loses what it had not read: 426, or with a
			// receiver that takes any end for the end of the file, 226 with a
			// short file (caught by the attempt: checkEnd). The copy is
			// relayed, nothing is left but the complete file, and the way is
			// not tried again.
			pro := realftpd.StartProFTPD(t, realftpd.Options{Addr: ips[2], FXP: true, TLS: true, Name: "proftpd"})
			srv := startFTPS(t, "slow", ftpstest.Options{Addr: ips[3], Rate: 1 << 20, LaxEnd: lax})
			data, marker := markedData(t, 700<<10) // the relays read at 1 MiB/s too
			check := func(t *testing.T, e *Engine, a, b string, src, dst Endpoint, dstFile string, want string) Record {
				return checkCopy(t, e, a, b, src, dst, dstFile, want, data, marker)
			}
			pro.WriteFile(t, "/src.bin", data)
			e := newEngine(t)
			cpro, csrv := tlsClient(t, pro, false), ftpsClient(t, srv)
			want := "TLS from proftpd, TLS to slow (through this host)"
			for i := range 2 {
				dst := fmt.Sprintf("/copy%d.bin", i)
				rec := check(t, e, ips[2], ips[3], Endpoint{cpro, "/src.bin"}, Endpoint{csrv, dst}, srv.Path(dst), want)
				if why := map[bool]string{false: "connection reset", true: "holds"}[lax]; i == 0 && !strings.Contains(rec.Fallback, why) {
					t.Errorf("fallback %q does not say %q", rec.Fallback, why)
				}
				if i == 1 && !strings.Contains(rec.Fallback, "proftpd as TLS client of slow failed at") {
					t.Errorf("second copy's fallback %q does not say the failure is remembered", rec.Fallback)
				}
			}
			if files := srv.Files(t); len(files) != 2 {
				t.Errorf("destination holds %v, want the two copies only", files)
			}
		})
	}

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

// checkCopy copies src to dst with a capture between the servers at a and
// b: the copy works, the destination is the data, Record.Protection is
// want, and nothing went between the servers in clear (and for FXP, the
// whole file over TLS).
func checkCopy(t *testing.T, e *Engine, a, b string, src, dst Endpoint, dstFile, want string, data, marker []byte) Record {
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
