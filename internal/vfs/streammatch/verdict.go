package streammatch

import (
	"crypto/sha256"
	"fmt"
)

// Likely returns a source the written data agrees with so far: its first
// block at least, and a size no smaller than the file written (equal to
// the size a Truncate announced). It prefers the source it returned last.
func (w *Writer) Likely() (SourceID, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.matching || len(w.cands) == 0 {
		return SourceID{}, false
	}
	ix := w.ix
	ix.mu.Lock()
	defer ix.mu.Unlock()
	var best *source
	for _, c := range w.cands {
		s := c.s
		if why, _ := alive(s); why != "" || s.id.Size < w.end || (w.end > w.written && s.id.Size != w.end) {
			continue
		}
		if s == w.pinned {
			best = s
			break
		}
		if best == nil || s.served > best.served {
			best = s
		}
	}
	if best == nil {
		return SourceID{}, false
	}
	w.pinned = best
	return best.id, true
}

// Verdict says whether the file written so far is proven equal to a
// source (see the package comment). It may be called at any time; the one
// to act on is taken when the program has finished writing (at flush).
func (w *Writer) Verdict() Verdict {
	w.mu.Lock()
	defer w.mu.Unlock()
	v := Verdict{Size: w.end}
	switch {
	case w.stop != "":
		v.Reason = w.stop
		return v
	case v.Size == 0:
		v.Reason = "nothing was written"
		return v
	case w.end > w.written:
		v.Reason = fmt.Sprintf("the file was extended to %d bytes but only %d were written", w.end, w.written)
		return v
	case !w.matching:
		v.Result, v.Reason, v.Source = w.whyRes, w.why, w.whySrc
		return v
	}
	ix := w.ix
	ix.mu.Lock()
	defer ix.mu.Unlock()
	var proven []*source
	fail := func(s *source, why string, res Result) {
		if v.Reason == "" || s == w.pinned {
			v.Result, v.Reason, v.Source = res, why, s.id
		}
	}
	// The last, partial block has not been compared yet.
	partial := w.nleaves > 0 || w.leafFill > 0
	var last digest
	if partial {
		buf := w.leaves[:w.nleaves*sha256.Size]
		if w.leafFill > 0 {
			buf = w.leafH.Sum(append([]byte(nil), buf...))
		}
		last = sha256.Sum256(buf)
	}
	if !w.searched { // shorter than one block: look the whole file up
		live, dead := ix.candidates(last, func(size int64) bool { return size == w.written })
		proven = live
		switch {
		case len(proven) > 0:
		case dead != nil:
			v.Reason, v.Result = alive(dead)
			v.Source = dead.id
		default:
			v.Reason = "no file read through the mount has the written bytes"
		}
	}
	for _, c := range w.cands {
		s := c.s
		if why, res := alive(s); why != "" {
			fail(s, why, res)
			continue
		}
		if s.id.Size != w.written {
			fail(s, fmt.Sprintf("it has %d bytes, %d were written", s.id.Size, w.written), Mismatch)
			continue
		}
		if partial {
			if why, res := w.check(s, w.block, last, w.written); why != "" {
				fail(s, why, res)
				continue
			}
		} else if c.verified != w.block {
			fail(s, "not every block was compared", Unknown)
			continue
		}
		proven = append(proven, s)
	}
	if len(proven) == 0 {
		if v.Reason == "" {
			v.Reason, v.Result, v.Source = w.why, w.whyRes, w.whySrc
		}
		return v
	}
	best := proven[0]
	for _, s := range proven {
		if s == w.pinned {
			best = s
			break
		}
		if s.served > best.served {
			best = s
		}
	}
	return Verdict{Result: Proven, Source: best.id, Size: w.written}
}
