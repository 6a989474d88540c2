package vfs

import (
	"sync"
	"time"

	"github.com/fxpfs/fxpfs/internal/vfs/streammatch"
)

// What readers are served goes to the stream matcher (match.go), which
// hashes every byte with SHA-256: about a CPU-second per GiB, as much as
// the rest of a read through the mount costs on a loopback link (see
// docs/benchmarks.md, issue 9). Most reads are never written anywhere
// else, so while no write could be matched the served bytes are kept (the
// read-ahead chunks they lie in stay pinned: no copy) in a bounded backlog
// and hashed only when a write that may match begins: VFS.mayMatch hands the backlog to the matcher first,
// and from then on, while matching writes go on and for matchEager after
// the last, served bytes are handed over at once, before their reply, as
// streammatch asks. Everything in the backlog was served before that
// write began, so the matcher sees the same order of events either way.
// What leaves the backlog unhashed (older than backlogAge, or beyond
// backlogMax) is unknown to the matcher: a later copy of those bytes is
// uploaded (Verdict Unknown), never matched wrongly. A handle released
// with bytes in the backlog keeps its Tap open until they leave it, so
// that a program that reads a file, closes it, then writes it elsewhere
// is still recognised.
const (
	backlogMax = 32 << 20        // bytes held for the matcher, all readers together
	backlogAge = 5 * time.Second // how long served bytes wait for a write to match
	matchEager = 2 * time.Second // hand bytes over at once for this long after a matching write
)

// servedLog is the backlog (see above). Safe for concurrent use.
type servedLog struct {
	mu      sync.Mutex
	eagerTo time.Time // until then, Served at once
	q       []servedBytes
	bytes   int
	taps    map[*streammatch.Tap]*tapLog
	timer   *time.Timer // sweeps aged entries; nil when none is due
	closed  bool
}

// servedBytes is one reply served to a reader and not yet hashed.
type servedBytes struct {
	tap     *streammatch.Tap
	off     int64
	pieces  [][]byte // the reply's bytes, in order
	n       int      // their length
	release func()   // unpins them
	at      time.Time
}

// tapLog is what the backlog holds of one Tap.
type tapLog struct {
	n            int  // pieces in the backlog
	closing      bool // its handle was released: Close when n reaches 0
	server, path string
}

// served records that reply r, at off, was served through tap of
// server's path.
func (l *servedLog) served(tap *streammatch.Tap, server, path string, off int64, r *Reply) {
	if r.Size() == 0 {
		return
	}
	now := time.Now()
	l.mu.Lock()
	if now.Before(l.eagerTo) || l.closed {
		l.mu.Unlock()
		hand(tap, off, r.Slices())
		return
	}
	tl := l.taps[tap]
	if tl == nil {
		if l.taps == nil {
			l.taps = make(map[*streammatch.Tap]*tapLog)
		}
		tl = &tapLog{server: server, path: path}
		l.taps[tap] = tl
	}
	l.q = append(l.q, servedBytes{tap: tap, off: off, pieces: r.Slices(), n: r.Size(), release: r.keep(), at: now})
	l.bytes += r.Size()
	tl.n++
	closing := l.trim(now)
	if l.timer == nil && len(l.q) > 0 {
		l.timer = time.AfterFunc(backlogAge, l.sweep)
	}
	l.mu.Unlock()
	closeTaps(closing)
}

// hand gives pieces served at off to the matcher.
func hand(tap *streammatch.Tap, off int64, pieces [][]byte) {
	for _, b := range pieces {
		tap.Served(off, b)
		off += int64(len(b))
	}
}

// take removes the oldest piece and returns it; the Tap to close if that
// was its handle's last. mu held.
func (l *servedLog) take() (servedBytes, *streammatch.Tap) {
	e := l.q[0]
	l.q[0] = servedBytes{}
	l.q = l.q[1:]
	if len(l.q) == 0 {
		l.q = nil
	}
	l.bytes -= e.n
	tl := l.taps[e.tap]
	if tl.n--; tl.n == 0 {
		delete(l.taps, e.tap)
		if tl.closing {
			return e, e.tap
		}
	}
	return e, nil
}

// trim drops what is older than backlogAge or beyond backlogMax, and
// returns the Taps to close. mu held (unpinning takes a reader's mu: the
// lock order is servedLog.mu, then reader.mu).
func (l *servedLog) trim(now time.Time) []*streammatch.Tap {
	var closing []*streammatch.Tap
	for len(l.q) > 0 && (l.bytes > backlogMax || now.Sub(l.q[0].at) >= backlogAge) {
		e, c := l.take()
		e.release()
		if c != nil {
			closing = append(closing, c)
		}
	}
	return closing
}

// sweep drops aged pieces (timer).
func (l *servedLog) sweep() {
	l.mu.Lock()
	closing := l.trim(time.Now())
	l.timer = nil
	if len(l.q) > 0 && !l.closed {
		l.timer = time.AfterFunc(max(backlogAge-time.Since(l.q[0].at), time.Millisecond), l.sweep)
	}
	l.mu.Unlock()
	closeTaps(closing)
}

// flush hands the backlog to the matcher, and what is served from now on
// for matchEager (a write that may match begins or goes on).
func (l *servedLog) flush() {
	l.mu.Lock()
	l.eagerTo = time.Now().Add(matchEager)
	if len(l.q) == 0 {
		l.mu.Unlock()
		return
	}
	var closing []*streammatch.Tap
	pieces := make([]servedBytes, 0, len(l.q))
	for len(l.q) > 0 {
		e, c := l.take()
		pieces = append(pieces, e)
		if c != nil {
			closing = append(closing, c)
		}
	}
	l.mu.Unlock()
	for _, e := range pieces {
		hand(e.tap, e.off, e.pieces)
		e.release()
	}
	closeTaps(closing)
}

// closeTap closes tap now, or once its pieces have left the backlog.
func (l *servedLog) closeTap(tap *streammatch.Tap) {
	l.mu.Lock()
	if tl := l.taps[tap]; tl != nil && !l.closed {
		tl.closing = true
		l.mu.Unlock()
		return
	}
	l.mu.Unlock()
	tap.Close()
}

// forget drops the pieces of server's path (changed through the mount:
// they prove nothing now).
func (l *servedLog) forget(server, path string) {
	l.mu.Lock()
	var closing []*streammatch.Tap
	kept := l.q[:0]
	for _, e := range l.q {
		tl := l.taps[e.tap]
		if tl.server != server || tl.path != path {
			kept = append(kept, e)
			continue
		}
		l.bytes -= e.n
		e.release()
		if tl.n--; tl.n == 0 {
			delete(l.taps, e.tap)
			if tl.closing {
				closing = append(closing, e.tap)
			}
		}
	}
	clear(l.q[len(kept):])
	l.q = kept
	l.mu.Unlock()
	closeTaps(closing)
}

// close drops the backlog and stops the timer (the VFS is closing).
func (l *servedLog) close() {
	l.mu.Lock()
	l.closed = true
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	var closing []*streammatch.Tap
	for tap, tl := range l.taps {
		if tl.closing {
			closing = append(closing, tap)
		}
	}
	for _, e := range l.q {
		e.release()
	}
	l.q, l.taps, l.bytes = nil, nil, 0
	l.mu.Unlock()
	closeTaps(closing)
}

func closeTaps(ts []*streammatch.Tap) {
	for _, t := range ts {
		t.Close()
	}
}
