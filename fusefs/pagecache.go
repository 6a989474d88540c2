package fusefs

import (
	"context"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// The kernel page cache.
//
// By default a file opened read-only is read through the kernel's page
// cache: the kernel reads ahead (128 KiB requests, several in flight), so
// small read(2)s cost no request each, and a second read of an unchanged
// file is served from memory without any FTP command. What "unchanged"
// means is all FTP can tell: the same size and mtime in the listing, and
// nothing written through the mount since the pages were read. The rules:
//
//   - open(O_RDONLY) keeps the cached pages (FOPEN_KEEP_CACHE) when the
//     listing shows the size and mtime the file had at the previous open,
//     and the mount has not written it since; otherwise the kernel drops
//     them. A file whose listing gives no mtime is never kept across opens.
//   - while a file is open, the kernel compares size and mtime whenever it
//     refreshes the attributes (after the listing TTL) and drops the pages
//     if they changed (FUSE auto_inval_data).
//   - every change of a file's content made through the mount (an upload,
//     a failed upload, a server-to-server copy onto it) drops its pages at
//     once (NotifyContent), also those of other open descriptors and
//     mmaps, and the next open does not keep the cache.
//   - while the mount is writing a file, read-only opens of it use direct
//     I/O: they read what the server has, never a page cached before.
//
// Options.DirectIO (fxpfs mount --direct-io) turns this off: read-only
// handles then use direct I/O (each read(2) goes to the daemon whole; no
// read-ahead, no cache; mmap still works through DIRECT_IO_ALLOW_MMAP),
// and a read may see data past the size the listing gave (a file growing
// on the server: a read at or past the end a descriptor last saw asks the
// server again, one RETR at that offset, so the descriptor reads what was
// appended without being reopened). Write-only handles always use direct I/O: the mount has
// no writeback cache, so copying written pages into the cache first would
// only cost a copy. O_RDWR handles use the page cache and never keep it
// across opens.

// pageVersion is the version of a file that the kernel's cached pages and
// the read-ahead windows of its open handles hold.
type pageVersion struct {
	ok    bool // size and mtime are known
	size  int64
	mtime time.Time
	stale bool // the mount changed the file since: drop the pages at the next open
}

// same reports whether listing entry e shows the version v.
func (v pageVersion) same(e ftpclient.Entry) bool {
	return v.ok && v.size == e.Size && v.mtime.Equal(e.Mtime)
}

// openFlags returns the FUSE open flags for a handle of f at p opened with
// flags (see the rules above).
func (f *fileNode) openFlags(ctx context.Context, p string, flags uint32) uint32 {
	switch flags & syscall.O_ACCMODE {
	case syscall.O_WRONLY:
		return fuse.FOPEN_DIRECT_IO
	case syscall.O_RDWR:
		f.contentChanged()
		return 0
	}
	if f.root.opts.DirectIO || f.vf.HasWriters() {
		return fuse.FOPEN_DIRECT_IO
	}
	f.notifyWait(notifyWait)
	e, err := f.root.cache.Lookup(ctx, f.srv.cl, p)
	if err != nil {
		// The open goes ahead (the read will say what is wrong); the
		// kernel drops what it had.
		f.contentChanged()
		return 0
	}
	if f.keepPages(e) {
		f.root.keptOpens.Add(1)
		return fuse.FOPEN_KEEP_CACHE
	}
	return 0
}

// notifyWait bounds how long an open waits for the kernel to drop a file's
// pages after a change (changed): an open that came first would have its
// freshly read pages dropped again.
const notifyWait = 2 * time.Second

// notifyStart, notifyEnd and notifyWait track the NotifyContent calls of f.
func (f *fileNode) notifyStart() {
	f.mu.Lock()
	if f.notifying == 0 {
		f.notified = make(chan struct{})
	}
	f.notifying++
	f.mu.Unlock()
}

func (f *fileNode) notifyEnd() {
	f.mu.Lock()
	f.notifying--
	if f.notifying == 0 {
		close(f.notified)
	}
	f.mu.Unlock()
}

func (f *fileNode) notifyWait(d time.Duration) {
	f.mu.Lock()
	n, ch := f.notifying, f.notified
	f.mu.Unlock()
	if n == 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	}
}

// createFlags returns the FUSE open flags for a file created with flags:
// a new file has no pages to keep.
func createFlags(flags uint32) uint32 {
	if flags&syscall.O_ACCMODE == syscall.O_RDWR {
		return 0
	}
	return fuse.FOPEN_DIRECT_IO
}

// keepPages reports whether the cached pages still hold the version entry
// e shows; if not, the open drops them, and e is what they will hold next.
// A file whose listing gives no mtime is never kept.
func (f *fileNode) keepPages(e ftpclient.Entry) bool {
	f.observe(e)
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.pages.stale && !e.Mtime.IsZero() && f.pages.same(e) {
		return true
	}
	f.pages = pageVersion{ok: true, size: e.Size, mtime: e.Mtime}
	return false
}

// observe is called with every listing entry of f the kernel is told
// about (lookup, getattr, open). When it shows another version than the
// one read so far, the kernel drops its pages by itself (auto_inval_data);
// the read-ahead windows of f's open handles are dropped here, so that the
// kernel's next reads fetch the new content. Not while the mount writes f
// (the listing then lags behind the writer).
func (f *fileNode) observe(e ftpclient.Entry) {
	writing := f.vf.HasWriters()
	f.mu.Lock()
	changed := !writing && f.pages.ok && !f.pages.same(e)
	if changed {
		f.pages.stale = true
	}
	f.mu.Unlock()
	if changed {
		f.dropWindows()
	}
}

// contentChanged is called when the mount changed f's content: the next
// open drops the kernel's pages and the open handles' read-ahead windows
// go now. (The caller tells the kernel to drop the pages now, see changed.)
func (f *fileNode) contentChanged() {
	f.mu.Lock()
	f.pages.stale = true
	f.mu.Unlock()
	f.dropWindows()
}

// dropWindows empties the read-ahead window of every open handle of f: the
// next read of each starts a new RETR at its offset.
func (f *fileNode) dropWindows() { f.vf.DropReadAhead() }
