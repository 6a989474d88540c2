package fusefs

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/cache"
	"github.com/fxpfs/fxpfs/ftpclient"
	"github.com/fxpfs/fxpfs/fxpcopy"
	"github.com/fxpfs/fxpfs/internal/ftptest"
	"github.com/fxpfs/fxpfs/internal/testutil"
)

// mounted is a kernel mount of one or more in-process FTP servers.
type mounted struct {
	t       *testing.T
	mnt     string
	root    *Root
	servers map[string]*ftptest.Server
	clients map[string]*ftpclient.Client
	eng     *fxpcopy.Engine
}

type setup struct {
	names      []string
	ttl        time.Duration
	opts       Options
	srvOpts    []ftptest.Option
	srvOptsFor map[string][]ftptest.Option // more options for one server
	quirksFor  map[string]ftptest.Quirks   // a StartQuirky server with these quirks for one server
	maxConns   int
	fxp        bool // give the root an fxpcopy.Engine
}

// mount starts one ftptest server per name (default "alpha"), mounts them
// all through the kernel and returns the mount.
func mount(t *testing.T, s setup) *mounted {
	t.Helper()
	testutil.SkipIfNoFUSE(t)
	if len(s.names) == 0 {
		s.names = []string{"alpha"}
	}
	if s.ttl == 0 {
		s.ttl = time.Minute
	}
	m := &mounted{t: t, servers: map[string]*ftptest.Server{}, clients: map[string]*ftpclient.Client{}}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var clients []*ftpclient.Client
	for _, name := range s.names {
		opts := append(append([]ftptest.Option(nil), s.srvOpts...), s.srvOptsFor[name]...)
		var srv *ftptest.Server
		if q, ok := s.quirksFor[name]; ok {
			srv = ftptest.StartQuirky(t, q, opts...)
		} else {
			srv = ftptest.Start(t, opts...)
		}
		cfg := srv.Config(name)
		cfg.ListingTTL = s.ttl
		cfg.MaxConns = s.maxConns
		cl, err := ftpclient.New(cfg, log)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cl.Close() })
		m.servers[name], m.clients[name] = srv, cl
		clients = append(clients, cl)
	}
	if s.opts.TempDir == "" {
		s.opts.TempDir = t.TempDir()
	}
	s.opts.Logger = log
	var eng *fxpcopy.Engine
	if s.fxp {
		eng = fxpcopy.New(log)
	}
	m.eng = eng
	root, err := NewRoot(clients, cache.New(0), eng, s.opts)
	if err != nil {
		t.Fatal(err)
	}
	m.root = root
	t.Cleanup(func() { root.Close() }) // after the unmount (cleanups run last first)
	m.mnt = testutil.Mount(t, root, root.FSOptions())
	return m
}

// testWriter sends log lines to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// path returns the mount path of server name's path p.
func (m *mounted) path(name, p string) string { return filepath.Join(m.mnt, name, p) }

// disk returns the on-disk path of server name's path p.
func (m *mounted) disk(name, p string) string { return filepath.Join(m.servers[name].Root, p) }

// commands is the number of FTP commands the client for name has sent.
func (m *mounted) commands(name string) int64 { return m.clients[name].Stats().Commands }

// run runs a command (never with its working directory in the mount: see
// go-fuse's notes on fork/exec deadlocks) and returns its combined output.
func run(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(out), err
}

// mustRun is run that fails the test on error.
func mustRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := run(t, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// randomFile writes size random bytes to path and returns them.
func randomFile(t *testing.T, path string, size int) []byte {
	t.Helper()
	data := make([]byte, size)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return data
}

func sha(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// fileEquals fails unless path holds want.
func fileEquals(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: %d bytes (sha %s), want %d bytes (sha %s)", path, len(got), sha(got)[:12], len(want), sha(want)[:12])
	}
}
