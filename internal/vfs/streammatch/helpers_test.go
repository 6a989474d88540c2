package streammatch

import (
	"crypto/sha256"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// randBytes returns n pseudo-random bytes fixed by seed.
func randBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for k := range 8 {
			b[i+k] = byte(v >> (8 * k))
		}
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

// mtime0 is the modification time of test sources.
var mtime0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// id names a test source.
func id(server, path string, data []byte) SourceID {
	return SourceID{Server: server, Path: path, Size: int64(len(data)), Mtime: mtime0}
}

// serve serves data[off:end] through t in pieces of the given size.
func serve(t *Tap, data []byte, off, end, piece int) {
	for p := off; p < end; p += piece {
		t.Served(int64(p), data[p:min(p+piece, end)])
	}
}

// readAll serves all of data for src through a new Tap, closed afterwards.
func readAll(ix *Index, src SourceID, data []byte, piece int) {
	t := ix.Tap(src)
	serve(t, data, 0, len(data), piece)
	t.Close()
}

// write writes data[off:end] through w in pieces of the given size.
func write(w *Writer, data []byte, off, end, piece int) {
	for p := off; p < end; p += piece {
		w.Write(int64(p), data[p:min(p+piece, end)])
	}
}

// copyOf writes all of data through a new Writer and returns it.
func copyOf(ix *Index, data []byte, piece int) *Writer {
	w := ix.NewWriter()
	write(w, data, 0, len(data), piece)
	return w
}

// want checks a verdict.
func want(t *testing.T, v Verdict, res Result, src SourceID, reason string) {
	t.Helper()
	if v.Result != res {
		t.Fatalf("verdict %v, want %v", v, res)
	}
	if res == Proven && v.Source != src {
		t.Fatalf("proven source %v, want %v", v.Source, src)
	}
	if res != Proven && reason != "" && !strings.Contains(v.Reason, reason) {
		t.Fatalf("reason %q, want it to contain %q", v.Reason, reason)
	}
	if res != Proven && v.Reason == "" {
		t.Fatalf("verdict %v without a reason", v)
	}
}

func sha256Of(b []byte) []byte {
	d := sha256.Sum256(b)
	return d[:]
}
