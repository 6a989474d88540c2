package vfs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// Writes. All functions here run with wmu held.
//
// A file written from offset 0 upwards (new, or truncated by O_TRUNC or
// ftruncate(0)) streams straight into one STOR: no spool. A new file's STOR
// goes to its name; an existing file's to a temporary name, renamed over
// it at flush (replace.go). Writes at the end of an existing file (O_APPEND,
// or after an fsync) stream into APPE on the file itself. Anything else (a
// write elsewhere, truncate to a non-zero size, a read of data this handle
// wrote) moves the file into a local spool (the server's current content is
// downloaded first) that is uploaded by STOR at the next flush.

// write writes data at off.
func (h *Handle) write(data []byte, off int64) (int, error) {
	if h.st != stateMatching {
		h.abandonJob("the program writes the file itself") // after an interrupted copy
	}
	if err := h.settle(); err != nil {
		return 0, err
	}
	h.openTrunc = false
	if h.isDiscarded() { // unlinked while open: the data goes nowhere
		h.abortUpload()
		return len(data), nil
	}
	if h.st == stateStreaming && h.size == 0 && off == 0 && h.up == nil && h.tkind == targetNone && h.v.mayMatch() {
		h.startMatching()
	}
	if h.st == stateMatching {
		if off == h.size {
			return h.matchWrite(data, off)
		}
		if err := h.unmatch(); err != nil { // not one stream: spooled
			return 0, h.failLocked(err)
		}
	}
	if h.st == stateClean {
		if off == h.base {
			h.st, h.size = stateStreaming, h.base // appending to the server's file
		} else if err := h.toSpool(); err != nil {
			return 0, h.failLocked(err)
		}
	}
	if h.st == stateStreaming && off != h.size {
		if err := h.toSpool(); err != nil {
			return 0, h.failLocked(err)
		}
	}
	if h.st == stateSpooled {
		n, err := h.spool.WriteAt(data, off)
		if end := off + int64(n); end > h.size {
			h.size = end
		}
		h.dirty = true
		if err != nil {
			return n, errorf("write spool of", h.path, err)
		}
		return n, nil
	}
	if h.up == nil {
		var err error
		if h.size > 0 {
			err = h.openAppend()
			if errors.Is(err, ftpclient.ErrUnsupported) {
				// No APPE: download, and rewrite the whole file at flush.
				if err := h.toSpool(); err != nil {
					return 0, h.failLocked(err)
				}
				return h.write(data, off)
			}
		} else {
			var up ftpclient.Upload
			up, err = h.openStor()
			h.setUp(up)
		}
		if err != nil {
			return 0, h.failLocked(err)
		}
	}
	n, err := h.up.Write(data)
	h.size += int64(n)
	h.dirty = true
	if err != nil {
		return n, h.failLocked(err)
	}
	return n, nil
}

// openAppend starts APPE onto the file.
func (h *Handle) openAppend() error {
	up, err := h.startUpload(h.currentPath(), ftpclient.WriteAppend, targetAppend)
	if err != nil {
		return err
	}
	h.setUp(up)
	return nil
}

// startUpload starts an upload of the file to p, its own name (kind
// targetAppend, targetInPlace or targetNew), and makes p the target.
func (h *Handle) startUpload(p string, mode ftpclient.WriteMode, kind targetKind) (ftpclient.Upload, error) {
	up, err := h.cl.OpenWrite(h.ctx, p, 0, mode)
	if err != nil {
		return nil, err
	}
	h.target, h.tkind = p, kind
	h.markOpened()
	return up, nil
}

// openStor starts a STOR of the whole file: to the temporary already in use,
// else to a new temporary next to the file if it exists (or may: see
// caseClash), else to its name. Where the directory takes no new file (a
// writable file in a read-only directory) an existing file is overwritten
// in place, with a warning.
func (h *Handle) openStor() (ftpclient.Upload, error) {
	p := h.currentPath()
	h.upStart = time.Now()
	if h.tkind == targetTemp {
		h.tempDone = false
		return h.cl.OpenWrite(h.ctx, h.target, 0, ftpclient.WriteTruncate)
	}
	if h.existed {
		if err := h.cl.ProbeWritable(h.ctx, p); err != nil {
			return nil, err
		}
		var first error
		for _, dot := range []bool{true, false} {
			t := h.v.newTemp(h.cl, p, dot)
			up, err := h.cl.OpenWrite(h.ctx, t, 0, ftpclient.WriteTruncate)
			if err == nil {
				h.target, h.tkind = t, targetTemp
				return up, nil
			}
			h.v.dropTemp(h.ctx, h.cl, t, false)
			if first == nil {
				first = err
			}
			if !errors.Is(err, ftpclient.ErrPermission) {
				return nil, err // no space, server gone...: the original stays
			}
		}
		h.v.log.Warn("no temporary file allowed next to it: overwriting in place (a failed upload loses the file)",
			"server", h.cl.Name(), "path", p, "err", first)
		return h.startUpload(p, ftpclient.WriteTruncate, targetInPlace)
	}
	if h.clash {
		t := h.v.newTemp(h.cl, p, true)
		up, err := h.cl.OpenWrite(h.ctx, t, 0, ftpclient.WriteTruncate)
		if err != nil {
			h.v.dropTemp(h.ctx, h.cl, t, false)
			return nil, err
		}
		h.target, h.tkind = t, targetTemp
		return up, nil
	}
	return h.startUpload(p, ftpclient.WriteTruncate, targetNew)
}

// caseClash reports whether the cached listing of p's directory holds an
// entry whose name differs from p's in case only. On a server that ignores
// case (Windows) that entry is the file itself: a new file written straight
// to its name would overwrite it, and a failed upload, removed, would remove
// it. Such a file is written like one that exists, to a temporary renamed
// over the name once complete (Handle.clash); on other servers that costs a
// rename. Create asks, right after the kernel looked the name up (so the
// listing is cached): no command is sent.
func (v *VFS) caseClash(cl *ftpclient.Client, p string) bool {
	ents, ok := v.cache.Cached(cl, path.Dir(p))
	if !ok {
		return false
	}
	name := path.Base(p)
	for _, e := range ents {
		if e.Name != name && strings.EqualFold(e.Name, name) {
			return true
		}
	}
	return false
}

// abortUpload stops the upload (or server-side copy) under way and drops
// a temporary it wrote.
func (h *Handle) abortUpload() {
	h.abandonJob("the file was unlinked")
	if h.up != nil {
		_ = h.up.Abort()
		h.setUp(nil)
	}
	if h.tkind == targetTemp {
		h.v.dropTemp(h.ctx, h.cl, h.target, true)
		h.target, h.tkind = "", targetNone
	}
}

// toSpool moves the file into a local spool, downloading what the server
// has of it. The read stream, if any, stops.
func (h *Handle) toSpool() error {
	if err := h.settle(); err != nil {
		return err
	}
	if h.st == stateMatching {
		return h.unmatch()
	}
	if h.st == stateSpooled {
		return nil
	}
	h.rd.close()
	var have int64 // bytes of the file the server has
	from := h.currentPath()
	switch h.st {
	case stateClean:
		have = h.base
	case stateStreaming:
		if h.up != nil {
			err := h.up.Close()
			h.setUp(nil)
			if err != nil {
				return fmt.Errorf("upload %s: %w", h.path, err)
			}
		}
		have = h.size
		switch h.tkind {
		case targetTemp:
			from = h.target // the spool's upload reuses it
		case targetAppend:
			// The file is complete again (original and appended bytes): the
			// spool's upload replaces it as a whole.
			h.target, h.tkind = "", targetNone
		}
	}
	f, err := h.newSpool(nil)
	if err != nil {
		return err
	}
	if have > 0 {
		rc, err := h.cl.OpenRead(h.ctx, from, 0)
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
	h.spool, h.size, h.st = f, have, stateSpooled
	return nil
}

// newSpool returns a new spool file for the handle holding data.
func (h *Handle) newSpool(data []byte) (*os.File, error) {
	f, err := h.v.newSpool()
	if err != nil {
		return nil, fmt.Errorf("spool for %s: %w", h.path, err)
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		f.Close()
		return nil, errorf("write spool of", h.path, err)
	}
	return f, nil
}

// truncateLocked sets the size: 0 restarts an empty file (streamable
// again); other sizes go through the spool.
func (h *Handle) truncateLocked(size int64) error {
	if h.st == stateMatching {
		if err := h.unmatch(); err != nil {
			return h.failLocked(err)
		}
	}
	h.abandonJob("the file was truncated")
	if err := h.settle(); err != nil {
		return err
	}
	h.openTrunc = false
	if size == 0 && h.st != stateSpooled {
		if h.up != nil {
			_ = h.up.Abort()
			h.setUp(nil)
		}
		if h.tkind == targetAppend {
			// The aborted APPE may have added to the file; the empty file
			// replaces it as a whole at flush.
			h.target, h.tkind = "", targetNone
		}
		h.st, h.size, h.dirty = stateStreaming, 0, true
		return nil
	}
	switch h.st {
	case stateClean:
		if size == h.base {
			return nil
		}
	case stateStreaming:
		if size == h.size {
			return nil
		}
	}
	if err := h.toSpool(); err != nil {
		return h.failLocked(err)
	}
	if err := h.spool.Truncate(size); err != nil {
		return errorf("truncate spool of", h.path, err)
	}
	h.size, h.dirty = size, true
	return nil
}
