package vfs

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"
)

// The kernel's page-cache reads as they reach the daemon: read-ahead
// requests of up to 1 MiB, up to max_background (12) in flight at once,
// taken by go-fuse's reader goroutines in any order; with read_ahead_kb
// raised, requests several MiB apart wait at the same time. One RETR
// stream must serve them all without restarting (issue: with
// read_ahead_kb=4096 the stream restarted over and over, each waiting
// request dropping the data the others waited for).

const mib = 1 << 20

// loadSlack is the RETRs allowed where one suffices but the requests'
// timing is the scheduler's: on a loaded machine (make test runs packages
// side by side, with -race) a request can arrive hundreds of ms after the
// ones sent with it, and the stream restarts once for it and once back
// (twice seen in one run of make test). The stall restarted it hundreds of
// times.
const loadSlack = 5

// patternTimeout bounds each pattern: far more than reading the file
// takes, far less than a stall (a stream restarting over and over).
const patternTimeout = 60 * time.Second

// kernelReads reads [0, size) through h like the kernel's async
// read-ahead: requests of reqSize in file order, at most inflight at once,
// each delayed by up to jitter before it arrives (so they arrive out of
// order), after a first request at 0 alone (the program's read that
// starts the read-ahead). It returns the file as read.
func kernelReads(t *testing.T, h *Handle, size, reqSize, inflight int, jitter time.Duration) []byte {
	t.Helper()
	got := make([]byte, size)
	sem := make(chan struct{}, inflight)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for off := 0; off < size; off += reqSize {
		if off == reqSize {
			wg.Wait() // the first read is synchronous: it alone starts the read-ahead
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(off int) {
			defer wg.Done()
			defer func() { <-sem }()
			if jitter > 0 {
				time.Sleep(rand.N(jitter))
			}
			b, err := readAt(h, reqSize, int64(off))
			if err == nil && len(b) != min(reqSize, size-off) {
				err = fmt.Errorf("%d bytes", len(b))
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("read at %d: %w", off, err))
				mu.Unlock()
				return
			}
			copy(got[off:], b)
		}(off)
	}
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	return got
}

// waves sends each wave's requests (offsets in MiB, 1 MiB each) at once,
// in the order listed (1 ms apart), and waits for them before the next.
func waves(t *testing.T, h *Handle, data []byte, ws [][]int) {
	t.Helper()
	for _, wave := range ws {
		var wg sync.WaitGroup
		for i, m := range wave {
			wg.Add(1)
			go func(m int, delay time.Duration) {
				defer wg.Done()
				time.Sleep(delay)
				off := m * mib
				b, err := readAt(h, mib, int64(off))
				want := data[min(off, len(data)):min(off+mib, len(data))]
				if err != nil || !bytes.Equal(b, want) {
					t.Errorf("read at %d MiB: %d bytes, %v; want %d bytes", m, len(b), err, len(want))
				}
			}(m, time.Duration(i)*time.Millisecond)
		}
		wg.Wait()
	}
}

// seq returns the integers [from, to).
func seq(from, to int) []int {
	var s []int
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}

func TestReadKernelPatterns(t *testing.T) {
	const size = 40*mib + 4321
	tests := []struct {
		name     string
		run      func(t *testing.T, h *Handle, data []byte)
		maxRetrs int64
	}{
		{"read_ahead_kb=128: 128 KiB requests, 4 in flight", func(t *testing.T, h *Handle, data []byte) {
			if got := kernelReads(t, h, len(data), 128<<10, 4, time.Millisecond); !bytes.Equal(got, data) {
				t.Error("data differs")
			}
		}, 1},
		{"read_ahead_kb=4096: 1 MiB requests, 12 in flight, out of order", func(t *testing.T, h *Handle, data []byte) {
			if got := kernelReads(t, h, len(data), mib, 12, 3*time.Millisecond); !bytes.Equal(got, data) {
				t.Error("data differs")
			}
		}, loadSlack},
		{"read_ahead_kb=16384: 1 MiB requests, 16 in flight, far out of order", func(t *testing.T, h *Handle, data []byte) {
			if got := kernelReads(t, h, len(data), mib, 16, 20*time.Millisecond); !bytes.Equal(got, data) {
				t.Error("data differs")
			}
		}, loadSlack},
		{"the stall seen with read_ahead_kb=4096", func(t *testing.T, h *Handle, data []byte) {
			// The kernel's requests as traced during the stall: a late
			// request behind one already served, then requests spread over
			// 7 MiB waiting at once.
			ws := [][]int{{0, 1}, {2, 3}, seq(4, 11), {13, 11, 12}, {15, 14, 16, 17, 18, 19, 20, 21},
				{22, 25, 23, 24, 29, 26, 27, 28}, {30, 31, 32, 33}, {38, 34, 35, 36, 37}, {39, 40}}
			waves(t, h, data, ws)
		}, 1},
		{"late requests behind ones served", func(t *testing.T, h *Handle, data []byte) {
			waves(t, h, data, [][]int{{0, 1, 2, 3}, {5, 4, 6, 7}, {13, 11, 12}, {8, 9, 10}, {14, 15}})
		}, 1},
		{"read_ahead_kb=16384 on a loaded machine: each batch's far end first, the rest 60 ms later", func(t *testing.T, h *Handle, data []byte) {
			// The stream reads toward the far request while it waits
			// readWait; where it cannot get there in time, the first batch
			// teaches the mount how far apart the kernel's requests come
			// (one restart there and one back), and the later ones wait.
			waves(t, h, data, [][]int{seq(0, 4)})
			for _, b := range [][2]int{{4, 14}, {15, 28}, {29, 40}} {
				time.Sleep(30 * time.Millisecond) // the far one comes alone: no burst
				var wg sync.WaitGroup
				wg.Add(1)
				go func() {
					defer wg.Done()
					waves(t, h, data, [][]int{{b[1]}})
				}()
				time.Sleep(60 * time.Millisecond)
				waves(t, h, data, [][]int{seq(b[0], b[1])})
				wg.Wait()
			}
		}, loadSlack}, // 1 RETR on an idle machine, 3 where the batch teaches, 4 seen under make test
		{"requests far apart at once", func(t *testing.T, h *Handle, data []byte) {
			// Spread wider than the window: some restarts, never a loop.
			waves(t, h, data, [][]int{{0, 6, 12, 18, 24, 36}, {1, 30, 7}})
		}, 9},
		{"one sequential reader and random small reads on the same handle", func(t *testing.T, h *Handle, data []byte) {
			var wg sync.WaitGroup
			wg.Add(2)
			go func() {
				defer wg.Done()
				if got, err := readAll(h, mib); err != nil || !bytes.Equal(got, data) {
					t.Errorf("sequential reader: %d bytes, %v", len(got), err)
				}
			}()
			go func() {
				defer wg.Done()
				for i := 0; i < 10; i++ {
					off := rand.N(len(data))
					b, err := readAt(h, 4096, int64(off))
					if err != nil || !bytes.Equal(b, data[off:min(off+4096, len(data))]) {
						t.Errorf("random read at %d: %d bytes, %v", off, len(b), err)
					}
				}
			}()
			wg.Wait()
		}, 1 + 2*10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, setup{})
			data := e.putRandom("alpha", "/big.bin", size)
			h := e.open(t, "alpha", "/big.bin", os.O_RDONLY)
			srv := e.servers["alpha"]
			done := make(chan struct{})
			start := time.Now()
			go func() {
				defer close(done)
				tc.run(t, h, data)
			}()
			select {
			case <-done:
			case <-time.After(patternTimeout):
				h.rd.mu.Lock()
				state := fmt.Sprintf("window [%d, %d), %d waiting, %d restarts", h.rd.base, h.rd.end, len(h.rd.waiters), h.rd.resets)
				h.rd.mu.Unlock()
				h.cancel() // the stalled reads fail, so that the handle can be released
				<-done
				h.Release(t.Context())
				t.Fatalf("reads not done after %v (%d RETRs; %s): the stream stalls", patternTimeout, srv.Retrs(), state)
			}
			h.Release(t.Context())
			if n := srv.Retrs(); n > tc.maxRetrs {
				t.Errorf("%d RETRs, want at most %d", n, tc.maxRetrs)
			}
			t.Logf("%v, %d RETRs", time.Since(start).Round(time.Millisecond), srv.Retrs())
		})
	}
}
