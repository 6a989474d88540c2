package ftpclient_test

import (
	"context"
	"errors"
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
	cfg.PreciseMtime = true
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
