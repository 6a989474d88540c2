package vfs

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
	"github.com/fxpfs/fxpfs/internal/ftptest"
)

// leftovers lists the temporary names in the server's directory dir.
func leftovers(t *testing.T, e *env, name, dir string) []string {
	t.Helper()
	return ftptest.TempFiles(t, e.disk(name, dir))
}

// TestFailedOverwriteKeepsOriginal: every way of rewriting an existing
// file, on a server whose disk fills up during the upload, leaves the
// original as it was (item 1 of issue 7), removes the temporary, and shows
// the original again.
func TestFailedOverwriteKeepsOriginal(t *testing.T) {
	const limit = 1 << 20
	e := newEnv(t, setup{names: []string{"alpha", "beta"}, fxp: true,
		srvOpts: []ftptest.Option{ftptest.WithWriteLimit(limit)}})
	big := randomBytes(t, 3<<20)
	tests := []struct {
		name string
		do   func(t *testing.T, f *File) error // returns the first error of the writes and close
	}{
		{"O_TRUNC and write", func(t *testing.T, f *File) error {
			h, err := f.Open(context.Background(), os.O_WRONLY|os.O_TRUNC)
			if err != nil {
				t.Fatal(err)
			}
			var werr error
			for off := 0; off < len(big) && werr == nil; off += 256 << 10 {
				_, werr = h.Write(context.Background(), big[off:off+256<<10], int64(off))
			}
			return errors.Join(werr, closeFile(h))
		}},
		{"shell redirect (flush before the writes)", func(t *testing.T, f *File) error {
			h, err := f.Open(context.Background(), os.O_WRONLY|os.O_TRUNC)
			if err != nil {
				t.Fatal(err)
			}
			if err := h.Flush(context.Background()); err != nil { // bash: dup2, close
				t.Fatalf("flush of the truncated file: %v", err)
			}
			_, werr := h.Write(context.Background(), big, 0)
			return errors.Join(werr, closeFile(h))
		}},
		{"spooled rewrite", func(t *testing.T, f *File) error {
			h, err := f.Open(context.Background(), os.O_RDWR)
			if err != nil {
				t.Fatal(err)
			}
			_, werr := h.Write(context.Background(), big, 1000) // not at the end: spooled
			return errors.Join(werr, closeFile(h))
		}},
		{"truncate by path", func(t *testing.T, f *File) error {
			return f.Truncate(context.Background(), 3<<20) // extended: spooled, uploaded whole
		}},
		{"kernel copy onto it", func(t *testing.T, f *File) error {
			src := e.open(t, "beta", "/src.bin", os.O_RDONLY)
			defer src.Release(context.Background())
			h, err := f.Open(context.Background(), os.O_WRONLY|os.O_TRUNC)
			if err != nil {
				t.Fatal(err)
			}
			cerr := kernelCopy(t, src, h, int64(len(big)))
			return errors.Join(cerr, closeFile(h))
		}},
	}
	e.put("beta", "/src.bin", big)
	origs := map[string][]byte{}
	for _, tc := range tests {
		origs[tc.name] = e.putRandom("alpha", "/d/"+tc.name, 600_000)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := "/d/" + tc.name
			f, n := e.file("alpha", p)
			err := tc.do(t, f)
			if !errors.Is(err, ErrFailed) {
				t.Fatalf("rewrite on a full disk: %v, want ErrFailed", err)
			}
			diskEquals(t, e, "alpha", p, origs[tc.name])
			if l := leftovers(t, e, "alpha", "/d"); len(l) != 0 {
				t.Errorf("temporaries left on the server: %v", l)
			}
			if n.gone.Load() != 0 {
				t.Error("the original was reported gone")
			}
			if ent, err := e.v.Lookup(context.Background(), e.clients["alpha"], p); err != nil || ent.Size != int64(len(origs[tc.name])) {
				t.Errorf("the cache shows %+v, %v; want the original's %d bytes", ent, err, len(origs[tc.name]))
			}
		})
	}
}

// TestFailedAppendKeepsOriginalBytes: APPE onto a file fails half-way; the
// file is not removed, its original bytes are intact.
func TestFailedAppendKeepsOriginalBytes(t *testing.T) {
	e := newEnv(t, setup{srvOpts: []ftptest.Option{ftptest.WithWriteLimit(1 << 20)}})
	orig := e.putRandom("alpha", "/log", 100_000)
	h := e.open(t, "alpha", "/log", os.O_WRONLY|os.O_APPEND)
	var werr error
	for off := len(orig); off < len(orig)+3<<20 && werr == nil; off += 256 << 10 {
		_, werr = h.Write(context.Background(), make([]byte, 256<<10), int64(off))
	}
	if err := errors.Join(werr, closeFile(h)); !errors.Is(err, ErrFailed) {
		t.Fatalf("append onto a full disk: %v, want ErrFailed", err)
	}
	got, err := os.ReadFile(e.disk("alpha", "log"))
	if err != nil {
		t.Fatalf("the file is gone after a failed append: %v", err)
	}
	if !bytes.Equal(got[:len(orig)], orig) {
		t.Fatal("the original bytes changed")
	}
}

func TestOverwriteGoesThroughTemporary(t *testing.T) {
	e := newEnv(t, setup{srvOpts: []ftptest.Option{ftptest.WithoutMLSD()}}) // goftp's MLSD has no modes
	e.put("alpha", "/f", []byte("original"))
	if err := os.Chmod(e.disk("alpha", "f"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := e.open(t, "alpha", "/f", os.O_WRONLY|os.O_TRUNC)
	mustWrite(t, h, []byte("new "), 0)
	// While the upload runs, the server has the original and a temporary,
	// which the mount's listing does not show.
	diskEquals(t, e, "alpha", "/f", []byte("original"))
	var tmp []string
	waitFor(t, 5*time.Second, "the temporary on the server", func() bool { // the server creates it after its 150
		tmp = leftovers(t, e, "alpha", "/")
		return len(tmp) > 0
	})
	if len(tmp) != 1 || !strings.HasPrefix(tmp[0], ".fxpfs-") || !strings.HasSuffix(tmp[0], ".part") {
		t.Fatalf("temporaries on the server while writing: %v, want one .fxpfs-*.part", tmp)
	}
	e.cache.Invalidate(e.clients["alpha"], "/")
	ents, err := e.v.List(context.Background(), e.clients["alpha"], "/")
	if err != nil {
		t.Fatal(err)
	}
	for _, ent := range ents {
		if ftpclient.IsTempName(ent.Name) {
			t.Errorf("listing shows the upload's temporary %q", ent.Name)
		}
	}
	if _, err := e.v.Lookup(context.Background(), e.clients["alpha"], "/"+tmp[0]); err == nil {
		t.Errorf("lookup finds the upload's temporary")
	}
	mustWrite(t, h, []byte("content"), 4)
	if err := closeFile(h); err != nil {
		t.Fatal(err)
	}
	diskEquals(t, e, "alpha", "/f", []byte("new content"))
	if l := leftovers(t, e, "alpha", "/"); len(l) != 0 {
		t.Errorf("temporaries left: %v", l)
	}
	// The replacement keeps the original's mode.
	if st, err := os.Stat(e.disk("alpha", "f")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("mode after replacing: %v, %v; want 0600", st.Mode().Perm(), err)
	}
	// A temporary that no upload of this mount is writing (a crash's
	// leftover) shows in listings, so that it can be removed.
	e.put("alpha", "/.fxpfs-leftover000.part", []byte("x"))
	e.cache.Invalidate(e.clients["alpha"], "/")
	if _, err := e.v.Lookup(context.Background(), e.clients["alpha"], "/.fxpfs-leftover000.part"); err != nil {
		t.Errorf("a leftover temporary is hidden: %v", err)
	}
}

// TestTruncateOnlyIsCommittedAtClose: `: > file` empties the file, at its
// last close.
func TestTruncateOnlyIsCommittedAtClose(t *testing.T) {
	e := newEnv(t, setup{})
	e.put("alpha", "/f", []byte("original"))
	h := e.open(t, "alpha", "/f", os.O_WRONLY|os.O_TRUNC)
	if err := h.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.diskEquals("alpha", "/f", []byte("original")) // not yet: more writes may follow
	if err := closeFile(h); err != nil {
		t.Fatal(err)
	}
	e.diskEquals("alpha", "/f", nil)
	if l := leftovers(t, e, "alpha", "/"); len(l) != 0 {
		t.Errorf("temporaries left: %v", l)
	}
}

func TestNewFileStreamsToItsName(t *testing.T) {
	e := newEnv(t, setup{})
	h, _ := e.create("alpha", "/new")
	mustWrite(t, h, []byte("abc"), 0)
	if l := leftovers(t, e, "alpha", "/"); len(l) != 0 {
		t.Errorf("a new file used a temporary: %v", l)
	}
	if err := closeFile(h); err != nil {
		t.Fatal(err)
	}
	e.diskEquals("alpha", "/new", []byte("abc"))
}

// TestReplaceWhereRenameCannotOverwrite: a server that refuses RNTO onto an
// existing file gets the original renamed aside, the upload renamed into
// place and the original's backup deleted.
func TestReplaceWhereRenameCannotOverwrite(t *testing.T) {
	e := newEnv(t, setup{srvOpts: []ftptest.Option{ftptest.WithNoReplace()}})
	for i, content := range []string{"first", "second, longer"} {
		e.put("alpha", "/f", []byte("original"))
		h := e.open(t, "alpha", "/f", os.O_WRONLY|os.O_TRUNC)
		mustWrite(t, h, []byte(content), 0)
		if err := closeFile(h); err != nil {
			t.Fatalf("overwrite %d: %v", i, err)
		}
		e.diskEquals("alpha", "/f", []byte(content))
		if l := leftovers(t, e, "alpha", "/"); len(l) != 0 {
			t.Errorf("overwrite %d: temporaries left: %v", i, l)
		}
	}
	if !e.clients["alpha"].RefusesRenameOver() {
		t.Error("the server's refusal was not remembered")
	}
}

// TestDroppedConnectionKeepsOriginal: the server drops every connection in
// the middle of an overwrite; the original survives.
func TestDroppedConnectionKeepsOriginal(t *testing.T) {
	e := newEnv(t, setup{})
	orig := e.putRandom("alpha", "/f", 500_000)
	h := e.open(t, "alpha", "/f", os.O_WRONLY|os.O_TRUNC)
	mustWrite(t, h, make([]byte, 1<<20), 0)
	e.servers["alpha"].DropConns()
	var werr error
	for i := 1; i < 9 && werr == nil; i++ {
		_, werr = h.Write(context.Background(), make([]byte, 1<<20), int64(i)<<20)
	}
	if err := errors.Join(werr, closeFile(h)); !errors.Is(err, ErrFailed) {
		t.Fatalf("overwrite cut off: %v, want ErrFailed", err)
	}
	e.diskEquals("alpha", "/f", orig)
	if l := leftovers(t, e, "alpha", "/"); len(l) != 0 {
		t.Errorf("temporaries left: %v", l)
	}
}
