package vfs

import (
	"errors"
	"fmt"
	"io"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// Writes. All functions here run with wmu held.
//
// A file written from offset 0 upwards (new, or truncated by O_TRUNC or
// ftruncate(0)) streams straight into one STOR: no spool. Writes at the end
// of an existing file (O_APPEND, or after an fsync) stream into APPE.
// Anything else (a write elsewhere, truncate to a non-zero size, a read of
// data this handle wrote) moves the file into a local spool (the server's
// current content is downloaded first) that is uploaded by STOR at the next
// flush.

// settle turns a copied file into a clean one before it changes. wmu held.
func (h *Handle) settle() {
	if h.st == stateCopied {
		h.st, h.base, h.fxp = stateClean, h.size, nil
	}
}

// write writes data at off.
func (h *Handle) write(data []byte, off int64) (int, error) {
	h.settle()
	if h.isDiscarded() { // unlinked while open: the data goes nowhere
		if h.up != nil {
			_ = h.up.Abort()
			h.up = nil
		}
		return len(data), nil
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
		mode := ftpclient.WriteTruncate
		if h.size > 0 {
			mode = ftpclient.WriteAppend // APPE takes no offset
		}
		up, err := h.cl.OpenWrite(h.ctx, h.currentPath(), 0, mode)
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
	h.size += int64(n)
	h.dirty = true
	if err != nil {
		return n, h.failLocked(err)
	}
	return n, nil
}

// toSpool moves the file into a local spool, downloading what the server
// has of it. The read stream, if any, stops.
func (h *Handle) toSpool() error {
	h.settle()
	if h.st == stateSpooled {
		return nil
	}
	h.rd.close()
	var have int64 // bytes of the file the server has
	switch h.st {
	case stateClean:
		have = h.base
	case stateStreaming:
		if h.up != nil {
			err := h.up.Close()
			h.up = nil
			if err != nil {
				return fmt.Errorf("upload %s: %w", h.path, err)
			}
		}
		have = h.size
	}
	f, err := h.v.newSpool()
	if err != nil {
		return fmt.Errorf("spool for %s: %w", h.path, err)
	}
	if have > 0 {
		rc, err := h.cl.OpenRead(h.ctx, h.currentPath(), 0)
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

// truncateLocked sets the size: 0 restarts an empty file (streamable
// again); other sizes go through the spool.
func (h *Handle) truncateLocked(size int64) error {
	h.settle()
	if size == 0 && h.st != stateSpooled {
		if h.up != nil {
			_ = h.up.Abort()
			h.up = nil
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
