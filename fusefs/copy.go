package fusefs

import (
	"context"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"

	"github.com/fxpfs/fxpfs/ftpclient"
	"github.com/fxpfs/fxpfs/fxpcopy"
)

// Kernel copies (cp, install, cat a > b, mv across servers after EXDEV)
// arrive as COPY_FILE_RANGE on the source node, after the destination was
// created or truncated. The kernel trims len to the source size it knows
// and caps one call at 0xfffff000 bytes, so a large file comes in several
// calls. The first call (offIn = offOut = 0, empty destination) copies the
// whole file server-to-server with fxpcopy; later calls of the same copy
// are answered with their length without moving anything. Every other
// shape gets EOPNOTSUPP, so the kernel falls back to read/write: never
// ENOSYS, which would turn copy_file_range off for the whole mount.

// fxpDone is what a destination handle remembers of a finished copy.
type fxpDone struct {
	srv  *server
	path string
	size int64
}

// CopyFileRange copies from this file (handle fhIn) to the file of fhOut.
func (f *fileNode) CopyFileRange(ctx context.Context, fhIn fs.FileHandle, offIn uint64, out *fs.Inode,
	fhOut fs.FileHandle, offOut uint64, length uint64, flags uint64) (uint32, syscall.Errno) {
	src, ok1 := fhIn.(*fileHandle)
	dst, ok2 := fhOut.(*fileHandle)
	if !ok1 || !ok2 || f.root.eng == nil || flags != 0 {
		return 0, syscall.ENOTSUP
	}
	if !dst.writing {
		return 0, syscall.EBADF
	}
	if src.hasLocalChanges() || f.hasPendingWriters() {
		return 0, syscall.ENOTSUP // the server does not have the source's data yet
	}
	srcPath := src.currentPath()
	return dst.copyFrom(ctx, src.srv, srcPath, int64(offIn), int64(offOut), int64(length))
}

// copyFrom runs (or continues) a whole-file copy onto this handle.
func (h *fileHandle) copyFrom(ctx context.Context, srcSrv *server, srcPath string, offIn, offOut, length int64) (uint32, syscall.Errno) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.released {
		return 0, syscall.EBADF
	}
	h.wmu.Lock()
	defer h.wmu.Unlock()
	if h.werr != nil {
		return 0, syscall.EIO
	}
	if d := h.fxp; d != nil && d.srv == srcSrv && d.path == srcPath && offIn == offOut {
		// A later call of a copy already done.
		if offIn >= d.size || h.ws != wStream || h.wpos != d.size {
			return 0, syscall.ENOTSUP
		}
		return uint32(min(length, d.size-offIn)), 0
	}
	empty := (h.ws == wStream && h.wpos == 0 && h.up == nil) || (h.ws == wNone && h.base == 0)
	if offIn != 0 || offOut != 0 || !empty {
		return 0, syscall.ENOTSUP // partial ranges and non-empty destinations: read/write
	}
	dstPath := h.currentPath()
	if srcSrv == h.srv && srcPath == dstPath {
		return 0, syscall.ENOTSUP
	}
	rec, err := h.root.eng.Copy(ctx,
		fxpcopy.Endpoint{Client: srcSrv.cl, Path: srcPath},
		fxpcopy.Endpoint{Client: h.srv.cl, Path: dstPath},
		fxpcopy.Options{NoPreserveMtime: true}) // like cp: cp -p sets the time itself
	if err != nil {
		// fxpcopy removed a destination it had touched; one it left intact
		// (its STOR was refused) stays, and so does its cache entry.
		if !fxpcopy.DestinationIntact(err) {
			h.markOpened()
		}
		h.failLocked(err)
		return 0, syscall.EIO
	}
	h.markOpened()
	size := rec.Size
	h.ws, h.wpos, h.dirty, h.fxp = wStream, size, false, &fxpDone{srv: srcSrv, path: srcPath, size: size}
	h.syncOverlay()
	now := time.Now()
	h.root.changed(h.srv, change{update: dstPath, fn: func(e *ftpclient.Entry) {
		e.Type, e.Size, e.Mtime = ftpclient.TypeFile, size, now
	}, content: h.node.EmbeddedInode()})
	return uint32(min(length, size)), 0
}

// hasLocalChanges reports whether this handle holds data the server lacks.
func (h *fileHandle) hasLocalChanges() bool {
	h.omu.Lock()
	defer h.omu.Unlock()
	return h.pending
}

// hasPendingWriters reports whether any open writer of f holds data the
// server lacks.
func (f *fileNode) hasPendingWriters() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for h := range f.writers {
		if h.hasLocalChanges() {
			return true
		}
	}
	return false
}
