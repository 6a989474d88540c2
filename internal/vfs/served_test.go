package vfs

import (
	"bytes"
	"context"
	"os"
	"testing"
)

// readThenWrite reads all of src (alpha), releases the reader, then writes
// the bytes to dst (beta) in pieces of bs: a program that reads a file
// whole before writing it elsewhere.
func readThenWrite(t *testing.T, e *env, src, dst string, bs int) {
	t.Helper()
	r := e.open(t, "alpha", src, os.O_RDONLY)
	data, err := readAll(r, bs)
	r.Release(context.Background())
	if err != nil {
		t.Fatalf("read %s: %v", src, err)
	}
	w, _ := e.create("beta", dst)
	for off := 0; off < len(data); off += bs {
		mustWrite(t, w, data[off:min(off+bs, len(data))], int64(off))
	}
	if err := closeFile(w); err != nil {
		t.Fatalf("close %s: %v", dst, err)
	}
}

// TestServedBytesHashedOnlyForAWrite: reads with no write that could
// match them cost the matcher nothing (no block hashed); a write of a new
// file from 0 hands what was served to the matcher first, so a copy by
// read and write is still recognised, also when the program read the
// whole source and closed it before writing.
func TestServedBytesHashedOnlyForAWrite(t *testing.T) {
	e := newEnv(t, setup{names: []string{"alpha", "beta"}, fxp: true})
	data := e.putRandom("alpha", "/src.bin", 3<<20+123)

	r := e.open(t, "alpha", "/src.bin", os.O_RDONLY)
	if got, err := readAll(r, 128<<10); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read: %d bytes, %v", len(got), err)
	}
	if n := e.v.ix.Stats().Blocks; n != 0 {
		t.Errorf("reading with no writer hashed %d blocks, want 0", n)
	}
	r.Release(context.Background())

	before, up0 := e.eng.Counters(), e.uploaded()
	readThenWrite(t, e, "/src.bin", "/dst.bin", 64<<10)
	e.diskEquals("beta", "/dst.bin", data)
	if d := e.eng.Counters().MatchedFiles - before.MatchedFiles; d != 1 {
		t.Errorf("matched copies = %d, want 1", d)
	}
	if n := e.uploaded() - up0; n != 0 {
		t.Errorf("%d bytes uploaded, want 0", n)
	}
}

// TestServedBacklogBounded: bytes served more than backlogMax before any
// write leave the backlog unhashed; a copy of them is then uploaded
// (correctly), never matched on bytes the matcher did not see.
func TestServedBacklogBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 40 MiB")
	}
	e := newEnv(t, setup{names: []string{"alpha", "beta"}, fxp: true})
	data := e.putRandom("alpha", "/big.bin", backlogMax+8<<20)
	before := e.eng.Counters()
	readThenWrite(t, e, "/big.bin", "/dst.bin", 1<<20)
	e.diskEquals("beta", "/dst.bin", data)
	if d := e.eng.Counters().MatchedFiles - before.MatchedFiles; d != 0 {
		t.Errorf("matched copies = %d, want 0 (its first bytes left the backlog unhashed)", d)
	}
	e.v.served.mu.Lock()
	held := e.v.served.bytes
	e.v.served.mu.Unlock()
	if held > backlogMax {
		t.Errorf("backlog holds %d bytes, more than %d", held, backlogMax)
	}
}

// TestServedBacklogForgotten: a file changed through the mount loses what
// the backlog held of it (it proves nothing now), and its released
// handle's Tap is closed.
func TestServedBacklogForgotten(t *testing.T) {
	e := newEnv(t, setup{names: []string{"alpha", "beta"}, fxp: true})
	e.putRandom("alpha", "/a.bin", 1<<20)
	e.putRandom("alpha", "/b.bin", 1<<20)
	for _, p := range []string{"/a.bin", "/b.bin"} {
		r := e.open(t, "alpha", p, os.O_RDONLY)
		if _, err := readAll(r, 128<<10); err != nil {
			t.Fatal(err)
		}
		r.Release(context.Background())
	}
	e.v.Forget(e.clients["alpha"], "/a.bin")
	e.v.served.mu.Lock()
	held, taps := e.v.served.bytes, len(e.v.served.taps)
	e.v.served.mu.Unlock()
	if held != 1<<20 || taps != 1 {
		t.Errorf("after forgetting a.bin the backlog holds %d bytes of %d files, want b.bin's %d", held, taps, 1<<20)
	}
}
