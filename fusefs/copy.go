package fusefs

import (
	"context"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
)

// Kernel copies (cp, install, cat a > b, mv across servers after EXDEV)
// arrive as COPY_FILE_RANGE on the source node; vfs decides what to do with
// them (see vfs.Handle.CopyFrom): a whole file server-to-server, anything
// else relayed exactly. Never ENOSYS, which would turn copy_file_range off
// for the whole mount.

// CopyFileRange copies from this file (handle fhIn) to the file of fhOut.
func (f *fileNode) CopyFileRange(ctx context.Context, fhIn fs.FileHandle, offIn uint64, out *fs.Inode,
	fhOut fs.FileHandle, offOut uint64, length uint64, flags uint64) (uint32, syscall.Errno) {
	src, ok1 := fhIn.(*fileHandle)
	dst, ok2 := fhOut.(*fileHandle)
	if !ok1 || !ok2 || flags != 0 {
		return 0, syscall.ENOTSUP
	}
	n, err := dst.h.CopyFrom(ctx, src.h, int64(offIn), int64(offOut), int64(length))
	if err != nil {
		return 0, f.root.errno(err)
	}
	return uint32(n), 0
}
