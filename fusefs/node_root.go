package fusefs

import (
	"context"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// The root directory lists the servers (its children, made in OnAdd; the
// default go-fuse Lookup and Readdir serve them). Its own entries cannot be
// changed.

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
