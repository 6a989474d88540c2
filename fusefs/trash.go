package fusefs

import (
	"context"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/fxpfs/fxpfs/internal/vfs"
)

// The trash: MOUNT/.Trash-UID, where GIO (Nautilus, `gio trash`) puts what
// is deleted on a mount that is not the home file system (the
// freedesktop.org trash specification). What it is and how it keeps every
// file on its own server is vfs's (internal/vfs/trash.go): here are only
// its nodes.
//
//   - trashRoot is MOUNT/.Trash-UID (UID the caller's numeric uid; owned by
//     it, found by lookup, not listed by readdir: it shows what the servers'
//     own trash folders hold, and find or du would count it twice). It
//     holds files/, info/ and expunged/.
//   - trashDir is one of those: the union of that folder on every server
//     (vfs.Trash). Its children are ordinary nodes of their server
//     (dirNode, fileNode, linkNode) whose path on the server starts at the
//     folder (see node.path), so everything below works as anywhere on the
//     server; and infoNodes, info files not on a server yet
//     (vfs.PendingInfo).
//   - dirNode.Access answers W_OK with EACCES on a server that cannot hold
//     a trash (vfs.Trashes.CanTrash): GIO then says access::can-trash FALSE
//     for its files, and file managers do not offer a trash that would fail.

// trashRoot is MOUNT/.Trash-UID. It lives as long as the mount.
type trashRoot struct {
	fs.Inode
	root *Root
	t    *vfs.Trash
	dirs map[vfs.TrashFolder]*trashDir
}

// trashDir is one folder of a trash: the union of that folder on every server.
type trashDir struct {
	fs.Inode
	tr  *trashRoot
	sub vfs.TrashFolder
}

// trash returns (making it on first use) the trash of uid, nil when vfs
// keeps no more trashes.
func (r *Root) trash(ctx context.Context, uid uint32) *trashRoot {
	r.trashMu.Lock()
	defer r.trashMu.Unlock()
	if tr, ok := r.trashNodes[uid]; ok {
		return tr
	}
	t := r.trashes.Of(uid)
	if t == nil {
		return nil
	}
	tr := &trashRoot{root: r, t: t, dirs: map[vfs.TrashFolder]*trashDir{}}
	name := vfs.TrashName(uid)
	in := r.NewPersistentInode(ctx, tr, fs.StableAttr{Mode: syscall.S_IFDIR, Ino: inoOf("", name)})
	for _, sub := range vfs.TrashFolders {
		d := &trashDir{tr: tr, sub: sub}
		tr.dirs[sub] = d
		din := tr.NewPersistentInode(ctx, d, fs.StableAttr{Mode: syscall.S_IFDIR, Ino: inoOf("", name+"/"+string(sub))})
		in.AddChild(string(sub), din, true)
	}
	r.AddChild(name, in, true)
	if r.trashNodes == nil {
		r.trashNodes = map[uint32]*trashRoot{}
	}
	r.trashNodes[uid] = tr
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
	out.Uid, out.Gid = tr.t.UID(), r.opts.GID
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
	for _, sub := range vfs.TrashFolders {
		list = append(list, fuse.DirEntry{Name: string(sub), Mode: syscall.S_IFDIR, Ino: tr.dirs[sub].StableAttr().Ino})
	}
	return fs.NewListDirStream(list), 0
}

// Mkdir of files, info or expunged finds them there (EEXIST); nothing else
// can be made here.
func (tr *trashRoot) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if errno := tr.root.writable(); errno != 0 {
		return nil, errno
	}
	if _, ok := tr.dirs[vfs.TrashFolder(name)]; ok {
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
