package ctl

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
	"github.com/fxpfs/fxpfs/fxpcopy"
)

func TestServeFetchPrint(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	mp := filepath.Join(t.TempDir(), "mnt")
	want := Snapshot{Mountpoint: mp, PID: 42, Started: time.Now().Add(-time.Minute),
		Servers:  []ServerStatus{{Name: "alpha", Addr: "127.0.0.2:21", Stats: ftpclient.Stats{Commands: 7, BytesIn: 3 << 20}}},
		Counters: fxpcopy.Counters{FXPFiles: 2, FXPBytes: 5 << 20},
		Active: []fxpcopy.Record{{Src: "alpha:/a", Dst: "beta:/a", Size: 100, Bytes: 50, Mode: fxpcopy.ModeFXP, Active: true, Started: time.Now(),
			Protection: "TLS, beta is the TLS client (SSCN)"}},
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	path := SocketPath(mp)
	if err := Serve(ctx, path, func() Snapshot { return want }, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	if err := Serve(ctx, path, func() Snapshot { return want }, slog.New(slog.DiscardHandler)); err == nil {
		t.Error("a second mount serving the same mount point must be refused")
	}
	got, err := Fetch(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Mountpoint != mp || got.Servers[0].Stats.Commands != 7 || got.Counters.FXPBytes != 5<<20 || len(got.Active) != 1 {
		t.Fatalf("got %+v", got)
	}
	all, err := FetchAll(ctx)
	if err != nil || len(all) != 1 {
		t.Fatalf("FetchAll = %v, %v", all, err)
	}
	var buf bytes.Buffer
	Print(&buf, got)
	for _, s := range []string{"2 by FXP (5.0 MiB server-to-server)", "alpha", "alpha:/a -> beta:/a", " 50%", "fxp", "[TLS, beta is the TLS client (SSCN)]"} {
		if !strings.Contains(buf.String(), s) {
			t.Errorf("report lacks %q:\n%s", s, buf.String())
		}
	}
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := Fetch(context.Background(), path); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("socket still answers after ctx is done")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestHumanBytes(t *testing.T) {
	for _, tt := range []struct {
		n    int64
		want string
	}{{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {5 << 20, "5.0 MiB"}, {3 << 30, "3.0 GiB"}} {
		if got := HumanBytes(tt.n); got != tt.want {
			t.Errorf("HumanBytes(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}
