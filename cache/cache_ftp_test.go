package cache

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
	"github.com/fxpfs/fxpfs/internal/ftptest"
)

// client starts an in-process FTP server holding a few files and returns a
// client for it with the given listing TTL.
func client(t *testing.T, ttl time.Duration) (*ftpclient.Client, *ftptest.Server) {
	t.Helper()
	srv := ftptest.Start(t)
	for _, p := range []string{"pub/a.txt", "pub/b.txt", "top.txt"} {
		full := filepath.Join(srv.Root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := srv.Config("alpha")
	cfg.ListingTTL = ttl
	cl, err := ftpclient.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	if err := cl.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	return cl, srv
}

func TestCachedLookupSendsNoCommand(t *testing.T) {
	cl, _ := client(t, time.Minute)
	c := New(0)
	ctx := context.Background()

	before := cl.Stats().Commands
	e, err := c.Lookup(ctx, cl, "/pub/a.txt")
	if err != nil || e.Size != int64(len("pub/a.txt")) || e.Type != ftpclient.TypeFile {
		t.Fatalf("Lookup = %+v, %v", e, err)
	}
	if cl.Stats().Commands == before {
		t.Fatal("the first lookup sent no command: nothing was listed")
	}

	warm := cl.Stats().Commands
	for _, p := range []string{"/pub/a.txt", "/pub/b.txt", "/pub/missing"} {
		_, err := c.Lookup(ctx, cl, p)
		if p == "/pub/missing" && !errors.Is(err, ftpclient.ErrNotFound) {
			t.Fatalf("Lookup(%s) = %v, want ErrNotFound", p, err)
		}
	}
	if list, err := c.List(ctx, cl, "/pub"); err != nil || len(list) != 2 {
		t.Fatalf("List = %v, %v", list, err)
	}
	if n := cl.Stats().Commands - warm; n != 0 {
		t.Fatalf("cached lookups sent %d commands, want 0", n)
	}
}

func TestTTLExpiryRefetchesFromServer(t *testing.T) {
	cl, srv := client(t, 300*time.Millisecond)
	c := New(0)
	ctx := context.Background()
	if _, err := c.Lookup(ctx, cl, "/top.txt"); err != nil {
		t.Fatal(err)
	}
	// A file added on the server is unseen while the listing is fresh...
	if err := os.WriteFile(filepath.Join(srv.Root, "new.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	warm := cl.Stats().Commands
	if _, err := c.Lookup(ctx, cl, "/new.txt"); !errors.Is(err, ftpclient.ErrNotFound) {
		t.Fatalf("fresh listing: Lookup(/new.txt) = %v, want ErrNotFound", err)
	}
	if n := cl.Stats().Commands - warm; n != 0 {
		t.Fatalf("negative lookup on a fresh listing sent %d commands", n)
	}
	// ...and found by a new listing once the TTL has passed.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := c.Lookup(ctx, cl, "/new.txt")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("listing never refetched: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if cl.Stats().Commands == warm {
		t.Fatal("no command was sent to refetch the listing")
	}
}
