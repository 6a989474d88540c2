package ftpclient_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fxpfs/fxpfs/ftpclient"
	"github.com/fxpfs/fxpfs/internal/ftptest"
)

func TestUploadModes(t *testing.T) {
	srv := ftptest.Start(t)
	c := newClient(t, srv)
	ctx := ctxT(t)
	write(t, srv.Root, "f", []byte("0123456789"))
	tests := []struct {
		name string
		off  int64
		mode ftpclient.WriteMode
		data string
		want string
	}{
		{"truncate", 0, ftpclient.WriteTruncate, "abc", "abc"},
		{"at offset", 1, ftpclient.WriteAt, "XY", "aXY"},
		{"append", 0, ftpclient.WriteAppend, "++", "aXY++"},
		{"empty", 0, ftpclient.WriteTruncate, "", ""},
	}
	for _, tt := range tests {
		up, err := c.OpenWrite(ctx, "/f", tt.off, tt.mode)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if _, err := io.Copy(up, strings.NewReader(tt.data)); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if err := up.Close(); err != nil {
			t.Fatalf("%s: close: %v", tt.name, err)
		}
		if got, _ := os.ReadFile(filepath.Join(srv.Root, "f")); string(got) != tt.want {
			t.Errorf("%s: file is %q, want %q", tt.name, got, tt.want)
		}
	}
	if _, err := c.OpenWrite(ctx, "/f", 5, ftpclient.WriteTruncate); err == nil {
		t.Error("WriteTruncate at an offset accepted")
	}
}

func TestUploadRefused(t *testing.T) {
	srv := ftptest.Start(t)
	c := newClient(t, srv)
	ctx := ctxT(t)
	if err := os.Mkdir(filepath.Join(srv.Root, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]error{"/missing/f": ftpclient.ErrNotFound, "/dir": ftpclient.ErrIsDir} {
		up, err := c.OpenWrite(ctx, p, 0, ftpclient.WriteTruncate)
		if err == nil {
			// goftp answers 150 before it opens the file: the refusal
			// must then come from Close.
			up.Write([]byte("data"))
			err = up.Close()
		}
		if !errors.Is(err, want) {
			t.Errorf("upload to %s: %v, want %v", p, err, want)
		}
	}
	if _, err := c.List(ctx, "/"); err != nil {
		t.Errorf("client unusable after refused uploads: %v", err)
	}
}

// TestUploadFailsOnClose: a server that dies mid-upload makes Close fail.
func TestUploadFailsOnClose(t *testing.T) {
	srv := ftptest.Start(t)
	c := newClient(t, srv)
	up, err := c.OpenWrite(ctxT(t), "/f", 0, ftpclient.WriteTruncate)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := up.Write(bytes.Repeat([]byte("a"), 1<<20)); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	_, werr := up.Write([]byte("more"))
	cerr := up.Close()
	if cerr == nil {
		t.Fatalf("Close after the server died succeeded (write: %v)", werr)
	}
	if up.Close() != nil {
		t.Error("second Close not a no-op")
	}
}

func TestUploadAbort(t *testing.T) {
	srv := ftptest.Start(t)
	c := newClient(t, srv)
	ctx := ctxT(t)
	up, err := c.OpenWrite(ctx, "/f", 0, ftpclient.WriteTruncate)
	if err != nil {
		t.Fatal(err)
	}
	up.Write([]byte("partial"))
	if err := up.Abort(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.List(ctx, "/"); err != nil {
		t.Fatalf("after Abort: %v", err)
	}
	if d := c.Stats().Dials; d != 2 {
		t.Errorf("dials %d: the aborted connection must not be reused", d)
	}
}

func TestReadErrors(t *testing.T) {
	srv := ftptest.Start(t)
	c := newClient(t, srv)
	ctx := ctxT(t)
	os.Mkdir(filepath.Join(srv.Root, "dir"), 0o755)
	if _, err := c.OpenRead(ctx, "/missing", 0); !errors.Is(err, ftpclient.ErrNotFound) {
		t.Errorf("missing: %v", err)
	}
	if _, err := c.OpenRead(ctx, "/dir", 0); !errors.Is(err, ftpclient.ErrIsDir) {
		t.Errorf("dir: %v", err)
	}
	write(t, srv.Root, "f", []byte("abc"))
	rc, err := c.OpenRead(ctx, "/f", 3)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(rc); len(b) != 0 || err != nil {
		t.Errorf("read at EOF: %q %v", b, err)
	}
	rc.Close()
}

// TestReadResumesAfterDrop: the server drops the connection mid-download;
// the stream reopens at the current offset and the bytes come out whole.
func TestReadResumesAfterDrop(t *testing.T) {
	srv := ftptest.Start(t)
	data := make([]byte, 4<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	write(t, srv.Root, "f", data)
	c := newClient(t, srv)
	rc, err := c.OpenRead(ctxT(t), "/f", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	head := make([]byte, 1000)
	if _, err := io.ReadFull(rc, head); err != nil {
		t.Fatal(err)
	}
	srv.DropConns()
	rest, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(append(head, rest...), data) {
		t.Fatalf("got %d bytes, not the file", len(head)+len(rest))
	}
}

func TestCanceledOpen(t *testing.T) {
	srv := ftptest.Start(t)
	c := newClient(t, srv)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.OpenWrite(ctx, "/f", 0, ftpclient.WriteTruncate); !errors.Is(err, context.Canceled) {
		t.Errorf("OpenWrite: %v", err)
	}
	if _, err := c.OpenRead(ctx, "/f", 0); !errors.Is(err, context.Canceled) {
		t.Errorf("OpenRead: %v", err)
	}
}
