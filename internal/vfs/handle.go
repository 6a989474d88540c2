package vfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
	"github.com/fxpfs/fxpfs/internal/vfs/streammatch"
)

// state is where a writing handle's file is in its life (see the package
// doc for the transitions).
type state int

const (
	stateClean     state = iota // nothing written since open or the last upload: the server's file (base bytes) is the file
	stateStreaming              // [0,size) written in order, flowing into one STOR (or APPE) now
	stateSpooled                // the content is in a local spool file, uploaded at flush
	stateCopied                 // filled by a server-side copy (copy.go); nothing local
	stateMatching               // written from 0 with bytes read elsewhere: FXP instead of upload (match.go)
	stateFailed                 // an upload failed and was cleaned up; sticky
)

func (s state) String() string {
	switch s {
	case stateClean:
		return "clean"
	case stateStreaming:
		return "streaming"
	case stateSpooled:
		return "spooled"
	case stateCopied:
		return "copied"
	case stateFailed:
		return "failed"
	case stateMatching:
		return "matching"
	}
	return "?"
}

// targetKind says what an upload under way writes, and so what a failure
// must clean up.
type targetKind int

const (
	targetNone    targetKind = iota // nothing sent yet
	targetNew                       // STOR to the file's name, which did not exist: removed on failure
	targetTemp                      // STOR to a temporary name: removed on failure, the original untouched
	targetAppend                    // APPE onto the existing file: kept on failure (its original bytes are intact)
	targetInPlace                   // STOR over the existing file (no temporary possible): removed on failure
)

// Handle is an open file. See the package doc for its states and locks.
type Handle struct {
	f       *File
	v       *VFS
	cl      *ftpclient.Client
	path    string // mount path when opened
	writing bool   // opened for writing (or created)

	ctx    context.Context // the handle's lifetime: its RETR and STOR run under it
	cancel context.CancelFunc

	mu       sync.RWMutex // entry points RLock; Release Locks
	released bool

	rd *reader

	// Write state, under wmu.
	wmu   sync.Mutex
	st    state
	base  int64            // stateClean: the file's size on the server
	size  int64            // stateStreaming: bytes written; stateSpooled: spool size; stateCopied: copied size
	up    ftpclient.Upload // stateStreaming: the upload in flight, if any (set with setUp)
	upNow atomic.Value     // upBox{up}: for Discard, which aborts it without wmu
	spool *os.File         // stateSpooled
	dirty bool             // the server lacks what this handle wrote
	werr  error            // stateFailed: why
	fxp   *fxpDone         // stateCopied: the copy that filled the file (copy.go)
	job   *copyJob         // a server-side copy under way (copy_job.go)
	m     *matching        // stateMatching: the stream matcher (match.go)

	tap *streammatch.Tap // read-only handles: what the mount served, for stream matching

	// Where uploads go (see replace.go). existed: the server has a file at
	// the name that a failed upload must not cost (the original, or this
	// handle's last upload); uploads of the whole file then go to a
	// temporary name, renamed over the file once complete.
	existed   bool
	clash     bool        // created next to a name differing in case only (see VFS.caseClash)
	origMode  os.FileMode // the existing file's mode as listed (0: unknown), kept by a replacement
	target    string      // the path the upload under way writes, "" if none
	tkind     targetKind  // what target is
	tempDone  bool        // the temporary holds the whole file (truncated, nothing written): see flushLocked
	upStart   time.Time   // when the last STOR started (link.go measures the upload rate)
	openTrunc bool        // truncated by open(O_TRUNC), nothing done since: see flushLocked

	// Mirror of the write state for stat and setattr of the file, which
	// must not wait for a write blocked on the network. Under omu.
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

// Open opens a handle on f. flags are open(2) flags: O_ACCMODE, and
// O_TRUNC, which starts the handle from an empty file to be uploaded.
// Nothing is sent to the server: a reader's RETR starts with its first
// read, a writer's upload with its first write or at flush.
func (f *File) Open(ctx context.Context, flags int) (*Handle, error) {
	p, err := f.node.Path()
	if err != nil {
		return nil, err
	}
	h := f.newHandle(p, flags, false)
	if !h.writing {
		// The size the listing promised: a download that ends before it is
		// checked against the server (ftpclient.OpenReadExpect).
		if e, err := f.v.cache.Lookup(ctx, f.cl, p); err == nil && e.Type == ftpclient.TypeFile {
			h.rd.expect(&ftpclient.Expect{Size: e.Size, Mtime: e.Mtime})
			if f.v.ix != nil {
				h.tap = f.v.ix.Tap(streammatch.SourceID{Server: f.cl.Name(), Path: p, Size: e.Size, Mtime: e.Mtime})
			}
		}
	} else {
		e, err := f.v.cache.Lookup(ctx, f.cl, p)
		switch {
		case err == nil:
			h.existed, h.origMode = true, e.Mode
			if !h.truncated() {
				h.base = e.Size
				h.rd.expect(&ftpclient.Expect{Size: e.Size, Mtime: e.Mtime})
			}
		case h.truncated() && errors.Is(err, ftpclient.ErrNotFound):
			// Gone from the server meanwhile: written as a new file.
		case h.truncated():
			h.existed = true // unknown: assume there is a file to keep
		default:
			h.Release(ctx)
			return nil, err
		}
	}
	return h, nil
}

// Create opens a handle on a file just created at p (absent from the
// server until its upload). A mode other than the servers' usual 0644 is
// set after the upload (SITE CHMOD, where the server has it).
func (f *File) Create(p string, flags int, perm os.FileMode) *Handle {
	h := f.newHandle(p, flags, true)
	h.clash = f.v.caseClash(f.cl, p)
	if perm != DefaultFileMode {
		h.pendMode = &perm
	}
	return h
}

// DefaultFileMode is the mode servers give new files (umask 022).
const DefaultFileMode os.FileMode = 0o644

func (f *File) newHandle(p string, flags int, create bool) *Handle {
	ctx, cancel := context.WithCancel(context.Background())
	h := &Handle{
		f: f, v: f.v, cl: f.cl, path: p,
		writing: create || flags&syscall.O_ACCMODE != syscall.O_RDONLY,
		ctx:     ctx, cancel: cancel,
		created: create,
	}
	h.rd = newReader(h)
	if h.writing {
		if create || flags&syscall.O_TRUNC != 0 {
			h.st, h.dirty, h.openTrunc = stateStreaming, true, !create
			h.syncOverlay()
		}
	}
	f.addHandle(h)
	return h
}

// truncated reports whether the handle starts from an empty file.
func (h *Handle) truncated() bool { return h.st == stateStreaming && h.size == 0 }

// currentPath is where the file is now, else where it was opened.
func (h *Handle) currentPath() string { return h.f.path(h.path) }

// Writing reports whether the handle was opened for writing.
func (h *Handle) Writing() bool { return h.writing }

// Path is the path the handle was opened at.
func (h *Handle) Path() string { return h.path }

// File is the handle's file.
func (h *Handle) File() *File { return h.f }

// Read returns up to len(dest) bytes at off: this handle's own written
// data from its spool, else the server's file through the read-ahead
// stream. The Reply must be Done once used.
func (h *Handle) Read(ctx context.Context, dest []byte, off int64) (*Reply, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.released {
		return nil, ErrBadHandle
	}
	if h.writing {
		h.wmu.Lock()
		if h.st == stateFailed {
			h.wmu.Unlock()
			return nil, h.failedErr()
		}
		h.abandonJob("the program read the file instead")
		if h.st == stateCopied && h.fxp.claimed < h.fxp.size {
			if err := h.settle(); err != nil { // bytes beyond the copy's end are not the file's
				h.wmu.Unlock()
				return nil, err
			}
		}
		if h.st != stateClean && h.st != stateCopied {
			defer h.wmu.Unlock()
			if err := h.toSpool(); err != nil {
				return nil, h.failLocked(err)
			}
			n, err := h.spool.ReadAt(dest, off)
			if err != nil && !errors.Is(err, io.EOF) {
				return nil, errorf("read spool of", h.path, err)
			}
			return dataReply(dest[:n]), nil
		}
		h.wmu.Unlock()
	}
	r, err := h.rd.read(len(dest), off)
	if err == nil && h.tap != nil {
		h.v.served.served(h.tap, h.cl.Name(), h.path, off, r) // before the reply goes out
	}
	return r, err
}

// Write writes data at off.
func (h *Handle) Write(ctx context.Context, data []byte, off int64) (int, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.released || !h.writing {
		return 0, ErrBadHandle
	}
	h.wmu.Lock()
	defer h.wmu.Unlock()
	if h.st == stateFailed {
		return 0, h.failedErr()
	}
	n, err := h.write(data, off)
	h.syncOverlay()
	return n, err
}

// Flush is called at every close(2): it finishes the upload; a failed
// upload is reported here (the kernel ignores Release's result).
func (h *Handle) Flush(ctx context.Context) error { return h.flush(false) }

// Fsync is Flush, and also commits a truncation nothing was written after
// (see flushLocked). The handle stays writable.
func (h *Handle) Fsync(ctx context.Context) error { return h.flush(true) }

func (h *Handle) flush(final bool) error {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.released || !h.writing {
		return nil
	}
	h.wmu.Lock()
	defer h.wmu.Unlock()
	return h.flushLocked(final)
}

// Release closes the handle: a last upload if none was flushed, then the
// streams and the spool go.
func (h *Handle) Release(ctx context.Context) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.released {
		return
	}
	h.released = true
	if h.writing {
		h.wmu.Lock()
		if h.st != stateFailed && (h.up != nil || h.dirty || h.job != nil) {
			if err := h.flushLocked(true); err != nil {
				h.v.log.Warn("upload at release failed", "server", h.cl.Name(), "path", h.path, "err", err)
			}
		}
		if h.up != nil {
			_ = h.up.Abort()
			h.setUp(nil)
		}
		if h.spool != nil {
			_ = h.spool.Close()
			h.spool = nil
		}
		h.wmu.Unlock()
	}
	h.f.removeHandle(h)
	if h.tap != nil {
		h.v.served.closeTap(h.tap)
	}
	h.rd.close()
	h.cancel()
}

// Truncate sets the file's size through this handle.
func (h *Handle) Truncate(ctx context.Context, size int64) error {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.released {
		return ErrBadHandle
	}
	h.wmu.Lock()
	defer h.wmu.Unlock()
	if h.st == stateFailed {
		return h.failedErr()
	}
	err := h.truncateLocked(size)
	h.syncOverlay()
	return err
}

// failedErr is what every call on a failed handle returns: ErrFailed,
// naming (not wrapping) the first failure.
func (h *Handle) failedErr() error { return fmt.Errorf("%w: %v", ErrFailed, h.werr) }
