package fxpcopy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
	"github.com/fxpfs/fxpfs/internal/ftpstest"
	"github.com/fxpfs/fxpfs/internal/realftpd"
	"github.com/fxpfs/fxpfs/internal/testutil"
)

// Encrypted FXP against the in-process FTPS server (internal/ftpstest): the
// ways no real server on this machine offers (CPSV; SSCN on either side,
// sending or receiving). Each server listens on an address of its own so
// that a capture sees only the traffic between the two servers.

// startFTPS starts an ftpstest server named name on a loopback address no
// other test uses.
func startFTPS(t *testing.T, name string, o ftpstest.Options) *ftpstest.Server {
	t.Helper()
	o.Name = name
	if o.Addr == "" {
		o.Addr = testutil.LoopbackAddrs(1)[0]
	}
	return ftpstest.Start(t, o)
}

// ftpsClient is a client of s, closed at cleanup.
func ftpsClient(t *testing.T, s *ftpstest.Server, mutate ...func(*ftpclient.ServerConfig)) *ftpclient.Client {
	t.Helper()
	cfg := s.Config()
	for _, m := range mutate {
		m(&cfg)
	}
	c, err := ftpclient.New(cfg, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// quickEngine gives up a refused attempt (one server done, the other
// waiting for a data connection that will not come) after 1 s, not 2.
func quickEngine(t *testing.T) *Engine {
	e := newEngine(t)
	e.timing.peerSilence = time.Second
	return e
}

// lastData is the last data connection of a transfer (not a listing) that
// s recorded, and whether there is one.
func lastData(s *ftpstest.Server) (ftpstest.DataConn, bool) {
	dcs := s.DataConns()
	for i := len(dcs) - 1; i >= 0; i-- {
		switch dcs[i].Cmd {
		case "RETR", "STOR", "APPE":
			return dcs[i], true
		}
	}
	return ftpstest.DataConn{}, false
}

// checkEncrypted checks a copy that should have gone by encrypted FXP with
// client as the TLS client of the data connection between the servers.
func checkEncrypted(t *testing.T, rec Record, st testutil.CaptureStats, size int, client, server *ftpstest.Server, method string, clientPassive bool) {
	t.Helper()
	if rec.Mode != ModeFXP && rec.Mode != ModeFXPRev {
		t.Errorf("mode %s (fallback %q), want FXP", rec.Mode, rec.Fallback)
	}
	if want := fmt.Sprintf("TLS, %s is the TLS client (%s)", client.Name, method); rec.Protection != want {
		t.Errorf("protection %q, want %q", rec.Protection, want)
	}
	if st.Hits[0] != 0 || st.TLSFlows < 1 || st.Payload < int64(size) || st.Truncated != 0 || st.Dropped != 0 {
		t.Errorf("between the servers: %v; want the whole file over TLS, no clear marker", st)
	}
	cd, ok1 := lastData(client)
	sd, ok2 := lastData(server)
	if !ok1 || !ok2 {
		t.Fatalf("no data connection recorded: %+v / %+v", client.DataConns(), server.DataConns())
	}
	if cd.TLS != "client" || cd.Passive != clientPassive || cd.Peer != server.Host || cd.Reply[:3] != "226" {
		t.Errorf("%s's data connection %+v: want TLS client, passive %v, with %s, 226", client.Name, cd, clientPassive, server.Host)
	}
	if sd.TLS != "server" || sd.Passive == clientPassive || sd.Peer != client.Host || sd.Reply[:3] != "226" {
		t.Errorf("%s's data connection %+v: want TLS server, with %s, 226", server.Name, sd, client.Host)
	}
}

// TestCPSVEncryptedFXP: a server that offers CPSV (glftpd, DrFTPD) and one
// that offers neither CPSV nor SSCN (vsftpd-like, without its reuse
// check): the CPSV server is made passive and the TLS client, whether it
// receives (default orientation) or sends (reversed, after the other
// server refused CPSV and SSCN, which is learned once). The data between
// the servers is TLS, the file intact, and later copies go straight to the
// way that works without asking the other server again.
func TestCPSVEncryptedFXP(t *testing.T) {
	cp := startFTPS(t, "cpsv", ftpstest.Options{CPSV: ftpstest.ExtListed})
	plain := startFTPS(t, "tlsonly", ftpstest.Options{})
	data, marker := markedData(t, 2<<20)
	cp.WriteFile(t, "/src.bin", data)
	plain.WriteFile(t, "/src.bin", data)
	e := newEngine(t)
	ccp, cplain := ftpsClient(t, cp), ftpsClient(t, plain)
	for i, tc := range []struct {
		name         string
		src, dst     *ftpclient.Client
		dstSrv       *ftpstest.Server
		mode         Mode
		attempts     int
		fallbackSays string
	}{
		{"CPSV server receives", cplain, ccp, cp, ModeFXP, 1, ""},
		{"CPSV server sends", ccp, cplain, plain, ModeFXPRev, 2, "tlsonly refused CPSV"},
		{"CPSV server sends again", ccp, cplain, plain, ModeFXPRev, 1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := fmt.Sprintf("/copy%d.bin", i)
			logins := cp.Count("PASS")
			capt := testutil.CaptureLoopback(t, cp.Host, plain.Host, marker)
			rec, err := e.Copy(ctxT(t, time.Minute), Endpoint{tc.src, "/src.bin"}, Endpoint{tc.dst, dst}, Options{})
			st := capt.Stop()
			if n := cp.Count("PASS") - logins; tc.attempts == 1 && i > 0 && n != 0 {
				// CPSV, like PASV, leaves the session as it was: the
				// connection of a successful attempt is kept (the other
				// server's may not be: progress polls and verification
				// can need a second one at once).
				t.Errorf("%d logins on cpsv: a copy by a way known to work opened a new connection", n)
			}
			t.Logf("record %+v; capture %v", rec, st)
			if err != nil {
				t.Fatal(err)
			}
			if got := fileSHA(t, tc.dstSrv.Path(dst)); got != sha(data) {
				t.Fatalf("destination differs")
			}
			checkEncrypted(t, rec, st, len(data), cp, plain, "CPSV", true)
			if rec.Mode != tc.mode || rec.Attempts != tc.attempts || !strings.Contains(rec.Fallback, tc.fallbackSays) {
				t.Errorf("mode %s after %d attempts (fallback %q); want %s after %d, fallback saying %q",
					rec.Mode, rec.Attempts, rec.Fallback, tc.mode, tc.attempts, tc.fallbackSays)
			}
		})
	}
	// tlsonly was asked for CPSV and SSCN once each, and not again.
	if n, m := plain.Count("CPSV"), plain.Count("SSCN"); n != 1 || m != 1 {
		t.Errorf("tlsonly was sent CPSV %d times and SSCN %d times, want once each", n, m)
	}
	if c := e.Counters(); c.RelayBytes != 0 || c.FXPFiles != 3 {
		t.Errorf("counters %+v, want 3 FXP copies, nothing relayed", c)
	}
}

// TestSSCNEncryptedFXP: a server that offers SSCN is made the TLS client
// in every combination — passive or active, sending or receiving — with
// one that offers neither extension. After each copy it is given SSCN OFF
// (its session goes back to the pool as it was).
func TestSSCNEncryptedFXP(t *testing.T) {
	sscn := startFTPS(t, "sscn", ftpstest.Options{SSCN: ftpstest.ExtListed})
	plain := startFTPS(t, "tlsonly", ftpstest.Options{})
	data, marker := markedData(t, 1<<20)
	sscn.WriteFile(t, "/src.bin", data)
	plain.WriteFile(t, "/src.bin", data)
	cs, cp := ftpsClient(t, sscn), ftpsClient(t, plain)
	for i, tc := range []struct {
		name     string
		src, dst *ftpclient.Client
		dstSrv   *ftpstest.Server
		mode     Mode
		passive  bool // the SSCN server is the passive one
	}{
		{"sends, active", cs, cp, plain, ModeFXP, false},
		{"sends, passive", cs, cp, plain, ModeFXPRev, true},
		{"receives, passive", cp, cs, sscn, ModeFXP, true},
		{"receives, active", cp, cs, sscn, ModeFXPRev, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t)
			other := ModeFXPRev
			if tc.mode == ModeFXPRev {
				other = ModeFXP
			}
			e.rememberRefused(tc.src, tc.dst, other, "test: only "+string(tc.mode))
			offs := sscn.Count("SSCN OFF")
			dst := fmt.Sprintf("/copy%d.bin", i)
			capt := testutil.CaptureLoopback(t, sscn.Host, plain.Host, marker)
			rec, err := e.Copy(ctxT(t, time.Minute), Endpoint{tc.src, "/src.bin"}, Endpoint{tc.dst, dst}, Options{})
			st := capt.Stop()
			t.Logf("record %+v; capture %v", rec, st)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Mode != tc.mode || rec.Attempts != 1 {
				t.Errorf("mode %s after %d attempts, want %s at once", rec.Mode, rec.Attempts, tc.mode)
			}
			if got := fileSHA(t, tc.dstSrv.Path(dst)); got != sha(data) {
				t.Fatalf("destination differs")
			}
			checkEncrypted(t, rec, st, len(data), sscn, plain, "SSCN", tc.passive)
			if sscn.Count("SSCN OFF") != offs+1 {
				t.Errorf("SSCN OFF not sent after the copy: %q", sscn.Commands())
			}
		})
	}
	if n := plain.Count("SSCN"); n != 0 {
		t.Errorf("tlsonly was sent SSCN %d times: the server known to offer it goes first", n)
	}
}

// TestEncryptedFXPFailures: servers that take the TLS client role and then
// fail: a data connection cut part way (426 at both ends), a server that
// accepts SSCN but answers the transfer 522 at once, a peer that requires
// its own session to be resumed (522), a TLS client that rejects the
// peer's certificate, and a server that accepts SSCN but stays TLS server
// (both wait for a ClientHello until their handshake timeout: 425). Each
// time the copy is relayed (encrypted on both legs), the destination holds
// the whole file and nothing else, nothing crossed between the servers in
// clear, and the failed way is remembered: the next copy relays at once,
// saying why, without another TLS attempt between the servers. With fxp =
// "force" the copy fails and leaves nothing at the destination.
func TestEncryptedFXPFailures(t *testing.T) {
	slow := func(o *ftpstest.Options) { o.HandshakeTimeout = time.Second }
	for _, tc := range []struct {
		name     string
		src, dst ftpstest.Options
		says     string // in the first copy's fallback
	}{
		{"cut part way", ftpstest.Options{SSCN: ftpstest.ExtListed, BreakAfter: 300 << 10}, ftpstest.Options{}, "426"},
		{"SSCN accepted, transfer 522", ftpstest.Options{SSCN: ftpstest.ExtBroken}, ftpstest.Options{}, "522 SSL connection failed"},
		{"CPSV accepted, transfer 425", ftpstest.Options{}, ftpstest.Options{CPSV: ftpstest.ExtBroken, BrokenReply: "425 Can't build data connection"}, "425 Can't build"},
		{"peer requires session reuse", ftpstest.Options{SSCN: ftpstest.ExtListed}, ftpstest.Options{RequireReuse: true}, "session reuse required"},
		{"TLS client rejects the certificate", ftpstest.Options{SSCN: ftpstest.ExtListed, VerifyPeer: true}, ftpstest.Options{Cert: realftpd.CertSelfSigned}, "certificate"},
		{"SSCN ignored", ftpstest.Options{SSCN: ftpstest.ExtIgnored}, ftpstest.Options{}, "425 Unable to build data connection"},
		// The sending TLS client resets its connection (session tickets
		// unread) while the receiver is still reading: the receiver says
		// 426, or, taking any end for the end of the file, 226 with a
		// short file, which the attempt must catch itself.
		{"sending TLS client resets", ftpstest.Options{SSCN: ftpstest.ExtListed, ResetOnClose: true},
			ftpstest.Options{Rate: 4 << 20}, "connection reset by peer"},
		{"sending TLS client resets, receiver says 226", ftpstest.Options{SSCN: ftpstest.ExtListed, ResetOnClose: true},
			ftpstest.Options{Rate: 4 << 20, LaxEnd: true}, "both servers reported success, but dst:/one.bin holds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			slow(&tc.src)
			slow(&tc.dst)
			src := startFTPS(t, "src", tc.src)
			dst := startFTPS(t, "dst", tc.dst)
			data, marker := markedData(t, 1<<20)
			src.WriteFile(t, "/src.bin", data)
			cs, cd := ftpsClient(t, src), ftpsClient(t, dst)
			e := quickEngine(t)
			capt := testutil.CaptureLoopback(t, src.Host, dst.Host, marker)
			rec, err := e.Copy(ctxT(t, time.Minute), Endpoint{cs, "/src.bin"}, Endpoint{cd, "/one.bin"}, Options{})
			st := capt.Stop()
			t.Logf("first: %+v; capture %v", rec, st)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Mode != ModeRelay || rec.Protection != "TLS from src, TLS to dst (through this host)" || !strings.Contains(rec.Fallback, tc.says) {
				t.Errorf("mode %s protection %q fallback %q; want an encrypted relay, fallback saying %q", rec.Mode, rec.Protection, rec.Fallback, tc.says)
			}
			if st.Hits[0] != 0 || st.Flows != st.TLSFlows {
				t.Errorf("between the servers: %v; want nothing in clear", st)
			}
			if files := dst.Files(t); len(files) != 1 || fileSHA(t, dst.Path("/one.bin")) != sha(data) {
				t.Errorf("destination holds %v; want /one.bin, complete", files)
			}
			tried := len(src.DataConns()) + len(dst.DataConns())

			rec, err = e.Copy(ctxT(t, time.Minute), Endpoint{cs, "/src.bin"}, Endpoint{cd, "/two.bin"}, Options{})
			t.Logf("second: %+v", rec)
			if err != nil || rec.Mode != ModeRelay || !strings.Contains(rec.Fallback, "failed at") {
				t.Errorf("second copy: %+v %v; want a relay at once, saying the encrypted way failed", rec, err)
			}
			if n := len(src.DataConns()) + len(dst.DataConns()); n != tried+2 {
				t.Errorf("the second copy made %d data connections, want the relay's 2: %+v %+v", n-tried, src.DataConns(), dst.DataConns())
			}

			forced := ftpsClient(t, src, func(c *ftpclient.ServerConfig) { c.FXP = ftpclient.FXPForce })
			_, err = quickEngine(t).Copy(ctxT(t, time.Minute), Endpoint{forced, "/src.bin"}, Endpoint{cd, "/forced.bin"}, Options{})
			if !errors.Is(err, ErrFXPRefused) {
				t.Errorf("fxp=force: %v, want ErrFXPRefused", err)
			}
			if files := dst.Files(t); len(files) != 2 {
				t.Errorf("after the forced copy the destination holds %v, want only /one.bin and /two.bin", files)
			}
		})
	}
}

// TestEncryptedFXPResume: a resumed copy by CPSV sends only the rest; one
// whose encrypted FXP is cut part way keeps the prefix (and what arrived)
// and the relay completes it.
func TestEncryptedFXPResume(t *testing.T) {
	data := randomBytes(t, 3<<20)
	half := len(data) / 2
	for _, tc := range []struct {
		name     string
		src, dst ftpstest.Options
		mode     Mode
	}{
		{"CPSV", ftpstest.Options{}, ftpstest.Options{CPSV: ftpstest.ExtListed}, ModeFXP},
		{"SSCN cut part way", ftpstest.Options{SSCN: ftpstest.ExtListed, BreakAfter: 500 << 10}, ftpstest.Options{}, ModeRelay},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, dst := startFTPS(t, "src", tc.src), startFTPS(t, "dst", tc.dst)
			src.WriteFile(t, "/f.bin", data)
			dst.WriteFile(t, "/f.bin", data[:half])
			rec, err := newEngine(t).Copy(ctxT(t, time.Minute), Endpoint{ftpsClient(t, src), "/f.bin"},
				Endpoint{ftpsClient(t, dst), "/f.bin"}, Options{Continue: true})
			t.Logf("%+v", rec)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Mode != tc.mode || rec.Resumed < int64(half) {
				t.Errorf("mode %s resumed at %d; want %s, resumed at %d or later", rec.Mode, rec.Resumed, tc.mode, half)
			}
			if fileSHA(t, dst.Path("/f.bin")) != sha(data) || len(dst.Files(t)) != 1 {
				t.Fatalf("destination differs or is not alone: %v", dst.Files(t))
			}
			var sent int64
			for _, dc := range src.DataConns() {
				if dc.Cmd == "RETR" {
					sent += dc.Bytes
				}
			}
			if sent > int64(len(data)-half) {
				t.Errorf("the source sent %d bytes, more than the %d missing: the prefix was sent again", sent, len(data)-half)
			}
		})
	}
}

// TestEncryptedFXPInterrupted: cancelling an FXP by CPSV aborts both
// transfers at once (ABOR while the TLS data flows), removes the
// destination, and leaves no server session behind; two servers that both
// wait as TLS server (SSCN accepted but ignored, no handshake timeout of
// their own) are given up after the destination's data_timeout and the
// copy relayed.
func TestEncryptedFXPInterrupted(t *testing.T) {
	t.Run("cancel", func(t *testing.T) {
		src := startFTPS(t, "src", ftpstest.Options{Rate: 1 << 20})
		dst := startFTPS(t, "dst", ftpstest.Options{CPSV: ftpstest.ExtListed})
		src.WriteFile(t, "/big.bin", randomBytes(t, 16<<20))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		moving := make(chan struct{})
		var once sync.Once
		e := newEngine(t)
		go func() {
			_, err := e.Copy(ctx, Endpoint{ftpsClient(t, src), "/big.bin"}, Endpoint{ftpsClient(t, dst), "/big.bin"},
				Options{Progress: func(r Record) {
					if r.Active && r.Bytes > 0 && strings.Contains(r.Protection, "CPSV") {
						once.Do(func() { close(moving) })
					}
				}})
			done <- err
		}()
		select {
		case <-moving:
		case err := <-done:
			t.Fatalf("copy ended before any progress: %v", err)
		case <-time.After(20 * time.Second):
			t.Fatal("no progress by CPSV in 20 s")
		}
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("err = %v, want context.Canceled", err)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("copy still running 15 s after cancel")
		}
		if files := dst.Files(t); len(files) != 0 {
			t.Errorf("files left at the destination: %v", files)
		}
		for _, s := range []*ftpstest.Server{src, dst} {
			if d, ok := lastData(s); !ok || !strings.HasPrefix(d.Reply, "426") {
				t.Errorf("%s's transfer ended %+v, want aborted (426)", s.Name, d)
			}
		}
	})

	t.Run("both wait as TLS server", func(t *testing.T) {
		long := 5 * time.Minute
		src := startFTPS(t, "src", ftpstest.Options{SSCN: ftpstest.ExtIgnored, HandshakeTimeout: long})
		dst := startFTPS(t, "dst", ftpstest.Options{HandshakeTimeout: long})
		data := randomBytes(t, 1<<20)
		src.WriteFile(t, "/f.bin", data)
		cd := ftpsClient(t, dst, func(c *ftpclient.ServerConfig) { c.DataTimeout = 3 * time.Second })
		start := time.Now()
		rec, err := newEngine(t).Copy(ctxT(t, time.Minute), Endpoint{ftpsClient(t, src), "/f.bin"}, Endpoint{cd, "/f.bin"}, Options{})
		took := time.Since(start)
		t.Logf("%+v in %v", rec, took)
		if err != nil || rec.Mode != ModeRelay || fileSHA(t, dst.Path("/f.bin")) != sha(data) {
			t.Fatalf("%+v %v: want a relay, complete", rec, err)
		}
		if took > 15*time.Second {
			t.Errorf("took %v: the stuck handshake was not given up after data_timeout (3 s)", took)
		}
	})
}

// TestEncryptedFXPOverIPv6: over IPv6 (EPSV, EPRT) CPSV has no use (its
// reply is PASV's, IPv4 only) and is never sent; SSCN still makes an
// encrypted FXP, and a pair with CPSV as its only way is relayed.
func TestEncryptedFXPOverIPv6(t *testing.T) {
	if l, err := net.Listen("tcp", "[::1]:0"); err != nil {
		t.Skipf("no IPv6 loopback (::1) on this machine: %v", err)
	} else {
		l.Close()
	}
	cp := startFTPS(t, "cpsv6", ftpstest.Options{Addr: "::1", CPSV: ftpstest.ExtListed})
	sscn := startFTPS(t, "sscn6", ftpstest.Options{Addr: "::1", SSCN: ftpstest.ExtListed})
	plain := startFTPS(t, "plain6", ftpstest.Options{Addr: "::1"})
	data := randomBytes(t, 1<<20)
	cp.WriteFile(t, "/src.bin", data)
	ccp, cs, cpl := ftpsClient(t, cp), ftpsClient(t, sscn), ftpsClient(t, plain)
	e := newEngine(t)
	for _, tc := range []struct {
		dst    *ftpclient.Client
		dstSrv *ftpstest.Server
		prot   string
	}{
		{cs, sscn, "TLS, sscn6 is the TLS client (SSCN)"},
		{cpl, plain, "TLS from cpsv6, TLS to plain6 (through this host)"},
	} {
		rec, err := e.Copy(ctxT(t, time.Minute), Endpoint{ccp, "/src.bin"}, Endpoint{tc.dst, "/f.bin"}, Options{})
		t.Logf("%+v", rec)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Protection != tc.prot || fileSHA(t, tc.dstSrv.Path("/f.bin")) != sha(data) {
			t.Errorf("protection %q, want %q (or the destination differs)", rec.Protection, tc.prot)
		}
	}
	if n := cp.Count("CPSV") + cp.Count("PASV"); n != 0 {
		t.Errorf("cpsv6 was sent CPSV or PASV %d times over IPv6", n)
	}
	if d, ok := lastData(sscn); !ok || d.TLS != "client" || d.Peer != "::1" || d.Reply[:3] != "226" {
		t.Errorf("sscn6's data connection %+v, want TLS client, 226", d)
	}
}

// TestEncryptedFXPTree: a tree copied with 4 jobs at once between a CPSV
// server (sending: the first copies learn, at the same time, that the other
// server has neither extension) and a TLS server without them: every file
// by encrypted FXP, none relayed, and the pair pays for the learning a
// bounded number of times (each job's first attempt), not per file.
func TestEncryptedFXPTree(t *testing.T) {
	cp := startFTPS(t, "cpsv", ftpstest.Options{CPSV: ftpstest.ExtListed})
	plain := startFTPS(t, "tlsonly", ftpstest.Options{})
	files := map[string][]byte{}
	for i := range 24 {
		p := fmt.Sprintf("/tree/d%d/f%02d.bin", i%3, i)
		files[p] = randomBytes(t, 20000+i*5000)
		cp.WriteFile(t, p, files[p])
	}
	e := newEngine(t)
	sum, err := e.CopyTree(ctxT(t, time.Minute), Endpoint{ftpsClient(t, cp), "/tree"}, Endpoint{ftpsClient(t, plain), "/copy"}, Options{}, 4, nil)
	t.Logf("%s", sum)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Files != 24 || sum.FXP != 24 || sum.Relay != 0 {
		t.Errorf("%d files, %d by FXP, %d relayed; want all 24 by FXP", sum.Files, sum.FXP, sum.Relay)
	}
	for p, want := range files {
		if fileSHA(t, plain.Path("/copy"+strings.TrimPrefix(p, "/tree"))) != sha(want) {
			t.Errorf("%s differs", p)
		}
	}
	for _, dc := range plain.DataConns() {
		if dc.Peer == cp.Host && dc.TLS != "server" {
			t.Errorf("a data connection between the servers was %q", dc.TLS)
		}
	}
	if n := plain.Count("CPSV") + plain.Count("SSCN"); n > 8 {
		t.Errorf("tlsonly was asked for CPSV/SSCN %d times: learning is paid per file", n)
	}
	if n := plain.Count("PASS"); n > 12 {
		// Each job's first attempts (a refused one's connections are
		// destroyed), listings: not one per file.
		t.Errorf("%d logins on tlsonly for 24 files with 4 jobs", n)
	}
}
