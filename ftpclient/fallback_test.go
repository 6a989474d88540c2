package ftpclient_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// vsftpdLike answers like vsftpd: no MLST, no MFMT, no SITE UTIME, SITE
// CHMOD disabled, MDTM readable and writable.
func vsftpdLike(s *fakeServer) {
	s.handlers["FEAT"] = func(fc *fakeConn, _ string) {
		fc.reply("211-Features:", " EPSV", " MDTM", " PASV", " REST STREAM", " SIZE", " UTF8", "211 End")
	}
	s.handlers["SITE"] = func(fc *fakeConn, _ string) { fc.reply("500 Unknown SITE command.") }
	s.handlers["MDTM"] = func(fc *fakeConn, arg string) {
		if strings.Count(arg, " ") == 1 && strings.HasPrefix(arg, "20") {
			fc.reply("213 File modification time set.")
			return
		}
		fc.reply("213 20200102030405")
	}
	s.handlers["LIST"] = listHandler("-rw-r--r-- 1 u g 5 Mar  1  2020 f\r\ndrwxr-xr-x 2 u g 4096 Mar  1  2020 d\r\n")
}

func countPrefix(lines []string, prefix string) int {
	n := 0
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

func TestSetModTimeFallsBackToMDTMWrite(t *testing.T) {
	s := newFakeServer(t, vsftpdLike)
	c := newFakeClient(t, s, nil)
	ctx := context.Background()
	ts := time.Date(2021, 5, 6, 7, 8, 9, 0, time.UTC)
	for i := 0; i < 2; i++ {
		if err := c.SetModTime(ctx, "/f", ts); err != nil {
			t.Fatalf("SetModTime #%d: %v", i, err)
		}
	}
	lines := s.lines()
	if n := countPrefix(lines, "MDTM 20210506070809 /f"); n != 2 {
		t.Errorf("MDTM writes %d, want 2: %q", n, lines)
	}
	if n := countPrefix(lines, "SITE UTIME"); n != 2 { // both spellings, once
		t.Errorf("SITE UTIME tried %d times, want 2: %q", n, lines)
	}
}

func TestChmodUnsupportedRemembered(t *testing.T) {
	s := newFakeServer(t, vsftpdLike)
	c := newFakeClient(t, s, nil)
	for i := 0; i < 3; i++ {
		if err := c.Chmod(context.Background(), "/f", 0o600); !errors.Is(err, ftpclient.ErrUnsupported) {
			t.Fatalf("Chmod: %v, want ErrUnsupported", err)
		}
	}
	if n := countPrefix(s.lines(), "SITE CHMOD 600 /f"); n != 1 {
		t.Errorf("SITE CHMOD sent %d times, want 1", n)
	}
}

func TestPreciseMtime(t *testing.T) {
	s := newFakeServer(t, vsftpdLike)
	cfg := s.config()
	cfg.PreciseMtime = ftpclient.MtimeAlways
	c, err := ftpclient.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ents, err := c.List(context.Background(), "/")
	if err != nil || len(ents) != 2 {
		t.Fatal(ents, err)
	}
	want := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	if !ents[0].Mtime.Equal(want) || !ents[1].Mtime.Equal(time.Date(2020, 3, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("mtimes %v %v", ents[0].Mtime, ents[1].Mtime)
	}
	if n := countPrefix(s.lines(), "MDTM "); n != 1 {
		t.Errorf("%d MDTM, want 1 (files only)", n)
	}
	if n := countPrefix(s.lines(), "LIST -a"); n != 1 {
		t.Errorf("LIST -a not used: %q", s.lines())
	}
}

// TestLinkTargetsFromList: an MLSD listing with symlinks but no targets
// (proftpd "OS.unix=symlink", pure-ftpd "OS.unix=slink:") gets them from a
// LIST of the same directory; a directory without such links costs no LIST.
func TestLinkTargetsFromList(t *testing.T) {
	s := newFakeServer(t, func(s *fakeServer) {
		s.handlers["FEAT"] = func(fc *fakeConn, _ string) {
			fc.reply("211-Features:", " MLST type*;size*;modify*;", " MLSD", "211 End")
		}
		s.handlers["MLSD"] = func(fc *fakeConn, arg string) {
			body := "type=file;size=1;modify=20200101000000; f\r\n"
			if arg == "/links" {
				body += "type=OS.unix=symlink;modify=20200101000000; l1\r\ntype=OS.unix=slink:;modify=20200101000000; l2\r\n" +
					"type=OS.unix=slink:/given;modify=20200101000000; l3\r\n"
			}
			listHandler(body)(fc, arg)
		}
		s.handlers["MLST"] = func(fc *fakeConn, arg string) {
			fc.reply("250-Listing "+arg, " type=OS.unix=symlink;modify=20200101000000; "+arg, "250 End")
		}
		s.handlers["LIST"] = listHandler("lrwxrwxrwx 1 u g 5 Mar  1  2020 l1 -> ../t one\r\n" +
			"lrwxrwxrwx 1 u g 5 Mar  1  2020 l2 -> /abs\r\nlrwxrwxrwx 1 u g 5 Mar  1  2020 l3 -> wrong\r\n")
	})
	c := newFakeClient(t, s, nil)
	ctx := context.Background()
	if _, err := c.List(ctx, "/plain"); err != nil {
		t.Fatal(err)
	}
	if n := countPrefix(s.lines(), "LIST"); n != 0 {
		t.Errorf("%d LIST for a directory without links", n)
	}
	ents, err := c.List(ctx, "/links")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"l1": "../t one", "l2": "/abs", "l3": "/given", "f": ""}
	for _, e := range ents {
		if e.Target != want[e.Name] {
			t.Errorf("%s: target %q, want %q", e.Name, e.Target, want[e.Name])
		}
	}
	if e, err := c.Stat(ctx, "/links/l1"); err != nil || e.Target != "../t one" || e.Name != "l1" {
		t.Errorf("Stat = %+v, %v", e, err)
	}
	if n := countPrefix(s.lines(), "CWD /links"); n != 2 {
		t.Errorf("CWD /links %d times, want 2 (one LIST each for List and Stat): %q", n, s.lines())
	}
}

// TestSetModTimeOnDirectoryRefused: pyftpdlib sets file times only and
// answers "550 /d is not retrievable" for a directory: that is
// ErrUnsupported (the mount keeps the time in its cache), while the same
// refusal for a file stays a permission error.
func TestSetModTimeOnDirectoryRefused(t *testing.T) {
	s := newFakeServer(t, func(s *fakeServer) {
		s.handlers["FEAT"] = func(fc *fakeConn, _ string) { fc.reply("211-Features:", " MFMT", " MDTM", " SIZE", "211 End") }
		s.handlers["MFMT"] = func(fc *fakeConn, arg string) {
			_, p, _ := strings.Cut(arg, " ")
			fc.reply("550 " + p + " is not retrievable.")
		}
		s.handlers["LIST"] = listHandler("drwxr-xr-x 2 u g 4096 Mar  1  2020 d\r\n-rw-r--r-- 1 u g 5 Mar  1  2020 f\r\n")
	})
	c := newFakeClient(t, s, nil)
	ts := time.Date(2021, 5, 6, 7, 8, 9, 0, time.UTC)
	if err := c.SetModTime(context.Background(), "/d", ts); !errors.Is(err, ftpclient.ErrUnsupported) {
		t.Errorf("directory: %v, want ErrUnsupported", err)
	}
	if err := c.SetModTime(context.Background(), "/f", ts); !errors.Is(err, ftpclient.ErrPermission) {
		t.Errorf("file: %v, want ErrPermission", err)
	}
}

// TestPreciseMtimeAuto: by default a LIST listing's files get MDTM's
// seconds, pipelined. A file listed to the minute whose MDTM answer was over
// an hour old is not asked again while its size and listed time stay the
// same and this client has not changed it; a file listed with a day only
// (over six months old) or changed less than an hour ago is asked every
// time.
func TestPreciseMtimeAuto(t *testing.T) {
	now := time.Now().UTC()
	recent := now.Add(-10 * time.Minute).Truncate(time.Second)
	hours := now.Add(-3 * time.Hour).Truncate(time.Minute).Add(17 * time.Second)
	if hours.Hour() == 0 && hours.Minute() == 0 {
		hours = hours.Add(-time.Minute) // 00:00 is taken for a day
	}
	old := time.Date(2020, 3, 1, 10, 11, 12, 0, time.UTC)
	size := "5"
	s := newFakeServer(t, func(s *fakeServer) {
		s.handlers["FEAT"] = func(fc *fakeConn, _ string) { fc.reply("211-Features:", " MDTM", " SIZE", "211 End") }
		s.handlers["LIST"] = func(fc *fakeConn, arg string) {
			listHandler("-rw-r--r-- 1 u g 5 Mar  1  2020 old\r\n"+
				"-rw-r--r-- 1 u g "+size+" "+hours.Format("Jan _2 15:04")+" hours\r\n"+
				"-rw-r--r-- 1 u g 5 "+recent.Format("Jan _2 15:04")+" new\r\n"+
				"drwxr-xr-x 2 u g 4096 Mar  1  2020 dir\r\n")(fc, arg)
		}
		s.handlers["MDTM"] = func(fc *fakeConn, arg string) {
			switch arg {
			case "/d/old":
				fc.reply("213 " + old.Format("20060102150405"))
			case "/d/hours":
				fc.reply("213 " + hours.Format("20060102150405"))
			case "/d/new":
				fc.reply("213 " + recent.Format("20060102150405"))
			default:
				if strings.HasPrefix(arg, "20") && strings.HasSuffix(arg, " /d/hours") {
					fc.reply("213 set") // vsftpd's MDTM time path
					return
				}
				fc.reply("550 no")
			}
		}
	})
	c := newFakeClient(t, s, nil)
	check := func(round string, want ...string) {
		t.Helper()
		before := len(s.lines())
		ents, err := c.List(context.Background(), "/d")
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			want := map[string]time.Time{"old": old, "hours": hours, "new": recent}[e.Name]
			if e.Type == ftpclient.TypeFile && !e.Mtime.Equal(want) {
				t.Errorf("%s: %s mtime %v, want %v", round, e.Name, e.Mtime, want)
			}
		}
		var asked []string
		for _, l := range s.lines()[before:] {
			if f, ok := strings.CutPrefix(l, "MDTM /d/"); ok {
				asked = append(asked, f)
			}
		}
		if strings.Join(asked, " ") != strings.Join(want, " ") {
			t.Errorf("%s: MDTM for %q, want %q", round, asked, want)
		}
	}
	check("first listing", "old", "hours", "new")
	check("second listing", "old", "new") // the day-only and the recent one
	if err := c.SetModTime(context.Background(), "/d/hours", hours); err != nil {
		t.Fatal(err)
	}
	check("after this client set its time", "old", "hours", "new")
	check("then", "old", "new")
	size = "6" // changed by another client (same listed time)
	check("after a change of size", "old", "hours", "new")
}

// TestStatPreciseMtimeOneFile: Stat of a file on a LIST server (no MLST)
// lists its directory and asks MDTM for that file alone, not for each of
// its neighbours (a `fxpfs cp` or `sync` of one file out of a directory of
// thousands cost as many MDTM commands before).
func TestStatPreciseMtimeOneFile(t *testing.T) {
	const n = 50
	mtime := time.Date(2021, 5, 6, 7, 8, 9, 0, time.UTC)
	s := newFakeServer(t, func(s *fakeServer) {
		s.handlers["FEAT"] = func(fc *fakeConn, _ string) { fc.reply("211-Features:", " MDTM", " SIZE", "211 End") }
		var list strings.Builder
		for i := range n {
			fmt.Fprintf(&list, "-rw-r--r-- 1 u g 5 May  6  2021 f%02d\r\n", i)
		}
		s.handlers["LIST"] = listHandler(list.String())
		s.handlers["MDTM"] = func(fc *fakeConn, arg string) { fc.reply("213 " + mtime.Format("20060102150405")) }
	})
	c := newFakeClient(t, s, nil)
	e, err := c.Stat(context.Background(), "/d/f07")
	if err != nil || e.Size != 5 || !e.Mtime.Equal(mtime) {
		t.Fatalf("Stat = %+v, %v; want size 5, mtime %v", e, err, mtime)
	}
	if got := countPrefix(s.lines(), "MDTM "); got != 1 || countPrefix(s.lines(), "MDTM /d/f07") != 1 {
		t.Errorf("%d MDTM, want 1, for /d/f07: %q", got, s.lines())
	}
	// A listing still gets every file's time.
	if _, err := c.List(context.Background(), "/d"); err != nil {
		t.Fatal(err)
	}
	if got := countPrefix(s.lines(), "MDTM "); got != 1+n {
		t.Errorf("after List: %d MDTM, want %d", got, 1+n)
	}
}
