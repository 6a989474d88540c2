package fusefs

import (
	"context"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// dirNode is a directory on a server (the server's own directory included).
type dirNode struct {
	node
}

// Lookup answers from the directory's cached listing: no FTP command when
// it is cached, one listing when not; a name the listing lacks is ENOENT
// (cached by the kernel for the negative timeout).
func (d *dirNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	dir, err := d.path()
	if err != nil {
		return nil, d.root.errno(err)
	}
	p, err := child(dir, name)
	if err != nil {
		return nil, d.root.errno(err)
	}
	e, err := d.root.vfs.Lookup(ctx, d.srv.cl, p) // hides uploads in flight
	if err != nil {
		return nil, d.root.errno(err)
	}
	in := d.root.newNode(ctx, d.EmbeddedInode(), d.srv, p, e)
	if f, ok := in.Operations().(*fileNode); ok {
		f.observe(e)
		f.vf.Overlay(&e)
	}
	d.root.fillAttr(in, e, &out.Attr)
	d.root.linkSize(d.srv, p, e, &out.Attr)
	t := d.root.timeout(d.srv, dir)
	out.SetEntryTimeout(t)
	out.SetAttrTimeout(t)
	return in, 0
}

// Readdir lists the directory from the cache (one listing on a miss),
// without the temporary names of uploads in flight.
func (d *dirNode) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	dir, err := d.path()
	if err != nil {
		return nil, d.root.errno(err)
	}
	entries, err := d.root.vfs.List(ctx, d.srv.cl, dir)
	if err != nil {
		return nil, d.root.errno(err)
	}
	list := make([]fuse.DirEntry, 0, len(entries))
	for _, e := range entries {
		if ftpclient.ValidateName(e.Name) != nil {
			continue // a name the mount could never look up
		}
		ino := inoOf(d.srv.name, joinPath(dir, e.Name))
		if ch := d.GetChild(e.Name); ch != nil && ch.StableAttr().Mode == fileType(e.Type) {
			ino = ch.StableAttr().Ino // a node renamed here keeps its number
		}
		list = append(list, fuse.DirEntry{Name: e.Name, Mode: fileType(e.Type), Ino: ino})
	}
	return fs.NewListDirStream(list), 0
}

// Getattr answers from the parent's cached listing.
func (d *dirNode) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	p, err := d.path()
	if err != nil {
		return d.root.errno(err)
	}
	e, err := d.root.cache.Lookup(ctx, d.srv.cl, p)
	if err != nil {
		return d.root.errno(err)
	}
	d.root.fillAttr(d.EmbeddedInode(), e, &out.Attr)
	out.SetTimeout(d.root.timeout(d.srv, parentDir(p)))
	return 0
}

// Setattr on a directory: mode and mtime as for files (kept in the cache
// where the server cannot), owner accepted and ignored.
func (d *dirNode) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if errno := d.root.writable(); errno != 0 {
		return errno
	}
	p, err := d.path()
	if err != nil {
		return d.root.errno(err)
	}
	if p != "/" {
		if errno := d.root.setMeta(ctx, d.srv, p, in); errno != 0 {
			return errno
		}
	}
	return d.Getattr(ctx, f, out)
}

// Statfs: see Root.Statfs.
func (d *dirNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	statfs(out)
	return 0
}

// linkNode is a symbolic link as the server listed it ("a -> b").
type linkNode struct {
	node
}

// Readlink returns the target from the cached listing, confined to the
// server's folder (symlink.go).
func (l *linkNode) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	p, err := l.path()
	if err != nil {
		return nil, l.root.errno(err)
	}
	e, err := l.root.cache.Lookup(ctx, l.srv.cl, p)
	if err != nil {
		return nil, l.root.errno(err)
	}
	return []byte(l.root.linkTarget(l.srv, p, e.Target)), 0
}

// Getattr answers from the parent's cached listing.
func (l *linkNode) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	p, err := l.path()
	if err != nil {
		return l.root.errno(err)
	}
	e, err := l.root.cache.Lookup(ctx, l.srv.cl, p)
	if err != nil {
		return l.root.errno(err)
	}
	l.root.fillAttr(l.EmbeddedInode(), e, &out.Attr)
	l.root.linkSize(l.srv, p, e, &out.Attr)
	out.SetTimeout(l.root.timeout(l.srv, parentDir(p)))
	return 0
}

// joinPath joins a directory and a (validated) name.
func joinPath(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}
