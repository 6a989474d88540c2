package fusefs

import (
	"context"
	"errors"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// A trashDir (files/, info/ or expunged/ of a trash) shows the entries of
// that folder on every server. Its children are ordinary nodes of their
// server (dirNode, fileNode, linkNode), whose path on the server starts at
// the folder (see node.path), so that everything below works as anywhere
// on the server. Changes name the server that has the entry.

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

// Lookup finds name among the pending info files (info/ only), then in the
// folder of each server in turn.
func (t *trashDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	r := t.tr.root
	if err := ftpclient.ValidateName(name); err != nil {
		return nil, r.errno(err)
	}
	if t.sub == trashInfo {
		if pi := t.tr.pendingInfo(name); pi != nil {
			pi.fillAttr(&out.Attr)
			return pi.EmbeddedInode(), 0
		}
	}
	srv, e, err := t.tr.find(ctx, t.sub, name)
	if err != nil {
		return nil, r.errno(err)
	}
	dir := t.tr.folder(t.sub)
	p := dir + "/" + name
	in := r.newNode(ctx, t.EmbeddedInode(), srv, p, e)
	if f, ok := in.Operations().(*fileNode); ok {
		f.observe(e)
		f.vf.Overlay(&e)
	}
	r.fillAttr(in, e, &out.Attr)
	r.linkSize(srv, p, e, &out.Attr)
	tm := r.timeout(srv, dir)
	out.SetEntryTimeout(tm)
	out.SetAttrTimeout(tm)
	return in, 0
}

// Readdir lists the folder of every server (a name two servers have is
// shown once, as Lookup finds it), and the pending info files.
func (t *trashDir) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	r := t.tr.root
	seen := map[string]bool{}
	var list []fuse.DirEntry
	if t.sub == trashInfo {
		for _, pi := range t.tr.pendingList() {
			seen[pi.name] = true
			list = append(list, fuse.DirEntry{Name: pi.name, Mode: syscall.S_IFREG, Ino: pi.StableAttr().Ino})
		}
	}
	dir := t.tr.folder(t.sub)
	for _, srv := range r.servers {
		ok, err := t.tr.hasFolder(ctx, srv, t.sub)
		if err != nil {
			r.log.Warn("trash: listing a server's trash", "server", srv.name, "err", err)
			continue
		}
		if !ok {
			continue
		}
		entries, err := r.cache.List(ctx, srv.cl, dir)
		if err != nil {
			r.log.Warn("trash: listing a server's trash", "server", srv.name, "err", err)
			continue
		}
		for _, e := range entries {
			if seen[e.Name] || ftpclient.ValidateName(e.Name) != nil {
				continue
			}
			seen[e.Name] = true
			list = append(list, fuse.DirEntry{Name: e.Name, Mode: fileType(e.Type), Ino: inoOf(srv.name, dir+"/"+e.Name)})
		}
	}
	return fs.NewListDirStream(list), 0
}

// Mkdir is refused: a new folder here would belong to no server.
func (t *trashDir) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, t.tr.root.refuse()
}

// Create makes a pending info file in info/ (see pendingInfo); nothing can
// be created in files/ or expunged/, which only take renames.
func (t *trashDir) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	r := t.tr.root
	if errno := r.writable(); errno != 0 {
		return nil, nil, 0, errno
	}
	if t.sub != trashInfo {
		return nil, nil, 0, syscall.EPERM
	}
	if err := ftpclient.ValidateName(name); err != nil {
		return nil, nil, 0, r.errno(err)
	}
	pi, errno := t.tr.createPending(ctx, t, name)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	pi.fillAttr(&out.Attr)
	return pi.EmbeddedInode(), nil, fuse.FOPEN_DIRECT_IO, 0
}

// Unlink deletes a file from the trash (DELE on the server that has it) or
// drops a pending info file.
func (t *trashDir) Unlink(ctx context.Context, name string) syscall.Errno {
	r := t.tr.root
	if errno := r.writable(); errno != 0 {
		return errno
	}
	if t.sub == trashInfo && t.tr.dropPending(name) {
		return 0
	}
	srv, _, err := t.tr.find(ctx, t.sub, name)
	if err != nil {
		return r.errno(err)
	}
	p := t.tr.folder(t.sub) + "/" + name
	if err := srv.cl.Remove(context.WithoutCancel(ctx), p); err != nil {
		return r.errno(err)
	}
	r.changed(srv, change{remove: p})
	return 0
}

// Rmdir removes an empty folder from the trash (RMD on its server).
func (t *trashDir) Rmdir(ctx context.Context, name string) syscall.Errno {
	r := t.tr.root
	if errno := r.writable(); errno != 0 {
		return errno
	}
	srv, _, err := t.tr.find(ctx, t.sub, name)
	if err != nil {
		return r.errno(err)
	}
	p := t.tr.folder(t.sub) + "/" + name
	if err := srv.cl.Rmdir(context.WithoutCancel(ctx), p); err != nil {
		return r.errno(err)
	}
	r.changed(srv, change{remove: p})
	return 0
}

// Rename moves an entry out of this folder: a pending info file within
// info/ (GIO's temporary file renamed over the info file); anything else
// on its server, into one of its folders (a restore) or another folder of
// the trash (expunged/, when gvfs empties the trash). Onto another server:
// EXDEV.
func (t *trashDir) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	r := t.tr.root
	if errno := r.writable(); errno != 0 {
		return errno
	}
	if flags&^renameNoreplace != 0 {
		return syscall.EINVAL
	}
	if err := ftpclient.ValidateName(newName); err != nil {
		return r.errno(err)
	}
	if t.sub == trashInfo && t.tr.pendingInfo(name) != nil {
		if newParent != t.tr.dirs[trashInfo] {
			return syscall.EXDEV
		}
		return t.tr.renamePending(ctx, name, newName, flags&renameNoreplace != 0)
	}
	srv, e, err := t.tr.find(ctx, t.sub, name)
	if err != nil {
		return r.errno(err)
	}
	from := t.tr.folder(t.sub) + "/" + name
	switch np := newParent.(type) {
	case *dirNode:
		if np.srv != srv {
			return syscall.EXDEV
		}
		_, to, errno := np.childPath(newName)
		if errno != 0 {
			return errno
		}
		return r.renameOnServer(ctx, srv, from, to, e, flags)
	case *trashDir:
		return r.moveIntoTrash(ctx, srv, from, e, np, newName, flags)
	}
	return syscall.EXDEV
}

// renameOnServer renames from to to on srv (RNFR/RNTO) and records it.
// RENAME_NOREPLACE is honoured by looking at the destination first.
func (r *Root) renameOnServer(ctx context.Context, srv *server, from, to string, e ftpclient.Entry, flags uint32) syscall.Errno {
	if flags&renameNoreplace != 0 {
		_, err := r.cache.Lookup(ctx, srv.cl, to)
		if err == nil {
			return syscall.EEXIST
		}
		if !errors.Is(err, ftpclient.ErrNotFound) {
			return r.errno(err)
		}
	}
	if err := srv.cl.Rename(context.WithoutCancel(ctx), from, to); err != nil {
		return r.errno(err)
	}
	r.changed(srv, change{remove: from, put: to, entry: e})
	return 0
}
