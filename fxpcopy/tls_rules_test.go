package fxpcopy

import (
	"strings"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
	"github.com/fxpfs/fxpfs/internal/ftpstest"
	"github.com/fxpfs/fxpfs/internal/testutil"
)

// TestRefusedSSCN: a server that lists SSCN in FEAT but refuses it. The
// copy falls through to the next way within the same attempt (the other
// server as SSCN client), or relays where there is none; the refusal is
// remembered, so the server is asked once only.
func TestRefusedSSCN(t *testing.T) {
	liar := startFTPS(t, "liar", ftpstest.Options{SSCN: ftpstest.ExtRefused})
	sscn := startFTPS(t, "sscn", ftpstest.Options{SSCN: ftpstest.ExtListed})
	plain := startFTPS(t, "tlsonly", ftpstest.Options{})
	data, marker := markedData(t, 1<<20)
	for _, s := range []*ftpstest.Server{liar, sscn, plain} {
		s.WriteFile(t, "/src.bin", data)
	}
	cl, cs, cp := ftpsClient(t, liar), ftpsClient(t, sscn), ftpsClient(t, plain)
	e := newEngine(t)
	for i := range 2 {
		dst := []string{"/one.bin", "/two.bin"}[i]
		capt := testutil.CaptureLoopback(t, liar.Host, sscn.Host, marker)
		rec, err := e.Copy(ctxT(t, time.Minute), Endpoint{cs, "/src.bin"}, Endpoint{cl, dst}, Options{})
		st := capt.Stop()
		t.Logf("sscn to liar: %+v; capture %v", rec, st)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Attempts != 1 {
			t.Errorf("%d attempts, want the next plan within the first", rec.Attempts)
		}
		checkEncrypted(t, rec, st, len(data), sscn, liar, "SSCN", false)
		if fileSHA(t, liar.Path(dst)) != sha(data) {
			t.Fatalf("destination differs")
		}
	}
	for i := range 2 {
		dst := []string{"/one.bin", "/two.bin"}[i]
		rec, err := e.Copy(ctxT(t, time.Minute), Endpoint{cl, "/src.bin"}, Endpoint{cp, dst}, Options{})
		t.Logf("liar to tlsonly: %+v", rec)
		if err != nil || rec.Mode != ModeRelay {
			t.Fatalf("%+v %v; want a relay", rec, err)
		}
		if fileSHA(t, plain.Path(dst)) != sha(data) {
			t.Fatalf("destination differs")
		}
	}
	if n := liar.Count("SSCN"); n != 1 {
		t.Errorf("liar was sent SSCN %d times, want once: %q", n, liar.Commands())
	}
}

// TestFXPClearDataRule: the clear-text rule with servers that have no
// encrypted way between them. Clear FXP only where every TLS server of the
// pair allows it (and the capture then does see the marker, so it can tell);
// an encrypted way is still preferred where one exists; a server that
// refuses clear data at PROT C or at the transfer (522) makes the copy
// relay all the same, and the destination holds only the complete file. A
// pair that can only be relayed takes no FXP connection at all.
func TestFXPClearDataRule(t *testing.T) {
	data, marker := markedData(t, 1<<20)
	for _, tc := range []struct {
		name           string
		src, dst       ftpstest.Options
		srcClr, dstClr bool
		wantClear      bool   // clear FXP, else no clear data between the servers
		mode           Mode   // "" for either FXP orientation
		prot           string // Record.Protection prefix
	}{
		{"clear allowed on both", ftpstest.Options{}, ftpstest.Options{}, true, true, true, "",
			"clear, allowed by fxp_clear_data on src, dst"},
		{"clear allowed on the source only", ftpstest.Options{}, ftpstest.Options{}, true, false, false, ModeRelay,
			"TLS from src, TLS to dst"},
		{"clear allowed, SSCN offered", ftpstest.Options{SSCN: ftpstest.ExtListed}, ftpstest.Options{}, true, true, false, "",
			"TLS, src is the TLS client (SSCN)"},
		{"clear allowed, PROT C refused", ftpstest.Options{}, ftpstest.Options{ClearData: ftpstest.ClearRefusedAtProt}, true, true, false, ModeRelay,
			"TLS from src, TLS to dst"},
		{"clear allowed, clear transfer refused", ftpstest.Options{}, ftpstest.Options{ClearData: ftpstest.ClearRefusedAtTransfer}, true, true, false, ModeRelay,
			"TLS from src, TLS to dst"},
		{"plain destination, clear allowed", ftpstest.Options{}, ftpstest.Options{NoTLS: true}, true, false, true, "",
			"clear, allowed by fxp_clear_data on src (dst has no TLS)"},
		{"plain destination, clear not allowed", ftpstest.Options{}, ftpstest.Options{NoTLS: true}, false, false, false, ModeRelay,
			"TLS from src, clear to dst"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, dst := startFTPS(t, "src", tc.src), startFTPS(t, "dst", tc.dst)
			src.WriteFile(t, "/src.bin", data)
			clr := func(b bool) func(*ftpclient.ServerConfig) {
				return func(c *ftpclient.ServerConfig) { c.FXPClearData = b }
			}
			cs, cd := ftpsClient(t, src, clr(tc.srcClr)), ftpsClient(t, dst, clr(tc.dstClr))
			e := quickEngine(t)
			for i, name := range []string{"/one.bin", "/two.bin"} {
				logins := src.Count("PASS") + dst.Count("PASS")
				capt := testutil.CaptureLoopback(t, src.Host, dst.Host, marker)
				rec, err := e.Copy(ctxT(t, time.Minute), Endpoint{cs, "/src.bin"}, Endpoint{cd, name}, Options{})
				st := capt.Stop()
				t.Logf("%s: %+v; capture %v", name, rec, st)
				if err != nil {
					t.Fatal(err)
				}
				if tc.mode == ModeRelay && rec.Mode != ModeRelay || tc.mode == "" && rec.Mode == ModeRelay {
					t.Errorf("mode %s (fallback %q), want %q", rec.Mode, rec.Fallback, tc.mode)
				}
				if !strings.HasPrefix(rec.Protection, tc.prot) {
					t.Errorf("protection %q, want %q...", rec.Protection, tc.prot)
				}
				if got := st.Hits[0] > 0; got != tc.wantClear || st.Dropped != 0 {
					t.Errorf("capture %v: clear marker seen %v, want %v", st, got, tc.wantClear)
				}
				if rec.Mode == ModeRelay && st.Payload != 0 && tc.dst.ClearData == ftpstest.ClearAllowed {
					t.Errorf("relayed, yet %d bytes went between the servers", st.Payload)
				}
				if fileSHA(t, dst.Path(name)) != sha(data) || len(dst.Files(t)) != i+1 {
					t.Errorf("destination holds %v, want the complete copies only", dst.Files(t))
				}
				if n := src.Count("PASS") + dst.Count("PASS") - logins; i > 0 && n != 0 {
					t.Errorf("the second copy logged in %d times: a way known to fail (or to work) costs no new connection", n)
				}
			}
			// After a clear FXP the sessions are back to PROT P and kept:
			// a listing from the pool is encrypted again.
			if _, err := cd.List(ctxT(t, time.Minute), "/"); err != nil {
				t.Fatal(err)
			}
			if dcs := dst.DataConns(); dst.TLS && dcs[len(dcs)-1].TLS != "server" {
				t.Errorf("listing after the copies went %q", dcs[len(dcs)-1].TLS)
			}
		})
	}
}

// TestUnlistedExtensions: SSCN and CPSV that a server does not list in
// FEAT are found by trying them, in the first attempt, after the other
// server's (which refuses them and is not asked again).
func TestUnlistedExtensions(t *testing.T) {
	data := randomBytes(t, 1<<20)
	for _, tc := range []struct {
		name   string
		opts   ftpstest.Options
		method string
	}{
		{"CPSV", ftpstest.Options{CPSV: ftpstest.ExtHidden}, "CPSV"},
		{"SSCN", ftpstest.Options{SSCN: ftpstest.ExtHidden}, "SSCN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hidden := startFTPS(t, "hidden", tc.opts)
			plain := startFTPS(t, "tlsonly", ftpstest.Options{})
			hidden.WriteFile(t, "/src.bin", data)
			plain.WriteFile(t, "/src.bin", data)
			ch, cp := ftpsClient(t, hidden), ftpsClient(t, plain)
			e := newEngine(t)
			src, dst, dstSrv := cp, ch, hidden // CPSV: the hidden server must be passive
			if tc.method == "SSCN" {
				src, dst, dstSrv = ch, cp, plain
			}
			for _, name := range []string{"/one.bin", "/two.bin"} {
				rec, err := e.Copy(ctxT(t, time.Minute), Endpoint{src, "/src.bin"}, Endpoint{dst, name}, Options{})
				t.Logf("%+v", rec)
				if err != nil {
					t.Fatal(err)
				}
				want := "TLS, hidden is the TLS client (" + tc.method + ")"
				if rec.Protection != want || rec.Attempts != 1 || fileSHA(t, dstSrv.Path(name)) != sha(data) {
					t.Errorf("protection %q after %d attempts; want %q at once, complete", rec.Protection, rec.Attempts, want)
				}
			}
			if n := plain.Count("SSCN") + plain.Count("CPSV"); n > 2 {
				t.Errorf("tlsonly was asked for SSCN/CPSV %d times, want at most once each", n)
			}
		})
	}
}
