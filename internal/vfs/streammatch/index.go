package streammatch

import (
	"container/list"
	"crypto/sha256"
	"fmt"
	"math/bits"
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
