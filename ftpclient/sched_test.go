package ftpclient_test

import (
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

// holdRaw takes n raw connections of c and releases them at cleanup.
func holdRaw(t *testing.T, ctx context.Context, c *ftpclient.Client, n int) []*ftpclient.RawConn {
	t.Helper()
	var rs []*ftpclient.RawConn
	for range n {
		r, err := c.AcquireRaw(ctx)
		if err != nil {
			t.Fatalf("AcquireRaw: %v", err)
		}
		rs = append(rs, r)
		t.Cleanup(func() { r.Release(nil) })
	}
	return rs
}

// TestSchedKeepsMetadataSlot: with every transfer slot taken (MaxConns 3:
// two raw connections), listings and SIZE still run at once on the kept
// slot, while a third transfer waits. With a limit of 2, a program that
// reads one file while writing another on the same server gets both.
func TestSchedKeepsMetadataSlot(t *testing.T) {
	srv := ftptest.Start(t)
	write(t, srv.Root, "f", []byte("data"))
	c := newClient(t, srv, func(cfg *ftpclient.ServerConfig) { cfg.MaxConns = 3 })
	ctx := ctxT(t)
	holdRaw(t, ctx, c, 2)
	within(t, 2*time.Second, func() {
		for range 5 {
			if _, err := c.List(ctx, "/"); err != nil {
				t.Errorf("List: %v", err)
			}
			if _, err := c.Size(ctx, "/f"); err != nil {
				t.Errorf("Size: %v", err)
			}
		}
	})
	wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if r, err := c.AcquireRaw(wctx); err == nil {
		r.Release(nil)
		t.Fatal("a third transfer got the slot kept for metadata")
	} else if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("third transfer: %v, want to wait until its ctx ends", err)
	}
	if st := c.Stats(); st.Conns > 3 || st.Slots != 2 {
		t.Errorf("stats %+v: want 2 slots held, at most 3 connections", st)
	}

	c2 := newClient(t, srv, func(cfg *ftpclient.ServerConfig) { cfg.MaxConns = 2 })
	rd, err := c2.OpenRead(ctx, "/f", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	within(t, 2*time.Second, func() {
		up, err := c2.OpenWrite(ctx, "/g", 0, ftpclient.WriteTruncate)
		if err != nil {
			t.Fatalf("a write next to a read on a 2-connection server: %v", err)
		}
		up.Close()
	})
}

// TestSchedReserveNoDeadlock: copies in both directions between two
// servers of two connections each, and within one server, reserve their
// connections at once: none deadlocks, and no server ever sees more than
// its limit.
func TestSchedReserveNoDeadlock(t *testing.T) {
	a, b := ftptest.Start(t), ftptest.Start(t)
	ca := newClient(t, a, func(cfg *ftpclient.ServerConfig) { cfg.MaxConns = 2 })
	cb := newClient(t, b, func(cfg *ftpclient.ServerConfig) { cfg.MaxConns = 2 })
	ctx := ctxT(t)
	pairs := [][2]*ftpclient.Client{{ca, cb}, {cb, ca}, {ca, ca}, {cb, cb}}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				p := pairs[i%len(pairs)]
				res, err := ftpclient.Reserve(ctx, p[0], p[1])
				if err != nil {
					errs <- err
					return
				}
				bctx := res.Bind(ctx)
				var raws []*ftpclient.RawConn
				for _, c := range p {
					r, err := c.AcquireRaw(bctx)
					if err != nil {
						errs <- fmt.Errorf("AcquireRaw under a reservation: %w", err)
						break
					}
					if _, err := r.Cmd(bctx, "NOOP"); err != nil {
						errs <- err
					}
					raws = append(raws, r)
				}
				time.Sleep(time.Millisecond)
				for _, r := range raws {
					r.Release(nil)
				}
				res.Release()
			}
		}()
	}
	within(t, 20*time.Second, wg.Wait)
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, s := range []*ftptest.Server{a, b} {
		if p := s.PeakConns(); p > 2 {
			t.Errorf("peak %d connections, limit 2", p)
		}
	}
	for _, c := range []*ftpclient.Client{ca, cb} {
		if st := c.Stats(); st.Slots != 0 || st.Waiting != 0 {
			t.Errorf("%s: slots left granted: %+v", c.Name(), st)
		}
	}
}

// TestSchedReservationCoversRelay: a relay within one server (a download
// and an upload at once) runs on a server limited to two connections, from
// one reservation, and an extra connection is refused at once when the
// copy needs more than the configured limit.
func TestSchedReservationCoversRelay(t *testing.T) {
	srv := ftptest.Start(t, ftptest.WithMaxConns(2))
	write(t, srv.Root, "src", []byte("relayed bytes"))
	c := newClient(t, srv, func(cfg *ftpclient.ServerConfig) { cfg.MaxConns = 2 })
	ctx := ctxT(t)
	res, err := ftpclient.Reserve(ctx, c, c)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	bctx := res.Bind(ctx)
	rd, err := c.OpenRead(bctx, "/src", 0)
	if err != nil {
		t.Fatal(err)
	}
	up, err := c.OpenWrite(bctx, "/dst", 0, ftpclient.WriteTruncate)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(up, rd); err != nil {
		t.Fatal(err)
	}
	if err := up.Close(); err != nil {
		t.Fatal(err)
	}
	rd.Close()
	if st := c.Stats(); st.Slots != 2 {
		t.Errorf("slots %d during the reservation, want 2", st.Slots)
	}
	res.Release()
	if st := c.Stats(); st.Slots != 0 {
		t.Errorf("slots %d after release, want 0", st.Slots)
	}
	if p := srv.PeakConns(); p > 2 {
		t.Errorf("peak %d", p)
	}
	if _, err := ftpclient.Reserve(ctx, c, c, c); !errors.Is(err, ftpclient.ErrUnsupported) {
		t.Errorf("3 slots of a 2-connection server: %v, want ErrUnsupported", err)
	}
}

// TestSchedWaitDeadline: every slot is held by a connection doing nothing,
// and the server says nothing: a waiter fails with ErrTimeout after the
// stated bound (DialTimeout + CmdTimeout), not before and not much later.
func TestSchedWaitDeadline(t *testing.T) {
	srv := ftptest.Start(t)
	c := newClient(t, srv, func(cfg *ftpclient.ServerConfig) {
		cfg.MaxConns = 2
		cfg.DialTimeout, cfg.CmdTimeout = 300*time.Millisecond, 500*time.Millisecond
	})
	const bound = 800 * time.Millisecond
	ctx := ctxT(t)
	holdRaw(t, ctx, c, 2) // a limit of 2 keeps no slot for metadata
	start := time.Now()
	_, err := c.AcquireRaw(ctx)
	took := time.Since(start)
	if !errors.Is(err, ftpclient.ErrTimeout) {
		t.Fatalf("got %v, want ErrTimeout", err)
	}
	if took < bound || took > bound+time.Second {
		t.Errorf("failed after %v, bound %v", took, bound)
	}
	t.Logf("waiter failed after %v (bound %v): %v", took.Round(time.Millisecond), bound, err)
}

// TestSchedWaitsForBusyServer: a waiter behind an FXP transfer in flight
// (a final reply awaited) does not time out while it runs.
func TestSchedWaitsForBusyServer(t *testing.T) {
	release := make(chan struct{})
	s := newFakeServer(t, func(s *fakeServer) {
		s.handlers["RETR"] = func(fc *fakeConn, _ string) {
			fc.reply("150 sending")
			<-release
			fc.reply("226 done")
		}
	})
	cfg := s.config()
	cfg.MaxConns = 1
	cfg.DialTimeout, cfg.CmdTimeout = 200*time.Millisecond, 300*time.Millisecond
	c, err := ftpclient.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := ctxT(t)
	r := holdRaw(t, ctx, c, 1)[0]
	if rep, err := r.Cmd(ctx, "RETR /f"); err != nil || rep.Code != 150 {
		t.Fatalf("RETR: %+v %v", rep, err)
	}
	got := make(chan error, 1)
	go func() {
		r2, err := c.AcquireRaw(ctx)
		if err == nil {
			r2.Release(nil)
		}
		got <- err
	}()
	final := make(chan error, 1)
	go func() { _, err := r.ReadReply(ctx); final <- err }()
	select {
	case err := <-got:
		t.Fatalf("waiter ended during the transfer: %v", err)
	case <-time.After(1500 * time.Millisecond): // three times the bound
	}
	close(release)
	if err := <-final; err != nil {
		t.Fatal(err)
	}
	r.Release(nil)
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("waiter: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiter not served after the release")
	}
}

// TestSchedFrozenServerBlocksNoOther: server A answers nothing after login
// and every one of its connections hangs; a copy waiting for A and B holds
// nothing of B, and B's listings, reads and reservations go on at once.
func TestSchedFrozenServerBlocksNoOther(t *testing.T) {
	frozen := newFakeServer(t, func(s *fakeServer) {
		s.handlers["CWD"] = func(*fakeConn, string) {} // never answers
	})
	cfgA := frozen.config()
	cfgA.MaxConns = 2
	cfgA.CmdTimeout = 5 * time.Second
	ca, err := ftpclient.New(cfgA, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	b := ftptest.Start(t)
	write(t, b.Root, "f", []byte("beta"))
	cb := newClient(t, b, func(cfg *ftpclient.ServerConfig) { cfg.MaxConns = 2 })
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	var wg sync.WaitGroup
	for range 3 { // more listings than A has connections
		wg.Add(1)
		go func() { defer wg.Done(); _, _ = ca.List(ctx, "/") }()
	}
	waitFor(t, "A's connections to hang", func() bool { return ca.Stats().Slots == 2 })
	wg.Add(1)
	go func() { // a copy A -> B, waiting for A
		defer wg.Done()
		if res, err := ftpclient.Reserve(ctx, ca, cb); err == nil {
			res.Release()
		}
	}()
	within(t, 3*time.Second, func() {
		for range 3 {
			if _, err := cb.List(ctx, "/"); err != nil {
				t.Errorf("B List: %v", err)
			}
			rc, err := cb.OpenRead(ctx, "/f", 0)
			if err != nil {
				t.Fatalf("B OpenRead: %v", err)
			}
			if b, err := io.ReadAll(rc); err != nil || string(b) != "beta" {
				t.Errorf("B read %q %v", b, err)
			}
			rc.Close()
			res, err := ftpclient.Reserve(ctx, cb, cb)
			if err != nil {
				t.Fatalf("B Reserve: %v", err)
			}
			res.Release()
		}
	})
	cancel()
	within(t, 3*time.Second, wg.Wait)
}
