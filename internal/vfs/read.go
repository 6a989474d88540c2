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
	keepBehind = 1 << 20   // data kept behind the reader (short backward seeks)
)

// reader serves one handle's reads from one RETR stream. A producer
// goroutine (pump) reads the stream into chunks up to opts.ReadAhead bytes
// ahead of the kernel's requests, so the next request usually finds its
// data waiting. A request outside the window restarts the stream at its
// offset (REST). At EOF, on error, or when nobody has read for idleClose,
// the stream is closed and its connection goes back to the pool; a later
// read resumes where the data ends.
type reader struct {
	h *Handle

	mu     sync.Mutex
	wake   chan struct{}     // closed and replaced at every change
	base   int64             // file offset of the first byte held
	end    int64             // file offset after the last byte held
	chunks []*chunk          // the bytes [base, end), in order
	free   []*chunk          // chunks to reuse
	hw     int64             // highest offset handed to the kernel
	run    *stream           // the producer, nil when none
	eof    bool              // the stream ended at end
	err    error             // the stream failed at end
	want   *ftpclient.Expect // what the file on the server is (nil: unknown), see expect
}

// chunk is a piece of the window. The producer fills data[len:cap] without
// the lock (nobody else touches those bytes) and extends len under it.
// Replies to the kernel point into chunks (see pinned): a chunk with pins
// is not refilled until the last reply using it has been written.
type chunk struct {
	off  int64
	data []byte
	pins int        // replies in flight that point into data; mu held
	gone chunkState // what happens to the chunk once it has no pins
}

type chunkState uint8

const (
	chunkLive    chunkState = iota // in the window
	chunkRecycle                   // left the window: reuse when unpinned
	chunkDropped                   // reset: never reuse (a stale producer may write into it)
)

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
func (r *reader) read(size int, off int64) (*Reply, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ahead := int64(r.h.v.opts.ReadAhead)
	for {
		want := off + int64(size)
		inWindow := off >= r.base && off <= r.end+ahead
		switch {
		case off >= r.base && (want <= r.end || (r.eof && off <= r.end)):
			p := r.pin(off, min(want, r.end))
			r.consumed(off + int64(p.size))
			return p, nil
		case r.eof && off > r.end && off >= r.base:
			return dataReply(nil), nil // past the end
		case inWindow && r.err != nil:
			err := r.err
			r.reset(off) // the next read starts afresh
			return nil, err
		case inWindow && r.run == nil && !r.eof:
			r.start() // resume after an idle close
		case !inWindow:
			r.reset(off)
			r.start()
		}
		if off > r.hw {
			// Skipping forward: the producer may run ahead of off, not of
			// what was read before.
			r.hw = off
			r.broadcast()
		}
		// The wait ignores FUSE interrupts (ctx): a page fault retries an
		// interrupted read at once, so answering EINTR under a stream of
		// signals (Go's preemption signals, for one) loops forever. Fatal
		// signals end the wait in the kernel; a stalled stream fails after
		// the server's DataTimeout.
		wake := r.wake
		r.mu.Unlock()
		<-wake
		r.mu.Lock()
	}
}

// pin returns the held bytes [off, end) as a reply and pins their chunks.
// mu held.
func (r *reader) pin(off, end int64) *Reply {
	p := &Reply{r: r}
	for _, c := range r.chunks {
		cend := c.off + int64(len(c.data))
		if cend <= off || c.off >= end {
			continue
		}
		b := c.data[max(off, c.off)-c.off : min(end, cend)-c.off]
		if len(b) == 0 {
			continue
		}
		c.pins++
		p.slices = append(p.slices, b)
		p.chunks = append(p.chunks, c)
		p.size += len(b)
	}
	return p
}

// unpin releases a reply's chunks; those that left the window meanwhile
// become reusable.
func (r *reader) unpin(cs []*chunk) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range cs {
		c.pins--
		if c.pins == 0 && c.gone == chunkRecycle {
			r.recycle(c)
		}
	}
}

// recycle puts a chunk that left the window on the free list. mu held.
func (r *reader) recycle(c *chunk) {
	c.data, c.gone = c.data[:0], chunkLive
	r.free = append(r.free, c)
}

// Reply is the data of one read: pieces of the read-ahead window (no copy)
// or of the caller's buffer. The layer above writes its Slices (one writev
// with its header) and calls Done afterwards, which lets the window reuse
// the pieces.
type Reply struct {
	r      *reader // nil: the data is the caller's (nothing pinned)
	slices [][]byte
	chunks []*chunk
	size   int
	once   sync.Once
}

// dataReply is a reply holding b.
func dataReply(b []byte) *Reply {
	p := &Reply{size: len(b)}
	if len(b) > 0 {
		p.slices = [][]byte{b}
	}
	return p
}

// Slices are the reply's bytes, in order.
func (p *Reply) Slices() [][]byte { return p.slices }

// Size is the reply's length.
func (p *Reply) Size() int { return p.size }

// Bytes returns the reply as one slice (copied into buf if it spans pieces).
func (p *Reply) Bytes(buf []byte) []byte {
	switch len(p.slices) {
	case 0:
		return nil
	case 1:
		return p.slices[0]
	}
	if len(buf) < p.size {
		buf = make([]byte, p.size)
	}
	n := 0
	for _, s := range p.slices {
		n += copy(buf[n:], s)
	}
	return buf[:n]
}

// Done releases the pieces once the reply is written. Idempotent.
func (p *Reply) Done() {
	p.once.Do(func() {
		if p.r != nil {
			p.r.unpin(p.chunks)
		}
	})
}

// consumed records that the kernel has read up to pos and recycles chunks
// further than keepBehind behind it. mu held.
func (r *reader) consumed(pos int64) {
	if pos > r.hw {
		r.hw = pos
	}
	for len(r.chunks) > 1 {
		c := r.chunks[0]
		if c.off+int64(len(c.data)) > r.hw-keepBehind {
			break
		}
		r.chunks = r.chunks[1:]
		r.base = r.chunks[0].off
		if c.pins > 0 {
			c.gone = chunkRecycle // reused when its last reply is written
		} else {
			r.recycle(c)
		}
	}
	r.broadcast() // room for the producer
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
	r.base, r.end, r.hw, r.chunks, r.eof, r.err = off, off, off, nil, false, nil
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

// space returns the chunk the producer fills next (the last one while it
// has room, else a new one at end). mu held.
func (r *reader) space() *chunk {
	if n := len(r.chunks); n > 0 {
		if c := r.chunks[n-1]; len(c.data) < cap(c.data) {
			return c
		}
	}
	var c *chunk
	if n := len(r.free); n > 0 {
		c, r.free = r.free[n-1], r.free[:n-1]
	} else {
		c = &chunk{data: make([]byte, 0, readChunk)}
	}
	c.off = r.end
	r.chunks = append(r.chunks, c)
	return c
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
	ahead := int64(r.h.v.opts.ReadAhead)
	for {
		c, ok := r.waitRoom(ctx, s, ahead)
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
			r.eof, r.run = true, nil
		case err != nil:
			r.err, r.run = fmt.Errorf("read %s: %w", r.h.path, err), nil
		}
		r.broadcast()
		r.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// waitRoom waits until the window has room ahead of the reader and returns
// the chunk to fill. It gives up the stream (false) when it is no longer
// current, or when nobody read for idleClose: its connection then goes back
// to the pool.
func (r *reader) waitRoom(ctx context.Context, s *stream, ahead int64) (*chunk, bool) {
	idleAfter := r.h.v.opts.IdleClose
	idle := time.NewTimer(idleAfter)
	defer idle.Stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		if r.run != s {
			return nil, false
		}
		if r.end-r.hw < ahead {
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
			if r.run == s {
				r.run = nil
				r.broadcast()
			}
			return nil, false
		}
	}
}

// finish records a producer's failure to start.
func (r *reader) finish(s *stream, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.run == s {
		r.err, r.run = err, nil
		r.broadcast()
	}
}
