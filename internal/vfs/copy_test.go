package vfs

import (
	"context"
	"errors"
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

func TestPartialKernelCopyIsNotFXP(t *testing.T) {
	e := newEnv(t, setup{names: []string{"alpha", "beta"}, fxp: true})
	e.putRandom("alpha", "/src.bin", 5000)
	src := e.open(t, "alpha", "/src.bin", os.O_RDONLY)
	defer src.Release(t.Context())
	dst, _ := e.create("beta", "/part.bin")
	defer dst.Release(t.Context())
	if _, err := dst.CopyFrom(context.Background(), src, 100, 0, 1000); !errors.Is(err, ErrCopyUnsupported) {
		t.Fatalf("copy of a range not at 0: %v, want ErrCopyUnsupported", err)
	}
	if c := e.eng.Counters(); c.FXPFiles+c.RelayFiles != 0 {
		t.Errorf("a partial copy went through the engine: %+v", c)
	}
}
