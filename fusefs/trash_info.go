package fusefs

import (
	"context"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/fxpfs/fxpfs/internal/vfs"
)

// infoNode is a file created in a trash's info/ that is on no server yet
// (vfs.PendingInfo: GIO's NAME.trashinfo, written before the file it
// describes is moved into files/). It is read and written in memory.
type infoNode struct {
	fs.Inode
	tr *trashRoot
	pi *vfs.PendingInfo
}

// Uploaded: the kernel forgets the entry, so that the next lookup finds
// the server's file (vfs.InfoNode). Until then the node still answers with
// the same content.
func (n *infoNode) Uploaded(name string) {
	// Asynchronous: the kernel may hold locks for the rename that led here.
	go n.tr.dirs[vfs.TrashInfo].NotifyEntry(name)
}

// fillAttr describes the file: the trash owner's, 0600.
func (n *infoNode) fillAttr(out *fuse.Attr) {
	size, mtime := n.pi.Stat()
	out.Ino = n.StableAttr().Ino
	out.Mode = syscall.S_IFREG | 0o600
	out.Nlink = 1
	out.Size = uint64(size)
	out.Blocks = (out.Size + 511) / 512
	out.Blksize = blockSize
	out.Uid, out.Gid = n.tr.t.UID(), n.tr.root.opts.GID
	out.SetTimes(&mtime, &mtime, &mtime)
}

// Open opens the file in memory; O_TRUNC empties it.
func (n *infoNode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if flags&syscall.O_TRUNC != 0 {
		if err := n.pi.Truncate(0); err != nil {
			return nil, 0, n.tr.root.errno(err)
		}
	}
	return nil, fuse.FOPEN_DIRECT_IO, 0
}

// Read reads from memory.
func (n *infoNode) Read(ctx context.Context, f fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	return fuse.ReadResultData(dest[:n.pi.ReadAt(dest, off)]), 0
}

// Write writes to memory (EFBIG beyond the size an info file may have).
func (n *infoNode) Write(ctx context.Context, f fs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	w, err := n.pi.WriteAt(data, off)
	return uint32(w), n.tr.root.errno(err)
}

// Getattr describes the file.
func (n *infoNode) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	n.fillAttr(&out.Attr)
	return 0
}

// Setattr truncates; times and modes are accepted and ignored.
func (n *infoNode) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if size, ok := in.GetSize(); ok {
		if err := n.pi.Truncate(int64(size)); err != nil {
			return n.tr.root.errno(err)
		}
	}
	return n.Getattr(ctx, f, out)
}

// Flush and Fsync have nothing to do: the file is uploaded with the move.
func (n *infoNode) Flush(ctx context.Context, f fs.FileHandle) syscall.Errno { return 0 }
func (n *infoNode) Fsync(ctx context.Context, f fs.FileHandle, flags uint32) syscall.Errno {
	return 0
}
