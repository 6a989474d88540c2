package ftpclient_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/internal/ftptest"
)

// TestNoFEATProbesMDTM: a server older than FEAT (netkit's ftpd 0.17,
// Debian's ftpd/ftpd-ssl, other BSD-derived ftpds: "500 'FEAT': command not
// understood") mostly has MDTM all the same. One "MDTM ." at the first login
// finds out, so that its listings get second-precision times (LIST gives the
// minute, or the day for older files) instead of none; a server without MDTM
// costs that one command, not one per file and listing.
func TestNoFEATProbesMDTM(t *testing.T) {
	for _, tc := range []struct {
		name      string
		q         ftptest.Quirks
		precise   bool
		wantMDTMs int // MDTM commands received in all: the probe, then one per file listed
	}{
		{"netkit-like: MDTM without FEAT", ftptest.Quirks{NoFEAT: true, NoMLSD: true}, true, 2},
		{"no MDTM either", ftptest.Quirks{NoFEAT: true, NoMLSD: true, NoMDTM: true}, false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, srv := quirkClient(t, tc.q)
			mt := time.Now().Add(-72 * time.Hour).Truncate(time.Minute).Add(17 * time.Second).UTC()
			p := filepath.Join(srv.Root, "f.txt")
			if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(p, mt, mt); err != nil {
				t.Fatal(err)
			}
			ctx := ctxT(t)
			ents, err := c.List(ctx, "/")
			if err != nil || len(ents) != 1 {
				t.Fatalf("List: %+v, %v", ents, err)
			}
			got := ents[0].Mtime.UTC()
			want := mt
			if !tc.precise {
				want = mt.Truncate(time.Minute) // LIST's precision
			}
			if !got.Equal(want) {
				t.Errorf("listed mtime %v, want %v", got, want)
			}
			if f, err := c.Features(ctx); err != nil || f.MDTM != tc.precise {
				t.Errorf("Features().MDTM = %v (%v), want %v", f.MDTM, err, tc.precise)
			}
			n := 0
			for _, line := range srv.Received() {
				if strings.HasPrefix(strings.ToUpper(line), "MDTM ") {
					n++
				}
			}
			if n != tc.wantMDTMs {
				t.Errorf("%d MDTM commands, want %d (%q)", n, tc.wantMDTMs, srv.Received())
			}
		})
	}
}
