package vfs

// The read-ahead window of a reader (read.go): its chunks, what of them
// was served, and when they are dropped. All under reader.mu.

// chunk is a piece of the window. The producer fills data[len:cap] without
// the lock (nobody else touches those bytes) and extends len under it.
// Replies to the kernel point into chunks (see pin): a chunk with pins is
// not refilled until the last reply using it has been written.
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

// span is a range of file offsets [off, end).
type span struct{ off, end int64 }

// maxServedSpans bounds the served ranges tracked above low: a reader
// leaving more holes than that gives up the lowest one.
const maxServedSpans = 64

// capacity is the most the window holds: reach ahead of what was served,
// keepBehind behind it, and maxSpread for requests spread out.
func (r *reader) capacity() int64 {
	return r.reach() + keepBehind + maxSpread
}

// pin returns the held bytes [off, end) as a reply, pins their chunks and
// records them as served.
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
	r.markServed(off, off+int64(p.size))
	return p
}

// markServed records that [off, end) went to the kernel, then drops the
// chunks nobody needs any more.
func (r *reader) markServed(off, end int64) {
	r.hw = max(r.hw, end)
	if end > r.low {
		r.addServed(max(off, r.low), end)
	}
	r.trim(false)
	r.broadcast() // room for the producer
}

// addServed merges [off, end) (off >= low) into served and advances low.
func (r *reader) addServed(off, end int64) {
	s := r.served
	i := 0
	for i < len(s) && s[i].end < off {
		i++
	}
	j := i
	for j < len(s) && s[j].off <= end {
		off, end = min(off, s[j].off), max(end, s[j].end)
		j++
	}
	s = append(s[:i], append([]span{{off, end}}, s[j:]...)...)
	if len(s) > maxServedSpans {
		r.low = s[0].off // give up the lowest hole
	}
	for len(s) > 0 && s[0].off <= r.low {
		r.low = max(r.low, s[0].end)
		s = s[1:]
	}
	r.served = s
}

// trim drops the chunks the window no longer needs: those more than
// keepBehind behind the lowest unserved byte and below every waiting
// request. hard (the window is full): everything below the lowest request
// waiting in the window, or if none, below the highest byte served (holes
// the kernel skipped, and the bytes kept behind). The chunk being filled
// always stays.
func (r *reader) trim(hard bool) {
	floor, lowest := r.low-keepBehind, int64(-1)
	for _, w := range r.waiters {
		if w.off >= r.base && (lowest < 0 || w.off < lowest) {
			lowest = w.off
		}
	}
	switch {
	case hard && lowest >= 0:
		floor = lowest
	case hard:
		floor = r.hw
	case lowest >= 0:
		floor = min(floor, lowest)
	}
	for len(r.chunks) > 1 {
		c := r.chunks[0]
		if c.off+int64(len(c.data)) > floor {
			break
		}
		r.chunks[0] = nil
		r.chunks = r.chunks[1:]
		r.base = r.chunks[0].off
		if c.pins > 0 {
			c.gone = chunkRecycle // reused when its last reply is written
		} else {
			r.recycle(c)
		}
	}
	if r.low < r.base {
		r.low = r.base
		r.addServed(r.base, r.base) // advance over spans now below base
	}
}

// room reports whether the producer should read more: up to ReadAhead
// beyond what was served, and up to the end of every request waiting in
// the window or at most ReadAhead beyond it (those wait for this stream),
// or less than capacity above base (those far ahead may yet be reached),
// within the window's capacity.
func (r *reader) room() bool {
	need := r.hw + int64(r.h.v.opts.ReadAhead)
	reach, limit := r.reach(), r.capacity()
	for _, w := range r.waiters {
		if w.off >= r.base && (w.off <= r.end+reach || w.off-r.base < limit) && w.end > need {
			need = w.end
		}
	}
	if r.end >= need {
		return false
	}
	if r.end-r.base >= limit {
		r.trim(true)
	}
	return r.end-r.base < limit
}

// space returns the chunk the producer fills next (the last one while it
// has room, else a new one at end).
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

// recycle puts a chunk that left the window on the free list.
func (r *reader) recycle(c *chunk) {
	c.data, c.gone = c.data[:0], chunkLive
	r.free = append(r.free, c)
}
