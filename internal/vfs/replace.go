package vfs

import (
	"context"
	"fmt"
	"log/slog"
	"path"
	"sync"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// Replacing a file that exists: the server-side mechanics (temporary
// names, renaming over the original or by way of a backup name, the
// per-server memory of which way works) are ftpclient's (its replace.go).
// What is the mount's: an upload over an existing file goes to a temporary
// (ftpclient.TempName), renamed over the original by replace only once
// complete, and the temporaries in flight (the upload's, and an original's
// backup name while Replace has it aside) are hidden from the mount's
// listings and lookups, so that a reader or rsync never sees a
// half-written file twice; leftovers of a crash are not in flight and
// show, so that the user can see and remove them.

// inflight is the set of temporary paths this mount is writing.
type inflight struct {
	mu    sync.Mutex
	paths map[*ftpclient.Client]map[string]struct{}
}

func (f *inflight) add(cl *ftpclient.Client, p string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.paths == nil {
		f.paths = map[*ftpclient.Client]map[string]struct{}{}
	}
	if f.paths[cl] == nil {
		f.paths[cl] = map[string]struct{}{}
	}
	f.paths[cl][p] = struct{}{}
}

func (f *inflight) remove(cl *ftpclient.Client, p string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.paths[cl], p)
}

func (f *inflight) has(cl *ftpclient.Client, p string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.paths[cl][p]
	return ok
}

// List lists dir from the cache, without the temporaries in flight.
func (v *VFS) List(ctx context.Context, cl *ftpclient.Client, dir string) ([]ftpclient.Entry, error) {
	ents, err := v.cache.List(ctx, cl, dir)
	if err != nil {
		return nil, err
	}
	var out []ftpclient.Entry
	for i, e := range ents {
		if ftpclient.IsTempName(e.Name) && v.temps.has(cl, path.Join(dir, e.Name)) {
			if out == nil {
				out = append(make([]ftpclient.Entry, 0, len(ents)), ents[:i]...)
			}
			continue
		}
		if out != nil {
			out = append(out, e)
		}
	}
	if out == nil {
		return ents, nil
	}
	return out, nil
}

// Lookup is the cache's entry of p; a temporary in flight is not found.
func (v *VFS) Lookup(ctx context.Context, cl *ftpclient.Client, p string) (ftpclient.Entry, error) {
	if ftpclient.IsTempName(path.Base(p)) && v.temps.has(cl, p) {
		return ftpclient.Entry{}, fmt.Errorf("%s: %w", p, ftpclient.ErrNotFound)
	}
	return v.cache.Lookup(ctx, cl, p)
}

// newTemp reserves a temporary upload path next to p (hidden until dropTemp).
func (v *VFS) newTemp(cl *ftpclient.Client, p string, dot bool) string {
	return v.reserve(cl, ftpclient.TempName(p, dot))
}

// reserve hides temporary path t until dropTemp.
func (v *VFS) reserve(cl *ftpclient.Client, t string) string {
	v.temps.add(cl, t)
	return t
}

// dropTemp forgets temporary t, removing it from the server when remove is
// set, and from the cache (a listing made meanwhile may hold it).
func (v *VFS) dropTemp(ctx context.Context, cl *ftpclient.Client, t string, remove bool) {
	if remove {
		v.removeLeftover(ctx, cl, t, "a temporary upload", slog.LevelWarn)
	} else {
		v.cache.Remove(cl, t)
	}
	v.temps.remove(cl, t)
}

// replace renames the complete upload tmp over p (ftpclient.Replace),
// hiding an original kept aside meanwhile.
func (v *VFS) replace(ctx context.Context, cl *ftpclient.Client, tmp, p string) error {
	t0 := time.Now()
	way, err := cl.Replace(ctx, tmp, p, func(backup string) func() {
		v.reserve(cl, backup)
		return func() { v.dropTemp(ctx, cl, backup, false) }
	})
	if err == nil && way == ftpclient.ReplacedByRename {
		v.link(cl).roundTrip(time.Since(t0) / 2) // RNFR, RNTO
	}
	return err
}
