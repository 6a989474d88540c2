// Package fusefs presents several FTP servers as one FUSE file system, built
// on github.com/hanwen/go-fuse/v2/fs.
//
// The mount root holds one directory per server (an ftpclient.Client);
// below it, directories, files and symlinks mirror the server. Attributes and
// directory contents come from the listing cache (package cache): lookup,
// stat and readdir on a cached directory send no FTP command. Open files
// live in package vfs (internal/vfs), which runs without FUSE: reads with
// read-ahead, writes streamed or spooled and uploaded, kernel copies done
// server-to-server, cleanup after failures. A fileHandle here only adapts a
// vfs.Handle to go-fuse and maps its errors (errno.go). fusefs never speaks
// FTP itself: every operation is one call into vfs, ftpclient or cache.
//
// Behaviour where FTP cannot do what POSIX asks (documented for users):
//   - chmod and utimens on a server without SITE CHMOD / MFMT / SITE UTIME
//     succeed; the new mode or mtime is kept in the listing cache until the
//     listing expires (so `cp -p` and `rsync -a` work), then the server's
//     values show again. chown is accepted and ignored.
//   - statfs reports a large, constant amount of free space (FTP has no
//     standard way to ask), 255-byte names, and 1 MiB blocks.
//   - a rename onto a different server fails with EXDEV, so mv copies.
//   - a file created through the mount exists on the server once it is
//     closed (the upload happens while it is written or at close); close(2)
//     reports a failed upload as EIO and the partial file is removed.
//   - no extended attributes (EOPNOTSUPP), hard links or symlink creation.
//     Symlinks the servers list point inside their server's folder only
//     (symlink.go), unless Options.RawSymlinks.
//   - reads go through the kernel page cache (read-ahead; a second read
//     of an unchanged file sends nothing), kept while the listing shows
//     the same size and mtime and the mount has not written the file;
//     Options.DirectIO turns that off. Writes of write-only handles use
//     direct I/O. See pagecache.go.
//
// Kernel copies (cp, mv across servers, cat a > b) arrive as
// copy_file_range and become one server-to-server copy by fxpcopy (see
// copy.go and vfs).
package fusefs

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/fxpfs/fxpfs/cache"
	"github.com/fxpfs/fxpfs/ftpclient"
	"github.com/fxpfs/fxpfs/fxpcopy"
	"github.com/fxpfs/fxpfs/internal/vfs"
)

// Options configure the file system and its mount.
type Options struct {
	ReadOnly   bool // every change fails with EROFS
	AllowOther bool // other users may access the mount (needs user_allow_other for non-root)
	Debug      bool // log every FUSE request (go-fuse trace)

	// SetOwner makes every file owned by UID:GID; otherwise by the mounting user.
	SetOwner bool
	UID, GID uint32

	// TempDir is where non-sequential writes spool; default os.TempDir().
	TempDir string
	// ReadAhead is how far (bytes) a reader's RETR stream runs ahead of the
	// kernel's requests; default 4 MiB.
	ReadAhead int
	// FsName is shown by df/mount as the source; default "fxpfs".
	FsName string
	// DirectIO makes read-only handles bypass the kernel page cache (no
	// read-ahead, no caching across opens): see pagecache.go.
	DirectIO bool
	// MatchMin is the smallest file whose copy by read and write (rsync,
	// gio copy, ...) between servers is done by FXP instead of an upload
	// (vfs stream matching); 0: vfs.DefaultMatchMin, negative: never.
	MatchMin int64
	// ReadAheadKB is the kernel's read-ahead for the mount (its bdi's
	// read_ahead_kb), set after mounting where fxpfs may (as root): 0 means
	// DefaultReadAheadKB, negative leaves the kernel's (128 KiB). See
	// readahead.go.
	ReadAheadKB int
	// RawSymlinks shows symlink targets as the servers list them, so an
	// absolute target points into this host's files; by default they are
	// confined to their server's folder (symlink.go).
	RawSymlinks bool

	Logger *slog.Logger // default slog.Default()
}

// Tunables.
const (
	maxWrite  = 1 << 20 // FUSE read/write request size
	blockSize = 1 << 20 // st_blksize: makes cat/cp use 1 MiB buffers
)

// server is one FTP server in the mount.
type server struct {
	name  string
	cl    *ftpclient.Client
	inode *fs.Inode // its directory under the root
}

// Root is the mount root: one directory per server. Build it with NewRoot
// and mount it with Mount.
type Root struct {
	fs.Inode

	servers []*server
	cache   *cache.Cache
	vfs     *vfs.VFS // open files: reads, writes, uploads, kernel copies
	opts    Options
	log     *slog.Logger
	started time.Time

	// epoch is bumped by every unlink, rmdir and rename: new inodes take it
	// as their generation, so a node that moved away never aliases a new
	// file at its old path (see stableAttr).
	epoch atomic.Uint64
	// reads counts READ requests, keptOpens the opens that kept the
	// kernel's cached pages (tests check read-ahead and caching).
	reads, keptOpens atomic.Int64

	trashes    *vfs.Trashes // the servers' trashes (internal/vfs/trash.go)
	trashMu    sync.Mutex
	trashNodes map[uint32]*trashRoot // MOUNT/.Trash-UID, made by lookup (trash.go)
}

// NewRoot returns the root of a mount of clients (one directory each, named
// Client.Name()), with listings from c and server-to-server copies by eng
// (which may be nil: copy_file_range then falls back to read/write).
func NewRoot(clients []*ftpclient.Client, c *cache.Cache, eng *fxpcopy.Engine, opts Options) (*Root, error) {
	if c == nil {
		return nil, fmt.Errorf("fusefs: no cache")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if !opts.SetOwner {
		opts.UID, opts.GID = uint32(os.Getuid()), uint32(os.Getgid())
	}
	if opts.ReadAhead > 0 {
		opts.ReadAhead = max(opts.ReadAhead, 2*maxWrite) // one kernel request always fits
	}
	if opts.FsName == "" {
		opts.FsName = "fxpfs"
	}
	r := &Root{cache: c, opts: opts, log: opts.Logger, started: time.Now()}
	r.vfs = vfs.New(c, eng, vfs.Options{TempDir: opts.TempDir, ReadAhead: opts.ReadAhead, MatchMin: opts.MatchMin,
		Logger: opts.Logger})
	seen := make(map[string]bool)
	for _, cl := range clients {
		name := cl.Name()
		if err := ftpclient.ValidateName(name); err != nil {
			return nil, fmt.Errorf("fusefs: server name %q: %w", name, err)
		}
		if seen[name] {
			return nil, fmt.Errorf("fusefs: two servers named %q", name)
		}
		seen[name] = true
		r.servers = append(r.servers, &server{name: name, cl: cl})
	}
	r.trashes = r.vfs.NewTrashes(clients)
	return r, nil
}

// serverOf returns the server of cl.
func (r *Root) serverOf(cl *ftpclient.Client) *server {
	for _, s := range r.servers {
		if s.cl == cl {
			return s
		}
	}
	panic("fusefs: a client that is not one of the mount's servers")
}

// Close releases what the file system keeps outside the mount (the spool
// directory). Call it after the mount has ended.
func (r *Root) Close() error { return r.vfs.Close() }

// OnAdd creates the server directories when the root is mounted.
func (r *Root) OnAdd(ctx context.Context) {
	for _, s := range r.servers {
		d := &dirNode{node: node{root: r, srv: s}}
		s.inode = r.NewPersistentInode(ctx, d, fs.StableAttr{Mode: syscall.S_IFDIR, Ino: inoOf(s.name, "/")})
		r.AddChild(s.name, s.inode, true)
	}
}

// FSOptions returns the go-fuse options for mounting r: kernel cache
// timeouts tied to the shortest listing TTL, 1 MiB requests, and the mount
// flags from Options. Mount uses it; tests may pass it to fs.Mount.
func (r *Root) FSOptions() *fs.Options {
	ttl := r.minTTL()
	neg := ttl
	o := &fs.Options{
		EntryTimeout:    &ttl,
		AttrTimeout:     &ttl,
		NegativeTimeout: &neg,
		UID:             r.opts.UID,
		GID:             r.opts.GID,
		RootStableAttr:  &fs.StableAttr{Ino: 1, Mode: syscall.S_IFDIR},
		MountOptions: fuse.MountOptions{
			AllowOther:   r.opts.AllowOther,
			Debug:        r.opts.Debug,
			FsName:       r.opts.FsName,
			Name:         "fxpfs",
			MaxWrite:     maxWrite,
			MaxReadAhead: maxWrite,
			// Open(O_TRUNC) arrives as one OPEN instead of OPEN + SETATTR;
			// direct-I/O handles may still be mmapped.
			ExtraCapabilities: fuse.CAP_ATOMIC_O_TRUNC | fuse.CAP_DIRECT_IO_ALLOW_MMAP,
			// Page-cache reads: the kernel's read-ahead requests go out
			// asynchronously (several in flight, possibly out of order
			// within the read-ahead window, which the stream's window
			// covers). With direct I/O, reads of one handle arrive in
			// order, one at a time.
			SyncRead: r.opts.DirectIO,
			// Read replies are plain byte slices: splicing them only adds
			// a pipe (too small for 1 MiB replies).
			DisableSplice: true,
			// FTP has no extended attributes. ENOSYS once makes the kernel
			// answer EOPNOTSUPP itself from then on (cp -p accepts that)
			// and saves a GETXATTR round trip before every write.
			DisableXAttrs: true,
		},
	}
	if r.opts.ReadOnly {
		o.MountOptions.Options = append(o.MountOptions.Options, "ro")
	}
	return o
}

// minTTL is the shortest listing TTL of all servers (at least 1s).
func (r *Root) minTTL() time.Duration {
	ttl := time.Duration(0)
	for _, s := range r.servers {
		if t := r.cache.TTL(s.cl); ttl == 0 || t < ttl {
			ttl = t
		}
	}
	if ttl < time.Second {
		ttl = time.Second
	}
	return ttl
}

// Mount mounts root at mountpoint and serves it in the background. When ctx
// is done the file system is unmounted; callers wait for the end with
// (*fuse.Server).Wait.
func Mount(ctx context.Context, mountpoint string, root *Root) (*fuse.Server, error) {
	srv, err := fs.Mount(mountpoint, root, root.FSOptions())
	if err != nil {
		return nil, fmt.Errorf("mount %s: %w", mountpoint, err)
	}
	root.setReadAhead(mountpoint)
	served := make(chan struct{})
	go func() {
		srv.Wait()
		close(served)
	}()
	go func() {
		select {
		case <-served:
		case <-ctx.Done():
			if err := srv.Unmount(); err != nil {
				root.log.Warn("unmount", "mountpoint", mountpoint, "err", err)
			}
		}
	}()
	return srv, nil
}

// inoOf derives a stable inode number from (server, path).
func inoOf(server, p string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(server))
	h.Write([]byte{0})
	h.Write([]byte(p))
	ino := h.Sum64() &^ (1 << 63) // below go-fuse's automatic numbers
	if ino <= 1 {
		ino += 2 // 1 is the root
	}
	return ino
}
