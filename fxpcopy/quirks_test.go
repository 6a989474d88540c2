package fxpcopy

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
	"github.com/fxpfs/fxpfs/internal/ftptest"
)

// TestQuirkCopies: a server-to-server copy from and to a server with one
// quirk (ftptest.Quirks), the other server well-behaved. Each copy arrives
// byte for byte and says how it went (FXP where the servers can, else the
// relay), with the source's mtime where both servers can tell and set it,
// within a bound; none leaves a temporary behind.
func TestQuirkCopies(t *testing.T) {
	data := bytes.Repeat([]byte("quirky server-to-server copy\n"), 40000) // ~1.1 MB
	mtime := time.Date(2021, 5, 6, 7, 8, 9, 0, time.UTC)
	rows := []struct {
		name string
		q    ftptest.Quirks
		// relay: the copy is relayed (FXP cannot work), in each direction.
		relayFrom, relayTo bool
		noMtime            bool // the quirky server can neither tell nor set times
	}{
		{name: "plain"},
		{name: "no FEAT", q: ftptest.Quirks{NoFEAT: true}, noMtime: true},
		{name: "no MLSD", q: ftptest.Quirks{NoMLSD: true}},
		{name: "no SIZE", q: ftptest.Quirks{NoSIZE: true}},
		{name: "no MDTM, no MFMT", q: ftptest.Quirks{NoMDTM: true, NoMFMT: true}, noMtime: true},
		{name: "no REST", q: ftptest.Quirks{NoREST: true}},
		{name: "no EPSV", q: ftptest.Quirks{NoEPSV: true}},
		{name: "EPSV broken", q: ftptest.Quirks{EPSVBroken: true}},
		{name: "PASV 0.0.0.0", q: ftptest.Quirks{NoEPSV: true, PASVAddr: "0,0,0,0"}},
		{name: "PASV other host", q: ftptest.Quirks{NoEPSV: true, PASVAddr: "10,1,2,3"}},
		{name: "PASV without parentheses", q: ftptest.Quirks{PASVNoParens: true}},
		{name: "multi-line 150", q: ftptest.Quirks{Multiline150: true}},
		{name: "125 for 150", q: ftptest.Quirks{Reply125: true}},
		{name: "250 for 226", q: ftptest.Quirks{Final250: true}},
		{name: "226 before data closed", q: ftptest.Quirks{FinalBeforeClose: true}},
		// Its peer never sees the end of the data: FXP from it cannot end.
		{name: "data never closed", q: ftptest.Quirks{NeverCloseData: true}, relayFrom: true},
		{name: "RNTO over a file refused", q: ftptest.Quirks{NoRenameOver: true}},
		{name: "DOS, Windows semantics", q: ftptest.Quirks{NoMLSD: true, ListStyle: ftptest.ListDOS, CaseInsensitive: true,
			NoRenameOver: true, NoDeleteBusy: true, Vague550: true}},
		{name: "NLST only", q: ftptest.Quirks{NoMLSD: true, NoLIST: true}},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			quirky := ftptest.StartQuirky(t, row.q)
			plain := ftptest.StartQuirky(t, ftptest.Quirks{})
			cq, cp := quirkCopyClient(t, quirky), quirkCopyClient(t, plain)
			e := newEngine(t)
			e.timing.completeSilence, e.timing.abortWait, e.timing.quitWait = time.Second, time.Second, 500*time.Millisecond
			for _, dir := range []struct {
				name     string
				src, dst *ftptest.Server
				cs, cd   *ftpclient.Client
				relay    bool
			}{
				{"from it", quirky, plain, cq, cp, row.relayFrom},
				{"to it", plain, quirky, cp, cq, row.relayTo},
			} {
				src := filepath.Join(dir.src.Root, "src.bin")
				if err := os.WriteFile(src, data, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Chtimes(src, mtime, mtime); err != nil {
					t.Fatal(err)
				}
				// Onto a new file, then onto the file it made (a
				// replacement), twice: by then an FXP that cannot work is
				// not tried any more.
				for i, what := range []string{"new", "existing", "existing"} {
					start := time.Now()
					rec, err := e.Copy(ctxT(t, 30*time.Second), Endpoint{dir.cs, "/src.bin"}, Endpoint{dir.cd, "/dst.bin"}, Options{})
					if err != nil {
						t.Fatalf("%s, onto a %s file: %v", dir.name, what, err)
					}
					// Two FXP attempts that never end: 2 × (completeSilence + cleanup), then the relay.
					if took := time.Since(start); took > 12*time.Second {
						t.Errorf("%s, onto a %s file: took %v", dir.name, what, took.Round(time.Millisecond))
					}
					got, err := os.ReadFile(filepath.Join(dir.dst.Root, "dst.bin"))
					if err != nil || !bytes.Equal(got, data) {
						t.Fatalf("%s, onto a %s file: %d bytes at the destination (%v), want %d", dir.name, what, len(got), err, len(data))
					}
					if relayed := rec.Mode == ModeRelay; relayed != dir.relay {
						t.Errorf("%s, onto a %s file: mode %s (%s), want relay %v", dir.name, what, rec.Mode, rec.Fallback, dir.relay)
					}
					if want := 1; rec.Attempts != want && (!dir.relay || i == 2) {
						t.Errorf("%s, onto a %s file (copy %d): %d attempts, want %d (%s)", dir.name, what, i+1, rec.Attempts, want, rec.Fallback)
					}
					fi, _ := os.Stat(filepath.Join(dir.dst.Root, "dst.bin"))
					if !row.noMtime && !fi.ModTime().Equal(mtime) {
						t.Errorf("%s, onto a %s file: mtime %v, want %v", dir.name, what, fi.ModTime(), mtime)
					}
					if l := ftptest.TempFiles(t, dir.dst.Root); len(l) != 0 {
						t.Errorf("%s, onto a %s file: temporaries left %v", dir.name, what, l)
					}
				}
			}
		})
	}
}

func quirkCopyClient(t *testing.T, srv *ftptest.Server) *ftpclient.Client {
	t.Helper()
	cfg := srv.Config(filepath.Base(srv.Root))
	cfg.DialTimeout, cfg.CmdTimeout, cfg.DataTimeout = 2*time.Second, 2*time.Second, 3*time.Second
	c, err := ftpclient.New(cfg, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
