package streammatch

import (
	"fmt"
	"runtime"
	"testing"
)

// heap returns the bytes of live heap objects after a collection.
func heap() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// serveVirtual serves a source of size bytes through one Tap in 1 MiB
// pieces cut from buf (the content repeats; only the index's size matters).
func serveVirtual(ix *Index, src SourceID, buf []byte) {
	t := ix.Tap(src)
	for off := int64(0); off < src.Size; off += int64(len(buf)) {
		t.Served(off, buf[:min(int64(len(buf)), src.Size-off)])
	}
	t.Close()
}

// TestMemoryPerGiB checks the figure the package comment states: about
// 130 KiB of index per GiB of source served with 256 KiB blocks, and,
// with 4 KiB blocks (64 times more digests), that the accounting matches
// the growth of the Go heap.
func TestMemoryPerGiB(t *testing.T) {
	if testing.Short() {
		t.Skip("hashes 1 GiB")
	}
	buf := randBytes(80, mib)
	const size = 512 * mib
	for _, tc := range []struct {
		bs             int
		minKiB, maxKiB int64
	}{
		{DefaultBlockSize, 128, 131},
		{4 * kib, 8192, 8400},
	} {
		ix := NewIndex(Options{BlockSize: tc.bs, MaxBytes: 1 << 30})
		before := heap()
		serveVirtual(ix, SourceID{Server: "a", Path: "/big", Size: size}, buf)
		grew := heap() - before
		st := ix.Stats()
		perGiB := st.Bytes * (1 << 30) / size
		t.Logf("block %d KiB: index %d bytes for %d MiB served = %.1f KiB per GiB (heap grew %d bytes)",
			tc.bs/kib, st.Bytes, size>>20, float64(perGiB)/1024, grew)
		if st.Blocks != size/int64(tc.bs) {
			t.Errorf("%d blocks known, want %d", st.Blocks, size/tc.bs)
		}
		if perGiB < tc.minKiB*kib || perGiB > tc.maxKiB*kib {
			t.Errorf("%d bytes per GiB, want %d..%d KiB", perGiB, tc.minKiB, tc.maxKiB)
		}
		if st.Bytes > mib && (grew > st.Bytes*11/10 || grew < st.Bytes*9/10) {
			t.Errorf("heap grew %d bytes, the index counts %d", grew, st.Bytes)
		}
		runtime.KeepAlive(ix)
	}
}

// TestMemoryCap fills the index with many sources and checks that it stays
// within MaxBytes, counted and on the heap.
func TestMemoryCap(t *testing.T) {
	const maxBytes = 1 << 20
	buf := randBytes(81, 40*kib)
	for _, size := range []int64{4 * kib, 40 * kib} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			ix := NewIndex(Options{MaxBytes: maxBytes})
			before := heap()
			const n = 8000
			for i := range n {
				serveVirtual(ix, SourceID{Server: "a", Path: fmt.Sprintf("/dir/file-%06d", i), Size: size}, buf)
			}
			grew := heap() - before
			st := ix.Stats()
			t.Logf("%d sources of %d bytes served: %d kept, %d evicted, %d bytes counted (%d per source), heap grew %d bytes",
				n, size, st.Sources, st.Evictions, st.Bytes, st.Bytes/int64(st.Sources), grew)
			if st.Bytes > maxBytes || st.Sources+int(st.Evictions) != n {
				t.Errorf("stats %+v", st)
			}
			if grew > maxBytes*11/10 {
				t.Errorf("heap grew %d bytes for a cap of %d", grew, maxBytes)
			}
			runtime.KeepAlive(ix)
		})
	}
}
