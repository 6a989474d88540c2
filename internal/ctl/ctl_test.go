package ctl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
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
	Print(&buf, got, DefaultRecent)
	for _, s := range []string{"2 fxp,", "5.0 MiB moved server-to-server by FXP", "alpha", "alpha:/a -> beta:/a", " 50%", "fxp",
		"[TLS, beta is the TLS client (SSCN)]"} {
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

// TestUnsafeFolderRefused: a status folder someone else could write to, or
// that is not what it seems, is refused by the mount (Serve) and by
// `fxpfs status` (Fetch, FetchAll), even when a socket in it answers.
func TestUnsafeFolderRefused(t *testing.T) {
	tests := []struct {
		name     string
		root     bool // needs root (chown to another user)
		setup    func(t *testing.T, dir string)
		wantText string
	}{
		{"owned by another user", true, func(t *testing.T, dir string) {
			mustMkdir(t, dir, 0o700)
			if err := os.Chown(dir, 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}, "owned by uid 65534"},
		{"group and world writable", false, func(t *testing.T, dir string) {
			mustMkdir(t, dir, 0o777)
		}, "chmod 700"},
		{"readable by others", false, func(t *testing.T, dir string) {
			mustMkdir(t, dir, 0o755)
		}, "mode 0755"},
		{"symlink to a good folder", false, func(t *testing.T, dir string) {
			real := dir + ".real"
			mustMkdir(t, real, 0o700)
			if err := os.Symlink(real, dir); err != nil {
				t.Fatal(err)
			}
		}, "is a symlink"},
		{"a file", false, func(t *testing.T, dir string) {
			if err := os.WriteFile(dir, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}, "not a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.root && os.Geteuid() != 0 {
				t.Skip("needs root to make a folder owned by another user")
			}
			runtime := t.TempDir()
			t.Setenv("XDG_RUNTIME_DIR", runtime)
			dir := Dir()
			tt.setup(t, dir)
			// Whatever is there, a socket answering with spoofed data.
			sock := SocketPath("/mnt/x")
			if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
				ln, err := net.Listen("unix", sock)
				if err != nil {
					t.Fatal(err)
				}
				defer ln.Close()
				go func() {
					for {
						c, err := ln.Accept()
						if err != nil {
							return
						}
						_ = json.NewEncoder(c).Encode(Snapshot{Mountpoint: "/mnt/x", PID: 666})
						c.Close()
					}
				}()
			}
			ctx := context.Background()
			check := func(what string, err error) {
				t.Helper()
				if err == nil || !errors.Is(err, ErrUnsafeDir) || !strings.Contains(err.Error(), tt.wantText) {
					t.Errorf("%s: err = %v, want ErrUnsafeDir mentioning %q", what, err, tt.wantText)
				}
			}
			_, err := Fetch(ctx, sock)
			check("Fetch", err)
			_, err = FetchAll(ctx)
			check("FetchAll", err)
			sctx, cancel := context.WithCancel(ctx)
			defer cancel()
			err = Serve(sctx, SocketPath("/mnt/y"), func() Snapshot { return Snapshot{} }, slog.New(slog.DiscardHandler))
			check("Serve", err)
		})
	}
}

func TestServeMakesPrivateFolder(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", filepath.Join(t.TempDir(), "run")) // parent missing too
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := Serve(ctx, SocketPath("/mnt/z"), func() Snapshot { return Snapshot{PID: 7} }, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(Dir())
	if err != nil {
		t.Fatal(err)
	}
	if !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("status folder mode %v, want drwx------", fi.Mode())
	}
	if s, err := Fetch(ctx, SocketPath("/mnt/z")); err != nil || s.PID != 7 {
		t.Fatalf("Fetch = %+v, %v", s, err)
	}
}

func mustMkdir(t *testing.T, dir string, mode os.FileMode) {
	t.Helper()
	if err := os.Mkdir(dir, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil { // umask
		t.Fatal(err)
	}
}

// TestPrintThousandFiles: after a 1,000-file copy, the report alone says how
// each file went (counts per outcome, relay reasons, bytes uploaded vs moved
// by FXP), lists the newest transfers, and lists every failure kept even when
// it is older than the ones shown.
func TestPrintThousandFiles(t *testing.T) {
	s := Snapshot{Mountpoint: "/mnt/fxp", Started: time.Now(),
		Servers: []ServerStatus{
			{Name: "alpha", Stats: ftpclient.Stats{BytesOut: 3 << 20, BytesIn: 1 << 20}},
			{Name: "beta", Stats: ftpclient.Stats{BytesOut: 1 << 20}},
		},
		Counters: fxpcopy.Counters{FXPFiles: 990, FXPRevFiles: 12, MatchedFiles: 3, RelayFiles: 8, Failed: 2,
			FXPBytes: 990 << 20, MatchedBytes: 3 << 20, RelayBytes: 4 << 20,
			RelayReasons: map[string]int64{`fxp="off" for beta`: 6, "fxp: 500 PORT refused; fxp-reversed: 425 no": 2}},
	}
	for i := 1000; i >= 1; i-- {
		r := fxpcopy.Record{ID: int64(i), Src: fmt.Sprintf("alpha:/t/f%04d", i), Dst: fmt.Sprintf("beta:/t/f%04d", i),
			Size: 1 << 20, Bytes: 1 << 20, Mode: fxpcopy.ModeFXP}
		switch i {
		case 7, 500:
			r.Err, r.Mode = "550 no space", fxpcopy.ModeRelay
		case 999:
			r.Origin = fxpcopy.OriginMatchedStream
		}
		s.Recent = append(s.Recent, r)
	}
	for _, tt := range []struct {
		recent     int
		lines      int // transfer lines expected
		wantAbsent []string
	}{
		{DefaultRecent, DefaultRecent + 2, []string{"f0980 ->"}},
		{0, 1000, nil},
	} {
		var buf bytes.Buffer
		Print(&buf, s, tt.recent)
		out := buf.String()
		for _, want := range []string{
			"copies: 1000 finished: 975 fxp, 12 fxp-reversed, 3 fxp (matched write stream), 8 relay, 2 failed",
			"relayed 6× because: fxp=\"off\" for beta",
			"relayed 2× because: fxp: 500 PORT refused; fxp-reversed: 425 no",
			"990.0 MiB moved server-to-server by FXP (3.0 MiB of it instead of uploads); this host uploaded 4.0 MiB (4.0 MiB of it relayed) and downloaded 1.0 MiB",
			"alpha:/t/f1000 -> beta:/t/f1000",
			"alpha:/t/f0999 -> beta:/t/f0999  1.0 MiB/1.0 MiB 100%",
			"fxp (matched write stream)",
			"alpha:/t/f0500 -> beta:/t/f0500", "alpha:/t/f0007 -> beta:/t/f0007", "FAILED: 550 no space",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("recent=%d: report lacks %q:\n%s", tt.recent, want, tail(out))
			}
		}
		for _, no := range tt.wantAbsent {
			if strings.Contains(out, no) {
				t.Errorf("recent=%d: report shows %q", tt.recent, no)
			}
		}
		if n := strings.Count(out, " -> "); n != tt.lines {
			t.Errorf("recent=%d: %d transfer lines, want %d", tt.recent, n, tt.lines)
		}
	}
}

func tail(s string) string {
	if len(s) > 3000 {
		return "..." + s[len(s)-3000:]
	}
	return s
}
