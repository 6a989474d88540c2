package vfs

import (
	"context"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
	"github.com/fxpfs/fxpfs/fxpcopy"
)

// Kernel copies (cp, install, cat a > b, mv across servers after EXDEV)
// arrive as copy_file_range on the source, after the destination was
// created or truncated. The kernel trims len to the source size it knows
// and caps one call at 0xfffff000 bytes, so a large file comes in several
// calls. The first call (offIn = offOut = 0, empty destination) copies the
// whole file server-to-server with fxpcopy; later calls of the same copy
// are answered with their length without moving anything. Every other
// shape gets ErrCopyUnsupported, so the kernel falls back to read/write.

// fxpDone is what a destination handle remembers of a finished copy.
type fxpDone struct {
	cl   *ftpclient.Client
	path string
	size int64
}

// CopyFrom copies length bytes at offIn of src's file to offOut of h's
// file and returns how many it copied.
func (h *Handle) CopyFrom(ctx context.Context, src *Handle, offIn, offOut, length int64) (int64, error) {
	if h.v.eng == nil {
		return 0, ErrCopyUnsupported
	}
	if !h.writing {
		return 0, ErrBadHandle
	}
	if src.hasLocalChanges() || src.f.hasPendingWriters() {
		return 0, ErrCopyUnsupported // the server does not have the source's data yet
	}
	return h.copyFrom(ctx, src.cl, src.currentPath(), offIn, offOut, length)
}

// copyFrom runs (or continues) a whole-file copy onto this handle.
func (h *Handle) copyFrom(ctx context.Context, srcCl *ftpclient.Client, srcPath string, offIn, offOut, length int64) (int64, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.released {
		return 0, ErrBadHandle
	}
	h.wmu.Lock()
	defer h.wmu.Unlock()
	if h.st == stateFailed {
		return 0, h.failedErr()
	}
	if d := h.fxp; h.st == stateCopied && d.cl == srcCl && d.path == srcPath && offIn == offOut {
		// A later call of a copy already done.
		if offIn >= d.size {
			return 0, ErrCopyUnsupported
		}
		return min(length, d.size-offIn), nil
	}
	empty := (h.st == stateStreaming && h.size == 0 && h.up == nil) || (h.st == stateClean && h.base == 0)
	if offIn != 0 || offOut != 0 || !empty {
		return 0, ErrCopyUnsupported // partial ranges and non-empty destinations: read/write
	}
	dstPath := h.currentPath()
	if srcCl == h.cl && srcPath == dstPath {
		return 0, ErrCopyUnsupported
	}
	// Onto an existing file: into a temporary, renamed over it once the
	// copy is complete and verified (replace.go).
	h.target, h.tkind = dstPath, targetNew
	if h.existed {
		if err := h.probeWritable(ctx, dstPath); err != nil {
			h.target, h.tkind = "", targetNone
			return 0, h.failLocked(err)
		}
		h.target, h.tkind = h.v.newTemp(h.cl, dstPath, true), targetTemp
	}
	rec, err := h.v.eng.Copy(ctx,
		fxpcopy.Endpoint{Client: srcCl, Path: srcPath},
		fxpcopy.Endpoint{Client: h.cl, Path: h.target},
		fxpcopy.Options{NoPreserveMtime: true}) // like cp: cp -p sets the time itself
	if err != nil {
		// fxpcopy removed a destination it had touched; one it left intact
		// (its STOR was refused) was never written.
		if fxpcopy.DestinationIntact(err) && h.tkind == targetNew {
			h.target, h.tkind = "", targetNone
		}
		h.failLocked(err)
		return 0, h.failedErr()
	}
	if h.tkind == targetNew {
		h.markOpened()
	} else {
		mode, err := h.commit(ctx, dstPath, nil)
		if err != nil {
			h.failLocked(err)
			return 0, h.failedErr()
		}
		if mode != nil {
			h.v.cache.Update(h.cl, dstPath, func(e *ftpclient.Entry) { e.Mode = *mode })
		}
	}
	h.target, h.tkind, h.existed = "", targetNone, true
	size := rec.Size
	h.st, h.size, h.dirty, h.fxp = stateCopied, size, false, &fxpDone{cl: srcCl, path: srcPath, size: size}
	h.rd.close()
	h.rd.expect(&ftpclient.Expect{Size: size})
	h.syncOverlay()
	now := time.Now()
	h.v.cache.Update(h.cl, dstPath, func(e *ftpclient.Entry) {
		e.Type, e.Size, e.Mtime = ftpclient.TypeFile, size, now
	})
	return min(length, size), nil
}
