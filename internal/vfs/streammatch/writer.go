package streammatch

import (
	"crypto/sha256"
	"fmt"
	"hash"
	"sync"
)

// Writer compares a file being written with the sources the index knows.
// Get one with Index.NewWriter per handle that writes a file from offset 0.
type Writer struct {
	ix *Index

	mu      sync.Mutex
	written int64 // bytes written, all in sequence from 0
	end     int64 // the file's length (past written after an extending Truncate)
	// stop is set when the writes stopped being one sequential stream:
	// nothing is compared any more.
	stop string

	// Digests of the written stream, while matching.
	matching bool
	leafH    hash.Hash
	leafFill int    // bytes of the current leaf in leafH
	leaves   []byte // leaf digests of the current block
	nleaves  int
	block    int64 // index of the current block
	searched bool  // candidates were looked up (first block complete)

	cands  []cand
	pinned *source // the source Likely last returned
	// why is the reason the last candidate was dropped (or none found).
	why    string
	whyRes Result
	whySrc SourceID

	sums []sum
}

type cand struct {
	s        *source
	verified int64 // leading blocks found equal
}

type sum struct {
	algo Algo
	h    hash.Hash
}

// NewWriter returns a Writer for a new stream; it also computes the digests
// of the written file for the algorithms in sums (see Sum).
func (ix *Index) NewWriter(sums ...Algo) *Writer {
	w := &Writer{
		ix:       ix,
		matching: true,
		leafH:    sha256.New(),
		leaves:   make([]byte, ix.lpb*sha256.Size),
	}
	for _, a := range sums {
		if h := newSum(a); h != nil && w.sumOf(a) == nil {
			w.sums = append(w.sums, sum{a, h})
		}
	}
	return w
}

// Write records that the program wrote b at offset off. Call it for every
// write, in the order the writes apply to the file. b is not retained.
// Writes must form one sequential stream from offset 0; any other write
// ends the comparison (the Verdict is then Unknown).
func (w *Writer) Write(off int64, b []byte) {
	if len(b) == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.end = max(w.end, off+int64(len(b)))
	if w.stop != "" {
		return
	}
	if off != w.written {
		if off < w.written {
			w.halt(fmt.Sprintf("write at offset %d overwrites bytes already written (up to %d)", off, w.written))
		} else {
			w.halt(fmt.Sprintf("write at offset %d leaves a hole after offset %d", off, w.written))
		}
		return
	}
	for _, s := range w.sums {
		s.h.Write(b)
	}
	if w.matching {
		w.hashStream(b)
	}
	w.written += int64(len(b))
}

// Truncate records that the file's size was set to size (ftruncate,
// fallocate) after the Writer was created. Growing the file is allowed
// (the written stream must then fill it); cutting written bytes ends the
// comparison.
func (w *Writer) Truncate(size int64) {
	if size < 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stop == "" && size < w.written {
		w.halt(fmt.Sprintf("truncated to %d bytes after %d were written", size, w.written))
	}
	w.end = size
}

// halt ends the comparison. Called with w.mu held.
func (w *Writer) halt(reason string) {
	w.stop = reason
	w.matching = false
	w.cands = nil
	w.sums = nil
}

// hashStream adds b, which follows the bytes written so far, to the leaf
// and block digests, and compares each completed block. Called with w.mu
// held.
func (w *Writer) hashStream(b []byte) {
	for len(b) > 0 && w.matching {
		if w.leafFill == 0 && len(b) >= LeafSize {
			d := sha256.Sum256(b[:LeafSize])
			b = b[LeafSize:]
			w.addLeaf(d)
			continue
		}
		n := min(LeafSize-w.leafFill, len(b))
		w.leafH.Write(b[:n])
		b = b[n:]
		if w.leafFill += n; w.leafFill == LeafSize {
			var d digest
			w.leafH.Sum(d[:0])
			w.leafH.Reset()
			w.leafFill = 0
			w.addLeaf(d)
		}
	}
}

// addLeaf appends a full leaf's digest; a full block is compared at once.
func (w *Writer) addLeaf(d digest) {
	copy(w.leaves[w.nleaves*sha256.Size:], d[:])
	if w.nleaves++; w.nleaves < w.ix.lpb {
		return
	}
	bd := sha256.Sum256(w.leaves)
	w.nleaves = 0
	k := w.block
	w.block++
	ix := w.ix
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if k == 0 {
		w.searched = true
		w.cands = nil
		live, dead := ix.candidates(bd, func(size int64) bool { return size >= ix.bs })
		for _, s := range live {
			w.cands = append(w.cands, cand{s, 1})
			ix.touch(s)
		}
		switch {
		case len(w.cands) > 0:
		case dead != nil:
			w.why, w.whyRes = alive(dead)
			w.whySrc = dead.id
		default:
			w.why, w.whyRes = "no file read through the mount begins with the written bytes", Unknown
		}
		w.matching = len(w.cands) > 0
		return
	}
	kept := w.cands[:0]
	for _, c := range w.cands {
		if why, res := w.check(c.s, k, bd, (k+1)*ix.bs); why != "" {
			w.drop(c.s, why, res)
			continue
		}
		c.verified = k + 1
		ix.touch(c.s)
		kept = append(kept, c)
	}
	clear(w.cands[len(kept):])
	w.cands = kept
	if len(w.cands) == 0 {
		w.matching = false
	}
}

// check compares the written block k (digest bd, ending at offset end)
// with block k of s and returns why they differ or could not be compared,
// or "". Called with w.mu and ix.mu held.
func (w *Writer) check(s *source, k int64, bd digest, end int64) (string, Result) {
	if why, res := alive(s); why != "" {
		return why, res
	}
	off := k * w.ix.bs
	if s.id.Size < end {
		return fmt.Sprintf("more bytes were written than its size (%d)", s.id.Size), Mismatch
	}
	if s.gone {
		return "the index forgot it (memory cap or age) before it was compared", Unknown
	}
	d, ok := s.block(k)
	switch {
	case !ok:
		return fmt.Sprintf("offset %d..%d was not served before it was written", off, end), Unknown
	case d != bd:
		return fmt.Sprintf("the bytes written at offset %d..%d differ", off, end), Mismatch
	}
	return "", Proven
}

// alive says why s can no longer prove anything, or "". Called with ix.mu
// held.
func alive(s *source) (string, Result) {
	switch {
	case s.conflict != "":
		return "the source " + s.conflict, Unknown
	case s.forgotten:
		return "the source was changed or removed through the mount", Unknown
	}
	return "", Proven
}

// drop records why candidate s was dropped; the reason about the source
// Likely returned is kept over later ones. Called with w.mu held.
func (w *Writer) drop(s *source, why string, res Result) {
	if w.pinned != nil && s != w.pinned && w.whySrc == w.pinned.id && w.why != "" {
		return
	}
	w.why, w.whyRes, w.whySrc = why, res, s.id
}
