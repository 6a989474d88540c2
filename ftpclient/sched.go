package ftpclient

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Scheduler tuning.
const (
	// keepaliveAfter: an idle connection older than this gets a NOOP before reuse.
	keepaliveAfter = 15 * time.Second
	// raiseAfter: a limit lowered because the server refused a connection is
	// raised by one again after this long, to probe whether room came back.
	raiseAfter = 15 * time.Second
	// reclaimAfter: a caller waiting this long for a slot makes the
	// scheduler take one back from a download nobody has read for
	// reclaimIdle. It is also how often a waiter re-checks its deadline.
	reclaimAfter = 200 * time.Millisecond
	reclaimIdle  = 500 * time.Millisecond
)

// class says what a slot is for: one slot of every server allowing at
// least keepMetaFrom connections is kept for metadata (listings, stat,
// simple commands), so that a server whose other connections are all busy
// with transfers still answers ls and stat. Below that, keeping one would
// leave a single transfer slot, and a program reading one file while
// writing another on the same server (rsync within a server) would wait
// for itself; there metadata shares the slots and takes one back from a
// download nobody reads.
type class int

// keepMetaFrom is the smallest limit at which one slot is kept for metadata.
const keepMetaFrom = 3

const (
	classMeta class = iota // listings, stat, MKD, DELE, SIZE, ...: may use any slot
	classXfer              // downloads, uploads, raw (FXP) connections: all slots but one
)

// schedMu guards the state of every server's scheduler and of every
// Reservation: the slot counts, the connection lists and the queue of
// waiters. One lock for all servers is what makes a grant of slots on
// several servers atomic (all or none) without lock ordering. Nothing does
// I/O while holding it, so a frozen server never blocks another.
var schedMu sync.Mutex

// waitq is every waiter of every server, oldest first (under schedMu).
var waitq []*waiter

// sched is one server's scheduler: it grants every connection the server
// gets (listing, read, write, FXP leg, raw) as a slot, and owns the
// connections themselves.
//
// A slot (grant) is the right to hold one connection. At most limit slots
// are granted at a time; from a limit of keepMetaFrom up, transfers get at
// most limit-1 of them (one is kept for metadata), except that a request
// finding no other transfer is admitted whole (a copy within a server
// needs two). limit starts at MaxConns and
// adapts downward when the server refuses a connection while we hold some
// (421, or a hang-up at login), and is raised again by one every raiseAfter.
//
// Connections follow slots: a granted caller takes an idle connection
// (checked with alive) or dials one while fewer than limit exist. Released
// connections whose state is known-good go back to the idle list (and are
// reaped after IdleTimeout); any other is destroyed (pgxpool style).
//
// Every wait has a deadline (see waitBound): a waiter fails with ErrTimeout
// when the servers it waits for have shown no activity for that long.
type sched struct {
	c *Client

	// Under schedMu:
	limit    int
	granted  int // slots held (by callers or by reservations)
	xfer     int // of which transfer slots
	total    int // connections existing or being dialled
	idle     []*conn
	busy     map[*conn]*grant
	parked   map[*conn]reclaimer // busy connections whose holder can give them back
	closed   bool
	lowered  time.Time     // when limit was last lowered (or raised)
	reaper   *time.Timer   // closes idle connections
	connWake chan struct{} // closed (and replaced) when a connection is released or destroyed
}

// grant is one slot of a server, held by a caller.
type grant struct {
	s   *sched
	cls class
	res *Reservation // the slot belongs to this reservation and returns to it
}

// reclaimer is a holder of a busy connection that can give it back on
// request (an open download that nobody reads: it reopens when read again).
type reclaimer interface {
	idleSince() time.Time
	reclaim()
}

// demand is what a waiter needs from one server.
type demand struct {
	s *sched
	n int
}

type waiter struct {
	cls     class
	ds      []demand
	ready   chan struct{} // closed when granted (or failed)
	granted bool
	err     error // set instead of granting: a server was closed
}

func newSched(c *Client) *sched {
	return &sched{c: c, limit: c.cfg.MaxConns, busy: map[*conn]*grant{},
		parked: map[*conn]reclaimer{}, connWake: make(chan struct{})}
}

// waitBound is how long a wait for a slot or a connection may last while
// the servers it waits for show no activity at all (no byte received, no
// data byte sent, no connection released, no FXP transfer running): the
// time a dial plus a reply may take, DialTimeout + CmdTimeout (40 s by
// default). A holder that makes progress is waited for; one that does
// not is bounded by its own deadline, so the waiter is too.
func (s *sched) waitBound() time.Duration { return s.c.cfg.DialTimeout + s.c.cfg.CmdTimeout }

// quiet reports whether the server has been inactive since t.
func (s *sched) quiet(since time.Time) bool {
	if s.c.longWaits.Load() > 0 {
		return false // an FXP transfer is running; its holder watches it
	}
	last := time.Unix(0, s.c.activity.Load())
	if last.After(since) {
		since = last
	}
	return time.Since(since) >= s.waitBound()
}

// fits says whether n more slots of class cls fit on s, given what earlier
// waiters have claimed. Call with schedMu held.
func (s *sched) fits(cls class, n int, claimed demandClaim) bool {
	if s.granted+claimed.all+n > s.limit {
		return false
	}
	if cls == classMeta || s.limit < keepMetaFrom {
		return true
	}
	x := s.xfer + claimed.xfer
	return x+n <= s.limit-1 || x == 0
}

type demandClaim struct{ all, xfer int }

// maybeRaise probes whether a lowered limit can grow again. Call with schedMu held.
func (s *sched) maybeRaise() {
	if s.limit < s.c.cfg.MaxConns && time.Since(s.lowered) > raiseAfter {
		s.limit++
		s.lowered = time.Now()
	}
}

// dispatch grants slots to waiters, oldest first. A waiter that does not
// fit claims the free slots of the servers it lacks, so that later waiters
// cannot take them first (a copy needing two slots is not starved by single
// reads); it claims nothing on servers where it fits, so that a full or
// frozen server never holds up another. Call with schedMu held.
func dispatch() {
	claims := map[*sched]demandClaim{}
	kept := waitq[:0]
	for _, w := range waitq {
		if slices.ContainsFunc(w.ds, func(d demand) bool { return d.s.closed }) {
			w.err = ErrClosed
			close(w.ready)
			continue
		}
		ok := true
		for _, d := range w.ds {
			d.s.maybeRaise()
			if !d.s.fits(w.cls, d.n, claims[d.s]) {
				ok = false
			}
		}
		if !ok {
			for _, d := range w.ds {
				if !d.s.fits(w.cls, d.n, claims[d.s]) {
					cl := claims[d.s]
					cl.all += d.n
					if w.cls == classXfer {
						cl.xfer += d.n
					}
					claims[d.s] = cl
				}
			}
			kept = append(kept, w)
			continue
		}
		for _, d := range w.ds {
			d.s.granted += d.n
			if w.cls == classXfer {
				d.s.xfer += d.n
			}
		}
		w.granted = true
		close(w.ready)
	}
	clear(waitq[len(kept):])
	waitq = kept
}

// take grants all demanded slots at once, or none: it waits (in order of
// arrival) until they fit, ctx is done, or the wait deadline passes.
func take(ctx context.Context, cls class, ds []demand) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w := &waiter{cls: cls, ds: ds, ready: make(chan struct{})}
	schedMu.Lock()
	waitq = append(waitq, w)
	dispatch()
	schedMu.Unlock()
	select {
	case <-w.ready: // granted at once (the usual case): no ticker
		return w.err
	default:
	}
	start := time.Now()
	tick := time.NewTicker(reclaimAfter)
	defer tick.Stop()
	for {
		select {
		case <-w.ready:
			return w.err
		case <-ctx.Done():
			cancelWait(w)
			return ctx.Err()
		case <-tick.C:
			if err := w.check(start); err != nil {
				cancelWait(w)
				return err
			}
		}
	}
}

// check runs while w waits: it re-dispatches (a lowered limit may have
// been raised), reclaims idle downloads on the servers w lacks, and fails
// w once every server it lacks has been quiet for its wait bound.
func (w *waiter) check(start time.Time) error {
	var victims []reclaimer
	var lacking []*sched
	schedMu.Lock()
	dispatch()
	if !w.granted && w.err == nil {
		for _, d := range w.ds {
			if !d.s.fits(w.cls, d.n, demandClaim{}) {
				lacking = append(lacking, d.s)
				if v := d.s.victim(); v != nil {
					victims = append(victims, v)
				}
			}
		}
	}
	schedMu.Unlock()
	for _, v := range victims {
		go v.reclaim() // its release wakes us
	}
	if len(lacking) == 0 {
		return nil
	}
	for _, s := range lacking {
		if !s.quiet(start) {
			return nil
		}
	}
	s := lacking[0]
	schedMu.Lock()
	limit, held := s.limit, s.granted
	schedMu.Unlock()
	return fmt.Errorf("no connection to %s free after %v (%d of %d slots taken, one kept for listings; the server silent): %w",
		s.c.cfg.Name, time.Since(start).Round(100*time.Millisecond), held, limit, ErrTimeout)
}

// cancelWait removes w from the queue, or gives its slots back if it was
// granted meanwhile.
func cancelWait(w *waiter) {
	schedMu.Lock()
	defer schedMu.Unlock()
	if w.granted {
		w.granted = false
		for _, d := range w.ds {
			d.s.unGrant(w.cls, d.n)
		}
		return
	}
	if i := slices.Index(waitq, w); i >= 0 {
		waitq = slices.Delete(waitq, i, i+1)
		dispatch() // its claims are gone: others may fit now
	}
}

// grantFor takes one slot of s for a caller: from the reservation bound to
// ctx when it has one free for s, else from the scheduler (waiting).
func (s *sched) grantFor(ctx context.Context, cls class) (*grant, error) {
	if r := reservationFrom(ctx); r != nil {
		if g := r.use(s); g != nil {
			return g, nil
		}
	}
	if err := take(ctx, cls, []demand{{s, 1}}); err != nil {
		return nil, err
	}
	return &grant{s: s, cls: cls}, nil
}

// release gives the slot back: to its reservation, or to the scheduler.
// Call with schedMu held.
func (g *grant) release() {
	if g.res != nil && g.res.put(g.s) {
		return
	}
	g.s.unGrant(g.cls, 1)
}

// unGrant returns n slots to the scheduler. Call with schedMu held.
func (s *sched) unGrant(cls class, n int) {
	s.granted -= n
	if cls == classXfer {
		s.xfer -= n
	}
	s.c.touch()
	dispatch()
}

// acquire grants a slot of class cls and returns a connection for it: an
// idle one that is still alive, or a new one. The connection (and the slot)
// must go back through release.
func (s *sched) acquire(ctx context.Context, cls class) (*conn, error) {
	g, err := s.grantFor(ctx, cls)
	if err != nil {
		return nil, err
	}
	cn, err := s.connect(ctx, g)
	if err != nil {
		schedMu.Lock()
		g.release()
		schedMu.Unlock()
		return nil, err
	}
	return cn, nil
}

// connect gets a connection for the granted slot g.
func (s *sched) connect(ctx context.Context, g *grant) (*conn, error) {
	start := time.Now()
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		schedMu.Lock()
		if s.closed {
			schedMu.Unlock()
			return nil, ErrClosed
		}
		if n := len(s.idle); n > 0 {
			cn := s.idle[n-1]
			s.idle = s.idle[:n-1]
			s.busy[cn] = g
			schedMu.Unlock()
			if cn.alive(ctx, keepaliveAfter) {
				return cn, nil
			}
			s.discard(cn)
			continue
		}
		if s.total < s.limit {
			s.total++
			schedMu.Unlock()
			cn, err := s.c.dial(ctx)
			schedMu.Lock()
			if err == nil && !s.closed {
				s.busy[cn] = g
				schedMu.Unlock()
				return cn, nil
			}
			s.total--
			s.wakeConns()
			held := s.total
			if err == nil { // closed meanwhile
				schedMu.Unlock()
				cn.close()
				return nil, ErrClosed
			}
			if held > 0 && ctx.Err() == nil && s.c.tooMany(err) {
				if held < s.limit {
					s.limit = held
					s.lowered = time.Now()
					s.c.log.Info("ftp server refused another connection; lowering the limit",
						slog.String("server", s.c.cfg.Name), slog.Int("limit", held), slog.Any("reply", err))
				}
				schedMu.Unlock()
				continue // wait below for one of ours to be released
			}
			schedMu.Unlock()
			if held == 0 && s.c.tooMany(err) {
				return nil, fmt.Errorf("server refused the connection: %w: %w", ErrUnavailable, err)
			}
			return nil, err
		}
		// The limit was lowered below the slots granted: wait for a
		// connection to be released (it then goes idle or makes room).
		wake := s.connWake
		victim := s.victim()
		schedMu.Unlock()
		if victim != nil && time.Since(start) >= reclaimAfter {
			go victim.reclaim()
		}
		t := time.NewTimer(reclaimAfter)
		select {
		case <-wake:
		case <-ctx.Done():
		case <-t.C:
			if s.quiet(start) {
				t.Stop()
				return nil, fmt.Errorf("no connection to %s after %v (the server allows %d, the server silent): %w",
					s.c.cfg.Name, time.Since(start).Round(100*time.Millisecond), s.currentLimit(), ErrTimeout)
			}
		}
		t.Stop()
	}
}

// wakeConns wakes callers waiting for a connection. Call with schedMu held.
func (s *sched) wakeConns() {
	close(s.connWake)
	s.connWake = make(chan struct{})
}

// setReclaimer marks a busy connection as one its holder can give back.
// Only connections on a slot of the scheduler's own qualify: one of a
// reservation would return to the reservation, not to the waiter.
func (s *sched) setReclaimer(cn *conn, r reclaimer) {
	schedMu.Lock()
	if g := s.busy[cn]; g != nil && g.res == nil {
		s.parked[cn] = r
	}
	schedMu.Unlock()
}

// victim picks the holder idle the longest, if idle for reclaimIdle. Call
// with schedMu held.
func (s *sched) victim() reclaimer {
	var best reclaimer
	var bestT time.Time
	for _, r := range s.parked {
		t := r.idleSince()
		if time.Since(t) >= reclaimIdle && (best == nil || t.Before(bestT)) {
			best, bestT = r, t
		}
	}
	return best
}

// release returns a connection after an operation that ended with err: to
// the idle list when its state is known-good, else it is destroyed; its
// slot goes back to where it came from. Idempotent.
func (s *sched) release(cn *conn, err error) {
	keep := cn.reusable(err)
	schedMu.Lock()
	g := s.busy[cn]
	if g == nil {
		schedMu.Unlock()
		return // already released
	}
	delete(s.busy, cn)
	delete(s.parked, cn)
	cn.mu.Lock()
	if cn.data != nil {
		cn.data.finish()
		cn.data = nil
	}
	cn.mu.Unlock()
	if s.closed || !keep || s.total > s.limit {
		s.total--
		s.wakeConns()
		g.release()
		schedMu.Unlock()
		cn.close()
		return
	}
	cn.idleSince = time.Now()
	s.idle = append(s.idle, cn)
	if s.reaper == nil {
		s.reaper = time.AfterFunc(s.c.cfg.IdleTimeout, s.reap)
	}
	s.wakeConns()
	g.release()
	schedMu.Unlock()
}

// discard destroys a busy connection; its slot stays with the caller.
func (s *sched) discard(cn *conn) {
	schedMu.Lock()
	if s.busy[cn] != nil {
		delete(s.busy, cn)
		delete(s.parked, cn)
		s.total--
		s.wakeConns()
	}
	schedMu.Unlock()
	cn.close()
}

// reap closes connections idle for IdleTimeout and re-arms itself while
// idle connections remain.
func (s *sched) reap() {
	schedMu.Lock()
	s.reaper = nil
	var old []*conn
	keep := s.idle[:0]
	for _, cn := range s.idle {
		if time.Since(cn.idleSince) >= s.c.cfg.IdleTimeout {
			old = append(old, cn)
		} else {
			keep = append(keep, cn)
		}
	}
	clear(s.idle[len(keep):])
	s.idle = keep
	s.total -= len(old)
	if len(old) > 0 {
		s.wakeConns()
	}
	if len(s.idle) > 0 && !s.closed {
		next := s.c.cfg.IdleTimeout - time.Since(s.idle[0].idleSince)
		s.reaper = time.AfterFunc(max(next, 10*time.Millisecond), s.reap)
	}
	schedMu.Unlock()
	for _, cn := range old {
		cn.close()
	}
}

// close destroys every connection, idle and busy (in-flight operations
// fail), and fails every waiter of this server.
func (s *sched) close() {
	schedMu.Lock()
	s.closed = true
	conns := s.idle
	s.idle = nil
	s.total -= len(conns)
	for cn := range s.busy {
		conns = append(conns, cn)
	}
	if s.reaper != nil {
		s.reaper.Stop()
		s.reaper = nil
	}
	s.wakeConns()
	dispatch()
	schedMu.Unlock()
	for _, cn := range conns {
		cn.close()
	}
}

// currentLimit is the adaptive limit.
func (s *sched) currentLimit() int {
	schedMu.Lock()
	defer schedMu.Unlock()
	return s.limit
}

// stats fills the scheduler's part of Stats.
func (s *sched) stats(st *Stats) {
	schedMu.Lock()
	defer schedMu.Unlock()
	st.MaxConns, st.Slots, st.Conns = s.limit, s.granted, s.total
	for _, w := range waitq {
		if slices.ContainsFunc(w.ds, func(d demand) bool { return d.s == s }) {
			st.Waiting++
		}
	}
}
