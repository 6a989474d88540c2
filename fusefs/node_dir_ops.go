package fusefs

import (
	"context"
	"errors"
	"os"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// renameNoreplace is RENAME_NOREPLACE from renameat2(2).
const renameNoreplace = 0x1

// Changes are made by vfs (ops.go) with a context detached from FUSE
// interrupts: a half-done MKD, DELE or RNFR/RNTO must finish so that the
// cache and the kernel learn the truth. The client's own timeouts bound
// them.

// Mkdir makes a directory (MKD).
func (d *dirNode) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if errno := d.root.writable(); errno != 0 {
		return nil, errno
	}
	dir, p, errno := d.childPath(name)
	if errno != 0 {
		return nil, errno
	}
	e, err := d.root.vfs.Mkdir(ctx, d.srv.cl, p)
	if err != nil {
		return nil, d.root.errno(err)
	}
	e.Name = name
	in := d.root.newNode(ctx, d.EmbeddedInode(), d.srv, p, e)
	d.root.fillAttr(in, e, &out.Attr)
	t := d.root.timeout(d.srv, dir)
	out.SetEntryTimeout(t)
	out.SetAttrTimeout(t)
	return in, 0
}

// Rmdir removes an empty directory (RMD).
func (d *dirNode) Rmdir(ctx context.Context, name string) syscall.Errno {
	if errno := d.root.writable(); errno != 0 {
		return errno
	}
	_, p, errno := d.childPath(name)
	if errno != 0 {
		return errno
	}
	return d.root.moved(d.root.vfs.Rmdir(ctx, d.srv.cl, p))
}

// Unlink deletes a file (DELE). Open handles of it stop uploading.
func (d *dirNode) Unlink(ctx context.Context, name string) syscall.Errno {
	if errno := d.root.writable(); errno != 0 {
		return errno
	}
	_, p, errno := d.childPath(name)
	if errno != 0 {
		return errno
	}
	pendingOnly := false
	if f, ok := d.fileChild(name); ok {
		pendingOnly = f.vf.Discard()
	}
	err := d.root.vfs.Remove(ctx, d.srv.cl, p)
	if pendingOnly && errors.Is(err, ftpclient.ErrNotFound) {
		err = nil // it never reached the server
	}
	return d.root.moved(err)
}

// Rename moves an entry within one server (RNFR/RNTO), also into the trash
// (MOUNT/.Trash-UID/..., which is this server's own trash folder:
// vfs.Trash.MoveIn). Onto another server it fails with EXDEV (mv then
// copies and unlinks). RENAME_NOREPLACE is honoured by checking the
// destination first; RENAME_EXCHANGE is not supported (EINVAL).
func (d *dirNode) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	if errno := d.root.writable(); errno != 0 {
		return errno
	}
	td, toTrash := newParent.(*trashDir)
	np, ok := newParent.(*dirNode)
	if !toTrash && (!ok || np.srv != d.srv) {
		return syscall.EXDEV
	}
	if flags&^renameNoreplace != 0 {
		return syscall.EINVAL
	}
	_, from, errno := d.childPath(name)
	if errno != 0 {
		return errno
	}
	var to string
	if toTrash {
		if err := ftpclient.ValidateName(newName); err != nil {
			return d.root.errno(err)
		}
	} else if _, to, errno = np.childPath(newName); errno != 0 {
		return errno
	}
	if f, ok := d.fileChild(name); ok {
		// Data still in open handles goes to the server first: RNFR needs
		// the file there, and later writes continue at the new name.
		if err := f.vf.FlushWriters(ctx); err != nil {
			return d.root.errno(err)
		}
	}
	noReplace := flags&renameNoreplace != 0
	if toTrash {
		return d.root.moved(td.tr.t.MoveIn(ctx, d.srv.cl, from, td.sub, newName, noReplace))
	}
	return d.root.moved(d.root.vfs.Rename(ctx, d.srv.cl, from, to, noReplace))
}

// Create makes a new file. Nothing is sent yet: the upload starts with the
// first write (STOR) or at close for an empty file.
func (d *dirNode) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	if errno := d.root.writable(); errno != 0 {
		return nil, nil, 0, errno
	}
	dir, p, errno := d.childPath(name)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	if flags&syscall.O_EXCL != 0 {
		if _, err := d.root.cache.Lookup(ctx, d.srv.cl, p); err == nil {
			return nil, nil, 0, syscall.EEXIST
		}
	}
	perm := os.FileMode(mode).Perm()
	e := ftpclient.Entry{Name: name, Type: ftpclient.TypeFile, Mtime: time.Now(), Mode: perm}
	d.root.changed(d.srv, change{put: p, entry: e})
	in := d.root.newNode(ctx, d.EmbeddedInode(), d.srv, p, e)
	f, ok := in.Operations().(*fileNode)
	if !ok {
		return nil, nil, 0, syscall.EIO
	}
	// Servers create files 0644 (umask 022); vfs asks for any other mode
	// after the upload (SITE CHMOD, where the server has it).
	h := f.vf.Create(p, int(flags), perm)
	d.root.fillAttr(in, e, &out.Attr)
	t := d.root.timeout(d.srv, dir)
	out.SetEntryTimeout(t)
	out.SetAttrTimeout(t)
	f.contentChanged()
	return in, &fileHandle{h: h, root: d.root, node: f}, createFlags(flags), 0
}

// childPath returns this directory's path and that of its child name
// (validated: EINVAL for CR, LF, NUL, '/' or too long).
func (d *dirNode) childPath(name string) (dir, p string, errno syscall.Errno) {
	dir, err := d.path()
	if err != nil {
		return "", "", d.root.errno(err)
	}
	p, err = child(dir, name)
	if err != nil {
		return "", "", d.root.errno(err)
	}
	return dir, p, 0
}

// fileChild returns the file node of name if it is in the tree.
func (d *dirNode) fileChild(name string) (*fileNode, bool) {
	ch := d.GetChild(name)
	if ch == nil {
		return nil, false
	}
	f, ok := ch.Operations().(*fileNode)
	return f, ok
}
