package streammatch

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

// TestConcurrentCopies runs copies as a mount sees them: for each, a
// reader goroutine serves the source (Served before the "reply" goes down
// a channel), a writer goroutine writes what it receives; several copies,
// two handles per source, Stats and Likely callers, and unrelated traffic
// with Forgets all run at once. Run with -race.
func TestConcurrentCopies(t *testing.T) {
	ix := NewIndex(Options{})
	const copies = 6
	var wg sync.WaitGroup
	verdicts := make([]Verdict, copies)
	ids := make([]SourceID, copies)
	for c := range copies {
		data := randBytes(uint64(200+c), 2*mib+c*10_001)
		ids[c] = id("a", fmt.Sprintf("/c%d", c), data)
		wg.Add(1)
		go func() {
			defer wg.Done()
			replies := make(chan piece, 4)
			done := make(chan struct{})
			go func() { // the program: writes what it read
				defer close(done)
				w := ix.NewWriter(MD5)
				for p := range replies {
					w.Write(int64(p.off), p.data)
					w.Likely()
				}
				verdicts[c] = w.Verdict()
			}()
			// Two handles: the second reads the first half again.
			t1, t2 := ix.Tap(ids[c]), ix.Tap(ids[c])
			r := rand.New(rand.NewPCG(uint64(c), 9))
			for off := 0; off < len(data); {
				n := min(len(data)-off, 1+r.IntN(300*kib))
				t1.Served(int64(off), data[off:off+n])
				replies <- piece{off, data[off : off+n]}
				if off < len(data)/2 {
					t2.Served(int64(off), data[off:off+n])
				}
				off += n
			}
			close(replies)
			<-done
			t1.Close()
			t2.Close()
		}()
	}
	stop := make(chan struct{})
	var bg sync.WaitGroup
	bg.Add(2)
	go func() { // unrelated reads and Forgets
		defer bg.Done()
		other := randBytes(300, 600*kib)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			src := id("b", fmt.Sprint("/o", i%5), other)
			readAll(ix, src, other, 64*kib)
			ix.Forget("b", fmt.Sprint("/o", (i+2)%5))
		}
	}()
	go func() {
		defer bg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				ix.Stats()
			}
		}
	}()
	wg.Wait()
	close(stop)
	bg.Wait()
	for c, v := range verdicts {
		want(t, v, Proven, ids[c], "")
	}
}

// TestRandomCleanCopies: any copy whose source was served in full before
// each block was written, in sequential pieces of any size or in
// leaf-aligned pieces in any order from one or two handles, and written
// in sequence in pieces of any size, is Proven.
func TestRandomCleanCopies(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for iter := range 300 {
		bs := LeafSize << r.IntN(4)
		ix := NewIndex(Options{BlockSize: bs})
		size := 1 + r.IntN(12*bs)
		data := randBytes(uint64(iter), size)
		src := id("a", "/r", data)
		taps := []*Tap{ix.Tap(src), ix.Tap(src)}
		// The pieces the reader is served.
		var pieces []piece
		handles := 2
		if r.IntN(2) == 0 { // sequential, any sizes, one handle
			handles = 1
			for off := 0; off < size; {
				n := min(size-off, 1+r.IntN(2*bs))
				pieces = append(pieces, piece{off, data[off : off+n]})
				off += n
			}
		} else { // leaf-aligned, shuffled
			for off := 0; off < size; {
				n := min(size-off, LeafSize*(1+r.IntN(2*bs/LeafSize)))
				pieces = append(pieces, piece{off, data[off : off+n]})
				off += n
			}
			r.Shuffle(len(pieces), func(i, j int) { pieces[i], pieces[j] = pieces[j], pieces[i] })
		}
		// Serve everything up to the end of a random number of pieces,
		// then write what the reader has entirely seen, and so on.
		w := ix.NewWriter()
		covered := make([]bool, size)
		written := 0
		for i, p := range pieces {
			taps[r.IntN(handles)].Served(int64(p.off), p.data)
			for k := range p.data {
				covered[p.off+k] = true
			}
			if r.IntN(3) > 0 && i < len(pieces)-1 {
				continue
			}
			upto := written
			for upto < size && covered[upto] {
				upto++
			}
			write(w, data, written, upto, 1+r.IntN(2*bs))
			written = upto
		}
		if v := w.Verdict(); v.Result != Proven {
			t.Fatalf("iteration %d (size %d, block %d): %v", iter, size, bs, v)
		}
	}
}
