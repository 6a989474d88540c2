package fxpcopy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// Tests against in-process fake servers (fakeftp_test.go): the misbehaving
// peers of issue 7 on demand, on loopback addresses 127.0.0.2 and 127.0.0.3
// so that each server sees the other as a foreign address.

// fakeClient returns a client for f, closed at cleanup.
func fakeClient(t testing.TB, f *fakeFTP, mutate ...func(*ftpclient.ServerConfig)) *ftpclient.Client {
	t.Helper()
	cfg := f.config()
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

// TestFakeFXP: the plain case between two well-behaved fakes, both
// orientations: data right, nothing relayed, connections pooled again.
func TestFakeFXP(t *testing.T) {
	a := startFake(t, "a", "127.0.0.2")
	b := startFake(t, "b", "127.0.0.3")
	data := randomBytes(t, 1<<20+5)
	a.put("/f.bin", data)
	ca, cb := fakeClient(t, a), fakeClient(t, b)
	e := newEngine(t)
	rec, err := e.Copy(ctxT(t, 30*time.Second), Endpoint{ca, "/f.bin"}, Endpoint{cb, "/g.bin"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := b.get("/g.bin"); !bytes.Equal(got, data) || rec.Mode != ModeFXP || rec.Attempts != 1 {
		t.Fatalf("mode %s attempts %d, %d bytes at the destination", rec.Mode, rec.Attempts, len(got))
	}
	// The reversed orientation, when the default one is remembered as refused.
	e.rememberRefused(cb, ca, ModeFXP, "test")
	rec, err = e.Copy(ctxT(t, 30*time.Second), Endpoint{cb, "/g.bin"}, Endpoint{ca, "/h.bin"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := a.get("/h.bin"); !bytes.Equal(got, data) || rec.Mode != ModeFXPRev {
		t.Fatalf("mode %s, %d bytes at the destination", rec.Mode, len(got))
	}
	if c := e.Counters(); c.FXPFiles != 2 || c.FXPRevFiles != 1 || c.RelayBytes != 0 {
		t.Errorf("counters %+v", c)
	}
}

// TestFXPIntoEarlyDropServer (issue 7 item 8): a destination that answers
// STOR at once and drops a data connection arriving before its STOR
// (pyftpdlib). The passive side's command goes first and its early 150 is
// awaited, so no connection is ever dropped and every file goes by FXP in
// the default orientation. Bound: 30 files in 10 s (the old order took
// 10-60 s per file).
func TestFXPIntoEarlyDropServer(t *testing.T) {
	for _, jobs := range []int{1, 4} {
		t.Run(fmt.Sprintf("jobs=%d", jobs), func(t *testing.T) {
			src := startFake(t, "src", "127.0.0.2")
			dst := startFake(t, "py", "127.0.0.3", func(f *fakeFTP) { f.early = true })
			files := map[string][]byte{}
			for i := range 30 {
				p := fmt.Sprintf("/tree/d%d/f%02d.bin", i%3, i)
				files[p] = randomBytes(t, 1000+i*977)
				src.put(p, files[p])
			}
			cs, cd := fakeClient(t, src), fakeClient(t, dst)
			e := newEngine(t)
			start := time.Now()
			sum, err := e.CopyTree(ctxT(t, time.Minute), Endpoint{cs, "/tree"}, Endpoint{cd, "/copy"}, Options{}, jobs, nil)
			took := time.Since(start)
			if err != nil {
				t.Fatalf("CopyTree: %v\n%s", err, sum)
			}
			t.Logf("%d files in %v: %s", sum.Files, took, sum)
			const bound = 10 * time.Second
			if took > bound {
				t.Errorf("30 files took %v, bound %v", took, bound)
			}
			for p, want := range files {
				if got, ok := dst.get("/copy" + strings.TrimPrefix(p, "/tree")); !ok || !bytes.Equal(got, want) {
					t.Errorf("%s: %d bytes at the destination, want %d", p, len(got), len(want))
				}
			}
			c := e.Counters()
			if c.FXPFiles != 30 || c.FXPRevFiles != 0 || c.Retried != 0 || c.RelayFiles != 0 {
				t.Errorf("counters %+v: want 30 files by FXP in the default orientation, none retried", c)
			}
			if dst.dropped != 0 {
				t.Errorf("the destination dropped %d early data connections", dst.dropped)
			}
		})
	}
}

// TestRefusedFXPDetectedOnce (issue 7 item 9): a destination that refuses
// foreign addresses the pure-ftpd way — PORT refused, and a passive
// connection from the other server dropped while it keeps waiting without
// reading its control connection. The first file falls back within 5 s;
// the rest go straight to the relay (the refusal is remembered per pair and
// orientation); no server session outlives the copy.
func TestRefusedFXPDetectedOnce(t *testing.T) {
	src := startFake(t, "src", "127.0.0.2")
	dst := startFake(t, "pure", "127.0.0.3", func(f *fakeFTP) {
		f.refuseForeign = true
		f.idleTimeout = time.Minute // a leaked session would live this long
	})
	const n = 10
	for i := range n {
		src.put(fmt.Sprintf("/in/f%d", i), randomBytes(t, 50_000+i))
	}
	cs, cd := fakeClient(t, src), fakeClient(t, dst)
	e := newEngine(t)
	var recs []Record
	start := time.Now()
	sum, err := e.CopyTree(ctxT(t, time.Minute), Endpoint{cs, "/in"}, Endpoint{cd, "/out"}, Options{}, 1,
		func(r Record) {
			if !r.Active {
				recs = append(recs, r)
			}
		})
	took := time.Since(start)
	if err != nil {
		t.Fatalf("CopyTree: %v", err)
	}
	t.Logf("%d files in %v: %s", sum.Files, took, sum)
	if len(recs) != n {
		t.Fatalf("%d records", len(recs))
	}
	first := recs[0]
	t.Logf("first file: mode %s, %v, fallback %q", first.Mode, first.Duration, first.Fallback)
	if first.Mode != ModeRelay || first.Duration > 5*time.Second || first.Reason != RelayRefused {
		t.Errorf("first file: mode %s reason %q in %v, want a relay within 5s", first.Mode, first.Reason, first.Duration)
	}
	for _, r := range recs[1:] {
		if r.Mode != ModeRelay || r.Attempts != 1 || r.Reason != RelayRemembered || r.Duration > time.Second {
			t.Errorf("%s: mode %s attempts %d reason %q in %v, want a direct relay", r.Src, r.Mode, r.Attempts, r.Reason, r.Duration)
		}
	}
	if c := e.Counters(); c.RelayReasons[RelayRemembered] != n-1 || c.RelayReasons[RelayRefused] != 1 {
		t.Errorf("counters %+v", c)
	}
	for i := range n {
		want, _ := src.get(fmt.Sprintf("/in/f%d", i))
		if got, _ := dst.get(fmt.Sprintf("/out/f%d", i)); !bytes.Equal(got, want) {
			t.Errorf("f%d: %d bytes, want %d", i, len(got), len(want))
		}
	}
	// No session left behind: once the clients close their pools, the
	// server has no session (a session stuck waiting for a data connection
	// would live for its idle timeout, a minute).
	cs.Close()
	cd.Close()
	if got := dst.waitSessions(0, 3*time.Second); got != 0 {
		t.Errorf("%d sessions still alive on the refusing server", got)
	}
	if got := src.waitSessions(0, 3*time.Second); got != 0 {
		t.Errorf("%d sessions still alive on the source", got)
	}
}

// TestFXPSourceNeverEnds (issue 7 item 9a): an active source that sends
// every byte and never ends the transfer. The attempt is given up after
// CompleteSilence (shortened here) and the reversed orientation, on fresh
// connections, copies the file.
func TestFXPSourceNeverEnds(t *testing.T) {
	src := startFake(t, "src", "127.0.0.2", func(f *fakeFTP) { f.neverEndActive = true })
	dst := startFake(t, "dst", "127.0.0.3")
	data := randomBytes(t, 300_000)
	src.put("/a.bin", data)
	cs, cd := fakeClient(t, src), fakeClient(t, dst)
	e := newEngine(t)
	e.timing.completeSilence = time.Second
	rec, err := e.Copy(ctxT(t, time.Minute), Endpoint{cs, "/a.bin"}, Endpoint{cd, "/b.bin"}, Options{})
	if err != nil {
		t.Fatalf("Copy: %v", err)
	}
	t.Logf("mode %s attempts %d in %v: %s", rec.Mode, rec.Attempts, rec.Duration, rec.Fallback)
	if rec.Mode != ModeFXPRev || rec.Attempts != 2 || !strings.Contains(rec.Fallback, "did not end") {
		t.Errorf("mode %s attempts %d fallback %q", rec.Mode, rec.Attempts, rec.Fallback)
	}
	if got, _ := dst.get("/b.bin"); !bytes.Equal(got, data) {
		t.Errorf("%d bytes at the destination", len(got))
	}
	if c := e.Counters(); c.Retried != 1 || c.FXPRevFiles != 1 {
		t.Errorf("counters %+v", c)
	}
	// Fresh connections: the session that ran the failed RETR got nothing
	// after it but ABOR and QUIT.
	checkNoReuse(t, src)
}

// checkNoReuse fails if a session that was sent ABOR (an attempt given up)
// received any command after it other than QUIT: a failed attempt's
// connections are never used again.
func checkNoReuse(t *testing.T, f *fakeFTP) {
	t.Helper()
	aborted := map[string]bool{}
	n := 0
	for _, c := range f.commands() {
		id, line, _ := strings.Cut(c, " ")
		switch {
		case aborted[id] && !strings.EqualFold(line, "QUIT") && !strings.EqualFold(line, "ABOR"):
			t.Errorf("session %s used again after ABOR: %q", id, line)
		case strings.EqualFold(line, "ABOR"):
			aborted[id] = true
			n++
		}
	}
	if n == 0 {
		t.Errorf("no ABOR seen: the attempt was not given up as expected")
	}
}

// TestFXPBounce (issue 7 item 11): a PASV reply naming a third host is not
// passed on: the other server is told the passive server's own address,
// and the copy works. A server that refuses PASV is asked for EPSV.
func TestFXPBounce(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(*fakeFTP)
	}{
		{"PASV names a third host", func(f *fakeFTP) { f.pasvHost = "10.9.8.7" }},
		{"PASV refused, EPSV", func(f *fakeFTP) { f.noPASV = true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := startFake(t, "src", "127.0.0.2")
			dst := startFake(t, "dst", "127.0.0.3", tc.setup)
			data := randomBytes(t, 200_000)
			src.put("/a.bin", data)
			e := newEngine(t)
			rec, err := e.Copy(ctxT(t, 30*time.Second), Endpoint{fakeClient(t, src), "/a.bin"},
				Endpoint{fakeClient(t, dst), "/b.bin"}, Options{})
			if err != nil {
				t.Fatalf("Copy: %v", err)
			}
			if got, _ := dst.get("/b.bin"); !bytes.Equal(got, data) || rec.Mode != ModeFXP {
				t.Errorf("mode %s (%s), %d bytes", rec.Mode, rec.Fallback, len(got))
			}
			ports := src.portArgs()
			if len(ports) != 1 || !strings.HasPrefix(ports[0], "PORT 127,0,0,3,") {
				t.Errorf("the source was told %q, want the destination's own address 127.0.0.3", ports)
			}
		})
	}
}

// TestCopyErrors (issue 7 item 5): every failure wraps the ftpclient
// sentinel (or context error) that fusefs maps to an errno.
func TestCopyErrors(t *testing.T) {
	type tc struct {
		name     string
		src, dst func(*fakeFTP)
		cfg      func(*ftpclient.ServerConfig) // both clients
		cancel   bool
		noSource bool
		want     error
		attempts int  // ways tried (0: not checked)
		intact   bool // DestinationIntact
	}
	for _, c := range []tc{
		{name: "STOR refused: no space", dst: func(f *fakeFTP) {
			f.storReply = func(string) string { return "552 Disk full" }
		}, want: ftpclient.ErrNoSpace, attempts: 1, intact: true},
		{name: "STOR refused: permission", dst: func(f *fakeFTP) {
			f.storReply = func(string) string { return "553 Not allowed" }
		}, want: ftpclient.ErrPermission, attempts: 1, intact: true},
		{name: "no space at the end of STOR", dst: func(f *fakeFTP) {
			f.storFinal = func(string, int64) string { return "552 Quota exceeded" }
		}, want: ftpclient.ErrNoSpace, attempts: 1},
		{name: "relayed STOR refused: no space", dst: func(f *fakeFTP) {
			f.storReply = func(string) string { return "552 Disk full" }
		}, cfg: func(c *ftpclient.ServerConfig) { c.FXP = ftpclient.FXPOff }, want: ftpclient.ErrNoSpace, attempts: 1, intact: true},
		{name: "source missing", noSource: true, want: ftpclient.ErrNotFound},
		{name: "FXP forced and refused", src: func(f *fakeFTP) { f.refuseForeign = true },
			dst: func(f *fakeFTP) { f.refuseForeign = true },
			cfg: func(c *ftpclient.ServerConfig) { c.FXP = ftpclient.FXPForce }, want: ErrFXPRefused, attempts: 2},
		{name: "cancelled", src: func(f *fakeFTP) { f.rate = 200 << 10 }, cancel: true, want: context.Canceled},
		{name: "stall", src: func(f *fakeFTP) { f.stallAfter = 100_000 },
			cfg: func(c *ftpclient.ServerConfig) { c.DataTimeout = time.Second }, want: ftpclient.ErrTimeout, attempts: 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			fc := newFakeCopy(t, c.src, c.dst, c.cfg)
			dst := fc.dst
			if !c.noSource {
				fc.src.put("/a.bin", randomBytes(t, 1<<20))
			}
			var cancelAt int64
			if c.cancel {
				cancelAt = 100_000
			}
			rec, err := fc.run(cancelAt)
			t.Logf("err: %v (attempts %d, reason %q)", err, rec.Attempts, rec.Reason)
			if !errors.Is(err, c.want) {
				t.Errorf("err = %v, want one wrapping %v", err, c.want)
			}
			if c.attempts > 0 && rec.Attempts != c.attempts {
				t.Errorf("%d ways tried, want %d: a refused file fares no better another way", rec.Attempts, c.attempts)
			}
			if DestinationIntact(err) != c.intact {
				t.Errorf("DestinationIntact = %v, want %v", !c.intact, c.intact)
			}
			if _, ok := dst.get("/b.bin"); ok {
				t.Errorf("destination left behind")
			}
		})
	}
}

// fakeCopy is a copy of /a.bin between two fakes (src on 127.0.0.2, dst on
// 127.0.0.3), with an engine that takes a silent peer's 226 quickly.
type fakeCopy struct {
	src, dst *fakeFTP
	cs, cd   *ftpclient.Client
	e        *Engine
}

// newFakeCopy starts the fakes, set up by src and dst, and their clients,
// changed by cfg (each may be nil).
func newFakeCopy(t *testing.T, src, dst func(*fakeFTP), cfg func(*ftpclient.ServerConfig)) *fakeCopy {
	t.Helper()
	var ss, ds []func(*fakeFTP)
	if src != nil {
		ss = append(ss, src)
	}
	if dst != nil {
		ds = append(ds, dst)
	}
	fc := &fakeCopy{src: startFake(t, "src", "127.0.0.2", ss...), dst: startFake(t, "dst", "127.0.0.3", ds...)}
	var cm []func(*ftpclient.ServerConfig)
	if cfg != nil {
		cm = append(cm, cfg)
	}
	fc.cs, fc.cd = fakeClient(t, fc.src, cm...), fakeClient(t, fc.dst, cm...)
	fc.e = newEngine(t)
	fc.e.timing.completeSilence = 500 * time.Millisecond
	return fc
}

// run copies src:/a.bin to dst:/b.bin within a minute; with cancelAt > 0
// the copy is cancelled once that many bytes are done.
func (fc *fakeCopy) run(cancelAt int64) (Record, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	opts := Options{}
	if cancelAt > 0 {
		opts.Progress = func(r Record) {
			if r.Active && r.Bytes > cancelAt {
				cancel()
			}
		}
	}
	return fc.e.Copy(ctx, Endpoint{fc.cs, "/a.bin"}, Endpoint{fc.cd, "/b.bin"}, opts)
}

// TestInterruptedFXPLeavesNothing (issue 7 item 4): ctx is cancelled while
// an FXP transfer runs onto a server that, like pure-ftpd, keeps a file
// under a hidden name when DELE comes while its upload still runs. ABOR on
// both sides and waiting for the transfers to end before DELE leave
// nothing at the destination, hidden or not, within AbortWait + RemoveWait.
func TestInterruptedFXPLeavesNothing(t *testing.T) {
	for _, mode := range []Mode{ModeFXP, ModeFXPRev} {
		t.Run(string(mode), func(t *testing.T) {
			src := startFake(t, "src", "127.0.0.2", func(f *fakeFTP) { f.rate = 1 << 20 })
			dst := startFake(t, "dst", "127.0.0.3", func(f *fakeFTP) {
				f.hiddenRename, f.stopLag = true, 300*time.Millisecond
			})
			src.put("/big.bin", randomBytes(t, 8<<20))
			cs, cd := fakeClient(t, src), fakeClient(t, dst)
			e := newEngine(t)
			if mode == ModeFXPRev {
				e.rememberRefused(cs, cd, ModeFXP, "test: reversed only")
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var cancelled time.Time
			_, err := e.Copy(ctx, Endpoint{cs, "/big.bin"}, Endpoint{cd, "/big.bin"}, Options{
				Progress: func(r Record) {
					if r.Active && r.Bytes > 300_000 && cancelled.IsZero() {
						cancelled = time.Now()
						cancel()
					}
				}})
			took := time.Since(cancelled)
			t.Logf("err %v, %v after the cancellation", err, took)
			if !errors.Is(err, context.Canceled) {
				t.Errorf("err = %v, want context.Canceled", err)
			}
			if bound := AbortWait + RemoveWait; cancelled.IsZero() || took > bound {
				t.Errorf("Copy returned %v after the cancellation, bound %v", took, bound)
			}
			if names := dst.names(); len(names) != 0 || dst.renamed != 0 {
				t.Errorf("left at the destination: %q (%d kept under a hidden name)", names, dst.renamed)
			}
			cs.Close()
			cd.Close()
			for _, f := range []*fakeFTP{src, dst} {
				if n := f.waitSessions(0, 3*time.Second); n != 0 {
					t.Errorf("%s: %d sessions still alive", f.name, n)
				}
			}
		})
	}
}

// TestHostileNamesShownEscaped: a file name with control characters (a
// server lists whatever it likes but CR and LF) is copied under its own
// name, while the records, the summary and the errors that `fxpfs cp`,
// `sync` and `status` print name it escaped: a listing cannot drive the
// terminal they print on.
func TestHostileNamesShownEscaped(t *testing.T) {
	a := startFake(t, "a", "127.0.0.2")
	b := startFake(t, "b", "127.0.0.3")
	const name = "x\x1b]0;owned\x07y.bin"
	data := randomBytes(t, 1000)
	a.put("/d/"+name, data)
	ca, cb := fakeClient(t, a), fakeClient(t, b)
	e := newEngine(t)
	var mu sync.Mutex
	var shown []string
	progress := func(r Record) {
		mu.Lock()
		shown = append(shown, r.Src, r.Dst)
		mu.Unlock()
	}
	sum, err := e.CopyTree(ctxT(t, 30*time.Second), Endpoint{ca, "/d"}, Endpoint{cb, "/e"}, Options{}, 1, progress)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := b.get("/e/" + name); !ok || !bytes.Equal(got, data) {
		t.Fatalf("not copied under its own name (found: %v)", ok)
	}
	shown = append(shown, sum.String())
	for _, r := range e.Recent(0) {
		shown = append(shown, r.Src, r.Dst)
	}
	// A failure names the file too: a copy of a source that is gone.
	if _, err := e.Copy(ctxT(t, 30*time.Second), Endpoint{ca, "/d/" + name + ".gone"}, Endpoint{cb, "/f"}, Options{}); err == nil {
		t.Error("a copy of a missing file did not fail")
	} else {
		shown = append(shown, err.Error())
	}
	if len(shown) < 4 {
		t.Fatalf("no records shown: %q", shown)
	}
	for _, s := range shown {
		if strings.ContainsAny(s, "\x1b\x07") {
			t.Errorf("shown raw: %q", s)
		} else if !strings.Contains(s, `x\x1b]0;owned\ay.bin`) && !strings.Contains(s, "1 files") {
			t.Errorf("the name is not shown: %q", s)
		}
	}
}
