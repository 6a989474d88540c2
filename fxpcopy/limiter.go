package fxpcopy

import (
	"context"
	"sync"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// limiter keeps the engine from holding more control connections of a server
// than its pool allows. A copy needs one connection on each side (two on the
// same server) for its whole transfer; taking them all at once, or waiting
// without holding any, means copies never deadlock on each other (a copy
// holding server A's last connection while waiting for B's, and another the
// reverse). The capacity is read from the client at every check, so it
// follows a pool that adapted downwards.
type limiter struct {
	mu      sync.Mutex
	inUse   map[*ftpclient.Client]int
	changed chan struct{} // closed and replaced whenever connections are freed
}

func newLimiter() *limiter {
	return &limiter{inUse: map[*ftpclient.Client]int{}, changed: make(chan struct{})}
}

// capacity is the client's current connection limit.
func capacity(c *ftpclient.Client) int {
	if n := c.Stats().MaxConns; n > 0 {
		return n
	}
	if n := c.Config().MaxConns; n > 0 {
		return n
	}
	return 4
}

// acquire takes one connection slot for each client (two if both are the same).
func (l *limiter) acquire(ctx context.Context, clients ...*ftpclient.Client) (release func(), err error) {
	need := map[*ftpclient.Client]int{}
	for _, c := range clients {
		need[c]++
	}
	for {
		l.mu.Lock()
		ok := true
		for c, n := range need {
			// A client with nothing in use always admits one copy, even when
			// its limit is below what the copy needs: the pool then decides.
			if l.inUse[c] > 0 && l.inUse[c]+n > capacity(c) {
				ok = false
			}
		}
		if ok {
			for c, n := range need {
				l.inUse[c] += n
			}
			l.mu.Unlock()
			return func() { l.release(need) }, nil
		}
		ch := l.changed
		l.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-ch:
		}
	}
}

// tryAcquire takes one more slot of c if one is free, without waiting.
func (l *limiter) tryAcquire(c *ftpclient.Client) (release func(), ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inUse[c]+1 > capacity(c) {
		return nil, false
	}
	l.inUse[c]++
	need := map[*ftpclient.Client]int{c: 1}
	return func() { l.release(need) }, true
}

func (l *limiter) release(need map[*ftpclient.Client]int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for c, n := range need {
		l.inUse[c] -= n
		if l.inUse[c] <= 0 {
			delete(l.inUse, c)
		}
	}
	close(l.changed)
	l.changed = make(chan struct{})
}
