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
// and caps one call at maxKernelCopy bytes, so a large file comes in
// several calls.
//
// A call is done server-to-server (fxpcopy) only when it covers the whole
// source: offsets 0, an empty destination, and len at least the source's
// size (or the kernel's cap). Later calls of the same copy, continuing
// where the previous one ended, are answered with their length without
// moving anything; if the program stops before the end of the source (it
// asked for less than the kernel's cap on a larger file), the destination
// is cut to what it was told was copied before it is used or uploaded.
// Every other call (a range, an offset, a non-empty destination, a source
// with data not yet uploaded, no engine) is relayed: exactly the requested
// range is read through the source handle and written through this one.
// Nothing here returns ENOSYS's equivalent: that would turn copy offload off
// for the whole mount.

// maxKernelCopy is the most one copy_file_range request carries: the
// kernel caps len at UINT_MAX & PAGE_MASK (a FUSE reply's size is 32 bits).
const maxKernelCopy = 0xfffff000

// relayChunk is how much a relayed range moves per read and write.
const relayChunk = 1 << 20

// fxpDone is what a destination handle remembers of a finished copy.
type fxpDone struct {
	cl      *ftpclient.Client
	path    string
	size    int64 // bytes the copy put on the server
	claimed int64 // bytes the program was told were copied (a prefix of size)
}

// CopyFrom copies length bytes at offIn of src's file to offOut of h's
// file and returns how many it copied: fewer only at the end of the source.
func (h *Handle) CopyFrom(ctx context.Context, src *Handle, offIn, offOut, length int64) (int64, error) {
	if !h.writing {
		return 0, ErrBadHandle
	}
	if length <= 0 {
		return 0, nil
	}
	if n, ok, err := h.copyOn(ctx, src, offIn, offOut, length); ok {
		return n, err
	}
	return h.relay(ctx, src, offIn, offOut, length)
}

// copyOn answers a call that a server-side copy serves (ok): the first
// call of a whole-file copy, or a later call of one done. Otherwise the
// caller relays.
func (h *Handle) copyOn(ctx context.Context, src *Handle, offIn, offOut, length int64) (int64, bool, error) {
	srcCl, srcPath := src.cl, src.currentPath()
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.released {
		return 0, true, ErrBadHandle
	}
	h.wmu.Lock()
	defer h.wmu.Unlock()
	if h.st == stateFailed {
		return 0, true, h.failedErr()
	}
	if h.st == stateMatching {
		return 0, false, nil // its own FXP may be under way: the range is relayed into the stream
	}
	if j := h.job; j != nil {
		if !j.expired && j.srcCl == srcCl && j.srcPath == srcPath && offIn == 0 && offOut == 0 {
			n, err := h.awaitJob(ctx, j, length) // the call again, after an interrupt
			return n, true, err
		}
		h.abandonJob("another call came instead of its retry") // or cancelled after copyGrace
	}
	if d := h.fxp; h.st == stateCopied && d.cl == srcCl && d.path == srcPath && offIn == offOut && offIn == d.claimed {
		// A later call of a copy already done.
		n := min(length, d.size-offIn)
		d.claimed += n
		return n, true, nil
	}
	empty := (h.st == stateStreaming && h.size == 0 && h.up == nil) || (h.st == stateClean && h.base == 0)
	if h.v.eng == nil || offIn != 0 || offOut != 0 || !empty || (srcCl == h.cl && srcPath == h.currentPath()) {
		return 0, false, nil
	}
	if src.hasLocalChanges() || src.f.hasPendingWriters() {
		return 0, false, nil // the server does not have the source's data yet
	}
	e, err := h.v.cache.Lookup(ctx, srcCl, srcPath)
	if err != nil || e.Type != ftpclient.TypeFile || (length < e.Size && length < maxKernelCopy) {
		return 0, false, nil // not (known to be) the whole source
	}
	j, err := h.startJob(srcCl, srcPath, false)
	if err != nil {
		return 0, true, err
	}
	n, err := h.awaitJob(ctx, j, length)
	return n, true, err
}

// finishJob applies the end of the server-side copy j to the handle: on
// success the file is the copy (a temporary renamed over the original), on
// failure the handle fails (fxpcopy removed what it wrote). It returns what
// the program is told was copied of length. wmu held.
func (h *Handle) finishJob(j *copyJob, length int64) (int64, error) {
	ctx := h.ctx // the call that asked may be gone: finish regardless
	if j.err != nil {
		// fxpcopy removed a destination it had touched; one it left intact
		// (its STOR was refused) was never written.
		if fxpcopy.DestinationIntact(j.err) && h.tkind == targetNew {
			h.target, h.tkind = "", targetNone
		}
		return 0, h.failLocked(j.err)
	}
	dstPath := h.currentPath()
	if h.tkind == targetNew {
		h.markOpened()
	} else {
		mode, err := h.commit(ctx, dstPath, nil)
		if err != nil {
			return 0, h.failLocked(err)
		}
		if mode != nil {
			h.v.cache.Update(h.cl, dstPath, func(e *ftpclient.Entry) { e.Mode = *mode })
		}
	}
	h.target, h.tkind, h.existed = "", targetNone, true
	size := j.rec.Size
	n := min(length, size)
	h.st, h.size, h.dirty = stateCopied, size, false
	h.fxp = &fxpDone{cl: j.srcCl, path: j.srcPath, size: size, claimed: n}
	h.rd.close()
	h.rd.expect(&ftpclient.Expect{Size: size})
	h.syncOverlay()
	now := time.Now()
	h.v.cache.Update(h.cl, dstPath, func(e *ftpclient.Entry) {
		e.Type, e.Size, e.Mtime = ftpclient.TypeFile, size, now
	})
	h.f.node.Changed()
	return n, nil
}

// settle turns a copied file into a clean one before it is used otherwise:
// cut to what the program was told was copied, if that is less. wmu held.
func (h *Handle) settle() error {
	if h.st != stateCopied {
		return nil
	}
	d := h.fxp
	h.st, h.base, h.fxp = stateClean, h.size, nil
	if d.claimed < d.size {
		h.v.log.Info("kernel copy stopped before the end of the source: cutting the destination",
			"server", h.cl.Name(), "path", h.path, "copied", d.size, "claimed", d.claimed)
		return h.truncateLocked(d.claimed)
	}
	return nil
}

// relay copies exactly [offIn, offIn+length) of src to offOut of h through
// this host: read through src, written through h. An interrupted relay
// returns what it copied so far (EINTR if nothing).
func (h *Handle) relay(ctx context.Context, src *Handle, offIn, offOut, length int64) (int64, error) {
	buf := make([]byte, min(length, relayChunk))
	var done int64
	for done < length {
		if done > 0 && ctx.Err() != nil {
			break
		}
		want := min(length-done, int64(len(buf)))
		r, err := src.Read(ctx, buf[:want], offIn+done)
		if err != nil {
			return partial(done, err)
		}
		data := r.Bytes(buf)
		if len(data) == 0 {
			r.Done()
			break // the end of the source
		}
		n, err := h.Write(ctx, data, offOut+done)
		r.Done()
		done += int64(n)
		if err != nil {
			return partial(done, err)
		}
	}
	if done == 0 && ctx.Err() != nil {
		return 0, ctx.Err()
	}
	return done, nil
}

// partial is what a copy that moved done bytes and then failed returns:
// the bytes, if any (a failure is sticky: the next call or close reports
// it), else the error.
func partial(done int64, err error) (int64, error) {
	if done > 0 {
		return done, nil
	}
	return 0, err
}
