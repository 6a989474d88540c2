package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/fxpfs/fxpfs/fxpcopy"
	"github.com/fxpfs/fxpfs/internal/realftpd"
)

// TestFXPRefusedFallsBack: vsftpd with its default port_promiscuous=NO and
// pasv_promiscuous=NO refuses FXP. A copy through the mount in either
// direction is still correct, and `fxpfs status` reports the reversed
// orientation or the relay, with the reason.
func TestFXPRefusedFallsBack(t *testing.T) {
	t.Parallel()
	alpha, beta := startPair(t, realftpd.Options{FXP: false}, realftpd.Options{FXP: true})
	a := putRandom(t, alpha, "/src/a.bin", 4<<20+1)
	b := putRandom(t, beta, "/src/b.bin", 3<<20+2)
	alpha.MkdirAll(t, "/dst")
	beta.MkdirAll(t, "/dst")
	m := startMount(t, mountSpec{servers: []*realftpd.Server{alpha, beta}})
	for _, c := range []struct {
		name     string
		src, dst string // mount paths
		to       *realftpd.Server
		rel      string
		want     []byte
	}{
		{"alpha_to_beta", "alpha/src/a.bin", "beta/dst/a.bin", beta, "/dst/a.bin", a},
		{"beta_to_alpha", "beta/src/b.bin", "alpha/dst/b.bin", alpha, "/dst/b.bin", b},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := m.status(t)
			m.mustRun(t, "cp", m.path(c.src), m.path(c.dst))
			after := m.status(t)
			if got := readDisk(t, c.to, c.rel); shaHex(got) != shaHex(c.want) {
				t.Errorf("%s on disk: %d bytes, sha %s, want %d bytes sha %s", c.rel, len(got), shaHex(got),
					len(c.want), shaHex(c.want))
			}
			recs := newRecords(before, after)
			if len(recs) != 1 {
				t.Fatalf("fxpfs status: %d new transfer records, want 1: %+v", len(recs), recs)
			}
			r := recs[0]
			t.Logf("record: mode %s, fallback %q, verified %q", r.Mode, r.Fallback, r.Verified)
			if r.Err != "" || (r.Mode != fxpcopy.ModeRelay && r.Mode != fxpcopy.ModeFXPRev) || r.Fallback == "" {
				t.Errorf("record: mode %q fallback %q err %q, want relay or fxp-reversed with a reason", r.Mode, r.Fallback, r.Err)
			}
			size := int64(len(c.want))
			bc, ac := before.Counters, after.Counters
			switch r.Mode {
			case fxpcopy.ModeRelay:
				if ac.RelayFiles-bc.RelayFiles != 1 || ac.RelayBytes-bc.RelayBytes != size {
					t.Errorf("relayed: counters grew by %d files / %d bytes, want 1 / %d",
						ac.RelayFiles-bc.RelayFiles, ac.RelayBytes-bc.RelayBytes, size)
				}
			case fxpcopy.ModeFXPRev:
				if ac.FXPFiles-bc.FXPFiles != 1 || ac.RelayBytes != bc.RelayBytes {
					t.Errorf("reversed FXP: counters %+v -> %+v", bc, ac)
				}
			}
			// The human-readable status shows the reason too.
			out := m.mustRun(t, fxpfsBin, "status", m.dir)
			if !strings.Contains(out, r.Fallback) {
				t.Errorf("fxpfs status does not show the fallback reason %q:\n%s", r.Fallback, out)
			}
		})
	}
}

// TestFXPForceFails: with fxp = "force" in the config and FXP impossible
// (both servers refuse it), cp through the mount fails with an I/O error,
// nothing is relayed, and no complete-looking destination remains.
func TestFXPForceFails(t *testing.T) {
	t.Parallel()
	alpha, beta := startPair(t, realftpd.Options{FXP: false}, realftpd.Options{FXP: false})
	a := putRandom(t, alpha, "/src/a.bin", 2<<20)
	putRandom(t, beta, "/src/b.bin", 2<<20)
	alpha.MkdirAll(t, "/dst")
	beta.MkdirAll(t, "/dst")
	config := fmt.Sprintf(`
[servers.alpha]
url = %q
fxp = "force"

[servers.beta]
url = %q
`, serverURL(alpha), serverURL(beta))
	m := startMount(t, mountSpec{servers: []*realftpd.Server{alpha, beta}, config: config})
	for _, c := range []struct {
		name, src, dst string
		to             *realftpd.Server
		rel            string
	}{
		{"from_force_server", "alpha/src/a.bin", "beta/dst/a.bin", beta, "/dst/a.bin"},
		{"to_force_server", "beta/src/b.bin", "alpha/dst/b.bin", alpha, "/dst/b.bin"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := m.status(t)
			r := m.run(t, "cp", m.path(c.src), m.path(c.dst))
			after := m.status(t)
			if r.err == nil || !strings.Contains(r.stderr, "Input/output error") {
				t.Errorf("cp with fxp = force and FXP refused: want an I/O error: %s", r)
			}
			if ok, n := existsDisk(c.to, c.rel); ok && n >= int64(len(a)) {
				t.Errorf("%s on disk: %d bytes, looks complete after a failed copy", c.rel, n)
			}
			if ac := after.Counters; ac.RelayBytes != 0 || ac.RelayFiles != 0 {
				t.Errorf("fxp = force relayed data: %+v", ac)
			}
			if d := after.Counters.Failed - before.Counters.Failed; d != 1 {
				t.Errorf("counters: Failed grew by %d, want 1", d)
			}
			for _, rec := range newRecords(before, after) {
				if rec.Err == "" {
					t.Errorf("record %s -> %s (mode %s) has no error", rec.Src, rec.Dst, rec.Mode)
				}
				t.Logf("record: mode %q err %q fallback %q", rec.Mode, rec.Err, rec.Fallback)
			}
		})
	}
	// Reading still works under the force policy.
	if got := fileSHA(t, m.path("alpha", "src", "a.bin")); got != shaHex(a) {
		t.Errorf("reading alpha's file after the failures: sha %s", got)
	}
}
