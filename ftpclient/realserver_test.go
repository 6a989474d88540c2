package ftpclient_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
	"github.com/fxpfs/fxpfs/internal/realftpd"
)

// TestRealServers runs the client against private vsftpd (LIST, no MLSD) and
// pure-ftpd (MLSD) instances, plain and with explicit TLS. realftpd skips it
// where the servers are not installed (never in CI) and under -short.
func TestRealServers(t *testing.T) {
	starts := map[realftpd.Kind]func(realftpd.TB, realftpd.Options) *realftpd.Server{
		realftpd.Vsftpd: realftpd.StartVsftpd, realftpd.PureFTPd: realftpd.StartPureFTPd,
	}
	for _, kind := range []realftpd.Kind{realftpd.Vsftpd, realftpd.PureFTPd} {
		for _, tlsOn := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/tls=%v", kind, tlsOn), func(t *testing.T) {
				srv := starts[kind](t, realftpd.Options{TLS: tlsOn})
				realSuite(t, srv)
			})
		}
	}
	for _, kind := range []realftpd.Kind{realftpd.Vsftpd, realftpd.PureFTPd} {
		t.Run(fmt.Sprintf("%s/adaptive", kind), func(t *testing.T) {
			srv := starts[kind](t, realftpd.Options{MaxClients: 2})
			realAdaptive(t, srv)
		})
	}
}

func realClient(t *testing.T, srv *realftpd.Server) *ftpclient.Client {
	cfg := srv.Config("real")
	var log *slog.Logger
	if os.Getenv("FXPFS_FTP_TRACE") != "" { // see every control line when debugging
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	c, err := ftpclient.New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func realSuite(t *testing.T, srv *realftpd.Server) {
	c := realClient(t, srv)
	ctx := ctxT(t)
	if f, err := c.Features(ctx); err != nil || f.Software != string(srv.Kind) {
		t.Errorf("Features().Software = %q (%v), want %q (from the greeting)", f.Software, err, srv.Kind)
	}
	data := bytes.Repeat([]byte("real data "), 50000)
	srv.WriteFile(t, "dir with space/f [1].txt", data)
	srv.WriteFile(t, ".hidden", []byte("h"))

	ents, err := c.List(ctx, "/")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]ftpclient.Entry{}
	for _, e := range ents {
		seen[e.Name] = e
	}
	if seen["dir with space"].Type != ftpclient.TypeDir || seen[".hidden"].Size != 1 {
		t.Errorf("List / = %+v", ents)
	}
	e, err := c.Stat(ctx, "/dir with space/f [1].txt")
	if err != nil || e.Size != int64(len(data)) || e.Mtime.IsZero() {
		t.Errorf("Stat: %+v %v", e, err)
	}
	rc, err := c.OpenRead(ctx, "/dir with space/f [1].txt", 10)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data[10:]) {
		t.Errorf("read %d bytes, %v", len(got), err)
	}
	// Early close, then the connection keeps working.
	rc, err = c.OpenRead(ctx, "/dir with space/f [1].txt", 0)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadFull(rc, make([]byte, 100))
	rc.Close()

	up, err := c.OpenWrite(ctx, "/new", 0, ftpclient.WriteTruncate)
	if err != nil {
		t.Fatal(err)
	}
	up.Write(data)
	if err := up.Close(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(srv.Path("new")); !bytes.Equal(b, data) {
		t.Errorf("uploaded file has %d bytes", len(b))
	}
	up, err = c.OpenWrite(ctx, "/empty", 0, ftpclient.WriteTruncate)
	if err != nil {
		t.Fatal(err)
	}
	if err := up.Close(); err != nil {
		t.Fatalf("empty upload: %v", err)
	}
	if _, err := c.OpenWrite(ctx, "/missing/x", 0, ftpclient.WriteTruncate); !errors.Is(err, ftpclient.ErrNotFound) {
		t.Errorf("upload into a missing dir: %v", err)
	}
	if err := c.Mkdir(ctx, "/d"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mkdir(ctx, "/d"); !errors.Is(err, ftpclient.ErrExists) {
		t.Errorf("Mkdir existing: %v", err)
	}
	if err := c.Mkdir(ctx, "/nope/d"); !errors.Is(err, ftpclient.ErrNotFound) {
		t.Errorf("Mkdir below missing: %v", err)
	}
	if err := c.Rename(ctx, "/new", "/d/moved"); err != nil {
		t.Fatal(err)
	}
	if err := c.Rmdir(ctx, "/d"); !errors.Is(err, ftpclient.ErrNotEmpty) {
		t.Errorf("Rmdir non-empty: %v", err)
	}
	if err := c.Remove(ctx, "/d"); !errors.Is(err, ftpclient.ErrIsDir) {
		t.Errorf("Remove dir: %v", err)
	}
	if err := c.Remove(ctx, "/nope"); !errors.Is(err, ftpclient.ErrNotFound) {
		t.Errorf("Remove missing: %v", err)
	}
	ts := time.Date(2019, 4, 5, 6, 7, 8, 0, time.UTC)
	if err := c.SetModTime(ctx, "/d/moved", ts); err != nil {
		t.Errorf("SetModTime: %v", err)
	} else if fi, _ := os.Stat(srv.Path("d/moved")); !fi.ModTime().Equal(ts) {
		t.Errorf("mtime on disk %v", fi.ModTime())
	}
	if err := c.Chmod(ctx, "/d/moved", 0o600); err != nil && !errors.Is(err, ftpclient.ErrUnsupported) {
		t.Errorf("Chmod: %v", err)
	}
	if n, err := c.Size(ctx, "/d/moved"); err != nil || n != int64(len(data)) {
		t.Errorf("Size %d %v", n, err)
	}
	if d := c.Stats().Dials; d != 1 {
		t.Errorf("dials %d, want 1", d)
	}
	realLinksAndTimes(t, srv, c)
}

// realLinksAndTimes: symlink targets (pure-ftpd's MLSD gives none: they
// come from a LIST) and mtimes to the second (vsftpd's LIST gives minutes:
// they come from MDTM) in List and Stat.
func realLinksAndTimes(t *testing.T, srv *realftpd.Server, c *ftpclient.Client) {
	ctx := ctxT(t)
	srv.WriteFile(t, "links/target.txt", []byte("target"))
	for name, target := range map[string]string{"rel": "target.txt", "abs": "/etc/passwd", "up": "../links"} {
		if err := os.Symlink(target, srv.Path("links/"+name)); err != nil {
			t.Fatal(err)
		}
	}
	mt := time.Date(2021, 2, 3, 4, 5, 17, 0, time.UTC)
	if err := os.Chtimes(srv.Path("links/target.txt"), mt, mt); err != nil {
		t.Fatal(err)
	}
	ents, err := c.List(ctx, "/links")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]ftpclient.Entry{}
	for _, e := range ents {
		got[e.Name] = e
	}
	for name, target := range map[string]string{"rel": "target.txt", "abs": "/etc/passwd", "up": "../links"} {
		if e := got[name]; e.Type != ftpclient.TypeLink || e.Target != target {
			t.Errorf("List: %s = %+v, want a link to %q", name, e, target)
		}
		if e, err := c.Stat(ctx, "/links/"+name); err != nil || e.Type != ftpclient.TypeLink || e.Target != target {
			t.Errorf("Stat: %s = %+v, %v, want a link to %q", name, e, err, target)
		}
	}
	if e := got["target.txt"]; !e.Mtime.Equal(mt) {
		t.Errorf("List: mtime %v, want %v (to the second)", e.Mtime, mt)
	}
}

func realAdaptive(t *testing.T, srv *realftpd.Server) {
	cfg := srv.Config("real")
	cfg.MaxConns = 6
	c, err := ftpclient.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := ctxT(t)
	data := bytes.Repeat([]byte("x"), 2<<20)
	for i := 0; i < 8; i++ {
		srv.WriteFile(t, fmt.Sprintf("f%d", i), data)
	}
	for _, err := range startReads(ctx, c, 8, data)() {
		t.Error(err)
	}
	t.Logf("stats %+v", c.Stats())
}

// TestRealPreciseMtimeCost measures what precise mtimes cost on vsftpd
// (LIST only, minute precision): the FTP commands and time of a listing of
// 200 files, the first time and again (as after the listing TTL), for files
// written 400 days ago (LIST shows the day), two days ago and ten minutes
// ago; on loopback, and through a proxy that gives the control connection a
// 20 ms round trip, against precise_mtime = never. The figures are in README
// ("mtime precision").
func TestRealPreciseMtimeCost(t *testing.T) {
	srv := realftpd.StartVsftpd(t, realftpd.Options{})
	const n = 200
	ages := []time.Duration{400 * 24 * time.Hour, 48 * time.Hour, 10 * time.Minute}
	mts := map[time.Duration]time.Time{}
	for _, age := range ages {
		dir := fmt.Sprintf("age%v", age)
		mt := time.Now().Add(-age).Truncate(time.Minute).Add(17 * time.Second)
		if mt.UTC().Hour() == 0 && mt.UTC().Minute() == 0 {
			mt = mt.Add(-time.Minute) // listed as 00:00: taken for a day
		}
		mts[age] = mt
		for i := range n {
			rel := fmt.Sprintf("%s/f%03d", dir, i)
			srv.WriteFile(t, rel, []byte("x"))
			if err := os.Chtimes(srv.Path(rel), mt, mt); err != nil {
				t.Fatal(err)
			}
		}
	}
	proxy := delayProxy(t, srv.Addr(), 10*time.Millisecond)
	for _, tc := range []struct {
		link   string
		policy ftpclient.MtimePolicy
	}{{"loopback", ""}, {"20 ms RTT", ""}, {"20 ms RTT", ftpclient.MtimeNever}} {
		cfg := srv.Config("real")
		cfg.PreciseMtime = tc.policy
		if tc.link != "loopback" {
			host, port, _ := net.SplitHostPort(proxy)
			cfg.Host = host
			cfg.Port, _ = strconv.Atoi(port)
		}
		c, err := ftpclient.New(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ctx := ctxT(t)
		if err := c.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		for _, age := range ages {
			dir := fmt.Sprintf("/age%v", age)
			var cmds [2]int64
			for round := range 2 {
				before := c.Stats().Commands
				start := time.Now()
				ents, err := c.List(ctx, dir)
				if err != nil || len(ents) != n {
					t.Fatalf("List: %d entries, %v", len(ents), err)
				}
				cmds[round] = c.Stats().Commands - before
				for _, e := range ents {
					if tc.policy != ftpclient.MtimeNever && !e.Mtime.Equal(mts[age]) {
						t.Fatalf("%s: %s mtime %v, want %v (to the second)", dir, e.Name, e.Mtime, mts[age])
					}
				}
				t.Logf("%s, precise_mtime %q: files %v old, listing #%d of %d files: %d FTP commands, %v",
					tc.link, tc.policy, age, round+1, n, cmds[round], time.Since(start).Round(time.Millisecond))
			}
			if tc.policy == ftpclient.MtimeNever {
				continue
			}
			// CWD, EPSV, LIST -a, then one MDTM per file asked.
			if cmds[0] != 3+n {
				t.Errorf("%s: first listing %d commands, want %d", dir, cmds[0], 3+n)
			}
			// Files listed with a day only, or changed in the last hour:
			// asked every time; others: the earlier answers are reused.
			want := int64(3 + n)
			if age > time.Hour && age < 150*24*time.Hour {
				want = 3
			}
			if cmds[1] != want {
				t.Errorf("%s: second listing %d commands, want %d", dir, cmds[1], want)
			}
		}
	}
}
