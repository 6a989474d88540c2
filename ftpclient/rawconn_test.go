package ftpclient_test

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

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

// TestRawSendWhileReading: Send writes a command without reading its reply,
// so that ABOR can go out while another goroutine waits in ReadReply for
// the transfer's replies (FXP watches two servers at once). The replies of
// sent commands come back in order; Cmd refuses to run while some are due.
func TestRawSendWhileReading(t *testing.T) {
	s := newFakeServer(t, func(s *fakeServer) {
		s.handlers["STOR"] = func(fc *fakeConn, _ string) { fc.reply("150 waiting for data") }
		s.handlers["ABOR"] = func(fc *fakeConn, _ string) { fc.reply("426 aborted", "226 ABOR done") }
	})
	c := newFakeClient(t, s, nil)
	ctx := ctxT(t)
	r, err := c.AcquireRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Send(ctx, "STOR /x"); err != nil {
		t.Fatal(err)
	}
	got := make(chan []int, 1)
	go func() {
		var codes []int
		for range 3 {
			rep, err := r.ReadReply(ctx)
			if err != nil {
				break
			}
			codes = append(codes, rep.Code)
		}
		got <- codes
	}()
	within(t, 5*time.Second, func() { // refused at once, even while the reader waits
		if _, err := r.Cmd(ctx, "NOOP"); err == nil {
			t.Error("Cmd ran while a sent command's reply was due")
		}
	})
	within(t, 5*time.Second, func() {
		if err := r.Send(ctx, "ABOR"); err != nil { // while the reader waits
			t.Error(err)
		}
	})
	select {
	case codes := <-got:
		if fmt.Sprint(codes) != "[150 426 226]" {
			t.Errorf("replies %v, want [150 426 226]", codes)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("replies of sent commands not read")
	}
	if err := r.Send(ctx, "STOR /a\r\nDELE /b"); !errors.Is(err, ftpclient.ErrBadName) {
		t.Errorf("Send with CR/LF: %v", err)
	}
	if n := countPrefix(s.lines(), "NOOP"); n != 0 {
		t.Errorf("a refused Cmd reached the server %d times", n)
	}
	r.Release(nil)
}

// TestRawReset: Reset ends a ReadReply blocked on a server that never
// answers, closes the connection with a TCP reset (a server waiting in
// accept, like pure-ftpd, notices only that), and destroys it.
func TestRawReset(t *testing.T) {
	readErr := make(chan error, 1)
	s := newFakeServer(t, func(s *fakeServer) {
		// Never answers; waits on the control connection like a server
		// blocked in accept would, and reports how it ended.
		s.handlers["STOR"] = func(fc *fakeConn, _ string) {
			_, err := fc.r.ReadByte()
			readErr <- err
		}
	})
	c := newFakeClient(t, s, nil)
	ctx := ctxT(t)
	r, err := c.AcquireRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Send(ctx, "STOR /x"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := r.ReadReply(ctx)
		done <- err
	}()
	time.Sleep(100 * time.Millisecond) // let the reader block
	dials := c.Stats().Dials
	within(t, 5*time.Second, func() {
		r.Reset()
		if err := <-done; err == nil {
			t.Error("ReadReply returned no error after Reset")
		}
	})
	r.Reset() // idempotent
	r.Release(nil)
	select {
	case err := <-readErr:
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("the server saw %v, want a connection reset", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the server did not see the connection end")
	}
	_, _ = c.Size(ctx, "/x") // any command: needs a connection
	if c.Stats().Dials == dials {
		t.Error("the reset connection was used again")
	}
}

// TestRawEprt: EPRT carries IPv4 and IPv6 addresses (RFC 2428).
func TestRawEprt(t *testing.T) {
	s := newFakeServer(t, func(s *fakeServer) {
		s.handlers["EPRT"] = func(fc *fakeConn, _ string) { fc.reply("200 ok") }
	})
	c := newFakeClient(t, s, nil)
	ctx := ctxT(t)
	r, err := c.AcquireRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release(nil)
	for _, addr := range []string{"127.0.0.3:2121", "[2001:db8::7]:40000"} {
		if rep, err := r.Eprt(ctx, addr); err != nil || rep.Code != 200 {
			t.Fatalf("EPRT %s: %+v %v", addr, rep, err)
		}
	}
	if _, err := r.Eprt(ctx, "host.example:21"); !errors.Is(err, ftpclient.ErrProtocol) {
		t.Errorf("EPRT with a host name: %v", err)
	}
	var eprt []string
	for _, l := range s.lines() {
		if strings.HasPrefix(l, "EPRT") {
			eprt = append(eprt, l)
		}
	}
	if want := []string{"EPRT |1|127.0.0.3|2121|", "EPRT |2|2001:db8::7|40000|"}; fmt.Sprint(eprt) != fmt.Sprint(want) {
		t.Errorf("sent %q, want %q", eprt, want)
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
