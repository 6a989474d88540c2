package vfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// Read-ahead tunables.
const (
	readChunk  = 256 << 10 // one read from the RETR stream
	keepBehind = 1 << 20   // served data kept behind the reader (re-reads, short backward seeks)
	// maxSpread is how far apart concurrent requests may lie and still be
	// served by one stream. The kernel's read-ahead sends up to
	// max_background (12) requests of up to 1 MiB at once, in any order,
	// whatever read_ahead_kb is; the window may grow by this much beyond
	// ReadAhead while such requests wait.
	maxSpread = 16 << 20
	// readWait is how long a request far ahead of a running stream waits
	// for requests below it (sent by the kernel at the same moment but
	// arriving later) before the stream is restarted at its offset;
	// burstWait, for a request that came in a burst of requests and lies
	// within maxSpread of the stream (the kernel's read-ahead, whose
	// requests a loaded machine may deliver well apart).
	readWait  = 20 * time.Millisecond
	burstWait = 200 * time.Millisecond
)

// reader serves one handle's reads from one RETR stream, whatever order
// and size the kernel's requests come in (read-ahead of any read_ahead_kb,
// async reads arriving out of order, several in flight at once).
//
// A producer goroutine (pump) reads the stream into a window of chunks up
// to ReadAhead bytes ahead of what was served, and further where waiting
// requests need it (up to maxSpread more). A request waits for the stream
// when its offset lies in the window or at most reach beyond its end:
// ReadAhead, plus how far apart the kernel's read-ahead requests were seen
// to come on this mount (learn: a large read_ahead_kb).
// Otherwise the stream must restart at the request's offset (REST), and
// so that concurrent requests never take turns restarting it (each restart
// would drop the data the other waits for, over and over), a restart waits
// for the requests the current stream will serve:
//
//   - a request behind the window (its data gone) restarts the stream once
//     the requests that arrived before it and lie in the window are served,
//     at the lowest offset of the requests behind;
//   - a request far ahead restarts it (at the lowest offset of the
//     requests far ahead) once no request in the window is waiting, after
//     waiting readWait (burstWait if it came in a burst and lies within
//     maxSpread) for requests below it if the stream is running or
//     requests are coming in quick succession, and only if the stream,
//     which reads toward it meanwhile, would not get there as soon again
//     (on a fast link it reads through rather than restart);
//   - a request at or past the end of the file, where the end was seen
//     before the request arrived, asks the server again (a new RETR at its
//     offset: a file growing on the server) once no request in the window
//     is waiting; an end seen after it arrived is its answer.
//
// Requests in the window wait only for the producer, so every restart is
// followed by the restarting request being served: restarts cannot loop.
// Served data is kept keepBehind bytes behind the lowest unserved offset,
// and unserved data (a request the kernel has not sent yet) is kept until
// the window reaches its cap. At EOF, on error, or when nobody has read for
// IdleClose, the stream is closed and its connection goes back to the pool;
// a later read resumes where the data ends.
type reader struct {
	h *Handle

	mu      sync.Mutex
	wake    chan struct{}     // closed and replaced at every change
	base    int64             // file offset of the first byte held
	end     int64             // file offset after the last byte held
	chunks  []*chunk          // the bytes [base, end), in order
	free    []*chunk          // chunks to reuse
	hw      int64             // highest offset served
	low     int64             // every byte in [base, low) was served
	served  []span            // served ranges above low, sorted, disjoint
	waiters []*waiter         // requests waiting
	seq     uint64            // requests so far (waiter.seq)
	run     *stream           // the producer, nil when none
	eof     bool              // the stream ended at end
	eofSeq  uint64            // seq when the end was seen: requests up to it take it as their answer
	err     error             // the stream failed at end
	errSeq  uint64            // seq when it failed: requests up to it fail with err
	want    *ftpclient.Expect // what the file on the server is (nil: unknown), see expect
	arrived time.Time         // when the last request arrived
	jumped  jump              // the last restart far ahead (learn)
	resets  int64             // restarts of the stream at another offset (tests)
}

// waiter is a request not yet served.
type waiter struct {
	off, end int64
	seq      uint64    // arrival order
	since    time.Time // when it started waiting for a restart far ahead (readWait)
	sinceEnd int64     // the window's end then
	burst    bool      // it came within readWait of the request before it
}

// stream is one producer.
type stream struct {
	cancel context.CancelFunc
}

func newReader(h *Handle) *reader {
	return &reader{h: h, wake: make(chan struct{})}
}

// broadcast wakes everyone waiting. mu held.
func (r *reader) broadcast() {
	close(r.wake)
	r.wake = make(chan struct{})
}

// read returns size bytes from offset off, waiting for the stream as
// needed; fewer only at the end of the file. The result points into the
// window (no copy): the chunks it uses stay pinned until the reply has been
// written and Done is called.
//
// The wait ignores FUSE interrupts: a page fault retries an interrupted
// read at once, so answering EINTR under a stream of signals (Go's
// preemption signals, for one) loops forever. Fatal signals end the wait in
// the kernel; a stalled stream fails after the server's DataTimeout.
func (r *reader) read(size int, off int64) (*Reply, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	now := time.Now()
	w := &waiter{off: off, end: off + int64(size), seq: r.seq, burst: now.Sub(r.arrived) < readWait}
	r.arrived = now
	r.waiters = append(r.waiters, w)
	defer r.leave(w)
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for first := true; ; first = false {
		p, err, done := r.step(w)
		if done {
			return p, err
		}
		if first {
			r.broadcast() // the producer may now have more to read
		}
		wake := r.wake
		var tick <-chan time.Time
		if !w.since.IsZero() {
			d := r.farWait(w) - time.Since(w.since)
			if timer == nil {
				timer = time.NewTimer(d)
			} else {
				timer.Reset(d)
			}
			tick = timer.C
		}
		r.mu.Unlock()
		select {
		case <-wake:
		case <-tick:
		}
		r.mu.Lock()
	}
}

// step serves w if it can, else makes sure the stream will (starting or
// restarting it when the rules allow) and reports that w must wait.
// mu held.
func (r *reader) step(w *waiter) (*Reply, error, bool) {
	reach := r.reach()
	off := w.off
	switch {
	case r.err != nil && w.seq <= r.errSeq && off >= r.base:
		return nil, r.err, true // it waited for the stream that failed
	case off >= r.base && w.end <= r.end:
		return r.pin(off, w.end), nil, true
	case off >= r.base && r.eof && off < r.end:
		return r.pin(off, r.end), nil, true // the last bytes
	case off >= r.base && r.eof && w.seq <= r.eofSeq:
		return dataReply(nil), nil, true // at or past the end, seen since it arrived
	case off >= r.base && r.eof:
		// The end was seen before this request: ask the server again
		// (a file growing there), once the requests in the window are served.
		w.since = time.Time{}
		if !r.windowBusy(w, false) {
			r.restart(off)
		}
	case r.err != nil && off >= r.base:
		r.restart(off) // a new request after a failure starts afresh
	case off >= r.base && off <= r.end+reach:
		w.since = time.Time{}
		if r.run == nil {
			r.start() // resume after an idle close
		}
	case off < r.base:
		r.learn(off)
		if !r.windowBusy(w, true) {
			r.restart(r.lowest(w, func(o *waiter) bool { return o.off < r.base }))
		}
	default: // far ahead of the window
		switch {
		case r.windowBusy(w, false):
			w.since = time.Time{}
		case (r.run != nil || w.burst) && w.since.IsZero():
			w.since, w.sinceEnd = time.Now(), r.end // the requests below it may be on their way
		case !w.since.IsZero() && time.Since(w.since) < r.farWait(w):
		case r.run != nil && r.end-w.sinceEnd >= off-(r.end+reach):
			// The stream, reading toward it, got further in that time than
			// it still has to go: cheaper than a restart. Wait again.
			w.since, w.sinceEnd = time.Now(), r.end
		default:
			w.since = time.Time{}
			to := r.lowest(w, func(o *waiter) bool { return o.off > r.end+reach })
			r.jumped = jump{base: r.base, end: r.end, to: to, at: time.Now()}
			r.restart(to)
		}
	}
	return nil, nil, false
}

// reach is how far beyond the window's end a request waits for the stream
// rather than restart it: ReadAhead, plus how far apart the kernel's
// requests were seen to come on this mount (learn). mu held.
func (r *reader) reach() int64 {
	return int64(r.h.v.opts.ReadAhead) + r.h.v.spread.Load()
}

// jump is a restart far ahead, remembered to learn from (learn).
type jump struct {
	base, end, to int64 // the window before, and where the stream went
	at            time.Time
}

// learn is called with a request behind the window. If the stream just
// jumped over its offset, the jump was a mistake: the request far ahead
// was the kernel's read-ahead running further ahead than reach (a large
// read_ahead_kb), and this one of the same batch came late. The mount's
// reach grows so that the next such request waits instead (up to
// maxSpread). mu held.
func (r *reader) learn(off int64) {
	j := r.jumped
	r.jumped = jump{}
	if j.at.IsZero() || time.Since(j.at) > time.Second || off < j.base || off >= j.to {
		return
	}
	need := min(2*(j.to-j.end), maxSpread) // the next batch may lie further still
	for {
		cur := r.h.v.spread.Load()
		if need <= cur || r.h.v.spread.CompareAndSwap(cur, need) {
			break
		}
	}
	r.h.v.log.Debug("read-ahead: the kernel's requests come further apart than expected; waiting longer for them",
		"path", r.h.path, "reach", r.reach())
}

// windowBusy reports whether a request other than w waits for data the
// current stream will bring (in the window or at most reach beyond);
// earlier: only those that arrived before w. mu held.
func (r *reader) windowBusy(w *waiter, earlier bool) bool {
	limit := r.end + r.reach()
	for _, o := range r.waiters {
		if o == w || (earlier && o.seq > w.seq) {
			continue
		}
		if o.off >= r.base && o.off <= limit && !(r.eof && o.off >= r.end) {
			return true
		}
	}
	return false
}

// farWait is how long w, far ahead of the stream, waits before restarting
// it (readWait, burstWait).
func (r *reader) farWait(w *waiter) time.Duration {
	if w.burst && w.off-r.end <= maxSpread {
		return burstWait
	}
	return readWait
}

// lowest returns the lowest offset of w and the other waiters in the same
// case (which): one restart there serves them all, where restarting at w
// would leave those below it to restart the stream again. mu held.
func (r *reader) lowest(w *waiter, which func(*waiter) bool) int64 {
	off := w.off
	for _, o := range r.waiters {
		if o.off < off && which(o) {
			off = o.off
		}
	}
	return off
}

// leave removes w from the waiters. mu held.
func (r *reader) leave(w *waiter) {
	for i, o := range r.waiters {
		if o == w {
			last := len(r.waiters) - 1
			r.waiters[i] = r.waiters[last]
			r.waiters[last] = nil
			r.waiters = r.waiters[:last]
			break
		}
	}
	r.broadcast() // a restart may have waited for it; the producer's demand changed
}

// restart moves the stream to off. mu held.
func (r *reader) restart(off int64) {
	r.resets++
	r.reset(off)
	r.start()
}

// reset stops the producer and empties the window, which restarts at off.
// The chunks are dropped, not reused: the old producer may still be
// writing into the last one. mu held.
func (r *reader) reset(off int64) {
	if r.run != nil {
		r.run.cancel()
		r.run = nil
	}
	for _, c := range r.chunks {
		c.gone = chunkDropped
	}
	r.base, r.end, r.hw, r.low, r.chunks, r.served = off, off, off, off, nil, nil
	r.eof, r.err = false, nil
	r.broadcast()
}

// start runs a producer from end. mu held.
func (r *reader) start() {
	ctx, cancel := context.WithCancel(r.h.ctx)
	s := &stream{cancel: cancel}
	r.run = s
	go r.pump(ctx, s, r.end, r.want)
}

// expect sets what the server's file is (size, mtime) for later streams: a
// stream that ends before that size, on a file that did not change, is an
// error (ftpclient.ErrShortRead), never a silent end of file (issue 7,
// item 2). nil: unknown (nothing checked).
func (r *reader) expect(want *ftpclient.Expect) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.want = want
}

// close stops the stream and frees the buffers; a later read starts again.
func (r *reader) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reset(r.base)
	r.free = nil
}

// pump copies the RETR stream from off into the window while it is r.run.
func (r *reader) pump(ctx context.Context, s *stream, off int64, want *ftpclient.Expect) {
	defer s.cancel()
	var rc io.ReadCloser
	var err error
	if want != nil {
		rc, err = r.h.cl.OpenReadExpect(ctx, r.h.currentPath(), off, *want)
	} else {
		rc, err = r.h.cl.OpenRead(ctx, r.h.currentPath(), off)
	}
	if err != nil {
		r.finish(s, err)
		return
	}
	defer rc.Close()
	for {
		c, ok := r.waitRoom(ctx, s)
		if !ok {
			return
		}
		filled := len(c.data)
		n, err := rc.Read(c.data[filled:cap(c.data)])
		r.mu.Lock()
		if r.run != s {
			r.mu.Unlock()
			return
		}
		c.data = c.data[:filled+n]
		r.end += int64(n)
		switch {
		case errors.Is(err, io.EOF):
			r.eof, r.eofSeq, r.run = true, r.seq, nil
		case err != nil:
			r.err, r.errSeq, r.run = fmt.Errorf("read %s: %w", r.h.path, err), r.seq, nil
		}
		r.broadcast()
		r.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// waitRoom waits until the window wants more data and returns the chunk to
// fill. It gives up the stream (false) when it is no longer current, or
// when nobody read or waited for IdleClose: its connection then goes back
// to the pool.
func (r *reader) waitRoom(ctx context.Context, s *stream) (*chunk, bool) {
	idleAfter := r.h.v.opts.IdleClose
	idle := time.NewTimer(idleAfter)
	defer idle.Stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		if r.run != s {
			return nil, false
		}
		if r.room() {
			return r.space(), true
		}
		wake := r.wake
		r.mu.Unlock()
		select {
		case <-wake:
			idle.Reset(idleAfter) // the reader is active
			r.mu.Lock()
		case <-ctx.Done():
			r.mu.Lock()
			return nil, false
		case <-idle.C:
			r.mu.Lock()
			if r.run == s && len(r.waiters) == 0 {
				r.run = nil
				r.broadcast()
				return nil, false
			}
			idle.Reset(idleAfter)
		}
	}
}

// finish records a producer's failure to start.
func (r *reader) finish(s *stream, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.run == s {
		r.err, r.errSeq, r.run = err, r.seq, nil
		r.broadcast()
	}
}
