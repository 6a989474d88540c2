package ftpclient

import (
	"context"
	"fmt"
	"strings"
)

// Reservation holds connection slots on one or more servers, taken all at
// once or not at all, for an operation that needs several connections at
// the same time: an FXP copy (one on each server, two within one server) or
// a relay (a download and an upload). Copies that reserve never deadlock on
// each other, since none holds a slot while waiting for another.
//
// Bind the reservation to a context: AcquireRaw, OpenRead, OpenRead-like
// calls and OpenWrite under that context draw their slot from the
// reservation, and give it back to the reservation when they end; any
// other operation under it (SIZE, DELE, ...) uses a free reserved slot
// when there is one, else the slot every server keeps for metadata. A
// reservation's slots are never reclaimed from it.
type Reservation struct {
	// Under schedMu:
	free     map[*sched]int // slots reserved and not in use
	released bool
	names    string
}

// Reserve takes one transfer slot per client listed (a client listed twice
// gets two), all at once or none. It waits like any other acquisition: at
// most while the servers it lacks stay silent for their wait bound
// (ErrTimeout), or until ctx is done. A copy needing more slots of a server
// than its configured max_connections fails at once with ErrUnsupported.
// The caller must Release the reservation.
func Reserve(ctx context.Context, clients ...*Client) (*Reservation, error) {
	var ds []demand
	var names []string
	for _, c := range clients {
		names = append(names, c.cfg.Name)
		i := 0
		for i < len(ds) && ds[i].s != c.sched {
			i++
		}
		if i == len(ds) {
			ds = append(ds, demand{s: c.sched})
		}
		ds[i].n++
	}
	r := &Reservation{free: map[*sched]int{}, names: strings.Join(names, "+")}
	for _, d := range ds {
		if d.n > d.s.c.cfg.MaxConns {
			return nil, d.s.c.translate("connect", "", fmt.Errorf(
				"this needs %d connections to %s at once, its limit is %d: %w",
				d.n, d.s.c.cfg.Name, d.s.c.cfg.MaxConns, ErrUnsupported))
		}
		r.free[d.s] = d.n
	}
	if len(ds) == 0 {
		return r, nil
	}
	if err := take(ctx, classXfer, ds); err != nil {
		return nil, ds[0].s.c.translate("connect", "", err)
	}
	return r, nil
}

type reservationKey struct{}

// Bind returns ctx carrying the reservation (see Reservation).
func (r *Reservation) Bind(ctx context.Context) context.Context {
	return context.WithValue(ctx, reservationKey{}, r)
}

func reservationFrom(ctx context.Context) *Reservation {
	r, _ := ctx.Value(reservationKey{}).(*Reservation)
	return r
}

// use takes a free reserved slot of s, or returns nil.
func (r *Reservation) use(s *sched) *grant {
	schedMu.Lock()
	defer schedMu.Unlock()
	if r.released || r.free[s] == 0 {
		return nil
	}
	r.free[s]--
	return &grant{s: s, cls: classXfer, res: r}
}

// put takes a slot back; false if the reservation was released meanwhile
// (the slot then goes back to the scheduler). Call with schedMu held.
func (r *Reservation) put(s *sched) bool {
	if r.released {
		return false
	}
	r.free[s]++
	return true
}

// Release gives the reservation's free slots back to their servers; slots
// still in use go back when their holders end. Idempotent.
func (r *Reservation) Release() {
	schedMu.Lock()
	defer schedMu.Unlock()
	if r.released {
		return
	}
	r.released = true
	for s, n := range r.free {
		if n > 0 {
			s.unGrant(classXfer, n)
		}
	}
	clear(r.free)
}

// String names the servers reserved, for logs.
func (r *Reservation) String() string { return "reservation(" + r.names + ")" }
