package fusefs

import (
	"context"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/fxpfs/fxpfs/internal/vfs"
)

// A trashDir (files/, info/ or expunged/ of a trash) shows the entries of
// that folder on every server (vfs.Trash). Its server entries are ordinary
// nodes of their server; its pending info files are infoNodes.

// Getattr describes the folder (the caller's, 0700).
func (t *trashDir) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	t.tr.dirAttr(t.EmbeddedInode(), &out.Attr)
	return 0
}

// Setattr is accepted and ignored (gvfs chmods expunged/ before emptying it).
func (t *trashDir) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return t.Getattr(ctx, f, out)
}

// Statfs: see Root.Statfs.
func (t *trashDir) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	statfs(out)
	return 0
}

// Lookup finds name in the folder (vfs.Trash.Lookup).
func (t *trashDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	r := t.tr.root
	it, err := t.tr.t.Lookup(ctx, t.sub, name)
	if err != nil {
		return nil, r.errno(err)
	}
	if it.Info != nil {
		n := it.Info.Node().(*infoNode)
		n.fillAttr(&out.Attr)
		return n.EmbeddedInode(), 0
	}
	srv := r.serverOf(it.Client)
	in := r.newNode(ctx, t.EmbeddedInode(), srv, it.Path, it.Entry)
	e := it.Entry
	if f, ok := in.Operations().(*fileNode); ok {
		f.observe(e)
		f.vf.Overlay(&e)
	}
	r.fillAttr(in, e, &out.Attr)
	r.linkSize(srv, it.Path, e, &out.Attr)
	tm := r.timeout(srv, t.tr.t.Folder(t.sub))
	out.SetEntryTimeout(tm)
	out.SetAttrTimeout(tm)
	return in, 0
}

// Readdir lists the folder of every server, and the pending info files
// (vfs.Trash.List).
func (t *trashDir) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	items := t.tr.t.List(ctx, t.sub)
	list := make([]fuse.DirEntry, 0, len(items))
	for _, it := range items {
		if it.Info != nil {
			list = append(list, fuse.DirEntry{Name: it.Name, Mode: syscall.S_IFREG, Ino: it.Info.Node().(*infoNode).StableAttr().Ino})
			continue
		}
		list = append(list, fuse.DirEntry{Name: it.Name, Mode: fileType(it.Entry.Type), Ino: inoOf(it.Client.Name(), it.Path)})
	}
	return fs.NewListDirStream(list), 0
}

// Mkdir is refused: a new folder here would belong to no server.
func (t *trashDir) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, t.tr.root.refuse()
}

// Create makes a pending info file (vfs.Trash.CreateInfo: in info/ only).
func (t *trashDir) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	r := t.tr.root
	if errno := r.writable(); errno != 0 {
		return nil, nil, 0, errno
	}
	pi, err := t.tr.t.CreateInfo(ctx, t.sub, name, func(pi *vfs.PendingInfo) vfs.InfoNode {
		n := &infoNode{tr: t.tr, pi: pi}
		t.NewInode(ctx, n, fs.StableAttr{Mode: syscall.S_IFREG})
		return n
	})
	if err != nil {
		return nil, nil, 0, r.errno(err)
	}
	n := pi.Node().(*infoNode)
	n.fillAttr(&out.Attr)
	return n.EmbeddedInode(), nil, fuse.FOPEN_DIRECT_IO, 0
}

// Unlink deletes a file from the trash, or drops a pending info file
// (vfs.Trash.Remove).
func (t *trashDir) Unlink(ctx context.Context, name string) syscall.Errno {
	r := t.tr.root
	if errno := r.writable(); errno != 0 {
		return errno
	}
	return r.moved(t.tr.t.Remove(ctx, t.sub, name))
}

// Rmdir removes an empty folder from the trash (vfs.Trash.Rmdir).
func (t *trashDir) Rmdir(ctx context.Context, name string) syscall.Errno {
	r := t.tr.root
	if errno := r.writable(); errno != 0 {
		return errno
	}
	return r.moved(t.tr.t.Rmdir(ctx, t.sub, name))
}

// Rename moves an entry out of this folder: into a server's folder (a
// restore: vfs.Trash.Restore) or another folder of a trash (expunged/,
// when gvfs empties the trash; GIO's temporary info file renamed over the
// info file: vfs.Trash.Rename). Onto another server: EXDEV.
func (t *trashDir) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	r := t.tr.root
	if errno := r.writable(); errno != 0 {
		return errno
	}
	if flags&^renameNoreplace != 0 {
		return syscall.EINVAL
	}
	noReplace := flags&renameNoreplace != 0
	switch np := newParent.(type) {
	case *dirNode:
		_, to, errno := np.childPath(newName)
		if errno != 0 {
			return errno
		}
		return r.moved(t.tr.t.Restore(ctx, t.sub, name, np.srv.cl, to, noReplace))
	case *trashDir:
		return r.moved(t.tr.t.Rename(ctx, t.sub, name, np.tr.t, np.sub, newName, noReplace))
	}
	return syscall.EXDEV
}
