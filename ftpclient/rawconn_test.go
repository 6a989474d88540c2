package ftpclient_test

import (
	"bytes"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/fxpfs/fxpfs/ftpclient"
	"github.com/fxpfs/fxpfs/internal/ftptest"
)

// TestRawFXP drives a server-to-server copy through two RawConns the way
// fxpcopy does: PASV on the destination, PORT on the source, STOR, RETR,
// then both final replies.
func TestRawFXP(t *testing.T) {
	src, dst := ftptest.Start(t), ftptest.Start(t)
	data := bytes.Repeat([]byte("fxp!"), 100000)
	write(t, src.Root, "in/file", data)
	cs, cd := newClient(t, src), newClient(t, dst)
	ctx := ctxT(t)
	rs, err := cs.AcquireRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := cd.AcquireRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := rd.Pasv(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := rs.Port(ctx, addr); err != nil || r.Code != 200 {
		t.Fatalf("PORT: %+v %v", r, err)
	}
	sp, _ := rs.ServerPath("/in/file")
	dp, _ := rd.ServerPath("/copy")
	if r, err := rd.Cmd(ctx, "STOR %s", dp); err != nil || r.Code != 150 {
		t.Fatalf("STOR: %+v %v", r, err)
	}
	if r, err := rs.Cmd(ctx, "RETR %s", sp); err != nil || r.Code != 150 {
		t.Fatalf("RETR: %+v %v", r, err)
	}
	for _, rc := range []*ftpclient.RawConn{rs, rd} {
		if r, err := rc.ReadReply(ctx); err != nil || r.Code != 226 {
			t.Fatalf("final reply: %+v %v", r, err)
		}
	}
	rs.Release(nil)
	rs.Release(nil) // idempotent
	rd.Release(nil)
	if got, _ := os.ReadFile(filepath.Join(dst.Root, "copy")); !bytes.Equal(got, data) {
		t.Fatalf("copied %d bytes", len(got))
	}
	if st := cs.Stats(); st.BytesIn != 0 || st.BytesOut != 0 {
		t.Errorf("data passed through the client: %+v", st)
	}
	// Both connections were clean: reused.
	if _, err := cs.List(ctx, "/"); err != nil {
		t.Fatal(err)
	}
	if d := cs.Stats().Dials; d != 1 {
		t.Errorf("dials %d, want 1", d)
	}
	if _, err := rs.Cmd(ctx, "NOOP"); !errors.Is(err, ftpclient.ErrClosed) {
		t.Errorf("Cmd after Release: %v", err)
	}
}

func TestRawReleaseDestroysUnknownState(t *testing.T) {
	srv := ftptest.Start(t)
	write(t, srv.Root, "f", []byte("abc"))
	c := newClient(t, srv)
	ctx := ctxT(t)
	tests := []struct {
		name string
		cmds []string
		err  error
		kept bool
	}{
		{"clean", []string{"NOOP", "SIZE /f", "TYPE I"}, nil, true},
		{"released with error", []string{"NOOP"}, errors.New("caller failed"), false},
		{"pending REST", []string{"REST 10"}, nil, false},
		{"pending RNFR", []string{"RNFR /f"}, nil, false},
		{"ASCII mode", []string{"TYPE A"}, nil, false},
		{"unknown command", []string{"SITE UMASK 077"}, nil, false},
		{"transfer in flight", []string{"PASV", "RETR /f"}, nil, false},
	}
	for _, tt := range tests {
		r, err := c.AcquireRaw(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, cmd := range tt.cmds {
			if _, err := r.Cmd(ctx, "%s", cmd); err != nil {
				t.Fatalf("%s: %s: %v", tt.name, cmd, err)
			}
		}
		before := c.Stats().Dials
		r.Release(tt.err)
		r2, err := c.AcquireRaw(ctx)
		if err != nil {
			t.Fatal(err)
		}
		r2.Release(nil)
		if kept := c.Stats().Dials == before; kept != tt.kept {
			t.Errorf("%s: connection kept = %v, want %v", tt.name, kept, tt.kept)
		}
	}
}

func TestRawCmdRejectsInjection(t *testing.T) {
	srv := ftptest.Start(t)
	c := newClient(t, srv)
	ctx := ctxT(t)
	r, err := c.AcquireRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release(nil)
	before := srv.Commands()
	for _, arg := range []string{"/a\r\nDELE /b", "/a\nb", "/a\x00"} {
		if _, err := r.Cmd(ctx, "SIZE %s", arg); !errors.Is(err, ftpclient.ErrBadName) {
			t.Errorf("%q: %v", arg, err)
		}
	}
	if _, err := r.Port(ctx, "[::1]:21"); !errors.Is(err, ftpclient.ErrProtocol) {
		t.Errorf("PORT with IPv6: %v", err)
	}
	if n := srv.Commands() - before; n != 0 {
		t.Errorf("%d commands reached the server", n)
	}
}

// TestRawPasvNeverNamesAThirdHost: a PASV reply naming another host gives
// the FXP peer the server's own address (the one we reached it at), with
// the reply's port: no FXP bounce to a third host.
func TestRawPasvNeverNamesAThirdHost(t *testing.T) {
	s := newFakeServer(t, func(s *fakeServer) { s.pasvIP = "10,99,98,97" })
	c := newFakeClient(t, s, nil)
	ctx := ctxT(t)
	r, err := c.AcquireRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release(nil)
	addr, err := r.Pasv(ctx)
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(addr)
	if host != "127.0.0.1" || port == "" || port == "0" {
		t.Errorf("Pasv = %q, want 127.0.0.1:<port>", addr)
	}
}
