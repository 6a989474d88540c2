package ftpclient_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
	"github.com/fxpfs/fxpfs/internal/ftptest"
)

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPoolReusesOneConnection(t *testing.T) {
	srv := ftptest.Start(t)
	write(t, srv.Root, "f", []byte("data"))
	c := newClient(t, srv)
	ctx := ctxT(t)
	for i := 0; i < 20; i++ {
		if _, err := c.List(ctx, "/"); err != nil {
			t.Fatal(err)
		}
		rc, err := c.OpenRead(ctx, "/f", 0)
		if err != nil {
			t.Fatal(err)
		}
		if b, err := io.ReadAll(rc); err != nil || string(b) != "data" {
			t.Fatalf("read %q %v", b, err)
		}
		rc.Close()
	}
	if st := c.Stats(); st.Dials != 1 {
		t.Errorf("dials = %d, want 1", st.Dials)
	}
	if got, want := c.Stats().Commands, srv.Commands(); got != want {
		t.Errorf("client counted %d commands, server received %d", got, want)
	}
}

func TestPoolParallelWithinLimit(t *testing.T) {
	srv := ftptest.Start(t)
	data := bytes.Repeat([]byte("x"), 1<<20)
	for i := 0; i < 10; i++ {
		write(t, srv.Root, fmt.Sprintf("f%d", i), data)
	}
	c := newClient(t, srv, func(cfg *ftpclient.ServerConfig) { cfg.MaxConns = 3 })
	for _, err := range startReads(ctxT(t), c, 10, data)() {
		t.Error(err)
	}
	if p := srv.PeakConns(); p > 3 {
		t.Errorf("peak connections %d > MaxConns 3", p)
	}
	if got, want := c.Stats().Commands, srv.Commands(); got != want {
		t.Errorf("client counted %d commands, server received %d", got, want)
	}
}

// TestPoolAdaptsToServerLimit: the server takes 2 connections, the client is
// configured for 6. Two streams are held open, then 8 readers start: their
// dials are refused with 421, the pool lowers its limit to 2 and they wait
// for a release instead of failing.
func TestPoolAdaptsToServerLimit(t *testing.T) {
	srv := ftptest.Start(t, ftptest.WithMaxConns(2))
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<14)
	for i := 0; i < 8; i++ {
		write(t, srv.Root, fmt.Sprintf("f%d", i), data)
	}
	c := newClient(t, srv, func(cfg *ftpclient.ServerConfig) { cfg.MaxConns = 6 })
	ctx := ctxT(t)
	var held []io.ReadCloser
	for i := 0; i < 2; i++ {
		rc, err := c.OpenRead(ctx, "/f0", 0)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, rc)
	}
	wait := startReads(ctx, c, 8, data)
	waitFor(t, "a refused connection", func() bool { return srv.Refused() > 0 })
	waitFor(t, "the limit to adapt", func() bool { return c.Stats().MaxConns == 2 })
	for _, rc := range held {
		if _, err := io.ReadAll(rc); err != nil {
			t.Fatal(err)
		}
		rc.Close()
	}
	for _, err := range wait() {
		t.Error(err)
	}
	if p := srv.PeakConns(); p > 2 {
		t.Errorf("peak %d", p)
	}
}

func TestPoolClosesIdleConnections(t *testing.T) {
	srv := ftptest.Start(t)
	c := newClient(t, srv, func(cfg *ftpclient.ServerConfig) { cfg.IdleTimeout = 50 * time.Millisecond })
	if err := c.Connect(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the idle connection to close", func() bool { return srv.Conns() == 0 })
	if _, err := c.List(ctxT(t), "/"); err != nil {
		t.Fatal(err)
	}
	if d := c.Stats().Dials; d != 2 {
		t.Errorf("dials %d, want 2", d)
	}
}

func TestPoolReconnectsAfterServerDrop(t *testing.T) {
	srv := ftptest.Start(t)
	c := newClient(t, srv)
	ctx := ctxT(t)
	if _, err := c.List(ctx, "/"); err != nil {
		t.Fatal(err)
	}
	if srv.DropConns() != 1 {
		t.Fatal("no connection to drop")
	}
	if _, err := c.List(ctx, "/"); err != nil {
		t.Fatalf("List after the server dropped the connection: %v", err)
	}
	if d := c.Stats().Dials; d != 2 {
		t.Errorf("dials %d, want 2", d)
	}
}

// TestEarlyCloseKeepsConnection closes a download after a few bytes: the
// connection must be left in a known state and reused.
func TestEarlyCloseKeepsConnection(t *testing.T) {
	srv := ftptest.Start(t)
	write(t, srv.Root, "big", bytes.Repeat([]byte("z"), 8<<20))
	write(t, srv.Root, "small", []byte("small"))
	c := newClient(t, srv)
	ctx := ctxT(t)
	for i := 0; i < 3; i++ {
		rc, err := c.OpenRead(ctx, "/big", int64(i)*1000)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 10)
		if _, err := io.ReadFull(rc, buf); err != nil {
			t.Fatal(err)
		}
		if err := rc.Close(); err != nil {
			t.Fatal(err)
		}
		rc, err = c.OpenRead(ctx, "/small", 0)
		if err != nil {
			t.Fatal(err)
		}
		if b, err := io.ReadAll(rc); err != nil || string(b) != "small" {
			t.Fatalf("after an early close: %q, %v", b, err)
		}
		rc.Close()
	}
	if d := c.Stats().Dials; d != 1 {
		t.Errorf("dials %d, want 1 (connection not reused after early close)", d)
	}
}

func TestCancelInterruptsOperation(t *testing.T) {
	listed := make(chan struct{})
	s := newFakeServer(t, func(s *fakeServer) {
		s.handlers["LIST"] = func(*fakeConn, string) { close(listed) } // and never answer
	})
	c := newFakeClient(t, s, nil)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-listed; cancel() }()
	var err error
	within(t, 1500*time.Millisecond, func() { _, err = c.List(ctx, "/") }) // CmdTimeout is 2s
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
	if _, err := c.List(ctx, "/"); !errors.Is(err, context.Canceled) {
		t.Errorf("with a done ctx: %v", err)
	}
}

// TestPoolReclaimsUnreadStreams: three downloads open at once, read in
// turns, on a server that takes two connections. Without taking connections
// back from streams nobody is reading, the third open would wait forever.
func TestPoolReclaimsUnreadStreams(t *testing.T) {
	srv := ftptest.Start(t, ftptest.WithMaxConns(2))
	data := make([]byte, 3<<20)
	for i := range data {
		data[i] = byte(i % 251)
	}
	for i := 0; i < 3; i++ {
		write(t, srv.Root, fmt.Sprintf("f%d", i), data)
	}
	c := newClient(t, srv, func(cfg *ftpclient.ServerConfig) { cfg.MaxConns = 4 })
	ctx := ctxT(t)
	var streams []io.ReadCloser
	got := make([][]byte, 3)
	for i := 0; i < 3; i++ {
		rc, err := c.OpenRead(ctx, fmt.Sprintf("/f%d", i), 0)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		streams = append(streams, rc)
		buf := make([]byte, 1000)
		n, err := io.ReadFull(rc, buf)
		if err != nil {
			t.Fatal(err)
		}
		got[i] = append(got[i], buf[:n]...)
	}
	for round := 0; round < 2; round++ {
		for i, rc := range streams {
			buf := make([]byte, 100000)
			n, err := io.ReadFull(rc, buf)
			if err != nil {
				t.Fatal(err)
			}
			got[i] = append(got[i], buf[:n]...)
		}
	}
	for i := range got {
		if !bytes.Equal(got[i], data[:len(got[i])]) {
			t.Errorf("stream %d: wrong bytes after reopening", i)
		}
	}
	if p := srv.PeakConns(); p > 2 {
		t.Errorf("peak %d", p)
	}
}

// startReads reads /f0 … /f<n-1> from c in parallel, each expected to hold
// want; the returned function waits for all and returns their errors.
func startReads(ctx context.Context, c *ftpclient.Client, n int, want []byte) (wait func() []error) {
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rc, err := c.OpenRead(ctx, fmt.Sprintf("/f%d", i), 0)
			if err != nil {
				errs <- err
				return
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err == nil && !bytes.Equal(b, want) {
				err = fmt.Errorf("f%d: read %d bytes, want %d", i, len(b), len(want))
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	return func() []error {
		wg.Wait()
		close(errs)
		var out []error
		for err := range errs {
			out = append(out, err)
		}
		return out
	}
}
