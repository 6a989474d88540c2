package vfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// Uploads and their failures. All functions here run with wmu held.

// flushLocked sends what the server lacks, then mtime/mode set meanwhile,
// and updates the cache. A failure cleans up (failLocked) and is reported.
func (h *Handle) flushLocked() error {
	if h.st == stateFailed {
		return h.failedErr()
	}
	if h.isDiscarded() {
		if h.up != nil {
			_ = h.up.Abort()
			h.up = nil
		}
		h.dirty = false
		h.syncOverlay()
		return nil
	}
	if !h.dirty && h.up == nil {
		// Nothing to upload (the file is on the server already, e.g. after
		// a kernel copy), but cp -p / touch may have set times or mode on
		// this open file meanwhile.
		if mtime, mode := h.takePendingMeta(); mtime != nil || mode != nil {
			return h.v.SetMeta(h.ctx, h.cl, h.currentPath(), mtime, mode)
		}
		return nil
	}
	p := h.currentPath()
	var err error
	switch h.st {
	case stateStreaming:
		if h.up == nil && h.size == 0 { // truncated and nothing written: an empty file
			h.up, err = h.cl.OpenWrite(h.ctx, p, 0, ftpclient.WriteTruncate)
			if err == nil {
				h.markOpened()
			}
		}
		if err == nil && h.up != nil {
			err = h.up.Close()
		}
		h.up = nil
	case stateSpooled:
		err = h.uploadSpool(p)
	}
	if err != nil {
		h.failLocked(err)
		return h.failedErr()
	}
	h.dirty = false
	size := h.size
	h.syncOverlay()
	h.afterUpload(h.ctx, p, size)
	return nil
}

// afterUpload applies the mtime and mode set while the file was written
// and records the new file in the cache.
func (h *Handle) afterUpload(ctx context.Context, p string, size int64) {
	mtime, mode := h.takePendingMeta()
	now := time.Now()
	if mtime == nil {
		mtime = &now
	} else if err := h.cl.SetModTime(ctx, p, *mtime); err != nil && !errors.Is(err, ftpclient.ErrUnsupported) {
		h.v.log.Warn("set mtime after upload", "server", h.cl.Name(), "path", p, "err", err)
	}
	if mode != nil {
		if err := h.cl.Chmod(ctx, p, *mode); err != nil && !errors.Is(err, ftpclient.ErrUnsupported) {
			h.v.log.Warn("chmod after upload", "server", h.cl.Name(), "path", p, "err", err)
		}
	}
	h.omu.Lock()
	h.ovMtime = *mtime
	h.omu.Unlock()
	h.v.cache.Update(h.cl, p, func(e *ftpclient.Entry) {
		e.Type, e.Size, e.Mtime = ftpclient.TypeFile, size, *mtime
		if mode != nil {
			e.Mode = *mode
		}
	})
}

// uploadSpool replaces the server's file with the spool (STOR).
func (h *Handle) uploadSpool(p string) error {
	up, err := h.cl.OpenWrite(h.ctx, p, 0, ftpclient.WriteTruncate)
	if err != nil {
		return err
	}
	h.markOpened()
	if _, err := io.Copy(up, io.NewSectionReader(h.spool, 0, h.size)); err != nil {
		_ = up.Abort()
		return fmt.Errorf("upload %s: %w", p, err)
	}
	return up.Close()
}

// failLocked makes the handle failed (sticky), aborts the upload and
// removes the partial file so that nothing looks complete; the cache and
// the kernel forget it. It returns what the failing call reports: err
// itself the first time (a cancelled call reports an I/O error: the upload
// is lost either way), ErrFailed afterwards.
func (h *Handle) failLocked(err error) error {
	if h.st == stateFailed {
		return h.failedErr()
	}
	h.st, h.werr = stateFailed, err
	h.v.log.Error("upload failed", "server", h.cl.Name(), "path", h.path, "err", err)
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
			if rerr := h.cl.Remove(h.ctx, p); rerr != nil && !errors.Is(rerr, ftpclient.ErrNotFound) {
				h.v.log.Error("removing partial upload", "server", h.cl.Name(), "path", p, "err", rerr)
			}
		}
		h.v.cache.Remove(h.cl, p)
		h.f.node.Gone()
	default:
		// The server refused before anything was written: its file is as it
		// was. Keep it, and let the kernel drop what this handle showed.
		h.f.node.Changed()
	}
	h.omu.Lock()
	h.pending, h.ovOK = false, false
	h.omu.Unlock()
	if errors.Is(err, context.Canceled) || errors.Is(err, ErrBadHandle) {
		return h.failedErr()
	}
	return errors.Join(ErrFailed, err)
}
