package fusefs

import (
	"context"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/fxpfs/fxpfs/internal/vfs"
)

// The root directory lists the servers (its children, made in OnAdd). Its
// own entries cannot be changed. Lookup also finds the trash of any uid,
// .Trash-UID (trash.go), which readdir does not list: it shows what the
// servers' own trash folders hold, and find or du would count it twice.

// Lookup finds a server's folder or a trash.
func (r *Root) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if uid, ok := vfs.ParseTrashName(name); ok {
		tr := r.trash(ctx, uid)
		if tr == nil {
			return nil, syscall.ENOENT
		}
		tr.dirAttr(tr.EmbeddedInode(), &out.Attr)
		return tr.EmbeddedInode(), 0
	}
	for _, s := range r.servers {
		if s.name == name {
			var a fuse.AttrOut
			if errno := s.inode.Operations().(*dirNode).Getattr(ctx, nil, &a); errno != 0 {
				return nil, errno
			}
			out.Attr = a.Attr
			return s.inode, 0
		}
	}
	return nil, syscall.ENOENT
}

// Readdir lists the servers.
func (r *Root) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	list := make([]fuse.DirEntry, 0, len(r.servers))
	for _, s := range r.servers {
		list = append(list, fuse.DirEntry{Name: s.name, Mode: syscall.S_IFDIR, Ino: s.inode.StableAttr().Ino})
	}
	return fs.NewListDirStream(list), 0
}

// Getattr describes the mount root.
func (r *Root) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.Mode = syscall.S_IFDIR | 0o755
	out.Nlink = 1
	out.Size = 4096
	out.Blksize = blockSize
	out.Uid, out.Gid = r.opts.UID, r.opts.GID
	out.SetTimes(&r.started, &r.started, &r.started)
	return 0
}

// Statfs reports fixed, large numbers: FTP has no portable way to ask for
// free space. 1 MiB blocks, 2^32 of them free (4 PiB), 255-byte names.
func (r *Root) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	statfs(out)
	return 0
}

func statfs(out *fuse.StatfsOut) {
	const blocks = 1 << 32
	*out = fuse.StatfsOut{}
	out.Bsize = blockSize
	out.Frsize = blockSize
	out.Blocks = blocks
	out.Bfree = blocks
	out.Bavail = blocks
	out.Files = 1 << 32
	out.Ffree = 1 << 32
	out.NameLen = 255
}

// refuse is the answer to any change of the root's own entries.
func (r *Root) refuse() syscall.Errno {
	if r.opts.ReadOnly {
		return syscall.EROFS
	}
	return syscall.EPERM
}

// Mkdir at the root is refused: the servers come from the configuration.
func (r *Root) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, r.refuse()
}

// Create at the root is refused.
func (r *Root) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, r.refuse()
}

// Rmdir of a server directory is refused.
func (r *Root) Rmdir(ctx context.Context, name string) syscall.Errno { return r.refuse() }

// Unlink at the root is refused.
func (r *Root) Unlink(ctx context.Context, name string) syscall.Errno { return r.refuse() }

// Rename of a server directory is refused.
func (r *Root) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	return r.refuse()
}

// Setattr of the root is accepted and ignored, like chown below it.
func (r *Root) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if errno := r.writable(); errno != 0 {
		return errno
	}
	return r.Getattr(ctx, f, out)
}
