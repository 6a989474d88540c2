package fusefs

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// wstate is what a writing handle holds.
type wstate int

const (
	wNone   wstate = iota // nothing written: the server's file is as it was
	wStream               // the file is [0,wpos) as written by this handle, sent (or being sent) by STOR/APPE
	wSpool                // the file's content is in a local temp file, uploaded at flush
)

// fileHandle is an open file. Every entry point holds mu.RLock; Release
// takes mu.Lock (waiting for them) and marks the handle released. Reads go
// through rd (its own locking), writes through the state under wmu.
// CopyFileRange type-asserts handles to *fileHandle to find (server, path).
type fileHandle struct {
	node    *fileNode
	srv     *server
	root    *Root
	path    string // mount path when opened
	writing bool   // opened for writing (or created)

	ctx    context.Context // the handle's lifetime: its RETR and STOR run under it
	cancel context.CancelFunc

	mu       sync.RWMutex
	released bool

	rd *reader

	wmu   sync.Mutex
	ws    wstate
	base  int64            // wNone: the file's size on the server
	wpos  int64            // wStream: bytes written
	up    ftpclient.Upload // wStream: the upload in flight, if any
	spool *os.File         // wSpool
	ssize int64            // wSpool: file size
	dirty bool             // the server lacks what this handle wrote
	werr  error            // sticky: the upload failed; every later flush says EIO
	fxp   *fxpDone         // the server-to-server copy that filled this file (copy.go)

	// Mirror of the write state for Getattr and Setattr of the node, which
	// must not wait for a write blocked on the network.
	omu       sync.Mutex
	ovOK      bool
	ovSize    int64
	ovMtime   time.Time
	pending   bool // an upload is in flight or due
	opened    bool // an upload was started at least once
	created   bool // made by Create: absent from the server until uploaded
	discarded bool // unlinked: upload nothing
	pendMtime *time.Time
	pendMode  *os.FileMode
}

// newHandle opens a handle on f at p. O_TRUNC (or create) starts it as an
// empty file to be uploaded.
func newHandle(f *fileNode, p string, flags uint32, create bool) *fileHandle {
	ctx, cancel := context.WithCancel(context.Background())
	h := &fileHandle{
		node: f, srv: f.srv, root: f.root, path: p,
		writing: create || flags&syscall.O_ACCMODE != syscall.O_RDONLY,
		ctx:     ctx, cancel: cancel,
		created: create,
	}
	h.rd = newReader(h)
	f.addHandle(h)
	if h.writing {
		if create || flags&syscall.O_TRUNC != 0 {
			h.ws, h.dirty = wStream, true
			h.syncOverlay()
		}
		f.addWriter(h)
	}
	return h
}

// truncated reports whether the handle starts from an empty file.
func (h *fileHandle) truncated() bool { return h.ws == wStream && h.wpos == 0 }

// currentPath is where the node is now (it may have been renamed while
// open), else where it was opened.
func (h *fileHandle) currentPath() string {
	if p, err := h.node.path(); err == nil {
		return p
	}
	return h.path
}

// Read serves the handle's own written data from its spool, else the
// server's file through the read-ahead stream.
func (h *fileHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	h.root.reads.Add(1)
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.released {
		return nil, syscall.EBADF
	}
	if h.writing {
		h.wmu.Lock()
		if h.ws != wNone {
			defer h.wmu.Unlock()
			if err := h.toSpool(); err != nil {
				return nil, h.failLocked(err)
			}
			n, err := h.spool.ReadAt(dest, off)
			if err != nil && !errors.Is(err, io.EOF) {
				return nil, h.root.errno(err)
			}
			return fuse.ReadResultData(dest[:n]), 0
		}
		h.wmu.Unlock()
	}
	res, err := h.rd.read(len(dest), off)
	if err != nil {
		return nil, h.root.errno(err)
	}
	return res, 0
}

// Write: see write.
func (h *fileHandle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.released {
		return 0, syscall.EBADF
	}
	if !h.writing {
		return 0, syscall.EBADF
	}
	h.wmu.Lock()
	defer h.wmu.Unlock()
	if h.werr != nil {
		return 0, syscall.EIO
	}
	n, errno := h.write(data, off)
	h.syncOverlay()
	return uint32(n), errno
}

// Flush is called at every close(2): it finishes the upload, and a failed
// upload is reported here as EIO (the kernel ignores Release's result).
func (h *fileHandle) Flush(ctx context.Context) syscall.Errno {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.released || !h.writing {
		return 0
	}
	h.wmu.Lock()
	defer h.wmu.Unlock()
	return h.flushLocked()
}

// Fsync uploads like Flush; the handle stays writable (later sequential
// writes append).
func (h *fileHandle) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	return h.Flush(ctx)
}

// Release closes the handle: a last upload if none was flushed, then the
// streams and the spool go.
func (h *fileHandle) Release(ctx context.Context) syscall.Errno {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.released {
		return 0
	}
	h.released = true
	if h.writing {
		h.wmu.Lock()
		if h.werr == nil && (h.up != nil || h.dirty) {
			if errno := h.flushLocked(); errno != 0 {
				h.root.log.Warn("upload at release failed", "server", h.srv.name, "path", h.path, "errno", errno)
			}
		}
		if h.up != nil {
			_ = h.up.Abort()
			h.up = nil
		}
		if h.spool != nil {
			_ = h.spool.Close()
			h.spool = nil
		}
		h.wmu.Unlock()
		h.node.removeWriter(h)
	}
	h.node.removeHandle(h)
	h.rd.close()
	h.cancel()
	return 0
}

// truncate sets the file's size through this handle.
func (h *fileHandle) truncate(ctx context.Context, size int64) syscall.Errno {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.released {
		return syscall.EBADF
	}
	h.wmu.Lock()
	defer h.wmu.Unlock()
	if h.werr != nil {
		return syscall.EIO
	}
	errno := h.truncateLocked(size)
	h.syncOverlay()
	return errno
}

// syncOverlay copies the write state into the mirror read by Getattr. wmu held.
func (h *fileHandle) syncOverlay() {
	h.omu.Lock()
	defer h.omu.Unlock()
	switch h.ws {
	case wStream:
		h.ovOK, h.ovSize = true, h.wpos
	case wSpool:
		h.ovOK, h.ovSize = true, h.ssize
	}
	if h.ovOK && h.dirty {
		h.ovMtime = time.Now()
	}
	h.pending = h.dirty || h.up != nil
}

// written returns the size and mtime this handle gave the file, if it changed it.
func (h *fileHandle) written() (int64, time.Time, bool) {
	h.omu.Lock()
	defer h.omu.Unlock()
	return h.ovSize, h.ovMtime, h.ovOK
}

// setPendingMeta records mtime/mode to apply after the upload, if one is
// due, and reports whether it recorded them.
func (h *fileHandle) setPendingMeta(hasT bool, t time.Time, hasM bool, m os.FileMode) bool {
	h.omu.Lock()
	defer h.omu.Unlock()
	if hasT && h.ovOK {
		h.ovMtime = t // what stat shows while the handle is open
	}
	if !h.pending || h.discarded {
		// Applied to the server right away by the caller: whatever this
		// handle meant to apply later (Create's mode) is superseded.
		if hasT {
			h.pendMtime = nil
		}
		if hasM {
			h.pendMode = nil
		}
		return false
	}
	if hasT {
		h.pendMtime = &t
	}
	if hasM {
		h.pendMode = &m
	}
	return true
}

// discard stops the handle from uploading (its file was unlinked) and
// reports whether the file was never sent to the server.
func (h *fileHandle) discard() bool {
	h.omu.Lock()
	defer h.omu.Unlock()
	h.discarded = true
	return h.created && !h.opened
}
