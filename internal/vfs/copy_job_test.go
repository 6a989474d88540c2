package vfs

import (
	"context"
	"errors"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/fxpcopy"
)

// gatedCopy makes the VFS's server-side copies wait for gate (or their
// context) before copying for real, and counts them.
type gatedCopy struct {
	gate      chan struct{}
	started   chan struct{} // one value per copy started
	calls     atomic.Int32
	cancelled atomic.Int32
}

func gate(e *env) *gatedCopy {
	g := &gatedCopy{gate: make(chan struct{}), started: make(chan struct{}, 16)}
	real := e.eng.Copy
	e.v.copyFn = func(ctx context.Context, src, dst fxpcopy.Endpoint, opts fxpcopy.Options) (fxpcopy.Record, error) {
		g.calls.Add(1)
		g.started <- struct{}{}
		select {
		case <-g.gate:
		case <-ctx.Done():
			g.cancelled.Add(1)
			return fxpcopy.Record{}, ctx.Err()
		}
		return real(ctx, src, dst, opts)
	}
	return g
}

// interruptedCall runs CopyFrom with a context cancelled once the copy has
// started, as FUSE_INTERRUPT does, and checks it answers EINTR's cause.
func interruptedCall(t *testing.T, g *gatedCopy, dst, src *Handle, length int64) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() {
		_, err := dst.CopyFrom(ctx, src, 0, 0, length)
		res <- err
	}()
	select {
	case <-g.started:
	case <-time.After(10 * time.Second):
		t.Fatal("the server-side copy did not start")
	}
	cancel()
	select {
	case err := <-res:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("interrupted copy_file_range: %v, want context.Canceled (EINTR)", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("an interrupted copy_file_range did not return (the process would be unkillable)")
	}
}

func TestInterruptedCopyReattaches(t *testing.T) {
	e := newEnv(t, setup{names: []string{"alpha", "beta"}, fxp: true})
	data := e.putRandom("alpha", "/src.bin", 2<<20)
	g := gate(e)
	src := e.open(t, "alpha", "/src.bin", os.O_RDONLY)
	defer src.Release(context.Background())
	dst, _ := e.create("beta", "/dst.bin")
	interruptedCall(t, g, dst, src, int64(len(data)))
	// The program retries: it attaches to the copy under way.
	res := make(chan error, 1)
	var n int64
	go func() {
		var err error
		n, err = dst.CopyFrom(context.Background(), src, 0, 0, int64(len(data)))
		res <- err
	}()
	close(g.gate)
	if err := <-res; err != nil || n != int64(len(data)) {
		t.Fatalf("retried copy_file_range = %d, %v", n, err)
	}
	if err := closeFile(dst); err != nil {
		t.Fatal(err)
	}
	e.diskEquals("beta", "/dst.bin", data)
	if c := g.calls.Load(); c != 1 {
		t.Errorf("server-side copies = %d, want 1 (the retry attaches)", c)
	}
}

func TestAbandonedCopyLeavesNothing(t *testing.T) {
	e := newEnv(t, setup{names: []string{"alpha", "beta"}, fxp: true})
	e.putRandom("alpha", "/src.bin", 1<<20)
	orig := e.putRandom("beta", "/existing.bin", 1000)
	for _, tc := range []struct {
		name    string
		dst     string
		create  bool
		remains []byte // nil: nothing at the destination
	}{
		{"new file", "/new.bin", true, nil},
		{"existing file", "/existing.bin", false, orig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := gate(e)
			src := e.open(t, "alpha", "/src.bin", os.O_RDONLY)
			defer src.Release(context.Background())
			var dst *Handle
			var n *testNode
			if tc.create {
				dst, n = e.create("beta", tc.dst)
			} else {
				f, tn := e.file("beta", tc.dst)
				var err error
				if dst, err = f.Open(context.Background(), os.O_WRONLY|os.O_TRUNC); err != nil {
					t.Fatal(err)
				}
				n = tn
			}
			interruptedCall(t, g, dst, src, 1<<20)
			// Killed: its descriptors are closed.
			if err := closeFile(dst); !errors.Is(err, ErrFailed) {
				t.Errorf("close after an abandoned copy: %v, want ErrFailed", err)
			}
			if g.cancelled.Load() != 1 {
				t.Error("the server-side copy was not cancelled")
			}
			if tc.remains == nil {
				if !notExist(e.disk("beta", tc.dst)) {
					t.Error("something is left at the destination")
				}
				if n.gone.Load() == 0 {
					t.Error("the new file was not reported gone")
				}
			} else {
				diskEquals(t, e, "beta", tc.dst, tc.remains)
			}
			if l := leftovers(t, e, "beta", "/"); len(l) != 0 {
				t.Errorf("temporaries left: %v", l)
			}
		})
	}
}

func TestInterruptedCopyGraceAndFallback(t *testing.T) {
	e := newEnv(t, setup{names: []string{"alpha", "beta"}, fxp: true})
	data := e.putRandom("alpha", "/src.bin", 1<<20)
	e.v.copyGrace = 50 * time.Millisecond
	g := gate(e)
	src := e.open(t, "alpha", "/src.bin", os.O_RDONLY)
	defer src.Release(context.Background())

	// Nobody comes back: the copy is cancelled after the grace period, and
	// the next call starts a new one.
	dst, _ := e.create("beta", "/a.bin")
	interruptedCall(t, g, dst, src, int64(len(data)))
	waitFor(t, 5*time.Second, "the abandoned copy's cancellation", func() bool { return g.cancelled.Load() == 1 })
	close(g.gate)
	if n, err := dst.CopyFrom(context.Background(), src, 0, 0, int64(len(data))); err != nil || n != int64(len(data)) {
		t.Fatalf("copy after the grace period: %d, %v", n, err)
	}
	if err := closeFile(dst); err != nil {
		t.Fatal(err)
	}
	e.diskEquals("beta", "/a.bin", data)

	// The program falls back to writing itself: the copy is cancelled and
	// the file is what it writes.
	g = gate(e)
	dst, _ = e.create("beta", "/b.bin")
	interruptedCall(t, g, dst, src, int64(len(data)))
	mustWrite(t, dst, []byte("written by hand"), 0)
	if err := closeFile(dst); err != nil {
		t.Fatal(err)
	}
	e.diskEquals("beta", "/b.bin", []byte("written by hand"))
	if g.cancelled.Load() != 1 {
		t.Error("the copy was not cancelled by the fallback writes")
	}
}
