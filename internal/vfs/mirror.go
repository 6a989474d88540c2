package vfs

import (
	"os"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// The handle's mirror of its write state (under omu): what stat and
// setattr of the File read without waiting for a write blocked on the
// network, and the times and modes to apply after the upload.

// syncOverlay copies the write state into the mirror read by stat. wmu held.
func (h *Handle) syncOverlay() {
	h.omu.Lock()
	defer h.omu.Unlock()
	switch h.st {
	case stateStreaming, stateSpooled, stateCopied, stateMatching:
		h.ovOK, h.ovSize = true, h.size
	}
	if h.ovOK && h.dirty {
		h.ovMtime = time.Now()
	}
	h.pending = h.dirty || h.up != nil
}

// written returns the size and mtime this handle gave the file, if it changed it.
func (h *Handle) written() (int64, time.Time, bool) {
	h.omu.Lock()
	defer h.omu.Unlock()
	return h.ovSize, h.ovMtime, h.ovOK
}

// setPendingMeta records mtime/mode to apply after the upload, if one is
// due, and reports whether it recorded them.
func (h *Handle) setPendingMeta(mtime *time.Time, mode *os.FileMode) bool {
	h.omu.Lock()
	defer h.omu.Unlock()
	if mtime != nil && h.ovOK {
		h.ovMtime = *mtime // what stat shows while the handle is open
	}
	if !h.pending || h.discarded {
		// Applied to the server right away by the caller: whatever this
		// handle meant to apply later (Create's mode) is superseded.
		if mtime != nil {
			h.pendMtime = nil
		}
		if mode != nil {
			h.pendMode = nil
		}
		return false
	}
	if mtime != nil {
		t := *mtime
		h.pendMtime = &t
	}
	if mode != nil {
		m := *mode
		h.pendMode = &m
	}
	return true
}

// discard stops the handle from uploading (its file was unlinked) and
// reports whether the file was never sent to the server. An upload under
// way is aborted now, without waiting for wmu (a write may hold it, blocked
// on the network): the caller deletes the file next, and a STOR still
// running would write it again.
func (h *Handle) discard() bool {
	h.omu.Lock()
	h.discarded = true
	never := h.created && !h.opened
	h.omu.Unlock()
	if b, ok := h.upNow.Load().(upBox); ok && b.up != nil {
		_ = b.up.Abort() // safe beside a blocked Write; the owner's later Abort is a no-op
	}
	return never
}

// upBox holds the upload under way for upNow.
type upBox struct{ up ftpclient.Upload }

// setUp sets the upload under way. wmu held.
func (h *Handle) setUp(up ftpclient.Upload) {
	h.up = up
	h.upNow.Store(upBox{up})
}

// hasLocalChanges reports whether this handle holds data the server lacks.
func (h *Handle) hasLocalChanges() bool {
	h.omu.Lock()
	defer h.omu.Unlock()
	return h.pending
}

func (h *Handle) markOpened() {
	h.omu.Lock()
	h.opened = true
	h.omu.Unlock()
}

func (h *Handle) isDiscarded() bool {
	h.omu.Lock()
	defer h.omu.Unlock()
	return h.discarded
}

func (h *Handle) takePendingMeta() (*time.Time, *os.FileMode) {
	h.omu.Lock()
	defer h.omu.Unlock()
	t, m := h.pendMtime, h.pendMode
	h.pendMtime, h.pendMode = nil, nil
	return t, m
}
