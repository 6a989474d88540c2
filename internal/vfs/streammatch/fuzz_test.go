package streammatch

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"
)

// script reads a fuzzer's input as small numbers; past its end it gives 0.
type script struct {
	b []byte
	i int
}

func (s *script) byte() int {
	if s.i >= len(s.b) {
		return 0
	}
	s.i++
	return int(s.b[s.i-1])
}

func (s *script) u16() int   { return s.byte() | s.byte()<<8 }
func (s *script) done() bool { return s.i >= len(s.b) }

// piece is what was served: bytes of a source at an offset.
type piece struct {
	off  int
	data []byte
}

// FuzzVerdict plays random reads (repeated, out of order, unaligned,
// sometimes with changed bytes), writes (in sequence or not), truncates and
// Forgets against a naive model, and checks that Proven always means: the
// written file (the model) has the source's length, and each of its bytes
// is a byte served at that offset for that source after its path was last
// forgotten. It also checks Likely and Sum.
func FuzzVerdict(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0x40, 0x9c, 0, 0, 0, 1, 1, 0, 0, 0, 0xff, 0xff, 1, 2, 0, 0x20, 1, 2, 0, 0x20, 1, 2, 0, 0x40})
	f.Add([]byte{0x10, 0x27, 0x10, 0x27, 1, 1, 0, 0, 0, 0, 0xff, 0x7f, 0, 1, 0, 0, 0, 0, 0xff, 0x7f, 1, 2, 0, 0x10, 1, 2, 0, 0x10, 1, 2, 0, 0x10})
	f.Add([]byte{0x00, 0x50, 0, 0, 2, 0, 0, 0, 0, 0x01, 0, 0x30, 4, 3, 0, 0x30, 1, 0, 0, 0x30, 0, 0, 0, 0, 0, 0x20, 0, 0x30})
	f.Fuzz(func(t *testing.T, in []byte) { checkScript(t, in) })
}

// checkScript is FuzzVerdict's body.
func checkScript(t *testing.T, in []byte) Verdict {
	s := &script{b: in}
	bs := LeafSize << (s.byte() % 3) // 4, 8 or 16 KiB blocks
	opt := Options{BlockSize: bs, MaxCandidates: 1 + s.byte()%4}
	if s.byte()%4 == 0 {
		opt.MaxBytes = int64(1 + s.byte()*16) // eviction pressure
	}
	ix := NewIndex(opt)

	// Up to three sources; the second and third may equal the first,
	// or share its beginning.
	n := 1 + s.byte()%3
	srcs := make([][]byte, n)
	ids := make([]SourceID, n)
	for i := range srcs {
		size := s.u16() % (6*bs + 1)
		data := randBytes(uint64(s.byte()), size)
		if i > 0 {
			switch s.byte() % 3 {
			case 0:
				data = append([]byte(nil), srcs[0]...)
			case 1:
				copy(data, srcs[0])
			}
		}
		srcs[i] = data
		ids[i] = SourceID{Server: "s", Path: fmt.Sprint("/", i%2), Size: int64(len(data)), Mtime: mtime0.Add(time.Duration(i) * time.Second)}
	}
	// The bytes the program writes: a source's, perhaps changed.
	base := append([]byte(nil), srcs[s.byte()%n]...)
	switch s.byte() % 4 {
	case 0:
		if len(base) > 0 {
			base[s.u16()%len(base)] ^= byte(1 + s.byte()%255)
		}
	case 1:
		base = base[:s.u16()%(len(base)+1)]
	case 2:
		base = append(base, byte(s.byte()))
	}

	served := make([][]piece, n) // since the path was last forgotten
	taps := make([]*Tap, n)
	w := ix.NewWriter(SHA256)
	var model []byte // the file as written
	sequential := true
	pos := 0 // bytes written in sequence from 0 (while sequential)
	for op := 0; op < 200 && !s.done(); op++ {
		switch s.byte() % 10 {
		case 0, 1: // serve a piece of a source
			i := s.byte() % n
			if taps[i] == nil {
				taps[i] = ix.Tap(ids[i])
			}
			src := srcs[i]
			off := s.u16() % (len(src) + 1)
			if s.byte()%2 == 0 {
				off = off / LeafSize * LeafSize
			}
			end := min(len(src), off+1+s.u16()%(2*bs))
			data := append([]byte(nil), src[off:end]...)
			if len(data) > 0 && s.byte()%8 == 0 { // the server serves other bytes
				data[s.byte()%len(data)] ^= 0x55
			}
			if s.byte()%16 == 0 { // past the size
				data = append(data, 7)
			}
			taps[i].Served(int64(off), data)
			if off+len(data) <= len(src) {
				served[i] = append(served[i], piece{off, data})
			}
		case 2, 3, 4: // write the next piece in sequence
			end := min(len(base), pos+1+s.u16()%(2*bs))
			if pos < end {
				w.Write(int64(pos), base[pos:end])
				model = apply(model, pos, base[pos:end])
				pos = end
			}
		case 5: // write anywhere
			off := s.u16() % (len(base) + 2)
			end := min(len(base), off+1+s.byte())
			var data []byte
			if off < end {
				data = base[off:end]
			} else {
				data = []byte{byte(s.byte())}
			}
			if off != pos {
				sequential = false
			}
			w.Write(int64(off), data)
			model = apply(model, off, data)
			pos = max(pos, off+len(data))
		case 6: // truncate
			size := s.u16() % (len(base) + 2)
			if size < pos {
				sequential = false
			}
			w.Truncate(int64(size))
			model = resize(model, size)
			pos = min(pos, size)
		case 8: // serve a whole source in sequence (as cp, rsync, GIO read)
			i := s.byte() % n
			if taps[i] == nil {
				taps[i] = ix.Tap(ids[i])
			}
			src, step := srcs[i], 1+s.u16()%(2*bs)
			for off := 0; off < len(src); off += step {
				data := src[off:min(off+step, len(src))]
				taps[i].Served(int64(off), data)
				served[i] = append(served[i], piece{off, data})
			}
		case 9: // write the rest in sequence
			step := 1 + s.u16()%(2*bs)
			for ; pos < len(base); pos = min(pos+step, len(base)) {
				end := min(len(base), pos+step)
				w.Write(int64(pos), base[pos:end])
				model = apply(model, pos, base[pos:end])
			}
		case 7:
			switch i := s.byte() % n; s.byte() % 4 {
			case 0: // forget the path
				ix.Forget(ids[i].Server, ids[i].Path)
				for j := range ids {
					if ids[j].Path == ids[i].Path {
						served[j] = nil
					}
				}
			case 1: // close the tap
				if taps[i] != nil {
					taps[i].Close()
					taps[i] = nil
				}
			default:
				if got, ok := w.Likely(); ok && slices.Index(ids, got) < 0 {
					t.Fatalf("Likely returned %v, not a source", got)
				}
			}
		}
	}

	v := w.Verdict()
	if v.Size != int64(len(model)) {
		t.Fatalf("verdict size %d, file has %d bytes", v.Size, len(model))
	}
	if sequential {
		sum, err := w.Sum(SHA256)
		if zeroTail(model, pos) { // the file ends in a hole
			if err == nil {
				t.Fatalf("Sum of a file with a hole at its end: %x", sum)
			}
		} else if want := sha256Of(model); err != nil || !bytes.Equal(sum, want) {
			t.Fatalf("Sum = %x, %v; want %x", sum, err, want)
		}
	}
	if v.Result != Proven {
		if v.Reason == "" {
			t.Fatalf("verdict %v without a reason", v)
		}
		return v
	}
	i := slices.Index(ids, v.Source)
	if i < 0 {
		t.Fatalf("proven against %v, not a source", v.Source)
	}
	if len(model) != len(srcs[i]) {
		t.Fatalf("proven against %v of %d bytes, the file has %d", v.Source, len(srcs[i]), len(model))
	}
	for p, c := range model {
		if !servedAt(served[i], p, c) {
			t.Fatalf("proven against %v, but byte %d (%#x) was never served there", v.Source, p, c)
		}
	}
	return v
}

func apply(model []byte, off int, data []byte) []byte {
	if need := off + len(data); need > len(model) {
		model = append(model, make([]byte, need-len(model))...)
	}
	copy(model[off:], data)
	return model
}

func resize(model []byte, size int) []byte {
	if size <= len(model) {
		return model[:size]
	}
	return append(model, make([]byte, size-len(model))...)
}

// zeroTail says whether the file extends past the bytes written (a hole).
func zeroTail(model []byte, pos int) bool { return len(model) > pos }

func servedAt(pieces []piece, p int, c byte) bool {
	for _, pc := range pieces {
		if p >= pc.off && p < pc.off+len(pc.data) && pc.data[p-pc.off] == c {
			return true
		}
	}
	return false
}
