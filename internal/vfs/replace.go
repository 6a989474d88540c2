package vfs

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// Replacing a file that exists. An upload over an existing file goes to a
// temporary name in the same directory, and only a complete upload is
// renamed over the original (RNFR/RNTO): a failed upload removes the
// temporary and the original is untouched, on the server and in the mount.
//
// Where the server refuses to rename onto an existing file (some Windows
// servers), the original is first renamed to a backup name, the upload
// renamed into place and the backup deleted; if the second rename fails the
// backup is renamed back. The server is remembered so that later replaces
// go straight to the backup way. Between the two renames (milliseconds) a
// crash would leave the original under its backup name: a visible
// ".fxpfs-XXXXXXXXXX.orig" next to the upload's ".fxpfs-XXXXXXXXXX.part".
//
// Temporary names (".fxpfs-" + 10 random characters + ".part" or ".orig")
// are hidden from the mount's listings while this mount has them in flight
// (so a reader or rsync never sees a half-written file twice); leftovers of
// a crash are not in flight and show, so that the user can see and remove
// them.

// tempPrefix starts every temporary name (after a dot, unless the server
// refuses to write dot files).
const tempPrefix = "fxpfs-"

// Suffixes of temporary names: an upload, and an original kept aside.
const (
	partSuffix = ".part"
	origSuffix = ".orig"
)

// tempName returns a new temporary name in directory dir.
func tempName(dir, suffix string, dot bool) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 10)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	name := tempPrefix + string(b) + suffix
	if dot {
		name = "." + name
	}
	return path.Join(dir, name)
}

// IsTempName reports whether name has the form of a temporary name.
func IsTempName(name string) bool {
	name = strings.TrimPrefix(name, ".")
	return strings.HasPrefix(name, tempPrefix) && (strings.HasSuffix(name, partSuffix) || strings.HasSuffix(name, origSuffix))
}

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
		if IsTempName(e.Name) && v.temps.has(cl, path.Join(dir, e.Name)) {
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
	if IsTempName(path.Base(p)) && v.temps.has(cl, p) {
		return ftpclient.Entry{}, fmt.Errorf("%s: %w", p, ftpclient.ErrNotFound)
	}
	return v.cache.Lookup(ctx, cl, p)
}

// newTemp reserves a temporary upload path next to p (hidden until dropTemp).
func (v *VFS) newTemp(cl *ftpclient.Client, p string, dot bool) string {
	return v.reserve(cl, tempName(path.Dir(p), partSuffix, dot))
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
		cctx, cancel := cleanupCtx(ctx)
		if err := cl.Remove(cctx, t); err != nil && !errors.Is(err, ftpclient.ErrNotFound) {
			v.log.Warn("could not remove a temporary upload", "server", cl.Name(), "path", t, "err", err)
		}
		cancel()
	}
	v.cache.Remove(cl, t)
	v.temps.remove(cl, t)
}

// replace renames the complete upload tmp over p (see the top of this file).
func (v *VFS) replace(ctx context.Context, cl *ftpclient.Client, tmp, p string) error {
	if _, refuses := v.noRenameOver.Load(cl); !refuses {
		t0 := time.Now()
		err := cl.Rename(ctx, tmp, p)
		if err == nil {
			v.link(cl).roundTrip(time.Since(t0) / 2) // RNFR, RNTO
		}
		if err == nil || ctx.Err() != nil {
			return err
		}
		// Refused: because p exists (a server that never renames onto a
		// file), or for another reason (then the backup way fails too).
		if _, serr := cl.Size(ctx, p); serr != nil {
			return err
		}
		v.noRenameOver.Store(cl, true)
		v.log.Info("server refuses to rename onto an existing file: replacing by way of a backup name",
			"server", cl.Name(), "path", p, "err", err)
	}
	backup := v.reserve(cl, tempName(path.Dir(p), origSuffix, !strings.HasPrefix(path.Base(tmp), tempPrefix)))
	defer v.dropTemp(ctx, cl, backup, false)
	if err := cl.Rename(ctx, p, backup); err != nil {
		if errors.Is(err, ftpclient.ErrNotFound) {
			return cl.Rename(ctx, tmp, p) // nothing to replace
		}
		return fmt.Errorf("keep the original aside: %w", err)
	}
	v.log.Debug("original kept aside while replacing", "server", cl.Name(), "path", p, "backup", backup)
	if err := cl.Rename(ctx, tmp, p); err != nil {
		cctx, cancel := cleanupCtx(ctx)
		defer cancel()
		if rerr := cl.Rename(cctx, backup, p); rerr != nil {
			v.log.Error("could not put the original back: it is under its backup name",
				"server", cl.Name(), "path", p, "backup", backup, "err", rerr)
			return fmt.Errorf("%w (the original is at %s: %v)", err, backup, rerr)
		}
		return err
	}
	cctx, cancel := cleanupCtx(ctx)
	defer cancel()
	if err := cl.Remove(cctx, backup); err != nil {
		v.log.Warn("replaced, but the original's backup could not be removed", "server", cl.Name(),
			"path", p, "backup", backup, "err", err)
	}
	return nil
}
