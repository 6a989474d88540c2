package streammatch

import (
	"strconv"
	"testing"
)

const (
	kib = 1 << 10
	mib = 1 << 20
)

// TestVerdict runs every copying pattern and every way of not being a copy
// through an index and checks the verdict.
func TestVerdict(t *testing.T) {
	a := randBytes(1, 5*mib+777) // the usual source
	aID := id("a", "/dir/a.bin", a)
	small := randBytes(2, 100_000)
	smallID := id("a", "/dir/small", small)

	tests := []struct {
		name   string
		opt    Options
		run    func(t *testing.T, ix *Index) (Verdict, SourceID)
		want   Result
		reason string // part of the reason when not Proven
	}{
		{
			name: "cp-like: 1 MiB reads then 1 MiB writes",
			run: func(t *testing.T, ix *Index) (Verdict, SourceID) {
				readAll(ix, aID, a, mib)
				return copyOf(ix, a, mib).Verdict(), aID
			},
			want: Proven,
		},
		{
			name: "GIO: 128 KiB readahead reads, 1 MiB splices, interleaved",
			run: func(t *testing.T, ix *Index) (Verdict, SourceID) {
				tp, w := ix.Tap(aID), ix.NewWriter()
				for off := 0; off < len(a); off += mib {
					end := min(off+mib, len(a))
					serve(tp, a, off, end, 128*kib)
					w.Write(int64(off), a[off:end])
				}
				tp.Close()
				return w.Verdict(), aID
			},
			want: Proven,
		},
		{
			name: "GIO: 1 MiB reads, 64 KiB splices",
			run: func(t *testing.T, ix *Index) (Verdict, SourceID) {
				tp, w := ix.Tap(aID), ix.NewWriter()
				for off := 0; off < len(a); off += mib {
					end := min(off+mib, len(a))
					serve(tp, a, off, end, mib)
					write(w, a, off, end, 64*kib)
				}
				return w.Verdict(), aID
			},
			want: Proven,
		},
		{
			name: "dd bs=4k: unaligned size, 4 KiB reads and writes",
			run: func(t *testing.T, ix *Index) (Verdict, SourceID) {
				readAll(ix, aID, a, 4*kib)
				return copyOf(ix, a, 4*kib).Verdict(), aID
			},
			want: Proven,
		},
		{
			name: "odd read sizes joined across leaves (direct I/O, rsync's 1 KiB-aligned windows)",
			run: func(t *testing.T, ix *Index) (Verdict, SourceID) {
				tp := ix.Tap(aID)
				sizes := []int{1000, 7777, 262144 - 1024, 1, 4095, 12345}
				for off, i := 0, 0; off < len(a); i++ {
					n := min(sizes[i%len(sizes)], len(a)-off)
					tp.Served(int64(off), a[off:off+n])
					off += n
				}
				tp.Close()
				return copyOf(ix, a, 32*kib+3).Verdict(), aID
			},
			want: Proven,
		},
		{
			name: "aligned pieces served in reverse order",
			run: func(t *testing.T, ix *Index) (Verdict, SourceID) {
				tp := ix.Tap(aID)
				for off := (len(a) - 1) / (12 * kib) * (12 * kib); off >= 0; off -= 12 * kib {
					tp.Served(int64(off), a[off:min(off+12*kib, len(a))])
				}
				return copyOf(ix, a, mib).Verdict(), aID
			},
			want: Proven,
		},
		{
			name: "two handles of one source serve alternate leaves",
			run: func(t *testing.T, ix *Index) (Verdict, SourceID) {
				t1, t2 := ix.Tap(aID), ix.Tap(aID)
				for off, i := 0, 0; off < len(a); off, i = off+LeafSize, i+1 {
					tp := []*Tap{t1, t2}[i%2]
					tp.Served(int64(off), a[off:min(off+LeafSize, len(a))])
				}
				t1.Close()
				t2.Close()
				return copyOf(ix, a, mib).Verdict(), aID
			},
			want: Proven,
		},
		{
			name: "pieces repeat and overlap",
			run: func(t *testing.T, ix *Index) (Verdict, SourceID) {
				tp := ix.Tap(aID)
				serve(tp, a, 0, 3*mib, 300*kib)
				serve(tp, a, mib, len(a), 128*kib)
				serve(tp, a, 0, len(a), 2*mib)
				return copyOf(ix, a, mib).Verdict(), aID
			},
			want: Proven,
		},
		{
			name: "read long before, writer created later (page cache)",
			run: func(t *testing.T, ix *Index) (Verdict, SourceID) {
				readAll(ix, aID, a, 128*kib)
				for i := range 20 { // other traffic in between
					o := randBytes(uint64(100+i), 300*kib)
					readAll(ix, id("b", "/other"+strconv.Itoa(i), o), o, mib)
				}
				return copyOf(ix, a, 1000).Verdict(), aID
			},
			want: Proven,
		},
		{
			name: "file shorter than a block",
			run: func(t *testing.T, ix *Index) (Verdict, SourceID) {
				readAll(ix, smallID, small, 64*kib)
				w := copyOf(ix, small, 10_000)
				if _, ok := w.Likely(); ok {
					t.Error("Likely before a whole block was written")
				}
				return w.Verdict(), smallID
			},
			want: Proven,
		},
		{
			name: "reads arrive after the writes",
			run: func(t *testing.T, ix *Index) (Verdict, SourceID) {
				w := copyOf(ix, a, mib)
				readAll(ix, aID, a, mib)
				return w.Verdict(), aID
			},
			want: Unknown, reason: "no file read through the mount",
		},
		{
			name: "small file read after it was written",
			run: func(t *testing.T, ix *Index) (Verdict, SourceID) {
				w := copyOf(ix, small, 10_000)
				v := w.Verdict()
				readAll(ix, smallID, small, 64*kib)
				return v, smallID
			},
			want: Unknown, reason: "no file read through the mount",
		},
		{
			name: "reader behind the writer after the first block",
			run: func(t *testing.T, ix *Index) (Verdict, SourceID) {
				tp, w := ix.Tap(aID), ix.NewWriter()
				serve(tp, a, 0, mib, mib)
				write(w, a, 0, 2*mib, mib)
				serve(tp, a, mib, len(a), mib)
				write(w, a, 2*mib, len(a), mib)
				return w.Verdict(), aID
			},
			want: Unknown, reason: "offset 1048576..1310720 was not served before it was written",
		},
		{
			name: "reader skipped a block",
			run: func(t *testing.T, ix *Index) (Verdict, SourceID) {
				tp := ix.Tap(aID)
				serve(tp, a, 0, 2*mib, 128*kib)
				serve(tp, a, 2*mib+256*kib, len(a), 128*kib)
				return copyOf(ix, a, mib).Verdict(), aID
			},
			want: Unknown, reason: "offset 2097152..2359296 was not served",
		},
		{
			name: "reader skipped the last bytes",
			run: func(t *testing.T, ix *Index) (Verdict, SourceID) {
				tp := ix.Tap(aID)
				serve(tp, a, 0, len(a)-1, 128*kib)
				return copyOf(ix, a, mib).Verdict(), aID
			},
			want: Unknown, reason: "was not served",
		},
		{
			name: "unaligned pieces of one leaf out of order are not used",
			run: func(t *testing.T, ix *Index) (Verdict, SourceID) {
				tp := ix.Tap(aID)
				tp.Served(0, a[:256*kib+1000])
				tp.Served(256*kib+2000, a[256*kib+2000:mib])
				tp.Served(256*kib+1000, a[256*kib+1000:256*kib+2000])
				serve(tp, a, mib, len(a), mib)
				return copyOf(ix, a, mib).Verdict(), aID
			},
			want: Unknown, reason: "offset 262144..524288 was not served",
		},
		{
			name: "writes out of order",
			run: func(t *testing.T, ix *Index) (Verdict, SourceID) {
				readAll(ix, aID, a, mib)
				w := ix.NewWriter()
				write(w, a, mib, len(a), mib)
				write(w, a, 0, mib, mib)
				return w.Verdict(), aID
			},
			want: Unknown, reason: "write at offset 1048576 leaves a hole after offset 0",
		},
		{
			name: "write leaves a hole",
			run: func(t *testing.T, ix *Index) (Verdict, SourceID) {
				readAll(ix, aID, a, mib)
				w := ix.NewWriter()
				write(w, a, 0, mib, mib)
				write(w, a, mib+1, len(a), mib)
				return w.Verdict(), aID
			},
			want: Unknown, reason: "leaves a hole",
		},
		{
			name: "overwrite of a written range with the same bytes",
			run: func(t *testing.T, ix *Index) (Verdict, SourceID) {
				readAll(ix, aID, a, mib)
				w := copyOf(ix, a, mib)
				w.Write(4096, a[4096:8192])
				return w.Verdict(), aID
			},
			want: Unknown, reason: "overwrites bytes already written",
		},
		{
			name: "short write",
			run: func(t *testing.T, ix *Index) (Verdict, SourceID) {
				readAll(ix, aID, a, mib)
				return copyOf(ix, a[:3*mib], mib).Verdict(), aID
			},
			want: Mismatch, reason: "it has 5243657 bytes, 3145728 were written",
		},
		{
			name: "short by one byte",
			run: func(t *testing.T, ix *Index) (Verdict, SourceID) {
				readAll(ix, aID, a, mib)
				return copyOf(ix, a[:len(a)-1], mib).Verdict(), aID
			},
			want: Mismatch, reason: "5243656 were written",
		},
		{
			name: "longer by a few bytes",
			run: func(t *testing.T, ix *Index) (Verdict, SourceID) {
				readAll(ix, aID, a, mib)
				return copyOf(ix, append(a[:len(a):len(a)], 1, 2, 3), mib).Verdict(), aID
			},
			want: Mismatch, reason: "5243660 were written",
		},
		{
			name: "longer by a block",
			run: func(t *testing.T, ix *Index) (Verdict, SourceID) {
				b := a[:4*mib]
				readAll(ix, id("a", "/b", b), b, mib)
				return copyOf(ix, a[:4*mib+256*kib], mib).Verdict(), aID
			},
			want: Mismatch, reason: "more bytes were written than its size (4194304)",
		},
		{
			name: "one byte differs in the middle",
			run: func(t *testing.T, ix *Index) (Verdict, SourceID) {
				readAll(ix, aID, a, mib)
				b := append([]byte(nil), a...)
				b[3*mib/2] ^= 1
				return copyOf(ix, b, mib).Verdict(), aID
			},
			want: Mismatch, reason: "the bytes written at offset 1572864..1835008 differ",
		},
		{
			name: "last byte differs",
			run: func(t *testing.T, ix *Index) (Verdict, SourceID) {
				readAll(ix, aID, a, mib)
				b := append([]byte(nil), a...)
				b[len(b)-1] ^= 0x80
				return copyOf(ix, b, mib).Verdict(), aID
			},
			want: Mismatch, reason: "differ",
		},
		{
			name: "first block differs",
			run: func(t *testing.T, ix *Index) (Verdict, SourceID) {
				readAll(ix, aID, a, mib)
				b := append([]byte(nil), a...)
				b[0] ^= 1
				return copyOf(ix, b, mib).Verdict(), aID
			},
			want: Unknown, reason: "no file read through the mount begins with the written bytes",
		},
		{
			name: "truncate below the written size",
			run: func(t *testing.T, ix *Index) (Verdict, SourceID) {
				readAll(ix, aID, a, mib)
				w := copyOf(ix, a, mib)
				w.Truncate(1000)
				return w.Verdict(), aID
			},
			want: Unknown, reason: "truncated to 1000 bytes after 5243657 were written",
		},
		{
			name: "extended to the final size first, then written (preallocation)",
			run: func(t *testing.T, ix *Index) (Verdict, SourceID) {
				readAll(ix, aID, a, mib)
				w := ix.NewWriter()
				w.Truncate(int64(len(a)))
				write(w, a, 0, len(a), mib)
				return w.Verdict(), aID
			},
			want: Proven,
		},
		{
			name: "extended past the written bytes",
			run: func(t *testing.T, ix *Index) (Verdict, SourceID) {
				readAll(ix, aID, a, mib)
				w := copyOf(ix, a[:len(a)-10], mib)
				w.Truncate(int64(len(a)))
				return w.Verdict(), aID
			},
			want: Unknown, reason: "extended to 5243657 bytes but only 5243647 were written",
		},
		{
			name: "nothing written",
			run: func(t *testing.T, ix *Index) (Verdict, SourceID) {
				readAll(ix, aID, a, mib)
				return ix.NewWriter().Verdict(), aID
			},
			want: Unknown, reason: "nothing was written",
		},
		{
			name: "source served two contents for one version",
			run: func(t *testing.T, ix *Index) (Verdict, SourceID) {
				readAll(ix, aID, a, mib)
				b := append([]byte(nil), a...)
				b[4*mib] ^= 1
				readAll(ix, aID, b, mib)
				return copyOf(ix, a, mib).Verdict(), aID
			},
			want: Unknown, reason: "served with two different contents",
		},
		{
			name: "source served two contents within a block being assembled",
			run: func(t *testing.T, ix *Index) (Verdict, SourceID) {
				b := append([]byte(nil), a...)
				b[300*kib] ^= 1
				t1, t2 := ix.Tap(aID), ix.Tap(aID)
				serve(t1, a, 0, 400*kib, 400*kib)
				serve(t2, b, 256*kib, 400*kib, 100*kib)
				serve(t1, a, 400*kib, len(a), mib)
				return copyOf(ix, a, mib).Verdict(), aID
			},
			want: Unknown, reason: "offset 307200..311296 served with two different contents",
		},
		{
			name: "source served two contents while being written",
			run: func(t *testing.T, ix *Index) (Verdict, SourceID) {
				readAll(ix, aID, a, mib)
				w := ix.NewWriter()
				write(w, a, 0, 2*mib, mib)
				b := append([]byte(nil), a...)
				b[0] ^= 1
				readAll(ix, aID, b, mib)
				write(w, a, 2*mib, len(a), mib)
				return w.Verdict(), aID
			},
			want: Unknown, reason: "served with two different contents",
		},
		{
			name: "source served past its size",
			run: func(t *testing.T, ix *Index) (Verdict, SourceID) {
				tp := ix.Tap(aID)
				serve(tp, a, 0, len(a), mib)
				tp.Served(int64(len(a)), []byte{1})
				return copyOf(ix, a, mib).Verdict(), aID
			},
			want: Unknown, reason: "past its size",
		},
		{
			name: "source changed through the mount (Forget) during the copy",
			run: func(t *testing.T, ix *Index) (Verdict, SourceID) {
				readAll(ix, aID, a, mib)
				w := ix.NewWriter()
				write(w, a, 0, mib, mib)
				ix.Forget(aID.Server, aID.Path)
				write(w, a, mib, len(a), mib)
				return w.Verdict(), aID
			},
			want: Unknown, reason: "changed or removed through the mount",
		},
		{
			name: "source evicted by the memory cap",
			opt:  Options{MaxBytes: 16 * kib},
			run: func(t *testing.T, ix *Index) (Verdict, SourceID) {
				readAll(ix, aID, a, mib)
				for i := range 100 {
					o := randBytes(uint64(1000+i), 8*kib)
					readAll(ix, id("b", "/other"+strconv.Itoa(i), o), o, mib)
				}
				if st := ix.Stats(); st.Evictions == 0 || st.Bytes > 16*kib {
					t.Errorf("stats %+v: want evictions and at most 16 KiB", st)
				}
				return copyOf(ix, a, mib).Verdict(), aID
			},
			want: Unknown, reason: "no file read through the mount",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ix := NewIndex(tc.opt)
			v, src := tc.run(t, ix)
			want(t, v, tc.want, src, tc.reason)
		})
	}
}
