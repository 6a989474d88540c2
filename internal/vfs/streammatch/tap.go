package streammatch

import (
	"crypto/sha256"
	"hash"
	"sync"
)

// maxCursors bounds the unaligned read streams a Tap joins at once.
const maxCursors = 4

// Tap feeds the index with what the mount serves from one open source
// file. Get one with Index.Tap per read handle.
type Tap struct {
	ix *Index
	id SourceID

	mu     sync.Mutex
	src    *source // guarded by ix.mu (replaced if the index forgot it)
	cur    [maxCursors]cursor
	tick   uint64
	closed bool
}

// cursor hashes one leaf whose pieces arrive one after another, when a read
// does not start or end on a leaf boundary.
type cursor struct {
	active bool
	leaf   int64
	next   int64 // file offset the next piece must start at
	used   uint64
	h      hash.Hash
}

// Tap returns a Tap for one read handle of the source version id. A Tap
// whose id.Size is negative does nothing.
func (ix *Index) Tap(id SourceID) *Tap {
	t := &Tap{ix: ix, id: id}
	if id.Size < 0 {
		t.closed = true
		return t
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	t.src = ix.get(id)
	t.src.taps++
	t.src.served = ix.seq
	ix.trim()
	return t
}

// Served records that the mount served b at offset off of the source to
// a reader. Call it for every read reply, in the order the replies are
// produced, BEFORE the reply is handed to the kernel (a Writer only trusts
// a block that was served before it was written). b is not retained.
// Pieces may repeat, overlap, skip or come in any order; a piece that goes
// past the source's size marks the source version inconsistent.
func (t *Tap) Served(off int64, b []byte) {
	if len(b) == 0 || off < 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	t.ix.mu.Lock()
	gone, useless := t.src.gone, t.src.conflict != ""
	t.ix.mu.Unlock()
	if gone { // forgotten: leaves begun before must not mix with what follows
		t.cur = [maxCursors]cursor{}
	} else if useless { // served two contents: nothing more to learn
		return
	}
	size := t.id.Size
	end := off + int64(len(b))
	if end > size || end < off {
		t.ix.mu.Lock()
		s := t.source()
		t.ix.markConflict(s, "served %d bytes at offset %d, past its size", len(b), off)
		t.ix.mu.Unlock()
		return
	}
	var batch [64]leafObs
	n := 0
	for pos := off; pos < end; {
		j := pos / LeafSize
		ls := j * LeafSize
		le := min(ls+LeafSize, size)
		if pos == ls && le <= end { // a whole leaf
			batch[n] = leafObs{j, sha256.Sum256(b[pos-off : le-off])}
			pos = le
		} else { // a piece of a leaf
			fe := min(le, end)
			d, ok := t.piece(j, ls, le, pos, b[pos-off:fe-off])
			pos = fe
			if !ok {
				continue
			}
			batch[n] = leafObs{j, d}
		}
		if n++; n == len(batch) {
			t.record(batch[:n])
			n = 0
		}
	}
	if n > 0 {
		t.record(batch[:n])
	}
}

// piece feeds the bytes p at offset pos of leaf j ([ls, le)) to the cursor
// it continues, and returns the leaf's digest once the leaf is complete.
// A piece starting on the leaf's boundary starts a cursor; any other piece
// that continues no cursor is not used. Called with t.mu held.
func (t *Tap) piece(j, ls, le, pos int64, p []byte) (digest, bool) {
	t.tick++
	var c *cursor
	if pos == ls {
		c = t.freeCursor(j)
		c.active, c.leaf, c.next = true, j, ls
		if c.h == nil {
			c.h = sha256.New()
		}
		c.h.Reset()
	} else {
		for i := range t.cur {
			if x := &t.cur[i]; x.active && x.leaf == j && x.next == pos {
				c = x
				break
			}
		}
		if c == nil {
			return digest{}, false
		}
	}
	c.h.Write(p)
	c.next += int64(len(p))
	c.used = t.tick
	if c.next < le {
		return digest{}, false
	}
	c.active = false
	var d digest
	c.h.Sum(d[:0])
	return d, true
}

// freeCursor returns the cursor to (re)start leaf j with: one already on
// j, else an idle one, else the least recently used.
func (t *Tap) freeCursor(j int64) *cursor {
	var pick *cursor
	for i := range t.cur {
		c := &t.cur[i]
		if c.active && c.leaf == j {
			return c
		}
		if pick == nil || (pick.active && (!c.active || c.used < pick.used)) {
			pick = c
		}
	}
	return pick
}

// record merges leaf digests into the index. Called with t.mu held.
func (t *Tap) record(obs []leafObs) {
	ix := t.ix
	ix.mu.Lock()
	defer ix.mu.Unlock()
	s := t.source()
	ix.addLeaves(s, obs)
	ix.touch(s)
	s.served = ix.seq
	ix.trim()
}

// source returns the tap's index entry, registering it again if the index
// forgot it. Called with t.mu and ix.mu held.
func (t *Tap) source() *source {
	if t.src.gone {
		t.src = t.ix.get(t.id)
		t.src.taps++
	}
	return t.src
}

// Close ends the Tap. Blocks it left incomplete are dropped once no Tap of
// the same source version is open.
func (t *Tap) Close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	t.closed = true
	t.cur = [maxCursors]cursor{}
	ix := t.ix
	ix.mu.Lock()
	defer ix.mu.Unlock()
	s := t.src
	if s.taps--; s.taps == 0 && !s.gone {
		for len(s.pending) > 0 {
			ix.dropPending(s, s.pending[0])
		}
	}
}
