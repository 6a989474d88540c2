package vfs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
	"github.com/fxpfs/fxpfs/internal/ftptest"
)

func TestSequentialWriteStreams(t *testing.T) {
	e := newEnv(t, setup{})
	h, _ := e.create("alpha", "/stream.bin")
	var want bytes.Buffer
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 8192) // 128 KiB
	for i := 0; i < 24; i++ {
		chunk[0] = byte(i)
		mustWrite(t, h, chunk, int64(want.Len()))
		want.Write(chunk)
	}
	// While open, the file's size is what has been written.
	if size, _, ok := h.written(); !ok || size != int64(want.Len()) {
		t.Fatalf("size while writing = %d (%v), want %d", size, ok, want.Len())
	}
	if err := closeFile(h); err != nil {
		t.Fatal(err)
	}
	e.diskEquals("alpha", "/stream.bin", want.Bytes())
	if n := e.v.Spools(); n != 0 {
		t.Errorf("sequential write used %d spools", n)
	}
	if ents, _ := os.ReadDir(e.tmp); len(ents) != 0 {
		t.Errorf("temp dir not empty: %v", ents)
	}
	// The cache knows the new size at once.
	if ent, err := e.cache.Lookup(context.Background(), e.clients["alpha"], "/stream.bin"); err != nil || ent.Size != int64(want.Len()) {
		t.Errorf("cache after upload: %+v, %v", ent, err)
	}
}

func TestModifyExisting(t *testing.T) {
	orig := []byte("hello world, this is the original content\n")
	type op func(t *testing.T, h *Handle)
	write := func(data string, off int64) op {
		return func(t *testing.T, h *Handle) { mustWrite(t, h, []byte(data), off) }
	}
	trunc := func(size int64) op {
		return func(t *testing.T, h *Handle) {
			if err := h.Truncate(context.Background(), size); err != nil {
				t.Fatalf("truncate %d: %v", size, err)
			}
		}
	}
	pad := func(b []byte, n int) []byte { return append(bytes.Clone(b), make([]byte, n-len(b))...) }
	tests := []struct {
		name  string
		flags int
		ops   []op
		want  []byte
		spool bool
	}{
		{"append", os.O_WRONLY | os.O_APPEND, []op{write("more\n", int64(len(orig)))}, append(bytes.Clone(orig), "more\n"...), false},
		{"overwrite middle", os.O_WRONLY, []op{write("HELLO", 0)}, append([]byte("HELLO"), orig[5:]...), true},
		{"truncate shorter", os.O_WRONLY, []op{trunc(5)}, orig[:5], true},
		{"truncate to zero", os.O_WRONLY, []op{trunc(0)}, []byte{}, false},
		{"extend", os.O_WRONLY, []op{trunc(50)}, pad(orig, 50), true},
		{"replace (O_TRUNC)", os.O_WRONLY | os.O_TRUNC, []op{write("new", 0)}, []byte("new"), false},
		{"write past the end", os.O_WRONLY, []op{write("X", 60)}, append(pad(orig, 60), 'X'), true},
		{"two appends", os.O_WRONLY, []op{write("a", int64(len(orig))), write("b", int64(len(orig)+1))}, append(bytes.Clone(orig), "ab"...), false},
	}
	e := newEnv(t, setup{})
	for i := range tests { // before the cache lists the directory
		e.put("alpha", fmt.Sprintf("/file%d", i), orig)
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := fmt.Sprintf("/file%d", i)
			spools := e.v.Spools()
			h := e.open(t, "alpha", p, tc.flags)
			for _, o := range tc.ops {
				o(t, h)
			}
			if err := closeFile(h); err != nil {
				t.Fatal(err)
			}
			diskEquals(t, e, "alpha", p, tc.want)
			if used := e.v.Spools() > spools; used != tc.spool {
				t.Errorf("spool used = %v, want %v", used, tc.spool)
			}
			// A new reader sees the result.
			got, err := readAll(e.open(t, "alpha", p, os.O_RDONLY), 4096)
			if err != nil || !bytes.Equal(got, tc.want) {
				t.Errorf("read back %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestReadWriteSameHandle(t *testing.T) {
	e := newEnv(t, setup{})
	e.put("alpha", "/rw", []byte("abcdefghij"))
	h := e.open(t, "alpha", "/rw", os.O_RDWR)
	if b, err := readAt(h, 3, 2); err != nil || string(b) != "cde" {
		t.Fatalf("read %q %v", b, err)
	}
	mustWrite(t, h, []byte("XY"), 4)
	if b, err := readAt(h, 3, 3); err != nil || string(b) != "dXY" {
		t.Fatalf("read after write %q %v", b, err)
	}
	if err := closeFile(h); err != nil {
		t.Fatal(err)
	}
	e.diskEquals("alpha", "/rw", []byte("abcdXYghij"))
}

func TestRefusedUploadFails(t *testing.T) {
	e := newEnv(t, setup{})
	if err := os.Mkdir(e.disk("alpha", "gone"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cache.List(context.Background(), e.clients["alpha"], "/gone"); err != nil {
		t.Fatal(err)
	}
	// Behind the cache's back the directory becomes a file: STOR into it fails.
	if err := os.Remove(e.disk("alpha", "gone")); err != nil {
		t.Fatal(err)
	}
	e.put("alpha", "/gone", []byte("x"))
	h, n := e.create("alpha", "/gone/new.txt")
	_, werr := h.Write(context.Background(), []byte("some data"), 0)
	ferr := h.Flush(context.Background())
	h.Release(context.Background())
	if werr == nil && ferr == nil {
		t.Fatal("a refused upload succeeded")
	}
	if ferr == nil || !errors.Is(ferr, ErrFailed) {
		t.Fatalf("flush after a refused upload = %v (write: %v), want ErrFailed", ferr, werr)
	}
	if n.gone.Load() == 0 {
		t.Error("the created file was not reported gone")
	}
	// Other files still work.
	h2, _ := e.create("alpha", "/ok.txt")
	mustWrite(t, h2, []byte("fine"), 0)
	if err := closeFile(h2); err != nil {
		t.Fatal(err)
	}
	e.diskEquals("alpha", "/ok.txt", []byte("fine"))
}

func TestUploadCutOffLeavesNoFile(t *testing.T) {
	e := newEnv(t, setup{})
	h, n := e.create("alpha", "/cut.bin")
	mustWrite(t, h, make([]byte, 1<<20), 0)
	e.servers["alpha"].Close() // the server dies mid-upload
	var werr error
	for i := 1; i < 9 && werr == nil; i++ {
		_, werr = h.Write(context.Background(), make([]byte, 1<<20), int64(i)<<20)
	}
	if err := closeFile(h); !errors.Is(err, ErrFailed) {
		t.Fatalf("close = %v (last write: %v), want ErrFailed", err, werr)
	}
	if n.gone.Load() == 0 {
		t.Error("the partial file was not reported gone")
	}
	if _, err := e.cache.Lookup(context.Background(), e.clients["alpha"], "/cut.bin"); err == nil {
		t.Error("the cache still shows the partial file")
	}
}

func TestUnlinkWhileWriting(t *testing.T) {
	e := newEnv(t, setup{})
	h, n := e.create("alpha", "/doomed")
	mustWrite(t, h, []byte("some"), 0)
	if !h.File().Discard() {
		// Discard reports the file as never uploaded only before its
		// upload started; "some" may have started a STOR.
		if err := e.clients["alpha"].Remove(context.Background(), "/doomed"); err != nil && !errors.Is(err, ftpclient.ErrNotFound) {
			t.Fatal(err)
		}
	}
	n.move("") // unlinked
	mustWrite(t, h, []byte(" more"), 4)
	if err := closeFile(h); err != nil {
		t.Fatal(err)
	}
	if !notExist(e.disk("alpha", "doomed")) {
		t.Fatal("unlinked file came back on the server")
	}
}

func TestManyWritersOnCappedServer(t *testing.T) {
	e := newEnv(t, setup{srvOpts: []ftptest.Option{ftptest.WithMaxConns(2)}, maxConns: 4})
	const n = 6
	files := make([][]byte, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range files {
		files[i] = randomBytes(t, 1<<20+i)
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			h, _ := e.create("alpha", fmt.Sprintf("/f%d", i))
			for off := 0; off < len(files[i]); off += 128 << 10 {
				end := min(off+128<<10, len(files[i]))
				if _, err := h.Write(context.Background(), files[i][off:end], int64(off)); err != nil {
					errs <- fmt.Errorf("writer %d: %w", i, err)
					h.Release(context.Background())
					return
				}
			}
			if err := closeFile(h); err != nil {
				errs <- fmt.Errorf("writer %d: close: %w", i, err)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i, data := range files {
		e.diskEquals("alpha", fmt.Sprintf("/f%d", i), data)
	}
}

func TestRenameWhileWriting(t *testing.T) {
	e := newEnv(t, setup{})
	h, n := e.create("alpha", "/tmp.part")
	mustWrite(t, h, []byte("first,"), 0)
	// A rename uploads what open writers hold, then renames on the server.
	if err := h.File().FlushWriters(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := e.clients["alpha"].Rename(context.Background(), "/tmp.part", "/final"); err != nil {
		t.Fatal(err)
	}
	n.move("/final")
	mustWrite(t, h, []byte("second"), 6)
	if err := closeFile(h); err != nil {
		t.Fatal(err)
	}
	e.diskEquals("alpha", "/final", []byte("first,second"))
	if !notExist(e.disk("alpha", "tmp.part")) {
		t.Fatal("old name left on the server")
	}
}

func TestPendingMetaAfterUpload(t *testing.T) {
	e := newEnv(t, setup{})
	h, _ := e.create("alpha", "/meta")
	mustWrite(t, h, []byte("data"), 0)
	mtime := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	mode := os.FileMode(0o600)
	if !h.File().DeferMeta(&mtime, &mode) {
		t.Fatal("an open writer with data to upload did not take mtime/mode")
	}
	if err := closeFile(h); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(e.disk("alpha", "meta"))
	if err != nil {
		t.Fatal(err)
	}
	if !st.ModTime().Equal(mtime) || st.Mode().Perm() != mode {
		t.Errorf("after upload: mtime %v mode %v, want %v %v", st.ModTime().UTC(), st.Mode().Perm(), mtime, mode)
	}
}
