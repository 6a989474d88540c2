package streammatch

import (
	"strconv"
	"testing"
)

// TestVerdictSizes copies files of sizes around the leaf and block
// boundaries, whole and one byte short or long.
func TestVerdictSizes(t *testing.T) {
	const bs = 16 * kib
	sizes := []int{1, 100, LeafSize - 1, LeafSize, LeafSize + 1, bs - 1, bs, bs + 1, 2*bs - LeafSize, 3 * bs, 3*bs + 5, 10*bs + LeafSize + 7}
	for _, n := range sizes {
		data := randBytes(uint64(n), n+1)
		src := id("a", "/f", data[:n])
		for _, tc := range []struct {
			name  string
			wrote []byte
			want  Result
		}{
			{"equal", data[:n], Proven},
			{"one byte short", data[:n-1], Unknown},
			{"one byte long", data[:n+1], Mismatch},
		} {
			t.Run(tc.name+"/"+strconv.Itoa(n), func(t *testing.T) {
				ix := NewIndex(Options{BlockSize: bs})
				readAll(ix, src, data[:n], 5000)
				v := copyOf(ix, tc.wrote, 3000).Verdict()
				// A wrong length is a Mismatch once a candidate was found
				// (a whole block written, the source at least that long);
				// otherwise nothing matches (Unknown).
				want := tc.want
				if want != Proven {
					want = Unknown
					if len(tc.wrote) >= bs && n >= bs {
						want = Mismatch
					}
				}
				want2(t, v, want, src)
			})
		}
	}
}

func want2(t *testing.T, v Verdict, res Result, src SourceID) {
	t.Helper()
	want(t, v, res, src, "")
}

// TestHugeSparseSource: a block far into a huge (claimed) file does not
// make the index allocate a table beyond its cap.
func TestHugeSparseSource(t *testing.T) {
	ix := NewIndex(Options{MaxBytes: mib})
	huge := SourceID{Server: "a", Path: "/huge", Size: 1 << 50}
	tp := ix.Tap(huge)
	before := heap()
	tp.Served(1<<50-mib, make([]byte, mib))
	if grew := heap() - before; grew > mib {
		t.Fatalf("heap grew %d bytes", grew)
	}
	if st := ix.Stats(); st.Bytes > mib || st.Blocks != 0 {
		t.Fatalf("stats %+v", st)
	}
	tp.Served(0, make([]byte, 256*kib)) // the beginning is kept
	if st := ix.Stats(); st.Blocks != 1 {
		t.Fatalf("stats %+v, want block 0 known", st)
	}
}
