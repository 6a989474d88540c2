package vfs

import (
	"bytes"
	"sync"
)

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

// keep pins the reply's pieces once more, for a holder that outlives the
// reply (served.go), and returns what releases them. A reply of the
// caller's buffer is copied.
func (p *Reply) keep() func() {
	if p.r == nil {
		for i, b := range p.slices {
			p.slices[i] = bytes.Clone(b)
		}
		return func() {}
	}
	p.r.mu.Lock()
	for _, c := range p.chunks {
		c.pins++
	}
	p.r.mu.Unlock()
	cs := p.chunks
	return func() { p.r.unpin(cs) }
}

// Done releases the pieces once the reply is written. Idempotent.
func (p *Reply) Done() {
	p.once.Do(func() {
		if p.r != nil {
			p.r.unpin(p.chunks)
		}
	})
}
