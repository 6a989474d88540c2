package fusefs

import (
	"context"
	"errors"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// fileNode is a regular file on a server.
type fileNode struct {
	node

	mu      sync.Mutex
	writers map[*fileHandle]struct{} // open handles that may write
	handles map[*fileHandle]struct{} // open handles
	pages   pageVersion              // what the kernel's cached pages hold (pagecache.go)
}

// Open returns a handle. Nothing is sent to the server: a reader's RETR
// starts with its first read, a writer's upload with its first write or at
// close.
func (f *fileNode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if flags&syscall.O_ACCMODE != syscall.O_RDONLY {
		if errno := f.root.writable(); errno != 0 {
			return nil, 0, errno
		}
	}
	p, err := f.path()
	if err != nil {
		return nil, 0, f.root.errno(err)
	}
	h := newHandle(f, p, flags, false)
	if h.writing && !h.truncated() {
		e, err := f.root.cache.Lookup(ctx, f.srv.cl, p)
		if err != nil {
			h.Release(ctx)
			return nil, 0, f.root.errno(err)
		}
		h.base = e.Size
	}
	return h, f.openFlags(ctx, p, flags), 0
}

// Getattr answers from the parent's cached listing, overlaid with what an
// open writer has written.
func (f *fileNode) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	p, err := f.path()
	if err != nil {
		if h, ok := fh.(*fileHandle); ok { // fstat of an unlinked open file
			p = h.path
		} else {
			return f.root.errno(err)
		}
	}
	e, err := f.root.cache.Lookup(ctx, f.srv.cl, p)
	if err != nil {
		_, open := fh.(*fileHandle)
		if !open && !f.hasWriters() {
			return f.root.errno(err)
		}
		// fstat of a file still open (being written, or unlinked): what we know.
		e = ftpclient.Entry{Type: ftpclient.TypeFile}
	} else {
		f.observe(e)
	}
	f.overlay(&e)
	f.root.fillAttr(f.EmbeddedInode(), e, &out.Attr)
	out.SetTimeout(f.root.timeout(f.srv, parentDir(p)))
	return 0
}

// Setattr: size truncates (through the handle when given), mtime and mode
// go to the server (or are kept in the cache where it cannot), uid/gid are
// accepted and ignored. On a file still being written, mtime and mode are
// applied after its upload.
func (f *fileNode) Setattr(ctx context.Context, fh fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if errno := f.root.writable(); errno != 0 {
		return errno
	}
	p, err := f.path()
	if err != nil {
		return f.root.errno(err)
	}
	ctx = context.WithoutCancel(ctx)
	if size, ok := in.GetSize(); ok {
		var errno syscall.Errno
		if h, ok := fh.(*fileHandle); ok && h.writing {
			errno = h.truncate(ctx, int64(size))
		} else {
			errno = f.truncatePath(ctx, p, int64(size))
		}
		if errno != 0 {
			return errno
		}
	}
	if f.metaDone(in) {
		// Deferred to an open writer's upload: show it now all the same.
		if m, ok := in.GetMode(); ok {
			perm := os.FileMode(m).Perm()
			f.root.changed(f.srv, change{update: p, fn: func(e *ftpclient.Entry) { e.Mode = perm }})
		}
		return f.Getattr(ctx, fh, out)
	}
	if errno := f.root.setMeta(ctx, f.srv, p, in); errno != 0 {
		return errno
	}
	return f.Getattr(ctx, fh, out)
}

// setMeta applies mtime and mode from in to p. Where the server cannot
// (ErrUnsupported), the call succeeds and the value is kept in the cache.
func (r *Root) setMeta(ctx context.Context, srv *server, p string, in *fuse.SetAttrIn) syscall.Errno {
	var mtime *time.Time
	var mode *os.FileMode
	if t, ok := in.GetMTime(); ok {
		mtime = &t
	}
	if m, ok := in.GetMode(); ok {
		perm := os.FileMode(m).Perm()
		mode = &perm
	}
	return r.applyMeta(ctx, srv, p, mtime, mode)
}

// applyMeta sets mtime and/or mode (either may be nil) on p and in the cache.
func (r *Root) applyMeta(ctx context.Context, srv *server, p string, mtime *time.Time, mode *os.FileMode) syscall.Errno {
	if mtime != nil {
		t := *mtime
		if err := srv.cl.SetModTime(ctx, p, t); err != nil && !errors.Is(err, ftpclient.ErrUnsupported) {
			return r.errno(err)
		}
		r.changed(srv, change{update: p, fn: func(e *ftpclient.Entry) { e.Mtime = t }})
	}
	if mode != nil {
		m := *mode
		if err := srv.cl.Chmod(ctx, p, m); err != nil && !errors.Is(err, ftpclient.ErrUnsupported) {
			return r.errno(err)
		}
		r.changed(srv, change{update: p, fn: func(e *ftpclient.Entry) { e.Mode = m }})
	}
	return 0
}

// truncatePath is truncate(2) by path: a short-lived writer does it.
func (f *fileNode) truncatePath(ctx context.Context, p string, size int64) syscall.Errno {
	e, err := f.root.cache.Lookup(ctx, f.srv.cl, p)
	if err != nil {
		return f.root.errno(err)
	}
	if e.Size == size {
		return 0
	}
	h := newHandle(f, p, syscall.O_WRONLY, false)
	h.base = e.Size
	defer h.Release(ctx)
	if errno := h.truncate(ctx, size); errno != 0 {
		return errno
	}
	return h.Flush(ctx)
}

// metaDone hands mtime/mode to writers that have not finished uploading
// (cp -p sets them on the open descriptor before close), to be applied
// after the upload, and reports whether nothing is left to do now.
func (f *fileNode) metaDone(in *fuse.SetAttrIn) bool {
	t, hasT := in.GetMTime()
	m, hasM := in.GetMode()
	if !hasT && !hasM {
		return true // nothing else to do (uid/gid, atime)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	deferred := false
	for h := range f.writers {
		if h.setPendingMeta(hasT, t, hasM, os.FileMode(m).Perm()) {
			deferred = true
		}
	}
	return deferred
}

// addWriter and removeWriter track the handles that may write.
func (f *fileNode) addWriter(h *fileHandle) {
	f.mu.Lock()
	if f.writers == nil {
		f.writers = make(map[*fileHandle]struct{})
	}
	f.writers[h] = struct{}{}
	f.mu.Unlock()
}

func (f *fileNode) removeWriter(h *fileHandle) {
	f.mu.Lock()
	delete(f.writers, h)
	f.mu.Unlock()
}

func (f *fileNode) hasWriters() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.writers) > 0
}

// overlay replaces size and mtime in e with those of a writer that has
// changed the file, so the kernel never sees a file shrink under its writes.
func (f *fileNode) overlay(e *ftpclient.Entry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for h := range f.writers {
		if size, mtime, ok := h.written(); ok {
			e.Size, e.Mtime = size, mtime
		}
	}
}

// discardWriters makes open writers drop their data (the file is being
// unlinked) and reports whether the file exists only in such writers (it
// was created through the mount and never uploaded).
func (f *fileNode) discardWriters() (pendingOnly bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for h := range f.writers {
		if h.discard() {
			pendingOnly = true
		}
	}
	return pendingOnly
}

// flushWriters uploads what open writers of f hold.
func (f *fileNode) flushWriters(ctx context.Context) syscall.Errno {
	f.mu.Lock()
	hs := make([]*fileHandle, 0, len(f.writers))
	for h := range f.writers {
		hs = append(hs, h)
	}
	f.mu.Unlock()
	for _, h := range hs {
		if errno := h.Flush(ctx); errno != 0 {
			return errno
		}
	}
	return 0
}
