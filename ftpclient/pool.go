package ftpclient

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Pool tuning.
const (
	// keepaliveAfter: an idle connection older than this gets a NOOP before reuse.
	keepaliveAfter = 15 * time.Second
	// raiseAfter: a limit lowered because the server refused a connection is
	// raised by one again after this long, to probe whether room came back.
	raiseAfter = 15 * time.Second
	// reclaimAfter: a caller waiting this long for a connection makes the
	// pool take one back from a download nobody has read for reclaimIdle.
	reclaimAfter = 200 * time.Millisecond
	reclaimIdle  = 500 * time.Millisecond
)

// reclaimer is a holder of a busy connection that can give it back on
// request (an open download that nobody reads: it reopens when read again).
type reclaimer interface {
	idleSince() time.Time
	reclaim()
}

// pool holds the control connections of one server: at most limit of them
// exist at a time (busy, idle or being dialled). limit starts at MaxConns and
// adapts downward when the server refuses a connection while we already
// hold some; then callers wait for a release instead of failing, and a
// caller that waits long takes a connection back from a download that is
// open but not being read (reclaim), so that nobody waits forever.
type pool struct {
	c *Client

	mu      sync.Mutex
	limit   int
	total   int                 // connections existing or being dialled
	idle    []*conn             // most recently used last
	busy    map[*conn]bool      // handed out
	parked  map[*conn]reclaimer // busy connections whose holder can give them back
	wake    chan struct{}       // closed (and replaced) whenever a slot or idle conn may be free
	closed  bool
	lowered time.Time // when limit was last lowered
	reaper  *time.Timer
}

func newPool(c *Client) *pool {
	return &pool{c: c, limit: c.cfg.MaxConns, busy: make(map[*conn]bool),
		parked: make(map[*conn]reclaimer), wake: make(chan struct{})}
}

// signal wakes every waiter; they re-check. Call with mu held.
func (p *pool) signal() {
	close(p.wake)
	p.wake = make(chan struct{})
}

// acquire hands out an idle connection that is still alive, or dials one
// when there is room, or waits for a release.
func (p *pool) acquire(ctx context.Context) (*conn, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, ErrClosed
		}
		if p.limit < p.c.cfg.MaxConns && time.Since(p.lowered) > raiseAfter {
			p.limit++
			p.lowered = time.Now()
		}
		if n := len(p.idle); n > 0 {
			cn := p.idle[n-1]
			p.idle = p.idle[:n-1]
			p.busy[cn] = true
			p.mu.Unlock()
			if cn.alive(ctx, keepaliveAfter) {
				return cn, nil
			}
			p.discard(cn)
			continue
		}
		if p.total < p.limit {
			p.total++
			p.mu.Unlock()
			cn, err := p.c.dial(ctx)
			p.mu.Lock()
			if err == nil && !p.closed {
				p.busy[cn] = true
				p.mu.Unlock()
				return cn, nil
			}
			p.total--
			held := p.total
			p.signal()
			if err == nil { // closed meanwhile
				p.mu.Unlock()
				cn.close()
				return nil, ErrClosed
			}
			if held > 0 && ctx.Err() == nil && p.c.tooMany(err) {
				if held < p.limit {
					p.limit = held
					p.lowered = time.Now()
					p.c.log.Info("ftp server refused another connection; lowering the limit",
						slog.String("server", p.c.cfg.Name), slog.Int("limit", held), slog.Any("reply", err))
				}
				p.mu.Unlock()
				continue // wait for one of ours to be released
			}
			p.mu.Unlock()
			if held == 0 && p.c.tooMany(err) {
				return nil, fmt.Errorf("server refused the connection: %w: %w", ErrUnavailable, err)
			}
			return nil, err
		}
		wake := p.wake
		p.mu.Unlock()
		t := time.NewTimer(reclaimAfter)
		select {
		case <-wake:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
			if r := p.victim(); r != nil {
				go r.reclaim() // its release wakes us
			}
		}
		t.Stop()
	}
}

// setReclaimer marks a busy connection as one its holder can give back.
func (p *pool) setReclaimer(cn *conn, r reclaimer) {
	p.mu.Lock()
	if p.busy[cn] {
		p.parked[cn] = r
	}
	p.mu.Unlock()
}

// victim picks the holder idle the longest, if idle for reclaimIdle.
func (p *pool) victim() reclaimer {
	p.mu.Lock()
	defer p.mu.Unlock()
	var best reclaimer
	var bestT time.Time
	for _, r := range p.parked {
		t := r.idleSince()
		if time.Since(t) >= reclaimIdle && (best == nil || t.Before(bestT)) {
			best, bestT = r, t
		}
	}
	return best
}

// release returns a connection after an operation that ended with err: to
// the idle list when its state is known-good, else it is destroyed.
func (p *pool) release(cn *conn, err error) {
	keep := cn.reusable(err)
	p.mu.Lock()
	if !p.busy[cn] {
		p.mu.Unlock()
		return // already released
	}
	delete(p.busy, cn)
	delete(p.parked, cn)
	cn.mu.Lock()
	if cn.data != nil {
		cn.data.finish()
		cn.data = nil
	}
	cn.mu.Unlock()
	if p.closed || !keep {
		p.total--
		p.signal()
		p.mu.Unlock()
		cn.close()
		return
	}
	cn.idleSince = time.Now()
	p.idle = append(p.idle, cn)
	if p.reaper == nil {
		p.reaper = time.AfterFunc(p.c.cfg.IdleTimeout, p.reap)
	}
	p.signal()
	p.mu.Unlock()
}

// discard destroys a busy connection.
func (p *pool) discard(cn *conn) {
	p.mu.Lock()
	if p.busy[cn] {
		delete(p.busy, cn)
		delete(p.parked, cn)
		p.total--
		p.signal()
	}
	p.mu.Unlock()
	cn.close()
}

// reap closes connections idle for IdleTimeout and re-arms itself while
// idle connections remain.
func (p *pool) reap() {
	p.mu.Lock()
	p.reaper = nil
	var old []*conn
	keep := p.idle[:0]
	for _, cn := range p.idle {
		if time.Since(cn.idleSince) >= p.c.cfg.IdleTimeout {
			old = append(old, cn)
		} else {
			keep = append(keep, cn)
		}
	}
	p.idle = keep
	p.total -= len(old)
	if len(old) > 0 {
		p.signal()
	}
	if len(p.idle) > 0 && !p.closed {
		next := p.c.cfg.IdleTimeout - time.Since(p.idle[0].idleSince)
		p.reaper = time.AfterFunc(max(next, 10*time.Millisecond), p.reap)
	}
	p.mu.Unlock()
	for _, cn := range old {
		cn.close()
	}
}

// close destroys every connection, idle and busy; in-flight operations fail.
func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	conns := p.idle
	p.idle = nil
	p.total -= len(conns)
	for cn := range p.busy {
		conns = append(conns, cn)
	}
	if p.reaper != nil {
		p.reaper.Stop()
		p.reaper = nil
	}
	p.signal()
	p.mu.Unlock()
	for _, cn := range conns {
		cn.close()
	}
}

// currentLimit is the adaptive limit, for Stats.
func (p *pool) currentLimit() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.limit
}
