package fxpcopy

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
	"github.com/fxpfs/fxpfs/internal/realftpd"
)

// testLog writes the engine's and clients' logs to the test log.
func testLog(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

// client returns an ftpclient for srv with the given FXP policy, closed at cleanup.
func client(t testing.TB, srv *realftpd.Server, policy ftpclient.FXPPolicy) *ftpclient.Client {
	t.Helper()
	cfg := srv.Config("")
	cfg.FXP = policy
	c, err := ftpclient.New(cfg, testLog(t))
	if err != nil {
		t.Fatalf("ftpclient.New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// newEngine returns an engine that polls progress quickly.
func newEngine(t testing.TB) *Engine {
	e := New(testLog(t))
	e.poll = 50 * time.Millisecond
	return e
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// fileSHA returns the sha256 of a file on disk, or "" if it does not exist.
func fileSHA(t testing.TB, p string) string {
	t.Helper()
	f, err := os.Open(p)
	if os.IsNotExist(err) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// servers are the usual pair: vsftpd on 127.0.0.2 and pure-ftpd on 127.0.0.3.
func servers(t testing.TB, vsFXP, pureFXP bool) (vs, pure *realftpd.Server) {
	t.Helper()
	vs = realftpd.StartVsftpd(t, realftpd.Options{Addr: "127.0.0.2", FXP: vsFXP})
	pure = realftpd.StartPureFTPd(t, realftpd.Options{Addr: "127.0.0.3", FXP: pureFXP})
	return vs, pure
}
