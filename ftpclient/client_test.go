package ftpclient_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
	"github.com/fxpfs/fxpfs/internal/ftptest"
)

func newClient(t *testing.T, srv *ftptest.Server, mod ...func(*ftpclient.ServerConfig)) *ftpclient.Client {
	t.Helper()
	cfg := srv.Config("alpha")
	for _, m := range mod {
		m(&cfg)
	}
	c, err := ftpclient.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func write(t *testing.T, root, rel string, data []byte) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestBasicOps(t *testing.T) {
	for _, mlsd := range []bool{true, false} {
		t.Run(map[bool]string{true: "MLSD", false: "LIST"}[mlsd], func(t *testing.T) {
			var opts []ftptest.Option
			if !mlsd {
				opts = append(opts, ftptest.WithoutMLSD())
			}
			srv := ftptest.Start(t, opts...)
			c := newClient(t, srv)
			ctx := ctxT(t)
			write(t, srv.Root, "dir one/a file.txt", []byte("hello world"))
			write(t, srv.Root, ".hidden", []byte("x"))
			if err := c.Connect(ctx); err != nil {
				t.Fatal(err)
			}
			f, _ := c.Features(ctx)
			if f.MLSD != mlsd {
				t.Errorf("features %+v", f)
			}
			ents, err := c.List(ctx, "/")
			if err != nil {
				t.Fatal(err)
			}
			names := map[string]ftpclient.Entry{}
			for _, e := range ents {
				names[e.Name] = e
			}
			if names["dir one"].Type != ftpclient.TypeDir || names[".hidden"].Size != 1 || len(ents) != 2 {
				t.Errorf("List / = %+v", ents)
			}
			e, err := c.Stat(ctx, "/dir one/a file.txt")
			if err != nil || e.Size != 11 || e.Type != ftpclient.TypeFile || e.Mtime.IsZero() {
				t.Errorf("Stat = %+v, %v", e, err)
			}
			if _, err := c.Stat(ctx, "/nope"); !errors.Is(err, ftpclient.ErrNotFound) {
				t.Errorf("Stat missing: %v", err)
			}
			rc, err := c.OpenRead(ctx, "/dir one/a file.txt", 6)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || string(b) != "world" {
				t.Errorf("read %q %v", b, err)
			}
			up, err := c.OpenWrite(ctx, "/dir one/new", 0, ftpclient.WriteTruncate)
			if err != nil {
				t.Fatal(err)
			}
			data := bytes.Repeat([]byte("0123456789"), 100000)
			if _, err := up.Write(data); err != nil {
				t.Fatal(err)
			}
			if err := up.Close(); err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(filepath.Join(srv.Root, "dir one", "new"))
			if !bytes.Equal(got, data) {
				t.Errorf("uploaded %d bytes, on disk %d", len(data), len(got))
			}
			if err := c.Mkdir(ctx, "/d2"); err != nil {
				t.Fatal(err)
			}
			if err := c.Mkdir(ctx, "/d2"); !errors.Is(err, ftpclient.ErrExists) {
				t.Errorf("Mkdir existing: %v", err)
			}
			if err := c.Rename(ctx, "/dir one/new", "/d2/moved"); err != nil {
				t.Fatal(err)
			}
			if err := c.Rmdir(ctx, "/d2"); !errors.Is(err, ftpclient.ErrNotEmpty) {
				t.Errorf("Rmdir non-empty: %v", err)
			}
			if err := c.Remove(ctx, "/d2/moved"); err != nil {
				t.Fatal(err)
			}
			if err := c.Rmdir(ctx, "/d2"); err != nil {
				t.Fatal(err)
			}
			if n, err := c.Size(ctx, "/dir one/a file.txt"); n != 11 || err != nil {
				t.Errorf("Size %d %v", n, err)
			}
			ts := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
			if err := c.SetModTime(ctx, "/dir one/a file.txt", ts); err != nil {
				t.Fatal(err)
			}
			if mt, err := c.ModTime(ctx, "/dir one/a file.txt"); !mt.Equal(ts) || err != nil {
				t.Errorf("ModTime %v %v", mt, err)
			}
			if err := c.Chmod(ctx, "/dir one/a file.txt", 0o600); err != nil {
				t.Fatal(err)
			}
			st := c.Stats()
			t.Logf("stats %+v", st)
			if st.Dials < 1 || st.Commands < 10 || st.BytesOut != int64(len(data)) {
				t.Errorf("stats %+v", st)
			}
		})
	}
}
