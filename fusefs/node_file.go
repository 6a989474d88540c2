package fusefs

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/fxpfs/fxpfs/ftpclient"
	"github.com/fxpfs/fxpfs/internal/vfs"
)

// fileNode is a regular file on a server. Its open state lives in vfs: vf
// is its vfs.File, which knows the open writers; fileNode implements
// vfs.Node so that vfs can find the file and notify the kernel.
type fileNode struct {
	node
	vf *vfs.File

	goneNote atomic.Pointer[chan struct{}] // a "gone" notification on its way to the kernel (Gone)

	mu        sync.Mutex
	pages     pageVersion   // what the kernel's cached pages hold (pagecache.go)
	notifying int           // NotifyContent calls under way
	notified  chan struct{} // closed when notifying drops to 0
}

// Path is the node's current path (vfs.Node).
func (f *fileNode) Path() (string, error) { return f.path() }

// Gone drops the node's entry from the kernel: vfs removed the file from
// the server behind the kernel's back (vfs.Node). The kernel takes the
// notification once the request under way lets it (see changed): Gone
// waits for that a little, and the close that follows (Flush) waits for it
// longer, so that when a failed copy's or upload's close returns, the file
// is gone from the mount.
func (f *fileNode) Gone() {
	var c change
	if name, parent := f.Parent(); parent != nil {
		c.goneFrom, c.goneName, c.notified = parent, name, make(chan struct{})
		f.goneNote.Store(&c.notified)
	}
	f.root.changed(f.srv, c)
	f.awaitGone(goneWaitInRequest)
}

// Bounds of the waits for a "gone" notification to be taken.
const (
	goneWaitInRequest = 100 * time.Millisecond // the request may hold a lock the kernel needs
	goneWaitAtClose   = 2 * time.Second        // FLUSH holds none
)

// awaitGone waits (at most d) until the kernel has taken the last "gone"
// notification of f, if one is pending.
func (f *fileNode) awaitGone(d time.Duration) {
	p := f.goneNote.Load()
	if p == nil {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-*p:
		f.goneNote.CompareAndSwap(p, nil)
	case <-t.C:
	}
}

// Changed tells the kernel that the node's attributes and cached pages are
// stale (vfs.Node).
func (f *fileNode) Changed() { f.root.changed(f.srv, change{content: f.EmbeddedInode()}) }

// Open returns a handle. Nothing is sent to the server: a reader's RETR
// starts with its first read, a writer's upload with its first write or at
// close.
func (f *fileNode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if flags&syscall.O_ACCMODE != syscall.O_RDONLY {
		if errno := f.root.writable(); errno != 0 {
			return nil, 0, errno
		}
	}
	h, err := f.vf.Open(ctx, int(flags))
	if err != nil {
		return nil, 0, f.root.errno(err)
	}
	return &fileHandle{h: h, root: f.root, node: f}, f.openFlags(ctx, h.Path(), flags), 0
}

// Getattr answers from the parent's cached listing, overlaid with what an
// open writer has written.
func (f *fileNode) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	p, err := f.path()
	if err != nil {
		if h, ok := fh.(*fileHandle); ok { // fstat of an unlinked open file
			p = h.h.Path()
		} else {
			return f.root.errno(err)
		}
	}
	e, err := f.root.cache.Lookup(ctx, f.srv.cl, p)
	if err != nil {
		_, open := fh.(*fileHandle)
		if !open && !f.vf.HasWriters() {
			return f.root.errno(err)
		}
		// fstat of a file still open (being written, or unlinked): what we know.
		e = ftpclient.Entry{Type: ftpclient.TypeFile}
	} else {
		f.observe(e)
	}
	f.vf.Overlay(&e)
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
		if h, ok := fh.(*fileHandle); ok && h.h.Writing() {
			err = h.h.Truncate(ctx, int64(size))
		} else {
			err = f.vf.Truncate(ctx, int64(size))
		}
		if err != nil {
			return f.root.errno(err)
		}
	}
	mtime, mode := metaOf(in)
	if f.vf.DeferMeta(mtime, mode) {
		// Deferred to an open writer's upload: show it now all the same.
		if mode != nil {
			perm := *mode
			f.root.changed(f.srv, change{update: p, fn: func(e *ftpclient.Entry) { e.Mode = perm }})
		}
		return f.Getattr(ctx, fh, out)
	}
	if errno := f.root.errno(f.root.vfs.SetMeta(ctx, f.srv.cl, p, mtime, mode)); errno != 0 {
		return errno
	}
	return f.Getattr(ctx, fh, out)
}

// metaOf returns the mtime and mode in (nil where not set).
func metaOf(in *fuse.SetAttrIn) (*time.Time, *os.FileMode) {
	var mtime *time.Time
	var mode *os.FileMode
	if t, ok := in.GetMTime(); ok {
		mtime = &t
	}
	if m, ok := in.GetMode(); ok {
		perm := os.FileMode(m).Perm()
		mode = &perm
	}
	return mtime, mode
}

// setMeta applies mtime and mode from in to p (see vfs.SetMeta).
func (r *Root) setMeta(ctx context.Context, srv *server, p string, in *fuse.SetAttrIn) syscall.Errno {
	mtime, mode := metaOf(in)
	return r.errno(r.vfs.SetMeta(ctx, srv.cl, p, mtime, mode))
}
