package fusefs

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// The trash, as the freedesktop.org trash specification has it and GIO
// (Nautilus, most GTK file managers, `gio trash`) and gvfs's trash:// do it
// for a file system that is not the home one: the trash is in the mount's
// top directory, $topdir/.Trash-$uid (or a shared, sticky $topdir/.Trash,
// which fxpfs does not offer), with files/NAME holding the trashed file and
// info/NAME.trashinfo its original path (Path=, relative to $topdir) and
// deletion date. GIO moves the file there with rename(2), so it never
// copies; a failing rename fails the trash.
//
// fxpfs's top directory is the mount root, one folder per server, and a
// trashed file must stay on its own server (a server-side rename; the data
// never crosses this host). So:
//
//   - MOUNT/.Trash-UID (UID the caller's numeric uid; owned by it, found by
//     lookup, not listed by readdir) is virtual. Its folders files/, info/
//     and expunged/ show the union of SERVER/.Trash-UID/files, info and
//     expunged of every server: real folders on each server, made (MKD) the
//     first time something of that server is trashed.
//   - Moving MOUNT/b/f into MOUNT/.Trash-UID/files/NAME is RNFR/RNTO on
//     server b, to b's /.Trash-UID/files/NAME. Restoring (a rename from
//     files/ back into b's folders) and emptying (gvfs moves the file into
//     expunged/ and deletes it there) are renames and deletes on the server
//     that has it; a rename onto another server fails with EXDEV.
//   - GIO creates info/NAME.trashinfo exclusively (O_EXCL: that is how it
//     picks a free NAME), writes it (through a temporary file renamed over
//     it), then moves the file. Until the move, fxpfs cannot know the file's
//     server, so these info files are held in memory (pending, pendingInfo);
//     the move uploads the info file to the server the file is on, then
//     renames the file. A NAME is free only when no server has files/NAME
//     or info/NAME.trashinfo, so names are unique across servers. A pending
//     info file no move follows is dropped after pendingTTL.
//   - GIO offers to trash a file (access::can-trash) when its folder is
//     writable (access(W_OK)) and the mount has a trash; it cannot tell
//     servers apart. A server on which fxpfs cannot make its trash folder
//     (MKD refused) therefore answers access(W_OK) on its folders with
//     EACCES: GIO then says can-trash (and can-delete) FALSE for its files,
//     and file managers do not offer a trash that would fail. fxpfs learns
//     it the first time a folder of the server is checked, by making and
//     removing /.Trash-UID (MKD, RMD), or from a refused trash.

// Trash tunables.
const (
	pendingTTL     = 10 * time.Minute // a pending info file with no move after it is dropped
	maxPendingInfo = 1000             // pending info files per trash
	maxInfoSize    = 64 << 10         // bytes in one info file
	maxTrashes     = 64               // uids with a trash (lookups of more .Trash-UID find nothing)
)

// The folders of a trash.
const (
	trashFiles    = "files"
	trashInfo     = "info"
	trashExpunged = "expunged"
)

// trashName returns the name of uid's trash folder.
func trashName(uid uint32) string { return ".Trash-" + strconv.FormatUint(uint64(uid), 10) }

// parseTrashName returns the uid of a trash folder's name (".Trash-1000").
func parseTrashName(name string) (uint32, bool) {
	s, ok := strings.CutPrefix(name, ".Trash-")
	if !ok || s == "" || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, false
	}
	return uint32(n), true
}

// trashRoot is MOUNT/.Trash-UID. It lives as long as the mount.
type trashRoot struct {
	fs.Inode
	root *Root
	uid  uint32
	dirs map[string]*trashDir // files, info, expunged

	mu      sync.Mutex
	pending map[string]*pendingInfo // info files not on a server yet, by name
}

// trashDir is one folder of a trash: the union of that folder on every server.
type trashDir struct {
	fs.Inode
	tr  *trashRoot
	sub string // trashFiles, trashInfo or trashExpunged
}

// trash returns (making it on first use) the trash of uid, nil when there
// are maxTrashes already.
func (r *Root) trash(ctx context.Context, uid uint32) *trashRoot {
	r.trashMu.Lock()
	defer r.trashMu.Unlock()
	if tr, ok := r.trashes[uid]; ok {
		return tr
	}
	if len(r.trashes) >= maxTrashes {
		return nil
	}
	tr := &trashRoot{root: r, uid: uid, dirs: map[string]*trashDir{}, pending: map[string]*pendingInfo{}}
	name := trashName(uid)
	in := r.NewPersistentInode(ctx, tr, fs.StableAttr{Mode: syscall.S_IFDIR, Ino: inoOf("", name)})
	for _, sub := range []string{trashExpunged, trashFiles, trashInfo} {
		d := &trashDir{tr: tr, sub: sub}
		tr.dirs[sub] = d
		din := tr.NewPersistentInode(ctx, d, fs.StableAttr{Mode: syscall.S_IFDIR, Ino: inoOf("", name+"/"+sub)})
		in.AddChild(sub, din, true)
	}
	r.AddChild(name, in, true)
	if r.trashes == nil {
		r.trashes = map[uint32]*trashRoot{}
	}
	r.trashes[uid] = tr
	return tr
}

// dirAttr fills out for one of the trash's virtual directories.
func (tr *trashRoot) dirAttr(in *fs.Inode, out *fuse.Attr) {
	r := tr.root
	out.Ino = in.StableAttr().Ino
	out.Mode = syscall.S_IFDIR | 0o700
	out.Nlink = 2
	out.Size = 4096
	out.Blksize = blockSize
	out.Uid, out.Gid = tr.uid, r.opts.GID
	out.SetTimes(&r.started, &r.started, &r.started)
}

// Getattr describes MOUNT/.Trash-UID.
func (tr *trashRoot) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	tr.dirAttr(tr.EmbeddedInode(), &out.Attr)
	return 0
}

// Setattr is accepted and ignored (gvfs chmods the folders it uses).
func (tr *trashRoot) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return tr.Getattr(ctx, f, out)
}

// Readdir lists files, info and expunged.
func (tr *trashRoot) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	var list []fuse.DirEntry
	for _, sub := range []string{trashExpunged, trashFiles, trashInfo} {
		list = append(list, fuse.DirEntry{Name: sub, Mode: syscall.S_IFDIR, Ino: tr.dirs[sub].StableAttr().Ino})
	}
	return fs.NewListDirStream(list), 0
}

// Mkdir of files, info or expunged finds them there (EEXIST); nothing else
// can be made here.
func (tr *trashRoot) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if errno := tr.root.writable(); errno != 0 {
		return nil, errno
	}
	if _, ok := tr.dirs[name]; ok {
		return nil, syscall.EEXIST
	}
	return nil, syscall.EPERM
}

// Rmdir, Unlink and Rename of the trash's own folders are refused.
func (tr *trashRoot) Rmdir(ctx context.Context, name string) syscall.Errno  { return tr.root.refuse() }
func (tr *trashRoot) Unlink(ctx context.Context, name string) syscall.Errno { return tr.root.refuse() }
func (tr *trashRoot) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	return tr.root.refuse()
}

// Create is refused: files go into files/ or info/.
func (tr *trashRoot) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, tr.root.refuse()
}

// folder returns the path of the trash's folder sub on a server
// ("/.Trash-UID/files"); sub "" is the trash itself.
func (tr *trashRoot) folder(sub string) string {
	if sub == "" {
		return "/" + trashName(tr.uid)
	}
	return "/" + trashName(tr.uid) + "/" + sub
}

// hasFolder reports whether srv has the trash folder sub (from the cached
// listings of "/" and "/.Trash-UID": no command when they are cached).
func (tr *trashRoot) hasFolder(ctx context.Context, srv *server, sub string) (bool, error) {
	for _, p := range []string{tr.folder(""), tr.folder(sub)} {
		e, err := tr.root.cache.Lookup(ctx, srv.cl, p)
		if errors.Is(err, ftpclient.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if e.Type != ftpclient.TypeDir {
			return false, nil
		}
	}
	return true, nil
}

// ensureFolders makes the trash (and its folders subs) on srv where missing (MKD).
func (tr *trashRoot) ensureFolders(ctx context.Context, srv *server, subs ...string) error {
	r := tr.root
	paths := []string{tr.folder("")}
	for _, s := range subs {
		paths = append(paths, tr.folder(s))
	}
	for _, p := range paths {
		e, err := r.cache.Lookup(ctx, srv.cl, p)
		if err == nil {
			if e.Type != ftpclient.TypeDir {
				return &trashError{srv.name, p + " is not a folder", syscall.ENOTDIR}
			}
			continue
		}
		if !errors.Is(err, ftpclient.ErrNotFound) {
			return err
		}
		if err := srv.cl.Mkdir(ctx, p); err != nil && !errors.Is(err, ftpclient.ErrExists) {
			return err
		}
		r.changed(srv, change{put: p, entry: ftpclient.Entry{Type: ftpclient.TypeDir, Mtime: time.Now()}})
	}
	return nil
}

// trashError is a trash folder that is in the way (a file where the folder
// should be).
type trashError struct {
	server, what string
	errno        syscall.Errno
}

func (e *trashError) Error() string { return "trash on " + e.server + ": " + e.what }
func (e *trashError) Unwrap() error { return e.errno }

// find returns the server whose trash folder sub has name, and its entry
// (the first server in mount order, where several have it).
func (tr *trashRoot) find(ctx context.Context, sub, name string) (*server, ftpclient.Entry, error) {
	var firstErr error
	for _, srv := range tr.root.servers {
		ok, err := tr.hasFolder(ctx, srv, sub)
		if err == nil && ok {
			var e ftpclient.Entry
			e, err = tr.root.cache.Lookup(ctx, srv.cl, tr.folder(sub)+"/"+name)
			if err == nil {
				return srv, e, nil
			}
		}
		if err != nil && !errors.Is(err, ftpclient.ErrNotFound) && firstErr == nil {
			firstErr = err
		}
	}
	if firstErr != nil {
		tr.root.log.Debug("trash: a server could not be searched", "name", name, "err", firstErr)
	}
	return nil, ftpclient.Entry{}, syscall.ENOENT
}

// taken reports whether NAME (or NAME.trashinfo in info/) is used by any
// server's trash, or pending, other than by srv when srv is not nil.
func (tr *trashRoot) taken(ctx context.Context, sub, name string, except *server) bool {
	if sub == trashInfo && tr.pendingInfo(name) != nil {
		return true
	}
	for _, srv := range tr.root.servers {
		if srv == except {
			continue
		}
		if ok, err := tr.hasFolder(ctx, srv, sub); err != nil || !ok {
			continue
		}
		if _, err := tr.root.cache.Lookup(ctx, srv.cl, tr.folder(sub)+"/"+name); err == nil {
			return true
		}
	}
	return false
}
