package vfs

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/cache"
	"github.com/fxpfs/fxpfs/ftpclient"
	"github.com/fxpfs/fxpfs/fxpcopy"
	"github.com/fxpfs/fxpfs/internal/ftptest"
)

// env is a VFS over one or more in-process FTP servers, without FUSE.
type env struct {
	t       testing.TB
	v       *VFS
	cache   *cache.Cache
	eng     *fxpcopy.Engine
	tmp     string // Options.TempDir
	servers map[string]*ftptest.Server
	clients map[string]*ftpclient.Client
}

type setup struct {
	names    []string // default "alpha"
	srvOpts  []ftptest.Option
	quirks   *ftptest.Quirks // a StartQuirky server instead of Start's
	maxConns int
	fxp      bool // give the VFS an fxpcopy.Engine
	opts     Options
}

func newEnv(t testing.TB, s setup) *env {
	t.Helper()
	if len(s.names) == 0 {
		s.names = []string{"alpha"}
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	e := &env{t: t, cache: cache.New(0), servers: map[string]*ftptest.Server{}, clients: map[string]*ftpclient.Client{}}
	for _, name := range s.names {
		var srv *ftptest.Server
		if s.quirks != nil {
			srv = ftptest.StartQuirky(t, *s.quirks, s.srvOpts...)
		} else {
			srv = ftptest.Start(t, s.srvOpts...)
		}
		cfg := srv.Config(name)
		cfg.ListingTTL = time.Minute
		cfg.MaxConns = s.maxConns
		cl, err := ftpclient.New(cfg, log)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cl.Close() })
		e.servers[name], e.clients[name] = srv, cl
	}
	if s.fxp {
		e.eng = fxpcopy.New(log)
	}
	if s.opts.TempDir == "" {
		s.opts.TempDir = t.TempDir()
	}
	if s.opts.MatchMin == 0 {
		s.opts.MatchMin = 1 << 20 // a fixed threshold: the measured one depends on the machine
	}
	e.tmp = s.opts.TempDir
	s.opts.Logger = log
	e.v = New(e.cache, e.eng, s.opts)
	t.Cleanup(func() {
		if err := e.v.Close(); err != nil {
			t.Errorf("vfs close: %v", err)
		}
	})
	return e
}

// testWriter sends log lines to t.Log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// testNode is a file node as the layer above would keep it.
type testNode struct {
	mu      sync.Mutex
	p       string
	gone    atomic.Int32
	changed atomic.Int32
}

func (n *testNode) Path() (string, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.p == "" {
		return "", syscall.ENOENT
	}
	return n.p, nil
}

func (n *testNode) move(p string) {
	n.mu.Lock()
	n.p = p
	n.mu.Unlock()
}

func (n *testNode) Gone()    { n.gone.Add(1) }
func (n *testNode) Changed() { n.changed.Add(1) }

// file returns a File for server name's path p.
func (e *env) file(name, p string) (*File, *testNode) {
	n := &testNode{p: p}
	return e.v.NewFile(e.clients[name], n), n
}

// open opens server name's path p with flags.
func (e *env) open(t testing.TB, name, p string, flags int) *Handle {
	t.Helper()
	f, _ := e.file(name, p)
	h, err := f.Open(context.Background(), flags)
	if err != nil {
		t.Fatalf("open %s:%s: %v", name, p, err)
	}
	return h
}

// create creates server name's path p (as the layer above does on
// O_CREAT: a cache entry, then the handle).
func (e *env) create(name, p string) (*Handle, *testNode) {
	e.t.Helper()
	f, n := e.file(name, p)
	e.cache.Put(e.clients[name], p, ftpclient.Entry{Name: filepath.Base(p), Type: ftpclient.TypeFile, Mtime: time.Now()})
	return f.Create(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, DefaultFileMode), n
}

// disk returns the on-disk path of server name's path p.
func (e *env) disk(name, p string) string { return filepath.Join(e.servers[name].Root, p) }

// put writes data to server name's path p on disk.
func (e *env) put(name, p string, data []byte) {
	e.t.Helper()
	d := e.disk(name, p)
	if err := os.MkdirAll(filepath.Dir(d), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(d, data, 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// putRandom writes n random bytes to server name's path p and returns them.
func (e *env) putRandom(name, p string, n int) []byte {
	e.t.Helper()
	b := randomBytes(e.t, n)
	e.put(name, p, b)
	return b
}

// diskEquals fails unless server name's path p holds want.
func (e *env) diskEquals(name, p string, want []byte) {
	e.t.Helper()
	diskEquals(e.t, e, name, p, want)
}

func diskEquals(t testing.TB, e *env, name, p string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(e.disk(name, p))
	if err != nil {
		t.Fatalf("%s:%s on disk: %v", name, p, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s:%s on disk: %d bytes (sha %s), want %d bytes (sha %s)", name, p, len(got), sha(got)[:12], len(want), sha(want)[:12])
	}
}

// mustWrite writes data at off through h.
func mustWrite(t *testing.T, h *Handle, data []byte, off int64) {
	t.Helper()
	n, err := h.Write(context.Background(), data, off)
	if err != nil || n != len(data) {
		t.Fatalf("write %d bytes at %d: %d, %v", len(data), off, n, err)
	}
}

// readAt reads up to n bytes at off through h.
func readAt(h *Handle, n int, off int64) ([]byte, error) {
	r, err := h.Read(context.Background(), make([]byte, n), off)
	if err != nil {
		return nil, err
	}
	defer r.Done()
	return bytes.Clone(r.Bytes(nil)), nil
}

// readAll reads h from off to its end in requests of size bs.
func readAll(h *Handle, bs int) ([]byte, error) {
	var out []byte
	for {
		b, err := readAt(h, bs, int64(len(out)))
		if err != nil {
			return out, err
		}
		if len(b) == 0 {
			return out, nil
		}
		out = append(out, b...)
	}
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func sha(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// closeFile is close(2): Flush, then Release.
func closeFile(h *Handle) error {
	err := h.Flush(context.Background())
	h.Release(context.Background())
	return err
}

// notExist reports whether a local path is absent.
func notExist(p string) bool {
	_, err := os.Lstat(p)
	return errors.Is(err, os.ErrNotExist)
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ftpEntry is a cache entry for a new file named name.
func ftpEntry(name string) ftpclient.Entry {
	return ftpclient.Entry{Name: name, Type: ftpclient.TypeFile, Mtime: time.Now()}
}
