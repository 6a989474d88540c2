package fusefs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// Writes. All functions here run with wmu held.
//
// A file written from offset 0 upwards (new, or truncated by O_TRUNC or
// ftruncate(0)) streams straight into one STOR: no temp file. Writes at
// the end of an existing file (O_APPEND, or after an fsync) stream into
// APPE. Anything else (a write elsewhere, truncate to a non-zero size, a
// read of data this handle wrote) moves the file into a local spool (the
// server's current content is downloaded first) that is uploaded by STOR at
// the next flush.

// write writes data at off.
func (h *fileHandle) write(data []byte, off int64) (int, syscall.Errno) {
	h.fxp = nil
	if h.isDiscarded() { // unlinked while open: the data goes nowhere
		if h.up != nil {
			_ = h.up.Abort()
			h.up = nil
		}
		return len(data), 0
	}
	if h.ws == wNone {
		if off == h.base {
			h.ws, h.wpos = wStream, h.base // appending to the server's file
		} else if err := h.toSpool(); err != nil {
			return 0, h.failLocked(err)
		}
	}
	if h.ws == wStream && off != h.wpos {
		if err := h.toSpool(); err != nil {
			return 0, h.failLocked(err)
		}
	}
	if h.ws == wSpool {
		n, err := h.spool.WriteAt(data, off)
		if end := off + int64(n); end > h.ssize {
			h.ssize = end
		}
		h.dirty = true
		if err != nil {
			return n, h.root.errno(fmt.Errorf("spool %s: %w", h.path, err))
		}
		return n, 0
	}
	if h.up == nil {
		mode := ftpclient.WriteTruncate
		if h.wpos > 0 {
			mode = ftpclient.WriteAppend // APPE takes no offset
		}
		up, err := h.srv.cl.OpenWrite(h.ctx, h.currentPath(), 0, mode)
		if errors.Is(err, ftpclient.ErrUnsupported) && mode == ftpclient.WriteAppend {
			// No APPE: download, and rewrite the whole file at flush.
			if err := h.toSpool(); err != nil {
				return 0, h.failLocked(err)
			}
			return h.write(data, off)
		}
		if err != nil {
			return 0, h.failLocked(err)
		}
		h.markOpened()
		h.up = up
	}
	n, err := h.up.Write(data)
	h.wpos += int64(n)
	h.dirty = true
	if err != nil {
		return n, h.failLocked(err)
	}
	return n, 0
}

// toSpool moves the file into a local temp file, downloading what the
// server has of it. The read stream, if any, stops.
func (h *fileHandle) toSpool() error {
	if h.ws == wSpool {
		return nil
	}
	h.rd.close()
	var have int64 // bytes of the file the server has
	switch h.ws {
	case wNone:
		have = h.base
	case wStream:
		if h.up != nil {
			err := h.up.Close()
			h.up = nil
			if err != nil {
				return fmt.Errorf("upload %s: %w", h.path, err)
			}
		}
		have = h.wpos
	}
	f, err := os.CreateTemp(h.root.opts.TempDir, "fxpfs-spool-*")
	if err != nil {
		return fmt.Errorf("spool for %s: %w", h.path, err)
	}
	h.root.spools.Add(1)
	_ = os.Remove(f.Name()) // unnamed: gone when closed, whatever happens
	if have > 0 {
		rc, err := h.srv.cl.OpenRead(h.ctx, h.currentPath(), 0)
		if err != nil {
			f.Close()
			return err
		}
		n, err := io.Copy(f, rc)
		cerr := rc.Close()
		if err == nil {
			err = cerr
		}
		if err != nil {
			f.Close()
			return fmt.Errorf("download %s for rewriting: %w", h.path, err)
		}
		have = n
	}
	h.spool, h.ssize, h.ws = f, have, wSpool
	return nil
}

// truncateLocked sets the size: 0 restarts an empty file (streamable
// again); other sizes go through the spool.
func (h *fileHandle) truncateLocked(size int64) syscall.Errno {
	h.fxp = nil
	if size == 0 && h.ws != wSpool {
		if h.up != nil {
			_ = h.up.Abort()
			h.up = nil
		}
		h.ws, h.wpos, h.dirty = wStream, 0, true
		return 0
	}
	switch h.ws {
	case wNone:
		if size == h.base {
			return 0
		}
	case wStream:
		if size == h.wpos {
			return 0
		}
	}
	if err := h.toSpool(); err != nil {
		return h.failLocked(err)
	}
	if err := h.spool.Truncate(size); err != nil {
		return h.root.errno(fmt.Errorf("spool %s: %w", h.path, err))
	}
	h.ssize, h.dirty = size, true
	return 0
}

// flushLocked sends what the server lacks, then mtime/mode set meanwhile,
// and updates the cache. A failure removes the partial file and is EIO.
func (h *fileHandle) flushLocked() syscall.Errno {
	if h.werr != nil {
		return syscall.EIO
	}
	if h.isDiscarded() {
		if h.up != nil {
			_ = h.up.Abort()
			h.up = nil
		}
		h.dirty = false
		h.syncOverlay()
		return 0
	}
	if !h.dirty && h.up == nil {
		// Nothing to upload (the file is on the server already, e.g. after
		// a kernel copy), but cp -p / touch may have set times or mode on
		// this open file meanwhile.
		if mtime, mode := h.takePendingMeta(); mtime != nil || mode != nil {
			return h.root.applyMeta(h.ctx, h.srv, h.currentPath(), mtime, mode)
		}
		return 0
	}
	p := h.currentPath()
	var err error
	switch h.ws {
	case wStream:
		if h.up == nil && h.wpos == 0 { // truncated and nothing written: an empty file
			h.up, err = h.srv.cl.OpenWrite(h.ctx, p, 0, ftpclient.WriteTruncate)
			if err == nil {
				h.markOpened()
			}
		}
		if err == nil && h.up != nil {
			err = h.up.Close()
		}
		h.up = nil
	case wSpool:
		err = h.uploadSpool(p)
	}
	if err != nil {
		h.failLocked(err)
		return syscall.EIO // what close(2) reports for any failed upload
	}
	h.dirty = false
	size := h.wpos
	if h.ws == wSpool {
		size = h.ssize
	}
	h.syncOverlay()
	mtime, mode := h.takePendingMeta()
	now := time.Now()
	if mtime == nil {
		mtime = &now
	} else if err := h.srv.cl.SetModTime(h.ctx, p, *mtime); err != nil && !errors.Is(err, ftpclient.ErrUnsupported) {
		h.root.log.Warn("set mtime after upload", "server", h.srv.name, "path", p, "err", err)
	}
	if mode != nil {
		if err := h.srv.cl.Chmod(h.ctx, p, *mode); err != nil && !errors.Is(err, ftpclient.ErrUnsupported) {
			h.root.log.Warn("chmod after upload", "server", h.srv.name, "path", p, "err", err)
		}
	}
	h.omu.Lock()
	h.ovMtime = *mtime
	h.omu.Unlock()
	h.root.changed(h.srv, change{update: p, fn: func(e *ftpclient.Entry) {
		e.Type, e.Size, e.Mtime = ftpclient.TypeFile, size, *mtime
		if mode != nil {
			e.Mode = *mode
		}
	}, content: h.node.EmbeddedInode()})
	return 0
}

// uploadSpool replaces the server's file with the spool (STOR).
func (h *fileHandle) uploadSpool(p string) error {
	up, err := h.srv.cl.OpenWrite(h.ctx, p, 0, ftpclient.WriteTruncate)
	if err != nil {
		return err
	}
	h.markOpened()
	if _, err := io.Copy(up, io.NewSectionReader(h.spool, 0, h.ssize)); err != nil {
		_ = up.Abort()
		return fmt.Errorf("upload %s: %w", p, err)
	}
	return up.Close()
}

// failLocked makes err sticky, aborts the upload and removes the partial
// file so that nothing looks complete; the cache and the kernel forget it.
func (h *fileHandle) failLocked(err error) syscall.Errno {
	errno := h.root.errno(err)
	if errno == syscall.EINTR || errno == syscall.EBADF {
		errno = syscall.EIO
	}
	if h.werr != nil {
		return syscall.EIO
	}
	h.werr = err
	h.root.log.Error("upload failed", "server", h.srv.name, "path", h.path, "err", err)
	if h.up != nil {
		_ = h.up.Abort()
		h.up = nil
	}
	p := h.currentPath()
	switch {
	case h.isOpened() || h.created:
		// The server's file is partial (an upload had started), or never
		// existed (created here, refused at once): remove it.
		if h.isOpened() {
			if rerr := h.srv.cl.Remove(h.ctx, p); rerr != nil && !errors.Is(rerr, ftpclient.ErrNotFound) {
				h.root.log.Error("removing partial upload", "server", h.srv.name, "path", p, "err", rerr)
			}
		}
		c := change{remove: p}
		if name, parent := h.node.Parent(); parent != nil {
			c.goneFrom, c.goneName = parent, name
		}
		h.root.changed(h.srv, c)
	default:
		// The server refused before anything was written: its file is as it
		// was. Keep it, and let the kernel drop what this handle showed.
		h.root.changed(h.srv, change{content: h.node.EmbeddedInode()})
	}
	h.omu.Lock()
	h.pending, h.ovOK = false, false
	h.omu.Unlock()
	return errno
}

func (h *fileHandle) markOpened() {
	h.omu.Lock()
	h.opened = true
	h.omu.Unlock()
}

func (h *fileHandle) isOpened() bool {
	h.omu.Lock()
	defer h.omu.Unlock()
	return h.opened
}

func (h *fileHandle) isDiscarded() bool {
	h.omu.Lock()
	defer h.omu.Unlock()
	return h.discarded
}

func (h *fileHandle) takePendingMeta() (*time.Time, *os.FileMode) {
	h.omu.Lock()
	defer h.omu.Unlock()
	t, m := h.pendMtime, h.pendMode
	h.pendMtime, h.pendMode = nil, nil
	return t, m
}
