package vfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// Uploads and their failures. All functions here run with wmu held.

// flushLocked sends what the server lacks, renames a temporary upload over
// the file, applies the mtime/mode set meanwhile and updates the cache. A
// failure cleans up (failLocked) and is reported.
//
// One exception: an existing file truncated by open(O_TRUNC) and not
// written since is not replaced by an empty file before the last close
// (final) or fsync. A
// shell's `cmd > file` opens the file, dup2s the descriptor and closes the
// original one (FLUSH) before cmd writes anything: committing the empty
// file there would cost the original if the writes that follow fail. The
// empty temporary is made at once all the same (so that a refusal shows
// now) and reused by the writes that follow.
func (h *Handle) flushLocked(final bool) error {
	if h.st == stateFailed {
		return h.failedErr()
	}
	if h.job != nil && !h.job.matched {
		// Closed during a server-side copy nobody was told the end of (a
		// program killed while copying): nothing of it stays.
		h.abandonJob("the file was closed before the copy was acknowledged")
		return h.failLocked(fmt.Errorf("%w: %w", errCopyAbandoned, context.Canceled))
	}
	if h.isDiscarded() {
		h.abortUpload()
		h.dirty = false
		h.syncOverlay()
		return nil
	}
	if err := h.settle(); err != nil { // a kernel copy told to stop early
		return err
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
	matched := false
	if h.st == stateMatching {
		ok, err := h.settleMatch()
		if err != nil {
			return h.failLocked(err)
		}
		matched = ok
	}
	var err error
	switch h.st {
	case stateStreaming:
		if h.up == nil && h.size == 0 && !h.tempDone { // truncated and nothing written: an empty file
			var up ftpclient.Upload
			up, err = h.openStor()
			h.setUp(up)
		}
		if err == nil && h.up != nil {
			err = h.up.Close()
			h.tempDone = err == nil && h.tkind == targetTemp
		}
		h.setUp(nil)
	case stateSpooled:
		if !matched {
			err = h.uploadSpool()
		}
	}
	if err != nil {
		return h.failLocked(err)
	}
	if !matched && h.tkind != targetAppend && h.tkind != targetNone && !h.upStart.IsZero() {
		h.v.link(h.cl).uploaded(h.size, time.Since(h.upStart))
	}
	if h.isDiscarded() { // unlinked while the upload ended: nothing to commit
		h.abortUpload()
		h.dirty = false
		return nil
	}
	if !final && h.openTrunc && h.st == stateStreaming && h.size == 0 && h.tkind == targetTemp {
		return nil // see above: committed at the last close, unless written meanwhile
	}
	h.tempDone = false
	p := h.currentPath()
	mtime, mode := h.takePendingMeta()
	if h.tkind == targetTemp {
		if mode, err = h.commit(h.ctx, p, mode); err != nil {
			return h.failLocked(err)
		}
	} else if mode != nil {
		h.chmod(h.ctx, p, *mode)
	}
	h.target, h.tkind, h.existed = "", targetNone, true
	h.dirty = false
	h.syncOverlay()
	h.afterUpload(h.ctx, p, h.size, mtime, mode)
	return nil
}

// commit renames the complete temporary upload over p, after giving it
// mode, else the mode the original had (a replacement keeps it). It
// returns the mode the file now has, if set.
func (h *Handle) commit(ctx context.Context, p string, mode *os.FileMode) (*os.FileMode, error) {
	keep := mode
	if keep == nil && h.origMode != 0 && h.origMode != DefaultFileMode {
		m := h.origMode
		keep = &m
	}
	if keep != nil {
		h.chmod(ctx, h.target, *keep)
	}
	if err := h.v.replace(ctx, h.cl, h.target, p); err != nil {
		return nil, fmt.Errorf("rename the upload over %s: %w", p, err)
	}
	h.v.dropTemp(ctx, h.cl, h.target, false)
	return keep, nil
}

// chmod sets mode on p where the server can; a refusal is logged.
func (h *Handle) chmod(ctx context.Context, p string, mode os.FileMode) {
	if err := h.cl.Chmod(ctx, p, mode); err != nil && !errors.Is(err, ftpclient.ErrUnsupported) {
		h.v.log.Warn("chmod after upload", "server", h.cl.Name(), "path", p, "err", err)
	}
}

// afterUpload applies the mtime set while the file was written and records
// the new file (with mode, if set) in the cache.
func (h *Handle) afterUpload(ctx context.Context, p string, size int64, mtime *time.Time, mode *os.FileMode) {
	now := time.Now()
	if mtime == nil {
		mtime = &now
	} else if err := h.cl.SetModTime(ctx, p, *mtime); err != nil && !errors.Is(err, ftpclient.ErrUnsupported) {
		h.v.log.Warn("set mtime after upload", "server", h.cl.Name(), "path", p, "err", err)
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
	h.f.node.Changed() // cached pages (this and other descriptors, mmaps) are stale
	h.v.Forget(h.cl, p)
}

// uploadSpool sends the spool by STOR (see openStor for where).
func (h *Handle) uploadSpool() error {
	up, err := h.openStor()
	if err != nil {
		return err
	}
	if _, err := io.Copy(up, io.NewSectionReader(h.spool, 0, h.size)); err != nil {
		_ = up.Abort()
		return fmt.Errorf("upload %s: %w", h.path, err)
	}
	return up.Close()
}

// failLocked makes the handle failed (sticky), aborts the upload and cleans
// up what it wrote: a temporary goes (the original is untouched), a new
// file's partial upload goes (nothing incomplete looks complete), a failed
// append stays (its original bytes are intact, and removing it would lose
// them). The cache and the kernel are told. It returns what the failing
// call reports: err itself the first time (a cancelled call reports
// ErrFailed: the upload is lost either way), ErrFailed afterwards. Both
// wrap ErrFailed; the first also wraps err, so that the caller can say what
// happened (no space, no permission, a timeout).
func (h *Handle) failLocked(err error) error {
	if h.st == stateFailed {
		return h.failedErr()
	}
	h.st, h.werr = stateFailed, err
	h.v.log.Error("upload failed", "server", h.cl.Name(), "path", h.path, "err", err)
	if h.up != nil {
		_ = h.up.Abort()
		h.setUp(nil)
	}
	p := h.currentPath()
	switch h.tkind {
	case targetTemp:
		h.v.dropTemp(h.ctx, h.cl, h.target, true)
		h.f.node.Changed() // the kernel drops what this handle showed
	case targetAppend:
		cctx, cancel := cleanupCtx(h.ctx)
		n, serr := h.cl.Size(cctx, h.target)
		cancel()
		h.v.log.Warn("append failed: the file keeps its original bytes, followed by part of the appended ones",
			"server", h.cl.Name(), "path", h.target, "original", h.base, "now", n, "sizeErr", serr)
		h.v.cache.Invalidate(h.cl, path.Dir(h.target)) // its size is the server's to say
		h.f.node.Changed()
	case targetNew, targetInPlace:
		h.v.removeLeftover(h.ctx, h.cl, h.target, "a partial upload", slog.LevelError)
		if h.target == p {
			h.f.node.Gone()
		}
	default:
		if h.created {
			// Created here and refused at once: it never existed.
			h.v.cache.Remove(h.cl, p)
			h.f.node.Gone()
		} else {
			// Refused before anything was written: the server's file is
			// as it was. Keep it; the kernel drops what this handle showed.
			h.f.node.Changed()
		}
	}
	h.target, h.tkind = "", targetNone
	h.omu.Lock()
	h.pending, h.ovOK = false, false
	h.omu.Unlock()
	if errors.Is(err, context.Canceled) || errors.Is(err, ErrBadHandle) {
		return h.failedErr()
	}
	return errors.Join(ErrFailed, err)
}
