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
	served    servedLog          // served bytes on their way to ix (served.go)
	spread    atomic.Int64       // how much further than ReadAhead the kernel's read-ahead requests come apart (read.go learn)
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
	v.served.close()
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

// cleanupCtx gives cleanup a bounded time even when ctx is done.
func cleanupCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
}

// cleanupTimeout bounds one cleanup step (DELE, RNFR/RNTO back).
const cleanupTimeout = 30 * time.Second

// removeLeftover deletes p (what a failed or abandoned upload or copy left,
// named by what in the log) from cl's server within cleanupTimeout, even
// when ctx is done, and drops it from the cache. A file already gone is
// fine; any other failure is logged at level.
func (v *VFS) removeLeftover(ctx context.Context, cl *ftpclient.Client, p, what string, level slog.Level) {
	cctx, cancel := cleanupCtx(ctx)
	defer cancel()
	if err := cl.Remove(cctx, p); err != nil && !errors.Is(err, ftpclient.ErrNotFound) {
		v.log.Log(cctx, level, "could not remove "+what, "server", cl.Name(), "path", p, "err", err)
	}
	v.cache.Remove(cl, p)
}

// errorf wraps err with an operation and path.
func errorf(op, p string, err error) error { return fmt.Errorf("%s %s: %w", op, p, err) }
