package cache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// fakeLister serves fixed listings and counts List calls. A non-nil gate
// blocks every List until it is closed.
type fakeLister struct {
	ttl   time.Duration
	dirs  map[string][]ftpclient.Entry
	calls atomic.Int64
	gate  chan struct{}
	fail  error
}

func (f *fakeLister) Config() ftpclient.ServerConfig {
	return ftpclient.ServerConfig{Name: "fake", ListingTTL: f.ttl}
}

func (f *fakeLister) List(ctx context.Context, dir string) ([]ftpclient.Entry, error) {
	f.calls.Add(1)
	if f.gate != nil {
		<-f.gate
	}
	if f.fail != nil {
		return nil, f.fail
	}
	es, ok := f.dirs[dir]
	if !ok {
		return nil, fmt.Errorf("list %s: %w", dir, ftpclient.ErrNotFound)
	}
	return append([]ftpclient.Entry(nil), es...), nil
}

func newFake(ttl time.Duration) *fakeLister {
	return &fakeLister{ttl: ttl, dirs: map[string][]ftpclient.Entry{
		"/":    {{Name: "pub", Type: ftpclient.TypeDir}, {Name: "a.txt", Size: 3}},
		"/pub": {{Name: "b.bin", Size: 1000}},
	}}
}

func TestLookupFromParentListing(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		path    string
		wantErr error
		want    ftpclient.Entry
	}{
		{path: "/", want: ftpclient.Entry{Name: "/", Type: ftpclient.TypeDir}},
		{path: "/a.txt", want: ftpclient.Entry{Name: "a.txt", Size: 3}},
		{path: "/pub", want: ftpclient.Entry{Name: "pub", Type: ftpclient.TypeDir}},
		{path: "/pub/b.bin", want: ftpclient.Entry{Name: "b.bin", Size: 1000}},
		{path: "/missing", wantErr: ftpclient.ErrNotFound},
		{path: "/nodir/x", wantErr: ftpclient.ErrNotFound},
	}
	f := newFake(time.Minute)
	c := New(0)
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			got, err := c.Lookup(ctx, f, tc.path)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Lookup(%s) err = %v, want %v", tc.path, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Lookup(%s) = %+v, %v; want %+v", tc.path, got, err, tc.want)
			}
		})
	}
	// "/", "/pub" and "/nodir" were listed once each; everything else was cached,
	// including the negative answer for /missing.
	before := f.calls.Load()
	for _, tc := range tests {
		_, _ = c.Lookup(ctx, f, tc.path)
	}
	if n := f.calls.Load() - before; n != 1 { // only the failed /nodir listing is retried
		t.Errorf("second round sent %d listings, want 1 (failures are not cached)", n)
	}
}

func TestConcurrentMissesShareOneList(t *testing.T) {
	f := newFake(time.Minute)
	f.gate = make(chan struct{})
	c := New(0)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.List(context.Background(), f, "/pub")
			errs <- err
		}()
	}
	// Wait until the first List is in flight, then release it.
	deadline := time.Now().Add(5 * time.Second)
	for f.calls.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	close(f.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := f.calls.Load(); n != 1 {
		t.Fatalf("20 concurrent lookups sent %d listings, want 1", n)
	}
}

func TestWaiterHonoursContext(t *testing.T) {
	f := newFake(time.Minute)
	f.gate = make(chan struct{})
	defer close(f.gate)
	c := New(0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := c.List(ctx, f, "/"); done <- err }()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("List did not return after its context was cancelled")
	}
}

func TestTTLExpiryRefetches(t *testing.T) {
	f := newFake(50 * time.Millisecond)
	c := New(0)
	ctx := context.Background()
	if _, err := c.Lookup(ctx, f, "/a.txt"); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Expires(f, "/"); !ok {
		t.Fatal("listing of / not cached after a lookup")
	}
	deadline := time.Now().Add(5 * time.Second)
	for f.calls.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("listing was never refetched after the TTL")
		}
		if _, err := c.Lookup(ctx, f, "/a.txt"); err != nil {
			t.Fatal(err)
		}
	}
}

func TestUpdatesShowAtOnce(t *testing.T) {
	f := newFake(time.Minute)
	c := New(0)
	ctx := context.Background()
	if _, err := c.List(ctx, f, "/"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.List(ctx, f, "/pub"); err != nil {
		t.Fatal(err)
	}
	calls := f.calls.Load()

	c.Put(f, "/new.txt", ftpclient.Entry{Size: 7})
	if e, err := c.Lookup(ctx, f, "/new.txt"); err != nil || e.Size != 7 || e.Name != "new.txt" {
		t.Fatalf("after Put: %+v, %v", e, err)
	}
	if !c.Update(f, "/new.txt", func(e *ftpclient.Entry) { e.Size = 9 }) {
		t.Fatal("Update found no entry")
	}
	if e, _ := c.Lookup(ctx, f, "/new.txt"); e.Size != 9 {
		t.Fatalf("after Update size = %d", e.Size)
	}
	if c.Update(f, "/nope", func(*ftpclient.Entry) {}) {
		t.Fatal("Update of a missing entry reported success")
	}
	c.Remove(f, "/new.txt")
	if _, err := c.Lookup(ctx, f, "/new.txt"); !errors.Is(err, ftpclient.ErrNotFound) {
		t.Fatalf("after Remove: %v", err)
	}
	if n := f.calls.Load() - calls; n != 0 {
		t.Fatalf("updates caused %d listings", n)
	}

	// Removing a directory drops its own listing too.
	c.Remove(f, "/pub")
	if _, ok := c.Expires(f, "/pub"); ok {
		t.Fatal("listing of removed /pub still cached")
	}
	c.Invalidate(f, "/")
	if _, err := c.Lookup(ctx, f, "/a.txt"); err != nil {
		t.Fatal(err)
	}
	if n := f.calls.Load() - calls; n != 1 {
		t.Fatalf("Invalidate then Lookup sent %d listings, want 1", n)
	}
}

func TestChangeDuringFillIsNotOverwritten(t *testing.T) {
	f := newFake(time.Minute)
	f.gate = make(chan struct{})
	c := New(0)
	done := make(chan error, 1)
	go func() { _, err := c.List(context.Background(), f, "/"); done <- err }()
	deadline := time.Now().Add(5 * time.Second)
	for f.calls.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	c.Invalidate(f, "/") // a change made while the listing was on the wire
	close(f.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Expires(f, "/"); ok {
		t.Fatal("a listing fetched across a change was stored")
	}
}

func TestZeroTTLDisablesCaching(t *testing.T) {
	f := newFake(0)
	c := New(0)
	for i := 0; i < 3; i++ {
		if _, err := c.Lookup(context.Background(), f, "/a.txt"); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.calls.Load(); n != 3 {
		t.Fatalf("TTL 0: %d listings for 3 lookups, want 3", n)
	}
}

// TestEntryChangesTouchTheDirectory: a file made, replaced or removed in a
// directory changes the directory's mtime on the server, so a time set on
// the directory before (rsync -a sets it, then renames its last file into
// it) must not show any longer: the program would not set it again.
func TestEntryChangesTouchTheDirectory(t *testing.T) {
	old := time.Date(2021, 3, 4, 10, 11, 12, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		change func(c *Cache, f *fakeLister)
	}{
		{"put", func(c *Cache, f *fakeLister) { c.Put(f, "/pub/new", ftpclient.Entry{Size: 1}) }},
		{"remove", func(c *Cache, f *fakeLister) { c.Remove(f, "/pub/b.bin") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(time.Minute)
			c := New(0)
			ctx := context.Background()
			for _, d := range []string{"/", "/pub"} {
				if _, err := c.List(ctx, f, d); err != nil {
					t.Fatal(err)
				}
			}
			if !c.Update(f, "/pub", func(e *ftpclient.Entry) { e.Mtime = old }) {
				t.Fatal("/pub not cached")
			}
			before := time.Now()
			tc.change(c, f)
			e, err := c.Lookup(ctx, f, "/pub")
			if err != nil {
				t.Fatal(err)
			}
			if e.Mtime.Before(before) {
				t.Errorf("/pub mtime %v after a change in it, want about now (not the time set before)", e.Mtime)
			}
			if a, _ := c.Lookup(ctx, f, "/a.txt"); a.Mtime.After(before) {
				t.Errorf("a file next to the directory was touched too: %v", a.Mtime)
			}
		})
	}
}
