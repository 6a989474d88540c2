package vfs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
)

// kernelCopy does what the kernel does for cp: copy_file_range calls of at
// most maxCall bytes until the source size, then close.
func kernelCopy(t *testing.T, src, dst *Handle, size int64) error {
	t.Helper()
	const maxCall = 0xfffff000
	var off int64
	for off < size {
		n, err := dst.CopyFrom(context.Background(), src, off, off, min(size-off, maxCall))
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
		off += n
	}
	return nil
}

func TestKernelCopyGoesThroughEngine(t *testing.T) {
	e := newEnv(t, setup{names: []string{"alpha", "beta"}, fxp: true})
	data := e.putRandom("alpha", "/src.bin", 3<<20+17)
	small := e.putRandom("alpha", "/small.txt", 100)
	e.put("beta", "/in/existing.bin", []byte("old content"))
	tests := []struct {
		name     string
		src      string
		dstSrv   string
		dst      string
		existing bool
		want     []byte
	}{
		{"across servers", "/src.bin", "beta", "/in/a.bin", false, data},
		{"within a server", "/src.bin", "alpha", "/copy.bin", false, data},
		{"onto an existing file", "/small.txt", "beta", "/in/existing.bin", true, small},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.eng.Counters()
			src := e.open(t, "alpha", tc.src, os.O_RDONLY)
			var dst *Handle
			if tc.existing {
				dst = e.open(t, tc.dstSrv, tc.dst, os.O_WRONLY|os.O_TRUNC)
			} else {
				dst, _ = e.create(tc.dstSrv, tc.dst)
			}
			if err := kernelCopy(t, src, dst, int64(len(tc.want))); err != nil {
				t.Fatal(err)
			}
			src.Release(t.Context())
			if err := closeFile(dst); err != nil {
				t.Fatal(err)
			}
			diskEquals(t, e, tc.dstSrv, tc.dst, tc.want)
			after := e.eng.Counters()
			if n := (after.FXPFiles + after.RelayFiles) - (before.FXPFiles + before.RelayFiles); n != 1 {
				t.Errorf("engine copies = %d, want 1 (counters %+v)", n, after)
			}
		})
	}
}

func TestKernelCopyFailureLeavesNothing(t *testing.T) {
	e := newEnv(t, setup{names: []string{"alpha", "beta"}, fxp: true})
	e.putRandom("alpha", "/src.bin", 1<<20)
	if err := os.Mkdir(e.disk("beta", "gone"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cache.List(context.Background(), e.clients["beta"], "/gone"); err != nil {
		t.Fatal(err)
	}
	// The destination directory becomes a file behind the cache's back:
	// the server refuses the STOR.
	if err := os.Remove(e.disk("beta", "gone")); err != nil {
		t.Fatal(err)
	}
	e.put("beta", "/gone", nil)
	src := e.open(t, "alpha", "/src.bin", os.O_RDONLY)
	defer src.Release(t.Context())
	dst, n := e.create("beta", "/gone/dst.bin")
	err := kernelCopy(t, src, dst, 1<<20)
	if cerr := closeFile(dst); err == nil {
		err = cerr
	}
	if !errors.Is(err, ErrFailed) {
		t.Fatalf("copy onto a refusing server: %v, want ErrFailed", err)
	}
	if n.gone.Load() == 0 {
		t.Error("the destination was not reported gone")
	}
	if _, err := e.cache.Lookup(context.Background(), e.clients["beta"], "/gone/dst.bin"); err == nil {
		t.Error("the cache still shows the destination")
	}
}

// TestPartialKernelCopyIsExact: copy_file_range calls that do not cover a
// whole source (issue 7, item 3) are relayed, exactly the requested range,
// and never reach the engine.
func TestPartialKernelCopyIsExact(t *testing.T) {
	e := newEnv(t, setup{names: []string{"alpha", "beta"}, fxp: true})
	data := e.putRandom("alpha", "/src.bin", 1<<20)
	e.put("beta", "/existing", []byte("0123456789"))
	tests := []struct {
		name                  string
		dst                   string // "": a new file
		offIn, offOut, length int64
		want                  []byte // the destination afterwards
		n                     int64  // what the call returns
	}{
		{"1000 bytes from 0 onto an empty file", "", 0, 0, 1000, data[:1000], 1000},
		{"a range in the middle", "", 100, 0, 1000, data[100:1100], 1000},
		{"to an offset of the destination", "", 0, 5, 10, append(make([]byte, 5), data[:10]...), 10},
		{"past the end of the source", "", 1<<20 - 10, 0, 100, data[1<<20-10:], 10},
		{"the whole file onto a non-empty file", "/existing", 0, 0, 1 << 20, data, 1 << 20},
		{"into the middle of an existing file", "/existing", 0, 2, 3, []byte("01" + string(data[:3]) + "56789"), 3},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.dst == "/existing" {
				e.put("beta", "/existing", []byte("0123456789"))
				e.cache.Invalidate(e.clients["beta"], "/")
			}
			before := e.eng.Counters()
			src := e.open(t, "alpha", "/src.bin", os.O_RDONLY)
			defer src.Release(context.Background())
			var dst *Handle
			p := tc.dst
			if p == "" {
				p = fmt.Sprintf("/part%d.bin", i)
				dst, _ = e.create("beta", p)
			} else {
				dst = e.open(t, "beta", p, os.O_RDWR)
			}
			n, err := dst.CopyFrom(context.Background(), src, tc.offIn, tc.offOut, tc.length)
			if err != nil || n != tc.n {
				t.Fatalf("copy = %d, %v; want %d", n, err, tc.n)
			}
			if err := closeFile(dst); err != nil {
				t.Fatal(err)
			}
			diskEquals(t, e, "beta", p, tc.want)
			if c := e.eng.Counters(); c.FXPFiles+c.RelayFiles != before.FXPFiles+before.RelayFiles {
				t.Errorf("a partial copy went through the engine: %+v", c)
			}
		})
	}
}

// TestKernelCopyStoppedEarlyIsCut: a copy that took the server-side path
// (len at the kernel's cap) but was told to stop before the end leaves
// only what the program was told was copied.
func TestKernelCopyStoppedEarlyIsCut(t *testing.T) {
	e := newEnv(t, setup{names: []string{"alpha", "beta"}, fxp: true})
	data := e.putRandom("alpha", "/src.bin", 300_000)
	src := e.open(t, "alpha", "/src.bin", os.O_RDONLY)
	defer src.Release(context.Background())
	dst, _ := e.create("beta", "/dst.bin")
	// A call at the kernel's cap goes server-side; then pretend the cap had
	// been 200000: the program was told 200000 bytes and stops there. The
	// destination must hold exactly those.
	n, err := dst.CopyFrom(context.Background(), src, 0, 0, maxKernelCopy)
	if err != nil || n != 300_000 {
		t.Fatalf("whole-file copy = %d, %v", n, err)
	}
	dst.wmu.Lock()
	dst.fxp.claimed = 200_000 // as if the cap had been 200000
	dst.wmu.Unlock()
	if err := closeFile(dst); err != nil {
		t.Fatal(err)
	}
	e.diskEquals("beta", "/dst.bin", data[:200_000])
}
