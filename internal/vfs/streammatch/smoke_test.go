package streammatch

import (
	"math/rand/v2"
	"testing"
)

func TestSmoke(t *testing.T) {
	ix := NewIndex(Options{})
	data := make([]byte, 3<<20+123)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	id := SourceID{Server: "a", Path: "/f", Size: int64(len(data))}
	tp := ix.Tap(id)
	for off := 0; off < len(data); off += 128 << 10 {
		tp.Served(int64(off), data[off:min(off+128<<10, len(data))])
	}
	w := ix.NewWriter(SHA256)
	for off := 0; off < len(data); off += 1 << 20 {
		w.Write(int64(off), data[off:min(off+1<<20, len(data))])
		if off == 0 {
			if _, ok := w.Likely(); !ok {
				t.Fatal("not likely")
			}
		}
	}
	v := w.Verdict()
	t.Log(v, ix.Stats())
	if v.Result != Proven {
		t.Fatal(v)
	}
}
