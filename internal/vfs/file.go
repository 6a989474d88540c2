package vfs

import (
	"context"
	"os"
	"sync"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// Node is what the VFS needs from the layer above for one file (fusefs's
// file node implements it): where the file is now, and how to tell the
// kernel about changes it did not make itself. Gone and Changed may wait
// for the kernel only briefly and bounded: they are called with the
// handle's locks held, while a kernel request may be under way.
type Node interface {
	// Path is the file's current mount path on its server (it may have
	// been renamed while open); an error once it was unlinked.
	Path() (string, error)
	// Gone: the file is no longer on the server (a failed upload was
	// removed); the mount must drop its entry.
	Gone()
	// Changed: the attributes or content the kernel holds are stale.
	Changed()
}

// File is one regular file of a server, as long as the layer above keeps
// it: it knows its open writers (for stat while writing, times and modes
// set on an open file, unlink and rename of an open file).
type File struct {
	v    *VFS
	cl   *ftpclient.Client
	node Node

	mu      sync.Mutex
	handles map[*Handle]struct{} // open handles
	writers map[*Handle]struct{} // those that may write
}

// NewFile returns the File of node n on cl's server.
func (v *VFS) NewFile(cl *ftpclient.Client, n Node) *File {
	v.clients.LoadOrStore(cl.Name(), cl)
	return &File{v: v, cl: cl, node: n}
}

// client returns the server named name, nil if no File of it was made.
func (v *VFS) client(name string) *ftpclient.Client {
	if c, ok := v.clients.Load(name); ok {
		return c.(*ftpclient.Client)
	}
	return nil
}

// Forget tells stream matching that p on cl's server was changed, renamed
// or removed through the mount: what was read of it proves nothing now.
func (v *VFS) Forget(cl *ftpclient.Client, p string) {
	if v.ix != nil {
		v.served.forget(cl.Name(), p)
		v.ix.Forget(cl.Name(), p)
	}
}

// Client is the file's server.
func (f *File) Client() *ftpclient.Client { return f.cl }

// addHandle and removeHandle track the open handles.
func (f *File) addHandle(h *Handle) {
	f.mu.Lock()
	if f.handles == nil {
		f.handles = make(map[*Handle]struct{})
		f.writers = make(map[*Handle]struct{})
	}
	f.handles[h] = struct{}{}
	if h.writing {
		f.writers[h] = struct{}{}
	}
	f.mu.Unlock()
}

func (f *File) removeHandle(h *Handle) {
	f.mu.Lock()
	delete(f.handles, h)
	delete(f.writers, h)
	f.mu.Unlock()
}

// DropReadAhead empties the read-ahead window of every open handle of f
// (its content changed): the next read of each starts a new RETR at its
// offset.
func (f *File) DropReadAhead() {
	f.mu.Lock()
	hs := make([]*Handle, 0, len(f.handles))
	for h := range f.handles {
		hs = append(hs, h)
	}
	f.mu.Unlock()
	for _, h := range hs {
		h.rd.close()
	}
}

// snapshotWriters returns the open writers.
func (f *File) snapshotWriters() []*Handle {
	f.mu.Lock()
	defer f.mu.Unlock()
	hs := make([]*Handle, 0, len(f.writers))
	for h := range f.writers {
		hs = append(hs, h)
	}
	return hs
}

// HasWriters reports whether the file has open handles that may write.
func (f *File) HasWriters() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.writers) > 0
}

// Overlay replaces size and mtime in e with those of a writer that has
// changed the file, so the kernel never sees a file shrink under its writes.
func (f *File) Overlay(e *ftpclient.Entry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for h := range f.writers {
		if size, mtime, ok := h.written(); ok {
			e.Size, e.Mtime = size, mtime
		}
	}
}

// DeferMeta hands mtime/mode (nil: not set) to writers that have not
// finished uploading (cp -p sets them on the open descriptor before close),
// to be applied after the upload, and reports whether any took them: the
// caller then has nothing to send to the server now.
func (f *File) DeferMeta(mtime *time.Time, mode *os.FileMode) bool {
	if mtime == nil && mode == nil {
		return true // nothing else to do (uid/gid, atime)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	deferred := false
	for h := range f.writers {
		if h.setPendingMeta(mtime, mode) {
			deferred = true
		}
	}
	return deferred
}

// Discard makes open writers drop their data (the file is being unlinked)
// and reports whether the file exists only in such writers (created
// through the mount and never uploaded).
func (f *File) Discard() (pendingOnly bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for h := range f.writers {
		if h.discard() {
			pendingOnly = true
		}
	}
	return pendingOnly
}

// FlushWriters uploads what open writers of f hold (before a rename: RNFR
// needs the file on the server).
func (f *File) FlushWriters(ctx context.Context) error {
	for _, h := range f.snapshotWriters() {
		if err := h.Fsync(ctx); err != nil {
			return err
		}
	}
	return nil
}

// hasPendingWriters reports whether any open writer of f holds data the
// server lacks.
func (f *File) hasPendingWriters() bool {
	for _, h := range f.snapshotWriters() {
		if h.hasLocalChanges() {
			return true
		}
	}
	return false
}

// Truncate is truncate(2) by path: a short-lived writer does it.
func (f *File) Truncate(ctx context.Context, size int64) error {
	p, err := f.node.Path()
	if err != nil {
		return err
	}
	e, err := f.v.cache.Lookup(ctx, f.cl, p)
	if err != nil {
		return err
	}
	if e.Size == size {
		return nil
	}
	h := f.newHandle(p, os.O_WRONLY, false)
	h.base, h.existed, h.origMode = e.Size, true, e.Mode
	defer h.Release(ctx)
	if err := h.Truncate(ctx, size); err != nil {
		return err
	}
	return h.Flush(ctx)
}

// path returns the file's current path, else fallback (where it was opened).
func (f *File) path(fallback string) string {
	if p, err := f.node.Path(); err == nil {
		return p
	}
	return fallback
}
