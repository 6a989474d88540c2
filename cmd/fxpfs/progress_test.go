package main

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/fxpcopy"
	"github.com/fxpfs/fxpfs/internal/testutil"
)

// TestProgressPlain: off a terminal, one plain line per finished file and a
// totals line every summaryEvery, with no terminal control characters.
func TestProgressPlain(t *testing.T) {
	var out bytes.Buffer
	p := newProgress(&out, false)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p.now = func() time.Time { return now }
	p.setPlan(3, 3<<20)
	rec := func(id int64, bytes int64, active bool) fxpcopy.Record {
		return fxpcopy.Record{ID: id, Src: fmt.Sprintf("a:/f%d", id), Dst: fmt.Sprintf("b:/f%d", id), Size: 1 << 20,
			Bytes: bytes, Active: active, Mode: fxpcopy.ModeFXP, Duration: time.Second, Verified: "size"}
	}
	p.update(rec(1, 0, true))
	now = now.Add(5 * time.Second)
	p.update(rec(1, 512<<10, true)) // 5 s: no summary yet
	now = now.Add(6 * time.Second)
	p.update(rec(1, 1<<20, true)) // 11 s: summary
	p.update(rec(1, 1<<20, false))
	failed := rec(2, 0, false)
	failed.Err = "550 denied"
	p.update(failed)
	matched := rec(3, 1<<20, false)
	matched.Origin = fxpcopy.OriginMatchedStream
	p.update(matched)
	p.done()
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	want := []string{
		"progress: 0/3 files, 1.0 MiB/3.0 MiB, 93.1 KiB/s, 1 under way",
		"fxp             1.0 MiB    1.0s    1.0 MiB/s  a:/f1 -> b:/f1 [size ok]",
		"FAILED a:/f2 -> b:/f2: 550 denied",
		"fxp (matched write stream)    1.0 MiB    1.0s    1.0 MiB/s  a:/f3 -> b:/f3 [size ok]",
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), out.String())
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("line %d:\n got %q\nwant %q", i, lines[i], want[i])
		}
	}
	if strings.ContainsAny(out.String(), "\r\x1b") {
		t.Errorf("control characters in plain output: %q", out.String())
	}
}

// TestProgressTerminal drives the multi-bar display from many goroutines
// at once, as CopyTree does (run with -race): it must not race or
// deadlock, must print a line per finished file above the bars, and show
// the total bar.
func TestProgressTerminal(t *testing.T) {
	var out testutil.SyncBuffer
	p := newProgress(&out, true)
	const workers, perWorker = 8, 40
	p.setPlan(workers*perWorker, workers*perWorker*1000)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				id := int64(w*perWorker + i + 1)
				r := fxpcopy.Record{ID: id, Src: fmt.Sprintf("a:/dir/file-%04d.bin", id), Dst: "b:/x", Size: 1000,
					Mode: fxpcopy.ModeFXP, Active: true}
				for b := int64(0); b <= 1000; b += 250 {
					r.Bytes = b
					p.update(r)
				}
				r.Active = false
				if id%50 == 0 {
					r.Err = "boom"
				}
				p.update(r)
			}
		}()
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); p.done(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(30 * time.Second):
		t.Fatal("progress display deadlocked")
	}
	s := out.String()
	if n := strings.Count(s, " -> b:/x"); n != workers*perWorker {
		t.Errorf("%d finished-file lines, want %d", n, workers*perWorker)
	}
	for _, want := range []string{"FAILED a:/dir/file-0050.bin", "total 314/320 files, 6 failed", "ETA"} {
		if !strings.Contains(s, want) {
			t.Errorf("terminal output lacks %q:\n%s", want, tailString(s, 2000))
		}
	}
}

func tailString(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
