package fusefs

import (
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// change describes one change made through the mount. Fields left zero do nothing.
type change struct {
	remove string // path removed: its entry and every listing at or below it go

	put   string          // path created or replaced...
	entry ftpclient.Entry // ...with this entry

	update string                 // path whose cached entry changes...
	fn     func(*ftpclient.Entry) // ...by fn (no-op when not cached)

	// Kernel notifications, for changes the kernel did not make itself (an
	// upload that failed and was removed, a copy done by fxpcopy). Changes
	// that arrive as FUSE requests (create, unlink, rename, ...) are already
	// known to the kernel and need none.
	goneFrom *fs.Inode // directory whose entry goneName vanished
	goneName string
	notified chan struct{} // if set, closed once the kernel has taken goneFrom's notification
	content  *fs.Inode     // file whose content changed: its attributes and cached pages are dropped
}

// changed is the one place where a change made through the mount updates
// the listing cache and, where needed, the kernel. Removals and renames bump
// the inode epoch (see stableAttr).
func (r *Root) changed(srv *server, c change) {
	if c.remove != "" {
		r.epoch.Add(1)
		r.vfs.Removed(srv.cl, c.remove)
	}
	if c.put != "" {
		r.vfs.Put(srv.cl, c.put, c.entry)
	}
	if c.update != "" {
		r.cache.Update(srv.cl, c.update, c.fn)
	}
	if c.goneFrom != nil {
		r.epoch.Add(1)
		dir, name := c.goneFrom, c.goneName
		// Asynchronous: the kernel may still hold the directory's (or the
		// file's) lock for the request that led here, and takes the
		// notification only once it is answered; notifying from inside it
		// would deadlock. Callers that must not answer before the kernel
		// has forgotten the entry wait on notified (fileNode.Gone).
		done := c.notified
		if ch := dir.GetChild(name); ch != nil {
			dir.RmChild(name)
			go func() {
				dir.NotifyDelete(name, ch)
				if done != nil {
					close(done)
				}
			}()
		} else {
			go func() {
				dir.NotifyEntry(name)
				if done != nil {
					close(done)
				}
			}()
		}
	}
	if c.content != nil {
		n := c.content
		f, _ := n.Operations().(*fileNode)
		if f != nil {
			f.contentChanged()
			f.notifyStart()
		}
		// Asynchronous: the kernel may hold a page of the file locked
		// for the request that led here (a write), which dropping the
		// pages would wait for. The next open of the file waits for it
		// (pagecache.go), so that it cannot drop pages read after it.
		go func() {
			n.NotifyContent(0, 0)
			if f != nil {
				f.notifyEnd()
			}
		}()
	}
}

// moved is the answer to an operation below fusefs that removed or renamed
// entries (and recorded it in the cache itself) and returned err: on
// success the inode epoch is bumped (see stableAttr).
func (r *Root) moved(err error) syscall.Errno {
	if err != nil {
		return r.errno(err)
	}
	r.epoch.Add(1)
	return 0
}
