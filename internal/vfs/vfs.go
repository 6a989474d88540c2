package vfs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fxpfs/fxpfs/cache"
	"github.com/fxpfs/fxpfs/ftpclient"
	"github.com/fxpfs/fxpfs/fxpcopy"
	"github.com/fxpfs/fxpfs/internal/vfs/streammatch"
)

// Errors a Handle returns besides those of ftpclient, fxpcopy and the local
// spool (which it wraps).
var (
	// ErrBadHandle: the handle was released, or is not open for writing.
	ErrBadHandle = errors.New("bad file handle")
	// ErrFailed: an upload through this handle failed earlier (sticky).
	ErrFailed = errors.New("upload failed")
)

// Options configure a VFS.
type Options struct {
	// TempDir is where spools go, inside a private directory (0700) made
	// on first use and removed by Close; default os.TempDir().
	TempDir string
	// ReadAhead is how far (bytes) a reader's RETR stream runs ahead of
	// the requests; default 4 MiB.
	ReadAhead int
	// IdleClose: a read stream nobody reads from for this long gives its
	// connection back (a later read resumes with REST); default 5s.
	IdleClose time.Duration

	// MatchMin is the smallest source whose copy by read and write
	// (rsync, gio copy...) is replaced by FXP (match.go): 0 (the default)
	// measures it from the servers' round trips and the upload rate
	// (link.go); negative: never match.
	MatchMin int64
	// MatchBlock is the stream matcher's block size (streammatch); default
	// streammatch.DefaultBlockSize.
	MatchBlock int

	Logger *slog.Logger // default slog.Default()
}

// Defaults.
const (
	defaultReadAhead = 4 << 20
	defaultIdleClose = 5 * time.Second
)

// VFS holds what every open file shares: the listing cache, the copy
// engine, the spool directory. Safe for concurrent use.
type VFS struct {
	cache *cache.Cache
	eng   *fxpcopy.Engine
	opts  Options
	log   *slog.Logger

	// spools counts spool files created (tests check streaming uses none).
	spools atomic.Int64

	spoolMu  sync.Mutex
	spoolDir string // private directory of the spools, "" until first use

	copyGrace time.Duration // copy_job.go; fields for tests
	copyFn    func(ctx context.Context, src, dst fxpcopy.Endpoint, opts fxpcopy.Options) (fxpcopy.Record, error)
	temps     inflight           // temporary names being written (replace.go)
	ix        *streammatch.Index // what readers were served (match.go); nil: no matching
	clients   sync.Map           // server name → *ftpclient.Client, of every File made
	links     sync.Map           // *ftpclient.Client → *linkStats (link.go)
}

// New returns a VFS over the listing cache c, with server-to-server copies
// by eng (nil: kernel copies fall back to read/write).
func New(c *cache.Cache, eng *fxpcopy.Engine, opts Options) *VFS {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.TempDir == "" {
		opts.TempDir = os.TempDir()
	}
	if opts.ReadAhead <= 0 {
		opts.ReadAhead = defaultReadAhead
	}
	if opts.IdleClose <= 0 {
		opts.IdleClose = defaultIdleClose
	}
	if opts.MatchBlock <= 0 {
		opts.MatchBlock = streammatch.DefaultBlockSize
	}
	v := &VFS{cache: c, eng: eng, opts: opts, log: opts.Logger, copyGrace: copyGrace}
	if eng != nil {
		v.copyFn = eng.Copy
		if opts.MatchMin >= 0 {
			v.ix = streammatch.NewIndex(streammatch.Options{BlockSize: opts.MatchBlock})
		}
	}
	return v
}

// Cache is the listing cache the VFS keeps up to date.
func (v *VFS) Cache() *cache.Cache { return v.cache }

// Spools is the number of spool files created so far.
func (v *VFS) Spools() int64 { return v.spools.Load() }

// Close removes the spool directory. Open handles must be released first.
func (v *VFS) Close() error {
	v.spoolMu.Lock()
	defer v.spoolMu.Unlock()
	if v.spoolDir == "" {
		return nil
	}
	err := os.RemoveAll(v.spoolDir)
	v.spoolDir = ""
	return err
}

// newSpool returns a new unnamed (already unlinked) spool file, 0600, in
// the private spool directory.
func (v *VFS) newSpool() (*os.File, error) {
	v.spoolMu.Lock()
	if v.spoolDir == "" {
		d, err := os.MkdirTemp(v.opts.TempDir, "fxpfs-spool-")
		if err != nil {
			v.spoolMu.Unlock()
			return nil, err
		}
		v.spoolDir = d
	}
	dir := v.spoolDir
	v.spoolMu.Unlock()
	f, err := os.CreateTemp(dir, "spool-*")
	if err != nil {
		return nil, err
	}
	v.spools.Add(1)
	_ = os.Remove(f.Name()) // unnamed: gone when closed, whatever happens
	return f, nil
}

// SetMeta sets mtime and/or mode (either may be nil) of p on cl's server
// and in the cache. Where the server cannot (ErrUnsupported) the call
// succeeds and the value is kept in the cache until the listing expires.
func (v *VFS) SetMeta(ctx context.Context, cl *ftpclient.Client, p string, mtime *time.Time, mode *os.FileMode) error {
	if mtime != nil {
		t := *mtime
		if err := cl.SetModTime(ctx, p, t); err != nil && !errors.Is(err, ftpclient.ErrUnsupported) {
			return err
		}
		v.cache.Update(cl, p, func(e *ftpclient.Entry) { e.Mtime = t })
	}
	if mode != nil {
		m := *mode
		if err := cl.Chmod(ctx, p, m); err != nil && !errors.Is(err, ftpclient.ErrUnsupported) {
			return err
		}
		v.cache.Update(cl, p, func(e *ftpclient.Entry) { e.Mode = m })
	}
	return nil
}

// Node is what the VFS needs from the layer above for one file (fusefs's
// file node implements it): where the file is now, and how to tell the
// kernel about changes it did not make itself. Gone and Changed may wait
// for the kernel only briefly and bounded: they are called with the
// handle's locks held, while a kernel request may be under way.
type Node interface {
	// Path is the file's current mount path on its server (it may have
	// been renamed while open); an error once it was unlinked.
	Path() (string, error)
	// Gone: the file is no longer on the server (a failed upload was
	// removed); the mount must drop its entry.
	Gone()
	// Changed: the attributes or content the kernel holds are stale.
	Changed()
}

// File is one regular file of a server, as long as the layer above keeps
// it: it knows its open writers (for stat while writing, times and modes
// set on an open file, unlink and rename of an open file).
type File struct {
	v    *VFS
	cl   *ftpclient.Client
	node Node

	mu      sync.Mutex
	handles map[*Handle]struct{} // open handles
	writers map[*Handle]struct{} // those that may write
}

// NewFile returns the File of node n on cl's server.
func (v *VFS) NewFile(cl *ftpclient.Client, n Node) *File {
	v.clients.LoadOrStore(cl.Name(), cl)
	return &File{v: v, cl: cl, node: n}
}

// client returns the server named name, nil if no File of it was made.
func (v *VFS) client(name string) *ftpclient.Client {
	if c, ok := v.clients.Load(name); ok {
		return c.(*ftpclient.Client)
	}
	return nil
}

// Forget tells stream matching that p on cl's server was changed, renamed
// or removed through the mount: what was read of it proves nothing now.
func (v *VFS) Forget(cl *ftpclient.Client, p string) {
	if v.ix != nil {
		v.ix.Forget(cl.Name(), p)
	}
}

// Client is the file's server.
func (f *File) Client() *ftpclient.Client { return f.cl }

// addHandle and removeHandle track the open handles.
func (f *File) addHandle(h *Handle) {
	f.mu.Lock()
	if f.handles == nil {
		f.handles = make(map[*Handle]struct{})
		f.writers = make(map[*Handle]struct{})
	}
	f.handles[h] = struct{}{}
	if h.writing {
		f.writers[h] = struct{}{}
	}
	f.mu.Unlock()
}

func (f *File) removeHandle(h *Handle) {
	f.mu.Lock()
	delete(f.handles, h)
	delete(f.writers, h)
	f.mu.Unlock()
}

// DropReadAhead empties the read-ahead window of every open handle of f
// (its content changed): the next read of each starts a new RETR at its
// offset.
func (f *File) DropReadAhead() {
	f.mu.Lock()
	hs := make([]*Handle, 0, len(f.handles))
	for h := range f.handles {
		hs = append(hs, h)
	}
	f.mu.Unlock()
	for _, h := range hs {
		h.rd.close()
	}
}

// snapshotWriters returns the open writers.
func (f *File) snapshotWriters() []*Handle {
	f.mu.Lock()
	defer f.mu.Unlock()
	hs := make([]*Handle, 0, len(f.writers))
	for h := range f.writers {
		hs = append(hs, h)
	}
	return hs
}

// HasWriters reports whether the file has open handles that may write.
func (f *File) HasWriters() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.writers) > 0
}

// Overlay replaces size and mtime in e with those of a writer that has
// changed the file, so the kernel never sees a file shrink under its writes.
func (f *File) Overlay(e *ftpclient.Entry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for h := range f.writers {
		if size, mtime, ok := h.written(); ok {
			e.Size, e.Mtime = size, mtime
		}
	}
}

// DeferMeta hands mtime/mode (nil: not set) to writers that have not
// finished uploading (cp -p sets them on the open descriptor before close),
// to be applied after the upload, and reports whether any took them: the
// caller then has nothing to send to the server now.
func (f *File) DeferMeta(mtime *time.Time, mode *os.FileMode) bool {
	if mtime == nil && mode == nil {
		return true // nothing else to do (uid/gid, atime)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	deferred := false
	for h := range f.writers {
		if h.setPendingMeta(mtime, mode) {
			deferred = true
		}
	}
	return deferred
}

// Discard makes open writers drop their data (the file is being unlinked)
// and reports whether the file exists only in such writers (created
// through the mount and never uploaded).
func (f *File) Discard() (pendingOnly bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for h := range f.writers {
		if h.discard() {
			pendingOnly = true
		}
	}
	return pendingOnly
}

// FlushWriters uploads what open writers of f hold (before a rename: RNFR
// needs the file on the server).
func (f *File) FlushWriters(ctx context.Context) error {
	for _, h := range f.snapshotWriters() {
		if err := h.Fsync(ctx); err != nil {
			return err
		}
	}
	return nil
}

// hasPendingWriters reports whether any open writer of f holds data the
// server lacks.
func (f *File) hasPendingWriters() bool {
	for _, h := range f.snapshotWriters() {
		if h.hasLocalChanges() {
			return true
		}
	}
	return false
}

// Truncate is truncate(2) by path: a short-lived writer does it.
func (f *File) Truncate(ctx context.Context, size int64) error {
	p, err := f.node.Path()
	if err != nil {
		return err
	}
	e, err := f.v.cache.Lookup(ctx, f.cl, p)
	if err != nil {
		return err
	}
	if e.Size == size {
		return nil
	}
	h := f.newHandle(p, os.O_WRONLY, false)
	h.base, h.existed, h.origMode = e.Size, true, e.Mode
	defer h.Release(ctx)
	if err := h.Truncate(ctx, size); err != nil {
		return err
	}
	return h.Flush(ctx)
}

// path returns the file's current path, else fallback (where it was opened).
func (f *File) path(fallback string) string {
	if p, err := f.node.Path(); err == nil {
		return p
	}
	return fallback
}

// cleanupCtx gives cleanup a bounded time even when ctx is done.
func cleanupCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
}

// cleanupTimeout bounds one cleanup step (DELE, RNFR/RNTO back).
const cleanupTimeout = 30 * time.Second

// errorf wraps err with an operation and path.
func errorf(op, p string, err error) error { return fmt.Errorf("%s %s: %w", op, p, err) }
