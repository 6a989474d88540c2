package ftpstest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
)

func newClient(t *testing.T, s *Server) *ftpclient.Client {
	t.Helper()
	c, err := ftpclient.New(s.Config(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func replyLine(r ftpclient.Reply) string { return fmt.Sprintf("%d %s", r.Code, r.Msg) }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestFileOps: the file operations fxpfs uses, over TLS with encrypted data
// connections that must resume the control connection's session
// (RequireReuse, which ftpclient does); each data connection recorded as
// served, resumed.
func TestFileOps(t *testing.T) {
	for _, tls12 := range []bool{false, true} {
		t.Run(fmt.Sprintf("TLS12=%v", tls12), func(t *testing.T) { fileOps(t, Options{Name: "a", RequireReuse: true, TLS12: tls12}) })
	}
}

func fileOps(t *testing.T, o Options) {
	s := Start(t, o)
	c := newClient(t, s)
	ctx := ctxT(t)
	data := bytes.Repeat([]byte("0123456789"), 100_000)
	w, err := c.OpenWrite(ctx, "/d/f.bin", 0, ftpclient.WriteTruncate)
	if err == nil {
		t.Fatal("upload into a missing directory worked")
	}
	if err := c.Mkdir(ctx, "/d"); err != nil {
		t.Fatal(err)
	}
	w, err = c.OpenWrite(ctx, "/d/f.bin", 0, ftpclient.WriteTruncate)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Size(ctx, "/d/f.bin"); err != nil || n != int64(len(data)) {
		t.Fatalf("SIZE %d %v", n, err)
	}
	r, err := c.OpenRead(ctx, "/d/f.bin", 10)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if cerr := r.Close(); err == nil {
		err = cerr
	}
	if err != nil || !bytes.Equal(got, data[10:]) {
		t.Fatalf("read from 10: %d bytes, %v", len(got), err)
	}
	mt := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	if err := c.SetModTime(ctx, "/d/f.bin", mt); err != nil {
		t.Fatal(err)
	}
	ents, err := c.List(ctx, "/d")
	if err != nil || len(ents) != 1 || ents[0].Name != "f.bin" || ents[0].Size != int64(len(data)) || !ents[0].Mtime.Equal(mt) {
		t.Fatalf("list %+v %v", ents, err)
	}
	if err := c.Rename(ctx, "/d/f.bin", "/d/g.bin"); err != nil {
		t.Fatal(err)
	}
	if err := c.Remove(ctx, "/d/g.bin"); err != nil {
		t.Fatal(err)
	}
	if files := s.Files(t); len(files) != 0 {
		t.Errorf("files left: %v", files)
	}
	for _, dc := range s.DataConns() {
		if dc.Reply == "" || dc.Reply[0] == '2' && (dc.TLS != "server" || !dc.Resumed) {
			t.Errorf("data connection %+v: want served over TLS, resumed", dc)
		}
	}
	if s.Count("PASS") != 1 || strings.Contains(strings.Join(s.Commands(), "\n"), s.Password) {
		t.Errorf("commands: %q", s.Commands())
	}
}

// TestExtensionReplies: FEAT lists SSCN and CPSV as Options say, and the
// commands are answered as each Ext says.
func TestExtensionReplies(t *testing.T) {
	cases := []struct {
		ext             Ext
		listed          bool
		sscnOn, cpsv    int // reply codes
		sscnAsk, sscnOf string
	}{
		{ExtNone, false, 500, 500, "", ""},
		{ExtHidden, false, 200, 227, "200 SSCN:CLIENT METHOD", "200 SSCN:SERVER METHOD"},
		{ExtListed, true, 200, 227, "200 SSCN:CLIENT METHOD", "200 SSCN:SERVER METHOD"},
		{ExtRefused, true, 504, 504, "", ""},
		{ExtBroken, true, 200, 227, "200 SSCN:CLIENT METHOD", "200 SSCN:SERVER METHOD"},
		{ExtIgnored, true, 200, 227, "200 SSCN:CLIENT METHOD", "200 SSCN:SERVER METHOD"},
	}
	for _, tc := range cases {
		s := Start(t, Options{SSCN: tc.ext, CPSV: tc.ext})
		c := newClient(t, s)
		ctx := ctxT(t)
		f, err := c.Features(ctx)
		if err != nil || f.SSCN != tc.listed || f.CPSV != tc.listed {
			t.Errorf("ext %d: FEAT says SSCN %v CPSV %v (%v), want %v", tc.ext, f.SSCN, f.CPSV, err, tc.listed)
		}
		rc, err := c.AcquireRaw(ctx)
		if err != nil {
			t.Fatal(err)
		}
		r, err := rc.Cmd(ctx, "SSCN ON")
		if err != nil || r.Code != tc.sscnOn {
			t.Errorf("ext %d: SSCN ON: %v %v, want %d", tc.ext, r, err, tc.sscnOn)
		}
		if tc.sscnAsk != "" {
			if r, _ := rc.Cmd(ctx, "SSCN"); replyLine(r) != tc.sscnAsk {
				t.Errorf("ext %d: SSCN: %q, want %q", tc.ext, replyLine(r), tc.sscnAsk)
			}
			if r, _ := rc.Cmd(ctx, "SSCN OFF"); replyLine(r) != tc.sscnOf {
				t.Errorf("ext %d: SSCN OFF: %q, want %q", tc.ext, replyLine(r), tc.sscnOf)
			}
		}
		_, err = rc.Cpsv(ctx)
		if (err == nil) != (tc.cpsv == 227) {
			t.Errorf("ext %d: CPSV: %v, want %d", tc.ext, err, tc.cpsv)
		}
		rc.Release(nil)
	}
}
