package ftptest

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"
)

func dial(t *testing.T, s *Server) *ftp.ServerConn {
	t.Helper()
	c, err := ftp.Dial(s.Addr(), ftp.DialWithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login(s.User, s.Password); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Quit() })
	return c
}

func TestServerSemantics(t *testing.T) {
	s := Start(t)
	c := dial(t, s)
	if err := os.WriteFile(filepath.Join(s.Root, "a.txt"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.MakeDir("/d"); err != nil {
		t.Fatal(err)
	}
	if err := c.MakeDir("/d"); err == nil {
		t.Error("MKD of an existing directory succeeded")
	}
	if err := c.MakeDir("/missing/sub"); err == nil {
		t.Error("MKD below a missing parent succeeded")
	}
	if err := c.Stor("/d/f", strings.NewReader("0123456789")); err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveDir("/d"); err == nil {
		t.Error("RMD of a non-empty directory succeeded")
	}
	if err := c.StorFrom("/d/f", strings.NewReader("AB"), 3); err != nil {
		t.Fatal(err)
	}
	if err := c.Append("/d/f", strings.NewReader("Z")); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(s.Root, "d", "f"))
	if string(got) != "012AB56789Z" {
		t.Errorf("after REST+STOR and APPE: %q", got)
	}
	r, err := c.RetrFrom("/a.txt", 1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	r.Close()
	if string(b) != "ello" {
		t.Errorf("RETR from 1: %q", b)
	}
	ents, err := c.List("/")
	if err != nil || len(ents) != 2 {
		t.Fatalf("List: %v %v", ents, err)
	}
	ts := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	if err := c.SetTime("/a.txt", ts); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(filepath.Join(s.Root, "a.txt"))
	if !fi.ModTime().Equal(ts) {
		t.Errorf("MFMT: mtime %v", fi.ModTime())
	}
	if s.Commands() == 0 || s.Accepted() != 1 {
		t.Errorf("counters: commands %d accepted %d", s.Commands(), s.Accepted())
	}
}

func TestMaxConns(t *testing.T) {
	s := Start(t, WithMaxConns(1))
	dial(t, s)
	_, err := ftp.Dial(s.Addr(), ftp.DialWithTimeout(5*time.Second))
	if err == nil || !strings.Contains(err.Error(), "421") {
		t.Fatalf("second connection: %v, want 421", err)
	}
	if s.Refused() != 1 || s.Conns() != 1 {
		t.Errorf("refused %d conns %d", s.Refused(), s.Conns())
	}
}

func TestCloseDropsClients(t *testing.T) {
	s := Start(t)
	c := dial(t, s)
	s.Close()
	if err := c.NoOp(); err == nil {
		t.Fatal("NOOP after Close succeeded")
	}
}
