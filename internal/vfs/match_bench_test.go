package vfs

import (
	"context"
	"fmt"
	"os"
	"testing"
)

// BenchmarkMatchedCopy measures what a copy by read and write between two
// servers costs when its upload is replaced by FXP (stream matching) and
// when it is uploaded, per file size: wall time per copy, FTP commands
// sent to the two servers (each one a round trip, most of them one after
// the other) and bytes uploaded by this host. It is what the threshold
// Options.MatchMin rests on (docs/benchmarks.md):
//
//	go test ./internal/vfs -run '^$' -bench MatchedCopy -benchtime 5x
//
// Servers are in-process on loopback: the times show the fixed cost of
// each way on a link with no latency and no bandwidth limit; the commands
// give the cost on a real link (commands × round-trip time vs size ÷
// upload bandwidth).
func BenchmarkMatchedCopy(b *testing.B) {
	for _, size := range []int{256 << 10, 512 << 10, 1 << 20, 4 << 20, 16 << 20} {
		for _, way := range []string{"fxp", "upload"} {
			b.Run(fmt.Sprintf("%dKiB/%s", size>>10, way), func(b *testing.B) {
				e := newBenchEnv(b, way == "fxp")
				data := e.putRandom("alpha", "/src.bin", size)
				cmds0 := e.servers["alpha"].Commands() + e.servers["beta"].Commands()
				up0 := e.uploaded()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					benchCopy(b, e, "/src.bin", fmt.Sprintf("/dst%d.bin", i), len(data))
				}
				b.StopTimer()
				cmds := e.servers["alpha"].Commands() + e.servers["beta"].Commands() - cmds0
				b.ReportMetric(float64(cmds)/float64(b.N), "cmds/op")
				b.ReportMetric(float64(e.uploaded()-up0)/float64(b.N), "upB/op")
				if c := e.eng.Counters(); way == "fxp" && c.MatchedFiles != int64(b.N) {
					b.Fatalf("matched copies %d of %d", c.MatchedFiles, b.N)
				}
			})
		}
	}
}

// newBenchEnv is newEnv for a benchmark: stream matching for every size,
// or (match=false) off, every copy an upload.
func newBenchEnv(b *testing.B, match bool) *env {
	opts := Options{MatchMin: 1} // every size: the threshold is what this measures
	if !match {
		opts.MatchMin = -1
	}
	return newEnv(b, setup{names: []string{"alpha", "beta"}, fxp: true, opts: opts})
}

// benchCopy reads src in 128 KiB pieces and writes them to dst, as rsync
// or dd would.
func benchCopy(b *testing.B, e *env, src, dst string, size int) {
	r := e.open(b, "alpha", src, os.O_RDONLY)
	defer r.Release(context.Background())
	w, _ := e.create("beta", dst)
	for off := 0; off < size; {
		p, err := readAt(r, 128<<10, int64(off))
		if err != nil || len(p) == 0 {
			b.Fatalf("read at %d: %d, %v", off, len(p), err)
		}
		if _, err := w.Write(context.Background(), p, int64(off)); err != nil {
			b.Fatal(err)
		}
		off += len(p)
	}
	if err := closeFile(w); err != nil {
		b.Fatal(err)
	}
}
