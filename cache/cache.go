// Package cache keeps directory listings (and with them the attributes of
// every entry) per FTP server, so that lookups, stat and readdir on a cached
// directory send no FTP command.
//
// One expirable LRU per server holds listings keyed by directory path, each
// expiring after the server's ListingTTL. A miss fills the listing with one
// Client.List; concurrent misses on the same directory share that one call
// (singleflight). Changes made through the mount update or drop the affected
// listings at once with Put, Update, Remove and Invalidate.
//
// The package knows nothing about FUSE.
package cache

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"golang.org/x/sync/singleflight"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// DefaultMaxDirs is the number of listings kept per server when New is given 0.
const DefaultMaxDirs = 100000

// Lister is what the cache needs from a server. *ftpclient.Client implements it.
type Lister interface {
	List(ctx context.Context, dir string) ([]ftpclient.Entry, error)
	Config() ftpclient.ServerConfig
}

// Cache holds the listings of all servers. Safe for concurrent use.
type Cache struct {
	maxDirs int

	mu      sync.Mutex
	servers map[Lister]*serverCache
}

// serverCache is the state for one server.
type serverCache struct {
	ttl time.Duration
	lru *expirable.LRU[string, *listing] // nil when ttl <= 0: caching off
	sf  singleflight.Group

	mu    sync.Mutex
	epoch uint64 // bumped by every change; a fill started before a change is not stored
}

// listing is one cached directory. Its entries are mutated in place (the
// expirable LRU would reset the TTL on a re-Add).
type listing struct {
	mu      sync.RWMutex
	expires time.Time
	byName  map[string]ftpclient.Entry
}

// New returns a cache keeping up to maxDirs listings per server (0: DefaultMaxDirs).
func New(maxDirs int) *Cache {
	if maxDirs <= 0 {
		maxDirs = DefaultMaxDirs
	}
	return &Cache{maxDirs: maxDirs, servers: make(map[Lister]*serverCache)}
}

// server returns (creating on first use) the state for cl.
func (c *Cache) server(cl Lister) *serverCache {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.servers[cl]
	if !ok {
		s = &serverCache{ttl: cl.Config().ListingTTL}
		if s.ttl > 0 {
			s.lru = expirable.NewLRU[string, *listing](c.maxDirs, nil, s.ttl)
		}
		c.servers[cl] = s
	}
	return s
}

// TTL returns how long cl's listings are kept.
func (c *Cache) TTL(cl Lister) time.Duration { return c.server(cl).ttl }

// get returns the cached, unexpired listing of dir.
func (s *serverCache) get(dir string) (*listing, bool) {
	if s.lru == nil {
		return nil, false
	}
	l, ok := s.lru.Get(dir)
	if !ok {
		return nil, false
	}
	l.mu.RLock()
	fresh := time.Now().Before(l.expires)
	l.mu.RUnlock()
	return l, fresh
}

// changed bumps the epoch so that fills in flight do not store stale data.
func (s *serverCache) changed() {
	s.mu.Lock()
	s.epoch++
	s.mu.Unlock()
}

// dir returns the listing of dir, filling it on a miss. Concurrent misses
// share one Client.List. The fill runs detached from ctx (other callers may
// wait for it); the caller stops waiting when ctx is done.
func (c *Cache) dir(ctx context.Context, cl Lister, dir string) (*listing, error) {
	s := c.server(cl)
	if l, ok := s.get(dir); ok {
		return l, nil
	}
	fillCtx := context.WithoutCancel(ctx)
	ch := s.sf.DoChan(dir, func() (any, error) {
		// A fill that finished between our miss and this flight has
		// stored the listing already: use it rather than list again.
		if l, ok := s.get(dir); ok {
			return l, nil
		}
		s.mu.Lock()
		epoch := s.epoch
		s.mu.Unlock()
		entries, err := cl.List(fillCtx, dir)
		if err != nil {
			return nil, err
		}
		l := &listing{expires: time.Now().Add(s.ttl), byName: make(map[string]ftpclient.Entry, len(entries))}
		for _, e := range entries {
			l.byName[e.Name] = e
		}
		s.mu.Lock()
		if s.lru != nil && s.epoch == epoch {
			s.lru.Add(dir, l)
		}
		s.mu.Unlock()
		return l, nil
	})
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("list %s: %w", dir, ctx.Err())
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*listing), nil
	}
}

// List returns the entries of dir sorted by name, from the cache or with one
// Client.List on a miss.
func (c *Cache) List(ctx context.Context, cl Lister, dir string) ([]ftpclient.Entry, error) {
	l, err := c.dir(ctx, cl, dir)
	if err != nil {
		return nil, err
	}
	return l.entries(), nil
}

// Cached returns the entries of dir, sorted by name, if its listing is
// cached and fresh; it never asks the server.
func (c *Cache) Cached(cl Lister, dir string) ([]ftpclient.Entry, bool) {
	l, ok := c.server(cl).get(dir)
	if !ok {
		return nil, false
	}
	return l.entries(), true
}

// entries are the listing's entries sorted by name.
func (l *listing) entries() []ftpclient.Entry {
	l.mu.RLock()
	out := make([]ftpclient.Entry, 0, len(l.byName))
	for _, e := range l.byName {
		out = append(out, e)
	}
	l.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Lookup returns the entry for path p from its parent's listing (filled on a
// miss). A name the fresh listing lacks is ErrNotFound without asking the
// server again. "/" is always a directory.
func (c *Cache) Lookup(ctx context.Context, cl Lister, p string) (ftpclient.Entry, error) {
	if p == "/" {
		return ftpclient.Entry{Name: "/", Type: ftpclient.TypeDir}, nil
	}
	dir, name := split(p)
	l, err := c.dir(ctx, cl, dir)
	if err != nil {
		return ftpclient.Entry{}, err
	}
	l.mu.RLock()
	e, ok := l.byName[name]
	l.mu.RUnlock()
	if !ok {
		return ftpclient.Entry{}, fmt.Errorf("lookup %s: %w", p, ftpclient.ErrNotFound)
	}
	return e, nil
}

// Expires returns when the cached listing of dir expires, and false if it is
// not cached. The FUSE layer ties kernel cache timeouts to it.
func (c *Cache) Expires(cl Lister, dir string) (time.Time, bool) {
	l, ok := c.server(cl).get(dir)
	if !ok {
		return time.Time{}, false
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.expires, true
}
