package vfs

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/fxpcopy"
	"github.com/fxpfs/fxpfs/internal/ftptest"
)

// copyByReadWrite copies src (alpha) to dst (beta) the way rsync, dd or
// gio do: read a piece through the mount, write it, in pieces of bs,
// through transform (nil: unchanged), then close. It returns what it wrote.
func copyByReadWrite(t *testing.T, e *env, src, dst string, bs int, transform func(off int64, b []byte) []byte) []byte {
	t.Helper()
	r := e.open(t, "alpha", src, os.O_RDONLY)
	defer r.Release(context.Background())
	w, _ := e.create("beta", dst)
	var out []byte
	for off := int64(0); ; {
		b, err := readAt(r, bs, off)
		if err != nil {
			t.Fatalf("read %s at %d: %v", src, off, err)
		}
		if len(b) == 0 {
			break
		}
		if transform != nil {
			b = transform(off, b)
		}
		mustWrite(t, w, b, int64(len(out)))
		out = append(out, b...)
		off += int64(len(b))
	}
	if err := closeFile(w); err != nil {
		t.Fatalf("close %s: %v", dst, err)
	}
	return out
}

// uploaded is the data-channel bytes beta's client sent (STOR/APPE).
func (e *env) uploaded() int64 { return e.clients["beta"].Stats().BytesOut }

func TestMatchedStreamGoesByFXP(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []ftptest.Option
	}{
		{"size and source checks", nil},
		{"and the destination's XCRC", []ftptest.Option{ftptest.WithXCRC()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, setup{names: []string{"alpha", "beta"}, fxp: true, srvOpts: tc.opts})
			data := e.putRandom("alpha", "/src.bin", 3<<20+123)
			e.put("beta", "/existing.bin", []byte("old"))
			before, up0 := e.eng.Counters(), e.uploaded()
			got := copyByReadWrite(t, e, "/src.bin", "/dst.bin", 64<<10, nil)
			if !bytes.Equal(got, data) {
				t.Fatal("the test wrote other bytes than it read")
			}
			e.diskEquals("beta", "/dst.bin", data)
			after := e.eng.Counters()
			if d := after.MatchedFiles - before.MatchedFiles; d != 1 {
				t.Errorf("matched copies = %d, want 1 (counters %+v)", d, after)
			}
			if n := e.uploaded() - up0; n != 0 {
				t.Errorf("%d bytes uploaded, want 0 (the copy went server-to-server)", n)
			}
			recs := e.eng.Recent(1)
			if len(recs) != 1 || recs[0].Origin != fxpcopy.OriginMatchedStream || recs[0].Err != "" {
				t.Errorf("record %+v, want a matched write stream", recs)
			}
			if l := leftovers(t, e, "beta", "/"); len(l) != 0 {
				t.Errorf("temporaries left: %v", l)
			}
		})
	}
}

// TestMatchNegative: whatever goes wrong, the file on B is exactly what the
// program wrote (issue 6: negative cases).
func TestMatchNegative(t *testing.T) {
	const size = 3 << 20
	tests := []struct {
		name string
		run  func(t *testing.T, e *env) (want []byte)
	}{
		{"different bytes (sed)", func(t *testing.T, e *env) []byte {
			return copyByReadWrite(t, e, "/src.bin", "/dst.bin", 64<<10, func(off int64, b []byte) []byte {
				if off == 2<<20 {
					b = bytes.Clone(b)
					b[100] ^= 0xff
				}
				return b
			})
		}},
		{"different bytes in the first block", func(t *testing.T, e *env) []byte {
			return copyByReadWrite(t, e, "/src.bin", "/dst.bin", 64<<10, func(off int64, b []byte) []byte {
				if off == 0 {
					b = bytes.Clone(b)
					b[0] ^= 0xff
				}
				return b
			})
		}},
		{"source changed on its server mid-way", func(t *testing.T, e *env) []byte {
			// The FXP waits until the source has changed (same size, new
			// bytes, a new mtime) behind the mount's back.
			old := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
			if err := os.Chtimes(e.disk("alpha", "src.bin"), old, old); err != nil {
				t.Fatal(err)
			}
			g := gate(e)
			return copyByReadWrite(t, e, "/src.bin", "/dst.bin", 64<<10, func(off int64, b []byte) []byte {
				if off == 1<<20 {
					e.putRandom("alpha", "/src.bin", size)
					close(g.gate)
				}
				return b
			})
		}},
		{"written twice", func(t *testing.T, e *env) []byte {
			r := e.open(t, "alpha", "/src.bin", os.O_RDONLY)
			defer r.Release(context.Background())
			data, err := readAll(r, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			w, _ := e.create("beta", "/dst.bin")
			want := append(bytes.Clone(data), data...)
			for off := 0; off < len(want); off += 1 << 20 {
				mustWrite(t, w, want[off:min(off+1<<20, len(want))], int64(off))
			}
			if err := closeFile(w); err != nil {
				t.Fatal(err)
			}
			return want
		}},
		{"random offsets", func(t *testing.T, e *env) []byte {
			r := e.open(t, "alpha", "/src.bin", os.O_RDONLY)
			defer r.Release(context.Background())
			data, err := readAll(r, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			w, _ := e.create("beta", "/dst.bin")
			mustWrite(t, w, data[:512<<10], 0) // one block and more, in order
			for _, off := range []int{2 << 20, 1 << 20, 512 << 10, 3 << 20} {
				mustWrite(t, w, data[off:min(off+512<<10, len(data))], int64(off))
			}
			mustWrite(t, w, data[3<<20:], 3<<20)
			mustWrite(t, w, data[1536<<10:2<<20], 1536<<10)
			mustWrite(t, w, data[2560<<10:3<<20], 2560<<10)
			if err := closeFile(w); err != nil {
				t.Fatal(err)
			}
			return data
		}},
		{"read back while written", func(t *testing.T, e *env) []byte {
			r := e.open(t, "alpha", "/src.bin", os.O_RDONLY)
			defer r.Release(context.Background())
			data, err := readAll(r, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			f, _ := e.file("beta", "/dst.bin")
			e.cache.Put(e.clients["beta"], "/dst.bin", ftpEntry("dst.bin"))
			w := f.Create("/dst.bin", os.O_RDWR|os.O_CREATE|os.O_TRUNC, DefaultFileMode)
			mustWrite(t, w, data[:1<<20], 0)
			if b, err := readAt(w, 10, 100); err != nil || !bytes.Equal(b, data[100:110]) {
				t.Fatalf("read back: %v", err)
			}
			mustWrite(t, w, data[1<<20:], 1<<20)
			if err := closeFile(w); err != nil {
				t.Fatal(err)
			}
			return data
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, setup{names: []string{"alpha", "beta"}, fxp: true})
			e.putRandom("alpha", "/src.bin", size)
			before := e.eng.Counters()
			want := tc.run(t, e)
			e.diskEquals("beta", "/dst.bin", want)
			if d := e.eng.Counters().MatchedFiles - before.MatchedFiles; d != 0 {
				t.Errorf("%d copies counted as matched FXP", d)
			}
			if l := leftovers(t, e, "beta", "/"); len(l) != 0 {
				t.Errorf("temporaries left: %v", l)
			}
		})
	}
}

// TestMatchCorruptCopyIsRejected: the FXP's copy differs from what was
// written (here: damaged on the destination after the copy); the
// destination's XCRC catches it and the spool is uploaded.
func TestMatchCorruptCopyIsRejected(t *testing.T) {
	e := newEnv(t, setup{names: []string{"alpha", "beta"}, fxp: true, srvOpts: []ftptest.Option{ftptest.WithXCRC()}})
	data := e.putRandom("alpha", "/src.bin", 2<<20)
	real := e.v.copyFn
	e.v.copyFn = func(ctx context.Context, src, dst fxpcopy.Endpoint, opts fxpcopy.Options) (fxpcopy.Record, error) {
		rec, err := real(ctx, src, dst, opts)
		if err == nil {
			f, ferr := os.OpenFile(e.disk("beta", dst.Path), os.O_WRONLY, 0)
			if ferr != nil {
				t.Error(ferr)
				return rec, err
			}
			f.WriteAt([]byte{0x5a}, 1<<20)
			f.Close()
		}
		return rec, err
	}
	up0 := e.uploaded()
	copyByReadWrite(t, e, "/src.bin", "/dst.bin", 128<<10, nil)
	e.diskEquals("beta", "/dst.bin", data)
	if n := e.uploaded() - up0; n != int64(len(data)) {
		t.Errorf("uploaded %d bytes, want the file's %d (the copy was rejected)", n, len(data))
	}
	if c := e.eng.Counters(); c.MatchedFiles != 0 || c.FailedReasons["not accepted"] != 1 {
		t.Errorf("counters %+v: want the rejected copy counted as failed (not accepted), not as matched", c)
	}
}

// TestMatchBelowThresholdUploads: a copy of a file below Options.MatchMin
// is uploaded (an FXP's round trips cost more).
func TestMatchBelowThresholdUploads(t *testing.T) {
	e := newEnv(t, setup{names: []string{"alpha", "beta"}, fxp: true})
	data := e.putRandom("alpha", "/src.bin", 700_000)
	before, up0 := e.eng.Counters(), e.uploaded()
	copyByReadWrite(t, e, "/src.bin", "/dst.bin", 64<<10, nil)
	e.diskEquals("beta", "/dst.bin", data)
	if c := e.eng.Counters(); c.FXPFiles != before.FXPFiles {
		t.Errorf("a file below the threshold went by FXP: %+v", c)
	}
	if n := e.uploaded() - up0; n != int64(len(data)) {
		t.Errorf("uploaded %d bytes, want %d", n, len(data))
	}
	if e.v.Spools() != 0 {
		t.Errorf("an ordinary upload used %d spools", e.v.Spools())
	}
}

// TestMatchedSmallFile: a file shorter than one block is proven at close
// and copied by FXP there, when the threshold allows.
func TestMatchedSmallFile(t *testing.T) {
	e := newEnv(t, setup{names: []string{"alpha", "beta"}, fxp: true, opts: Options{MatchMin: 4 << 10}})
	data := e.putRandom("alpha", "/small.bin", 100_000)
	before, up0 := e.eng.Counters(), e.uploaded()
	copyByReadWrite(t, e, "/small.bin", "/dst.bin", 32<<10, nil)
	e.diskEquals("beta", "/dst.bin", data)
	if d := e.eng.Counters().MatchedFiles - before.MatchedFiles; d != 1 {
		t.Errorf("matched copies %d, want 1", d)
	}
	if n := e.uploaded() - up0; n != 0 {
		t.Errorf("uploaded %d bytes, want 0", n)
	}
	// Different bytes: uploaded as written.
	want := copyByReadWrite(t, e, "/small.bin", "/dst2.bin", 32<<10, func(off int64, b []byte) []byte {
		if off == 32<<10 {
			b = bytes.Clone(b)
			b[7]++
		}
		return b
	})
	e.diskEquals("beta", "/dst2.bin", want)
	if d := e.eng.Counters().MatchedFiles - before.MatchedFiles; d != 1 {
		t.Errorf("matched copies %d, want still 1", d)
	}
}

func TestAdaptiveMatchMin(t *testing.T) {
	tests := []struct {
		name             string
		srcRTT, dstRTT   time.Duration
		upRate           float64 // bytes/s, 0: not measured
		wantMin, wantMax int64
	}{
		{"nothing measured: priors (2 ms, 10 Mbit/s)", 0, 0, 0, 24_000, 26_000},
		{"10 Mbit/s up, 30 ms", 30 * time.Millisecond, 0, 1.25e6, 370_000, 380_000},
		{"10 Mbit/s up, LAN", 300 * time.Microsecond, 200 * time.Microsecond, 1.25e6, 4 << 10, 4 << 10},
		{"loopback: uploads cost nothing", 100 * time.Microsecond, 100 * time.Microsecond, 500e6, 490_000, 510_000},
		{"the slower server counts", time.Millisecond, 40 * time.Millisecond, 1.25e6, 495_000, 505_000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := adaptiveMatchMin(tc.srcRTT.Seconds(), tc.dstRTT.Seconds(), tc.upRate)
			if got < tc.wantMin || got > tc.wantMax {
				t.Errorf("threshold %d, want %d..%d", got, tc.wantMin, tc.wantMax)
			}
		})
	}
	// Measures: an upload's round trips are not bandwidth.
	var l linkStats
	l.roundTrip(10 * time.Millisecond)
	l.uploaded(4<<20, 30*time.Millisecond+4*time.Second) // 4 MiB in 4 s of data
	if _, rate := l.get(); rate < 0.99e6 || rate > 1.1e6 {
		t.Errorf("measured rate %.0f B/s, want about 1 MiB/s", rate)
	}
	l.uploaded(100_000, time.Millisecond) // too small to say anything (a shaper's burst)
	if _, rate := l.get(); rate < 0.99e6 || rate > 1.1e6 {
		t.Errorf("a tiny upload moved the rate to %.0f", rate)
	}
}

// TestMatchedCopyOneConnectionPerServer: servers that allow one connection
// each. The program's reader holds the source's while the matched FXP
// wants it too, and the program closes the destination (waiting for the
// FXP) before the source: the FXP gets the connection once the reader is
// done, nothing waits on itself.
func TestMatchedCopyOneConnectionPerServer(t *testing.T) {
	e := newEnv(t, setup{names: []string{"alpha", "beta"}, fxp: true, maxConns: 1,
		srvOpts: []ftptest.Option{ftptest.WithMaxConns(1)}})
	data := e.putRandom("alpha", "/src.bin", 6<<20)
	done := make(chan []byte, 1)
	go func() { done <- copyByReadWrite(t, e, "/src.bin", "/dst.bin", 64<<10, nil) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the copy did not end within 60 s")
	}
	e.diskEquals("beta", "/dst.bin", data)
	if c := e.eng.Counters(); c.MatchedFiles != 1 {
		t.Errorf("counters %+v: want the copy matched", c)
	}
}
