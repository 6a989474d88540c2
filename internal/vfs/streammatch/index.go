package streammatch

import (
	"container/list"
	"crypto/sha256"
	"fmt"
	"math/bits"
	"sort"
	"sync"
	"time"
)

// digest is a SHA-256 value.
type digest = [sha256.Size]byte

// Index remembers, per source version, the digests of the blocks the mount
// served. All its state is guarded by mu; Tap and Writer take their own
// lock first and mu second (never the other way round).
type Index struct {
	opt Options
	bs  int64 // block size
	lpb int   // leaves per block

	mu      sync.Mutex
	sources map[pathKey][]*source // the versions of each path
	nsrc    int
	first   map[digest][]*source // block 0's digest → sources
	lru     list.List            // of *source, most recently used at the front
	bytes   int64
	seq     uint64 // clock, bumped by every use
	evicted int64
	broken  int64
}

type pathKey struct{ server, path string }

// Memory charged per object (Go's own overheads included roughly).
const (
	sourceCost  = 540 // struct, list element, map slots (measured by TestMemoryCap)
	chunkCost   = 64  // header of a chunk of block digests
	pendingCost = 64  // header of a block being assembled
	chunkBlocks = 256 // block digests per chunk
	maxPending  = 8   // blocks being assembled per source version
)

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

// NewIndex returns an empty index; zero fields of opt take the defaults.
// It panics if BlockSize is not a power of two from 4 KiB to 4 MiB.
func NewIndex(opt Options) *Index {
	if opt.BlockSize == 0 {
		opt.BlockSize = DefaultBlockSize
	}
	if opt.BlockSize < minBlockSize || opt.BlockSize > maxBlockSize || bits.OnesCount(uint(opt.BlockSize)) != 1 {
		panic(fmt.Sprintf("streammatch: BlockSize %d is not a power of two from %d to %d", opt.BlockSize, minBlockSize, maxBlockSize))
	}
	if opt.MaxBytes <= 0 {
		opt.MaxBytes = DefaultMaxBytes
	}
	if opt.MaxAge == 0 {
		opt.MaxAge = DefaultMaxAge
	}
	if opt.MaxCandidates <= 0 {
		opt.MaxCandidates = DefaultMaxCandidates
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Index{
		opt:     opt,
		bs:      int64(opt.BlockSize),
		lpb:     opt.BlockSize / LeafSize,
		sources: make(map[pathKey][]*source),
		first:   make(map[digest][]*source),
	}
}

// Stats returns the index's counters.
func (ix *Index) Stats() Stats {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	st := Stats{Sources: ix.nsrc, Bytes: ix.bytes, Evictions: ix.evicted, Conflicts: ix.broken}
	for e := ix.lru.Front(); e != nil; e = e.Next() {
		s := e.Value.(*source)
		for _, c := range s.chunks {
			if c == nil {
				continue
			}
			for _, w := range c.have {
				st.Blocks += int64(bits.OnesCount64(w))
			}
		}
	}
	return st
}

// Forget drops every version of server:path, for a file changed, renamed
// or removed through the mount. Writers following one of them stop
// following it (Unknown).
func (ix *Index) Forget(server, path string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for _, s := range append([]*source(nil), ix.sources[pathKey{server, path}]...) {
		s.forgotten = true
		ix.remove(s)
	}
}

// get returns the entry of id, created if needed, and marks it used.
// Called with mu held.
func (ix *Index) get(id SourceID) *source {
	k, pk := id.key(), pathKey{id.Server, id.Path}
	var s *source
	for _, x := range ix.sources[pk] {
		if x.id.key() == k {
			s = x
		}
	}
	if s == nil {
		s = &source{id: id, nblocks: (id.Size + ix.bs - 1) / ix.bs}
		s.elem = ix.lru.PushFront(s)
		ix.sources[pk] = append(ix.sources[pk], s)
		ix.nsrc++
		ix.charge(s, int64(sourceCost+len(id.Server)+len(id.Path)))
	}
	ix.touch(s)
	return s
}

// touch marks s as just used. Called with mu held.
func (ix *Index) touch(s *source) {
	if s.gone {
		return
	}
	ix.seq++
	if ix.opt.MaxAge > 0 {
		s.used = ix.opt.Now()
	}
	ix.lru.MoveToFront(s.elem)
}

func (ix *Index) charge(s *source, n int64) {
	s.bytes += n
	ix.bytes += n
}

// trim forgets the least recently used source versions while the index is
// over MaxBytes or they are older than MaxAge. Called with mu held.
func (ix *Index) trim() {
	var old time.Time
	if ix.opt.MaxAge > 0 {
		old = ix.opt.Now().Add(-ix.opt.MaxAge)
	}
	for e := ix.lru.Back(); e != nil; e = ix.lru.Back() {
		s := e.Value.(*source)
		if ix.bytes <= ix.opt.MaxBytes && (ix.opt.MaxAge <= 0 || !s.used.Before(old)) {
			return
		}
		ix.evicted++
		ix.remove(s)
	}
}

// remove takes s out of the index and frees its digests. Called with mu held.
func (ix *Index) remove(s *source) {
	if s.gone {
		return
	}
	s.gone = true
	pk := pathKey{s.id.Server, s.id.Path}
	if l := without(ix.sources[pk], s); len(l) > 0 {
		ix.sources[pk] = l
	} else {
		delete(ix.sources, pk)
	}
	ix.nsrc--
	ix.dropFirst(s)
	ix.lru.Remove(s.elem)
	ix.bytes -= s.bytes
	s.bytes = 0
	s.chunks, s.pending = nil, nil
}

func without(list []*source, s *source) []*source {
	for i, x := range list {
		if x == s {
			return append(list[:i:i], list[i+1:]...)
		}
	}
	return list
}

// dropFirst removes s from the first-block map. Called with mu held.
func (ix *Index) dropFirst(s *source) {
	if !s.inFirst {
		return
	}
	s.inFirst = false
	if l := without(ix.first[s.d0], s); len(l) > 0 {
		ix.first[s.d0] = l
	} else {
		delete(ix.first, s.d0)
	}
}

// markConflict records that s served two different contents; its digests
// are dropped and it proves nothing any more. It stays in the index (and
// in Index.first, so that a Writer can tell why it matched nothing) until
// evicted. Called with mu held.
func (ix *Index) markConflict(s *source, format string, args ...any) {
	if s.conflict != "" || s.gone {
		return
	}
	s.conflict = fmt.Sprintf(format, args...)
	ix.broken++
	ix.bytes -= s.bytes
	s.bytes = 0
	s.chunks, s.pending = nil, nil
	ix.charge(s, int64(sourceCost+len(s.id.Server)+len(s.id.Path)))
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
