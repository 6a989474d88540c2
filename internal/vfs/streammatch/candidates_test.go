package streammatch

import (
	"fmt"
	"testing"
	"time"
)

// TestRsyncInterleaved plays rsync's pattern: a sender process reads the
// files one after the other in odd-sized contiguous reads, a receiver
// process writes each to a temporary name in 32 KiB writes, and the sender
// is already reading file N+1 (and N+2) while file N is still being written.
func TestRsyncInterleaved(t *testing.T) {
	ix := NewIndex(Options{})
	files := [][]byte{randBytes(10, 3*mib+100), randBytes(11, 2*mib+5), randBytes(12, 700*kib), randBytes(13, 1*mib)}
	ids := make([]SourceID, len(files))
	taps := make([]*Tap, len(files))
	writers := make([]*Writer, len(files))
	readPos := make([]int, len(files))
	writePos := make([]int, len(files))
	for i, f := range files {
		ids[i] = id("a", fmt.Sprintf("/tree/f%d", i), f)
	}
	// read advances the sender by one read of file i (262144 - 1024 bytes
	// after the first 1024-aligned window, as rsync's map_ptr does).
	read := func(i int) {
		if taps[i] == nil {
			taps[i] = ix.Tap(ids[i])
		}
		n := min(262144-1024+readPos[i]%1024, len(files[i])-readPos[i])
		taps[i].Served(int64(readPos[i]), files[i][readPos[i]:readPos[i]+n])
		if readPos[i] += n; readPos[i] == len(files[i]) {
			taps[i].Close()
		}
	}
	// write advances the receiver by one 32 KiB write of file i, never
	// past what the sender has read.
	write := func(i int) {
		if writers[i] == nil {
			writers[i] = ix.NewWriter()
		}
		n := min(32*kib, readPos[i]-writePos[i])
		writers[i].Write(int64(writePos[i]), files[i][writePos[i]:writePos[i]+n])
		writePos[i] += n
	}
	for step := 0; ; step++ {
		done := true
		// The sender runs up to two files ahead of the receiver.
		for i := range files {
			if readPos[i] < len(files[i]) {
				if i > 0 && writePos[i-1] < len(files[i-1])/2 && i > 1 && writePos[i-2] < len(files[i-2]) {
					break
				}
				read(i)
				done = false
				break
			}
		}
		for i := range files {
			if writePos[i] < len(files[i]) {
				if writePos[i] < readPos[i] {
					write(i)
					done = false
				}
				break
			}
		}
		if done {
			break
		}
	}
	for i, w := range writers {
		want(t, w.Verdict(), Proven, ids[i], "")
	}
}

// TestIdenticalSources: files with the same content, or the same
// beginning, stay candidates until the data tells them apart, and the
// verdict names the source Likely returned.
func TestIdenticalSources(t *testing.T) {
	common := randBytes(20, 2*mib)
	x := append(append([]byte(nil), common...), randBytes(21, mib+3)...)
	y := append(append([]byte(nil), common...), randBytes(22, mib+3)...)
	short := common[:mib+300*kib] // a prefix of both, shorter
	xID, yID, sID := id("a", "/x", x), id("b", "/y", y), id("c", "/short", short)
	cID := id("c", "/copy-of-x", x)

	t.Run("same beginning, different ends", func(t *testing.T) {
		for _, tc := range []struct {
			data []byte
			src  SourceID
		}{{x, xID}, {y, yID}, {short, sID}} {
			ix := NewIndex(Options{})
			readAll(ix, xID, x, mib)
			readAll(ix, yID, y, mib)
			readAll(ix, sID, short, mib)
			w := ix.NewWriter()
			write(w, tc.data, 0, mib, mib)
			if _, ok := w.Likely(); !ok {
				t.Fatal("no likely source after the first MiB")
			}
			write(w, tc.data, mib, len(tc.data), 256*kib)
			want(t, w.Verdict(), Proven, tc.src, "")
		}
	})
	t.Run("Likely follows the data", func(t *testing.T) {
		ix := NewIndex(Options{})
		readAll(ix, yID, y, mib)
		readAll(ix, xID, x, mib) // x most recent
		w := ix.NewWriter()
		write(w, y, 0, 2*mib, mib)
		if got, ok := w.Likely(); !ok || got != xID {
			t.Fatalf("Likely = %v %v, want the most recently read %v", got, ok, xID)
		}
		write(w, y, 2*mib, 2*mib+256*kib, mib)
		if got, ok := w.Likely(); !ok || got != yID {
			t.Fatalf("Likely = %v %v, want %v once the data differ", got, ok, yID)
		}
		write(w, y, 2*mib+256*kib, len(y), mib)
		want(t, w.Verdict(), Proven, yID, "")
	})
	t.Run("identical copies: the verdict names the one Likely returned", func(t *testing.T) {
		ix := NewIndex(Options{})
		readAll(ix, xID, x, mib)
		readAll(ix, cID, x, mib)
		w := ix.NewWriter()
		write(w, x, 0, mib, mib)
		got, ok := w.Likely()
		if !ok || got != cID {
			t.Fatalf("Likely = %v %v, want %v", got, ok, cID)
		}
		readAll(ix, xID, x, mib) // x becomes the most recent
		write(w, x, mib, len(x), mib)
		if again, _ := w.Likely(); again != cID {
			t.Fatalf("Likely switched from %v to %v", cID, again)
		}
		want(t, w.Verdict(), Proven, cID, "")
	})
	t.Run("identical copies, no Likely: the most recently used", func(t *testing.T) {
		ix := NewIndex(Options{})
		readAll(ix, cID, x, mib)
		readAll(ix, xID, x, mib)
		want(t, copyOf(ix, x, mib).Verdict(), Proven, xID, "")
	})
	t.Run("identical copies, one served two contents", func(t *testing.T) {
		ix := NewIndex(Options{})
		readAll(ix, xID, x, mib)
		readAll(ix, cID, x, mib)
		w := ix.NewWriter()
		write(w, x, 0, mib, mib)
		if got, _ := w.Likely(); got != cID {
			t.Fatalf("Likely = %v, want %v", got, cID)
		}
		bad := append([]byte(nil), x...)
		bad[len(bad)-1] ^= 1
		readAll(ix, cID, bad, mib)
		write(w, x, mib, len(x), mib)
		want(t, w.Verdict(), Proven, xID, "")
	})
	t.Run("identical small files", func(t *testing.T) {
		ix := NewIndex(Options{})
		s := randBytes(23, 5000)
		s1, s2 := id("a", "/s1", s), id("a", "/s2", s)
		readAll(ix, s1, s, mib)
		readAll(ix, s2, s, mib)
		want(t, copyOf(ix, s, 1000).Verdict(), Proven, s2, "")
	})
}

// TestSharedHeader: many files begin with the same block (a common
// header); the writer follows the MaxCandidates most recently used.
func TestSharedHeader(t *testing.T) {
	header := randBytes(30, 256*kib)
	const n = 40
	files := make([][]byte, n)
	ids := make([]SourceID, n)
	ix := NewIndex(Options{MaxCandidates: 16})
	for i := range files {
		files[i] = append(append([]byte(nil), header...), randBytes(uint64(31+i), 300*kib)...)
		ids[i] = id("a", fmt.Sprintf("/h%02d", i), files[i])
		readAll(ix, ids[i], files[i], mib)
	}
	// The last 16 read are candidates: each is proven.
	for i := n - 16; i < n; i++ {
		want(t, copyOf(ix, files[i], 64*kib).Verdict(), Proven, ids[i], "")
	}
	// Older ones beyond MaxCandidates are not followed (a stated limit).
	want(t, copyOf(ix, files[0], 64*kib).Verdict(), Mismatch, ids[0], "differ")
	// Read again, the file is among the most recent.
	readAll(ix, ids[0], files[0], mib)
	want(t, copyOf(ix, files[0], 64*kib).Verdict(), Proven, ids[0], "")
}

// TestVersions: two versions of one path (a changed file) are told apart by
// their data, and the verdict names the version written.
func TestVersions(t *testing.T) {
	v1 := randBytes(40, 2*mib)
	v2 := append([]byte(nil), v1...)
	copy(v2[mib+10:], "changed")
	id1 := SourceID{Server: "a", Path: "/f", Size: int64(len(v1)), Mtime: mtime0}
	id2 := SourceID{Server: "a", Path: "/f", Size: int64(len(v2)), Mtime: mtime0.Add(time.Minute)}
	ix := NewIndex(Options{})
	readAll(ix, id1, v1, mib)
	readAll(ix, id2, v2, mib)
	want(t, copyOf(ix, v2, mib).Verdict(), Proven, id2, "")
	want(t, copyOf(ix, v1, mib).Verdict(), Proven, id1, "")
	// Equal instants in other locations are one version.
	id3 := id2
	id3.Mtime = id2.Mtime.In(time.FixedZone("X", 3600))
	if id3.key() != id2.key() {
		t.Fatal("one instant in two zones gives two keys")
	}
	// Forgetting the path forgets both versions.
	ix.Forget("a", "/f")
	if st := ix.Stats(); st.Sources != 0 || st.Bytes != 0 {
		t.Fatalf("after Forget: %+v", st)
	}
	want(t, copyOf(ix, v1, mib).Verdict(), Unknown, id1, "no file read")
}

// TestLikely: when Likely answers, and when it stops.
func TestLikely(t *testing.T) {
	const bs = 64 * kib
	a := randBytes(50, 10*bs+100)
	aID := id("a", "/a", a)
	setup := func() (*Index, *Writer) {
		ix := NewIndex(Options{BlockSize: bs})
		readAll(ix, aID, a, mib)
		return ix, ix.NewWriter()
	}
	likely := func(t *testing.T, w *Writer, wantOK bool) {
		t.Helper()
		got, ok := w.Likely()
		if ok != wantOK || (ok && got != aID) {
			t.Fatalf("Likely = %v %v, want %v", got, ok, wantOK)
		}
	}
	t.Run("from the first whole block", func(t *testing.T) {
		_, w := setup()
		likely(t, w, false)
		write(w, a, 0, bs-1, 4096)
		likely(t, w, false)
		write(w, a, bs-1, bs, 4096)
		likely(t, w, true)
		write(w, a, bs, len(a), 4096)
		likely(t, w, true)
	})
	t.Run("not once the data differ", func(t *testing.T) {
		_, w := setup()
		write(w, a, 0, bs, bs)
		likely(t, w, true)
		w.Write(bs, make([]byte, bs))
		likely(t, w, false)
	})
	t.Run("not past the source's size", func(t *testing.T) {
		_, w := setup()
		write(w, a, 0, len(a), bs)
		likely(t, w, true)
		w.Write(int64(len(a)), []byte{0})
		likely(t, w, false)
	})
	t.Run("not when the announced size differs", func(t *testing.T) {
		_, w := setup()
		w.Truncate(int64(len(a)) + 1)
		write(w, a, 0, bs, bs)
		likely(t, w, false)
	})
	t.Run("when the announced size agrees", func(t *testing.T) {
		_, w := setup()
		w.Truncate(int64(len(a)))
		write(w, a, 0, bs, bs)
		likely(t, w, true)
	})
	t.Run("not after an overwrite", func(t *testing.T) {
		_, w := setup()
		write(w, a, 0, 2*bs, bs)
		w.Write(0, a[:10])
		likely(t, w, false)
	})
	t.Run("not once the source is forgotten", func(t *testing.T) {
		ix, w := setup()
		write(w, a, 0, 2*bs, bs)
		ix.Forget("a", "/a")
		likely(t, w, false)
	})
}

// TestMaxAge: a source version unused for MaxAge is forgotten.
func TestMaxAge(t *testing.T) {
	now := mtime0
	ix := NewIndex(Options{MaxAge: time.Hour, Now: func() time.Time { return now }})
	a, b := randBytes(60, mib), randBytes(61, mib)
	aID, bID := id("a", "/a", a), id("a", "/b", b)
	readAll(ix, aID, a, mib)
	now = now.Add(50 * time.Minute)
	readAll(ix, bID, b, mib)
	want(t, copyOf(ix, a, mib).Verdict(), Proven, aID, "") // the copy uses a: now fresh again
	now = now.Add(61 * time.Minute)
	readAll(ix, id("a", "/c", b[:10]), b[:10], mib) // any use trims
	want(t, copyOf(ix, a, mib).Verdict(), Unknown, aID, "no file read")
	if st := ix.Stats(); st.Sources != 1 || st.Evictions != 2 {
		t.Fatalf("stats %+v, want 1 source and 2 evictions", st)
	}
}
