package fxpcopy

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
	"github.com/fxpfs/fxpfs/internal/realftpd"
)

// TestFXPWithPyftpdlib (issue 7 items 8 and 9a) against real pyftpdlib
// (Debian's python3-pyftpdlib 1.5, FXP allowed): a cp -r of 30 files into
// it from vsftpd, and out of it to vsftpd, with 1 and 4 parallel copies.
// Into pyftpdlib every file goes by FXP in the default orientation (its STOR
// is answered before the data connection exists, so the source's data
// cannot reach it first); out of it, pyftpdlib as the active source now and
// then stops sending (at 64 KiB, seen with -j 4) or does not answer PORT:
// such an attempt is given up after the data timeout (5 s here) or
// StartWait and the file copied another way. Bound: 30 s per copy of 30
// files (before the fix, 20-30 files into pyftpdlib did not finish in 240 s,
// and a stalled one failed).
func TestFXPWithPyftpdlib(t *testing.T) {
	vs := realftpd.StartVsftpd(t, realftpd.Options{Addr: "127.0.0.2", FXP: true})
	py := realftpd.StartPyftpdlib(t, realftpd.Options{Addr: "127.0.0.4", FXP: true})
	const n = 30
	for i := range n {
		data := randomBytes(t, 20_000+i*4099)
		p := fmt.Sprintf("/tree/d%d/f%02d.bin", i%3, i)
		vs.WriteFile(t, p, data)
		py.WriteFile(t, p, data)
	}
	for _, tc := range []struct {
		name     string
		src, dst *realftpd.Server
		into     bool
	}{
		{"into pyftpdlib", vs, py, true},
		{"out of pyftpdlib", py, vs, false},
	} {
		for _, jobs := range []int{1, 4} {
			t.Run(fmt.Sprintf("%s, -j %d", tc.name, jobs), func(t *testing.T) {
				cs, cd := shortDataTimeout(t, tc.src), shortDataTimeout(t, tc.dst)
				e := newEngine(t)
				out := fmt.Sprintf("/copy-%d", jobs)
				start := time.Now()
				sum, err := e.CopyTree(ctxT(t, 2*time.Minute), Endpoint{cs, "/tree"}, Endpoint{cd, out}, Options{}, jobs, nil)
				took := time.Since(start)
				if err != nil {
					t.Fatalf("CopyTree: %v", err)
				}
				c := e.Counters()
				t.Logf("%v: %s; counters %+v", took, sum, c)
				if bound := 30 * time.Second; took > bound {
					t.Errorf("30 files took %v, bound %v", took, bound)
				}
				if sum.Files != n || c.FXPFiles != n {
					t.Errorf("%d files copied, %d by FXP; want %d, all by FXP", sum.Files, c.FXPFiles, n)
				}
				if tc.into && (c.FXPRevFiles != 0 || c.Retried != 0) {
					t.Errorf("into pyftpdlib: %d reversed, %d retried; want every file in the default orientation at once",
						c.FXPRevFiles, c.Retried)
				}
				if t.Failed() {
					if b, err := os.ReadFile(py.LogFile); err == nil {
						t.Logf("pyftpdlib's log:\n%s", b[max(0, len(b)-20000):])
					}
				}
				for i := range n {
					p := fmt.Sprintf("/d%d/f%02d.bin", i%3, i)
					want, _ := os.ReadFile(tc.src.Path("/tree" + p))
					if got := fileSHA(t, tc.dst.Path(out+p)); got != sha(want) {
						t.Errorf("%s differs at the destination", p)
					}
				}
			})
		}
	}
}

// shortDataTimeout is a client of srv whose stalls are declared after 5 s.
func shortDataTimeout(t *testing.T, srv *realftpd.Server) *ftpclient.Client {
	cfg := srv.Config("")
	cfg.DataTimeout = 5 * time.Second
	c, err := ftpclient.New(cfg, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
