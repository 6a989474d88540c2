package streammatch

import (
	"container/list"
	"crypto/sha256"
	"sort"
	"time"
)

// The per-source state: block digests, blocks being assembled from
// leaves, and the lookup of candidates by first block.

// source is one source version. Its fields are guarded by Index.mu.
type source struct {
	id      SourceID
	nblocks int64
	chunks  []*chunk   // chunk i holds blocks i*chunkBlocks...; grown on demand
	pending []*pending // at most maxPending
	// conflict is set when the source served two contents: it proves
	// nothing any more.
	conflict string
	// gone: no longer in the index (evicted, or forgotten when forgotten).
	gone, forgotten bool
	inFirst         bool   // in Index.first, under d0
	d0              digest // block 0's digest
	served          uint64 // Index.seq at the last Served, to prefer among candidates
	used            time.Time
	elem            *list.Element
	bytes           int64
	taps            int
}

type chunk struct {
	d    []digest
	have []uint64
}

// pending is a block whose leaves are being collected.
type pending struct {
	block  int64
	leaves []byte // leaf digests, 32 bytes each, in leaf order
	have   []uint64
	n, of  int
	seq    uint64
}

// block returns block b's digest, if known. Called with mu held.
func (s *source) block(b int64) (digest, bool) {
	ci := b / chunkBlocks
	if ci >= int64(len(s.chunks)) || s.chunks[ci] == nil {
		return digest{}, false
	}
	c := s.chunks[ci]
	i := b % chunkBlocks
	if c.have[i/64]&(1<<(i%64)) == 0 {
		return digest{}, false
	}
	return c.d[i], true
}

// leavesIn is the number of leaves in block b of s.
func (ix *Index) leavesIn(s *source, b int64) int {
	n := min(ix.bs, s.id.Size-b*ix.bs)
	return int((n + LeafSize - 1) / LeafSize)
}

// leafObs is the digest of leaf j as served.
type leafObs struct {
	j int64
	d digest
}

// addLeaves records leaves of s served together. Called with mu held.
func (ix *Index) addLeaves(s *source, obs []leafObs) {
	for _, o := range obs {
		if s.conflict != "" || s.gone {
			return
		}
		b := o.j / int64(ix.lpb)
		p := s.findPending(b)
		if p == nil {
			p = ix.newPending(s, b)
		}
		i := int(o.j - b*int64(ix.lpb))
		slot := p.leaves[i*sha256.Size : (i+1)*sha256.Size]
		if p.have[i/64]&(1<<(i%64)) != 0 {
			if digest(slot) != o.d {
				ix.markConflict(s, "offset %d..%d served with two different contents", o.j*LeafSize, min((o.j+1)*LeafSize, s.id.Size))
			}
			continue
		}
		copy(slot, o.d[:])
		p.have[i/64] |= 1 << (i % 64)
		p.n++
		if p.n == p.of {
			ix.dropPending(s, p)
			ix.setBlock(s, b, sha256.Sum256(p.leaves))
		}
	}
}

func (s *source) findPending(b int64) *pending {
	for _, p := range s.pending {
		if p.block == b {
			return p
		}
	}
	return nil
}

// dropPending forgets a block being assembled. Called with mu held.
func (ix *Index) dropPending(s *source, p *pending) {
	for i, x := range s.pending {
		if x == p {
			s.pending = append(s.pending[:i], s.pending[i+1:]...)
			s.pending[len(s.pending):cap(s.pending)][0] = nil
			ix.charge(s, -p.cost())
			break
		}
	}
	if len(s.pending) == 0 && s.pending != nil {
		s.pending = nil
		ix.charge(s, -8*maxPending)
	}
}

func (p *pending) cost() int64 { return int64(pendingCost + len(p.leaves) + 8*len(p.have)) }

// newPending starts collecting the leaves of block b of s, dropping the
// oldest block being collected beyond maxPending. Called with mu held.
func (ix *Index) newPending(s *source, b int64) *pending {
	if len(s.pending) >= maxPending {
		oldest := s.pending[0]
		for _, p := range s.pending {
			if p.seq < oldest.seq {
				oldest = p
			}
		}
		ix.dropPending(s, oldest)
	}
	n := ix.leavesIn(s, b)
	ix.seq++
	p := &pending{block: b, leaves: make([]byte, n*sha256.Size), have: make([]uint64, (n+63)/64), of: n, seq: ix.seq}
	if s.pending == nil {
		s.pending = make([]*pending, 0, maxPending)
		ix.charge(s, 8*maxPending)
	}
	s.pending = append(s.pending, p)
	ix.charge(s, p.cost())
	return p
}

// setBlock records block b's digest, or a conflict if a different digest
// was recorded before. Called with mu held.
func (ix *Index) setBlock(s *source, b int64, d digest) {
	ci := b / chunkBlocks
	if n := ci + 1 - int64(len(s.chunks)); n > 0 {
		if 8*(ci+1) > ix.opt.MaxBytes/4 {
			// A block this far into a huge file would need a chunk table
			// of a good part of the cap before it could be counted: such
			// a source could not be kept anyway.
			return
		}
		ix.charge(s, 8*n)
		s.chunks = append(s.chunks, make([]*chunk, n)...)
	}
	c := s.chunks[ci]
	if c == nil {
		n := min(chunkBlocks, s.nblocks-ci*chunkBlocks)
		c = &chunk{d: make([]digest, n), have: make([]uint64, (n+63)/64)}
		s.chunks[ci] = c
		ix.charge(s, chunkCost+n*sha256.Size+8*int64(len(c.have)))
	}
	i := b % chunkBlocks
	if c.have[i/64]&(1<<(i%64)) != 0 {
		if c.d[i] != d {
			ix.markConflict(s, "offset %d..%d served with two different contents", b*ix.bs, min((b+1)*ix.bs, s.id.Size))
		}
		return
	}
	c.d[i] = d
	c.have[i/64] |= 1 << (i % 64)
	if b == 0 {
		ix.first[d] = append(ix.first[d], s)
		s.inFirst, s.d0 = true, d
	}
}

// candidates returns the live sources whose block 0 is d and whose size
// passes ok, most recently served first, at most MaxCandidates, and else the
// most recent one that passes ok but proves nothing any more (for the
// reason). Called with mu held.
func (ix *Index) candidates(d digest, ok func(size int64) bool) (live []*source, dead *source) {
	for _, s := range ix.first[d] {
		switch {
		case !ok(s.id.Size):
		case s.conflict == "":
			live = append(live, s)
		case dead == nil || s.served > dead.served:
			dead = s
		}
	}
	sort.Slice(live, func(i, j int) bool { return live[i].served > live[j].served })
	if len(live) > ix.opt.MaxCandidates {
		live = live[:ix.opt.MaxCandidates]
	}
	return live, dead
}
