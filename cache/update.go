package cache

import (
	"path"
	"strings"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// Every change made through the mount goes through one of these, so that
// the cache shows it at once. Each bumps the server's epoch: a listing
// fetch that was in flight during the change is then not stored.
//
// Put and Remove change a directory's entries, which changes the
// directory's own mtime on the server: they show it as now in the parent's
// listing (touchDir). Without that, a time set on the directory earlier
// (rsync -a sets it before its last rename into it) would still show,
// the program would see its time in place and not set it again, and the
// server would keep the time of the rename.

// Put inserts or replaces the entry for path p in its parent's cached
// listing (e.Name is set to p's base name). When the parent is not cached
// nothing is stored: the next lookup lists it.
func (c *Cache) Put(cl Lister, p string, e ftpclient.Entry) {
	s := c.server(cl)
	s.changed()
	dir, name := split(p)
	e.Name = name
	if l, ok := s.get(dir); ok {
		l.mu.Lock()
		l.byName[name] = e
		l.mu.Unlock()
	}
	s.touchDir(dir)
}

// Update changes the cached entry for path p in place with fn and reports
// whether it was cached.
func (c *Cache) Update(cl Lister, p string, fn func(*ftpclient.Entry)) bool {
	s := c.server(cl)
	s.changed()
	dir, name := split(p)
	l, ok := s.get(dir)
	if !ok {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.byName[name]
	if !ok {
		return false
	}
	fn(&e)
	e.Name = name
	l.byName[name] = e
	return true
}

// Remove drops path p from its parent's cached listing, and drops the
// listings of p and everything below it (p may have been a directory).
func (c *Cache) Remove(cl Lister, p string) {
	s := c.server(cl)
	s.changed()
	dir, name := split(p)
	if l, ok := s.get(dir); ok {
		l.mu.Lock()
		delete(l.byName, name)
		l.mu.Unlock()
	}
	s.touchDir(dir)
	c.InvalidateTree(cl, p)
}

// touchDir shows directory dir as modified now in its parent's cached
// listing (if cached): an entry of it was made, replaced or removed.
func (s *serverCache) touchDir(dir string) {
	if dir == "/" {
		return
	}
	parent, name := split(dir)
	if l, ok := s.get(parent); ok {
		l.mu.Lock()
		if e, ok := l.byName[name]; ok && e.Type == ftpclient.TypeDir {
			e.Mtime = time.Now()
			l.byName[name] = e
		}
		l.mu.Unlock()
	}
}

// Invalidate drops the cached listing of dir; the next lookup lists it again.
func (c *Cache) Invalidate(cl Lister, dir string) {
	s := c.server(cl)
	s.changed()
	if s.lru != nil {
		s.lru.Remove(dir)
	}
}

// InvalidateTree drops the cached listings of dir and of every directory below it.
func (c *Cache) InvalidateTree(cl Lister, dir string) {
	s := c.server(cl)
	s.changed()
	if s.lru == nil {
		return
	}
	prefix := strings.TrimSuffix(dir, "/") + "/"
	for _, k := range s.lru.Keys() {
		if k == dir || strings.HasPrefix(k, prefix) {
			s.lru.Remove(k)
		}
	}
}

// Purge drops everything cached for every server.
func (c *Cache) Purge() {
	c.mu.Lock()
	servers := make([]*serverCache, 0, len(c.servers))
	for _, s := range c.servers {
		servers = append(servers, s)
	}
	c.mu.Unlock()
	for _, s := range servers {
		s.changed()
		if s.lru != nil {
			s.lru.Purge()
		}
	}
}

// split returns the parent directory and base name of a clean absolute path.
func split(p string) (dir, name string) {
	dir, name = path.Split(p)
	return path.Clean(dir), name
}
